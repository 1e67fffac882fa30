"""The ``protogw client`` CLI, driven with typer's CliRunner against a live server over both transports."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from protogw.clients.cli import app, token_cache_path
from tests.support.serve import Served


@pytest.fixture
def invoke(served: Served, transport_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = {"PROTOGW_GRPC": served.grpc_target} if transport_kind == "grpc" else {"PROTOGW_API": served.http_url}
    return Invoke(env, tmp_path / "cache")


class Invoke:
    """Runs the CLI in a worker thread (it starts its own event loop) with the server address set."""

    def __init__(self, env: dict[str, str], cache: Path) -> None:
        self.env = {**env, "XDG_CACHE_HOME": str(cache)}
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Result:
        # The built-in users' password is blank: an empty line answers the password prompt.
        return await asyncio.to_thread(self.runner.invoke, app, list(args), input="\n", env=self.env)


# Each row: a command run after logging in as admin, its exit code and text its output must contain.
COMMANDS: list[tuple[tuple[str, ...], int, list[str]]] = [
    (("master",), 0, ["cluster protogw"]),
    (("me",), 0, ["admin (id 1, admin)"]),
    (("experiments", "--archived"), 0, ["ID | Owner", "1  | determined | mnist-baseline | COMPLETED", "| yes"]),
    (("experiments", "--state", "PAUSED"), 0, ["4  | admin | cifar10-resnet | PAUSED"]),
    (("unarchive", "2"), 1, ["error: Experiment is not archived."]),
    (("archive", "999"), 1, ["error: experiment '999' not found"]),
    (("experiments", "--state", "NOPE"), 2, ["unknown experiment state 'NOPE'"]),
]


@pytest.mark.parametrize(("args", "code", "texts"), COMMANDS, ids=[" ".join(a) for a, _, _ in COMMANDS])
async def test_commands(invoke: Invoke, args: tuple[str, ...], code: int, texts: list[str]) -> None:
    assert (await invoke("login", "admin")).exit_code == 0
    result = await invoke(*args)
    assert result.exit_code == code, result.output
    for text in texts:
        assert text in result.output


# --json listings -> the ids they hold.
LISTINGS: list[tuple[tuple[str, ...], list[int]]] = [
    (("--archived",), [1]),
    (("--state", "COMPLETED"), [1, 2]),
    (("--state", "CANCELED", "--state", "ERROR", "--no-archived"), [5, 6]),
    (("--state", "COMPLETED", "--limit", "1"), [1]),
]


@pytest.mark.parametrize(("args", "ids"), LISTINGS)
async def test_json_listing(invoke: Invoke, args: tuple[str, ...], ids: list[int]) -> None:
    await invoke("login", "admin")
    result = await invoke("experiments", "--json", *args)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [e["id"] for e in listed if e["id"] <= 6] == ids


async def test_login_caches_token_then_logout_forgets_it(invoke: Invoke) -> None:
    result = await invoke("me")
    assert result.exit_code == 1
    assert "error: token missing" in result.output
    assert (await invoke("login", "determined")).stdout.splitlines()[-1] == "Logged in as determined"
    cache = Path(invoke.env["XDG_CACHE_HOME"]) / "protogw" / "tokens.json"
    entries = json.loads(cache.read_text())
    assert [e["username"] for e in entries.values()] == ["determined"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    me = json.loads((await invoke("me", "--json")).stdout)
    assert me["username"] == "determined"
    assert (await invoke("logout")).exit_code == 0
    assert json.loads(cache.read_text()) == {}
    assert (await invoke("me")).exit_code == 1


async def test_archive_then_unarchive(invoke: Invoke) -> None:
    await invoke("login", "admin")
    # Experiment 5 is CANCELED: archivable. The two steps leave it as it was for the other transport.
    steps = [(("archive", "5"), "Archived experiment 5"), (("unarchive", "5"), "Unarchived experiment 5")]
    for args, text in steps:
        result = await invoke(*args)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == text


async def test_wrong_password(invoke: Invoke) -> None:
    result = await invoke("login", "admin", "--password", "wrong")
    assert result.exit_code == 1
    assert "error: invalid credentials" in result.output


def test_token_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert token_cache_path() == tmp_path / "protogw" / "tokens.json"


def test_api_and_grpc_exclude_each_other() -> None:
    result = CliRunner().invoke(app, ["--api", "http://x", "--grpc", "y:1", "master"])
    assert result.exit_code == 2
    assert "either --api or --grpc" in result.output
