"""Storage: migrations from an empty file, idempotent re-runs, pragmas, file permissions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage import Database, StorageError, load_migrations


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


async def test_request_context_reads_a_servers_rules_in_one_go(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.sqlite3") as db:
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
