"""The Dockerfile checked without a Docker engine: it copies every package folder of setup.py (and
only files that exist), the wheel built from exactly the copied files has the ``protogw`` console
script and every subpackage, its ENTRYPOINT is that script and its CMD a command the CLI parses with
the image's ENV, and every ``PROTOGW_*`` variable it sets is one the CLI reads."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy import cli
from tests.deploy.dockerfile import ROOT, read

IMAGE = read()


def setup_roots() -> tuple[str, ...]:
    """setup.py's ROOTS: the folders that install as protogw.<name>."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ROOTS" for t in node.targets):
            roots = ast.literal_eval(node.value)
            assert isinstance(roots, tuple)
            return roots
    raise AssertionError("setup.py has no ROOTS")


def test_copies_every_package_folder_and_nothing_missing() -> None:
    for sources, _ in IMAGE.copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    missing = set(setup_roots()) - IMAGE.copied_top_level()
    assert not missing, f"the image does not copy {sorted(missing)}: pip install . would fail"
    for needed in ("pyproject.toml", "setup.py", "README.md"):
        assert needed in IMAGE.copied_top_level()


def test_entrypoint_is_the_console_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert IMAGE.entrypoint == ["protogw"]
    assert scripts["protogw"] == "protogw.server.cli:main"


def test_env_is_declared_by_the_cli() -> None:
    ours = {name for name in IMAGE.env if name.startswith("PROTOGW_")}
    assert ours
    assert ours <= cli.declared_envvars(), ours - cli.declared_envvars()


@pytest.mark.parametrize(
    ("args", "env", "ok"),
    [
        (IMAGE.cmd, IMAGE.env, True),
        # The same parser refuses what the image must never be given (the check can fail).
        (["serve", "--grpc-adr=0.0.0.0:8081"], IMAGE.env, False),
        (["serve"], {**IMAGE.env, "PROTOGW_GRACE": "soon"}, False),
        (["serv"], IMAGE.env, False),
    ],
    ids=["cmd", "misspelt-option", "bad-env-value", "unknown-command"],
)
def test_cmd_parses(args: list[str], env: dict[str, str], ok: bool) -> None:
    if ok:
        context = cli.parse(args, env)
        assert context.params["grpc_addr"] == "0.0.0.0:8081"
        assert context.params["http_addr"] == "0.0.0.0:8080"
        assert {8080, 8081} == set(IMAGE.exposed)
    else:
        with pytest.raises((cli.click.ClickException, AssertionError)):
            cli.parse(args, env)


@pytest.mark.slow
def test_wheel_from_the_copied_files(tmp_path: Path) -> None:
    """``pip install .`` in the image sees only the copied files: build the wheel from exactly those."""
    context = tmp_path / "app"
    context.mkdir()
    for sources, dest in IMAGE.copies:
        for source in sources:
            target = context / (Path(source).name if dest.endswith("/") or dest == "./" else dest)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / source, target)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(context)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("protogw-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "protogw = protogw.server.cli:main" in archive.read(entry_points).decode()
    for root in setup_roots():
        assert f"protogw/{root}/__init__.py" in names, root
    assert "protogw/gen/descriptors/determined.binpb" in names
