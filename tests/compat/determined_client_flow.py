"""Drive a protogw server with Determined's own Python client (run inside a venv that has the
``determined`` package from PyPI, not ours).

Usage: ``python determined_client_flow.py MASTER_URL``. Prints one JSON object describing what the
client saw; ``test_determined_client.py`` asserts on it. Nothing here knows protogw: it is what a
Determined user's script does.
"""

from __future__ import annotations

import json
import sys

from determined.common import api
from determined.common.api import authentication, bindings, errors


def main(master: str) -> None:
    master = api.canonicalize_master_url(master)
    unauth = api.UnauthSession(master=master, cert=None, max_retries=None)
    out: dict[str, object] = {}

    info = bindings.get_GetMaster(unauth)
    out["master_version"] = info.version
    out["cluster_id"] = info.clusterId

    login = bindings.post_Login(
        unauth,
        body=bindings.v1LoginRequest(username="determined", password=authentication.salt_and_hash(""), isHashed=True),
    )
    out["login_user"] = login.user.username
    sess = api.Session(master=master, username="determined", token=login.token, cert=None, max_retries=None)

    me = bindings.get_GetMe(sess).user
    out["me"] = {"username": me.username, "admin": me.admin, "active": me.active}

    page = bindings.get_GetExperiments(sess, archived=True, limit=1)
    out["archived_page"] = page.pagination.to_json(True)
    out["archived_ids"] = [e.id for e in page.experiments]
    exp_id = page.experiments[0].id
    bindings.post_UnarchiveExperiment(sess, id=exp_id)
    got = bindings.get_GetExperiment(sess, experimentId=exp_id).experiment
    out["after_unarchive"] = {"id": got.id, "archived": got.archived, "state": got.state.value}

    try:
        bindings.post_UnarchiveExperiment(sess, id=exp_id)
        out["second_unarchive"] = "no error"
    except errors.APIException as exc:
        # Determined's client reads the message from the {"error": {"error": ...}} envelope.
        out["second_unarchive"] = {"status": exc.status_code, "message": str(exc)}

    try:
        bindings.get_GetExperiment(sess, experimentId=987654)
        out["missing_experiment"] = "no error"
    except errors.NotFoundException as exc:
        out["missing_experiment"] = str(exc)

    everything = bindings.get_GetExperiments(sess, limit=-1, orderBy=bindings.v1OrderBy.DESC)
    out["all_ids_desc"] = [e.id for e in everything.experiments]

    bindings.post_Logout(sess)
    try:
        bindings.get_GetMe(sess)
        out["after_logout"] = "no error"
    except errors.UnauthenticatedException:
        out["after_logout"] = "unauthenticated"
    except errors.BadRequestException as exc:
        out["after_logout"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
