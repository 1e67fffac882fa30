"""Drive the Determined API through a client that openapi-python-client generated from the 3.1 document.

Run by tests/openapi/test_live.py in the generator's own environment (the generated code needs
httpx, attrs and python-dateutil, which that environment has)::

    python client_roundtrip.py PACKAGE_PARENT BASE_URL

``PACKAGE_PARENT`` holds the generated package ``determined_client``. Prints one JSON object per
step (``{"step": ..., "status": ..., "value": ...}``): every call goes through the generated
functions and models, and the values printed are read from the parsed models, so a schema the
client cannot parse fails here.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def main(parent: str, base: str) -> None:
    sys.path.insert(0, parent)
    pkg = "determined_client"
    api = f"{pkg}.api.determined."
    models = importlib.import_module(f"{pkg}.models")
    client_mod = importlib.import_module(f"{pkg}.client")

    def call(name: str) -> Any:
        return importlib.import_module(api + name).sync_detailed

    def emit(step: str, response: Any, value: Any) -> None:
        print(json.dumps({"step": step, "status": int(response.status_code), "value": value}), flush=True)

    anonymous = client_mod.Client(base_url=base, raise_on_unexpected_status=True)
    r = call("determined_login")(client=anonymous, body=models.DeterminedLoginBody(username="determined", password=""))
    emit("login", r, {"user": r.parsed.user.username, "has_token": bool(r.parsed.token)})
    client = client_mod.AuthenticatedClient(base_url=base, token=r.parsed.token, raise_on_unexpected_status=True)

    created = []
    for name in ("client-a", "client-b", "client-c"):
        r = call("determined_create_experiment")(
            client=client, body=models.DeterminedCreateExperimentBody(config=f"name: {name}\n")
        )
        created.append(r.parsed.experiment.id)
    emit("create", r, {"count": len(created)})

    r = call("determined_get_experiments")(
        client=client, name="client-", limit=2, offset=1, order_by=models.DeterminedApiV1OrderBy("ORDER_BY_ASC")
    )
    page = r.parsed.pagination
    emit(
        "list_page",
        r,
        {
            "names": [e.name for e in r.parsed.experiments],
            "offset": page.offset,
            "limit": page.limit,
            "total": page.total,
            "start": page.start_index,
            "end": page.end_index,
        },
    )

    first = created[0]
    r = call("determined_get_experiment")(first, client=client)
    emit(
        "get",
        r,
        {"id": r.parsed.experiment.id, "name": r.parsed.experiment.name, "state": str(r.parsed.experiment.state)},
    )

    r = call("determined_patch_experiment")(
        first,
        client=client,
        body=models.DeterminedExperimentV1PatchExperiment(name="client-renamed", description="via the 3.1 client"),
    )
    emit("patch", r, {"name": r.parsed.experiment.name, "description": r.parsed.experiment.description})

    r = call("determined_kill_experiment")(first, client=client)
    emit("kill", r, {})
    r = call("determined_archive_experiment")(first, client=client)
    emit("archive", r, r.parsed.to_dict())
    r = call("determined_get_experiments")(client=client, archived=True, name="client-renamed")
    emit(
        "list_archived",
        r,
        {"ids": [e.id for e in r.parsed.experiments], "archived": [e.archived for e in r.parsed.experiments]},
    )
    r = call("determined_unarchive_experiment")(first, client=client)
    emit("unarchive", r, r.parsed.to_dict())

    errors = client_mod.AuthenticatedClient(base_url=base, token=client.token, raise_on_unexpected_status=False)
    r = call("determined_unarchive_experiment")(first, client=errors)
    emit("unarchive_again", r, {"code": r.parsed.code, "message": r.parsed.message})
    r = call("determined_get_experiment")(987654, client=errors)
    emit("get_missing", r, {"code": r.parsed.code, "type": type(r.parsed).__name__})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
