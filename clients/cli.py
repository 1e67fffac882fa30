"""``protogw client``: a small command line over :class:`~protogw.clients.determined.DeterminedClient`.

    protogw client --api http://127.0.0.1:8080 login determined
    protogw client experiments --archived --limit 5
    protogw client --grpc 127.0.0.1:8081 archive 3

``--api URL`` talks REST, ``--grpc HOST:PORT`` talks gRPC (``PROTOGW_API`` / ``PROTOGW_GRPC``); with
neither, REST on Determined's default address. ``login`` keeps the token in
``$XDG_CACHE_HOME/protogw/tokens.json`` (``~/.cache`` by default), keyed by server address, so later
commands against the same server are authenticated. A failed call prints the server's message on
stderr and exits with status 1.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from protogw.clients.determined import DeterminedClient
from protogw.clients.determined_errors import read_determined_body
from protogw.clients.errors import ApiError
from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport, TranscodeError
from protogw.clients.transport import Transport
from protogw.core.codec import codec_for, dumps
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2

__all__ = ["DEFAULT_API", "app", "token_cache_path"]

#: Where the CLI talks to when neither --api nor --grpc is given (Determined's port).
DEFAULT_API = "http://127.0.0.1:8080"

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Call a Determined-compatible master.")


@dataclass(frozen=True, slots=True)
class Target:
    """Which server to call and how."""

    api: str | None
    grpc: str | None

    @property
    def key(self) -> str:
        """The token cache key: the address as the user gave it, with its scheme."""
        return f"grpc://{self.grpc}" if self.grpc else str(self.api).rstrip("/")

    def transport(self) -> Transport:
        if self.grpc:
            return GrpcTransport(target=self.grpc)
        return RestTransport(base_url=str(self.api), error_body=read_determined_body)


def token_cache_path() -> Path:
    """``$XDG_CACHE_HOME/protogw/tokens.json``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "protogw" / "tokens.json"


def _read_tokens() -> dict[str, Any]:
    try:
        data = json.loads(token_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_tokens(tokens: dict[str, Any]) -> None:
    path = token_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file holds bearer tokens: readable by its owner only, from the moment it exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens, out, indent=2)


def _cached_token(target: Target) -> str | None:
    entry = _read_tokens().get(target.key)
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) else None


def _run(ctx: typer.Context, action: Callable[[DeterminedClient], Awaitable[T]]) -> T:
    """Run one client session; API errors become a message on stderr and exit status 1."""
    target: Target = ctx.obj

    async def session() -> T:
        async with DeterminedClient(target.transport(), token=_cached_token(target)) as client:
            return await action(client)

    try:
        return asyncio.run(session())
    except (ApiError, TranscodeError) as exc:
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from None


def _json(message: Message) -> Any:
    return codec_for(message.DESCRIPTOR).encode(message)


def _echo_json(value: Any) -> None:
    typer.echo(dumps(value, pretty=True).decode())


def _time(ts: Timestamp, present: bool) -> str:
    if not present:
        return ""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)


def _state_name(state: int) -> str:
    return experimentv1_pb2.State.Name(experimentv1_pb2.State.ValueType(state)).removeprefix("STATE_")


@app.callback()
def options(
    ctx: typer.Context,
    api: Annotated[str | None, typer.Option("--api", envvar="PROTOGW_API", help="REST base URL.")] = None,
    grpc_target: Annotated[
        str | None, typer.Option("--grpc", envvar="PROTOGW_GRPC", help="gRPC address HOST:PORT (instead of REST).")
    ] = None,
) -> None:
    """Call a Determined-compatible master over REST (--api) or gRPC (--grpc)."""
    if api and grpc_target:
        raise typer.BadParameter("give either --api or --grpc, not both")
    ctx.obj = Target(api=None if grpc_target else (api or DEFAULT_API), grpc=grpc_target)


@app.command()
def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="User to log in as.")],
    password: Annotated[
        str | None, typer.Option("--password", envvar="PROTOGW_PASSWORD", help="Prompted for when not given.")
    ] = None,
) -> None:
    """Log in and cache the token for later commands."""
    if password is None:
        password = typer.prompt("Password", default="", hide_input=True, show_default=False)
    response = _run(ctx, lambda c: c.login(username=username, password=password))
    target: Target = ctx.obj
    tokens = _read_tokens()
    tokens[target.key] = {"username": response.user.username, "token": response.token}
    _write_tokens(tokens)
    typer.echo(f"Logged in as {response.user.username}")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the session and forget the cached token."""
    _run(ctx, lambda c: c.logout())
    target: Target = ctx.obj
    tokens = _read_tokens()
    tokens.pop(target.key, None)
    _write_tokens(tokens)
    typer.echo("Logged out")


@app.command()
def me(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the logged-in user."""
    user = _run(ctx, lambda c: c.me())
    if as_json:
        _echo_json(_json(user))
        return
    typer.echo(f"{user.username} (id {user.id}{', admin' if user.admin else ''}{'' if user.active else ', inactive'})")


@app.command()
def master(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the master's version and cluster."""
    info = _run(ctx, lambda c: c.master())
    if as_json:
        _echo_json(_json(info))
        return
    typer.echo(f"cluster {info.cluster_name} (id {info.cluster_id}), master {info.master_id}, version {info.version}")


@app.command()
def experiments(
    ctx: typer.Context,
    archived: Annotated[
        bool | None, typer.Option("--archived/--no-archived", help="Only archived / only unarchived (default: both).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many (default: all).")] = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only this state (repeatable), e.g. ACTIVE.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List experiments."""
    states = state or []

    async def fetch(client: DeterminedClient) -> list[experimentv1_pb2.Experiment]:
        if limit is not None:
            return list((await client.experiments(archived=archived, states=states, limit=limit)).experiments)
        return [e async for e in client.iter_experiments(archived=archived, states=states)]

    try:
        found = _run(ctx, fetch)
    except ValueError as exc:  # an unknown state name
        raise typer.BadParameter(str(exc), param_hint="--state") from None
    if as_json:
        _echo_json([_json(e) for e in found])
        return
    rows = [
        [
            str(e.id),
            e.username,
            e.name,
            _state_name(e.state),
            f"{e.progress.value * 100:.0f}%" if e.HasField("progress") else "",
            _time(e.start_time, e.HasField("start_time")),
            _time(e.end_time, e.HasField("end_time")),
            "yes" if e.archived else "no",
        ]
        for e in found
    ]
    typer.echo(_table(["ID", "Owner", "Name", "State", "Progress", "Started", "Ended", "Archived"], rows))


@app.command()
def archive(ctx: typer.Context, experiment_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Archive an experiment."""
    _run(ctx, lambda c: c.archive(id=experiment_id))
    typer.echo(f"Archived experiment {experiment_id}")


@app.command()
def unarchive(ctx: typer.Context, experiment_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Unarchive an experiment."""
    _run(ctx, lambda c: c.unarchive(id=experiment_id))
    typer.echo(f"Unarchived experiment {experiment_id}")
