"""Every Determined RPC over REST, through both gateway backends, with the same answers.

One scenario (the ``SCENARIO`` table) walks the whole API the way curl users and Determined's clients
call it: log in, manage users, stream the master log, create, list, patch, label, stop, archive and
delete experiments, log out. Every RPC appears with a success and with its documented errors (401
without a token, and the 400/403/404/409 cases of the reference). The scenario runs once per backend,
each against a fresh database behind its own gRPC server and REST gateway:

- ``in-process``: ``build_gateway(service)``, what ``protogw serve`` runs;
- ``proxy``: ``build_proxy_gateway(target)``, routes from the descriptor set, calls forwarded over gRPC.

Then each call is checked three ways: it meets its row's expectation (status, Determined's error
envelope or a subset of the body, the ``auth`` cookie set or expired), both backends answered it
identically (status, body and headers, once tokens, times and generated ids are masked), and the
table covers every RPC of the service. The whole scenario also runs on each ``database_url`` (SQLite
and PostgreSQL) in both backends and must give the very same transcript.

Rows a backend-independent bug still breaks are listed in ``KNOWN_BUGS`` (strict xfails).
"""

from __future__ import annotations

import base64
import logging
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from protogw.gateway.app import Route, RouteTable
from protogw.gateway.router import Match
from protogw.server.logbuffer import LogBuffer
from protogw.server.rest import build_proxy_gateway, determined_descriptor_set
from protogw.server.service import PUBLIC_METHODS, SERVICE_NAME, package_version
from protogw.server.services import SERVICE
from tests.support.rest_backends import BACKENDS, rest_api

# -- the table ---------------------------------------------------------------------------------------

#: Marks a call that sends no body at all.
NO_BODY: Any = object()
#: The reasons Determined's envelope gives for each HTTP status the scenario meets (400 is split by
#: the rows themselves: InvalidArgument or FailedPrecondition).
REASONS = {401: "Unauthenticated", 403: "PermissionDenied", 404: "NotFound", 409: "AlreadyExists", 501: "Unimplemented"}


@dataclass(frozen=True)
class Call:
    """One REST call of the scenario and what must come back.

    ``path`` (query included) and ``message`` may name values saved by earlier calls, ``{exp1}``.
    ``auth`` says who calls: a saved token's name (sent as ``Authorization: Bearer``), ``cookie:NAME``
    (the token in the ``auth`` cookie only), ``raw:VALUE`` (that Authorization header) or None.
    A 2xx row's ``want`` must be contained in the body (dicts by key, lists element by element);
    an error row gives the envelope's ``reason`` and ``message`` (None: any message, for errors the
    gateway words itself). ``cookie`` is "set", "expire" or None (no Set-Cookie at all). ``headers``
    are sent as well; ``want_headers`` must come back with exactly these values.
    """

    name: str
    method: str
    path: str
    status: int
    auth: str | None = "user"
    json: Any = NO_BODY
    content: bytes | None = None
    want: Any = None
    reason: str | None = None
    message: str | None = None
    save: tuple[tuple[str, str], ...] = ()
    cookie: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    want_headers: tuple[tuple[str, str], ...] = ()


def ok(name: str, method: str, path: str, *, want: Any = None, **kw: Any) -> Call:
    return Call(name, method, path, 200, want=want, **kw)


def fail(name: str, method: str, path: str, status: int, message: str | None, *, reason: str = "", **kw: Any) -> Call:
    return Call(
        name, method, path, status, reason=reason or REASONS.get(status, "InvalidArgument"), message=message, **kw
    )


def no_token(name: str, method: str, path: str, **kw: Any) -> Call:
    return fail(name, method, path, 401, "token missing", auth=None, **kw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def names(*values: str) -> list[dict[str, str]]:
    return [{"name": v} for v in values]


def page(offset: int, limit: int, start: int, end: int, total: int) -> dict[str, int]:
    return {"offset": offset, "limit": limit, "startIndex": start, "endIndex": end, "total": total}


def log_line(entry_id: int, message: str, level: str) -> dict[str, Any]:
    entry = {"id": entry_id, "message": f"seed: {message}", "timestamp": "2026-01-02T03:04:05Z", "level": level}
    return {"result": {"logEntry": entry}}


ALPHA_CONFIG = """\
name: alpha
description: first one
labels: [vision, small]
hyperparameters:
  lr: 0.1
searcher:
  name: single
  metric: loss
"""
MODEL_PY = b"print('hello')\n"
BLANK_NAME = "`name` must not be an empty or whitespace string"
LARGE_NOTES = "0123456789abcdef" * (96 * 1024)  # 1.5 MiB
LARGE_CONFIG = f"name: large\nnotes: {LARGE_NOTES}\n"
EXP = "/api/v1/experiments"
ACTIONS = ("archive", "unarchive", "activate", "pause", "cancel", "kill")
FP = "FailedPrecondition"

SCENARIO: list[Call] = [
    # -- master, login --------------------------------------------------------------------------------
    ok("master", "GET", "/api/v1/master", auth=None, want={"clusterName": "protogw", "userManagementEnabled": True}),
    fail("login-no-username", "POST", "/api/v1/auth/login", 400, "missing argument: username", auth=None,
         json={"username": ""}),
    fail("login-unknown-user", "POST", "/api/v1/auth/login", 401, "invalid credentials", auth=None,
         json={"username": "nobody", "password": ""}),
    fail("login-wrong-password", "POST", "/api/v1/auth/login", 401, "invalid credentials", auth=None,
         json={"username": "determined", "password": "wrong"}),
    fail("login-malformed-json", "POST", "/api/v1/auth/login", 400, None, auth=None, content=b'{"username":'),
    ok("login-admin", "POST", "/api/v1/auth/login", auth=None, json={"username": "admin", "password": ""},
       want={"user": {"username": "admin", "admin": True, "active": True, "agentUserGroup": None}},
       save=(("admin", "token"),), cookie="set"),
    ok("login-user", "POST", "/api/v1/auth/login", auth=None, json={"username": "determined"},
       want={"user": {"username": "determined", "admin": False}}, save=(("user", "token"), ("user-id", "user.id")),
       cookie="set"),
    # Determined's CLI sends the password pre-hashed; snake_case field names are accepted too.
    ok("login-hashed-snake-case", "POST", "/api/v1/auth/login", auth=None,
       json={"username": "determined", "password": "", "is_hashed": True}, save=(("user-b", "token"),), cookie="set"),
    # -- who am I -----------------------------------------------------------------------------------------
    no_token("current-user-no-token", "GET", "/api/v1/auth/user"),
    fail("current-user-bad-token", "GET", "/api/v1/auth/user", 401, "invalid credentials", auth="raw:Bearer nope"),
    fail("current-user-not-bearer", "GET", "/api/v1/auth/user", 401, "invalid credentials",
         auth="raw:Basic ZGV0ZXJtaW5lZDo="),
    ok("current-user", "GET", "/api/v1/auth/user", want={"user": {"username": "determined"}}),
    no_token("me-no-token", "GET", "/api/v1/me"),
    ok("me", "GET", "/api/v1/me", want={"user": {"username": "determined", "active": True}}),
    ok("me-by-cookie", "GET", "/api/v1/me", auth="cookie:user", want={"user": {"username": "determined"}}),
    fail("me-bad-cookie", "GET", "/api/v1/me", 401, "invalid credentials", auth="cookie:garbage"),
    # The Authorization header wins over the cookie.
    ok("me-header-over-cookie", "GET", "/api/v1/me", headers=(("Cookie", "auth=garbage"),),
       want={"user": {"username": "determined"}}),
    # -- users ----------------------------------------------------------------------------------------------
    no_token("post-user-no-token", "POST", "/api/v1/users", json={"user": {"username": "alice", "active": True}}),
    fail("post-user-not-admin", "POST", "/api/v1/users", 403, "only admin privileged users can create users",
         json={"user": {"username": "alice", "active": True}}),
    ok("post-user", "POST", "/api/v1/users", auth="admin",
       json={"user": {"username": "alice", "displayName": "Alice", "active": True,
                      "agentUserGroup": {"agentUid": 1000, "agentGid": 1000, "agentUser": "alice",
                                         "agentGroup": "staff"}},
             "password": "pw-one"},
       want={"user": {"username": "alice", "displayName": "Alice", "admin": False, "active": True, "remote": False,
                      "agentUserGroup": {"agentUid": 1000, "agentGid": 1000, "agentUser": "alice",
                                         "agentGroup": "staff"}}},
       save=(("alice-id", "user.id"),)),
    fail("post-user-duplicate", "POST", "/api/v1/users", 409, "user already exists", auth="admin",
         json={"user": {"username": "alice", "active": True}}),
    fail("post-user-non-ascii", "POST", "/api/v1/users", 400,
         "Display name and username cannot contain non-ASCII characters.", auth="admin",
         json={"user": {"username": "\u00e9mile", "active": True}}),
    fail("post-user-missing-user", "POST", "/api/v1/users", 400, "must specify user to create", auth="admin", json={}),
    no_token("users-no-token", "GET", "/api/v1/users"),
    ok("users-sorted", "GET", "/api/v1/users?sortBy=SORT_BY_USER_NAME&orderBy=ORDER_BY_DESC",
       want={"users": [{"username": "determined"}, {"username": "alice"}, {"username": "admin"}],
             "pagination": page(0, 0, 0, 3, 3)}),
    ok("users-admins", "GET", "/api/v1/users?admin=true", want={"users": [{"username": "admin"}]}),
    ok("users-by-name-paged", "GET", "/api/v1/users?name=ali&limit=1",
       want={"users": [{"username": "alice"}], "pagination": page(0, 1, 0, 1, 1)}),
    fail("users-offset-out-of-bounds", "GET", "/api/v1/users?offset=10", 400, "offset out of bounds"),
    fail("users-unknown-sort", "GET", "/api/v1/users?sortBy=99", 400, None),
    ok("get-user", "GET", "/api/v1/users/{alice-id}", want={"user": {"username": "alice", "displayName": "Alice"}}),
    fail("get-user-unknown", "GET", "/api/v1/users/424242", 404, "user not found"),
    fail("get-user-not-a-number", "GET", "/api/v1/users/abc", 400, None),
    no_token("get-user-no-token", "GET", "/api/v1/users/{alice-id}"),
    ok("user-by-username", "GET", "/api/v1/users/alice/by-username", want={"user": {"username": "alice"}}),
    fail("user-by-username-unknown", "GET", "/api/v1/users/nobody/by-username", 404, "user not found"),
    no_token("user-by-username-no-token", "GET", "/api/v1/users/alice/by-username"),
    ok("login-alice", "POST", "/api/v1/auth/login", auth=None, json={"username": "alice", "password": "pw-one"},
       save=(("alice", "token"),), cookie="set"),
    # SetUserPassword's body is the bare JSON string (body: "password").
    fail("set-password-of-other", "POST", "/api/v1/users/{alice-id}/password", 403,
         "only admin privileged users can change other user's passwords", content=b'"pw-two"'),
    ok("set-password-self", "POST", "/api/v1/users/{alice-id}/password", auth="alice", content=b'"pw-two"',
       want={"user": {"username": "alice"}}),
    fail("set-password-unknown-user", "POST", "/api/v1/users/424242/password", 404, "user not found", auth="admin",
         content=b'"x"'),
    fail("set-password-not-a-string", "POST", "/api/v1/users/{alice-id}/password", 400, None, auth="admin",
         content=b'{"password": "x"}'),
    no_token("set-password-no-token", "POST", "/api/v1/users/{alice-id}/password", content=b'"x"'),
    fail("login-old-password", "POST", "/api/v1/auth/login", 401, "invalid credentials", auth=None,
         json={"username": "alice", "password": "pw-one"}),
    ok("login-new-password", "POST", "/api/v1/auth/login", auth=None, json={"username": "alice", "password": "pw-two"},
       save=(("alice", "token"),), cookie="set"),
    # PatchUser's body is the PatchUser message (body: "user").
    ok("patch-user-own-display-name", "PATCH", "/api/v1/users/{alice-id}", auth="alice",
       json={"displayName": "Alice A."}, want={"user": {"displayName": "Alice A."}}),
    fail("patch-user-own-admin", "PATCH", "/api/v1/users/{alice-id}", 403,
         "only admin privileged users can update users", auth="alice", json={"admin": True}),
    fail("patch-user-others-display-name", "PATCH", "/api/v1/users/{alice-id}", 403,
         "only admin privileged users can set another user's display name", json={"displayName": "x"}),
    fail("patch-user-rename-determined", "PATCH", "/api/v1/users/{alice-id}", 400,
         "User cannot be renamed 'determined'", auth="admin", json={"username": "determined"}),
    fail("patch-user-unknown", "PATCH", "/api/v1/users/424242", 404, "user not found", auth="admin",
         json={"displayName": "x"}),
    no_token("patch-user-no-token", "PATCH", "/api/v1/users/{alice-id}", json={"displayName": "x"}),
    ok("patch-user-deactivate", "PATCH", "/api/v1/users/{alice-id}", auth="admin", json={"active": False},
       want={"user": {"active": False}}),
    fail("me-inactive", "GET", "/api/v1/me", 403, "user does not have permission", auth="alice"),
    fail("login-inactive", "POST", "/api/v1/auth/login", 403, "user is not active", auth=None,
         json={"username": "alice", "password": "pw-two"}),
    ok("patch-user-reactivate", "PATCH", "/api/v1/users/{alice-id}", auth="admin", json={"active": True},
       want={"user": {"active": True}}),
    # -- the master's log, newline-delimited JSON -----------------------------------------------------
    ok("master-logs", "GET", "/api/v1/master/logs?limit=2",
       want=[log_line(1, "first", "LOG_LEVEL_INFO"), log_line(2, "second", "LOG_LEVEL_WARNING")]),
    ok("master-logs-offset", "GET", "/api/v1/master/logs?offset=2&limit=1",
       want=[log_line(3, "third", "LOG_LEVEL_ERROR")]),
    no_token("master-logs-no-token", "GET", "/api/v1/master/logs?limit=1"),
    fail("master-logs-negative-limit", "GET", "/api/v1/master/logs?limit=-1", 400, "limit must not be negative, got -1"),
    # -- creating experiments -----------------------------------------------------------------------------
    no_token("create-no-token", "POST", EXP, json={"config": "name: x"}),
    ok("create-alpha", "POST", EXP,
       json={"config": ALPHA_CONFIG, "activate": True,
             "modelDefinition": [{"path": "model_def.py", "content": b64(MODEL_PY), "mode": 420,
                                  "mtime": "1700000000"}]},
       want={"experiment": {"name": "alpha", "description": "first one", "state": "STATE_ACTIVE",
                            "username": "determined", "searcherType": "single", "searcherMetric": "loss",
                            "modelDefinitionSize": len(MODEL_PY), "originalConfig": ALPHA_CONFIG,
                            "archived": False, "endTime": None},
             "config": {"name": "alpha", "hyperparameters": {"lr": 0.1}}},
       save=(("exp1", "experiment.id"),)),
    ok("create-beta", "POST", EXP, auth="admin", json={"config": "name: beta\nlabels: [vision]\n"},
       want={"experiment": {"name": "beta", "state": "STATE_PAUSED", "labels": ["vision"], "username": "admin"}},
       save=(("exp2", "experiment.id"),)),
    ok("create-gamma", "POST", EXP, json={"config": "name: gamma\n", "activate": True},
       save=(("exp3", "experiment.id"),)),
    ok("create-validate-only", "POST", EXP, json={"config": "name: dry-run\n", "validateOnly": True},
       want={"experiment": {"id": 0, "name": "dry-run"}}),
    fail("create-bad-yaml", "POST", EXP, 400,
         "invalid experiment configuration: line 2, column 1: did not find expected ',' or ']'",
         json={"config": "name: [x"}),
    fail("create-not-a-mapping", "POST", EXP, 400, "experiment configuration must be a YAML mapping, got list",
         json={"config": "- a\n- b"}),
    fail("create-blank-name", "POST", EXP, 400, BLANK_NAME, json={"config": "name: '  '"}),
    fail("create-escaping-path", "POST", EXP, 400,
         "model definition file path '../evil.py' must be relative and stay inside the tree",
         json={"config": "name: x", "modelDefinition": [{"path": "../evil.py", "content": ""}]}),
    # Invalid base64 is a 400 (as in grpc-gateway), never silently empty content; validateOnly also
    # makes sure nothing would be stored if it slipped through.
    fail("create-bad-base64", "POST", EXP, 400, None,
         json={"config": "name: x", "validateOnly": True, "modelDefinition": [{"path": "a.py", "content": "***"}]}),
    fail("create-template", "POST", EXP, 400, "configuration templates are not supported by this server",
         json={"config": "name: x", "template": "tpl"}),
    fail("create-unknown-project", "POST", EXP, 404, "project 999 not found", json={"config": "name: x",
                                                                                     "projectId": 999}),
    # -- listing: filters, sorting, pagination ------------------------------------------------------------
    no_token("list-no-token", "GET", EXP),
    ok("list-by-id", "GET", f"{EXP}?sortBy=SORT_BY_ID",
       want={"experiments": names("alpha", "beta", "gamma"), "pagination": page(0, 0, 0, 3, 3)}),
    ok("list-label-name-desc", "GET", f"{EXP}?labels=vision&sortBy=SORT_BY_NAME&orderBy=ORDER_BY_DESC",
       want={"experiments": names("beta", "alpha")}),
    ok("list-all-labels", "GET", f"{EXP}?labels=vision&labels=small", want={"experiments": names("alpha")}),
    ok("list-state", "GET", f"{EXP}?states=STATE_PAUSED", want={"experiments": names("beta")}),
    ok("list-states", "GET", f"{EXP}?states=STATE_ACTIVE&states=STATE_PAUSED&sortBy=SORT_BY_ID",
       want={"experiments": names("alpha", "beta", "gamma")}),
    ok("list-usernames", "GET", f"{EXP}?users=admin", want={"experiments": names("beta")}),
    ok("list-user-ids", "GET", f"{EXP}?userIds={{user-id}}&sortBy=SORT_BY_ID",
       want={"experiments": names("alpha", "gamma")}),
    ok("list-name-substring", "GET", f"{EXP}?name=AMM", want={"experiments": names("gamma")}),
    ok("list-description", "GET", f"{EXP}?description=FIRST", want={"experiments": names("alpha")}),
    ok("list-id-filter", "GET", f"{EXP}?experimentIdFilter.gt={{exp1}}&sortBy=SORT_BY_ID",
       want={"experiments": names("beta", "gamma")}),
    ok("list-page", "GET", f"{EXP}?sortBy=SORT_BY_ID&offset=1&limit=1",
       want={"experiments": names("beta"), "pagination": page(1, 1, 1, 2, 3)}),
    ok("list-from-the-end", "GET", f"{EXP}?sortBy=SORT_BY_ID&offset=-1",
       want={"experiments": names("gamma"), "pagination": page(-1, 0, 2, 3, 3)}),
    ok("list-pagination-only", "GET", f"{EXP}?limit=-2", want={"experiments": [], "pagination": page(0, -2, 0, 0, 3)}),
    ok("list-proto-names-enum-number", "GET", f"{EXP}?sort_by=SORT_BY_NAME&order_by=2",
       want={"experiments": names("gamma", "beta", "alpha")}),
    fail("list-bad-limit", "GET", f"{EXP}?limit=-3", 400, "limit must be -2, -1, 0 or positive, got -3"),
    fail("list-unknown-state", "GET", f"{EXP}?states=STATE_BOGUS", 400, None),
    # -- reading one ------------------------------------------------------------------------------------
    ok("get-alpha", "GET", f"{EXP}/{{exp1}}",
       want={"experiment": {"name": "alpha", "state": "STATE_ACTIVE", "originalConfig": ALPHA_CONFIG,
                            "numTrials": 0, "checkpointSize": "0"},
             "config": {"name": "alpha", "searcher": {"name": "single", "metric": "loss"}}}),
    ok("get-alpha-pretty", "GET", f"{EXP}/{{exp1}}?pretty", want={"experiment": {"name": "alpha"}}),
    fail("get-unknown", "GET", f"{EXP}/999999", 404, "experiment '999999' not found"),
    no_token("get-no-token", "GET", f"{EXP}/{{exp1}}"),
    # -- patching and labels ----------------------------------------------------------------------------
    ok("patch-alpha", "PATCH", f"{EXP}/{{exp1}}",
       json={"name": "alpha-2", "labels": ["vision", "b", "a", "b"], "notes": "some notes", "description": "changed"},
       want={"experiment": {"name": "alpha-2", "labels": ["a", "b", "vision"], "notes": "some notes",
                            "description": "changed"}}),
    fail("patch-blank-name", "PATCH", f"{EXP}/{{exp1}}", 400, BLANK_NAME, json={"name": "  "}),
    fail("patch-bad-labels", "PATCH", f"{EXP}/{{exp1}}", 400, "labels must be non-empty strings", json={"labels": [1]}),
    fail("patch-unknown", "PATCH", f"{EXP}/999999", 404, "experiment '999999' not found", json={"name": "x"}),
    no_token("patch-no-token", "PATCH", f"{EXP}/{{exp1}}", json={"name": "x"}),
    ok("put-label", "PUT", f"{EXP}/{{exp1}}/labels/extra", want={"labels": ["a", "b", "extra", "vision"]}),
    ok("put-label-escaped", "PUT", f"{EXP}/{{exp1}}/labels/with%20space",
       want={"labels": ["a", "b", "extra", "vision", "with space"]}),
    ok("delete-label", "DELETE", f"{EXP}/{{exp1}}/labels/a", want={"labels": ["b", "extra", "vision", "with space"]}),
    fail("put-label-unknown", "PUT", f"{EXP}/999999/labels/x", 404, "experiment '999999' not found"),
    fail("delete-label-unknown", "DELETE", f"{EXP}/999999/labels/x", 404, "experiment '999999' not found"),
    no_token("put-label-no-token", "PUT", f"{EXP}/{{exp1}}/labels/x"),
    no_token("delete-label-no-token", "DELETE", f"{EXP}/{{exp1}}/labels/b"),
    # Most used first: vision is on two experiments.
    ok("labels", "GET", "/api/v1/experiment/labels", want={"labels": ["vision", "b", "extra", "with space"]}),
    no_token("labels-no-token", "GET", "/api/v1/experiment/labels"),
    fail("labels-bad-project-id", "GET", "/api/v1/experiment/labels?projectId=one", 400, None),
    # -- the lifecycle ------------------------------------------------------------------------------------
    ok("pause", "POST", f"{EXP}/{{exp1}}/pause", want={}),
    ok("pause-paused", "POST", f"{EXP}/{{exp1}}/pause", want={}),
    ok("activate", "POST", f"{EXP}/{{exp1}}/activate", want={}),
    fail("archive-active", "POST", f"{EXP}/{{exp1}}/archive", 400, "Experiment is not in terminal state.", reason=FP),
    fail("unarchive-unarchived", "POST", f"{EXP}/{{exp1}}/unarchive", 400, "Experiment is not archived.", reason=FP),
    ok("cancel", "POST", f"{EXP}/{{exp1}}/cancel", want={}),
    ok("cancel-canceled", "POST", f"{EXP}/{{exp1}}/cancel", want={}),
    ok("get-canceled", "GET", f"{EXP}/{{exp1}}", want={"experiment": {"state": "STATE_CANCELED"}}),
    fail("pause-terminal", "POST", f"{EXP}/{{exp1}}/pause", 400, "experiment in terminal state", reason=FP),
    fail("activate-terminal", "POST", f"{EXP}/{{exp1}}/activate", 400, "experiment in terminal state", reason=FP),
    ok("archive", "POST", f"{EXP}/{{exp1}}/archive", want={}),
    fail("archive-archived", "POST", f"{EXP}/{{exp1}}/archive", 400, "Experiment is already archived.", reason=FP),
    ok("list-archived", "GET", f"{EXP}?archived=true", want={"experiments": [{"name": "alpha-2", "archived": True}],
                                                            "pagination": page(0, 0, 0, 1, 1)}),
    ok("list-unarchived", "GET", f"{EXP}?archived=false&sortBy=SORT_BY_ID", want={"experiments": names("beta", "gamma")}),
    fail("pause-archived", "POST", f"{EXP}/{{exp1}}/pause", 404, "experiment '{exp1}' not found"),
    fail("kill-archived", "POST", f"{EXP}/{{exp1}}/kill", 404, "experiment '{exp1}' not found"),
    ok("unarchive", "POST", f"{EXP}/{{exp1}}/unarchive", want={}),
    ok("kill-someone-elses", "POST", f"{EXP}/{{exp2}}/kill", want={}),
    ok("get-killed", "GET", f"{EXP}/{{exp2}}", want={"experiment": {"state": "STATE_CANCELED"}}),
    *(fail(f"{action}-unknown", "POST", f"{EXP}/999999/{action}", 404, "experiment '999999' not found")
      for action in ACTIONS),
    *(no_token(f"{action}-no-token", "POST", f"{EXP}/{{exp3}}/{action}") for action in ACTIONS),
    # -- deleting -------------------------------------------------------------------------------------------
    fail("delete-someone-elses", "DELETE", f"{EXP}/{{exp2}}", 403,
         "non admin users may not delete other user's experiments"),
    fail("delete-active", "DELETE", f"{EXP}/{{exp3}}", 400, "cannot delete experiment in STATE_ACTIVE state", reason=FP),
    no_token("delete-no-token", "DELETE", f"{EXP}/{{exp3}}"),
    ok("kill", "POST", f"{EXP}/{{exp3}}/kill", want={}),
    ok("delete", "DELETE", f"{EXP}/{{exp3}}", want={}),
    fail("get-deleted", "GET", f"{EXP}/{{exp3}}", 404, "experiment '{exp3}' not found"),
    fail("delete-deleted", "DELETE", f"{EXP}/{{exp3}}", 404, "experiment '{exp3}' not found"),
    ok("delete-as-admin", "DELETE", f"{EXP}/{{exp2}}", auth="admin", want={}),
    ok("list-after-deletes", "GET", EXP, want={"experiments": names("alpha-2"), "pagination": page(0, 0, 0, 1, 1)}),
    # -- logging out ----------------------------------------------------------------------------------------
    no_token("logout-no-token", "POST", "/api/v1/auth/logout"),
    ok("logout-by-cookie", "POST", "/api/v1/auth/logout", auth="cookie:user", want={}, cookie="expire"),
    fail("me-after-logout", "GET", "/api/v1/me", 401, "invalid credentials"),
    fail("logout-twice", "POST", "/api/v1/auth/logout", 401, "invalid credentials"),
    ok("other-session-lives-on", "GET", "/api/v1/me", auth="user-b", want={"user": {"username": "determined"}}),
    ok("logout-by-header", "POST", "/api/v1/auth/logout", auth="alice", want={}, cookie="expire"),
    # -- HTTP around the calls: request ids, trailers, deadlines, event streams ---------------------------
    ok("request-id-kept", "GET", "/api/v1/me", auth="user-b", headers=(("X-Request-Id", "trace-0042"),),
       want_headers=(("x-request-id", "trace-0042"),)),
    ok("trailers-as-headers", "GET", "/api/v1/me", auth="user-b",
       headers=(("X-Request-Id", "trace-0043"), ("TE", "trailers")),
       want_headers=(("x-request-id", "trace-0043"), ("grpc-trailer-x-request-id", "trace-0043"))),
    # One request-id rule from edge to trailer (core/requestid.py): an id the gateway echoes is the one the
    # service logged and sent back, "/" and "=" included.
    ok("request-id-one-rule", "GET", "/api/v1/me", auth="user-b",
       headers=(("X-Request-Id", "trace/abc=1"), ("TE", "trailers")),
       want_headers=(("x-request-id", "trace/abc=1"), ("grpc-trailer-x-request-id", "trace/abc=1"))),
    # A deadline that passes before the call starts: no backend may run it (grpc-gateway's answer).
    fail("deadline-already-passed", "GET", "/api/v1/me", 504, "Deadline Exceeded", reason="DeadlineExceeded",
         auth="user-b", headers=(("Grpc-Timeout", "1n"),)),
    fail("create-deadline-already-passed", "POST", EXP, 504, "Deadline Exceeded", reason="DeadlineExceeded",
         auth="user-b", headers=(("Grpc-Timeout", "1n"),), json={"config": "name: late"}),
    fail("stream-deadline-already-passed", "GET", "/api/v1/master/logs", 504, "Deadline Exceeded",
         reason="DeadlineExceeded", auth="user-b", headers=(("Grpc-Timeout", "1n"),)),
    ok("nothing-created-late", "GET", EXP, auth="user-b", want={"experiments": names("alpha-2")}),
    fail("error-trailers-as-headers", "GET", f"{EXP}/999999", 404, "experiment '999999' not found", auth="user-b",
         headers=(("X-Request-Id", "trace-0044"), ("TE", "trailers")),
         want_headers=(("grpc-trailer-x-request-id", "trace-0044"),)),
    ok("master-logs-follow-to-limit", "GET", "/api/v1/master/logs?follow=true&limit=3", auth="user-b",
       want=[log_line(1, "first", "LOG_LEVEL_INFO"), log_line(2, "second", "LOG_LEVEL_WARNING"),
             log_line(3, "third", "LOG_LEVEL_ERROR")]),
    # Answers over gRPC's default 4 MiB receive limit (the configuration comes back three times).
    ok("create-large", "POST", EXP, auth="user-b", json={"config": LARGE_CONFIG},
       want={"experiment": {"name": "large"}, "config": {"notes": LARGE_NOTES}}, save=(("large", "experiment.id"),)),
    ok("get-large", "GET", f"{EXP}/{{large}}", auth="user-b",
       want={"experiment": {"originalConfig": LARGE_CONFIG}, "config": {"notes": LARGE_NOTES}}),
    ok("master-logs-event-stream", "GET", "/api/v1/master/logs?limit=1", auth="user-b",
       headers=(("Accept", "text/event-stream"),),
       want_headers=(("content-type", "text/event-stream"),)),
    ok("unknown-query-parameter-ignored", "GET", "/api/v1/me?colour=blue", auth="user-b",
       want={"user": {"username": "determined"}}),
    ok("put-label-non-ascii", "PUT", f"{EXP}/{{exp1}}/labels/%C3%A9t%C3%A9", auth="user-b",
       want={"labels": ["b", "extra", "vision", "with space", "\u00e9t\u00e9"]}),
    fail("get-id-out-of-range", "GET", f"{EXP}/99999999999", 400, None, auth="user-b"),
    # -- beside the RPCs: Determined's /info, the OpenAPI document and Swagger UI ---------------------------
    ok("info", "GET", "/info", auth=None,
       want={"version": package_version(), "cluster_name": "protogw", "sso_providers": [],
             "telemetry": {"enabled": False, "otel_enabled": False, "otel_endpoint": ""}}),
    ok("openapi-document", "GET", "/api/v1/api.swagger.json", auth=None,
       want={"swagger": "2.0", "info": {"title": "Determined API (Beta)"}}),
    ok("swagger-ui", "GET", "/docs/rest-api/", auth=None, want_headers=(("content-type", "text/html; charset=utf-8"),)),
    # -- the gateway's own answers ------------------------------------------------------------------------
    fail("unknown-route", "GET", "/api/v1/nope", 404, "Not Found", auth=None),
    fail("method-not-allowed", "DELETE", "/api/v1/master", 501, "Method Not Allowed", auth=None),
]  # fmt: skip


#: Rows that fail in both backends alike because of a bug outside this module's reach, and why.
KNOWN_BUGS: dict[str, str] = {}


def rows(calls: list[Call]) -> list[Any]:
    """``calls`` as pytest params: named by the row, known bugs marked as strict xfails."""
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(reason=KNOWN_BUGS[c.name], strict=True)])
        if c.name in KNOWN_BUGS
        else pytest.param(c, id=c.name)
        for c in calls
    ]


# -- running it -------------------------------------------------------------------------------------


#: Determined's routes, to tell which RPC a row calls (coverage) and which rows get a stream.
_ROUTES = RouteTable.from_descriptor_set(determined_descriptor_set(), [SERVICE_NAME])


def _route(call: Call) -> Match[Route] | None:
    path = re.sub(r"\{[^}]+\}", "1", call.path.partition("?")[0])
    found = _ROUTES.router.lookup(call.method, path)
    return found if isinstance(found, Match) else None


def rpc_of(call: Call) -> str | None:
    """The RPC a row's request reaches, by the gateway's own routing (None: no route)."""
    found = _route(call)
    return found.value.binding.method.descriptor.name if found is not None else None


def streams(call: Call) -> bool:
    """Whether the row calls a server-streaming RPC, whose answer is newline-delimited JSON."""
    found = _route(call)
    return found is not None and found.value.binding.method.server_streaming


@dataclass
class Outcome:
    """What a call got: status, parsed body (a list of lines for a stream), and the headers that matter."""

    status: int
    body: Any
    headers: dict[str, str]
    saved: dict[str, Any] = field(default_factory=dict)


#: Headers that differ between any two responses whatever the backend.
_PER_RESPONSE_HEADERS = {"date", "content-length", "server"}


def _parse(response: httpx.Response, stream: bool) -> Any:
    """The body as JSON (a stream: a list, one item a line); text if it is not JSON at all."""
    try:
        if stream:
            return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text


def _dig(value: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        value = value[key]
    return value


class _Saved(dict[str, Any]):
    """Saved values for ``str.format_map``; a value an earlier (failed) call did not save shows as such."""

    def __missing__(self, key: str) -> str:
        return f"<unsaved {key}>"


def _headers(call: Call, saved: Mapping[str, Any]) -> dict[str, str]:
    if call.auth is None:
        return {}
    if call.auth.startswith("raw:"):
        return {"Authorization": call.auth.removeprefix("raw:")}
    if call.auth.startswith("cookie:"):
        who = call.auth.removeprefix("cookie:")
        return {"Cookie": f"theme=dark; auth={saved.get(who, who)}"}
    return {"Authorization": f"Bearer {saved.get(call.auth, '')}"}


async def run_scenario(base_url: str, calls: Iterable[Call]) -> dict[str, Outcome]:
    """Make the calls in order against ``base_url``; every outcome by call name."""
    saved = _Saved()
    outcomes: dict[str, Outcome] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for call in calls:
            kwargs: dict[str, Any] = {"headers": {**_headers(call, saved), **dict(call.headers)}}
            if call.content is not None:
                kwargs["content"] = call.content
            elif call.json is not NO_BODY:
                kwargs["json"] = call.json
            response = await client.request(call.method, call.path.format_map(saved), **kwargs)
            # Each row says exactly which credentials it sends: keep no cookie between calls.
            client.cookies.clear()
            headers = {k: v for k, v in response.headers.items() if k not in _PER_RESPONSE_HEADERS}
            outcome = Outcome(response.status_code, _parse(response, streams(call)), headers)
            if response.status_code == 200:
                for key, dotted in call.save:
                    saved[key] = outcome.saved[key] = _dig(outcome.body, dotted)
            outcomes[call.name] = outcome
    return outcomes


#: The instant of the seeded log records.
LOG_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def seeded_log() -> LogBuffer:
    """A log buffer that starts with three known records, so MasterLogs answers the same everywhere."""
    buffer = LogBuffer()
    for message, level in (("first", logging.INFO), ("second", logging.WARNING), ("third", logging.ERROR)):
        record = logging.LogRecord("seed", level, __file__, 0, message, None, None)
        record.created = LOG_TIME.timestamp()
        buffer.handle(record)
    return buffer


async def transcript(kind: str, database_url: str, calls: Iterable[Call]) -> dict[str, Outcome]:
    """Run ``calls`` through backend ``kind`` in front of a fresh service on ``database_url``."""
    async with rest_api(kind, database_url, {"log_buffer": seeded_log()}) as served:
        return await run_scenario(served.base_url, calls)


@pytest.fixture(scope="module")
async def transcripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Outcome]]:
    """The scenario's outcomes in each backend, each on its own fresh SQLite database."""
    out: dict[str, dict[str, Outcome]] = {}
    for kind in BACKENDS:
        db: Path = tmp_path_factory.mktemp(f"rest-{kind}") / "protogw.db"
        out[kind] = await transcript(kind, f"sqlite+aiosqlite:///{db}", SCENARIO)
    return out


# -- checking it --------------------------------------------------------------------------------------


def contains(actual: Any, expected: Any) -> bool:
    """Whether ``expected`` is part of ``actual``: dict keys recursively, lists element by element."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected) and type(actual) is type(expected)


def envelope(body: Any) -> dict[str, Any]:
    """Determined's ``error`` object. A stream that fails before its first message is one NDJSON
    line that wraps the whole error body: ``{"error": {..., "error": {...}}}``."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), dict), body
    error: dict[str, Any] = body["error"]
    return error if "reason" in error else envelope(error)


def saved_values(outcomes: Mapping[str, Outcome]) -> _Saved:
    values = _Saved()
    for outcome in outcomes.values():
        values.update(outcome.saved)
    return values


def check(call: Call, outcome: Outcome, saved: Mapping[str, Any]) -> None:
    """``outcome`` is what ``call``'s row says it must be."""
    assert outcome.status == call.status, (outcome.status, outcome.body)
    if call.status == 200:
        if call.want is not None:
            assert contains(outcome.body, call.want), outcome.body
    else:
        error = envelope(outcome.body)
        assert error["reason"] == call.reason, error
        if call.message is not None:
            assert error["error"] == call.message.format_map(saved), error
    for name, value in call.want_headers:
        assert outcome.headers.get(name) == value, outcome.headers
    cookie = outcome.headers.get("set-cookie")
    if call.cookie == "set":
        assert cookie == f"auth={outcome.body['token']}; Path=/; Max-Age=604800; SameSite=Lax"
    elif call.cookie == "expire":
        assert cookie == "auth=; Path=/; Max-Age=0; SameSite=Lax"
    else:
        assert cookie is None


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("call", rows(SCENARIO))
def test_call(transcripts: dict[str, dict[str, Outcome]], kind: str, call: Call) -> None:
    outcomes = transcripts[kind]
    check(call, outcomes[call.name], saved_values(outcomes))


#: Keys whose values are per run (secrets, clock readings, random ids); masked before comparing.
VOLATILE_KEYS = frozenset(
    {"token", "startTime", "endTime", "duration", "modifiedAt", "lastAuthAt", "jobId"}
    | {"masterId", "clusterId", "master_id", "cluster_id"}
)
_TOKEN_COOKIE = re.compile(r"^auth=[^;]+;")


def masked(value: Any) -> Any:
    """``value`` with volatile fields replaced by a marker (a null stays null: set-or-not must agree)."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS and v is not None else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def comparable(outcome: Outcome) -> tuple[int, Any, dict[str, str]]:
    headers = dict(outcome.headers)
    if "x-request-id" in headers:
        headers["x-request-id"] = "<volatile>"
    if "set-cookie" in headers:
        headers["set-cookie"] = _TOKEN_COOKIE.sub("auth=<volatile>;", headers["set-cookie"])
    return outcome.status, masked(outcome.body), headers


@pytest.mark.parametrize("call", SCENARIO, ids=[c.name for c in SCENARIO])
def test_backends_agree(transcripts: dict[str, dict[str, Outcome]], call: Call) -> None:
    first, second = (comparable(transcripts[kind][call.name]) for kind in BACKENDS)
    assert first == second


# -- coverage of the table ----------------------------------------------------------------------------


ALL_RPCS = sorted(m.name for m in SERVICE.methods)
PUBLIC = {path.rsplit("/", 1)[1] for path in PUBLIC_METHODS}


@pytest.mark.parametrize("rpc", ALL_RPCS)
def test_every_rpc_is_in_the_table(rpc: str) -> None:
    rows = [c for c in SCENARIO if rpc_of(c) == rpc]
    assert any(c.status == 200 for c in rows), "no successful call"
    if rpc not in PUBLIC:
        assert any(c.message == "token missing" for c in rows), "no call without a token"
    if rpc != "GetMaster":  # GetMaster cannot fail
        assert any(c.status >= 400 and c.message != "token missing" for c in rows), "no documented error"


def test_table_names_are_unique() -> None:
    assert len(ALL_RPCS) == 26
    assert len({c.name for c in SCENARIO}) == len(SCENARIO)


@pytest.mark.parametrize("kind", BACKENDS)
async def test_same_transcript_on_each_database(
    transcripts: dict[str, dict[str, Outcome]], database_url: str, kind: str
) -> None:
    # The whole scenario again on SQLite and on PostgreSQL: every answer as on the reference run.
    got = await transcript(kind, database_url, SCENARIO)
    reference = transcripts[BACKENDS[0]]
    differing = {
        name: (comparable(reference[name]), comparable(got[name]))
        for name in reference
        if comparable(reference[name]) != comparable(got[name])
    }
    assert not differing, differing


def _unused_port() -> int:
    """A local port nothing listens on (the kernel's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# (path, what the caller sends): the proxy with no server behind it answers 503 in Determined's envelope.
NO_SERVER = [
    ("/info", {}),
    ("/api/v1/master", {}),
    ("/api/v1/me", {"Authorization": "Bearer x"}),
    ("/api/v1/master/logs", {"Authorization": "Bearer x"}),
]


@pytest.mark.parametrize(("path", "headers"), NO_SERVER)
async def test_proxy_without_a_server_is_unavailable(path: str, headers: dict[str, str]) -> None:
    app = build_proxy_gateway(f"127.0.0.1:{_unused_port()}", docs=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://protogw.test") as client:
        await app.startup()
        try:
            response = await client.get(path, headers=headers, timeout=30)
        finally:
            await app.shutdown()
    assert response.status_code == 503, response.text
    assert envelope(_parse(response, path.endswith("/logs")))["reason"] == "Unavailable"


# (model definition bytes, expected status) against a 1,000-byte limit: fits, refused by the service,
# refused by the gateway before it reads the body (the limit travels into build_proxy_gateway too).
MODEL_SIZES = [(900, 200), (1100, 400), (5 * 1024 * 1024, 413)]


@pytest.mark.parametrize(("size", "status"), MODEL_SIZES)
async def test_model_definition_limits_in_both_backends(tmp_path: Path, size: int, status: int) -> None:
    body = {"config": "name: sized", "modelDefinition": [{"path": "a.bin", "content": b64(b"x" * size)}]}
    answers = []
    for kind in BACKENDS:
        db = f"sqlite+aiosqlite:///{tmp_path / kind}.db"
        async with (
            rest_api(kind, db, max_model_definition_bytes=1000) as served,
            httpx.AsyncClient(base_url=served.base_url, timeout=30) as client,
        ):
            token = (await client.post("/api/v1/auth/login", json={"username": "determined"})).json()["token"]
            client.cookies.clear()
            response = await client.post(EXP, json=body, headers={"Authorization": f"Bearer {token}"})
        answers.append((response.status_code, masked(_parse(response, False))))
    assert answers[0][0] == status, answers[0]
    assert answers[0] == answers[1]
