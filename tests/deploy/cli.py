"""What the deployment files may ask of the ``protogw`` CLI, read from the CLI itself (its typer app).

The Dockerfile, docker-compose.yml and the Kubernetes manifests start ``protogw`` with arguments and
``PROTOGW_*`` variables; these helpers parse such an invocation with the real command's parser (so an
unknown command, a misspelt option, a bad value or a missing file is an error) and list the variables
the CLI declares.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

import typer.main

# typer 0.29 carries its own copy of click; its commands are instances of these classes.
from typer import _click as click

from protogw.server.cli import app

ROOT = Path(__file__).resolve().parents[2]
# The image's WORKDIR; the Dockerfile copies the repository's folders into it.
IMAGE_WORKDIR = "/app/"


def command() -> click.Command:
    return typer.main.get_command(app)


def subcommands(cmd: click.Command) -> dict[str, click.Command]:
    found: dict[str, click.Command] = getattr(cmd, "commands", {})
    return found


def declared_envvars() -> set[str]:
    """Every environment variable an option or argument of any ``protogw`` command reads."""
    found: set[str] = set()

    def walk(cmd: click.Command) -> None:
        for param in cmd.params:
            envvar = param.envvar
            if isinstance(envvar, str):
                found.add(envvar)
            elif envvar:
                found.update(envvar)
        for sub in subcommands(cmd).values():
            walk(sub)

    walk(command())
    return found


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run with exactly these ``PROTOGW_*`` variables (the rest of the environment is kept)."""
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("PROTOGW_")]:
            del os.environ[name]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def image_path(value: str) -> str:
    """A path inside the image (under its WORKDIR) as the file of the repository it was copied from."""
    return str(ROOT / value.removeprefix(IMAGE_WORKDIR)) if value.startswith(IMAGE_WORKDIR) else value


def _local(arg: str) -> str:
    name, sep, value = arg.partition("=")
    return f"{name}={image_path(value)}" if sep else image_path(arg)


def parse(args: list[str], env: Mapping[str, str] | None = None) -> click.Context:
    """Parse ``protogw ARGS`` with ``env`` as its environment, as the CLI would; raises on any error.

    Paths inside the image are read from the repository, so a file the image lacks is an error too."""
    name, *rest = args
    sub = subcommands(command()).get(name)
    assert sub is not None, f"protogw has no command {name!r}"
    with environment(env or {}):
        return sub.make_context(f"protogw {name}", [_local(arg) for arg in rest])


def shell_invocations(script: str) -> list[list[str]]:
    """The ``protogw ...`` argument lists of a ``sh -c`` script (commands split on ``&&``, ``;``, ``|``;
    redirections dropped)."""
    words = shlex.split(script.replace("&&", " ; ").replace("|", " ; "))
    commands: list[list[str]] = [[]]
    for word in words:
        if word == ";" or word.endswith(";"):
            if word != ";":
                commands[-1].append(word[:-1])
            commands.append([])
        else:
            commands[-1].append(word)
    found: list[list[str]] = []
    for cmd in commands:
        cmd = [w for i, w in enumerate(cmd) if not w.startswith(">") and (i == 0 or not cmd[i - 1].startswith(">"))]
        if cmd and cmd[0] == "protogw":
            found.append(cmd[1:])
    return found
