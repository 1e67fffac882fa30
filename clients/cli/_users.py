"""``users``: list (the default), describe, create, patch, set-password.

A USER argument is a username, or a user id when it is all digits (``--by-name`` forces a username).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from protogw.clients.cli._output import (
    ORDER_BY,
    AsJson,
    AsYaml,
    Column,
    ListLimit,
    ListOffset,
    ListOrder,
    ShowProgress,
    emit,
    enum_keys,
    message_json,
    read_pages,
    subcommand_instead,
    timestamp,
)
from protogw.clients.cli._session import run
from protogw.clients.determined import DeterminedClient
from protogw.gen.determined.api.v1 import user_pb2
from protogw.gen.determined.user.v1 import user_pb2 as userv1_pb2

__all__ = ["SORT_KEYS", "SortKey", "app"]

app = typer.Typer(help="Users: list (the default), describe, create, patch, set-password.")

#: ``--sort-by``: GetUsersRequest.SortBy without its prefix (a test keeps the two in step).
SortKey = Literal["display-name", "user-name", "admin", "active", "modified-time", "name", "last-auth-time", "remote"]
SORT_KEYS = enum_keys(user_pb2.GetUsersRequest.SortBy.items(), "SORT_BY_")

UserArg = Annotated[str, typer.Argument(metavar="USER", help="Username, or user id when all digits.")]
ByName = Annotated[bool, typer.Option("--by-name", help="USER is a username even when it is all digits.")]

_COLUMNS = [
    Column("ID", justify="right", min_width=3),
    Column("Username", wrap=True, min_width=8),
    Column("Display name", wrap=True, min_width=8, priority=3),
    Column("Admin", min_width=5, priority=1),
    Column("Active", min_width=6, priority=2),
    Column("Remote", min_width=6, priority=4),
    Column("Last login", min_width=19, priority=5),
]


def _row(u: userv1_pb2.User) -> list[str]:
    return [
        str(u.id),
        u.username,
        u.display_name,
        "yes" if u.admin else "no",
        "yes" if u.active else "no",
        "yes" if u.remote else "no",
        timestamp(u.last_auth_at, u.HasField("last_auth_at")),
    ]


def _show(user: userv1_pb2.User, as_json: bool, as_yaml: bool) -> None:
    emit(message_json(user), as_json=as_json, as_yaml=as_yaml, columns=_COLUMNS, rows=lambda: [_row(user)])


async def _resolve(client: DeterminedClient, user: str, by_name: bool) -> userv1_pb2.User:
    if user.isdigit() and not by_name:
        return await client.user(id=int(user))
    return await client.user_by_username(username=user)


def list_users(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Username or display name contains this.")] = "",
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active / only inactive (default: both).")
    ] = None,
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="Only admins / only non-admins (default: both).")
    ] = None,
    role_id: Annotated[
        list[int] | None,
        typer.Option("--role-id", help="Only with this role assigned directly (repeatable; no roles exist here)."),
    ] = None,
    sort_by: Annotated[SortKey | None, typer.Option("--sort-by", help="Sort key.")] = None,
    order: ListOrder = None,
    offset: ListOffset = 0,
    limit: ListLimit = None,
    page_size: Annotated[
        int, typer.Option("--page-size", min=0, help="Rows per request when reading every page (0: all at once).")
    ] = 0,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
    progress: ShowProgress = None,
) -> None:
    """List users (GetUsers) with every filter, sort and page option it has."""
    if subcommand_instead(ctx):
        return
    filters: dict[str, Any] = {
        "name": name,
        "active": active,
        "admin": admin,
        "role_ids": role_id or [],
        "sort_by": SORT_KEYS[sort_by] if sort_by else 0,
        "order_by": ORDER_BY[order] if order else 0,
        "offset": offset,
    }

    async def fetch(client: DeterminedClient) -> list[userv1_pb2.User]:
        if limit is not None:
            return list((await client.users(**filters, limit=limit)).users)
        pages = client.user_pages(**filters, page_size=page_size)
        return await read_pages("users", pages, lambda page: page.users, progress)

    found = run(ctx, fetch)
    emit(
        [message_json(u) for u in found],
        as_json=as_json,
        as_yaml=as_yaml,
        columns=_COLUMNS,
        rows=lambda: [_row(u) for u in found],
    )


app.callback(invoke_without_command=True)(list_users)
app.command("list")(list_users)


@app.command()
def describe(
    ctx: typer.Context, user: UserArg, by_name: ByName = False, as_json: AsJson = False, as_yaml: AsYaml = False
) -> None:
    """Show one user (GetUser by id, GetUserByUsername by name)."""
    _show(run(ctx, lambda c: _resolve(c, user, by_name)), as_json, as_yaml)


@app.command()
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The new user's name.")],
    password: Annotated[
        str, typer.Option("--password", envvar="PROTOGW_NEW_PASSWORD", help="Initial password (default: blank).")
    ] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    active: Annotated[bool, typer.Option("--active/--inactive", help="Able to log in.")] = True,
    display_name: Annotated[str, typer.Option("--display-name", help="Display name.")] = "",
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Create a user (PostUser; admins only)."""
    created = run(
        ctx,
        lambda c: c.create_user(
            username=username, password=password, admin=admin, active=active, display_name=display_name
        ),
    )
    _show(created, as_json, as_yaml)


@app.command()
def patch(
    ctx: typer.Context,
    user: UserArg,
    username: Annotated[str | None, typer.Option("--username", help="New username.")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name", help="New display name ('' clears it).")] = None,
    password: Annotated[str | None, typer.Option("--password", help="New password.")] = None,
    admin: Annotated[bool | None, typer.Option("--admin/--no-admin", help="Grant or revoke admin.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Allow or stop logins.")] = None,
    remote: Annotated[
        bool | None, typer.Option("--remote/--no-remote", help="Log in through an external provider only.")
    ] = None,
    by_name: ByName = False,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Change the given fields of a user (PatchUser)."""
    if all(v is None for v in (username, display_name, password, admin, active, remote)):
        raise typer.BadParameter(
            "nothing to change: give --username, --display-name, --password, --admin, --active or --remote"
        )

    async def change(client: DeterminedClient) -> userv1_pb2.User:
        target = await _resolve(client, user, by_name)
        return await client.patch_user(
            id=target.id,
            username=username,
            display_name=display_name,
            password=password,
            admin=admin,
            active=active,
            remote=remote,
        )

    _show(run(ctx, change), as_json, as_yaml)


@app.command("set-password")
def set_password(
    ctx: typer.Context,
    user: UserArg,
    password: Annotated[
        str | None,
        typer.Option("--password", envvar="PROTOGW_NEW_PASSWORD", help="Prompted for (twice) when not given."),
    ] = None,
    by_name: ByName = False,
) -> None:
    """Set a user's password (SetUserPassword: admins, or a user for themself)."""
    if password is None:
        password = typer.prompt(
            "New password", hide_input=True, confirmation_prompt=True, default="", show_default=False
        )
    new_password = password

    async def change(client: DeterminedClient) -> userv1_pb2.User:
        target = await _resolve(client, user, by_name)
        return await client.set_password(id=target.id, password=new_password)

    changed = run(ctx, change)
    typer.echo(f"Password of {changed.username} (id {changed.id}) changed")
