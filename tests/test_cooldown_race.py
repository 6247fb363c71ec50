"""A server's cooldown holds against requests sent at the same moment: the reserving statement
checks it again, on both backends, so two quick requests cannot both pass it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from tests.fakes.discord import FakeInteraction
from tests.harness import Stack, fake_stack, new_job, running_bot
from tests.postgres import Backend, requires_postgres
from tests.storage_sql import sql_rows
from tests.test_e2e_admin import admin, guilds
from tests.test_e2e_imagine import settled
from tests.test_storage_postgres import refused_after_the_held_one

GUILD = 1000
USER = 42
COOLDOWN_S = 3600.0


async def test_racing_reservations_in_a_cooldown_grant_one(backend: Backend) -> None:
    """40 reservations of one member from 4 handles at once, with a cooldown: one is granted."""
    dbs = [await backend.open() for _ in range(4)]
    try:
        ledgers = [Ledger(d, default_daily_credits=1000, usd_cap=None) for d in dbs]
        scope = guild_scope(GUILD, "UTC")
        since = time.time() - COOLDOWN_S

        async def attempt(i: int) -> bool:
            ledger = ledgers[i % len(ledgers)]
            try:
                await ledger.reserve(scope, (), new_job(ledger, scope), cooldown_since=since)
            except BudgetExceededError:
                return False
            return True

        assert sum(await asyncio.gather(*(attempt(i) for i in range(40)))) == 1
        rows = await sql_rows(dbs[0], "SELECT COUNT(*) AS n FROM jobs")
        assert rows[0]["n"] == 1
        # Another member's cooldown is their own.
        other = new_job(ledgers[0], scope, user=USER + 1)
        await ledgers[0].reserve(scope, (), other, cooldown_since=since)
    finally:
        for d in dbs:
            await d.close()


@pytest.fixture
async def db(any_db: Database) -> AsyncIterator[Database]:
    yield any_db


@pytest.mark.parametrize(
    ("error_class", "blocks"),
    [(None, True), ("upstream", True), ("queue_full", False), ("interrupted", False)],
)
async def test_only_the_members_own_jobs_block_a_reservation(
    db: Database, error_class: str | None, blocks: bool
) -> None:
    """As the check before it (``last_job_time``): jobs the bot refused or cut off start none."""
    ledger = Ledger(db, default_daily_credits=1000, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    job_id = await ledger.reserve(scope, (), new_job(ledger, scope))
    if error_class is not None:
        await db.jobs.finish_job(job_id, state="cancelled", error_class=error_class)
    since = time.time() - COOLDOWN_S
    try:
        await ledger.reserve(scope, (), new_job(ledger, scope), cooldown_since=since)
    except BudgetExceededError:
        assert blocks
    else:
        assert not blocks
    # Without a cooldown the same reservation is granted.
    await ledger.reserve(scope, (), new_job(ledger, scope))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


async def test_two_requests_sent_at_once_in_a_cooldown_run_one(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8") as bot:
        await admin(stack, "config set", {"cooldown_seconds": 3600})
        sent: list[FakeInteraction] = [
            await stack.discord.slash("imagine", {"prompt": f"twin {n}"}) for n in range(4)
        ]
        answers = [await it.wait_response(30) for it in sent]
        refused = [a for a in answers if a.type == 4]
        assert len(refused) == 3, [a.data for a in answers]
        for answer in refused:
            assert answer.data["flags"] & 64 and "cooldown" in answer.data["content"]
        rows = await sql_rows(bot.db, "SELECT id FROM jobs")
        assert len(rows) == 1
        done = await settled(bot, int(rows[0]["id"]))
        assert (done.state, done.credits_charged) == ("done", 1)
        assert len(stack.api.requests) == 1


@requires_postgres
async def test_a_cooldown_holds_across_the_days_boundary_on_postgres(pg_url: str) -> None:
    """One request reserves, uncommitted, on one budget day; the member's next request falls on
    the next day (the boundary passed between them). It waits for the first and is refused: with
    a lock naming the day it checks before the first commits, and both run."""
    async with await PostgresDatabase.open(pg_url) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(GUILD, "UTC")
        since = time.time() - COOLDOWN_S
        tomorrow = dataclasses.replace(new_job(ledger, scope), budget_day="9999-12-31")
        await refused_after_the_held_one(
            db,
            pg_url,
            hold=lambda held: Ledger(held, default_daily_credits=10, usd_cap=None).reserve(
                scope, (), new_job(ledger, scope), cooldown_since=since
            ),
            attempt=lambda: ledger.reserve(scope, (), tomorrow, cooldown_since=since),
        )
