"""``db.cluster`` on both backends: leases, the per-user limit across processes, the bot-wide slots
and line, orphaned jobs and IDENTIFY turns; and on PostgreSQL, pools claiming slots at once.

A lease that has run out is made by renewing it for a negative time: the lease ends in the past,
as it would had the process gone silent, without the test waiting it out.
"""

from __future__ import annotations

import asyncio
import itertools

from bot.ledger import Ledger, guild_scope
from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from tests.harness import new_job
from tests.postgres import Backend, requires_postgres
from tests.storage_sql import sql_rows

LEASE_S = 600.0
_users = itertools.count(1_200_000_000_000_070_001)


async def open_job(db: Database, user: int | None = None) -> tuple[int, int]:
    """A queued job (and its user): one of ``user``'s, or of a user of its own."""
    ledger = Ledger(db, default_daily_credits=1000, usd_cap=None)
    scope = guild_scope(1, "UTC")
    user = next(_users) if user is None else user
    return await ledger.reserve(scope, (), new_job(ledger, scope, user=user)), user


async def enrolled(db: Database, owner: str, user: int | None = None) -> int:
    job_id, user = await open_job(db, user)
    assert await db.cluster.enrol(job_id, user, owner, 10)
    return job_id


async def test_leases_are_renewed_and_the_dead_forgotten(backend: Backend) -> None:
    async with await backend.open() as db:
        cluster = db.cluster
        await cluster.register("p1", "shards:0", LEASE_S)
        await cluster.register("p2", "shards:1", LEASE_S)
        assert await cluster.renew("p1", LEASE_S)
        assert not await cluster.renew("ghost", LEASE_S)
        assert await cluster.renew("p2", -1.0)  # p2 went silent
        await cluster.forget_dead("p1", "shards:0")
        assert not await cluster.renew("p2", LEASE_S)
        assert await cluster.renew("p1", LEASE_S)
        # p1's restart, with the same shards, forgets its previous life at once.
        await cluster.register("p1-again", "shards:0", LEASE_S)
        await cluster.forget_dead("p1-again", "shards:0")
        assert not await cluster.renew("p1", LEASE_S)
        assert await cluster.renew("p1-again", LEASE_S)


async def test_the_per_user_limit_counts_open_jobs_in_every_process(backend: Backend) -> None:
    async with await backend.open() as db:
        user = next(_users)
        first, second, third = [(await open_job(db, user))[0] for _ in range(3)]
        assert await db.cluster.enrol(first, user, "a", 2)
        assert await db.cluster.enrol(second, user, "b", 2)
        assert not await db.cluster.enrol(third, user, "a", 2)
        assert await db.jobs.finish_job(first, state="done", credits_charged=1)
        assert await db.cluster.enrol(third, user, "a", 2)


async def test_slots_are_bot_wide_and_the_line_takes_turns_over_users(backend: Backend) -> None:
    async with await backend.open() as db:
        cluster = db.cluster
        for owner in ("a", "b"):
            await cluster.register(owner, f"shards:{owner}", LEASE_S)
        one = await enrolled(db, "a")
        two = await enrolled(db, "b")
        assert await cluster.claim_slots("a", 2) == [one]
        assert await cluster.claim_slots("b", 2) == [two]
        heavy = next(_users)
        heavy_1 = await enrolled(db, "a", heavy)
        heavy_2 = await enrolled(db, "b", heavy)
        light = await enrolled(db, "b")
        # Round-robin over users: the light user's only job goes ahead of the heavy one's second.
        assert await cluster.queue_positions("a") == {heavy_1: 1}
        assert await cluster.queue_positions("b") == {light: 2, heavy_2: 3}
        assert await cluster.claim_slots("a", 2) == []  # both slots held
        assert await db.jobs.finish_job(one, state="done", credits_charged=1)
        await cluster.release_slots([one])
        # The free slot waits for the process whose job heads the line.
        assert await cluster.claim_slots("b", 2) == []
        assert await cluster.claim_slots("a", 2) == [heavy_1]
        # The heavy user now holds a slot: its other job goes behind the light user's.
        assert await cluster.queue_positions("b") == {light: 1, heavy_2: 2}
        await cluster.release_slots([two])  # given back (its job is still open): line again
        assert await cluster.queue_positions("b") == {two: 1, light: 2, heavy_2: 3}
        assert await cluster.claim_slots("b", 2) == [two]


async def test_a_dead_processes_slots_come_back_and_its_jobs_are_orphaned(
    backend: Backend,
) -> None:
    async with await backend.open() as db:
        cluster = db.cluster
        await cluster.register("live", "shards:0", LEASE_S)
        await cluster.register("dying", "shards:1", LEASE_S)
        held = await enrolled(db, "dying")
        waiting = await enrolled(db, "live")
        assert await cluster.claim_slots("dying", 1) == [held]
        assert await cluster.claim_slots("live", 1) == []
        assert await cluster.orphaned_jobs("live", "shards:0", LEASE_S) == []

        assert await cluster.renew("dying", -1.0)
        assert await cluster.claim_slots("live", 1) == [waiting]
        orphans = await cluster.orphaned_jobs("live", "shards:0", LEASE_S)
        assert [row.id for row in orphans] == [held]
        # A restart of the live process's shards takes the jobs of its previous life as well.
        await cluster.register("live-again", "shards:0", LEASE_S)
        orphans = await cluster.orphaned_jobs("live-again", "shards:0", LEASE_S)
        assert [row.id for row in orphans] == [held, waiting]

        # A job no process took is orphaned once it is older than a lease.
        never, _ = await open_job(db)
        assert never not in [r.id for r in await cluster.orphaned_jobs("x", "y", LEASE_S)]
        assert never in [r.id for r in await cluster.orphaned_jobs("x", "y", -1.0)]

        assert await db.jobs.finish_job(held, state="interrupted")
        await cluster.forget_dead("live-again", "shards:0")
        owners = await sql_rows(db, "SELECT job_id, owner FROM cluster_jobs ORDER BY job_id")
        assert [(r["job_id"], r["owner"]) for r in owners] == [(waiting, "live")]
        processes = await sql_rows(db, "SELECT id FROM cluster_processes")
        assert [r["id"] for r in processes] == ["live-again"]


async def test_one_identify_turn_per_bucket_per_window(backend: Backend) -> None:
    async with await backend.open() as db:
        cluster = db.cluster
        assert await cluster.identify_turn(0, "p1", LEASE_S) == 0
        wait = await cluster.identify_turn(0, "p2", LEASE_S)
        assert 0 < wait <= LEASE_S
        assert await cluster.identify_turn(1, "p2", LEASE_S) == 0
        assert await cluster.identify_turn(2, "p1", 2.0) == 0
        wait = await cluster.identify_turn(2, "p2", 2.0)
        if wait:  # (else so much time went by that the window had already ended)
            assert wait <= 2.0
            await asyncio.sleep(wait + 0.05)  # past the end of the window it named: p2's turn
            assert await cluster.identify_turn(2, "p2", 2.0) == 0


@requires_postgres
async def test_two_pools_claiming_at_once_never_exceed_the_cap(pg_url: str) -> None:
    """Two processes' pools, each claiming from several connections at once, in rounds where
    the running jobs end and new ones wait: no job is granted twice, the slots never exceed the
    cap, and every free slot is taken."""
    cap, claims_per_pool = 3, 8
    async with (
        await PostgresDatabase.open(pg_url) as first,
        await PostgresDatabase.open(pg_url, migrate=False) as second,
    ):
        pools = {"a": first, "b": second}
        for owner, db in pools.items():
            await db.cluster.register(owner, f"shards:{owner}", LEASE_S)
        for _ in range(6):  # the line alternates between the processes
            for owner, db in pools.items():
                await enrolled(db, owner)
        for _ in range(5):
            claims = [
                db.cluster.claim_slots(owner, cap)
                for owner, db in pools.items()
                for _ in range(claims_per_pool)
            ]
            granted = [job for got in await asyncio.gather(*claims) for job in got]
            assert len(granted) == len(set(granted)), f"a job granted twice: {sorted(granted)}"
            held = await sql_rows(
                first,
                "SELECT c.job_id FROM cluster_jobs c JOIN jobs j ON j.id = c.job_id "
                "WHERE c.slot = 1 AND j.state IN ('queued', 'running')",
            )
            assert len(held) == cap, held
            assert set(granted) <= {r["job_id"] for r in held}
            for job_id in granted:  # the round's jobs end; new ones join the line
                assert await first.jobs.finish_job(job_id, state="done", credits_charged=1)
            await first.cluster.release_slots(granted)
            for owner, db in pools.items():
                await enrolled(db, owner)
                await enrolled(db, owner)
