"""How the CLI prints: rich tables that fit the terminal, or ``--json`` / ``--yaml``, and progress bars.

Messages are printed as the gateway's codec writes them (grpc-gateway's JSON: camelCase names, enums
by name, int64 as strings), so ``--json`` output is what the REST API would answer. Tables go to
stdout through a rich console sized to the terminal (``COLUMNS`` when set); columns marked
``wrap`` fold, the others shrink with an ellipsis. Progress bars go to stderr, so they never mix
with the data on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any, Literal, TypeVar

import typer
import yaml
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from protogw.core.codec import codec_for, dumps
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2

__all__ = [
    "ORDER_BY",
    "AsJson",
    "AsYaml",
    "Column",
    "ListLimit",
    "ListOffset",
    "ListOrder",
    "Order",
    "ShowProgress",
    "emit",
    "enum_keys",
    "experiment_state",
    "from_command_line",
    "message_json",
    "progress_bar",
    "read_pages",
    "subcommand_instead",
    "timestamp",
]

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (the REST API's field names) instead of a table.")]
AsYaml = Annotated[bool, typer.Option("--yaml", help="Print YAML instead of a table.")]
ShowProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar on stderr while paging (default: when stderr is a terminal).",
        show_default=False,
    ),
]


#: ``--order``: the ``OrderBy`` enum's values by their option spelling.
Order = Literal["asc", "desc"]
ORDER_BY: dict[str, int] = {"asc": 1, "desc": 2}


def enum_keys(items: Sequence[tuple[str, int]], prefix: str) -> dict[str, int]:
    """Option spellings of an enum's non-zero values: ``SORT_BY_START_TIME`` -> ``start-time``."""
    return {name.removeprefix(prefix).lower().replace("_", "-"): number for name, number in items if number}


#: The page options every ``list`` command shares (``--page-size`` differs: its default means
#: something else per method).
ListOrder = Annotated[Order | None, typer.Option("--order", help="Sort direction.")]
ListOffset = Annotated[int, typer.Option("--offset", help="Start here; negative: this many from the end.")]
ListLimit = Annotated[
    int | None, typer.Option("--limit", min=1, help="One page of at most this many (default: every page).")
]


def from_command_line(ctx: typer.Context, name: str | None) -> bool:
    """Whether the parameter ``name`` was given on the command line (not defaulted)."""
    source = ctx.get_parameter_source(name or "")
    return source is not None and source.name == "COMMANDLINE"


@dataclass(frozen=True, slots=True)
class Column:
    """A table column. Long values wrap when ``wrap``, else they are cut with an ellipsis. On a
    terminal too narrow for every column at its ``min_width``, the columns with the largest
    ``priority`` number are left out first (priority 0 always stays)."""

    header: str
    wrap: bool = False
    justify: str = "left"
    min_width: int = 6
    priority: int = 0


def message_json(message: Message) -> Any:
    """A message as the REST API writes it (a JSON-ready value)."""
    return codec_for(message.DESCRIPTOR).encode(message)


def timestamp(ts: Timestamp, present: bool = True) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or blank when the field is unset."""
    if not present:
        return ""
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def experiment_state(state: int) -> str:
    """``STATE_ACTIVE`` -> ``ACTIVE``."""
    return experimentv1_pb2.State.Name(experimentv1_pb2.State.ValueType(state)).removeprefix("STATE_")


def _console(*, stderr: bool = False) -> Console:
    # Made per call: the CLI runs in-process under test runners that swap sys.stdout/sys.stderr.
    return Console(file=sys.stderr if stderr else sys.stdout, highlight=False, soft_wrap=False)


def fitting(columns: Sequence[Column], width: int) -> list[int]:
    """Indexes of the columns to show in ``width`` characters (in their original order)."""
    kept = list(range(len(columns)))
    # Each column takes its width plus one space of padding on each side but the outer ones.
    while len(kept) > 1 and sum(columns[i].min_width + 2 for i in kept) - 2 > width:
        droppable = [i for i in kept if columns[i].priority > 0]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
    return kept


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> Table:
    """A rich table of the columns that fit ``width``."""
    kept = fitting(columns, width)
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True, padding=(0, 1))
    for i in kept:
        column = columns[i]
        grid.add_column(
            column.header,
            overflow="fold" if column.wrap else "ellipsis",
            no_wrap=not column.wrap,
            justify="right" if column.justify == "right" else "left",
            min_width=column.min_width,
        )
    for row in rows:
        grid.add_row(*(row[i] for i in kept))
    return grid


def emit(
    data: Any,
    *,
    as_json: bool,
    as_yaml: bool,
    columns: Sequence[Column] | None = None,
    rows: Callable[[], Sequence[Sequence[str]]] | None = None,
    text: Callable[[], str] | None = None,
) -> None:
    """Print ``data`` (a JSON-ready value) as JSON or YAML when asked, else as a table or a line."""
    if as_json and as_yaml:
        raise typer.BadParameter("give either --json or --yaml, not both")
    if as_json:
        typer.echo(dumps(data, pretty=True).decode())
    elif as_yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"))
    elif columns is not None and rows is not None:
        console = _console()
        console.print(table(columns, rows(), console.width))
    elif text is not None:
        typer.echo(text())


def subcommand_instead(ctx: typer.Context) -> bool:
    """For a group that lists when given no command (``experiments``, ``users``): whether a command
    runs instead. Listing options given before that command are refused (they belong to ``list``)."""
    if ctx.invoked_subcommand is None:
        return False
    given = [p.name for p in ctx.command.params if from_command_line(ctx, p.name)]
    if given:
        raise typer.BadParameter(
            f"listing options ({', '.join(map(str, given))}) go after `list`, not before a command"
        )
    return True


_Row = TypeVar("_Row")


async def read_pages(
    what: str, pages: AsyncIterator[Any], rows: Callable[[Any], Iterable[_Row]], progress: bool | None
) -> list[_Row]:
    """Every row of every page (responses with a ``pagination`` window), with a progress bar whose
    total is learned from the first page."""
    found: list[_Row] = []
    first: int | None = None
    with progress_bar(what, enabled=show_progress(progress)) as bar:
        async for page in pages:
            found.extend(rows(page))
            window = page.pagination
            first = window.start_index if first is None else first
            bar.update(completed=window.end_index - first, total=window.total - first)
    return found


def show_progress(choice: bool | None) -> bool:
    """``--progress``/``--no-progress`` as given, else whether stderr is a terminal."""
    return choice if choice is not None else _console(stderr=True).is_terminal


class Bar:
    """One progress task: ``total`` may be learned late (from the first page's pagination)."""

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._task = progress.add_task(description, total=None) if progress is not None else None

    def update(self, *, completed: int, total: int | None = None) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=completed, total=total)
        self._progress.refresh()


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Bar]:
    """A progress bar on stderr; on a terminal it is drawn live and removed at the end, otherwise
    (``--progress`` into a pipe or a log) its final state is printed once."""
    if not enabled:
        yield Bar(None, description)
        return
    console = _console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=console.is_terminal,
    )
    with progress:
        yield Bar(progress, description)
