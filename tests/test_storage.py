"""Storage: migrations from an empty file, idempotent re-runs, pragmas, file permissions; the
tests that hold for any backend run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.ledger import Ledger, guild_scope
from bot.storage import Database, StorageError
from bot.storage.migrations import Migration
from bot.storage.postgres import load_migrations as postgres_migrations
from bot.storage.sqlite import SQLiteDatabase, load_migrations
from bot.storage.types import GUILD_SETTING_COLUMNS
from tests.harness import new_job
from tests.postgres import Backend
from tests.storage_sql import sql_rows, sqlite_of


async def test_migrates_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    async with await SQLiteDatabase.open(path) as db:
        latest = load_migrations()[-1].version
        assert await db.schema_version() == latest
        assert await db.integrity_check() == "ok"
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "guild_settings", "jobs", "budget_usage", "bans", "audit_log"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (path.stat().st_mode & 0o777) == 0o600


async def test_rerun_is_idempotent(backend: Backend) -> None:
    async with await backend.open() as db:
        await db.set_meta("k", "v")
        first = await db.schema_version()
    async with await backend.open() as db:
        assert await db.schema_version() == first
        assert await db.migrate() == first
        assert await db.get_meta("k") == "v"


async def test_pragmas(tmp_path: Path) -> None:
    async with await SQLiteDatabase.open(tmp_path / "bot.sqlite3") as db:
        assert (await sql_rows(db, "PRAGMA foreign_keys"))[0][0] == 1
        assert (await sql_rows(db, "PRAGMA busy_timeout"))[0][0] >= 5000
        assert (await sql_rows(db, "PRAGMA synchronous"))[0][0] == 1
        # SQLite's own automatic checkpoint, at its default: nothing of ours schedules them.
        assert (await sql_rows(db, "PRAGMA wal_autocheckpoint"))[0][0] == 1000


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with await SQLiteDatabase.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StorageError, match="newer than this bot"):
        await SQLiteDatabase.open(path)


async def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="DATABASE_PATH"):
        await SQLiteDatabase.open(blocker / "bot.sqlite3")


async def test_lean_counters_migration_keeps_balances_and_triggers(tmp_path: Path) -> None:
    """A database made by the first three migrations, with a job in flight and one settled,
    moves to WITHOUT ROWID counters with every balance kept; the job in flight then settles
    through the re-created trigger."""
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as conn:
        for migration in load_migrations()[:3]:
            conn.executescript(
                f"BEGIN; {migration.sql}\nPRAGMA user_version = {migration.version}; COMMIT;"
            )
        insert = (
            "INSERT INTO jobs (user_id, scope, budget_day, bot_day, model, prompt, count, "
            "params_json, state, credits_reserved, usd_reserved, created_at) "
            "VALUES (42, 'g:1', '2026-11-21', '2026-11-21', 'm', 'p', ?, '{}', 'queued', ?, ?, 0)"
        )
        conn.execute(insert, (2, 2, 0.04))
        conn.execute(insert, (1, 1, 0.02))
        conn.execute("UPDATE jobs SET state = 'done', credits_charged = 1, usd = 0.02 WHERE id = 2")
    async with await SQLiteDatabase.open(path) as db:
        assert await db.schema_version() == load_migrations()[-1].version
        usage = await db.budgets.usage("g:1", "2026-11-21", 42)
        assert (usage.reserved, usage.charged) == (2, 1)
        assert await db.budgets.bot_spend("2026-11-21") == pytest.approx(0.06)
        assert await db.jobs.finish_job(1, state="done", credits_charged=2, usd=0.04)
        usage = await db.budgets.usage("g:1", "2026-11-21", 42)
        assert (usage.reserved, usage.charged) == (0, 3)
        assert await db.budgets.bot_spend("2026-11-21") == pytest.approx(0.06)
    with sqlite3.connect(path) as conn:
        ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        assert "WITHOUT ROWID" in ddl["budget_usage"] and "WITHOUT ROWID" in ddl["bot_spend"]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"jobs_reserve", "jobs_settle"} <= names and "budget_usage_day" not in names


@pytest.mark.parametrize("loader", [load_migrations, postgres_migrations])
async def test_migrations_are_numbered_without_gaps(
    loader: Callable[[], list[Migration]],
) -> None:
    versions = [m.version for m in loader()]
    assert versions == list(range(1, len(versions) + 1))


async def test_guild_settings_roundtrip_and_isolation(backend: Backend) -> None:
    async with await backend.open() as db:
        await db.guilds.update_guild_settings(1, timezone="Europe/Paris", enhance_prompt=False)
        s1 = await db.guilds.guild_settings(1)
        s2 = await db.guilds.guild_settings(2)
        assert s1.timezone == "Europe/Paris" and s1.enhance_prompt is False
        assert s2.timezone == "UTC" and s2.enhance_prompt is None
        await db.guilds.update_guild_settings(1, timezone=None)
        assert (await db.guilds.guild_settings(1)).timezone == "UTC"


# One value per setting that differs from its default, so each column's round trip is seen.
SETTING_SAMPLES: dict[str, object] = {
    "default_model": "google/imagen-4.0-ultra-generate-001",
    "enhance_prompt": True,
    "safety_setting": "block_only_high",
    "person_generation": "dont_allow",
    "add_watermark": False,
    "max_images": 2,
    "timezone": "Asia/Tokyo",
    "cooldown_seconds": 30,
    "log_channel_id": 2**62 + 5,
    "daily_credits": 1234,
    "server_cap": 99999,
    "allow_private": False,
    "language": "pt_BR",
}


async def test_every_guild_setting_is_stored_and_read_back_on_each_backend(
    backend: Backend,
) -> None:
    """A setting added to ``GuildSettings`` without its column in one dialect's migrations fails
    here on that backend."""
    assert set(SETTING_SAMPLES) == set(GUILD_SETTING_COLUMNS)
    async with await backend.open() as db:
        written = await db.guilds.update_guild_settings(7, **SETTING_SAMPLES)
        read = await db.guilds.guild_settings(7)
        for column, value in SETTING_SAMPLES.items():
            assert getattr(written, column) == value, column
            assert getattr(read, column) == value, column


async def test_backup_while_open(tmp_path: Path) -> None:
    async with await SQLiteDatabase.open(tmp_path / "bot.sqlite3") as db:
        await db.set_meta("k", "v")
        await db.backup_to(tmp_path / "backup.sqlite3")
    with sqlite3.connect(tmp_path / "backup.sqlite3") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='k'").fetchone()[0] == "v"


async def test_request_context_reads_a_servers_rules_in_one_go(backend: Backend) -> None:
    async with await backend.open() as db:
        empty = await db.requests.request_context(1, 42, at=1000.0)
        assert empty.settings.timezone == "UTC" and empty.settings.cooldown_seconds == 0
        assert empty.allowed_channels == frozenset() and empty.ban is None
        await db.guilds.update_guild_settings(1, timezone="Asia/Tokyo", cooldown_seconds=5)
        await db.moderation.allow_channel(1, 10)
        await db.moderation.allow_channel(1, 11)
        await db.moderation.set_model_enabled(1, "google/imagen-4.0-generate-001", False)
        await db.moderation.ban(
            guild_id=1, user_id=42, reason="spam", banned_by=7, expires_at=2000.0
        )
        ctx = await db.requests.request_context(1, 42, at=1000.0)
        assert ctx.settings == await db.guilds.guild_settings(1)
        assert ctx.allowed_channels == {10, 11}
        assert ctx.disabled_models == {"google/imagen-4.0-generate-001"}
        assert ctx.ban is not None and (ctx.ban.reason, ctx.ban.expires_at) == ("spam", 2000.0)
        assert (await db.requests.request_context(1, 42, at=2000.0)).ban is None  # expired
        assert (await db.requests.request_context(1, 43, at=1000.0)).ban is None  # someone else
        other = await db.requests.request_context(
            2, 42, at=1000.0
        )  # another server sees none of it
        assert other.allowed_channels == frozenset() and other.disabled_models == frozenset()
        assert other.ban is None and other.settings.timezone == "UTC"
        # The rules are kept between requests; every write to them is seen by the next one.
        await db.moderation.remove_channel(1, 10)
        await db.moderation.set_model_enabled(1, "google/imagen-4.0-generate-001", True)
        await db.moderation.unban(1, 42)
        await db.guilds.update_guild_settings(1, timezone=None)
        ctx = await db.requests.request_context(1, 42, at=1000.0)
        assert ctx.allowed_channels == {11} and ctx.disabled_models == frozenset()
        assert ctx.ban is None and ctx.settings.timezone == "UTC"
        await db.moderation.ban(guild_id=1, user_id=43, reason=None, banned_by=7, expires_at=None)
        assert (await db.requests.request_context(1, 43, at=1000.0)).ban is not None


# -- the event loop never waits on SQLite --------------------------------------------------------


async def stall_inserts(db: Database, table: str) -> tuple[threading.Event, list[bool]]:
    """Make every insert into ``table`` on the bot's connection wait, as on a slow disk, until
    the returned event is set (a trigger calling a function that blocks its thread). The list
    says, for each insert, whether the event came (True) or the wait gave up (False)."""
    proceed = threading.Event()
    waited: list[bool] = []

    def stalled() -> int:
        waited.append(proceed.wait(30))
        return 1

    await sqlite_of(db).conn.raw.create_function("stalled", 0, stalled)
    await sqlite_of(db).conn.raw.execute_fetchall(
        f"CREATE TEMP TRIGGER stall_{table} AFTER INSERT ON main.{table} BEGIN "
        "SELECT stalled(); END"
    )
    return proceed, waited


async def test_a_slow_reservation_leaves_the_event_loop_running(tmp_path: Path) -> None:
    """The statement a member waits on before the answer takes long (a slow disk): the event
    loop runs other work meanwhile, the gateway heartbeat among it. Here the statement goes on
    only once a callback of the loop has run."""
    async with await SQLiteDatabase.open(tmp_path / "bot.sqlite3") as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1, "UTC")
        proceed, waited = await stall_inserts(db, "jobs")
        reserving = asyncio.create_task(ledger.reserve(scope, (), new_job(ledger, scope, user=42)))
        asyncio.get_running_loop().call_soon(proceed.set)
        job_id = await asyncio.wait_for(reserving, 60)
        assert waited == [True]  # the insert waited, and the loop ran the callback meanwhile
        job = await db.jobs.get_job(job_id)
        assert job is not None and job.state == "queued" and job.credits_reserved == 1


async def test_a_locked_database_makes_the_reservation_wait_not_the_loop(tmp_path: Path) -> None:
    """Another process holds the write lock: the reservation waits on aiosqlite's thread (busy
    timeout) while the event loop keeps running, and lands once the lock is released."""
    path = tmp_path / "bot.sqlite3"
    async with await SQLiteDatabase.open(path) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1, "UTC")
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO meta (key, value) VALUES ('held', 'by another process')")
            reserving = asyncio.create_task(
                ledger.reserve(scope, (), new_job(ledger, scope, user=42))
            )
            await asyncio.sleep(0.3)  # the loop runs ...
            assert not reserving.done()  # ... while the reservation waits for the lock
            other.execute("COMMIT")
            job_id = await reserving
        finally:
            other.close()
        job = await db.jobs.get_job(job_id)
        assert job is not None and job.credits_reserved == 1
        assert await db.get_meta("held") == "by another process"


async def test_the_wal_stays_small_under_back_to_back_writes(tmp_path: Path) -> None:
    """SQLite's own checkpoints keep the WAL file small however the writes come, even back to
    back with nothing else for the loop to do between them."""
    path = tmp_path / "bot.sqlite3"
    async with await SQLiteDatabase.open(path) as db:
        ledger = Ledger(db, default_daily_credits=10_000, usd_cap=None)
        scope = guild_scope(1, "UTC")
        for n in range(1_000):
            job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=n % 50))
            await db.jobs.finish_job(job_id, state="done", credits_charged=1)
        wal = await asyncio.to_thread(os.path.getsize, f"{path}-wal")
    # Never checkpointed, these 2,000 commits would grow it to tens of megabytes.
    assert wal < 16 * 1024 * 1024, f"WAL grew to {wal} bytes"


async def test_a_cancelled_write_to_a_servers_rules_is_seen_by_the_next_request(
    tmp_path: Path,
) -> None:
    """The rules each request reads are kept between requests. An admin command cut off while
    its write is on the worker thread (the write still commits) must not leave the old rules
    kept: the next request sees the ban."""
    async with await SQLiteDatabase.open(tmp_path / "bot.sqlite3") as db:
        assert (await db.requests.request_context(1, 42, at=1000.0)).ban is None  # now kept
        proceed, _ = await stall_inserts(db, "bans")
        banning = asyncio.create_task(
            db.moderation.ban(guild_id=1, user_id=42, reason=None, banned_by=7, expires_at=None)
        )
        await asyncio.sleep(0.05)  # the insert is queued to the worker thread, and waits there
        banning.cancel()
        with pytest.raises(asyncio.CancelledError):
            await banning
        proceed.set()
        assert (await db.requests.request_context(1, 42, at=1000.0)).ban is not None
