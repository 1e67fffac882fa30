"""``experiments``: list (the default), describe, create, patch, delete, the lifecycle, labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml

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
    experiment_state,
    message_json,
    read_pages,
    subcommand_instead,
    timestamp,
)
from protogw.clients.cli._session import EXIT_USAGE, fail, run
from protogw.clients.determined import DeterminedClient, IdFilter
from protogw.clients.model_definition import ModelDefinitionError, pack_directory
from protogw.gen.determined.api.v1 import experiment_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2

__all__ = ["LIFECYCLE", "SORT_KEYS", "SortKey", "app", "lifecycle"]

app = typer.Typer(help="Experiments: list (the default), describe, create, change, stop, label.")
label_app = typer.Typer(help="Add or remove one label of an experiment.")
app.add_typer(label_app, name="label")

#: ``--sort-by``: GetExperimentsRequest.SortBy without its prefix (a test keeps the two in step).
SortKey = Literal[
    "id", "description", "start-time", "end-time", "state", "num-trials", "progress", "user", "name",
    "forked-from", "resource-pool", "project-id", "checkpoint-size", "checkpoint-count", "searcher-metric-val",
]  # fmt: skip
SORT_KEYS = enum_keys(experiment_pb2.GetExperimentsRequest.SortBy.items(), "SORT_BY_")
_STATES = [name.removeprefix("STATE_") for name, number in experimentv1_pb2.State.items() if number]

ExperimentId = Annotated[int, typer.Argument(metavar="ID", help="Experiment id.")]

_COLUMNS = [
    Column("ID", justify="right", min_width=3),
    Column("Owner", min_width=6, priority=2),
    Column("Name", wrap=True, min_width=10),
    Column("State", min_width=9),
    Column("Progress", justify="right", min_width=8, priority=4),
    Column("Started", min_width=19, priority=1),
    Column("Ended", min_width=19, priority=5),
    Column("Archived", min_width=8, priority=3),
    Column("Labels", wrap=True, min_width=8, priority=6),
]


def _row(e: experimentv1_pb2.Experiment) -> list[str]:
    return [
        str(e.id),
        e.username,
        e.name,
        experiment_state(e.state),
        f"{e.progress.value * 100:.0f}%" if e.HasField("progress") else "",
        timestamp(e.start_time, e.HasField("start_time")),
        timestamp(e.end_time, e.HasField("end_time")),
        "yes" if e.archived else "no",
        ", ".join(e.labels),
    ]


def list_experiments(
    ctx: typer.Context,
    archived: Annotated[
        bool | None, typer.Option("--archived/--no-archived", help="Only archived / only unarchived (default: both).")
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help=f"Only this state (repeatable): {', '.join(_STATES)}.", show_default=False),
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Only with this label (repeatable: all must match).")
    ] = None,
    user: Annotated[list[str] | None, typer.Option("--user", help="Only owned by this username (repeatable).")] = None,
    user_id: Annotated[
        list[int] | None, typer.Option("--user-id", help="Only owned by this user id (repeatable).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Name contains this (case-insensitive).")] = "",
    description: Annotated[str, typer.Option("--description", help="Description contains this.")] = "",
    project_id: Annotated[int, typer.Option("--project-id", min=0, help="Only in this project.")] = 0,
    ids: Annotated[list[int] | None, typer.Option("--id", help="Only this id (repeatable).")] = None,
    not_ids: Annotated[list[int] | None, typer.Option("--not-id", help="Not this id (repeatable).")] = None,
    id_gt: Annotated[int | None, typer.Option("--id-gt", help="Only ids greater than this.")] = None,
    id_gte: Annotated[int | None, typer.Option("--id-gte", help="Only ids at least this.")] = None,
    id_lt: Annotated[int | None, typer.Option("--id-lt", help="Only ids less than this.")] = None,
    id_lte: Annotated[int | None, typer.Option("--id-lte", help="Only ids at most this.")] = None,
    show_trial_data: Annotated[bool, typer.Option("--show-trial-data", help="Ask for trial data too.")] = False,
    sort_by: Annotated[SortKey | None, typer.Option("--sort-by", help="Sort key.")] = None,
    order: ListOrder = None,
    offset: ListOffset = 0,
    limit: ListLimit = None,
    page_size: Annotated[
        int, typer.Option("--page-size", min=0, help="Rows per request when reading every page (0: server's 100).")
    ] = 0,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
    progress: ShowProgress = None,
) -> None:
    """List experiments (GetExperiments) with every filter, sort and page option it has."""
    if subcommand_instead(ctx):
        return
    id_filter: IdFilter | None = None
    if ids or not_ids or id_gt is not None or id_gte is not None or id_lt is not None or id_lte is not None:
        id_filter = IdFilter(incl=ids or [], not_in=not_ids or [], gt=id_gt, gte=id_gte, lt=id_lt, lte=id_lte)
    filters: dict[str, Any] = {
        "archived": archived,
        "states": state or [],
        "labels": label or [],
        "users": user or [],
        "user_ids": user_id or [],
        "name": name,
        "description": description,
        "project_id": project_id,
        "id_filter": id_filter,
        "show_trial_data": show_trial_data,
        "sort_by": SORT_KEYS[sort_by] if sort_by else 0,
        "order_by": ORDER_BY[order] if order else 0,
        "offset": offset,
    }

    async def fetch(client: DeterminedClient) -> list[experimentv1_pb2.Experiment]:
        if limit is not None:
            return list((await client.experiments(**filters, limit=limit)).experiments)
        pages = client.experiment_pages(**filters, page_size=page_size)
        return await read_pages("experiments", pages, lambda page: page.experiments, progress)

    try:
        found = run(ctx, fetch)
    except ValueError as exc:  # an unknown state name
        raise typer.BadParameter(str(exc), param_hint="--state") from None
    emit(
        [message_json(e) for e in found],
        as_json=as_json,
        as_yaml=as_yaml,
        columns=_COLUMNS,
        rows=lambda: [_row(e) for e in found],
    )


app.callback(invoke_without_command=True)(list_experiments)
app.command("list")(list_experiments)


@app.command()
def describe(ctx: typer.Context, experiment_id: ExperimentId, as_json: AsJson = False, as_yaml: AsYaml = False) -> None:
    """Show one experiment and its config (GetExperiment)."""
    response: experiment_pb2.GetExperimentResponse = run(ctx, lambda c: c.experiment(id=experiment_id))
    e = response.experiment
    fields = [
        ("ID", str(e.id)),
        ("Name", e.name),
        ("Owner", f"{e.username} (id {e.user_id})"),
        ("State", experiment_state(e.state)),
        ("Archived", "yes" if e.archived else "no"),
        ("Description", e.description),
        ("Labels", ", ".join(e.labels)),
        ("Notes", e.notes),
        ("Project", f"{e.project_name} (id {e.project_id})"),
        ("Started", timestamp(e.start_time, e.HasField("start_time"))),
        ("Ended", timestamp(e.end_time, e.HasField("end_time"))),
        ("Progress", f"{e.progress.value * 100:.0f}%" if e.HasField("progress") else ""),
        ("Searcher", e.searcher_type),
        ("Resource pool", e.resource_pool),
        ("Forked from", str(e.forked_from.value) if e.HasField("forked_from") else ""),
        ("Config", yaml.safe_dump(message_json(response.config), sort_keys=False).rstrip("\n")),
    ]
    emit(
        message_json(response),
        as_json=as_json,
        as_yaml=as_yaml,
        columns=[Column("Field", min_width=13), Column("Value", wrap=True, min_width=10)],
        rows=lambda: fields,
    )


@app.command()
def create(
    ctx: typer.Context,
    config_file: Annotated[Path, typer.Argument(metavar="CONFIG", help="Experiment config (YAML).")],
    model_dir: Annotated[
        Path | None,
        typer.Argument(metavar="[MODEL_DIR]", help="Model definition directory, packed as Determined does."),
    ] = None,
    activate: Annotated[bool, typer.Option("--activate/--paused", help="Start it at once, or leave it paused.")] = True,
    project_id: Annotated[int, typer.Option("--project-id", min=0, help="Project (default: Uncategorized).")] = 0,
    parent_id: Annotated[int, typer.Option("--parent-id", min=0, help="Forked from this experiment.")] = 0,
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="Check the config and files; create nothing.")
    ] = False,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Create an experiment from a YAML config file and its model definition (CreateExperiment)."""
    try:
        config = config_file.read_text()
        yaml.safe_load(config)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {config_file}: {exc}", EXIT_USAGE) from None
    except yaml.YAMLError as exc:
        raise fail(f"{config_file} is not valid YAML: {' '.join(str(exc).split())}", EXIT_USAGE) from None
    try:
        files = pack_directory(model_dir) if model_dir is not None else []
    except (ModelDefinitionError, OSError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    response: experiment_pb2.CreateExperimentResponse = run(
        ctx,
        lambda c: c.create_experiment(
            config=config,
            model_definition=files,
            activate=activate,
            project_id=project_id,
            parent_id=parent_id,
            validate_only=validate_only,
        ),
    )
    e = response.experiment

    def text() -> str:
        if validate_only:
            return f"Config is valid ({len(files)} model definition files)"
        lines = [f"Created experiment {e.id} ({experiment_state(e.state)}) with {len(files)} model definition files"]
        lines.extend(f"warning: {experiment_pb2.LaunchWarning.Name(w)}" for w in response.warnings)
        return "\n".join(lines)

    emit(message_json(response), as_json=as_json, as_yaml=as_yaml, text=text)


@app.command()
def patch(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="New description.")] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="New notes.")] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Replace the labels with these (repeatable).")
    ] = None,
    clear_labels: Annotated[bool, typer.Option("--clear-labels", help="Remove every label.")] = False,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Change an experiment's name, description, notes or labels (PatchExperiment)."""
    if label and clear_labels:
        raise typer.BadParameter("give either --label or --clear-labels, not both")
    labels: Sequence[str] | None = [] if clear_labels else (label or None)
    if name is None and description is None and notes is None and labels is None:
        raise typer.BadParameter("nothing to change: give --name, --description, --notes, --label or --clear-labels")
    e: experimentv1_pb2.Experiment = run(
        ctx,
        lambda c: c.patch_experiment(id=experiment_id, name=name, description=description, notes=notes, labels=labels),
    )
    emit(message_json(e), as_json=as_json, as_yaml=as_yaml, columns=_COLUMNS, rows=lambda: [_row(e)])


@app.command()
def delete(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a terminal experiment (DeleteExperiment)."""
    if not yes:
        typer.confirm(f"Delete experiment {experiment_id}?", abort=True)
    run(ctx, lambda c: c.delete(id=experiment_id))
    typer.echo(f"Deleted experiment {experiment_id}")


#: Lifecycle commands: (name, client method, past tense, help).
LIFECYCLE: list[tuple[str, str, str, str]] = [
    ("archive", "archive", "Archived", "Archive a terminal experiment (ArchiveExperiment)."),
    ("unarchive", "unarchive", "Unarchived", "Unarchive an archived experiment (UnarchiveExperiment)."),
    ("activate", "activate", "Activated", "Resume a paused experiment (ActivateExperiment)."),
    ("pause", "pause", "Paused", "Pause an active experiment (PauseExperiment)."),
    ("cancel", "cancel", "Canceled", "Cancel an experiment (CancelExperiment)."),
    ("kill", "kill", "Killed", "Kill an experiment (KillExperiment)."),
]


def lifecycle(method: str, done: str, doc: str) -> Any:
    """A command that calls ``DeterminedClient.<method>(id=ID)`` and says what it did."""

    def command(ctx: typer.Context, experiment_id: ExperimentId) -> None:
        run(ctx, lambda c: getattr(c, method)(id=experiment_id))
        typer.echo(f"{done} experiment {experiment_id}")

    command.__doc__ = doc
    command.__name__ = method
    return command


for _name, _method, _done, _doc in LIFECYCLE:
    app.command(_name)(lifecycle(_method, _done, _doc))


def _show_labels(labels: list[str], as_json: bool, as_yaml: bool) -> None:
    emit(labels, as_json=as_json, as_yaml=as_yaml, text=lambda: "\n".join(labels))


@label_app.command("add")
def label_add(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    label: Annotated[str, typer.Argument(help="The label.")],
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Add a label; prints the experiment's labels (PutExperimentLabel)."""
    _show_labels(run(ctx, lambda c: c.add_label(id=experiment_id, label=label)), as_json, as_yaml)


@label_app.command("remove")
def label_remove(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    label: Annotated[str, typer.Argument(help="The label.")],
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Remove a label; prints the experiment's labels (DeleteExperimentLabel)."""
    _show_labels(run(ctx, lambda c: c.remove_label(id=experiment_id, label=label)), as_json, as_yaml)


@app.command()
def labels(
    ctx: typer.Context,
    project_id: Annotated[int, typer.Option("--project-id", min=0, help="Only this project's experiments.")] = 0,
    as_json: AsJson = False,
    as_yaml: AsYaml = False,
) -> None:
    """Every label in use, the most used first (GetExperimentLabels)."""
    _show_labels(run(ctx, lambda c: c.labels(project_id=project_id)), as_json, as_yaml)
