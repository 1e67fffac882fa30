"""Deterministic demo data: users, projects and many realistic experiments.

``await load_demo(store, 300)`` adds 300 experiments; the same ``count`` and ``seed`` always
produce the same rows (no wall-clock time, no global randomness), so demos, screenshots and
benchmarks are reproducible. It can run again on a loaded database: users and projects are reused
and more experiments are added. The benchmark loads 100,000 rows this way.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from protogw.server.storage import schema as t
from protogw.server.storage.errors import AlreadyExists
from protogw.server.storage.models import ExperimentState, ModelFile, NewExperiment, NewUser
from protogw.server.storage.store import Store

DEFAULT_COUNT = 300
#: Rows per transaction; also lets later batches fork from experiments of earlier ones.
BATCH = 5000
#: Every generated start time lies within the 180 days before this instant.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

S = ExperimentState
# Roughly what a busy cluster's history looks like: mostly finished work, some running.
STATE_WEIGHTS: dict[ExperimentState, int] = {
    S.COMPLETED: 50,
    S.CANCELED: 10,
    S.ERROR: 9,
    S.ACTIVE: 10,
    S.PAUSED: 8,
    S.STOPPING_COMPLETED: 2,
    S.STOPPING_CANCELED: 2,
    S.STOPPING_KILLED: 2,
    S.STOPPING_ERROR: 2,
    S.DELETING: 2,
    S.DELETE_FAILED: 3,
}

DEMO_USERS: tuple[tuple[str, str | None, bool], ...] = (
    ("alice", "Alice Zhang", False),
    ("bob", None, False),
    ("carol", "Carol Díaz", True),
    ("dave", "Dave O'Neil", False),
    ("erin", None, False),
)
DEMO_WORKSPACE = "Demo"
DEMO_PROJECTS = ("vision", "language", "reinforcement")

TASKS: tuple[tuple[str, str, str], ...] = (
    # (name stem, model architecture, project)
    ("mnist", "cnn", "vision"),
    ("cifar10", "resnet18", "vision"),
    ("imagenet", "resnet50", "vision"),
    ("coco-detect", "fasterrcnn", "vision"),
    ("bert-finetune", "bert-base", "language"),
    ("gpt2-lora", "gpt2", "language"),
    ("t5-summarize", "t5-small", "language"),
    ("ppo-cartpole", "mlp", "reinforcement"),
    ("dqn-atari", "nature-cnn", "reinforcement"),
)
SEARCHERS: tuple[tuple[str, str, bool], ...] = (
    ("single", "validation_loss", True),
    ("random", "validation_loss", True),
    ("grid", "accuracy", False),
    ("adaptive_asha", "validation_error", True),
)
LABELS = ("baseline", "tuned", "prod", "gpu", "distributed", "ablation", "sweep", "v2", "nightly", "paper")
POOLS = ("default", "gpu-a100", "gpu-t4", "cpu")
DESCRIPTIONS = (
    "{task} baseline with {arch}",
    "{task}: learning-rate sweep",
    "{task} {arch}, mixed precision",
    "Reproduce {task} results (100% data)",
    "{task} ablation: no_augmentation",
    "",
)


@dataclass(frozen=True, slots=True)
class DemoContext:
    """Ids the generator draws owners and projects from."""

    user_ids: Sequence[int]
    project_ids: dict[str, int]


async def prepare(store: Store) -> DemoContext:
    """Create (or find) the demo users, workspace and projects."""
    user_ids = [(await store.get_user_by_username("admin")).id, (await store.get_user_by_username("determined")).id]
    for username, display_name, admin in DEMO_USERS:
        try:
            user = await store.create_user(NewUser(username=username, display_name=display_name, admin=admin))
        except AlreadyExists:
            user = await store.get_user_by_username(username)
        user_ids.append(user.id)
    try:
        workspace_id = (await store.create_workspace(DEMO_WORKSPACE, user_ids[0])).id
    except AlreadyExists:
        async with store.engine.connect() as conn:
            stmt = sa.select(t.workspaces.c.id).where(t.workspaces.c.name == DEMO_WORKSPACE)
            workspace_id = (await conn.execute(stmt)).scalar_one()
    project_ids: dict[str, int] = {}
    for name in DEMO_PROJECTS:
        try:
            project_ids[name] = (await store.create_project(name, workspace_id, user_ids[2])).id
        except AlreadyExists:
            async with store.engine.connect() as conn:
                stmt = sa.select(t.projects.c.id).where(
                    t.projects.c.workspace_id == workspace_id, t.projects.c.name == name
                )
                project_ids[name] = (await conn.execute(stmt)).scalar_one()
    return DemoContext(user_ids=user_ids, project_ids=project_ids)


def _config(rng: random.Random, name: str, description: str, labels: list[str], pool: str) -> dict[str, Any]:
    searcher, metric, smaller = rng.choice(SEARCHERS)
    max_trials = 1 if searcher == "single" else rng.choice((4, 8, 16, 32))
    return {
        "name": name,
        "description": description,
        "labels": labels,
        "entrypoint": "model_def:Trial",
        "hyperparameters": {
            "global_batch_size": {"type": "const", "val": rng.choice((32, 64, 128, 256))},
            "learning_rate": {"type": "log", "base": 10, "minval": -5, "maxval": -1},
            "dropout": {"type": "double", "minval": 0.0, "maxval": 0.5},
            "layers": {"type": "int", "minval": 2, "maxval": rng.choice((4, 8, 12))},
            "optimizer": {"type": "categorical", "vals": ["adam", "sgd", "adamw"]},
        },
        "searcher": {
            "name": searcher,
            "metric": metric,
            "smaller_is_better": smaller,
            "max_trials": max_trials,
            "max_length": {"batches": rng.choice((500, 1000, 5000))},
        },
        "resources": {"resource_pool": pool, "slots_per_trial": rng.choice((1, 1, 2, 4, 8))},
        "max_restarts": 5,
        "checkpoint_storage": {"type": "shared_fs", "host_path": "/tmp/checkpoints", "save_trial_best": 1},
    }


def _experiment(rng: random.Random, ctx: DemoContext, serial: int, parents: Sequence[int]) -> NewExperiment:
    stem, arch, project = rng.choice(TASKS)
    state = rng.choices(list(STATE_WEIGHTS), weights=list(STATE_WEIGHTS.values()))[0]
    name = f"{stem}-{arch}-{serial}"
    description = rng.choice(DESCRIPTIONS).format(task=stem, arch=arch)
    labels = rng.sample(LABELS, rng.choice((0, 1, 1, 2, 2, 3)))
    pool = rng.choice(POOLS)
    config = _config(rng, name, description, labels, pool)
    start = EPOCH - timedelta(seconds=rng.randrange(180 * 24 * 3600))
    finished = state.terminal or state in (S.DELETING, S.DELETE_FAILED)
    end = start + timedelta(seconds=rng.randrange(60, 3 * 24 * 3600)) if finished else None
    checkpoints = 0 if state is S.ERROR and rng.random() < 0.5 else rng.randrange(1, 20)
    if state is S.COMPLETED:
        progress: float | None = 1.0
    elif rng.random() < 0.1:
        progress = None
    else:
        progress = round(rng.random(), 3)
    searcher = config["searcher"]
    files: tuple[ModelFile, ...] = ()
    if serial % 20 == 0:
        source = f"# {name}\nimport torch\n\nclass Trial:\n    lr = {rng.random():.5f}\n".encode()
        files = (ModelFile("model_def.py", source, mtime=int(start.timestamp()), mode=0o644),)
    return NewExperiment(
        owner_id=rng.choice(ctx.user_ids),
        name=name,
        description=description,
        project_id=ctx.project_ids[project] if rng.random() < 0.8 else 1,
        state=state,
        archived=state.terminal and rng.random() < 0.15,
        labels=labels,
        notes=rng.choice(("", "", "Looks promising; rerun with more data.", "Diverged after epoch 3.")),
        config=config,
        # JSON is valid YAML, and far cheaper to produce for 100,000 rows than a YAML dump.
        original_config=orjson.dumps(config, option=orjson.OPT_INDENT_2).decode(),
        hyperparameters=config["hyperparameters"],
        searcher_type=searcher["name"],
        searcher_metric=searcher["metric"],
        resource_pool=pool,
        num_trials=rng.randrange(1, searcher["max_trials"] + 1),
        progress=progress,
        parent_id=rng.choice(parents) if parents and rng.random() < 0.05 else None,
        job_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        start_time=start,
        end_time=end,
        checkpoint_size=checkpoints * rng.randrange(1 << 20, 1 << 30),
        checkpoint_count=checkpoints,
        best_searcher_metric=round(rng.uniform(0.01, 2.0), 4) if checkpoints else None,
        model_definition=files,
    )


async def load_demo(
    store: Store,
    count: int = DEFAULT_COUNT,
    *,
    seed: int = 0,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Add ``count`` generated experiments (plus demo users and projects); returns the new ids.

    ``progress``, when given, is called with the number of experiments added so far after each batch.
    """
    ctx = await prepare(store)
    rng = random.Random(seed)
    ids: list[int] = []
    for start in range(0, count, batch):
        items = [_experiment(rng, ctx, serial, ids[-1000:]) for serial in range(start, min(start + batch, count))]
        ids.extend(await store.insert_experiments(items, batch_size=batch))
        if progress is not None:
            progress(len(ids))
    return ids
