"""Run a table of calls through a client that openapi-python-client generated from protogw's 3.1
document of grpc-gateway's ``a_bit_of_everything.proto``.

Run by tests/openapi/test_abe_client.py in the generator's own environment (the generated code needs
httpx, attrs and python-dateutil)::

    python abe_client_roundtrip.py PACKAGE_PARENT BASE_URL < steps.json

``PACKAGE_PARENT`` holds the generated package ``abe_client``. Each step names a generated function
(``a_bit_of_everything_service_<call>.sync_detailed``), its arguments and the attributes to read from
the parsed response; one JSON line per step is printed: ``{"step", "status", "read": {path: value}}``.

Arguments are JSON, with markers for what the generated functions take as typed values:
``{"$enum": Class, "value": v}`` (an enum model), ``{"$datetime": iso}``, ``{"$model": Class, "data":
{...}}`` (a model built with ``Class.from_dict``, the generated parser) and ``"$ref:step.path"`` (a
value an earlier step read). Read paths are attribute chains (``single_nested.name``, ``nested.1.ok``)
or ``$type`` (the parsed model's class) or ``$dict`` (its ``to_dict()``). Values come back typed:
``enum:ONE`` for an enum member, ``datetime:...`` for a datetime, ``<unset>`` for ``UNSET``, a model's
``to_dict()``; so a field the client parsed into the wrong type shows.
"""

from __future__ import annotations

import datetime
import enum
import importlib
import json
import sys
from typing import Any


def main(parent: str, base: str) -> None:
    sys.path.insert(0, parent)
    pkg = "abe_client"
    api = f"{pkg}.api.a_bit_of_everything_service.a_bit_of_everything_service_"
    models = importlib.import_module(f"{pkg}.models")
    types = importlib.import_module(f"{pkg}.types")
    client = importlib.import_module(f"{pkg}.client").Client(base_url=base, raise_on_unexpected_status=True)
    read_so_far: dict[str, dict[str, Any]] = {}

    def value_of(spec: Any) -> Any:
        if isinstance(spec, list):
            return [value_of(v) for v in spec]
        if isinstance(spec, str) and spec.startswith("$ref:"):
            step, _, path = spec[len("$ref:") :].partition(".")
            return read_so_far[step][path]
        if not isinstance(spec, dict):
            return spec
        if "$enum" in spec:
            return getattr(models, spec["$enum"])(spec["value"])
        if "$datetime" in spec:
            return datetime.datetime.fromisoformat(spec["$datetime"])
        if "$model" in spec:
            return getattr(models, spec["$model"]).from_dict(spec["data"])
        return {k: value_of(v) for k, v in spec.items()}

    def attribute(obj: Any, path: str) -> Any:
        if path == "$type":
            return type(obj).__name__
        if path == "$dict":
            return obj.to_dict()
        for part in path.split("."):
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        return obj

    def shown(value: Any) -> Any:
        if isinstance(value, types.Unset):
            return "<unset>"
        if isinstance(value, enum.Enum):
            return f"enum:{value.value}"
        if isinstance(value, datetime.datetime):
            return f"datetime:{value.isoformat()}"
        if isinstance(value, list):
            return [shown(v) for v in value]
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return value

    for step in json.load(sys.stdin):
        function = importlib.import_module(api + step["call"]).sync_detailed
        args = [value_of(a) for a in step.get("args", [])]
        kwargs = {k: value_of(v) for k, v in step.get("kwargs", {}).items()}
        response = function(*args, client=client, **kwargs)
        raw = {path: attribute(response.parsed, path) for path in step.get("read", [])}
        read_so_far[step["step"]] = raw
        line = {
            "step": step["step"],
            "status": int(response.status_code),
            "read": {k: shown(v) for k, v in raw.items()},
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
