"""``protogw client``: a command for every RPC of the Determined API, over REST or gRPC.

    protogw client --api http://127.0.0.1:8080 login determined
    protogw client experiments --archived --limit 5          # = experiments list ...
    protogw client experiments create const.yaml ./model_def
    protogw client users create alice --password s3cret
    protogw client --grpc 127.0.0.1:8081 master logs --follow

It is a thin layer over :class:`~protogw.clients.determined.DeterminedClient`. ``--api URL`` talks
REST, ``--grpc HOST:PORT`` talks gRPC (``PROTOGW_API`` / ``PROTOGW_GRPC``); with neither, REST on
Determined's default address. ``login`` keeps the token in ``$XDG_CACHE_HOME/protogw/tokens.json``
(``~/.cache`` by default), keyed by server address, so later commands against the same server are
authenticated.

Commands (RPC in brackets): ``login`` [Login], ``logout`` [Logout], ``me`` [GetMe], ``whoami``
[CurrentUser]; ``master`` / ``master info`` [GetMaster], ``master logs [--follow]`` [MasterLogs];
``experiments`` / ``experiments list`` [GetExperiments], ``experiments describe`` [GetExperiment],
``create`` [CreateExperiment], ``patch`` [PatchExperiment], ``delete`` [DeleteExperiment],
``archive``/``unarchive``/``activate``/``pause``/``cancel``/``kill`` [the matching RPCs],
``label add``/``label remove`` [PutExperimentLabel/DeleteExperimentLabel], ``labels``
[GetExperimentLabels]; ``archive``/``unarchive`` also at the top level; ``users`` / ``users list``
[GetUsers], ``users describe`` [GetUser, GetUserByUsername], ``users create`` [PostUser], ``users
patch`` [PatchUser], ``users set-password`` [SetUserPassword].

Output: tables sized to the terminal, or ``--json`` / ``--yaml``; listings that read every page show
a progress bar on stderr when it is a terminal (``--progress``/``--no-progress`` to choose).

Exit status: 0 success; 1 a failure with no more specific status; 2 a usage error (bad option or
argument, unreadable config file or model directory); then by the server's error class (the same
over REST and gRPC): 3 unauthenticated, 4 permission denied, 5 not found, 6 already exists or
aborted, 7 invalid argument or out of range, 8 failed precondition, 9 unavailable (includes a server
that cannot be reached), 10 deadline exceeded (``--timeout``), 11 resource exhausted, 12
unimplemented; 130 interrupted (Ctrl-C). See :data:`EXIT_CODES`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from protogw.clients.cli import _auth, _experiments, _master, _users
from protogw.clients.cli._output import from_command_line
from protogw.clients.cli._session import (
    DEFAULT_API,
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Target,
    exit_code_for,
    token_cache_path,
)

__all__ = [
    "DEFAULT_API",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "exit_code_for",
    "token_cache_path",
]

app = typer.Typer(no_args_is_help=True, help="Call a Determined-compatible master.")


@app.callback()
def options(
    ctx: typer.Context,
    api: Annotated[str | None, typer.Option("--api", envvar="PROTOGW_API", help="REST base URL.")] = None,
    grpc_target: Annotated[
        str | None, typer.Option("--grpc", envvar="PROTOGW_GRPC", help="gRPC address HOST:PORT (instead of REST).")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", envvar="PROTOGW_TIMEOUT", min=0.0, help="Seconds each call may take.")
    ] = 30.0,
) -> None:
    """Call a Determined-compatible master over REST (--api) or gRPC (--grpc)."""
    if api and grpc_target:
        # A flag on the command line beats the other transport's environment variable.
        api_flag, grpc_flag = from_command_line(ctx, "api"), from_command_line(ctx, "grpc_target")
        if api_flag == grpc_flag:
            raise typer.BadParameter("give either --api or --grpc, not both")
        api, grpc_target = (api, None) if api_flag else (None, grpc_target)
    ctx.obj = Target(api=None if grpc_target else (api or DEFAULT_API), grpc=grpc_target, timeout=timeout)


_auth.register(app)
app.add_typer(_master.app, name="master")
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_users.app, name="users")
# Today's top-level shortcuts, kept: `archive ID` and `unarchive ID`.
for _name, _method, _done, _doc in _experiments.LIFECYCLE[:2]:
    app.command(_name)(_experiments.lifecycle(_method, _done, _doc))
