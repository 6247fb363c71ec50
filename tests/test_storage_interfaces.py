"""The storage protocols, the SQLite backend behind them, and writes that report what they did.

The race tests put a second connection's write exactly between two steps of the first one: a
trace callback on the bot's connection (run on its worker thread as a statement starts) waits
while another ``SQLiteDatabase`` on the same file commits. A method that reads and then writes
in two statements reports a figure the write no longer matches; one statement cannot.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.ledger import Ledger, guild_scope
from bot.storage import (
    AuditRepository,
    BudgetRepository,
    Database,
    GuildRepository,
    JobRepository,
    ModerationRepository,
    ReportRepository,
    RequestRepository,
)
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase, load_migrations
from tests.harness import new_job
from tests.postgres import Backend
from tests.storage_sql import sql_rows, sqlite_of

GUILD = 1000
USER = 42

REPOSITORIES: dict[str, type[Any]] = {
    "jobs": JobRepository,
    "budgets": BudgetRepository,
    "guilds": GuildRepository,
    "moderation": ModerationRepository,
    "audit": AuditRepository,
    "reports": ReportRepository,
    "requests": RequestRepository,
}


def as_protocols(db: SQLiteDatabase | PostgresDatabase) -> tuple[Database, *tuple[object, ...]]:
    """Never called: mypy checks that each backend and each repository fit their protocols."""
    jobs: JobRepository = db.jobs
    budgets: BudgetRepository = db.budgets
    guilds: GuildRepository = db.guilds
    moderation: ModerationRepository = db.moderation
    audit: AuditRepository = db.audit
    reports: ReportRepository = db.reports
    requests: RequestRepository = db.requests
    return db, jobs, budgets, guilds, moderation, audit, reports, requests


def protocol_methods(protocol: type[Any]) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if inspect.iscoroutinefunction(member)
    }


def same_shape(expected: inspect.Signature, found: inspect.Signature) -> bool:
    """Same parameter names, kinds and defaults (mypy checks the types)."""

    def shape(sig: inspect.Signature) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    return shape(expected) == shape(found)


async def test_each_backend_has_every_protocol_method_with_its_signature(
    backend: Backend,
) -> None:
    db = await backend.open()
    await db.close()
    for name in ("close", "schema_version", "migrate", "ping", "integrity_check", "get_meta"):
        assert name in protocol_methods(Database)
    for name, expected in protocol_methods(Database).items():
        assert same_shape(expected, inspect.signature(getattr(type(db), name))), name
    for attribute, protocol in REPOSITORIES.items():
        repository = getattr(db, attribute)
        methods = protocol_methods(protocol)
        assert methods, attribute
        for name, expected in methods.items():
            found = getattr(type(repository), name, None)
            assert inspect.iscoroutinefunction(found), f"{attribute}.{name}"
            assert same_shape(expected, inspect.signature(found)), f"{attribute}.{name}"


# -- writes that report what they did -------------------------------------------------------------


async def between(
    db: SQLiteDatabase,
    starts: Callable[[str], bool],
    other: Callable[[], Coroutine[Any, Any, object]],
) -> list[str]:
    """Run ``other`` (on the event loop, another connection) to its end just as the first
    statement of ``db`` for which ``starts`` is true begins; returns the statements seen."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    def trace(sql: str) -> None:
        if seen or not starts(sql):
            return
        seen.append(sql)
        asyncio.run_coroutine_threadsafe(other(), loop).result(timeout=60)

    await sqlite_of(db).conn.raw.set_trace_callback(trace)
    return seen


def is_write_to(table: str) -> Callable[[str], bool]:
    def starts(sql: str) -> bool:
        words = sql.split()
        return len(words) > 1 and words[0].upper() in {"UPDATE", "DELETE"} and words[1] == table

    return starts


async def test_a_reset_reports_exactly_the_credits_it_forgave(tmp_path: Path) -> None:
    """A job settles on another connection while a reset runs: what the reset reports as
    forgiven is what it removed, and nothing spent is left over."""
    path = tmp_path / "bot.sqlite3"
    async with (
        await SQLiteDatabase.open(path) as admin,
        await SQLiteDatabase.open(path) as worker,
    ):
        ledger = Ledger(worker, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(GUILD, "UTC")
        spent = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER, credits=2))
        assert await worker.jobs.finish_job(spent, state="done", credits_charged=2)
        in_flight = await ledger.reserve(scope, (), new_job(ledger, scope, user=USER, credits=3))
        day, _ = ledger.days(scope)

        async def settle() -> None:
            assert await worker.jobs.finish_job(in_flight, state="done", credits_charged=3)

        seen = await between(admin, is_write_to("budget_usage"), settle)
        forgiven = await admin.budgets.reset_usage(scope=scope.key, day=day, user_id=USER)
        assert seen, "the settlement was never put inside the reset"
        usage = await admin.budgets.usage(scope.key, day, USER)
        assert (usage.reserved, usage.charged) == (0, 0)
        assert forgiven == 5


async def test_a_settings_update_returns_the_row_its_own_write_left(tmp_path: Path) -> None:
    """Another admin changes the timezone right after this update: the settings the update
    returns (and the admin is shown) are the ones it wrote, not a later read."""
    path = tmp_path / "bot.sqlite3"
    async with (
        await SQLiteDatabase.open(path) as first,
        await SQLiteDatabase.open(path) as second,
    ):
        await first.guilds.update_guild_settings(GUILD, timezone="UTC")

        async def other_admin() -> None:
            await second.guilds.update_guild_settings(GUILD, timezone="Asia/Tokyo")

        def after_the_write(sql: str) -> bool:
            return not sql.lstrip().upper().startswith("INSERT INTO GUILD_SETTINGS")

        await between(first, after_the_write, other_admin)
        updated = await first.guilds.update_guild_settings(
            GUILD, timezone="Europe/Paris", cooldown_seconds=30
        )
        assert (updated.timezone, updated.cooldown_seconds) == ("Europe/Paris", 30)


# -- migrations ---------------------------------------------------------------------------------


def columns(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"PRAGMA table_info({t})").fetchall() for t in sorted(tables)}


async def test_a_fresh_database_and_one_made_at_version_4_both_migrate(tmp_path: Path) -> None:
    """A database the previous release made (the first four migrations, with spending on it)
    opens, reaches the latest version with its balances, and has the fresh schema."""
    migrations = load_migrations()
    assert [m.name for m in migrations[:4]] == [
        "0001_initial.sql",
        "0002_budgets.sql",
        "0003_moderation.sql",
        "0004_lean_counters.sql",
    ]
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old, isolation_level=None) as conn:
        for migration in migrations[:4]:
            conn.executescript(
                f"BEGIN; {migration.sql}\nPRAGMA user_version = {migration.version}; COMMIT;"
            )
        conn.execute(
            "INSERT INTO jobs (user_id, scope, budget_day, bot_day, model, prompt, count, "
            "params_json, state, credits_reserved, usd_reserved, created_at) "
            "VALUES (?, 'g:1', '2026-11-21', '2026-11-21', 'm', 'p', 2, '{}', 'queued', 2, ?, 0)",
            (USER, 0.04),
        )
        conn.execute("UPDATE jobs SET state = 'done', credits_charged = 2, usd = 0.04")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4

    fresh = tmp_path / "fresh.sqlite3"
    async with await SQLiteDatabase.open(fresh) as db:
        assert await db.schema_version() == migrations[-1].version
        assert await db.integrity_check() == "ok"
    async with await SQLiteDatabase.open(old) as db:
        assert await db.schema_version() == migrations[-1].version
        assert await db.integrity_check() == "ok"
        usage = await db.budgets.usage("g:1", "2026-11-21", USER)
        assert (usage.reserved, usage.charged) == (0, 2)
        assert await db.budgets.reset_usage(scope="g:1", day="2026-11-21", user_id=USER) == 2
        rows = await sql_rows(db, "SELECT COUNT(*) AS n FROM jobs")
        assert rows[0]["n"] == 1
    assert columns(old) == columns(fresh)
