"""The cluster's lease and what /healthz says of a sharded process, without a gateway: a real
database (each backend in turn) and the real health server."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.cluster import Cluster, ClusterUnavailableError
from bot.health import HealthServer
from bot.metrics import Metrics
from tests.harness import eventually
from tests.postgres import Backend


async def test_a_process_that_cannot_renew_its_lease_refuses_jobs(backend: Backend) -> None:
    db = await backend.open()
    cluster = Cluster(db.cluster, member="shards:0", max_slots=2, max_per_user=2, lease_s=1.0)
    assert not cluster.connected  # not registered yet
    await cluster.register()
    cluster.check_connected()
    await cluster.renew()
    assert cluster.connected
    await db.close()  # the database is gone: renewals fail until the lease runs out
    await cluster.renew()
    await eventually(lambda: not cluster.connected, 30, "the lease to lapse")
    with pytest.raises(ClusterUnavailableError) as refused:
        cluster.check_connected()
    assert refused.value.user_message == (
        "The bot cannot reach its database right now, so it is not taking new images. You were "
        "not charged. Try again in a few minutes."
    )


async def test_healthz_of_a_sharded_process_names_its_shards_and_the_database() -> None:
    cut_off = False
    shards: list[dict[str, object]] = [
        {"id": 2, "latency": 0.05, "connected": True},
        {"id": 3, "latency": None, "connected": False},
    ]

    async def ping() -> bool:
        return True

    health = HealthServer(
        0,
        is_gateway_connected=lambda: True,
        db_ping=ping,
        metrics=Metrics(),
        shards=lambda: shards,
        is_cluster_connected=lambda: not cut_off,
    )
    async with health, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{health.port}/healthz"
        async with session.get(url) as response:
            assert response.status == 200
            assert json.loads(await response.read()) == {
                "status": "ok",
                "database": "ok",
                "shards": shards,
            }
        cut_off = True
        async with session.get(url) as response:
            assert response.status == 503
            body = json.loads(await response.read())
        assert body["reason"] == "cut off from the database: not taking jobs"
        assert body["database"] == "unavailable"
        assert body["shards"] == shards
