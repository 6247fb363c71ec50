"""Storage: migrations from an empty file, idempotent re-runs, pragmas, file permissions."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import time
from pathlib import Path

import pytest

from bot.collector import CollectorHold
from bot.ledger import Ledger, guild_scope
from bot.storage import (
    CHECKPOINT_EVERY,
    CHECKPOINT_PUT_OFF_MAX,
    Database,
    StorageError,
    load_migrations,
)
from tests.harness import eventually, new_job


async def test_migrates_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    async with await Database.open(path) as db:
        latest = load_migrations()[-1].version
        assert await db.schema_version() == latest
        assert await db.integrity_check() == "ok"
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "guild_settings", "jobs", "budget_usage", "bans", "audit_log"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (path.stat().st_mode & 0o777) == 0o600


async def test_rerun_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with await Database.open(path) as db:
        await db.set_meta("k", "v")
        first = await db.schema_version()
    async with await Database.open(path) as db:
        assert await db.schema_version() == first
        assert await db.migrate() == first
        assert await db.get_meta("k") == "v"


async def test_pragmas(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.sqlite3") as db:
        assert (await db._fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        assert (await db._fetchone("PRAGMA busy_timeout"))[0] >= 5000  # type: ignore[index]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with await Database.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StorageError, match="newer than this bot"):
        await Database.open(path)


async def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="DATABASE_PATH"):
        await Database.open(blocker / "bot.sqlite3")


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
    async with await Database.open(path) as db:
        assert await db.schema_version() == load_migrations()[-1].version
        usage = await db.usage("g:1", "2026-11-21", 42)
        assert (usage.reserved, usage.charged) == (2, 1)
        assert await db.bot_spend("2026-11-21") == pytest.approx(0.06)
        assert await db.finish_job(1, state="done", credits_charged=2, usd=0.04)
        usage = await db.usage("g:1", "2026-11-21", 42)
        assert (usage.reserved, usage.charged) == (0, 3)
        assert await db.bot_spend("2026-11-21") == pytest.approx(0.06)
    with sqlite3.connect(path) as conn:
        ddl = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        assert "WITHOUT ROWID" in ddl["budget_usage"] and "WITHOUT ROWID" in ddl["bot_spend"]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"jobs_reserve", "jobs_settle"} <= names and "budget_usage_day" not in names


async def test_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_guild_settings_roundtrip_and_isolation(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.sqlite3") as db:
        await db.update_guild_settings(1, timezone="Europe/Paris", enhance_prompt=False)
        s1 = await db.guild_settings(1)
        s2 = await db.guild_settings(2)
        assert s1.timezone == "Europe/Paris" and s1.enhance_prompt is False
        assert s2.timezone == "UTC" and s2.enhance_prompt is None
        await db.update_guild_settings(1, timezone=None)
        assert (await db.guild_settings(1)).timezone == "UTC"


async def test_backup_while_open(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.sqlite3") as db:
        await db.set_meta("k", "v")
        await db.backup_to(tmp_path / "backup.sqlite3")
    with sqlite3.connect(tmp_path / "backup.sqlite3") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='k'").fetchone()[0] == "v"


@pytest.mark.parametrize("loop_connection", [True, False])
async def test_request_context_reads_a_servers_rules_in_one_go(
    tmp_path: Path, loop_connection: bool
) -> None:
    async with await Database.open(tmp_path / "bot.sqlite3", loop_connection=loop_connection) as db:
        empty = await db.request_context(1, 42, at=1000.0)
        assert empty.settings.timezone == "UTC" and empty.settings.cooldown_seconds == 0
        assert empty.allowed_channels == frozenset() and empty.ban is None
        await db.update_guild_settings(1, timezone="Asia/Tokyo", cooldown_seconds=5)
        await db.allow_channel(1, 10)
        await db.allow_channel(1, 11)
        await db.set_model_enabled(1, "google/imagen-4.0-generate-001", False)
        await db.ban(guild_id=1, user_id=42, reason="spam", banned_by=7, expires_at=2000.0)
        ctx = await db.request_context(1, 42, at=1000.0)
        assert ctx.settings == await db.guild_settings(1)
        assert ctx.allowed_channels == {10, 11}
        assert ctx.disabled_models == {"google/imagen-4.0-generate-001"}
        assert ctx.ban is not None and (ctx.ban.reason, ctx.ban.expires_at) == ("spam", 2000.0)
        assert (await db.request_context(1, 42, at=2000.0)).ban is None  # expired
        assert (await db.request_context(1, 43, at=1000.0)).ban is None  # someone else
        other = await db.request_context(2, 42, at=1000.0)  # another server sees none of it
        assert other.allowed_channels == frozenset() and other.disabled_models == frozenset()
        assert other.ban is None and other.settings.timezone == "UTC"
        # The rules are kept between requests; every write to them is seen by the next one.
        await db.remove_channel(1, 10)
        await db.set_model_enabled(1, "google/imagen-4.0-generate-001", True)
        await db.unban(1, 42)
        await db.update_guild_settings(1, timezone=None)
        ctx = await db.request_context(1, 42, at=1000.0)
        assert ctx.allowed_channels == {11} and ctx.disabled_models == frozenset()
        assert ctx.ban is None and ctx.settings.timezone == "UTC"
        await db.ban(guild_id=1, user_id=43, reason=None, banned_by=7, expires_at=None)
        assert (await db.request_context(1, 43, at=1000.0)).ban is not None


# -- the event loop's own connection ------------------------------------------------------------
#
# The statements a member waits on before their interaction is answered run on a connection of
# the event loop's thread, so they neither queue behind aiosqlite's worker nor pay its thread
# wake-ups; when SQLite is busy they go through aiosqlite instead, and never block the loop.

SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
    "SELECT COUNT(*) FROM c"
)


@pytest.mark.parametrize("loop_connection", [True, False])
async def test_checks_before_the_answer_do_not_queue_behind_a_slow_statement(
    tmp_path: Path, loop_connection: bool
) -> None:
    """A slow report on aiosqlite's thread (an admin's usage export, say) does not hold up the
    request context, cooldown and reservation of an /imagine; without the loop's connection it
    does, which is what this test would catch."""
    async with await Database.open(tmp_path / "bot.sqlite3", loop_connection=loop_connection) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1, "UTC")
        slow = asyncio.create_task(db._fetchall(SLOW_QUERY))
        await asyncio.sleep(0.05)  # the worker thread is inside the slow statement
        started = time.perf_counter()
        await db.request_context(1, 42, at=time.time())
        await db.last_job_time(user_id=42, scope=scope.key)
        job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=42))
        checks_done = time.perf_counter()
        # With the loop's connection the checks finish while the slow statement still runs;
        # through aiosqlite they wait for it.
        assert slow.done() is not loop_connection
        await slow
        if loop_connection:
            assert checks_done - started < 0.05 < time.perf_counter() - started
        job = await db.get_job(job_id)
        assert job is not None and job.state == "queued" and job.credits_reserved == 1


async def test_a_locked_database_falls_back_to_aiosqlite_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    """Another process holds the write lock: the reservation waits on aiosqlite's thread (busy
    timeout) while the event loop keeps running, and lands once the lock is released."""
    path = tmp_path / "bot.sqlite3"
    async with await Database.open(path) as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1, "UTC")
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO meta (key, value) VALUES ('held', 'by another process')")
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            started = time.perf_counter()
            reserving = asyncio.create_task(
                ledger.reserve(scope, (), new_job(ledger, scope, user=42))
            )
            await asyncio.sleep(0.3)
            assert not reserving.done()  # waiting for the lock, on the worker thread
            assert ticks >= 10  # ... and the loop was free all along
            other.execute("COMMIT")
            job_id = await reserving
            assert time.perf_counter() - started >= 0.3
            ticker.cancel()
        finally:
            other.close()
        job = await db.get_job(job_id)
        assert job is not None and job.credits_reserved == 1
        assert await db.get_meta("held") == "by another process"
        # The next statement takes the loop's connection again.
        await ledger.reserve(scope, (), new_job(ledger, scope, user=43))
        usage = await db.usage(scope.key, ledger.days(scope)[0], 43)
        assert usage.reserved == 1


async def test_the_wal_is_checkpointed_though_the_loop_connection_never_does(
    tmp_path: Path,
) -> None:
    """Every write runs on the loop's connection, which never checkpoints (that fsyncs); the
    aiosqlite thread does every CHECKPOINT_EVERY writes, so the WAL is reused, not grown."""
    path = tmp_path / "bot.sqlite3"
    async with await Database.open(path) as db:
        ledger = Ledger(db, default_daily_credits=10_000, usd_cap=None)
        scope = guild_scope(1, "UTC")
        for n in range(2_000):
            job_id = await ledger.reserve(scope, (), new_job(ledger, scope, user=n % 50))
            await db.finish_job(job_id, state="done", credits_charged=1)
            # A running bot awaits the network between writes; a checkpoint starts and ends
            # in those gaps (these writes never yield: they run at once on the loop).
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        wal = await asyncio.to_thread(os.path.getsize, f"{path}-wal")
    # Without checkpoints these 4,000 commits grow it to ~90 MB; with them it stays ~10 MB.
    assert wal < 16 * 1024 * 1024, f"WAL grew to {wal} bytes"


async def _reserve(db: Database, ledger: Ledger, count: int) -> None:
    scope = guild_scope(1, "UTC")
    for n in range(count):
        await ledger.reserve(scope, (), new_job(ledger, scope, user=n % 50))
        await asyncio.sleep(0)


async def test_a_checkpoint_due_while_members_wait_waits_for_the_quiet(tmp_path: Path) -> None:
    """A checkpoint fsyncs, which slows the writes beside it: one that falls due during a busy
    period starts once it is over. Only checkpoints write the main file (the loop's connection
    writes the WAL), so its size tells when one ran."""
    path = tmp_path / "bot.sqlite3"
    gc_thresholds = gc.get_threshold()
    hold = CollectorHold(idle_s=0.05)
    async with await Database.open(path) as db:
        db.quiet_moment = hold.after_busy
        ledger = Ledger(db, default_daily_credits=10_000, usd_cap=None)
        before = path.stat().st_size
        release = hold.hold()  # an answer in progress
        await _reserve(db, ledger, CHECKPOINT_EVERY + 50)
        await asyncio.sleep(0.2)
        assert path.stat().st_size == before  # due, and put off
        release()
        await eventually(lambda: path.stat().st_size > before, 5, "the checkpoint after it")
    assert gc.get_threshold() == gc_thresholds


async def test_a_checkpoint_is_not_put_off_forever(tmp_path: Path) -> None:
    """A busy period that never ends still gets a checkpoint, at CHECKPOINT_PUT_OFF_MAX times
    the usual interval, so the WAL stays bounded."""
    path = tmp_path / "bot.sqlite3"
    hold = CollectorHold(idle_s=60)
    async with await Database.open(path) as db:
        db.quiet_moment = hold.after_busy
        ledger = Ledger(db, default_daily_credits=100_000, usd_cap=None)
        before = path.stat().st_size
        release = hold.hold()
        try:
            await _reserve(db, ledger, CHECKPOINT_EVERY * CHECKPOINT_PUT_OFF_MAX - 10)
            await asyncio.sleep(0.2)
            assert path.stat().st_size == before
            await _reserve(db, ledger, 20)
            await eventually(lambda: path.stat().st_size > before, 5, "the overdue checkpoint")
            assert hold.busy
        finally:
            release()
            hold.end_busy(collect=False)
