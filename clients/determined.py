"""A typed client for the Determined master API, over either transport.

    async with DeterminedClient(RestTransport(base_url="http://127.0.0.1:8080")) as det:
        await det.login(username="determined", password="")
        async for experiment in det.iter_experiments(archived=False):
            print(experiment.id, experiment.name)

Every method takes keyword arguments only and builds the request message; the transport does the
rest. After :meth:`DeterminedClient.login` the token is kept and sent as ``authorization: Bearer``
on every call, whichever transport is in use.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncGenerator, Sequence
from types import TracebackType
from typing import Final, TypedDict, TypeVar, Unpack

from google.protobuf import wrappers_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from protogw.clients.transport import Metadata, Transport
from protogw.gen.determined.api.v1 import (
    api_pb2,
    auth_pb2,
    experiment_pb2,
    master_pb2,
    pagination_pb2,
    user_pb2,
)
from protogw.gen.determined.common.v1 import common_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2
from protogw.gen.determined.log.v1 import log_pb2
from protogw.gen.determined.user.v1 import user_pb2 as userv1_pb2
from protogw.gen.determined.util.v1 import util_pb2

__all__ = ["PASSWORD_SALT", "DeterminedClient", "ExperimentQuery", "IdFilter", "StateName", "salt_and_hash"]

#: The fixed salt Determined's CLI and SDK put in front of a password before hashing it client-side.
PASSWORD_SALT: Final = "GubPEmmotfiK9TMD6Zdw"

_METHODS = api_pb2.DESCRIPTOR.services_by_name["Determined"].methods_by_name

#: An experiment state as its enum number, its full name (``STATE_ACTIVE``) or short name (``ACTIVE``).
StateName = int | str

R = TypeVar("R", bound=Message)

#: GetExperiments' ``experimentIdFilter``: ``lt``/``lte``/``gt``/``gte`` bounds, ``incl``/``not_in`` sets.
IdFilter = common_pb2.Int32FieldFilter


def salt_and_hash(password: str) -> str:
    """Determined's client-side password hash: sha512 hex of salt + password; empty stays empty."""
    if not password:
        return password
    return hashlib.sha512((PASSWORD_SALT + password).encode()).hexdigest()


def _state(value: StateName) -> experimentv1_pb2.State.ValueType:
    if isinstance(value, int):
        return experimentv1_pb2.State.ValueType(value)
    name = value.upper()
    if not name.startswith("STATE_"):
        name = "STATE_" + name
    try:
        return experimentv1_pb2.State.Value(name)
    except ValueError:
        raise ValueError(f"unknown experiment state {value!r}") from None


class ExperimentQuery(TypedDict, total=False):
    """The filters and order of a GetExperiments listing, every one optional (the keywords of
    :meth:`DeterminedClient.experiments`, :meth:`~DeterminedClient.experiment_pages` and
    :meth:`~DeterminedClient.iter_experiments`). ``id_greater_than`` is a shorthand for
    ``id_filter=IdFilter(gt=...)``; given both, they are merged. ``sort_by`` and ``order_by`` are the
    proto enums' numbers."""

    archived: bool | None
    states: Sequence[StateName]
    labels: Sequence[str]
    users: Sequence[str]
    user_ids: Sequence[int]
    name: str
    description: str
    project_id: int
    id_greater_than: int | None
    id_filter: IdFilter | None
    show_trial_data: bool
    sort_by: int
    order_by: int


_QUERY_KEYS: Final = frozenset(ExperimentQuery.__annotations__)


def _checked(query: ExperimentQuery) -> ExperimentQuery:
    """``query``, after refusing keys it cannot have, as a signature without ``**`` would."""
    unknown = query.keys() - _QUERY_KEYS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return query


def _experiments_request(query: ExperimentQuery, offset: int, limit: int) -> experiment_pb2.GetExperimentsRequest:
    request = experiment_pb2.GetExperimentsRequest(
        states=[_state(s) for s in query.get("states", ())],
        labels=query.get("labels", ()),
        users=query.get("users", ()),
        user_ids=query.get("user_ids", ()),
        name=query.get("name", ""),
        description=query.get("description", ""),
        project_id=query.get("project_id", 0),
        show_trial_data=query.get("show_trial_data", False),
        sort_by=experiment_pb2.GetExperimentsRequest.SortBy.ValueType(query.get("sort_by", 0)),
        order_by=pagination_pb2.OrderBy.ValueType(query.get("order_by", 0)),
        offset=offset,
        limit=limit,
    )
    archived = query.get("archived")
    if archived is not None:
        request.archived.CopyFrom(wrappers_pb2.BoolValue(value=archived))
    id_filter = query.get("id_filter")
    if id_filter is not None:
        request.experiment_id_filter.CopyFrom(id_filter)
    id_greater_than = query.get("id_greater_than")
    if id_greater_than is not None:
        request.experiment_id_filter.gt = id_greater_than
    return request


class DeterminedClient:
    """Typed calls to ``determined.api.v1.Determined`` over any :class:`Transport`.

    ``token`` starts a session that is already logged in; ``timeout`` (seconds) is every call's
    deadline unless a stream is followed (``master_logs(follow=True)`` has none).
    """

    def __init__(self, transport: Transport, *, token: str | None = None, timeout: float | None = 30.0) -> None:
        self.transport = transport
        self.token = token
        self.timeout = timeout

    async def __aenter__(self) -> DeterminedClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the transport's own resources."""
        await self.transport.close()

    # -- plumbing ---------------------------------------------------------------------------------------

    def _metadata(self) -> Metadata:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    @staticmethod
    def _method(name: str) -> MethodDescriptor:
        return _METHODS[name]

    async def _call(self, name: str, request: Message, response_type: type[R]) -> R:
        response = await self.transport.unary(
            self._method(name), request, metadata=self._metadata(), deadline=self.timeout
        )
        return _as(response, response_type)

    # -- authentication ---------------------------------------------------------------------------------

    async def login(self, *, username: str, password: str) -> auth_pb2.LoginResponse:
        """Log in as Determined's CLI does (salted hash, ``is_hashed``) and keep the token."""
        request = auth_pb2.LoginRequest(username=username, password=salt_and_hash(password), is_hashed=True)
        response = await self._call("Login", request, auth_pb2.LoginResponse)
        self.token = response.token
        return response

    async def logout(self) -> None:
        """End the session on the server and forget the token."""
        await self._call("Logout", auth_pb2.LogoutRequest(), auth_pb2.LogoutResponse)
        self.token = None

    async def me(self) -> userv1_pb2.User:
        """The logged-in user (``GetMe``)."""
        return (await self._call("GetMe", user_pb2.GetMeRequest(), user_pb2.GetMeResponse)).user

    async def current_user(self) -> userv1_pb2.User:
        """The user the token belongs to (``CurrentUser``, the authentication service's view)."""
        response = await self._call("CurrentUser", auth_pb2.CurrentUserRequest(), auth_pb2.CurrentUserResponse)
        return response.user

    # -- master -----------------------------------------------------------------------------------------

    async def master(self) -> master_pb2.GetMasterResponse:
        """Master info (public: no login needed)."""
        return await self._call("GetMaster", master_pb2.GetMasterRequest(), master_pb2.GetMasterResponse)

    async def master_logs(
        self, *, offset: int = 0, limit: int = 0, follow: bool = False
    ) -> AsyncGenerator[log_pb2.LogEntry, None]:
        """The master's log entries; a negative ``offset`` counts from the end, ``limit`` 0 means all,
        ``follow`` keeps the stream open for new entries."""
        request = master_pb2.MasterLogsRequest(offset=offset, limit=limit, follow=follow)
        stream = self.transport.server_stream(
            self._method("MasterLogs"),
            request,
            metadata=self._metadata(),
            deadline=None if follow else self.timeout,
        )
        # Closing this generator early (a consumer's break) must end the call, not leave it to GC.
        async with contextlib.aclosing(stream):
            async for response in stream:
                yield _as(response, master_pb2.MasterLogsResponse).log_entry

    # -- experiments ------------------------------------------------------------------------------------

    async def experiments(
        self, *, offset: int = 0, limit: int = 0, **query: Unpack[ExperimentQuery]
    ) -> experiment_pb2.GetExperimentsResponse:
        """One page of experiments (``limit`` 0 is the server's default page of 100) with its pagination;
        ``query`` filters and orders them (:class:`ExperimentQuery`)."""
        return await self._call(
            "GetExperiments",
            _experiments_request(_checked(query), offset, limit),
            experiment_pb2.GetExperimentsResponse,
        )

    async def experiment_pages(
        self, *, offset: int = 0, page_size: int = 0, **query: Unpack[ExperimentQuery]
    ) -> AsyncGenerator[experiment_pb2.GetExperimentsResponse, None]:
        """Every page of matching experiments from ``offset`` on: each next page starts at the previous
        ``endIndex``, until ``endIndex`` reaches ``total`` (Determined's ``read_paginated``). Each page
        carries its pagination, so a caller can show progress against ``pagination.total``."""
        _checked(query)
        while True:
            page = await self.experiments(offset=offset, limit=page_size, **query)
            yield page
            next_offset = _next_offset(page.pagination, offset)
            if next_offset is None:
                return
            offset = next_offset

    async def iter_experiments(
        self, *, page_size: int = 0, **query: Unpack[ExperimentQuery]
    ) -> AsyncGenerator[experimentv1_pb2.Experiment, None]:
        """Every matching experiment, page by page (see :meth:`experiment_pages`)."""
        pages = self.experiment_pages(page_size=page_size, **_checked(query))
        async with contextlib.aclosing(pages):
            async for page in pages:
                for experiment in page.experiments:
                    yield experiment

    async def experiment(self, *, id: int) -> experiment_pb2.GetExperimentResponse:
        """One experiment with its config."""
        request = experiment_pb2.GetExperimentRequest(experiment_id=id)
        return await self._call("GetExperiment", request, experiment_pb2.GetExperimentResponse)

    async def create_experiment(
        self,
        *,
        config: str,
        model_definition: Sequence[util_pb2.File] = (),
        activate: bool = False,
        project_id: int = 0,
        parent_id: int = 0,
        validate_only: bool = False,
    ) -> experiment_pb2.CreateExperimentResponse:
        """Create an experiment from a YAML config and its model definition files (see
        :func:`protogw.clients.model_definition.pack_directory`); paused unless ``activate``."""
        request = experiment_pb2.CreateExperimentRequest(
            config=config,
            model_definition=model_definition,
            activate=activate,
            project_id=project_id,
            parent_id=parent_id,
            validate_only=validate_only,
        )
        return await self._call("CreateExperiment", request, experiment_pb2.CreateExperimentResponse)

    async def archive(self, *, id: int) -> None:
        """Archive a terminal experiment."""
        await self._call("ArchiveExperiment", experiment_pb2.ArchiveExperimentRequest(id=id), Message)

    async def unarchive(self, *, id: int) -> None:
        """Unarchive an archived experiment."""
        await self._call("UnarchiveExperiment", experiment_pb2.UnarchiveExperimentRequest(id=id), Message)

    async def activate(self, *, id: int) -> None:
        """Resume a paused experiment."""
        await self._call("ActivateExperiment", experiment_pb2.ActivateExperimentRequest(id=id), Message)

    async def pause(self, *, id: int) -> None:
        """Pause an active experiment."""
        await self._call("PauseExperiment", experiment_pb2.PauseExperimentRequest(id=id), Message)

    async def cancel(self, *, id: int) -> None:
        """Cancel an experiment (a no-op when it is already stopping or terminal)."""
        await self._call("CancelExperiment", experiment_pb2.CancelExperimentRequest(id=id), Message)

    async def kill(self, *, id: int) -> None:
        """Kill an experiment (a no-op when it is already stopping or terminal)."""
        await self._call("KillExperiment", experiment_pb2.KillExperimentRequest(id=id), Message)

    async def delete(self, *, id: int) -> None:
        """Delete a terminal experiment."""
        await self._call("DeleteExperiment", experiment_pb2.DeleteExperimentRequest(experiment_id=id), Message)

    async def patch_experiment(
        self,
        *,
        id: int,
        name: str | None = None,
        description: str | None = None,
        notes: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> experimentv1_pb2.Experiment:
        """Change the given fields only (``None`` leaves a field as it is; ``labels=[]`` clears them)."""
        patch = experimentv1_pb2.PatchExperiment(id=id)
        if name is not None:
            patch.name.value = name
        if description is not None:
            patch.description.value = description
        if notes is not None:
            patch.notes.value = notes
        if labels is not None:
            patch.labels.SetInParent()
            patch.labels.extend(list(labels))
        request = experiment_pb2.PatchExperimentRequest(experiment=patch)
        return (await self._call("PatchExperiment", request, experiment_pb2.PatchExperimentResponse)).experiment

    async def labels(self, *, project_id: int = 0) -> list[str]:
        """Every label in use, the most used first."""
        request = experiment_pb2.GetExperimentLabelsRequest(project_id=project_id)
        response = await self._call("GetExperimentLabels", request, experiment_pb2.GetExperimentLabelsResponse)
        return list(response.labels)

    async def add_label(self, *, id: int, label: str) -> list[str]:
        """Add one label to an experiment; returns its labels."""
        request = experiment_pb2.PutExperimentLabelRequest(experiment_id=id, label=label)
        response = await self._call("PutExperimentLabel", request, experiment_pb2.PutExperimentLabelResponse)
        return list(response.labels)

    async def remove_label(self, *, id: int, label: str) -> list[str]:
        """Remove one label from an experiment; returns its labels."""
        request = experiment_pb2.DeleteExperimentLabelRequest(experiment_id=id, label=label)
        response = await self._call("DeleteExperimentLabel", request, experiment_pb2.DeleteExperimentLabelResponse)
        return list(response.labels)

    # -- users ------------------------------------------------------------------------------------------

    async def users(
        self,
        *,
        name: str = "",
        active: bool | None = None,
        admin: bool | None = None,
        role_ids: Sequence[int] = (),
        sort_by: int = 0,
        order_by: int = 0,
        offset: int = 0,
        limit: int = 0,
    ) -> user_pb2.GetUsersResponse:
        """One page of users (``limit`` 0: all of them) with its pagination; ``role_ids`` keeps users
        with one of those roles assigned directly (``roleIdAssignedDirectlyToUser``)."""
        request = user_pb2.GetUsersRequest(
            name=name,
            role_id_assigned_directly_to_user=role_ids,
            sort_by=user_pb2.GetUsersRequest.SortBy.ValueType(sort_by),
            order_by=pagination_pb2.OrderBy.ValueType(order_by),
            offset=offset,
            limit=limit,
        )
        if active is not None:
            request.active = active
        if admin is not None:
            request.admin = admin
        return await self._call("GetUsers", request, user_pb2.GetUsersResponse)

    async def user_pages(
        self,
        *,
        name: str = "",
        active: bool | None = None,
        admin: bool | None = None,
        role_ids: Sequence[int] = (),
        sort_by: int = 0,
        order_by: int = 0,
        offset: int = 0,
        page_size: int = 0,
    ) -> AsyncGenerator[user_pb2.GetUsersResponse, None]:
        """Every page of matching users from ``offset`` on (``page_size`` 0: one page holding all)."""
        while True:
            page = await self.users(
                name=name,
                active=active,
                admin=admin,
                role_ids=role_ids,
                sort_by=sort_by,
                order_by=order_by,
                offset=offset,
                limit=page_size,
            )
            yield page
            next_offset = _next_offset(page.pagination, offset)
            if next_offset is None:
                return
            offset = next_offset

    async def user(self, *, id: int) -> userv1_pb2.User:
        """One user by id."""
        return (await self._call("GetUser", user_pb2.GetUserRequest(user_id=id), user_pb2.GetUserResponse)).user

    async def user_by_username(self, *, username: str) -> userv1_pb2.User:
        """One user by username."""
        request = user_pb2.GetUserByUsernameRequest(username=username)
        return (await self._call("GetUserByUsername", request, user_pb2.GetUserByUsernameResponse)).user

    async def create_user(
        self, *, username: str, password: str = "", admin: bool = False, active: bool = True, display_name: str = ""
    ) -> userv1_pb2.User:
        """Create a user (admins only); the password is hashed client-side as at login."""
        request = user_pb2.PostUserRequest(
            user=userv1_pb2.User(username=username, admin=admin, active=active, display_name=display_name),
            password=salt_and_hash(password),
            is_hashed=True,
        )
        return (await self._call("PostUser", request, user_pb2.PostUserResponse)).user

    async def patch_user(
        self,
        *,
        id: int,
        username: str | None = None,
        display_name: str | None = None,
        password: str | None = None,
        admin: bool | None = None,
        active: bool | None = None,
        remote: bool | None = None,
        agent_user_group: userv1_pb2.AgentUserGroup | None = None,
    ) -> userv1_pb2.User:
        """Change the given fields only (``None`` leaves a field as it is); a password is hashed
        client-side as at login; an empty ``agent_user_group`` clears it."""
        patch = userv1_pb2.PatchUser()
        if username is not None:
            patch.username = username
        if display_name is not None:
            patch.display_name = display_name
        if password is not None:
            patch.password = salt_and_hash(password)
            patch.is_hashed = True
        if admin is not None:
            patch.admin.value = admin
        if active is not None:
            patch.active.value = active
        if remote is not None:
            patch.remote = remote
        if agent_user_group is not None:
            patch.agent_user_group.CopyFrom(agent_user_group)
        request = user_pb2.PatchUserRequest(user_id=id, user=patch)
        return (await self._call("PatchUser", request, user_pb2.PatchUserResponse)).user

    async def set_password(self, *, id: int, password: str) -> userv1_pb2.User:
        """Set a user's password (``SetUserPassword``: admins, or users for themselves). This RPC takes
        the password in clear text (it has no ``is_hashed`` flag); the server hashes it."""
        request = user_pb2.SetUserPasswordRequest(user_id=id, password=password)
        return (await self._call("SetUserPassword", request, user_pb2.SetUserPasswordResponse)).user


def _next_offset(page: pagination_pb2.Pagination, offset: int) -> int | None:
    """Where the page after ``page`` starts, or ``None`` when it was the last one."""
    end = page.end_index
    # An end that does not move forward would loop for ever (e.g. rows deleted meanwhile).
    if end >= page.total or end <= offset or end <= page.start_index:
        return None
    return end


def _as(message: Message, cls: type[R]) -> R:
    # Transports build responses from the method's descriptor; for the generated modules that is the
    # same class, but a transport fed another pool's descriptors returns a lookalike, so re-parse it.
    if isinstance(message, cls):
        return message
    converted = cls()
    converted.ParseFromString(message.SerializeToString())
    return converted
