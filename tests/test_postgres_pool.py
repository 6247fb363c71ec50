"""The pool's reset on PostgreSQL: a statement sent through the pool's own methods costs one
round trip, and a connection that went back to the pool carries nothing into the next user's
work (no open transaction, no advisory lock, no setting, no LISTEN)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.ledger import Ledger, guild_scope
from bot.storage.postgres import PostgresDatabase
from tests.harness import new_job
from tests.pg_log import StatementLog
from tests.postgres import PostgresServer, requires_postgres

pytestmark = requires_postgres

# What the next user of a connection finds: the session's advisory locks, a setting, its
# LISTEN channels, and whether a transaction with a number is still open.
SESSION_STATE = """
SELECT (SELECT COUNT(*) FROM pg_locks
         WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
       current_setting('application_name') AS application_name,
       (SELECT COUNT(*) FROM pg_listening_channels()) AS listening,
       pg_current_xact_id_if_assigned() IS NOT NULL AS old_transaction,
       pg_backend_pid() AS pid
"""


@pytest.fixture
async def one_connection(pg_url: str) -> AsyncIterator[PostgresDatabase]:
    """A database whose pool has one connection, so every borrow gets the same one."""
    async with await PostgresDatabase.open(pg_url, pool_size=1) as db:
        yield db


async def test_a_connection_comes_back_from_the_pool_with_no_session_state(
    one_connection: PostgresDatabase,
) -> None:
    db = one_connection
    async with db.pool.raw.acquire() as conn:
        held_by = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("SELECT pg_advisory_lock(42)")
        await conn.execute("SET application_name = 'left behind'")
        await conn.execute("LISTEN left_behind")
        await conn.execute("BEGIN")
        await conn.execute("SELECT pg_advisory_xact_lock(43), pg_current_xact_id()")
    state = await db.pool.fetchone(SESSION_STATE)
    assert state is not None
    assert state["pid"] == held_by  # the same connection, reset
    assert state["advisory_locks"] == 0
    assert state["application_name"] == ""
    assert state["listening"] == 0
    assert state["old_transaction"] is False


async def test_a_reservation_and_its_settlement_leave_no_lock_on_the_connection(
    one_connection: PostgresDatabase,
) -> None:
    db = one_connection
    ledger = Ledger(db, default_daily_credits=10, usd_cap=0.5)  # the USD cap's lock too
    scope = guild_scope(1000, "UTC")
    job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=7))
    state = await db.pool.fetchone(SESSION_STATE)
    assert state is not None and state["advisory_locks"] == 0
    assert state["old_transaction"] is False
    assert await db.jobs.finish_job(job_id, state="done", credits_charged=1)
    state = await db.pool.fetchone(SESSION_STATE)
    assert state is not None and state["advisory_locks"] == 0


async def test_one_statement_through_the_pool_is_one_round_trip(
    pg_server: PostgresServer, pg_url: str
) -> None:
    """The pool's reset query (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``) would be a second round trip after every statement."""
    log = StatementLog(pg_server)
    await log.log_database(pg_url)
    async with await PostgresDatabase.open(pg_url, migrate=False, pool_size=2) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1000, "UTC")
        # asyncpg reads the array type's details once per connection, with three statements.
        job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=7))
        assert await db.jobs.finish_job(job_id, state="done", credits_charged=1)
        log.mark()
        for _ in range(5):
            job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=7))
            assert await db.jobs.finish_job(job_id, state="done", credits_charged=1)
        statements = log.since_mark()
        assert statements == {"SELECT reserve_job": 5, "UPDATE jobs": 5}, statements
        # Work that held a connection itself is still reset when it gives it back.
        log.mark()
        async with db.pool.raw.acquire() as conn:
            await conn.execute("SELECT 1")
        assert log.since_mark()["SELECT pg_advisory_unlock_all"] == 1
