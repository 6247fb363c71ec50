"""The budget ledger on both backends (a real SQLite file, a real PostgreSQL server): atomic
reservations, refunds, limits and days."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.ledger import BudgetExceededError, Ledger, guild_scope, personal_scope
from bot.storage import Database
from tests.harness import Clock, new_job
from tests.postgres import Backend
from tests.storage_sql import sql_rows

GUILD = 1000
USER = 42


@pytest.fixture
async def db(any_db: Database) -> AsyncIterator[Database]:
    """Every test here runs on SQLite and on PostgreSQL."""
    yield any_db


async def test_1000_concurrent_reservations_grant_exactly_the_budget(backend: Backend) -> None:
    """4 handles on one database race: 4 connections to the file, each on its own aiosqlite
    thread, or 4 pools on the PostgreSQL server."""
    dbs = [await backend.open() for _ in range(4)]
    try:
        await dbs[0].guilds.update_guild_settings(GUILD, daily_credits=100)
        ledgers = [Ledger(d, default_daily_credits=10, usd_cap=None) for d in dbs]
        scope = guild_scope(GUILD, "UTC")

        async def attempt(i: int) -> bool:
            ledger = ledgers[i % len(ledgers)]
            try:
                await ledger.reserve(scope, (), new_job(ledger, scope))
            except BudgetExceededError:
                return False
            return True

        results = await asyncio.gather(*(attempt(i) for i in range(1000)))
        assert sum(results) == 100
        day, _ = ledgers[0].days(scope)
        usage = await dbs[0].budgets.usage(scope.key, day, USER)
        assert usage.reserved == 100 and usage.charged == 0
        rows = await sql_rows(dbs[0], "SELECT COUNT(*) AS n FROM jobs")
        assert rows[0]["n"] == 100
    finally:
        for d in dbs:
            await d.close()


@pytest.mark.parametrize("state", ["failed", "cancelled", "interrupted"])
async def test_every_failure_refunds_in_full_exactly_once(db: Database, state: str) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    job_id = await ledger.reserve(scope, (), new_job(ledger, scope, credits=4))
    day, _ = ledger.days(scope)
    assert (await db.budgets.usage(scope.key, day, USER)).used == 4
    assert await db.jobs.finish_job(job_id, state=state, error_class="x")
    assert (await db.budgets.usage(scope.key, day, USER)).used == 0
    # Settling again changes nothing: a job settles once.
    assert not await db.jobs.finish_job(job_id, state="done", credits_charged=4, images_delivered=4)
    assert (await db.budgets.usage(scope.key, day, USER)).used == 0
    row = await db.jobs.get_job(job_id)
    assert row is not None and row.state == state and row.credits_charged == 0


async def test_fewer_images_than_asked_are_charged_per_image(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    job_id = await ledger.reserve(scope, (), new_job(ledger, scope, credits=8))
    assert await db.jobs.finish_job(job_id, state="done", credits_charged=4, images_delivered=2)
    day, _ = ledger.days(scope)
    usage = await db.budgets.usage(scope.key, day, USER)
    assert (usage.reserved, usage.charged) == (0, 4)
    row = await db.jobs.get_job(job_id)
    assert row is not None and (row.credits_reserved, row.credits_charged) == (8, 4)


async def test_limit_precedence(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    assert (await ledger.limit_for(scope, USER, [7, 8])).base == 10
    await db.guilds.update_guild_settings(GUILD, daily_credits=20)
    assert (await ledger.limit_for(scope, USER, [7, 8])).source == "server default"
    await db.budgets.set_role_budget(GUILD, 7, 5)
    await db.budgets.set_role_budget(GUILD, 8, 30)
    limit = await ledger.limit_for(scope, USER, [7, 8])
    assert (limit.base, limit.source) == (30, "role")  # the highest role wins, even over default
    assert (await ledger.limit_for(scope, USER, [7])).base == 5
    await db.budgets.set_user_budget(GUILD, USER, 3)
    assert (await ledger.limit_for(scope, USER, [7, 8])).base == 3
    await db.budgets.set_user_budget(GUILD, USER, None)
    assert (await ledger.limit_for(scope, USER, [7, 8])).base == 30
    # Another server is untouched.
    assert (await ledger.limit_for(guild_scope(GUILD + 1, "UTC"), USER, [7, 8])).base == 10
    # Outside servers: the bot default.
    assert (await ledger.limit_for(personal_scope(USER), USER, [])).base == 10


async def test_zero_budget_refuses_with_a_clear_reason(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    await db.budgets.set_user_budget(GUILD, USER, 0)
    with pytest.raises(BudgetExceededError, match="0 credits"):
        await ledger.reserve(scope, (), new_job(ledger, scope))


async def test_grants_add_to_today_only(db: Database) -> None:
    clock = Clock(datetime(2026, 5, 1, 12, tzinfo=ZoneInfo("UTC")).timestamp())
    ledger = Ledger(db, default_daily_credits=2, usd_cap=None, clock=clock)
    scope = guild_scope(GUILD, "UTC")
    await ledger.reserve(scope, (), new_job(ledger, scope, credits=2))
    with pytest.raises(BudgetExceededError, match="resets <t:"):
        await ledger.reserve(scope, (), new_job(ledger, scope, credits=1))
    day, _ = ledger.days(scope)
    await db.budgets.add_grant(scope=scope.key, day=day, user_id=USER, credits=3, granted_by=1)
    await ledger.reserve(scope, (), new_job(ledger, scope, credits=3))
    quota = await ledger.quota(scope, USER, ())
    assert (quota.total, quota.left) == (5, 0)
    clock.at += 86_400
    quota = await ledger.quota(scope, USER, ())
    assert (quota.total, quota.left) == (2, 2)


async def test_server_cap_counts_everyone(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    await db.guilds.update_guild_settings(GUILD, server_cap=5)
    await ledger.reserve(scope, (), new_job(ledger, scope, user=1, credits=3))
    await ledger.reserve(scope, (), new_job(ledger, scope, user=2, credits=2))
    with pytest.raises(BudgetExceededError, match="server has used its daily cap"):
        await ledger.reserve(scope, (), new_job(ledger, scope, user=3, credits=1))


async def test_usd_cap_is_bot_wide_and_uses_reported_cost(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=100, usd_cap=0.05)
    a, b = guild_scope(1, "UTC"), guild_scope(2, "Asia/Tokyo")
    first = await ledger.reserve(a, (), new_job(ledger, a, credits=2))  # estimate 0.042
    with pytest.raises(BudgetExceededError, match="spending cap"):
        await ledger.reserve(b, (), new_job(ledger, b, credits=1))
    # The API reported less than the estimate: the difference becomes available again.
    assert await db.jobs.finish_job(first, state="done", credits_charged=2, usd=0.01)
    await ledger.reserve(b, (), new_job(ledger, b, credits=1))


async def test_reset_forgives_spent_credits_but_not_in_flight_ones(db: Database) -> None:
    ledger = Ledger(db, default_daily_credits=4, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    done = await ledger.reserve(scope, (), new_job(ledger, scope, credits=2))
    await db.jobs.finish_job(done, state="done", credits_charged=2, images_delivered=2)
    running = await ledger.reserve(scope, (), new_job(ledger, scope, credits=2))
    day, _ = ledger.days(scope)
    assert await db.budgets.reset_usage(scope=scope.key, day=day, user_id=USER) == 2
    usage = await db.budgets.usage(scope.key, day, USER)
    assert (usage.reserved, usage.charged) == (2, 0)
    await db.jobs.finish_job(running, state="failed")
    assert (await db.budgets.usage(scope.key, day, USER)).used == 0


def _at(tz: str, *args: int) -> float:
    year, month, day, hour, minute, *rest = args
    second = rest[0] if rest else 0
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize(
    ("tz", "local", "expected_reset"),
    [
        # New York, the night DST ends (2026-11-01): the day is 25 hours long.
        ("America/New_York", (2026, 11, 1, 0, 30), (2026, 11, 2, 0, 0)),
        # New York, the night DST starts (2026-03-08): 23 hours long.
        ("America/New_York", (2026, 3, 8, 23, 59), (2026, 3, 9, 0, 0)),
        ("Europe/Paris", (2026, 10, 24, 23, 0), (2026, 10, 25, 0, 0)),
        ("Asia/Kolkata", (2026, 6, 1, 12, 0), (2026, 6, 2, 0, 0)),
    ],
)
def test_days_and_resets_follow_the_server_timezone(
    tz: str, local: tuple[int, ...], expected_reset: tuple[int, ...]
) -> None:
    scope = guild_scope(GUILD, tz)
    at = _at(tz, *local)
    assert scope.day(at) == f"{local[0]:04d}-{local[1]:02d}-{local[2]:02d}"
    assert scope.next_reset(at) == _at(tz, *expected_reset)
    assert scope.day(scope.next_reset(at)) != scope.day(at)
    assert scope.day(scope.next_reset(at) - 1) == scope.day(at)


async def test_budget_resets_at_local_midnight_across_dst(db: Database) -> None:
    tz = "America/New_York"
    clock = Clock(_at(tz, 2026, 11, 1, 23, 58))
    ledger = Ledger(db, default_daily_credits=1, usd_cap=None, clock=clock)
    await db.guilds.update_guild_settings(GUILD, timezone=tz)
    scope = guild_scope(GUILD, tz)
    await ledger.reserve(scope, (), new_job(ledger, scope))
    with pytest.raises(BudgetExceededError) as refused:
        await ledger.reserve(scope, (), new_job(ledger, scope))
    assert refused.value.reset_at == _at(tz, 2026, 11, 2, 0, 0)
    # In UTC it's already the next day at 23:58 local; the budget must still be spent.
    assert ledger.days(scope)[1] == "2026-11-02"
    clock.at = _at(tz, 2026, 11, 2, 0, 0, 1)
    await ledger.reserve(scope, (), new_job(ledger, scope))


async def test_personal_scope_uses_utc_days(db: Database) -> None:
    clock = Clock(_at("UTC", 2026, 1, 1, 23, 59))
    ledger = Ledger(db, default_daily_credits=1, usd_cap=None, clock=clock)
    scope = personal_scope(USER)
    await ledger.reserve(scope, (), new_job(ledger, scope))
    with pytest.raises(BudgetExceededError):
        await ledger.reserve(scope, (), new_job(ledger, scope))
    clock.at = _at("UTC", 2026, 1, 2, 0, 0, 1)
    await ledger.reserve(scope, (), new_job(ledger, scope))


@pytest.mark.parametrize(
    ("state", "error_class", "starts_cooldown"),
    [
        ("done", None, True),
        ("failed", "upstream", True),
        ("cancelled", "cancelled", True),
        ("cancelled", "queue_full", False),
        ("cancelled", "shutting_down", False),
        ("interrupted", "interrupted", False),
    ],
)
async def test_only_the_members_own_jobs_start_a_cooldown(
    db: Database, state: str, error_class: str | None, starts_cooldown: bool
) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    job_id = await ledger.reserve(scope, (), new_job(ledger, scope))
    await db.jobs.finish_job(job_id, state=state, error_class=error_class)
    last = await db.jobs.last_job_time(user_id=USER, scope=scope.key)
    assert (last is not None) is starts_cooldown
