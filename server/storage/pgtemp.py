"""A throwaway PostgreSQL server for tests, benchmarks and local trials.

If ``PROTOGW_TEST_POSTGRES_URL`` is set (CI starts a server and exports it), that server is used.
Otherwise a private cluster is created with ``initdb`` in a temporary directory and started on a
free port. ``initdb`` refuses to run as root, so as root the commands run through
``runuser -u postgres``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "PROTOGW_TEST_POSTGRES_URL"
PG_BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14")]


class PostgresUnavailable(RuntimeError):
    """No server is configured and none can be started on this machine."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server; ``admin_url`` points at its ``postgres`` database."""

    host: str
    port: int
    user: str

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh, uniquely named database and return its name."""
        name = "t_" + uuid.uuid4().hex[:16]
        _psql(self, f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        _psql(self, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(server: PostgresServer, sql: str) -> None:
    psql = shutil.which("psql") or _find_bin("psql")
    subprocess.run(
        [psql, "-h", server.host, "-p", str(server.port), "-U", server.user, "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


def _find_bin(name: str) -> str:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if found:
        return found
    raise PostgresUnavailable(f"{name} not found; install PostgreSQL or set {ENV_URL}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _from_env(url: str) -> PostgresServer:
    # postgresql://user@host:port/db (password-less trust auth, as the CI cluster uses)
    rest = url.split("://", 1)[1]
    userhost, _, _db = rest.partition("/")
    user, _, hostport = userhost.rpartition("@")
    host, _, port = hostport.partition(":")
    return PostgresServer(host=host or "127.0.0.1", port=int(port or 5432), user=user or "postgres")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Yield a running server: the configured one, or a private cluster torn down afterwards."""
    url = os.environ.get(ENV_URL)
    if url:
        yield _from_env(url)
        return
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="protogw-pg-"))
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
    data, port = tmp / "data", _free_port()
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True,
            capture_output=True,
        )
        opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-l", str(tmp / "log"), "-w", "-t", "60", "start", "-o", opts],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc} {detail.decode(errors='replace')}") from exc
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
