"""Determined's own client, unchanged, against protogw.

The ``determined`` package from PyPI (its generated REST bindings and its ``det`` CLI) is installed
in a separate virtualenv by ``make compat-env``, so it never mixes with our dependencies. These tests
start a real ``protogw serve`` and drive it with that client exactly as a Determined user would.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.support.serve import run_cli, serve

ROOT = Path(__file__).resolve().parents[2]
DET_VENV = Path(os.environ.get("PROTOGW_DETERMINED_VENV", ROOT / ".venv-determined"))
FLOW = Path(__file__).with_name("determined_client_flow.py")


@pytest.fixture(scope="module")
def det_venv() -> Path:
    if not (DET_VENV / "bin" / "det").exists():
        if os.environ.get("PROTOGW_REQUIRE_COMPAT"):
            pytest.fail(f"no Determined client in {DET_VENV}: run `make compat-env`")
        pytest.skip(f"no Determined client in {DET_VENV} (run `make compat-env`)")
    return DET_VENV


async def _run(*cmd: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_python_bindings_walkthrough(det_venv: Path, database_url: str) -> None:
    await run_cli("seed", "--database", database_url)
    async with serve(database_url) as served:
        code, out = await _run(str(det_venv / "bin" / "python"), str(FLOW), served.http_url)
    assert code == 0, out
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["login_user"] == "determined"
    assert seen["me"] == {"username": "determined", "admin": False, "active": True}
    assert seen["archived_page"] == {"offset": 0, "limit": 1, "startIndex": 0, "endIndex": 1, "total": 1}
    assert seen["after_unarchive"]["archived"] is False
    assert seen["second_unarchive"] == {"status": 400, "message": "Experiment is not archived."}
    assert seen["missing_experiment"] == "experiment '987654' not found"
    assert seen["all_ids_desc"] == sorted(seen["all_ids_desc"], reverse=True)
    assert seen["after_logout"] == "unauthenticated"


# (det CLI arguments, a fragment its output must contain)
CLI_STEPS = [
    (["user", "whoami"], "determined"),
    (["master", "info"], "clusterName: protogw"),
    (["experiment", "list", "--all"], "COMPLETED"),
    (["experiment", "unarchive", "1"], "Unarchived experiment 1"),
    (["experiment", "archive", "1"], "Archived experiment 1"),
    (["experiment", "pause", "3"], "Paused experiment 3"),
    (["experiment", "activate", "3"], "Activated experiment 3"),
    (["experiment", "kill", "4"], "Killed experiment 4"),
    (["experiment", "label", "add", "2", "compat"], "compat"),
    (["experiment", "describe", "2", "--json"], "compat"),
]


async def test_det_cli(det_venv: Path, database_url: str, tmp_path: Path) -> None:
    await run_cli("seed", "--database", database_url)
    async with serve(database_url) as served:
        env = {
            "DET_MASTER": served.http_url,
            "DET_USER": "determined",
            "DET_PASS": "",
            # The CLI caches tokens under the home directory: keep each run's cache private.
            "HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        for args, expected in CLI_STEPS:
            code, out = await _run(str(det_venv / "bin" / "det"), *args, env=env)
            assert code == 0, f"det {' '.join(args)}: {out}"
            assert expected in out, f"det {' '.join(args)}: {out}"
