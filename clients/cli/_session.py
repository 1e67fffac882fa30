"""Which server the CLI talks to, the token cache, and running one client session per command.

Every command goes through :func:`run`: it opens a :class:`DeterminedClient` on the chosen transport
with the cached token, runs the command's coroutine, and turns a failure into a message on stderr
and the exit status of :data:`EXIT_CODES`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
import typer

from protogw.clients import errors
from protogw.clients.determined import DeterminedClient
from protogw.clients.determined_errors import read_determined_body
from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport, TranscodeError
from protogw.clients.transport import Transport

__all__ = [
    "DEFAULT_API",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Target",
    "exit_code_for",
    "fail",
    "run",
    "token_cache_path",
]

#: Where the CLI talks to when neither --api nor --grpc is given (Determined's port).
DEFAULT_API: Final = "http://127.0.0.1:8080"

T = TypeVar("T")

#: Success.
EXIT_OK: Final = 0
#: A failure with no more specific code below (an internal server error, a non-JSON error page, ...).
EXIT_ERROR: Final = 1
#: A bad command line (click's own code for usage errors), or input the command cannot use (an
#: unreadable config file, a value that cannot be sent).
EXIT_USAGE: Final = 2
#: Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED: Final = 130

#: The exit status for each class of :mod:`protogw.clients.errors`; a class not listed takes its
#: nearest listed base class, and :data:`EXIT_ERROR` when there is none. The same server answer
#: gives the same status over REST and gRPC.
EXIT_CODES: Final[dict[type[errors.ApiError], int]] = {
    errors.Unauthenticated: 3,  # not logged in, expired token, wrong password
    errors.PermissionDenied: 4,  # logged in, but not allowed (e.g. not an admin)
    errors.NotFound: 5,
    errors.AlreadyExists: 6,
    errors.Aborted: 6,  # a conflict, like AlreadyExists (both HTTP 409)
    errors.InvalidArgument: 7,
    errors.OutOfRange: 7,
    errors.FailedPrecondition: 8,  # e.g. archiving a running experiment
    errors.Unavailable: 9,  # the server cannot be reached
    errors.DeadlineExceeded: 10,  # --timeout passed
    errors.ResourceExhausted: 11,
    errors.Unimplemented: 12,  # the server does not offer this RPC
}


def exit_code_for(exc: BaseException) -> int:
    """The exit status for an exception a command failed with."""
    if isinstance(exc, TranscodeError):
        return EXIT_USAGE
    if isinstance(exc, httpx.TransportError):  # no HTTP answer at all: refused, reset, DNS
        return EXIT_CODES[errors.Unavailable]
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_ERROR


@dataclass(frozen=True, slots=True)
class Target:
    """Which server to call, how, and with what deadline per call."""

    api: str | None
    grpc: str | None
    timeout: float | None = 30.0

    @property
    def key(self) -> str:
        """The token cache key: the address as the user gave it, with its scheme."""
        return f"grpc://{self.grpc}" if self.grpc else str(self.api).rstrip("/")

    @property
    def address(self) -> str:
        return self.grpc if self.grpc else str(self.api)

    def transport(self) -> Transport:
        if self.grpc:
            return GrpcTransport(target=self.grpc)
        # Determined's error envelope as well as google.rpc.Status, so any Determined master answers.
        return RestTransport(base_url=str(self.api), error_body=read_determined_body)


def token_cache_path() -> Path:
    """``$XDG_CACHE_HOME/protogw/tokens.json``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "protogw" / "tokens.json"


def read_tokens() -> dict[str, Any]:
    try:
        data = json.loads(token_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_tokens(tokens: dict[str, Any]) -> None:
    path = token_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file holds bearer tokens: readable by its owner only, from the moment it exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens, out, indent=2)


def cached_token(target: Target) -> str | None:
    entry = read_tokens().get(target.key)
    token = entry.get("token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) else None


def target_of(ctx: typer.Context) -> Target:
    """The :class:`Target` the root callback stored (commands may sit in nested groups)."""
    target = ctx.find_object(Target)
    if target is None:  # only when a command is invoked without the root app
        raise RuntimeError("no server target: run through the protogw client app")
    return target


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run(ctx: typer.Context, action: Callable[[DeterminedClient], Awaitable[T]]) -> T:
    """Run one client session; a failure becomes ``error: ...`` on stderr and its exit status."""
    target = target_of(ctx)

    async def session() -> T:
        async with DeterminedClient(target.transport(), token=cached_token(target), timeout=target.timeout) as client:
            return await action(client)

    try:
        return asyncio.run(session())
    except errors.ApiError as exc:
        raise fail(exc.message, exit_code_for(exc)) from None
    except TranscodeError as exc:
        raise fail(str(exc), exit_code_for(exc)) from None
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {target.address}: {exc or type(exc).__name__}", exit_code_for(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
