"""``master`` (``info``, the default) and ``master logs [--follow]``."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
import yaml

from protogw.clients.cli._output import AsJson, AsYaml, Column, emit, message_json, timestamp
from protogw.clients.cli._session import run
from protogw.clients.determined import DeterminedClient
from protogw.core.codec import dumps
from protogw.gen.determined.api.v1 import master_pb2
from protogw.gen.determined.log.v1 import log_pb2

__all__ = ["app"]

app = typer.Typer(help="The master: its info (the default) and its logs.")


def _info(ctx: typer.Context, as_json: bool, as_yaml: bool) -> None:
    response: master_pb2.GetMasterResponse = run(ctx, lambda c: c.master())
    fields = [
        ("Cluster", response.cluster_name),
        ("Cluster ID", response.cluster_id),
        ("Master ID", response.master_id),
        ("Version", response.version),
        ("Product", master_pb2.GetMasterResponse.Product.Name(response.product).removeprefix("PRODUCT_")),
        ("User management", "yes" if response.user_management_enabled else "no"),
    ]
    emit(
        message_json(response),
        as_json=as_json,
        as_yaml=as_yaml,
        columns=[Column("Field", min_width=15), Column("Value", wrap=True, min_width=10)],
        rows=lambda: fields,
    )


@app.callback(invoke_without_command=True)
def master(ctx: typer.Context, as_json: AsJson = False, as_yaml: AsYaml = False) -> None:
    """Show the master's version and cluster (also `master info`)."""
    if ctx.invoked_subcommand is None:
        _info(ctx, as_json, as_yaml)


@app.command()
def info(ctx: typer.Context, as_json: AsJson = False, as_yaml: AsYaml = False) -> None:
    """Show the master's version and cluster (GetMaster; no login needed)."""
    _info(ctx, as_json, as_yaml)


def _line(entry: log_pb2.LogEntry) -> str:
    level = log_pb2.LogLevel.Name(entry.level).removeprefix("LOG_LEVEL_")
    return f"{timestamp(entry.timestamp, entry.HasField('timestamp'))} {level:<8} {entry.message}"


@app.command()
def logs(
    ctx: typer.Context,
    offset: Annotated[
        int, typer.Option("--offset", help="Skip this many entries; negative: start this many from the end.")
    ] = 0,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many entries (0: all).")] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new entries as they come (Ctrl-C ends).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_yaml: Annotated[bool, typer.Option("--yaml", help="One YAML document per entry.")] = False,
) -> None:
    """Print the master's log entries (MasterLogs), as they arrive with --follow."""
    if as_json and as_yaml:
        raise typer.BadParameter("give either --json or --yaml, not both")

    def show(entry: log_pb2.LogEntry) -> None:
        if as_json:
            typer.echo(dumps(message_json(entry)).decode())
        elif as_yaml:
            typer.echo("---\n" + yaml.safe_dump(message_json(entry), sort_keys=False).rstrip("\n"))
        else:
            typer.echo(_line(entry))

    async def stream(client: DeterminedClient) -> None:
        entries = client.master_logs(offset=offset, limit=limit, follow=follow)
        async with contextlib.aclosing(entries):
            async for entry in entries:
                show(entry)

    run(ctx, stream)
