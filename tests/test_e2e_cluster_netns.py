"""Two hosts, simulated with network namespaces, each running one of two shards on one
PostgreSQL server; then one host is cut off from the database by the network.

The bots run as ``ip netns exec <host> python -m bot`` and reach PostgreSQL, the fake Discord
and the fake AI/ML API over their own links, at the root side's address on the test's network
(tests/netns.py). The cut is a drop rule in the host's namespace: its packets to and from the
database vanish, as in a real partition, while it still reaches Discord.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord import DEFAULT_GUILD_ID
from tests.harness import BotProcess, Stack, eventually, fake_stack
from tests.netns import Host, Network, network, unavailable
from tests.postgres import HOW_TO_GET, PostgresServer, find_bindir, postgres_server
from tests.test_e2e_cluster import (
    ENV,
    GUILD_ZERO,
    corrections,
    db_rows,
    member,
    start_both,
    submit,
    two_shards_guilds,
)
from tests.test_e2e_cluster_postgres import (
    images,
    refunds_logged,
    says_cut_off_and_refuses,
    usage,
)
from tests.test_e2e_stale import corrected, job_of

# CI installs root's tools and PostgreSQL: there these tests fail rather than skip.
pytestmark = pytest.mark.ci_required

HEALTH_PORT = 8080  # each host has its own addresses: both may use the same port


class HostedBot(BotProcess):
    """``python -m bot`` on one simulated host, reaching everything over its link."""

    def __init__(self, stack: Stack, host: Host, **overrides: str) -> None:
        super().__init__(stack, **overrides)
        self.host = host

    def command(self) -> list[str]:
        return self.host.command(super().command())

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        url = f"http://{self.host.address.ip}:{HEALTH_PORT}/healthz"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(url) as response,
        ):
            return response.status, await response.json()

    async def healthy(self, timeout: float) -> None:
        """Wait until /healthz says ok (each probe waits on the database up to its timeout)."""
        deadline = time.monotonic() + timeout
        while (status := (await self.healthz())[0]) != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"/healthz still {status} after {timeout} s")
            await asyncio.sleep(0.2)


@pytest.fixture
def net() -> Iterator[Network]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with network("a", "b") as made:
        yield made


@pytest.fixture
def server(net: Network) -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(HOW_TO_GET)
    with postgres_server(bindir, also_on=net.root) as made:
        yield made


@pytest.fixture
async def stack(tmp_path: Path, net: Network, server: PostgresServer) -> AsyncIterator[Stack]:
    guilds = two_shards_guilds()  # the default guild is host b's, GUILD_ZERO host a's
    async with fake_stack(tmp_path, host=str(net.root.ip), guilds=guilds, shards=2) as s:
        s.overrides["DATABASE_URL"] = await server.create_database()  # the test's own view
        yield s


@pytest.fixture
def hosts(stack: Stack, net: Network, server: PostgresServer) -> Iterator[dict[int, HostedBot]]:
    """Host a runs shard 0, host b shard 1; not started."""
    url = stack.overrides["DATABASE_URL"].replace("@127.0.0.1:", f"@{net.root.ip}:")
    bots = {
        shard: HostedBot(
            stack,
            net.hosts[label],
            **ENV,
            SHARD_IDS=str(shard),
            DATABASE_URL=url,
            HEALTH_HOST=str(net.hosts[label].address.ip),
            HEALTH_PORT=str(HEALTH_PORT),
        )
        for shard, label in ((0, "a"), (1, "b"))
    }
    yield bots
    for bot in bots.values():
        bot.close()


def job_id_of(rows: list[dict[str, Any]], prompt: str) -> int:
    (job_id,) = [r["id"] for r in rows if r["prompt"] == prompt]
    return int(job_id)


async def served(stack: Stack, bot: HostedBot, user: int, guild_id: int, prompt: str) -> None:
    """A new job in ``guild_id`` gets its images, delivered by ``bot``."""
    it = await submit(stack, member(stack, user, guild_id), guild_id, prompt)
    await eventually(lambda: images(it), 60, f"the images of {prompt!r}")
    job_id = job_id_of(await db_rows(stack, "SELECT id, prompt FROM jobs"), prompt)
    await eventually(lambda: f"job {job_id} delivered" in bot.log(), 30, f"{prompt!r} delivered")


async def clients(stack: Stack) -> set[str]:
    """The addresses the bots' connections to the test's database come from."""
    rows = await db_rows(
        stack,
        "SELECT DISTINCT host(client_addr) AS address FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return {r["address"] for r in rows}


async def test_a_host_cut_off_from_the_database_is_refunded_once_refuses_and_recovers(
    stack: Stack, net: Network, server: PostgresServer, hosts: dict[int, HostedBot]
) -> None:
    a, b = hosts[0], hosts[1]
    procs: dict[int, BotProcess] = dict(hosts)
    await start_both(stack, procs)
    # Each host serves its shard's guild, over its own link to the database.
    await served(stack, a, 1_200_000_000_000_080_001, GUILD_ZERO, "on host a")
    await served(stack, b, 1_200_000_000_000_080_002, DEFAULT_GUILD_ID, "on host b")
    assert await clients(stack) >= {str(h.address.ip) for h in net.hosts.values()}
    assert "127.0.0.1" not in await clients(stack)
    status, body = await b.healthz()
    assert status == 200 and body["database"] == "ok", body

    # Host b's job is mid-flight (its call outlasts the cut) when the network cuts b off.
    stack.api.latency = 20.0
    user = member(stack, 1_200_000_000_000_080_003, DEFAULT_GUILD_ID)
    lost = await submit(stack, user, DEFAULT_GUILD_ID, "cut off mid-flight")
    await eventually(lambda: stack.api.in_flight == 1, 30, "host b's call in flight")
    b.host.cut(net.root.ip, server.port)
    stack.api.latency = 0.0
    # Past b's lease, a refunds the job and tells its user; a keeps serving.
    lost_id = job_of(lost, await db_rows(stack, "SELECT id, prompt FROM jobs"))
    await corrected(lost, lost_id)
    await eventually(lambda: refunds_logged(procs) == 1, 30, "one refund logged")
    assert "refunded 1 jobs" in a.log()
    await served(stack, a, 1_200_000_000_000_080_004, GUILD_ZERO, "host a serves on")

    # Host b says it is cut off, and refuses a job privately, charging nothing.
    await says_cut_off_and_refuses(stack, await b.healthz(), 80_005)

    # The link comes back: b registers again and serves.
    b.host.mend()
    await eventually(lambda: "registering again" in b.log(), 90, "host b registering again")
    await b.healthy(90)
    await served(stack, b, 1_200_000_000_000_080_005, DEFAULT_GUILD_ID, "after the mend")

    # b's call, answered after all this, finds its job settled: no images, no second refund.
    await eventually(lambda: f"job {lost_id} failed" in b.log(), 90, "host b giving up its job")
    assert not images(lost)
    assert len(corrections(stack)) == 1
    assert refunds_logged(procs) == 1
    rows = await db_rows(stack, "SELECT prompt, state FROM jobs ORDER BY id")
    assert {r["prompt"]: r["state"] for r in rows} == {
        "on host a": "done",
        "on host b": "done",
        "cut off mid-flight": "interrupted",
        "host a serves on": "done",
        "after the mend": "done",
    }
    assert await usage(stack) == (0, 4)
