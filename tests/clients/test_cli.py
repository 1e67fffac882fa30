"""The ``protogw client`` CLI, driven with typer's CliRunner against a live ``protogw serve`` over REST and
over gRPC: every subcommand, its output formats, its exit codes, and the token cache."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import signal
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
import yaml
from typer.testing import CliRunner, Result

from protogw.clients import errors
from protogw.clients.cli import EXIT_CODES, app, exit_code_for, token_cache_path
from protogw.clients.cli import _experiments as experiments_cli
from protogw.clients.cli import _users as users_cli
from protogw.clients.determined import DeterminedClient
from protogw.clients.rest import TranscodeError
from protogw.gen.determined.api.v1 import experiment_pb2, user_pb2
from tests.clients.conftest import make_transport
from tests.support.serve import PROTOGW, Served


@pytest.fixture
def invoke(served: Served, transport_kind: str, tmp_path: Path) -> Invoke:
    env = {"PROTOGW_GRPC": served.grpc_target} if transport_kind == "grpc" else {"PROTOGW_API": served.http_url}
    return Invoke(env, tmp_path / "cache", transport_kind)


class Invoke:
    """Runs the CLI in a worker thread (it starts its own event loop) with the server address set."""

    def __init__(self, env: dict[str, str], cache: Path, kind: str) -> None:
        # A wide terminal unless a test says otherwise, so table cells are not cut.
        self.env = {**env, "XDG_CACHE_HOME": str(cache), "COLUMNS": "200"}
        self.kind = kind
        self.runner = CliRunner()

    async def __call__(self, *args: str, input: str = "\n", columns: int = 200) -> Result:
        # The built-in users' password is blank: an empty line answers the password prompt.
        env = {**self.env, "COLUMNS": str(columns)}
        return await asyncio.to_thread(self.runner.invoke, app, list(args), input=input, env=env)

    async def ok(self, *args: str) -> Result:
        result = await self(*args)
        assert result.exit_code == 0, result.output
        return result

    async def json(self, *args: str) -> Any:
        return json.loads((await self.ok(*args, "--json")).stdout)


def _ids(listed: list[dict[str, Any]]) -> list[int]:
    # Other tests add experiments; the walk-through set (ids 1-6) is what read-only rows look at.
    return [e["id"] for e in listed if e["id"] <= 6]


# -- reads on the walk-through set -----------------------------------------------------------------------
# The set: 1 mnist-baseline (determined, COMPLETED, archived), 2 mnist-cnn (determined, COMPLETED),
# 3 mnist-lr-sweep (determined, ACTIVE), 4 cifar10-resnet (admin, PAUSED, "ResNet-18"), 5 cifar10-augment
# (admin, CANCELED), 6 imagenet-vit (admin, ERROR).

# Each row: a command run after logging in as admin, its exit code, and text its output must contain.
COMMANDS: list[tuple[tuple[str, ...], int, list[str]]] = [
    (("master",), 0, ["Cluster", "protogw"]),
    (("master", "info"), 0, ["Cluster ID", "Version"]),
    (("master", "info", "--yaml"), 0, ["clusterName: protogw"]),
    (("me",), 0, ["admin (id 1, admin)"]),
    (("whoami",), 0, ["admin (id 1, admin) on "]),
    (("whoami", "--json"), 0, ['"username": "admin"']),
    (("experiments", "--archived"), 0, ["ID", "Owner", "mnist-baseline", "COMPLETED", "baseline, mnist"]),
    (("experiments", "list", "--state", "PAUSED", "--id-lte", "6"), 0, ["cifar10-resnet", "PAUSED"]),
    (("experiments", "describe", "4"), 0, ["cifar10-resnet", "ResNet-18", "admin (id 1)", "searcher:"]),
    (("experiments", "describe", "4", "--yaml"), 0, ["name: cifar10-resnet", "config:"]),
    (("experiments", "labels"), 0, ["mnist", "cifar10"]),
    (("experiments", "labels", "--project-id", "1", "--yaml"), 0, ["- mnist"]),
    (("users",), 0, ["Username", "admin", "determined"]),
    (("users", "list", "--name", "determ"), 0, ["determined"]),
    (("users", "describe", "1"), 0, ["admin"]),
    (("users", "describe", "determined", "--yaml"), 0, ["username: determined"]),
    # Errors, each with its exit status.
    (("unarchive", "2"), 8, ["error: Experiment is not archived."]),
    (("archive", "999"), 5, ["error: experiment '999' not found"]),
    (("experiments", "describe", "999"), 5, ["not found"]),
    (("users", "describe", "ghost"), 5, ["error: user not found"]),
    (("users", "describe", "7", "--by-name"), 5, ["error: user not found"]),
    (("users", "list", "--offset", "1000"), 7, ["error: offset out of bounds"]),
    (("experiments", "--state", "NOPE"), 2, ["unknown experiment state 'NOPE'"]),
    (("experiments", "--limit", "1", "describe", "3"), 2, ["go after `list`"]),
    (("experiments", "list", "--sort-by", "colour"), 2, ["colour"]),
    (("experiments", "patch", "3"), 2, ["nothing to change"]),
    (("users", "patch", "determined"), 2, ["nothing to change"]),
    (("experiments", "describe", "3", "--json", "--yaml"), 2, ["either --json or --yaml"]),
]


@pytest.mark.parametrize(("args", "code", "texts"), COMMANDS, ids=[" ".join(a) for a, _, _ in COMMANDS])
async def test_commands(invoke: Invoke, args: tuple[str, ...], code: int, texts: list[str]) -> None:
    assert (await invoke("login", "admin")).exit_code == 0
    result = await invoke(*args)
    assert result.exit_code == code, result.output
    for text in texts:
        assert text in result.output


# Listings as --json -> the walk-through ids they hold, in order.
LISTINGS: list[tuple[tuple[str, ...], list[int]]] = [
    (("experiments", "--archived"), [1]),
    (("experiments", "--state", "COMPLETED"), [1, 2]),
    (("experiments", "list", "--state", "CANCELED", "--state", "ERROR", "--no-archived"), [5, 6]),
    (("experiments", "--state", "COMPLETED", "--limit", "1"), [1]),
    (("experiments", "list", "--label", "mnist", "--label", "sweep"), [3]),
    (("experiments", "list", "--user", "admin", "--id-lte", "6"), [4, 5, 6]),
    (("experiments", "list", "--user-id", "1", "--id-lte", "6"), [4, 5, 6]),
    (("experiments", "list", "--name", "cifar10", "--sort-by", "name", "--order", "desc"), [4, 5]),
    (("experiments", "list", "--description", "resnet"), [4]),
    (("experiments", "list", "--project-id", "1", "--id-lte", "6"), [1, 2, 3, 4, 5, 6]),
    (("experiments", "list", "--id", "2", "--id", "5"), [2, 5]),
    (("experiments", "list", "--not-id", "2", "--id-lte", "4"), [1, 3, 4]),
    (("experiments", "list", "--id-gt", "4", "--id-lt", "6"), [5]),
    (("experiments", "list", "--id-gte", "5", "--id-lte", "6", "--sort-by", "id", "--order", "desc"), [6, 5]),
    (("experiments", "list", "--id-lte", "6", "--offset", "1", "--limit", "2"), [2, 3]),
    (("experiments", "list", "--id-lte", "6", "--offset", "-2"), [5, 6]),
    (("experiments", "list", "--id-lte", "6", "--page-size", "2"), [1, 2, 3, 4, 5, 6]),
    (("experiments", "list", "--id", "1", "--show-trial-data"), [1]),
    (("experiments", "list", "--id-lte", "6", "--sort-by", "state", "--limit", "2"), [3, 5]),  # by state name
]


@pytest.mark.parametrize(("args", "ids"), LISTINGS, ids=[" ".join(a) for a, _ in LISTINGS])
async def test_experiment_listings(invoke: Invoke, args: tuple[str, ...], ids: list[int]) -> None:
    await invoke.ok("login", "admin")
    assert _ids(await invoke.json(*args)) == ids


# User listings as --json -> the built-in usernames they hold, in order.
USER_LISTINGS: list[tuple[tuple[str, ...], list[str]]] = [
    (("users",), ["admin", "determined"]),
    (("users", "list", "--admin"), ["admin"]),
    (("users", "list", "--no-admin", "--active", "--name", "determ"), ["determined"]),
    (("users", "list", "--sort-by", "user-name", "--order", "desc"), ["determined", "admin"]),
    (("users", "list", "--limit", "1"), ["admin"]),
    (("users", "list", "--offset", "1", "--limit", "1"), ["determined"]),
    (("users", "list", "--page-size", "1"), ["admin", "determined"]),
    (("users", "list", "--role-id", "1"), []),  # no roles exist, so nobody has one
]


@pytest.mark.parametrize(("args", "names"), USER_LISTINGS, ids=[" ".join(a) for a, _ in USER_LISTINGS])
async def test_user_listings(invoke: Invoke, args: tuple[str, ...], names: list[str]) -> None:
    await invoke.ok("login", "admin")
    listed = [u["username"] for u in await invoke.json(*args)]
    assert [n for n in listed if n in ("admin", "determined")] == names


async def test_yaml_listing_matches_json(invoke: Invoke) -> None:
    await invoke.ok("login", "admin")
    as_yaml = yaml.safe_load((await invoke.ok("experiments", "list", "--id-lte", "6", "--yaml")).stdout)
    assert as_yaml == await invoke.json("experiments", "list", "--id-lte", "6")


# -- writes: one scenario per table, each run once per transport ---------------------------------------------

CONFIG = """\
name: cli-{kind}-{n}
description: made by the CLI test
labels: [cli]
searcher: {{name: single, metric: loss, max_length: {{batches: 1}}}}
"""

# Each step: arguments ("{id}" is the experiment the scenario created), exit code, text the output contains.
EXPERIMENT_STEPS: list[tuple[tuple[str, ...], int, list[str]]] = [
    (("experiments", "describe", "{id}"), 0, ["PAUSED", "made by the CLI test", "cli"]),
    (("experiments", "activate", "{id}"), 0, ["Activated experiment {id}"]),
    (("experiments", "describe", "{id}"), 0, ["ACTIVE"]),
    (("experiments", "pause", "{id}"), 0, ["Paused experiment {id}"]),
    (("experiments", "patch", "{id}", "--name", "renamed-{id}", "--notes", "n1"), 0, ["renamed-{id}"]),
    (("experiments", "patch", "{id}", "--description", "new words", "--label", "b", "--label", "a"), 0, ["a, b"]),
    (("experiments", "describe", "{id}"), 0, ["new words", "n1", "renamed-{id}"]),
    (("experiments", "label", "add", "{id}", "c"), 0, ["a\nb\nc"]),
    (("experiments", "label", "remove", "{id}", "a"), 0, ["b\nc"]),
    (("experiments", "label", "add", "{id}", "d", "--json"), 0, ['"b"', '"d"']),
    (("experiments", "patch", "{id}", "--clear-labels", "--json"), 0, ['"labels": []']),
    (("experiments", "archive", "{id}"), 8, ["error:"]),  # still PAUSED: not terminal
    (("experiments", "cancel", "{id}"), 0, ["Canceled experiment {id}"]),
    (("experiments", "kill", "{id}"), 0, ["Killed experiment {id}"]),  # a no-op once terminal
    (("experiments", "archive", "{id}"), 0, ["Archived experiment {id}"]),
    (("experiments", "list", "--archived", "--id", "{id}"), 0, ["renamed-{id}", "CANCELED", "yes"]),
    (("experiments", "unarchive", "{id}"), 0, ["Unarchived experiment {id}"]),
    (("experiments", "delete", "{id}"), 1, ["Aborted"]),  # the confirmation prompt, answered "no"
    (("experiments", "delete", "{id}", "--yes"), 0, ["Deleted experiment {id}"]),
    (("experiments", "describe", "{id}"), 5, ["not found"]),
]

_names = itertools.count()


def _model_dir(root: Path) -> Path:
    model = root / "model_def"
    (model / "data").mkdir(parents=True)
    (model / "__pycache__").mkdir()
    (model / "train.py").write_text("print('training')\n")
    (model / "data" / "labels.txt").write_text("0\n1\n")
    (model / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    (model / "notes.md").write_text("ignored\n")
    (model / ".detignore").write_text("*.md\n")
    return model


async def test_experiment_lifecycle(invoke: Invoke, tmp_path: Path) -> None:
    await invoke.ok("login", "admin")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(kind=invoke.kind, n=next(_names)))
    model = _model_dir(tmp_path)
    checked = await invoke.ok("experiments", "create", str(config), str(model), "--validate-only")
    # train.py, data/, data/labels.txt; not the cache, the .md file or .detignore.
    assert "Config is valid (3 model definition files)" in checked.output
    created = await invoke.json("experiments", "create", str(config), str(model), "--paused")
    experiment_id = created["experiment"]["id"]
    assert created["experiment"]["state"] == "STATE_PAUSED"
    described = await invoke.json("experiments", "describe", str(experiment_id))
    assert described["experiment"]["modelDefinitionSize"] == len("print('training')\n") + len("0\n1\n")
    for args, code, texts in EXPERIMENT_STEPS:
        filled = [a.format(id=experiment_id) for a in args]
        result = await invoke(*filled, input="n\n")
        assert result.exit_code == code, (filled, result.output)
        for text in texts:
            assert text.format(id=experiment_id) in result.output, (filled, result.output)


# Each row: `experiments create` arguments that cannot work, the exit code and the message.
BAD_CREATES: list[tuple[Callable[[Path], list[str]], int, str]] = [
    (lambda d: [str(d / "missing.yaml")], 2, "cannot read"),
    (lambda d: [_write(d / "bad.yaml", "name: [unclosed"), str(d)], 2, "is not valid YAML"),
    (lambda d: [_write(d / "c.yaml", "name: x"), str(d / "nowhere")], 2, "does not exist"),
    (lambda d: [_write(d / "c.yaml", "name: x"), _write(d / "file.txt", "x")], 2, "must be a directory"),
    (lambda d: [_write(d / "c.yaml", "name: ''")], 7, "error:"),  # the server refuses a blank name
    (lambda d: [_write(d / "c.yaml", "name: x"), "--project-id", "999"], 5, "error:"),
]


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("args", "code", "message"), BAD_CREATES)
async def test_bad_creates(
    invoke: Invoke, tmp_path: Path, args: Callable[[Path], list[str]], code: int, message: str
) -> None:
    await invoke.ok("login", "admin")
    result = await invoke("experiments", "create", *args(tmp_path))
    assert result.exit_code == code, result.output
    assert message in result.output


# Each step: arguments ("{u}" is a username unique to the run), exit code, text the output contains.
USER_STEPS: list[tuple[tuple[str, ...], int, list[str]]] = [
    (("users", "create", "{u}", "--password", "pw1", "--display-name", "Cli User"), 0, ["{u}", "Cli User"]),
    (("users", "create", "{u}"), 6, ["error:"]),
    (("users", "describe", "{u}", "--json"), 0, ['"displayName": "Cli User"', '"admin": false']),
    (("users", "patch", "{u}", "--display-name", "Renamed", "--inactive"), 0, ["Renamed", "no"]),
    (("users", "list", "--inactive", "--name", "{u}"), 0, ["{u}"]),
    (("users", "patch", "{u}", "--active", "--admin", "--yaml"), 0, ["admin: true", "active: true"]),
    (("users", "patch", "{u}", "--no-admin", "--password", "pw2"), 0, ["{u}"]),
    (("login", "{u}", "--password", "pw1"), 3, ["error: invalid credentials"]),
    (("login", "{u}", "--password", "pw2"), 0, ["Logged in as {u}"]),
    (("whoami",), 0, ["{u} (id"]),
    (("users", "create", "{u}-2"), 4, ["error:"]),  # not an admin any more
    (("users", "set-password", "{u}", "--password", "pw3"), 0, ["Password of {u}"]),  # their own
    (("users", "set-password", "admin", "--password", "x"), 4, ["error:"]),
    (("login", "{u}", "--password", "pw3"), 0, ["Logged in as {u}"]),
    (("login", "admin", "--password", ""), 0, ["Logged in as admin"]),
    (("users", "patch", "{u}", "--username", "{u}-new"), 0, ["{u}-new"]),
    (("users", "set-password", "{u}-new", "--password", "pw4"), 0, ["Password of {u}-new"]),
    (("users", "patch", "{u}-new", "--remote", "--yaml"), 0, ["remote: true"]),
    (("users", "patch", "{u}-new", "--no-remote", "--yaml"), 0, ["remote: false"]),
]


async def test_user_management(invoke: Invoke) -> None:
    username = f"cli-{invoke.kind}-{next(_names)}"
    await invoke.ok("login", "admin")
    for args, code, texts in USER_STEPS:
        filled = [a.format(u=username) for a in args]
        result = await invoke(*filled)
        assert result.exit_code == code, (filled, result.output)
        for text in texts:
            assert text.format(u=username) in result.output, (filled, result.output)


async def test_set_password_prompts_twice(invoke: Invoke) -> None:
    username = f"cli-{invoke.kind}-{next(_names)}"
    await invoke.ok("login", "admin")
    await invoke.ok("users", "create", username)
    result = await invoke("users", "set-password", username, input="pw\npw\n")
    assert result.exit_code == 0, result.output
    assert (await invoke("login", username, "--password", "pw")).exit_code == 0


# -- master logs ------------------------------------------------------------------------------------------

# Each row: `master logs` arguments and how many entries it prints.
LOG_READS: list[tuple[tuple[str, ...], int]] = [
    (("--limit", "3"), 3),
    (("--offset", "-1"), 1),
    (("--offset", "-2", "--json"), 2),
    (("--limit", "2", "--yaml"), 2),
    (("--follow", "--offset", "-2", "--limit", "2"), 2),  # --follow ends at --limit
]


@pytest.mark.parametrize(("args", "count"), LOG_READS, ids=[" ".join(a) for a, _ in LOG_READS])
async def test_master_logs(invoke: Invoke, args: tuple[str, ...], count: int) -> None:
    await invoke.ok("login", "admin")
    out = (await invoke.ok("master", "logs", *args)).stdout
    if "--json" in args:
        assert [set(json.loads(line)) >= {"id", "message", "level"} for line in out.splitlines()] == [True] * count
    elif "--yaml" in args:
        assert len(list(yaml.safe_load_all(out))) == count
    else:
        assert len(out.splitlines()) == count
        assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ ", line) for line in out.splitlines())


async def test_master_logs_follow_waits_for_new_entries(invoke: Invoke, served: Served) -> None:
    await invoke.ok("login", "admin")
    # Start at the last entry and wait for one more: every call the server answers logs an access line.
    # The calls that cause them go through the library (two CliRunner runs at once would share stdout).
    follow = asyncio.create_task(invoke("master", "logs", "--follow", "--offset", "-1", "--limit", "2"))
    async with DeterminedClient(make_transport(invoke.kind, served)) as client:
        while not follow.done():
            await client.master()
            await asyncio.sleep(0.2)
    result = await asyncio.wait_for(follow, 30)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


async def test_followed_process_keeps_running_until_sigint(served: Served, transport_kind: str, tmp_path: Path) -> None:
    address = ["--grpc", served.grpc_target] if transport_kind == "grpc" else ["--api", served.http_url]
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    login = await asyncio.create_subprocess_exec(
        PROTOGW, "client", *address, "login", "admin", "--password", "", env=env
    )
    assert await login.wait() == 0
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, "client", *address, "master", "logs", "--follow", "--offset", "-1",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert first.strip()
        await asyncio.sleep(1.0)
        assert proc.returncode is None  # still following
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 130
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# -- output: terminal width, progress bars ---------------------------------------------------------------------


@pytest.mark.parametrize("columns", [40, 60, 80, 120, 200])
async def test_tables_fit_the_terminal(invoke: Invoke, columns: int) -> None:
    await invoke.ok("login", "admin")
    for args in (("experiments", "list", "--id-lte", "6"), ("users",), ("experiments", "describe", "4"), ("master",)):
        result = await invoke(*args, columns=columns)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns, result.stdout
    # The id and the name stay at any width; the other columns come and go.
    narrow = (await invoke("experiments", "list", "--id-lte", "6", columns=columns)).stdout
    assert narrow.split()[:1] == ["ID"]
    assert "Name" in narrow.splitlines()[0]


# Each row: a listing with --progress; its stderr shows the bar's final count (done == total).
PROGRESS: list[tuple[str, ...]] = [
    ("experiments", "list", "--page-size", "2", "--progress"),
    ("experiments", "--progress"),
    ("users", "list", "--page-size", "1", "--progress"),
]


@pytest.mark.parametrize("args", PROGRESS, ids=[" ".join(a) for a in PROGRESS])
async def test_progress_bar(invoke: Invoke, args: tuple[str, ...]) -> None:
    await invoke.ok("login", "admin")
    result = await invoke.ok(*args, "--json")
    done = re.search(r"(\d+)/(\d+)", result.stderr)
    assert done is not None, result.stderr
    assert done.group(1) == done.group(2) == str(len(json.loads(result.stdout)))
    quiet = await invoke.ok(*args[:-1], "--no-progress", "--json")
    assert quiet.stderr == ""


# -- the token cache, transports, exit codes ---------------------------------------------------------------


async def test_login_caches_token_then_logout_forgets_it(invoke: Invoke) -> None:
    result = await invoke("me")
    assert result.exit_code == 3
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
    assert (await invoke("me")).exit_code == 3


async def test_wrong_password(invoke: Invoke) -> None:
    result = await invoke("login", "admin", "--password", "wrong")
    assert result.exit_code == 3
    assert "error: invalid credentials" in result.output


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A real TCP server that accepts connections and never answers: every call to it times out."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


# Each row: how the server address is broken, and the exit status every call then gives, either transport.
UNREACHABLE: list[tuple[str, int]] = [
    ("refused", 9),  # nothing listens: unavailable
    ("silent", 10),  # it listens but never answers: --timeout passes
]


@pytest.mark.parametrize(("failure", "code"), UNREACHABLE)
async def test_transport_failures(invoke: Invoke, transport_kind: str, failure: str, code: int) -> None:
    async with _silent_server() as silent_port:
        port = 1 if failure == "refused" else silent_port
        address = ["--grpc", f"127.0.0.1:{port}"] if transport_kind == "grpc" else ["--api", f"http://127.0.0.1:{port}"]
        result = await invoke(*address, "--timeout", "0.5", "master")
    assert result.exit_code == code, result.output
    assert result.output.startswith("error: ")


def test_token_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert token_cache_path() == tmp_path / "protogw" / "tokens.json"


# Each row: options and environment -> exit code (2: both transports given the same way).
TRANSPORT_CHOICE: list[tuple[list[str], dict[str, str], int]] = [
    (["--api", "http://127.0.0.1:1", "--grpc", "127.0.0.1:1"], {}, 2),
    ([], {"PROTOGW_API": "http://127.0.0.1:1", "PROTOGW_GRPC": "127.0.0.1:1"}, 2),
    (["--grpc", "127.0.0.1:1"], {"PROTOGW_API": "http://127.0.0.1:1"}, 9),  # the flag wins over the other's env
    (["--api", "http://127.0.0.1:1"], {"PROTOGW_GRPC": "127.0.0.1:1"}, 9),
]


@pytest.mark.parametrize(("options", "env", "code"), TRANSPORT_CHOICE)
def test_api_and_grpc_exclude_each_other(options: list[str], env: dict[str, str], code: int) -> None:
    result = CliRunner().invoke(app, [*options, "master"], env={"PROTOGW_API": None, "PROTOGW_GRPC": None, **env})
    assert result.exit_code == code, result.output
    if code == 2:
        assert "either --api or --grpc" in result.output


# Every error class -> the exit status its failures give (real exceptions of the client library).
EXIT_STATUS: list[tuple[BaseException, int]] = [
    (errors.Unauthenticated("x"), 3),
    (errors.PermissionDenied("x"), 4),
    (errors.NotFound("x"), 5),
    (errors.AlreadyExists("x"), 6),
    (errors.Aborted("x"), 6),
    (errors.InvalidArgument("x"), 7),
    (errors.OutOfRange("x"), 7),
    (errors.FailedPrecondition("x"), 8),
    (errors.Unavailable("x"), 9),
    (errors.DeadlineExceeded("x"), 10),
    (errors.ResourceExhausted("x"), 11),
    (errors.Unimplemented("x"), 12),
    (errors.Internal("x"), 1),
    (errors.Unknown("x"), 1),
    (errors.DataLoss("x"), 1),
    (errors.Cancelled("x"), 1),
    (errors.TransportError("x"), 1),
    (TranscodeError("empty path variable"), 2),
    (httpx.ConnectError("refused"), 9),
]


@pytest.mark.parametrize(("exc", "code"), EXIT_STATUS, ids=[type(e).__name__ for e, _ in EXIT_STATUS])
def test_exit_codes(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code


def test_exit_codes_are_distinct_per_class_pair() -> None:
    # Only the documented pairs share a status; every status is outside 0-2 (ok, error, usage).
    assert min(EXIT_CODES.values()) == 3
    by_code: dict[int, set[str]] = {}
    for cls, code in EXIT_CODES.items():
        by_code.setdefault(code, set()).add(cls.__name__)
    shared = {frozenset(names) for names in by_code.values() if len(names) > 1}
    assert shared == {frozenset({"AlreadyExists", "Aborted"}), frozenset({"InvalidArgument", "OutOfRange"})}


# The --sort-by spellings, checked against the protos' enums so a new sort key cannot be forgotten.
SORT_KEYS: list[tuple[Any, dict[str, int], Any]] = [
    (experiments_cli.SortKey, experiments_cli.SORT_KEYS, experiment_pb2.GetExperimentsRequest.SortBy),
    (users_cli.SortKey, users_cli.SORT_KEYS, user_pb2.GetUsersRequest.SortBy),
]


@pytest.mark.parametrize(("literal", "keys", "enum"), SORT_KEYS, ids=["experiments", "users"])
def test_sort_keys_cover_the_enum(literal: Any, keys: dict[str, int], enum: Any) -> None:
    assert set(get_args(literal)) == set(keys)
    assert sorted(keys.values()) == sorted(n for _, n in enum.items() if n)


# Shell completion (typer's): the words offered after `protogw client experiments l`.
COMPLETIONS: list[tuple[str, set[str]]] = [
    ("protogw client experiments l", {"list", "label", "labels"}),
    ("protogw client us", {"users"}),
    ("protogw client master ", {"info", "logs"}),
]


@pytest.mark.parametrize(("line", "expected"), COMPLETIONS)
async def test_shell_completion(line: str, expected: set[str]) -> None:
    words = line.split(" ")
    proc = await asyncio.create_subprocess_exec(
        PROTOGW,
        stdout=asyncio.subprocess.PIPE,
        env={"_PROTOGW_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert set(out.decode().split()) == expected
