"""The Determined descriptor set against a table transcribed from Determined's API reference.

Each row names an RPC of ``determined.api.v1.Determined`` with its HTTP binding (verb, path
template, body) and the request fields with their numbers. A wrong number or path would still
compile and even round-trip through our own server, but it would break Determined's real
clients, so the table is the only thing that can catch it.
"""

from __future__ import annotations

from importlib import resources

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool

from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as openapi_annotations_pb2

SERVICE = "determined.api.v1.Determined"

# (rpc, verb, path, body, server streaming, tag, public, {request field: number})
RPCS: list[tuple[str, str, str, str, bool, str, bool, dict[str, int]]] = [
    ("Login", "post", "/api/v1/auth/login", "*", False, "Authentication", True,
     {"username": 1, "password": 2, "is_hashed": 3}),
    ("CurrentUser", "get", "/api/v1/auth/user", "", False, "Authentication", False, {}),
    ("Logout", "post", "/api/v1/auth/logout", "", False, "Authentication", False, {}),
    ("GetMe", "get", "/api/v1/me", "", False, "Users", False, {}),
    ("GetMaster", "get", "/api/v1/master", "", False, "Cluster", True, {}),
    ("MasterLogs", "get", "/api/v1/master/logs", "", True, "Cluster", False, {"offset": 3, "limit": 4, "follow": 5}),
    ("GetUsers", "get", "/api/v1/users", "", False, "Users", False,
     {"sort_by": 1, "order_by": 2, "offset": 3, "limit": 4, "name": 5, "active": 6, "admin": 7,
      "role_id_assigned_directly_to_user": 8}),
    ("GetUser", "get", "/api/v1/users/{user_id}", "", False, "Users", False, {"user_id": 1}),
    ("GetUserByUsername", "get", "/api/v1/users/{username}/by-username", "", False, "Users", False, {"username": 1}),
    ("PostUser", "post", "/api/v1/users", "*", False, "Users", False, {"user": 1, "password": 2, "is_hashed": 3}),
    ("SetUserPassword", "post", "/api/v1/users/{user_id}/password", "password", False, "Users", False,
     {"user_id": 3, "password": 2}),
    ("PatchUser", "patch", "/api/v1/users/{user_id}", "user", False, "Users", False, {"user_id": 2, "user": 1}),
    ("GetExperiments", "get", "/api/v1/experiments", "", False, "Experiments", False,
     {"sort_by": 1, "order_by": 2, "offset": 3, "limit": 4, "description": 5, "name": 10, "labels": 6,
      "archived": 7, "states": 8, "users": 9, "user_ids": 11, "project_id": 12, "experiment_id_filter": 13,
      "show_trial_data": 14}),
    ("GetExperiment", "get", "/api/v1/experiments/{experiment_id}", "", False, "Experiments", False,
     {"experiment_id": 1}),
    ("CreateExperiment", "post", "/api/v1/experiments", "*", False, "Internal", False,
     {"model_definition": 1, "config": 2, "validate_only": 3, "parent_id": 4, "activate": 5, "project_id": 6,
      "template": 7, "unmanaged": 40}),
    ("PatchExperiment", "patch", "/api/v1/experiments/{experiment.id}", "experiment", False, "Experiments", False,
     {"experiment": 2}),
    ("DeleteExperiment", "delete", "/api/v1/experiments/{experiment_id}", "", False, "Experiments", False,
     {"experiment_id": 1}),
    ("ArchiveExperiment", "post", "/api/v1/experiments/{id}/archive", "", False, "Experiments", False, {"id": 1}),
    ("UnarchiveExperiment", "post", "/api/v1/experiments/{id}/unarchive", "", False, "Experiments", False, {"id": 1}),
    ("ActivateExperiment", "post", "/api/v1/experiments/{id}/activate", "", False, "Experiments", False, {"id": 1}),
    ("PauseExperiment", "post", "/api/v1/experiments/{id}/pause", "", False, "Experiments", False, {"id": 1}),
    ("CancelExperiment", "post", "/api/v1/experiments/{id}/cancel", "", False, "Experiments", False, {"id": 1}),
    ("KillExperiment", "post", "/api/v1/experiments/{id}/kill", "", False, "Experiments", False, {"id": 1}),
    ("GetExperimentLabels", "get", "/api/v1/experiment/labels", "", False, "Experiments", False, {"project_id": 1}),
    ("PutExperimentLabel", "put", "/api/v1/experiments/{experiment_id}/labels/{label}", "", False, "Experiments",
     False, {"experiment_id": 1, "label": 2}),
    ("DeleteExperimentLabel", "delete", "/api/v1/experiments/{experiment_id}/labels/{label}", "", False,
     "Experiments", False, {"experiment_id": 1, "label": 2}),
]  # fmt: skip

# Messages whose field numbers matter to Determined's clients beyond the requests: (message, {field: number}).
MESSAGES: list[tuple[str, dict[str, int]]] = [
    ("determined.user.v1.User", {"id": 1, "username": 2, "admin": 3, "active": 4, "agent_user_group": 5,
                                 "display_name": 6, "modified_at": 7, "remote": 8, "last_auth_at": 9}),
    ("determined.user.v1.AgentUserGroup", {"agent_uid": 1, "agent_gid": 2, "agent_user": 3, "agent_group": 4}),
    ("determined.user.v1.PatchUser", {"username": 1, "password": 2, "admin": 3, "active": 4, "display_name": 5,
                                      "agent_user_group": 6, "is_hashed": 7, "remote": 8}),
    ("determined.api.v1.LoginResponse", {"token": 1, "user": 2}),
    ("determined.api.v1.Pagination", {"offset": 1, "limit": 2, "start_index": 3, "end_index": 4, "total": 5}),
    ("determined.api.v1.GetExperimentsResponse", {"experiments": 1, "pagination": 2}),
    ("determined.api.v1.GetExperimentResponse", {"experiment": 1, "config": 4}),
    ("determined.api.v1.CreateExperimentResponse", {"experiment": 1, "config": 2, "warnings": 3}),
    ("determined.api.v1.GetMasterResponse", {"version": 1, "master_id": 2, "cluster_id": 3, "cluster_name": 4,
                                             "product": 11, "strict_job_queue_control": 14, "has_custom_logo": 16}),
    ("determined.api.v1.MasterLogsResponse", {"log_entry": 1}),
    ("determined.log.v1.LogEntry", {"id": 1, "message": 2, "timestamp": 3, "level": 4}),
    ("determined.common.v1.Int32FieldFilter", {"lt": 2, "lte": 3, "gt": 4, "gte": 5, "incl": 6, "not_in": 7}),
    ("determined.util.v1.File", {"path": 1, "type": 2, "content": 3, "mtime": 4, "mode": 5, "uid": 6, "gid": 7}),
    ("determined.experiment.v1.PatchExperiment", {"id": 1, "description": 2, "labels": 3, "name": 4, "notes": 5}),
    ("determined.experiment.v1.Experiment", {
        "id": 1, "description": 2, "labels": 3, "start_time": 4, "end_time": 5, "state": 6, "archived": 7,
        "num_trials": 8, "username": 10, "resource_pool": 11, "searcher_type": 12, "name": 13, "notes": 14,
        "job_id": 15, "forked_from": 16, "progress": 17, "display_name": 18, "user_id": 19, "project_id": 21,
        "project_name": 22, "workspace_id": 23, "workspace_name": 24, "parent_archived": 25, "config": 26,
        "original_config": 27, "project_owner_id": 28, "checkpoint_size": 29, "checkpoint_count": 30,
        "best_trial_searcher_metric": 31, "unmanaged": 40, "duration": 41, "searcher_metric": 42,
        "model_definition_size": 45, "hyperparameters": 46}),
]  # fmt: skip

# Enum values the wire format depends on: (enum, {value name: number}).
ENUMS: list[tuple[str, dict[str, int]]] = [
    ("determined.experiment.v1.State", {
        "STATE_UNSPECIFIED": 0, "STATE_ACTIVE": 1, "STATE_PAUSED": 2, "STATE_STOPPING_COMPLETED": 3,
        "STATE_STOPPING_CANCELED": 4, "STATE_STOPPING_ERROR": 5, "STATE_COMPLETED": 6, "STATE_CANCELED": 7,
        "STATE_ERROR": 8, "STATE_DELETED": 9, "STATE_DELETING": 10, "STATE_DELETE_FAILED": 11,
        "STATE_STOPPING_KILLED": 12, "STATE_QUEUED": 13, "STATE_PULLING": 14, "STATE_STARTING": 15,
        "STATE_RUNNING": 16}),
    ("determined.api.v1.OrderBy", {"ORDER_BY_UNSPECIFIED": 0, "ORDER_BY_ASC": 1, "ORDER_BY_DESC": 2}),
    ("determined.api.v1.GetExperimentsRequest.SortBy", {
        "SORT_BY_UNSPECIFIED": 0, "SORT_BY_ID": 1, "SORT_BY_DESCRIPTION": 2, "SORT_BY_START_TIME": 4,
        "SORT_BY_END_TIME": 5, "SORT_BY_STATE": 6, "SORT_BY_NUM_TRIALS": 8, "SORT_BY_PROGRESS": 9,
        "SORT_BY_USER": 10, "SORT_BY_NAME": 11, "SORT_BY_FORKED_FROM": 12, "SORT_BY_RESOURCE_POOL": 13,
        "SORT_BY_PROJECT_ID": 14, "SORT_BY_CHECKPOINT_SIZE": 15, "SORT_BY_CHECKPOINT_COUNT": 16,
        "SORT_BY_SEARCHER_METRIC_VAL": 17}),
    ("determined.api.v1.GetUsersRequest.SortBy", {
        "SORT_BY_UNSPECIFIED": 0, "SORT_BY_DISPLAY_NAME": 1, "SORT_BY_USER_NAME": 2, "SORT_BY_ADMIN": 3,
        "SORT_BY_ACTIVE": 4, "SORT_BY_MODIFIED_TIME": 5, "SORT_BY_NAME": 6, "SORT_BY_LAST_AUTH_TIME": 7,
        "SORT_BY_REMOTE": 8}),
    ("determined.log.v1.LogLevel", {
        "LOG_LEVEL_UNSPECIFIED": 0, "LOG_LEVEL_TRACE": 1, "LOG_LEVEL_DEBUG": 2, "LOG_LEVEL_INFO": 3,
        "LOG_LEVEL_WARNING": 4, "LOG_LEVEL_ERROR": 5, "LOG_LEVEL_CRITICAL": 6}),
]  # fmt: skip

# Swagger `required` lists (JSON names) that Determined's generated bindings rely on.
REQUIRED: list[tuple[str, list[str]]] = [
    ("determined.experiment.v1.Experiment", ["id", "name", "startTime", "state", "archived", "numTrials",
                                             "username", "jobId", "searcherType", "projectId", "originalConfig",
                                             "projectOwnerId", "config"]),
    ("determined.user.v1.User", ["username", "admin", "active"]),
    ("determined.api.v1.LoginRequest", ["username", "password"]),
    ("determined.api.v1.LoginResponse", ["user", "token"]),
    ("determined.api.v1.GetExperimentsResponse", ["experiments", "pagination"]),
    ("determined.api.v1.GetMasterResponse", ["version", "masterId", "clusterId", "clusterName",
                                             "strictJobQueueControl", "hasCustomLogo"]),
    ("determined.log.v1.LogEntry", ["id", "message", "level", "timestamp"]),
    ("determined.api.v1.MasterLogsResponse", ["logEntry"]),
]  # fmt: skip


def _pool() -> descriptor_pool.DescriptorPool:
    data = resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    return pool


POOL = _pool()


def _binding(rule: http_pb2.HttpRule) -> tuple[str, str]:
    kind = rule.WhichOneof("pattern")
    assert kind is not None
    assert kind != "custom"
    return kind, str(getattr(rule, kind))


def test_service_has_exactly_the_table_rpcs() -> None:
    service = POOL.FindServiceByName(SERVICE)
    assert sorted(m.name for m in service.methods) == sorted(row[0] for row in RPCS)


@pytest.mark.parametrize(("rpc", "verb", "path", "body", "streaming", "tag", "public", "fields"), RPCS)
def test_rpc_binding(
    rpc: str, verb: str, path: str, body: str, streaming: bool, tag: str, public: bool, fields: dict[str, int]
) -> None:
    method = POOL.FindServiceByName(SERVICE).methods_by_name[rpc]
    options = descriptor_pb2.MethodOptions.FromString(method.GetOptions().SerializeToString())
    rule = options.Extensions[annotations_pb2.http]
    assert _binding(rule) == (verb, path)
    assert rule.body == body
    assert not rule.additional_bindings
    assert method.server_streaming is streaming
    assert not method.client_streaming
    assert method.input_type.name == f"{rpc}Request"
    assert method.output_type.name == f"{rpc}Response"
    assert {f.name: f.number for f in method.input_type.fields} == fields
    operation = options.Extensions[openapi_annotations_pb2.openapiv2_operation]
    assert list(operation.tags) == [tag]
    # Public operations override the global BearerToken requirement with one empty requirement.
    assert (len(operation.security) == 1 and not operation.security[0].security_requirement) is public
    if not public:
        assert not operation.security


@pytest.mark.parametrize(("message", "fields"), MESSAGES)
def test_message_field_numbers(message: str, fields: dict[str, int]) -> None:
    descriptor = POOL.FindMessageTypeByName(message)
    assert {f.name: f.number for f in descriptor.fields if f.name in fields} == fields


@pytest.mark.parametrize(("enum", "values"), ENUMS)
def test_enum_values(enum: str, values: dict[str, int]) -> None:
    descriptor = POOL.FindEnumTypeByName(enum)
    assert {v.name: v.number for v in descriptor.values} == values


@pytest.mark.parametrize(("message", "required"), REQUIRED)
def test_required_lists(message: str, required: list[str]) -> None:
    descriptor = POOL.FindMessageTypeByName(message)
    options = descriptor_pb2.MessageOptions.FromString(descriptor.GetOptions().SerializeToString())
    schema = options.Extensions[openapi_annotations_pb2.openapiv2_schema]
    assert sorted(schema.json_schema.required) == sorted(required)
    json_names = {f.json_name for f in descriptor.fields}
    assert set(required) <= json_names


def test_swagger_file_options() -> None:
    file = POOL.FindFileByName("determined/api/v1/api.proto")
    options = descriptor_pb2.FileOptions.FromString(file.GetOptions().SerializeToString())
    swagger = options.Extensions[openapi_annotations_pb2.openapiv2_swagger]
    assert swagger.info.title == "Determined API (Beta)"
    scheme = swagger.security_definitions.security["BearerToken"]
    # `in` is a Python keyword, so the generated class only exposes that field through getattr.
    location = getattr(scheme, "in")
    assert (scheme.name, scheme.type, location) == ("Authorization", scheme.TYPE_API_KEY, scheme.IN_HEADER)
    assert [list(r.security_requirement) for r in swagger.security] == [["BearerToken"]]
    assert [t.name for t in swagger.tags] == ["Authentication", "Users", "Cluster", "Experiments", "Internal"]
    assert all(t.description for t in swagger.tags)
