"""The reservation and the settlement on PostgreSQL count a job themselves (migration 0006):
no trigger runs beside them, and the counters still follow every job exactly when one
member's reservations and settlements race each other."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.ledger import Ledger, guild_scope
from bot.storage.postgres import PostgresDatabase
from tests.harness import new_job
from tests.postgres import PostgresServer, requires_postgres
from tests.test_storage_postgres import GUILD, USER, until

pytestmark = requires_postgres


async def _function_calls(db: PostgresDatabase) -> dict[str, int]:
    rows = await db.pool.fetchall("SELECT funcname, calls FROM pg_stat_user_functions")
    return {str(r["funcname"]): int(r["calls"]) for r in rows}


async def test_a_reservation_and_its_settlement_run_no_trigger(
    pg_server: PostgresServer, pg_url: str
) -> None:
    """Each trigger call cost the server a PL/pgSQL call and the parsing of its WHEN clause on
    every statement: the only PL/pgSQL left on this path is reserve_job itself."""
    admin = await asyncpg.connect(pg_server.url())
    try:
        await admin.execute(f"ALTER DATABASE {pg_url.rsplit('/', 1)[1]} SET track_functions = 'pl'")
    finally:
        await admin.close()
    # One connection: its backend's counts reach the statistics together.
    async with await PostgresDatabase.open(pg_url, pool_size=1) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=1.0)
        scope = guild_scope(GUILD, "UTC")
        for n in range(3):
            job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER))
            await db.jobs.save_reply(job_id, message_id=None, token="t", expires_at=1e12)
            assert await db.jobs.finish_job(job_id, state="done", credits_charged=n % 2, usd=0.02)
        await db.pool.fetchval("SELECT pg_stat_force_next_flush()")

        async def counted() -> bool:
            return (await _function_calls(db)).get("reserve_job", 0) >= 3

        await until(counted, "the reservations in pg_stat_user_functions", timeout=60)
        assert await _function_calls(db) == {"reserve_job": 3}
        day, bot_day = ledger.days(scope)
        usage = await db.budgets.usage(scope.key, day, USER)
        assert (usage.reserved, usage.charged) == (0, 1)
        assert await db.budgets.bot_spend(bot_day) == pytest.approx(0.06)
        assert await db.pool.fetchval("SELECT COUNT(*) FROM job_replies") == 0


async def test_one_members_racing_reservations_and_settlements_keep_the_counters(
    pg_url: str,
) -> None:
    """Reservations and settlements of one member from several connections at once: each
    writes bot_spend's row before budget_usage's, so none deadlocks, and what is left counted
    is exactly what was charged."""
    tasks, rounds = 8, 25
    async with await PostgresDatabase.open(pg_url, pool_size=4) as db:
        ledger = Ledger(db, default_daily_credits=tasks * rounds, usd_cap=100.0)
        scope = guild_scope(GUILD, "UTC")

        async def member(task: int) -> int:
            charged = 0
            for n in range(rounds):
                job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER))
                await db.jobs.save_reply(job_id, message_id=job_id, token="t", expires_at=1e12)
                credits = (task + n) % 2
                assert await db.jobs.finish_job(
                    job_id, state="done", credits_charged=credits, usd=0.01
                )
                assert not await db.jobs.finish_job(job_id, state="failed")
                charged += credits
            return charged

        charged = sum(await asyncio.wait_for(asyncio.gather(*map(member, range(tasks))), 120))
        day, bot_day = ledger.days(scope)
        usage = await db.budgets.usage(scope.key, day, USER)
        assert (usage.reserved, usage.charged) == (0, charged)
        assert await db.budgets.bot_spend(bot_day) == pytest.approx(0.01 * tasks * rounds)
        assert await db.pool.fetchval("SELECT COUNT(*) FROM job_replies") == 0
        assert await db.integrity_check() == "ok"
