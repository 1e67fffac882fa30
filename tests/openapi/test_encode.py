"""Key order, pruning and serialisation (protogw.openapi._encode)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from protogw.openapi import dumps, normalize


def _doc(**extra: Any) -> dict[str, Any]:
    return {"paths": {}, "definitions": {}, "info": {"version": "v", "title": "t"}, "swagger": "2.0", **extra}


ORDER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "root",
        _doc(produces=["a"], consumes=["a"], tags=[{"name": "x"}]),
        ["swagger", "info", "tags", "consumes", "produces", "paths", "definitions"],
    ),
    ("info", _doc()["info"], ["title", "version"]),
    (
        "schema",
        {
            "definitions": {
                "d": {
                    "required": ["a"],
                    "title": "T",
                    "x-z": 1,
                    "properties": {"a": {"type": "string"}},
                    "type": "object",
                    "x-a": 2,
                }
            }
        },
        ["type", "properties", "title", "required", "x-a", "x-z"],
    ),
    (
        "operation",
        {
            "paths": {
                "/p": {
                    "get": {
                        "tags": ["t"],
                        "responses": {},
                        "operationId": "o",
                        "summary": "s",
                        "parameters": [{"in": "query", "name": "q", "required": False, "type": "string"}],
                    }
                }
            }
        },
        ["summary", "operationId", "responses", "parameters", "tags"],
    ),
]


def _pick(doc: dict[str, Any], case: str) -> dict[str, Any]:
    if case == "root":
        return doc
    if case == "info":
        return doc["info"]
    if case == "schema":
        return doc["definitions"]["d"]
    return doc["paths"]["/p"]["get"]


@pytest.mark.parametrize(("case", "obj", "keys"), ORDER_CASES)
def test_key_order(case: str, obj: dict[str, Any], keys: list[str]) -> None:
    doc = obj if case == "root" else _doc(**({"info": obj} if case == "info" else obj))
    assert list(_pick(normalize(doc), case)) == keys


PRUNE_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    # Empty strings, False and zero are dropped like Go's omitempty; pointers to empty values are kept.
    (
        {"type": "object", "title": "", "readOnly": False, "maxLength": 0, "properties": {}},
        {"type": "object", "properties": {}},
    ),
    (
        {"type": "string", "default": 0, "enum": [], "example": False},
        {"type": "string", "default": 0, "enum": [], "example": False},
    ),
    ({"$ref": "#/definitions/x", "description": None}, {"$ref": "#/definitions/x"}),
]


@pytest.mark.parametrize(("schema", "expected"), PRUNE_CASES)
def test_pruning(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert normalize(_doc(definitions={"d": schema}))["definitions"]["d"] == expected


def test_parameter_required_is_always_written() -> None:
    op = {
        "operationId": "o",
        "responses": {"200": {"description": "ok"}},
        "parameters": [{"name": "q", "in": "query", "required": False, "type": "string"}],
    }
    out = normalize(_doc(paths={"/p": {"get": op}}))["paths"]["/p"]["get"]
    assert out["parameters"][0]["required"] is False
    assert out["responses"]["200"] == {"description": "ok", "schema": {}}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a<b>&c", '"a\\u003cb\\u003e\\u0026c"'),  # Go's HTML-safe escaping
        ("é", '"é"'),  # non-ASCII stays UTF-8
        (100.0, "100"),  # integral floats without a fraction
        (0.5, "0.5"),
        (True, "true"),
    ],
)
def test_json_scalars(value: Any, encoded: str) -> None:
    text = dumps(_doc(**{"x-v": value}))
    assert f'"x-v": {encoded}' in text
    assert text.endswith("}\n")
    assert json.loads(text)["x-v"] == value


def test_yaml_round_trips() -> None:
    doc = normalize(_doc(tags=[{"name": "a", "description": "b: c"}], **{"x-n": 1.0}))
    text = dumps(doc, "yaml")
    assert "tags:\n  - name: a\n" in text
    assert yaml.safe_load(text) == {**doc, "x-n": 1}
