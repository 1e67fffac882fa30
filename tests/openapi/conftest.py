"""Fixtures for the OpenAPI tests: the test descriptor set, the golden-file switch and the client
generator (openapi-python-client in its own environment, tests/openapi/client_generator.py).

Regenerate the golden files with ``pytest tests/openapi --update-golden`` (or with
``PROTOGW_UPDATE_GOLDEN=1`` when running from another directory, where this conftest's option is not
registered), then review the diff.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from protogw.openapi import read_descriptor_set
from tests.openapi import client_generator as _generator

GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False, help="rewrite tests/openapi/golden")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    flag = bool(request.config.getoption("--update-golden", default=False))
    return flag or os.environ.get("PROTOGW_UPDATE_GOLDEN", "") not in ("", "0")


@pytest.fixture(scope="session")
def testing_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """Every file of tests/gen/descriptors/testing.binpb (kitchen sink + openapitest, with imports)."""
    data = importlib.resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes()
    return read_descriptor_set(data)


@pytest.fixture(scope="session")
def client_generator() -> _generator.ClientGenerator:
    """openapi-python-client, installed into ``.venv-openapi-client`` on first use."""
    return _generator.client_generator()
