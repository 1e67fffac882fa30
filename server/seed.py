"""Sample data: the README walk-through set and the storage layer's larger demo set.

``seed_demo`` loads the demo set with a progress bar on stderr (``protogw seed --demo``).

The walk-through set is small and fixed so the README's commands give the output it shows: a few
experiments in different states owned by the built-in users, exactly one of them archived (a
completed one), so "list archived experiments" returns one row with total 1.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from protogw.server.clock import Clock, utc_now
from protogw.server.storage.demo import load_demo
from protogw.server.storage.models import ExperimentQuery, ExperimentState, NewExperiment
from protogw.server.storage.store import Store
from protogw.server.store_api import StoreAPI


@dataclass(frozen=True, slots=True)
class SeedExperiment:
    name: str
    owner: str
    state: ExperimentState
    labels: tuple[str, ...] = ()
    archived: bool = False
    description: str = ""
    #: How long ago it started; terminal ones ended an hour after starting.
    age_hours: int = 24


WALKTHROUGH: tuple[SeedExperiment, ...] = (
    SeedExperiment(
        "mnist-baseline", "determined", ExperimentState.COMPLETED, ("mnist", "baseline"), True, "first run", 72
    ),
    SeedExperiment("mnist-cnn", "determined", ExperimentState.COMPLETED, ("mnist",), False, "small CNN", 48),
    SeedExperiment("mnist-lr-sweep", "determined", ExperimentState.ACTIVE, ("mnist", "sweep"), False, "", 6),
    SeedExperiment("cifar10-resnet", "admin", ExperimentState.PAUSED, ("cifar10",), False, "ResNet-18", 30),
    SeedExperiment("cifar10-augment", "admin", ExperimentState.CANCELED, ("cifar10",), False, "", 20),
    SeedExperiment("imagenet-vit", "admin", ExperimentState.ERROR, ("imagenet",), False, "ViT-B/16", 10),
)

_CONFIG = """\
name: {name}
description: {description}
labels: {labels}
hyperparameters:
  global_batch_size: 64
  learning_rate: 0.001
searcher:
  name: single
  metric: validation_loss
  max_length:
    batches: 1000
resources:
  resource_pool: default
"""


class AlreadySeeded(Exception):
    """The database already holds experiments, so seeding would mix sample data into real data."""


async def seed_walkthrough(store: StoreAPI, clock: Clock = utc_now) -> list[int]:
    """Insert the walk-through experiments into an experiment-free database; returns their ids."""
    existing = (await store.list_experiments(ExperimentQuery(limit=-2))).pagination.total
    if existing:
        raise AlreadySeeded(f"the database already has {existing} experiments; nothing was added")
    now = clock()
    ids = []
    for item in WALKTHROUGH:
        owner = await store.get_user_by_username(item.owner)
        start = now - timedelta(hours=item.age_hours)
        terminal = item.state in (ExperimentState.COMPLETED, ExperimentState.CANCELED, ExperimentState.ERROR)
        hyperparameters = {"global_batch_size": 64, "learning_rate": 0.001}
        config: dict[str, object] = {
            "name": item.name,
            "description": item.description,
            "labels": list(item.labels),
            "hyperparameters": hyperparameters,
            "searcher": {"name": "single", "metric": "validation_loss", "max_length": {"batches": 1000}},
            "resources": {"resource_pool": "default"},
        }
        created = await store.create_experiment(
            NewExperiment(
                owner_id=owner.id,
                name=item.name,
                description=item.description,
                config=config,
                original_config=_CONFIG.format(
                    name=item.name, description=item.description or "''", labels=list(item.labels)
                ),
                state=item.state,
                labels=item.labels,
                archived=item.archived,
                hyperparameters=hyperparameters,
                searcher_type="single",
                searcher_metric="validation_loss",
                resource_pool="default",
                num_trials=1,
                progress=1.0 if item.state is ExperimentState.COMPLETED else 0.25,
                start_time=start,
                end_time=start + timedelta(hours=1) if terminal else None,
            )
        )
        ids.append(created.id)
    return ids


async def seed_demo(store: Store, count: int, *, show_progress: bool | None = None) -> list[int]:
    """Load ``count`` demo experiments, drawing a progress bar on stderr after each batch.

    ``show_progress`` ``None`` shows it when stderr is a terminal; on a terminal the bar is drawn live
    and removed at the end, elsewhere its final state is printed once.
    """
    console = Console(file=sys.stderr)
    enabled = console.is_terminal if show_progress is None else show_progress
    if not enabled:
        return await load_demo(store, count)
    bar = Progress(
        TextColumn("demo experiments"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=console.is_terminal,
    )
    with bar:
        task = bar.add_task("demo", total=count)

        def advance(done: int) -> None:
            bar.update(task, completed=done)
            bar.refresh()

        return await load_demo(store, count, progress=advance)
