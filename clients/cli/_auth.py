"""``login``, ``logout``, ``me`` and ``whoami``."""

from __future__ import annotations

from typing import Annotated

import typer

from protogw.clients.cli._output import AsJson, AsYaml, emit, message_json
from protogw.clients.cli._session import read_tokens, run, target_of, write_tokens
from protogw.gen.determined.user.v1 import user_pb2 as userv1_pb2

__all__ = ["register"]


def _describe_user(user: userv1_pb2.User) -> str:
    flags = ", admin" if user.admin else ""
    flags += "" if user.active else ", inactive"
    return f"{user.username} (id {user.id}{flags})"


def login(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="User to log in as.")],
    password: Annotated[
        str | None, typer.Option("--password", envvar="PROTOGW_PASSWORD", help="Prompted for when not given.")
    ] = None,
) -> None:
    """Log in and cache the token for later commands against the same server."""
    if password is None:
        password = typer.prompt("Password", default="", hide_input=True, show_default=False)
    response = run(ctx, lambda c: c.login(username=username, password=password))
    target = target_of(ctx)
    tokens = read_tokens()
    tokens[target.key] = {"username": response.user.username, "token": response.token}
    write_tokens(tokens)
    typer.echo(f"Logged in as {response.user.username}")


def logout(ctx: typer.Context) -> None:
    """End the session on the server and forget the cached token."""
    run(ctx, lambda c: c.logout())
    target = target_of(ctx)
    tokens = read_tokens()
    tokens.pop(target.key, None)
    write_tokens(tokens)
    typer.echo("Logged out")


def me(ctx: typer.Context, as_json: AsJson = False, as_yaml: AsYaml = False) -> None:
    """Show the logged-in user (GetMe)."""
    user = run(ctx, lambda c: c.me())
    emit(message_json(user), as_json=as_json, as_yaml=as_yaml, text=lambda: _describe_user(user))


def whoami(ctx: typer.Context, as_json: AsJson = False, as_yaml: AsYaml = False) -> None:
    """Show whom the cached token belongs to (CurrentUser)."""
    user = run(ctx, lambda c: c.current_user())
    target = target_of(ctx)
    emit(
        message_json(user),
        as_json=as_json,
        as_yaml=as_yaml,
        text=lambda: f"{_describe_user(user)} on {target.address}",
    )


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)
    app.command()(me)
    app.command()(whoami)
