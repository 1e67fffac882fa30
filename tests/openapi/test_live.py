"""The generated documents against the live stack: Swagger UI in headless Chromium (Try it out on
GetExperiments with a token from Login), a client generated from the 3.1 document with
openapi-python-client driving the API, then schemathesis through the REST gateway from the 2.0 and
the 3.1 document (defined last because their generated calls change the data).

One stack for the module (tests/openapi/live_server.py in a subprocess, SQLite, every port 0).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.openapi.client_generator import ClientGenerator

# Every test here needs the live stack (a subprocess) and takes seconds; the brief groups them as browser tests.
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Live:
    base: str
    token: str


def _wait_ready(proc: subprocess.Popen[str], timeout: float) -> int:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        raise RuntimeError("live server did not start in time")
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        raise RuntimeError(f"live server failed to start: {line!r}")
    return int(line.split()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db = tmp_path_factory.mktemp("live") / "protogw.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.openapi.live_server", f"sqlite+aiosqlite:///{db}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        port = _wait_ready(proc, 60)
        base = f"http://127.0.0.1:{port}"
        login = httpx.post(f"{base}/api/v1/auth/login", json={"username": "determined", "password": ""}, timeout=10)
        login.raise_for_status()
        token = login.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(3):
            created = httpx.post(
                f"{base}/api/v1/experiments", json={"config": f"name: live-{i}\n"}, headers=auth, timeout=10
            )
            created.raise_for_status()
        yield Live(base, token)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_swagger_ui_try_it_out(live: Live, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1600},
        )
        try:
            page = context.new_page()
            page.goto(f"{live.base}/docs/rest-api/")
            # Operations are grouped under the document's tags.
            tags = page.locator(".opblock-tag-section h3 .opblock-tag, .opblock-tag-section h3")
            expect(tags.first).to_be_visible(timeout=20_000)
            names = {t.strip() for t in page.locator(".opblock-tag-section h3").all_inner_texts()}
            for tag in ("Authentication", "Users", "Cluster", "Experiments"):
                assert any(n.startswith(tag) for n in names), names
            page.screenshot(path=str(ARTIFACTS / "swagger-ui-tags.png"), full_page=False)

            # Authorise with "Bearer <token>" pasted into the BearerToken apiKey.
            page.locator("button.authorize").first.click()
            dialog = page.locator(".dialog-ux .modal-ux")
            dialog.locator("input").first.fill(f"Bearer {live.token}")
            dialog.locator("button.authorize").click()
            dialog.locator("button.btn-done").click()

            # Try it out on GetExperiments and read the JSON the page shows.
            op = page.locator("#operations-Experiments-GetExperiments")
            op.locator(".opblock-summary").click()
            op.locator("button.try-out__btn").click()
            op.locator("button.execute").click()
            body = op.locator(".live-responses-table .response-col_description pre.microlight").first
            expect(body).to_be_visible(timeout=20_000)
            status = op.locator(".live-responses-table .response .response-col_status").first.inner_text()
            data = json.loads(body.inner_text())
            page.screenshot(path=str(ARTIFACTS / "swagger-ui-get-experiments.png"), full_page=False)
            assert status.strip() == "200", status
            # The page shows what the API returns for the same call.
            direct = httpx.get(
                f"{live.base}/api/v1/experiments", headers={"Authorization": f"Bearer {live.token}"}, timeout=10
            )
            assert [e["id"] for e in data["experiments"]] == [e["id"] for e in direct.json()["experiments"]]
            assert data["pagination"] == direct.json()["pagination"]
            assert data["pagination"]["total"] >= 3
        finally:
            context.close()


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory: pytest.TempPathFactory, client_generator: ClientGenerator) -> tuple[Path, Path]:
    """(python of the generator environment, folder holding the generated ``determined_client``)."""
    parent = tmp_path_factory.mktemp("client")
    output = client_generator.generate(ROOT / "gen" / "openapi" / "api.openapi.json", parent / "determined_client")
    # Every operation of the document became a function: nothing was skipped with a warning.
    assert "will not be generated" not in output, output
    return client_generator.python, parent


# step -> (HTTP status, value read from the parsed model); "*" stands for ids assigned at run time.
CLIENT_STEPS: list[tuple[str, int, Any]] = [
    ("login", 200, {"user": "determined", "has_token": True}),
    ("create", 200, {"count": 3}),
    (
        "list_page",
        200,
        {"names": ["client-b", "client-c"], "offset": 1, "limit": 2, "total": 3, "start": 1, "end": 3},
    ),
    ("get", 200, {"id": "*", "name": "client-a", "state": "STATE_PAUSED"}),
    ("patch", 200, {"name": "client-renamed", "description": "via the 3.1 client"}),
    ("kill", 200, {}),
    ("archive", 200, {}),
    ("list_archived", 200, {"ids": "*", "archived": [True]}),
    ("unarchive", 200, {}),
    ("unarchive_again", 400, {"code": 9, "message": "Experiment is not archived."}),
    ("get_missing", 404, {"code": 5, "type": "GoogleRpcStatus"}),
]


def test_generated_client_round_trip(live: Live, generated_client: tuple[Path, Path]) -> None:
    """The upstream oracle idea in Python: a client generated from the 3.1 document drives the
    real gateway (login, a filtered and paginated list, get, patch, kill, archive/unarchive, errors)."""
    python, parent = generated_client
    result = subprocess.run(
        [str(python), str(Path(__file__).with_name("client_roundtrip.py")), str(parent), live.base],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines() if line]
    assert [s["step"] for s in steps] == [name for name, _, _ in CLIENT_STEPS]
    for got, (name, status, value) in zip(steps, CLIENT_STEPS, strict=True):
        assert got["status"] == status, (name, got)
        expected = (
            value
            if not isinstance(value, dict)
            else {k: got["value"].get(k) if v == "*" else v for k, v in value.items()}
        )
        assert got["value"] == expected, (name, got)
    assert len(steps[7]["value"]["ids"]) == 1
    assert steps[7]["value"]["ids"][0] == steps[3]["value"]["id"]


DOCUMENT = json.loads((ROOT / "gen" / "openapi" / "api.swagger.json").read_text())
DOCUMENT_V3 = json.loads((ROOT / "gen" / "openapi" / "api.openapi.json").read_text())


def _is_stream(op: dict[str, Any]) -> bool:
    return str(op["responses"].get("200", {}).get("schema", {}).get("title", "")).startswith("Stream result of")


def _operation_ids(streaming: bool) -> list[str]:
    """Operations of the committed Determined document (the tables the conformance tests run)."""
    ops = [op for item in DOCUMENT["paths"].values() for op in item.values() if _is_stream(op) == streaming]
    # Logout would end the token every other call uses; the server's own tests cover it.
    return sorted(op["operationId"] for op in ops if op["operationId"] != "Logout")


@pytest.fixture(scope="module")
def live_schema(live: Live) -> Any:
    """The document as the live server serves it, loaded by schemathesis."""
    return schemathesis.openapi.from_url(f"{live.base}/api/v1/api.swagger.json")


@pytest.mark.parametrize("operation_id", _operation_ids(streaming=False))
def test_api_conforms(operation_id: str, live: Live, live_schema: Any) -> None:
    """Schemathesis' default checks on generated requests: no 5xx, documented status codes and
    content types, response bodies that match the document's schemas, invalid input rejected.

    Left out: positive_data_acceptance, which wants every schema-valid request accepted; business
    rules (a limit of -175, an empty username, archiving a running experiment) rightly answer 400
    for input the Swagger 2.0 types cannot rule out.
    """
    operation = live_schema.find_operation_by_id(operation_id)
    headers = {"Authorization": f"Bearer {live.token}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, timeout=10, excluded_checks=[positive_data_acceptance])

    check()


@pytest.mark.parametrize("operation_id", _operation_ids(streaming=True))
def test_stream_lines_match_the_wrapper(operation_id: str, live: Live, live_schema: Any) -> None:
    """A server stream is newline-delimited JSON, which schemathesis cannot parse as one document:
    check each line against the documented ``{"result": ..., "error": ...}`` wrapper instead."""
    operation = live_schema.find_operation_by_id(operation_id)
    op = DOCUMENT["paths"][operation.path][operation.method.lower()]
    schema = {**op["responses"]["200"]["schema"], "definitions": DOCUMENT["definitions"]}
    validator = jsonschema.Draft4Validator(schema)
    url = live.base + operation.path
    response = httpx.request(
        operation.method.upper(), url, headers={"Authorization": f"Bearer {live.token}"}, timeout=10
    )
    assert response.status_code == 200
    lines = [line for line in response.text.split("\n") if line]
    assert lines
    for line in lines:
        validator.validate(json.loads(line))


def _operation_ids_v3() -> list[str]:
    """Unary operations of the committed 3.1 document (streams are checked line by line above)."""
    ops = [
        op
        for item in DOCUMENT_V3["paths"].values()
        for op in item.values()
        if "properties" not in op["responses"]["200"]["content"]["application/json"]["schema"]
        or "result" not in op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    ]
    return sorted(op["operationId"] for op in ops if op["operationId"] != "Determined_Logout")


@pytest.fixture(scope="module")
def live_schema_v3(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.base}/api/v1/api.openapi.json")


@pytest.mark.parametrize("operation_id", _operation_ids_v3())
def test_api_conforms_v3(operation_id: str, live: Live, live_schema_v3: Any) -> None:
    """The same checks as test_api_conforms, from the 3.1 document (JSON Schema 2020-12 types,
    nullable messages, oneOf for proto oneofs)."""
    operation = live_schema_v3.find_operation_by_id(operation_id)
    headers = {"Authorization": f"Bearer {live.token}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, timeout=10, excluded_checks=[positive_data_acceptance])

    check()
