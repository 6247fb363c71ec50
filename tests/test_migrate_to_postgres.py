"""``python -m bot migrate-to-postgres``: a populated SQLite file copied into an empty
PostgreSQL database, table for table, with budgets that are still exact afterwards."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.ledger import BudgetExceededError, Ledger, guild_scope, personal_scope
from bot.storage.postgres import PostgresDatabase
from bot.storage.postgres.queries import COPIED_TABLES
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, ROOT, new_job
from tests.postgres import requires_postgres

pytestmark = requires_postgres

GUILD = 1_100_000_000_000_000_001
USER = 1_200_000_000_000_000_001


async def populate(path: Path) -> tuple[int, int]:
    """A bot's file with a row in every table; returns (a job still open, its credits)."""
    async with await SQLiteDatabase.open(path) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=5.0)
        scope = guild_scope(GUILD, "Europe/Paris")
        await db.guilds.update_guild_settings(
            GUILD,
            timezone="Europe/Paris",
            enhance_prompt=True,
            daily_credits=6,
            server_cap=50,
            allow_private=False,
        )
        await db.budgets.set_role_budget(GUILD, 77, 8)
        await db.budgets.set_user_budget(GUILD, USER + 1, 3)
        day, _ = ledger.days(scope)
        await db.budgets.add_grant(scope=scope.key, day=day, user_id=USER, credits=2, granted_by=9)
        done = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER, credits=2))
        await db.jobs.finish_job(
            done, state="done", credits_charged=2, images_delivered=2, usd=0.04, message_id=55
        )
        failed = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER, credits=1))
        await db.jobs.finish_job(failed, state="failed", error_class="upstream")
        open_job = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER, credits=3))
        await db.jobs.save_reply(open_job, message_id=66, token="tok", expires_at=time.time() + 600)
        await db.members.update_member_defaults(GUILD, USER, aspect_ratio="16:9", private=True)
        dm = personal_scope(USER)
        await ledger.reserve(dm, (), new_job(ledger, dm, user=USER, credits=1))
        await db.budgets.reset_usage(scope=scope.key, day=day, user_id=USER)
        await db.moderation.allow_channel(GUILD, 5)
        await db.moderation.ban(
            guild_id=GUILD, user_id=USER + 2, reason="spam", banned_by=9, expires_at=None
        )
        await db.moderation.add_blocklist(guild_id=GUILD, kind="word", pattern="gore", added_by=9)
        await db.moderation.set_model_enabled(GUILD, "google/imagen-4.0-ultra-generate-001", False)
        await db.audit.record(guild_id=GUILD, actor_id=9, action="ban", details={"user": 1})
        await db.set_meta("command_tree_hash", "abc")
    return open_job, 3


def sqlite_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return sorted(rows, key=repr)


async def postgres_rows(url: str, path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        out = {}
        with sqlite3.connect(path) as lite:
            for table in COPIED_TABLES:
                columns = [c[1] for c in lite.execute(f"PRAGMA table_info({table})")]
                rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM {table}")
                out[table] = sorted((tuple(r) for r in rows), key=repr)
    finally:
        await conn.close()
    return out


def migrate(path: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "AIMLAPI_KEY": AIMLAPI_KEY,
        "DATABASE_PATH": str(path),
        "DATABASE_URL": url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate-to-postgres"],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


async def test_a_populated_sqlite_file_is_copied_whole_and_budgets_stay_exact(
    tmp_path: Path, pg_url: str
) -> None:
    path = tmp_path / "imagen-bot.sqlite3"
    open_job, open_credits = await populate(path)
    expected = {table: sqlite_rows(path, table) for table in COPIED_TABLES}
    assert all(expected.values()), [t for t, rows in expected.items() if not rows]

    done = await asyncio.to_thread(migrate, path, pg_url)
    assert done.returncode == 0, done.stdout + done.stderr
    for table, rows in expected.items():
        assert f"ok    {table}: {len(rows)} rows" in done.stdout
    assert await postgres_rows(pg_url, path) == expected

    async with await PostgresDatabase.open(pg_url) as db:
        assert await db.integrity_check() == "ok"
        ledger = Ledger(db, default_daily_credits=10, usd_cap=5.0)
        scope = guild_scope(GUILD, "Europe/Paris")
        day, _ = ledger.days(scope)
        # 6 (server default) + 2 granted; the reset forgave the 2 spent; 3 are in flight.
        usage = await db.budgets.usage(scope.key, day, USER)
        assert (usage.reserved, usage.charged, usage.grants) == (open_credits, 0, 2)
        granted = 0
        while True:
            try:
                new = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER))
            except BudgetExceededError:
                break
            assert new > open_job  # ids go on after the copied ones
            granted += 1
        assert granted == 6 + 2 - open_credits
        # The job that was open settles once, on PostgreSQL.
        assert await db.jobs.finish_job(open_job, state="failed")
        assert not await db.jobs.finish_job(open_job, state="done", credits_charged=3)
        assert (await db.budgets.usage(scope.key, day, USER)).used == granted
        # The day's spend copied as one total, then moved by jobs of every scope: the delivered
        # 0.04, the DM job's estimate and the new jobs' estimates; the settled one's is gone.
        _, bot_day = ledger.days(scope)
        assert await db.budgets.bot_spend(bot_day) == pytest.approx(0.04 + 0.021 * (1 + granted))


async def test_a_target_with_data_is_refused_and_left_as_it_was(
    tmp_path: Path, pg_url: str
) -> None:
    path = tmp_path / "imagen-bot.sqlite3"
    await populate(path)
    async with await PostgresDatabase.open(pg_url) as db:
        await db.set_meta("already", "here")
    done = await asyncio.to_thread(migrate, path, pg_url)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "is not empty" in done.stderr and "Traceback" not in done.stderr
    async with await PostgresDatabase.open(pg_url) as db:
        assert await db.jobs.open_jobs() == []
        assert await db.get_meta("already") == "here"
        assert await db.get_meta("command_tree_hash") is None
