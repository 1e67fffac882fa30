"""The README walk-through: seed a fresh database, then drive it over gRPC as a Determined client would."""

from __future__ import annotations

import pytest
from google.protobuf import wrappers_pb2

from protogw.gen.determined.api.v1 import auth_pb2
from protogw.gen.determined.api.v1 import experiment_pb2 as api_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as exp_pb2
from protogw.server.security import client_side_hash
from protogw.server.seed import WALKTHROUGH, AlreadySeeded, seed_walkthrough
from protogw.server.storage.store import Store
from tests.server.harness import bearer, running


async def test_seed_flow(database_url: str) -> None:
    store = Store(database_url)
    await store.start()
    try:
        ids = await seed_walkthrough(store)
        assert len(ids) == len(WALKTHROUGH)
        with pytest.raises(AlreadySeeded):
            await seed_walkthrough(store)
    finally:
        await store.close()

    async with running(database_url) as api:
        # Determined's CLI logs in with the client-side hash of the (empty) password.
        login = await api.stub.Login(
            auth_pb2.LoginRequest(username="determined", password=client_side_hash(""), is_hashed=True)
        )
        md = bearer(login.token)
        archived = wrappers_pb2.BoolValue(value=True)
        listed = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(archived=archived, limit=1), metadata=md)
        p = listed.pagination
        assert (p.offset, p.limit, p.start_index, p.end_index, p.total) == (0, 1, 0, 1, 1)
        (only,) = listed.experiments
        assert (only.state, only.archived, only.HasField("end_time")) == (exp_pb2.STATE_COMPLETED, True, True)
        await api.stub.UnarchiveExperiment(api_pb2.UnarchiveExperimentRequest(id=only.id), metadata=md)
        after = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(archived=archived), metadata=md)
        assert after.pagination.total == 0
        everything = await api.stub.GetExperiments(api_pb2.GetExperimentsRequest(), metadata=md)
        states = {e.state for e in everything.experiments}
        assert len(states) >= 4
        assert everything.pagination.total == len(WALKTHROUGH)
