"""``pack_directory``: a model definition directory as Determined's CLI packs it, on real files."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from protogw.clients.model_definition import ModelDefinitionError, pack_directory

# Each row: files to create (path -> content; a trailing "/" makes a directory), an optional .detignore,
# and the packed entries as (path, type) in order: directories before files at each level, by name.
TREES: list[tuple[dict[str, str], str | None, list[tuple[str, str]]]] = [
    ({"train.py": "x"}, None, [("train.py", "0")]),
    (
        {"train.py": "x", "data/": "", "data/a.txt": "a", "data/sub/": "", "data/sub/b.txt": "b"},
        None,
        [("data", "5"), ("train.py", "0"), ("data/sub", "5"), ("data/a.txt", "0"), ("data/sub/b.txt", "0")],
    ),
    # Determined's default ignores: byte code, caches, VCS and editor folders.
    (
        {"m.py": "", "m.pyc": "", "__pycache__/": "", "__pycache__/m.cpython-311.pyc": "", ".git/": "",
         ".git/HEAD": "", ".idea/": "", ".vscode/": "", ".mypy_cache/": "", "terraform.tfstate": ""},
        None,
        [("m.py", "0")],
    ),
    # A .detignore at the root (gitignore syntax); .detignore files themselves never go.
    (
        {"keep.py": "", "big.bin": "", "logs/": "", "logs/run.log": "", "sub/": "", "sub/.detignore": "x",
         "sub/big.bin": ""},
        "*.bin\nlogs/\n",
        [("sub", "5"), ("keep.py", "0")],
    ),
    ({"a.py": "", "docs/": "", "docs/keep.md": "", "docs/skip.md": ""}, "docs/skip.md\n", [("docs", "5"), ("a.py", "0"), ("docs/keep.md", "0")]),
    ({}, None, []),
]  # fmt: skip


@pytest.mark.parametrize(("files", "detignore", "expected"), TREES)
def test_pack_directory(
    tmp_path: Path, files: dict[str, str], detignore: str | None, expected: list[tuple[str, str]]
) -> None:
    for name, content in files.items():
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if detignore is not None:
        (tmp_path / ".detignore").write_text(detignore)
    packed = pack_directory(tmp_path)
    assert [(f.path, chr(f.type)) for f in packed] == expected
    for f in packed:
        st = (tmp_path / f.path).stat()
        assert (f.mode, f.mtime, f.uid, f.gid) == (st.st_mode, int(st.st_mtime), 0, 0)
        if f.type == ord(tarfile.REGTYPE):
            assert f.content == (tmp_path / f.path).read_bytes()
            assert stat.S_ISREG(f.mode)
        else:
            assert f.content == b""
            assert stat.S_ISDIR(f.mode)


def test_executable_bit_and_bytes_kept(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\n\x00\xff")
    os.chmod(script, 0o755)
    [packed] = pack_directory(tmp_path)
    assert packed.content == b"#!/bin/sh\n\x00\xff"
    assert stat.S_IMODE(packed.mode) == 0o755


# Each row: what is passed instead of a directory, and the error message.
BAD: list[tuple[str, int, str]] = [
    ("missing", 100, "does not exist"),
    ("file.txt", 100, "must be a directory"),
    ("tree", 10, "is over 10 bytes"),
]


@pytest.mark.parametrize(("name", "limit", "message"), BAD)
def test_pack_directory_refuses(tmp_path: Path, name: str, limit: int, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a").write_bytes(b"123456")
    (tmp_path / "tree" / "b").write_bytes(b"789012")
    with pytest.raises(ModelDefinitionError, match=message):
        pack_directory(tmp_path / name, limit=limit)
