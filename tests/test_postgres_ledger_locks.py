"""Reservations in one server on PostgreSQL take turns only where a limit needs it: members
of a server without a cap do not wait for each other's commits (migration 0005), and what
must still wait does (tests/test_storage_postgres.py: the same member, a server cap, a USD cap)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.ledger import Ledger, guild_scope
from bot.storage.postgres import PostgresDatabase
from tests.harness import new_job
from tests.postgres import requires_postgres
from tests.test_storage_postgres import GUILD, USER, jobs_on

pytestmark = requires_postgres


async def test_a_member_reserves_and_settles_while_anothers_commit_is_pending(pg_url: str) -> None:
    """Another session holds, uncommitted, a reservation and a settlement of one member. Another
    member of the same server (no server cap) reserves and settles at once: before, every
    reservation of the server took turns on one lock and every write on one spend row, each
    held until its commit's flush."""
    async with await PostgresDatabase.open(pg_url) as db:
        await _reserve_beside_one_in_flight(db, pg_url)


async def _reserve_beside_one_in_flight(db: PostgresDatabase, pg_url: str) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    settling = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER))
    conn = await asyncpg.connect(pg_url)
    try:
        held = conn.transaction()
        await held.start()
        in_flight = jobs_on(conn, db)
        await Ledger(in_flight, default_daily_credits=10, usd_cap=None).reserve(
            scope, (), new_job(ledger, scope, user=USER)
        )
        assert await in_flight.jobs.finish_job(settling, state="done", credits_charged=1)
        other = await asyncio.wait_for(
            ledger.reserve(scope, (), new_job(ledger, scope, user=USER + 1)), 30
        )
        assert await asyncio.wait_for(
            db.jobs.finish_job(other, state="done", credits_charged=1), 30
        )
        await held.rollback()
    finally:
        await conn.close()
    day, bot_day = ledger.days(scope)
    assert (await db.budgets.usage(scope.key, day, USER + 1)).used == 1
    # The rolled-back reservation and settlement are gone: the first job is open again.
    assert (await db.budgets.usage(scope.key, day, USER)).reserved == 1
    # Only the open job's estimate is spent: the settled one reported no USD.
    assert await db.budgets.bot_spend(bot_day) == pytest.approx(0.021)
    assert await db.integrity_check() == "ok"
