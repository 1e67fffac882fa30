"""Pack a model definition directory into ``determined.util.v1.File`` messages, as Determined's CLI does.

    files = pack_directory(Path("mnist_pytorch"))
    await det.create_experiment(config=Path("mnist_pytorch/const.yaml").read_text(), model_definition=files)

The tree is walked top-down; each directory becomes an entry of tar type ``'5'`` (53) with no content
and each regular file one of type ``'0'`` (48) with its bytes. Paths are POSIX and relative to the
directory; ``mtime`` is whole seconds, ``mode`` the full ``st_mode``, ``uid``/``gid`` 0. Entries that
match the default ignore list or the root's ``.detignore`` file (gitignore syntax) are left out, as
are ``.detignore`` files themselves. Symbolic links to directories are not descended into. The total content size is
checked against ``limit`` while packing, so a huge tree fails before it is read whole.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Final

import pathspec

from protogw.gen.determined.util.v1 import util_pb2

__all__ = ["DEFAULT_IGNORE", "DEFAULT_LIMIT", "ModelDefinitionError", "pack_directory"]

#: What Determined's CLI leaves out of every model definition (its ``DEFAULT_DETIGNORE``).
DEFAULT_IGNORE: Final = (
    "__pycache__/",
    "*.py[co]",
    "*$py.class",
    "terraform",
    "terraform_data",
    "terraform.tfstate*",
    "terraform.tfvars*",
    ".terraform*",
    ".git/",
    ".vscode/",
    ".idea/",
    ".mypy_cache/",
    "/shared_fs",
)

#: protogw serve's default ``--max-model-definition-mb`` (96 MiB).
DEFAULT_LIMIT: Final = 96 * 1024 * 1024

_FILE: Final = ord(tarfile.REGTYPE)
_DIRECTORY: Final = ord(tarfile.DIRTYPE)


class ModelDefinitionError(ValueError):
    """The directory cannot be packed (missing, not a directory, or over the size limit)."""


def _ignore_spec(root: Path) -> pathspec.GitIgnoreSpec:
    lines = list(DEFAULT_IGNORE)
    detignore = root / ".detignore"
    if detignore.is_file():
        lines.extend(detignore.read_text().splitlines())
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _entry(path: str, kind: int, st: os.stat_result, content: bytes = b"") -> util_pb2.File:
    return util_pb2.File(path=path, type=kind, content=content, mtime=int(st.st_mtime), mode=st.st_mode, uid=0, gid=0)


def pack_directory(root: Path, *, limit: int = DEFAULT_LIMIT) -> list[util_pb2.File]:
    """The files of ``root`` (not including ``root`` itself) as ``File`` messages, directories first
    at each level. Raises :class:`ModelDefinitionError`."""
    if not root.exists():
        raise ModelDefinitionError(f"model definition directory {str(root)!r} does not exist")
    if not root.is_dir():
        raise ModelDefinitionError(f"model definition {str(root)!r} must be a directory")
    spec = _ignore_spec(root)
    files: list[util_pb2.File] = []
    size = 0
    for parent, dirs, names in os.walk(root):
        here = Path(parent)
        kept = []
        for name in sorted(dirs):
            relative = (here / name).relative_to(root).as_posix()
            if spec.match_file(relative) or spec.match_file(relative + "/"):
                continue
            kept.append(name)
            files.append(_entry(relative, _DIRECTORY, (here / name).stat()))
        dirs[:] = kept  # do not descend into ignored directories
        for name in sorted(names):
            relative = (here / name).relative_to(root).as_posix()
            if name == ".detignore":
                continue
            if spec.match_file(relative):
                continue
            path = here / name
            st = path.stat()
            size += st.st_size
            if size > limit:
                raise ModelDefinitionError(
                    f"model definition {str(root)!r} is over {limit} bytes; list what to leave out in .detignore"
                )
            files.append(_entry(relative, _FILE, st, path.read_bytes()))
    return files
