"""Experiment RPCs over real gRPC: creation, listing, patching, labels, the lifecycle and deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import json_format, struct_pb2, wrappers_pb2

from protogw.gen.determined.api.v1 import experiment_pb2 as api_pb2
from protogw.gen.determined.api.v1 import pagination_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as exp_pb2
from protogw.gen.determined.util.v1 import util_pb2
from tests.server.harness import Metadata, Running, running

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED

#: A small model-definition limit so the size check can be exercised cheaply.
LIMIT = 4096


@pytest.fixture(scope="module")
async def api(module_database_url: str) -> AsyncIterator[Running]:
    async with running(module_database_url, max_model_definition_bytes=LIMIT) as r:
        yield r


async def expect(call: Awaitable[Any], code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert (info.value.code(), info.value.details()) == (code, message)


def file(path: str, size: int = 10) -> util_pb2.File:
    return util_pb2.File(path=path, type=48, content=b"x" * size, mtime=1700000000, mode=0o644)


CONFIG = """
name: mnist-{n}
description: a small CNN
labels: [mnist, cnn, mnist]
hyperparameters:
  learning_rate: 0.01
  layers: [32, 64]
searcher:
  name: random
  metric: validation_loss
resources:
  resource_pool: gpu-pool
"""


async def test_create_experiment_from_config(api: Running, user_md: Metadata) -> None:
    n = api.unique("c")
    response = await api.stub.CreateExperiment(
        api_pb2.CreateExperimentRequest(
            config=CONFIG.format(n=n), activate=True, model_definition=[file("model.py"), file("data/x.csv", 20)]
        ),
        metadata=user_md,
    )
    e = response.experiment
    assert (e.name, e.description, list(e.labels)) == (f"mnist-{n}", "a small CNN", ["cnn", "mnist"])
    assert (e.state, e.archived, e.username, e.project_id, e.workspace_id) == (
        exp_pb2.STATE_ACTIVE,
        False,
        "determined",
        1,
        1,
    )
    assert (e.searcher_type, e.searcher_metric, e.resource_pool) == ("random", "validation_loss", "gpu-pool")
    assert (e.project_name, e.workspace_name, e.model_definition_size) == ("Uncategorized", "Uncategorized", 30)
    assert e.job_id
    assert e.original_config == CONFIG.format(n=n)
    assert e.HasField("start_time")
    assert not e.HasField("end_time")
    assert e.hyperparameters["learning_rate"] == 0.01
    assert json_format.MessageToDict(response.config)["searcher"]["name"] == "random"
    fetched = await api.stub.GetExperiment(api_pb2.GetExperimentRequest(experiment_id=e.id), metadata=user_md)
    assert fetched.experiment == e
    assert fetched.config == response.config


async def test_create_paused_by_default_and_validate_only(api: Running, user_md: Metadata) -> None:
    name = api.unique("validate")
    dry = await api.create_experiment(user_md, f"name: {name}", validate_only=True)
    assert (dry.experiment.id, dry.experiment.name, dry.experiment.state) == (0, name, exp_pb2.STATE_PAUSED)
    listed = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(name=name), metadata=user_md)
    assert listed.pagination.total == 0
    real = await api.create_experiment(user_md, f"name: {name}")
    assert real.experiment.id > 0
    assert real.experiment.state == exp_pb2.STATE_PAUSED


# (case, config, extra request fields, expected message); every one is INVALID_ARGUMENT unless noted.
BAD_CREATES: list[tuple[str, str, dict[str, Any], grpc.StatusCode, str]] = [
    ("malformed yaml", "name: [unclosed", {}, INVALID, "invalid experiment configuration: line 2, column 1: did not find expected ',' or ']'"),
    ("bad indentation", "a: 1\n b: 2", {}, INVALID, "invalid experiment configuration: line 2, column 3: mapping values are not allowed in this context"),
    ("tab", "a:\n\t- b", {}, INVALID, "invalid experiment configuration: line 2, column 1: found character that cannot start any token"),
    ("a list", "- a\n- b", {}, INVALID, "experiment configuration must be a YAML mapping, got list"),
    ("a scalar", "42", {}, INVALID, "experiment configuration must be a YAML mapping, got int"),
    ("empty", "", {}, INVALID, "experiment configuration must be a YAML mapping, got empty document"),
    ("name not a string", "name: [1]", {}, INVALID, "experiment configuration: `name` must be a string"),
    ("blank name", "name: '  '", {}, INVALID, "`name` must not be an empty or whitespace string"),
    ("labels not a list", "name: a\nlabels: x", {}, INVALID, "experiment configuration: `labels` must be a list of strings"),
    ("label not a string", "name: a\nlabels: [1]", {}, INVALID, "experiment configuration: `labels` must be non-empty strings"),
    ("hyperparameters not a mapping", "name: a\nhyperparameters: 3", {}, INVALID, "experiment configuration: `hyperparameters` must be a mapping"),
    ("searcher not a mapping", "name: a\nsearcher: grid", {}, INVALID, "experiment configuration: `searcher` must be a mapping"),
    ("searcher name not a string", "name: a\nsearcher: {name: 5}", {}, INVALID, "experiment configuration: `searcher.name` must be a string"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]", {}, INVALID, "experiment configuration is too large"),
    ("template", "name: a", {"template": "t"}, INVALID, "configuration templates are not supported by this server"),
    ("label too long", "name: a\nlabels: [" + "l" * 256 + "]", {}, INVALID, "a label must be at most 255 characters"),
    ("searcher name too long", "name: a\nsearcher: {name: " + "s" * 65 + "}", {}, INVALID,
     "experiment configuration: `searcher.name` must be at most 64 characters"),
    ("resource pool too long", "name: a\nresources: {resource_pool: " + "p" * 256 + "}", {}, INVALID,
     "experiment configuration: `resources.resource_pool` must be at most 255 characters"),
    ("NUL in the name", 'name: "a\\0b"', {}, INVALID, "name must not contain NUL characters"),
    ("NUL in a nested value", 'name: a\nhyperparameters: {x: "\\0"}', {}, INVALID, "config must not contain NUL characters"),
    ("unmanaged", "name: a", {"unmanaged": True}, INVALID, "unmanaged experiments are not supported by this server"),
    ("oversized model", "name: a", {"model_definition": [file("a", LIMIT), file("b", 1)]}, INVALID, f"model definition is {LIMIT + 1} bytes, over the limit of {LIMIT} bytes"),
    ("escaping path", "name: a", {"model_definition": [file("../etc/passwd")]}, INVALID, "model definition file path '../etc/passwd' must be relative and stay inside the tree"),
    ("absolute path", "name: a", {"model_definition": [file("/abs")]}, INVALID, "model definition file path '/abs' must be relative and stay inside the tree"),
    ("duplicate paths", "name: a", {"model_definition": [file("a"), file("a")]}, INVALID, "model definition has duplicate file paths"),
    ("unknown project", "name: a", {"project_id": 999}, NOT_FOUND, "project 999 not found"),
    ("unknown parent", "name: a", {"parent_id": 999999}, NOT_FOUND, "experiment '999999' not found"),
    ("negative parent", "name: a", {"parent_id": -4}, INVALID, "parent_id and project_id must be non-negative"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "config", "fields", "code", "message"), BAD_CREATES)
async def test_create_rejects(
    api: Running, user_md: Metadata, case: str, config: str, fields: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    request = api_pb2.CreateExperimentRequest(config=config, **fields)
    await expect(api.stub.CreateExperiment(request, metadata=user_md), code, message)


MISSING_IDS = [999999, 0, -1, -(2**31), 2**31 - 1]


@pytest.mark.parametrize("experiment_id", MISSING_IDS)
async def test_unknown_ids_are_not_found(api: Running, user_md: Metadata, experiment_id: int) -> None:
    message = f"experiment '{experiment_id}' not found"
    calls: list[Awaitable[Any]] = [
        api.stub.GetExperiment(api_pb2.GetExperimentRequest(experiment_id=experiment_id), metadata=user_md),
        api.stub.ArchiveExperiment(api_pb2.ArchiveExperimentRequest(id=experiment_id), metadata=user_md),
        api.stub.PauseExperiment(api_pb2.PauseExperimentRequest(id=experiment_id), metadata=user_md),
        api.stub.CancelExperiment(api_pb2.CancelExperimentRequest(id=experiment_id), metadata=user_md),
        api.stub.DeleteExperiment(api_pb2.DeleteExperimentRequest(experiment_id=experiment_id), metadata=user_md),
        api.stub.PutExperimentLabel(
            api_pb2.PutExperimentLabelRequest(experiment_id=experiment_id, label="x"), metadata=user_md
        ),
        api.stub.PatchExperiment(
            api_pb2.PatchExperimentRequest(experiment=exp_pb2.PatchExperiment(id=experiment_id)), metadata=user_md
        ),
    ]
    for call in calls:
        await expect(call, NOT_FOUND, message)


# Lifecycle scripts: (case, start ACTIVE?, [(action, expected code, expected message)], final state, archived)
# Actions are RPC names without "Experiment"; "archive"/"unarchive" included.
LIFECYCLE = [
    ("pause active", True, [("Pause", OK, "")], exp_pb2.STATE_PAUSED, False),
    ("pause twice is a no-op", True, [("Pause", OK, ""), ("Pause", OK, "")], exp_pb2.STATE_PAUSED, False),
    ("activate paused", False, [("Activate", OK, "")], exp_pb2.STATE_ACTIVE, False),
    ("cancel active", True, [("Cancel", OK, "")], exp_pb2.STATE_CANCELED, False),
    ("kill paused", False, [("Kill", OK, "")], exp_pb2.STATE_CANCELED, False),
    ("cancel after cancel is a no-op", True, [("Cancel", OK, ""), ("Cancel", OK, ""), ("Kill", OK, "")],
     exp_pb2.STATE_CANCELED, False),
    ("pause terminal", True, [("Cancel", OK, ""), ("Pause", PRECONDITION, "experiment in terminal state")],
     exp_pb2.STATE_CANCELED, False),
    ("activate terminal", False, [("Kill", OK, ""), ("Activate", PRECONDITION, "experiment in terminal state")],
     exp_pb2.STATE_CANCELED, False),
    ("archive running", True, [("Archive", PRECONDITION, "Experiment is not in terminal state.")],
     exp_pb2.STATE_ACTIVE, False),
    ("archive terminal", True, [("Cancel", OK, ""), ("Archive", OK, "")], exp_pb2.STATE_CANCELED, True),
    ("archive twice", True, [("Cancel", OK, ""), ("Archive", OK, ""),
                             ("Archive", PRECONDITION, "Experiment is already archived.")], exp_pb2.STATE_CANCELED, True),
    ("unarchive", True, [("Cancel", OK, ""), ("Archive", OK, ""), ("Unarchive", OK, "")], exp_pb2.STATE_CANCELED, False),
    ("unarchive not archived", True, [("Cancel", OK, ""), ("Unarchive", PRECONDITION, "Experiment is not archived.")],
     exp_pb2.STATE_CANCELED, False),
    ("unarchive running", True, [("Unarchive", PRECONDITION, "Experiment is not archived.")], exp_pb2.STATE_ACTIVE, False),
    ("archived cannot be activated", False, [("Kill", OK, ""), ("Archive", OK, ""), ("Activate", NOT_FOUND, "")],
     exp_pb2.STATE_CANCELED, True),
    ("archived cannot be canceled", True, [("Cancel", OK, ""), ("Archive", OK, ""), ("Cancel", NOT_FOUND, "")],
     exp_pb2.STATE_CANCELED, True),
    ("delete running", True, [("Delete", PRECONDITION, "cannot delete experiment in STATE_ACTIVE state")],
     exp_pb2.STATE_ACTIVE, False),
    ("delete paused", False, [("Delete", PRECONDITION, "cannot delete experiment in STATE_PAUSED state")],
     exp_pb2.STATE_PAUSED, False),
]  # fmt: skip


async def act(api: Running, md: Metadata, action: str, experiment_id: int) -> Any:
    if action == "Delete":
        return await api.stub.DeleteExperiment(
            api_pb2.DeleteExperimentRequest(experiment_id=experiment_id), metadata=md
        )
    request_type = getattr(api_pb2, f"{action}ExperimentRequest")
    return await getattr(api.stub, f"{action}Experiment")(request_type(id=experiment_id), metadata=md)


@pytest.mark.parametrize(("case", "active", "steps", "final", "archived"), LIFECYCLE)
async def test_lifecycle(
    api: Running,
    user_md: Metadata,
    case: str,
    active: bool,
    steps: list[tuple[str, grpc.StatusCode, str]],
    final: int,
    archived: bool,
) -> None:
    experiment_id = (await api.create_experiment(user_md, activate=active)).experiment.id
    for action, code, message in steps:
        if code is OK:
            assert await act(api, user_md, action, experiment_id) is not None
        else:
            await expect(
                act(api, user_md, action, experiment_id), code, message or f"experiment '{experiment_id}' not found"
            )
    e = (
        await api.stub.GetExperiment(api_pb2.GetExperimentRequest(experiment_id=experiment_id), metadata=user_md)
    ).experiment
    assert (e.state, e.archived) == (final, archived), case
    terminal = final in (exp_pb2.STATE_CANCELED, exp_pb2.STATE_COMPLETED, exp_pb2.STATE_ERROR)
    assert e.HasField("end_time") is terminal
    if terminal:
        assert e.end_time.ToDatetime() >= e.start_time.ToDatetime()


# (case, who deletes: "owner" | "admin" | "other", expected code, message)
DELETES = [
    ("owner deletes", "owner", OK, ""),
    ("admin deletes another's", "admin", OK, ""),
    ("other user cannot", "other", DENIED, "non admin users may not delete other user's experiments"),
]


@pytest.mark.parametrize(("case", "who", "code", "message"), DELETES)
async def test_delete(
    api: Running, admin_md: Metadata, case: str, who: str, code: grpc.StatusCode, message: str
) -> None:
    _, owner = await api.new_user(admin_md)
    owner_md = await api.login(owner)
    experiment_id = (await api.create_experiment(owner_md, activate=True)).experiment.id
    await act(api, owner_md, "Cancel", experiment_id)
    md = {"owner": owner_md, "admin": admin_md}.get(who) or await api.login((await api.new_user(admin_md))[1])
    if code is not OK:
        await expect(act(api, md, "Delete", experiment_id), code, message)
        return
    await act(api, md, "Delete", experiment_id)
    await expect(act(api, md, "Delete", experiment_id), NOT_FOUND, f"experiment '{experiment_id}' not found")


def labels_value(*items: Any) -> struct_pb2.ListValue:
    value = struct_pb2.ListValue()
    value.extend(items)
    return value


# (case, patch fields, expected code, message, expected (name suffix kept?, description, labels, notes))
PATCHES: list[tuple[str, dict[str, Any], grpc.StatusCode, str]] = [
    ("description only", {"description": wrappers_pb2.StringValue(value="new words")}, OK, ""),
    ("notes", {"notes": wrappers_pb2.StringValue(value="# notes")}, OK, ""),
    ("rename", {"name": wrappers_pb2.StringValue(value="renamed")}, OK, ""),
    ("labels de-duplicated", {"labels": labels_value("b", "a", "b")}, OK, ""),
    ("clear labels", {"labels": labels_value()}, OK, ""),
    ("blank name", {"name": wrappers_pb2.StringValue(value=" \t")}, INVALID,
     "`name` must not be an empty or whitespace string"),
    ("empty name", {"name": wrappers_pb2.StringValue(value="")}, INVALID,
     "`name` must not be an empty or whitespace string"),
    ("non-string label", {"labels": labels_value("ok", 3)}, INVALID, "labels must be non-empty strings"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fields", "code", "message"), PATCHES)
async def test_patch_experiment(
    api: Running, user_md: Metadata, case: str, fields: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    before = (await api.create_experiment(user_md, "name: patched\ndescription: old\nlabels: [keep]")).experiment
    request = api_pb2.PatchExperimentRequest(experiment=exp_pb2.PatchExperiment(id=before.id, **fields))
    if code is not OK:
        await expect(api.stub.PatchExperiment(request, metadata=user_md), code, message)
        return
    after = (await api.stub.PatchExperiment(request, metadata=user_md)).experiment
    expected = {
        "name": fields["name"].value if "name" in fields else before.name,
        "description": fields["description"].value if "description" in fields else before.description,
        "notes": fields["notes"].value if "notes" in fields else before.notes,
        "labels": sorted(set(fields["labels"])) if "labels" in fields else list(before.labels),
    }
    assert {k: (list(getattr(after, k)) if k == "labels" else getattr(after, k)) for k in expected} == expected


async def test_labels(api: Running, user_md: Metadata) -> None:
    common, rare = api.unique("common"), api.unique("rare")
    first = (await api.create_experiment(user_md)).experiment.id
    second = (await api.create_experiment(user_md)).experiment.id
    put = api.stub.PutExperimentLabel
    assert list(
        (await put(api_pb2.PutExperimentLabelRequest(experiment_id=first, label=common), metadata=user_md)).labels
    ) == [common]
    assert list(
        (await put(api_pb2.PutExperimentLabelRequest(experiment_id=first, label=common), metadata=user_md)).labels
    ) == [common]
    await put(api_pb2.PutExperimentLabelRequest(experiment_id=first, label=rare), metadata=user_md)
    await put(api_pb2.PutExperimentLabelRequest(experiment_id=second, label=common), metadata=user_md)
    labels = list((await api.stub.GetExperimentLabels(api_pb2.GetExperimentLabelsRequest(), metadata=user_md)).labels)
    assert labels.index(common) < labels.index(rare)
    remove = api.stub.DeleteExperimentLabel
    after = await remove(api_pb2.DeleteExperimentLabelRequest(experiment_id=first, label=rare), metadata=user_md)
    assert list(after.labels) == [common]
    again = await remove(api_pb2.DeleteExperimentLabelRequest(experiment_id=first, label=rare), metadata=user_md)
    assert list(again.labels) == [common]
    await expect(
        put(api_pb2.PutExperimentLabelRequest(experiment_id=first, label=" "), metadata=user_md),
        INVALID,
        "label must not be empty",
    )
    long_label = api_pb2.PutExperimentLabelRequest(experiment_id=first, label="x" * 256)
    await expect(put(long_label, metadata=user_md), INVALID, "a label must be at most 255 characters")


@pytest.fixture(scope="module")
async def listing(api: Running, admin_md: Metadata, user_md: Metadata) -> tuple[str, list[int]]:
    """Five experiments sharing one unique label: ids in creation order; #2 canceled, #3 archived."""
    label = api.unique("listing")
    ids = []
    for i, (md, active) in enumerate(
        [(user_md, True), (user_md, False), (admin_md, True), (admin_md, True), (user_md, True)]
    ):
        config = f"name: list-{i}-{label}\ndescription: {'alpha' if i % 2 else 'beta'} 100%_done\nlabels: [{label}]"
        ids.append((await api.create_experiment(md, config, activate=active)).experiment.id)
    await act(api, user_md, "Cancel", ids[1])
    await act(api, admin_md, "Cancel", ids[2])
    await act(api, admin_md, "Archive", ids[2])
    await api.stub.PatchExperiment(
        api_pb2.PatchExperimentRequest(
            experiment=exp_pb2.PatchExperiment(id=ids[0], notes=wrappers_pb2.StringValue(value="n"))
        ),
        metadata=user_md,
    )
    return label, ids


DESC = pagination_pb2.ORDER_BY_DESC
SORT = api_pb2.GetExperimentsRequest

# (case, request fields besides the label filter, expected positions (into the fixture's ids) in order,
#  expected (start_index, end_index, total))
LISTINGS: list[tuple[str, dict[str, Any], list[int], tuple[int, int, int]]] = [
    ("all", {}, [0, 1, 2, 3, 4], (0, 5, 5)),
    ("newest first", {"order_by": DESC}, [4, 3, 2, 1, 0], (0, 5, 5)),
    ("by name desc", {"sort_by": SORT.SORT_BY_NAME, "order_by": DESC}, [4, 3, 2, 1, 0], (0, 5, 5)),
    ("archived only, one page", {"archived": wrappers_pb2.BoolValue(value=True), "limit": 1}, [2], (0, 1, 1)),
    ("not archived", {"archived": wrappers_pb2.BoolValue(value=False)}, [0, 1, 3, 4], (0, 4, 4)),
    ("canceled", {"states": [exp_pb2.STATE_CANCELED]}, [1, 2], (0, 2, 2)),
    ("active or paused", {"states": [exp_pb2.STATE_ACTIVE, exp_pb2.STATE_PAUSED]}, [0, 3, 4], (0, 3, 3)),
    ("by username", {"users": ["admin"]}, [2, 3], (0, 2, 2)),
    ("description substring with wildcards", {"description": "ALPHA 100%_"}, [1, 3], (0, 2, 2)),
    ("limit and offset", {"offset": 1, "limit": 2}, [1, 2], (1, 3, 5)),
    ("negative offset", {"offset": -2}, [3, 4], (3, 5, 5)),
    ("offset past the end", {"offset": 50}, [], (5, 5, 5)),
    ("counts only", {"limit": -2}, [], (0, 0, 5)),
    ("everything", {"limit": -1, "offset": 4}, [4], (4, 5, 5)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fields", "positions", "window"), LISTINGS)
async def test_get_experiments(
    api: Running,
    user_md: Metadata,
    listing: tuple[str, list[int]],
    case: str,
    fields: dict[str, Any],
    positions: list[int],
    window: tuple[int, int, int],
) -> None:
    label, ids = listing
    response = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(labels=[label], **fields), metadata=user_md)
    assert [e.id for e in response.experiments] == [ids[p] for p in positions], case
    p = response.pagination
    assert (p.offset, p.limit) == (fields.get("offset", 0), fields.get("limit", 0))
    assert (p.start_index, p.end_index, p.total) == window


async def test_get_experiments_trims_notes_and_filters_ids(
    api: Running, user_md: Metadata, listing: tuple[str, list[int]]
) -> None:
    label, ids = listing
    request = api_pb2.GetExperimentsRequest(labels=[label])
    request.experiment_id_filter.gt = ids[0]
    request.experiment_id_filter.not_in.append(ids[3])
    response = await api.stub.GetExperiments(request, metadata=user_md)
    assert [e.id for e in response.experiments] == [ids[1], ids[2], ids[4]]
    first = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(labels=[label], limit=1), metadata=user_md)
    assert first.experiments[0].notes == "omitted"


BAD_LISTINGS = [
    ({"limit": -3}, "limit must be -2, -1, 0 or positive, got -3"),
    ({"sort_by": 3}, "unknown value 3 for sort_by"),
    ({"order_by": 9}, "unknown value 9 for order_by"),
    ({"states": [99]}, "unknown value 99 for states"),
    ({"states": [exp_pb2.STATE_UNSPECIFIED]}, "unknown value 0 for states"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_LISTINGS)
async def test_get_experiments_rejects(api: Running, user_md: Metadata, fields: dict[str, Any], message: str) -> None:
    await expect(api.stub.GetExperiments(api_pb2.GetExperimentsRequest(**fields), metadata=user_md), INVALID, message)


# States a client cannot reach through this server (there is no scheduler) but that imported or demo
# data may hold: (stored state, action, expected code, message, state afterwards)
STORED_STATES = [
    ("STOPPING_CANCELED", "Pause", PRECONDITION, "experiment in incompatible state STATE_STOPPING_CANCELED",
     exp_pb2.STATE_STOPPING_CANCELED),
    ("STOPPING_KILLED", "Activate", PRECONDITION, "experiment in incompatible state STATE_STOPPING_KILLED",
     exp_pb2.STATE_STOPPING_KILLED),
    ("STOPPING_ERROR", "Activate", OK, "", exp_pb2.STATE_ACTIVE),
    ("STOPPING_COMPLETED", "Cancel", OK, "", exp_pb2.STATE_STOPPING_COMPLETED),
    ("STOPPING_CANCELED", "Kill", OK, "", exp_pb2.STATE_STOPPING_CANCELED),
    ("COMPLETED", "Kill", OK, "", exp_pb2.STATE_COMPLETED),
    ("ERROR", "Pause", PRECONDITION, "experiment in terminal state", exp_pb2.STATE_ERROR),
    ("DELETING", "Delete", PRECONDITION, "cannot delete experiment in STATE_DELETING state", exp_pb2.STATE_DELETING),
    ("STOPPING_ERROR", "Delete", PRECONDITION, "cannot delete experiment in STATE_STOPPING_ERROR state",
     exp_pb2.STATE_STOPPING_ERROR),
]  # fmt: skip


@pytest.mark.parametrize(("stored", "action", "code", "message", "after"), STORED_STATES)
async def test_actions_on_stored_states(
    api: Running, user_md: Metadata, stored: str, action: str, code: grpc.StatusCode, message: str, after: int
) -> None:
    from protogw.server.storage.models import ExperimentState, NewExperiment

    owner = await api.service.store.get_user_by_username("determined")
    created = await api.service.store.create_experiment(
        NewExperiment(owner_id=owner.id, name=api.unique("stored"), state=ExperimentState(stored))
    )
    if code is OK:
        await act(api, user_md, action, created.id)
    else:
        await expect(act(api, user_md, action, created.id), code, message)
    e = (
        await api.stub.GetExperiment(api_pb2.GetExperimentRequest(experiment_id=created.id), metadata=user_md)
    ).experiment
    assert e.state == after


async def test_delete_failed_can_be_deleted(api: Running, user_md: Metadata) -> None:
    from protogw.server.storage.models import ExperimentState, NewExperiment

    owner = await api.service.store.get_user_by_username("determined")
    created = await api.service.store.create_experiment(
        NewExperiment(owner_id=owner.id, name=api.unique("failed"), state=ExperimentState.DELETE_FAILED)
    )
    await act(api, user_md, "Delete", created.id)
    await expect(act(api, user_md, "Delete", created.id), NOT_FOUND, f"experiment '{created.id}' not found")
