"""The PostgreSQL backend on a real server: reservations that stay exact across transactions
and processes, migrations that run once, rules other processes write, a masked URL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from bot.config import ConfigError, load_settings
from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.logs import SecretFilter
from bot.storage import StorageError
from bot.storage.postgres import PostgresDatabase, load_migrations, masked_url
from bot.storage.postgres.connection import Pool
from bot.storage.postgres.repositories import PostgresJobs
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, ROOT, new_job
from tests.pg_race import LIMIT, Race, run_race, spent
from tests.postgres import PostgresServer, requires_postgres

pytestmark = requires_postgres

GUILD = 1000
USER = 42


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[PostgresDatabase]:
    async with await PostgresDatabase.open(pg_url) as database:
        yield database


async def until(check: Callable[[], Awaitable[object]], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def refused_after_the_held_one(
    db: PostgresDatabase,
    pg_url: str,
    hold: Callable[[PostgresDatabase], Awaitable[object]],
    attempt: Callable[[], Awaitable[object]],
) -> None:
    """``hold`` reserves through another connection in a transaction left open; ``attempt`` must
    wait for it, then be refused once it commits: one job stays open, not two."""
    conn = await asyncpg.connect(pg_url)
    try:
        held = conn.transaction()
        await held.start()
        await hold(jobs_on(conn, db))
        reserving = asyncio.ensure_future(attempt())

        async def waiting_or_done() -> bool:
            return reserving.done() or await lock_waits(db) > 0

        await until(waiting_or_done, "the reservation to wait for the lock")
        assert not reserving.done(), "reserved without waiting for the one in flight"
        await held.commit()
    finally:
        await conn.close()
    with pytest.raises(BudgetExceededError):
        await asyncio.wait_for(reserving, 60)
    assert len(await db.jobs.open_jobs()) == 1


async def lock_waits(db: PostgresDatabase) -> int:
    """Sessions on this database waiting for a lock."""
    return int(
        await db.pool.fetchval(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
    )


def jobs_on(conn: asyncpg.Connection, db: PostgresDatabase) -> PostgresDatabase:
    """``db`` with its job writes going through ``conn`` (and the transaction open on it)."""
    other = PostgresDatabase(db.pool, db.url)
    other.jobs = PostgresJobs(Pool(conn))
    return other


# -- one reservation at a time, whatever the transactions ----------------------------------------


@pytest.mark.parametrize("limit", ["budget", "server cap", "usd cap"])
async def test_a_reservation_waits_for_one_in_flight_then_counts_it(
    db: PostgresDatabase, pg_url: str, limit: str
) -> None:
    """Another session has reserved the last credit in a transaction not yet committed. A
    reservation now waits for it and is then refused: one that read the counters without
    waiting would find the credit free and overspend once both commit."""
    budget = 1 if limit == "budget" else 10
    usd_cap = 0.03 if limit == "usd cap" else None  # room for one 0.021 estimate, not two
    if limit == "server cap":
        await db.guilds.update_guild_settings(GUILD, server_cap=1)
    first = guild_scope(GUILD, "UTC")
    second = guild_scope(GUILD + 1, "UTC") if limit == "usd cap" else first
    second_user = USER + 1 if limit == "server cap" else USER
    ledger = Ledger(db, default_daily_credits=budget, usd_cap=usd_cap)
    await refused_after_the_held_one(
        db,
        pg_url,
        hold=lambda held: Ledger(held, default_daily_credits=budget, usd_cap=usd_cap).reserve(
            first, (), new_job(ledger, first)
        ),
        attempt=lambda: ledger.reserve(second, (), new_job(ledger, second, user=second_user)),
    )


async def test_a_reset_waits_for_a_settlement_and_reports_what_it_cleared(
    db: PostgresDatabase, pg_url: str
) -> None:
    """A job settles in a transaction still open while an admin resets the member's day: the
    reset waits, then forgives exactly what is spent, the settled credits included."""
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    day, _ = ledger.days(scope)
    spent_job = await ledger.reserve(scope, (), new_job(ledger, scope, credits=2))
    assert await db.jobs.finish_job(spent_job, state="done", credits_charged=2)
    in_flight = await ledger.reserve(scope, (), new_job(ledger, scope, credits=3))
    conn = await asyncpg.connect(pg_url)
    try:
        held = conn.transaction()
        await held.start()
        assert await jobs_on(conn, db).jobs.finish_job(in_flight, state="done", credits_charged=3)
        resetting = asyncio.create_task(
            db.budgets.reset_usage(scope=scope.key, day=day, user_id=USER)
        )
        await until(lambda: lock_waits(db), "the reset to wait for the settlement")
        await held.commit()
    finally:
        await conn.close()
    assert await asyncio.wait_for(resetting, 60) == 5
    usage = await db.budgets.usage(scope.key, day, USER)
    assert (usage.reserved, usage.charged) == (0, 0)


async def test_a_settings_update_returns_the_row_its_own_write_left(
    db: PostgresDatabase, pg_url: str
) -> None:
    """Another admin's update is in flight: this one waits for it, then returns the row as its
    own write left it (both changes), not a read made before or after."""
    await db.guilds.update_guild_settings(GUILD, timezone="UTC")
    conn = await asyncpg.connect(pg_url)
    try:
        held = conn.transaction()
        await held.start()
        await conn.execute(
            "UPDATE guild_settings SET cooldown_seconds = 30 WHERE guild_id = $1", GUILD
        )
        updating = asyncio.create_task(
            db.guilds.update_guild_settings(GUILD, timezone="Europe/Paris")
        )
        await until(lambda: lock_waits(db), "the update to wait for the other admin's")
        await held.commit()
    finally:
        await conn.close()
    updated = await asyncio.wait_for(updating, 60)
    assert (updated.timezone, updated.cooldown_seconds) == ("Europe/Paris", 30)


@pytest.mark.parametrize("kind", ["budget", "cap", "usd"])
async def test_1000_reservations_from_3_processes_grant_exactly_the_limit(
    pg_url: str, kind: str
) -> None:
    """Three processes, each with its own pool, race 1,000 one-credit reservations for a
    member's budget, a server cap, or the bot-wide USD cap: exactly the limit is granted."""
    race = Race(kind, attempts=1000)
    granted, _ = await asyncio.to_thread(run_race, pg_url, race)
    assert granted == LIMIT
    assert await spent(pg_url, race) == LIMIT


# -- rules another process writes ----------------------------------------------------------------


async def test_a_servers_rules_written_by_another_process_are_seen_at_once(pg_url: str) -> None:
    """Processes share the database: a ban, a channel or a setting written through one is in
    the very next request another one reads (nothing kept that only its own writes drop)."""
    async with (
        await PostgresDatabase.open(pg_url) as reader,
        await PostgresDatabase.open(pg_url) as writer,
    ):
        assert (await reader.requests.request_context(GUILD, USER, at=1000.0)).ban is None
        await writer.moderation.ban(
            guild_id=GUILD, user_id=USER, reason="spam", banned_by=7, expires_at=None
        )
        await writer.moderation.allow_channel(GUILD, 10)
        await writer.guilds.update_guild_settings(GUILD, timezone="Asia/Tokyo")
        ctx = await reader.requests.request_context(GUILD, USER, at=1000.0)
        assert ctx.ban is not None and ctx.ban.reason == "spam"
        assert ctx.allowed_channels == {10} and ctx.settings.timezone == "Asia/Tokyo"


# -- migrations ----------------------------------------------------------------------------------


async def test_two_processes_migrating_a_fresh_database_apply_each_migration_once(
    pg_server: PostgresServer,
) -> None:
    url = await pg_server.create_database(migrated=False)
    script = (
        "import asyncio, sys\n"
        "from bot.storage.postgres import PostgresDatabase\n"
        "async def main():\n"
        "    async with await PostgresDatabase.open(sys.argv[1]) as db:\n"
        "        print(await db.schema_version())\n"
        "asyncio.run(main())\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, url, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(2)
    ]  # fmt: skip
    outputs = [(await asyncio.wait_for(p.communicate(), 120))[0].decode() for p in procs]
    latest = len(load_migrations())
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
        assert output.strip().splitlines()[-1] == str(latest)
    conn = await asyncpg.connect(url)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        functions = await conn.fetchval(
            "SELECT COUNT(*) FROM pg_proc WHERE proname = 'reserve_job'"
        )
    finally:
        await conn.close()
    assert sorted(versions) == list(range(1, latest + 1))
    assert functions == 1


async def test_a_newer_schema_is_refused(db: PostgresDatabase, pg_url: str) -> None:
    await db.pool.execute(
        "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', 0)"
    )
    with pytest.raises(StorageError, match="newer than this bot"):
        await PostgresDatabase.open(pg_url)


async def test_the_counters_check_out_and_a_ping_answers(db: PostgresDatabase) -> None:
    ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
    scope = guild_scope(GUILD, "UTC")
    await ledger.reserve(scope, (), new_job(ledger, scope, credits=2))
    assert await db.ping()
    assert await db.integrity_check() == "ok"
    await db.pool.execute("UPDATE budget_usage SET reserved = reserved + 1")
    assert await db.integrity_check() != "ok"


# -- the URL's password --------------------------------------------------------------------------

PASSWORD = "s3cret-pg-pass"


def test_the_database_urls_password_is_masked_in_settings_and_logs() -> None:
    url = f"postgresql://bot:{PASSWORD}@db.internal:5432/imagen"
    settings = load_settings(
        {"DISCORD_TOKEN": DISCORD_TOKEN, "AIMLAPI_KEY": AIMLAPI_KEY, "DATABASE_URL": url},
        env_file=None,
    )
    assert PASSWORD not in repr(settings)
    assert masked_url(url) == "postgresql://bot:********@db.internal:5432/imagen"
    scrubbed = SecretFilter(settings.secrets()).scrub(f"auth failed for bot ({PASSWORD}) at {url}")
    assert PASSWORD not in scrubbed
    with pytest.raises(ConfigError) as bad:
        load_settings(
            {
                "DISCORD_TOKEN": DISCORD_TOKEN,
                "AIMLAPI_KEY": AIMLAPI_KEY,
                "DATABASE_URL": f"mysql://bot:{PASSWORD}@db/imagen",
            },
            env_file=None,
        )
    assert "DATABASE_URL" in str(bad.value) and PASSWORD not in str(bad.value)


async def test_an_unreachable_database_is_a_clear_error_without_the_password(
    pg_server: PostgresServer,
) -> None:
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:1/imagen"
    with pytest.raises(StorageError) as refused:
        await PostgresDatabase.open(url)
    message = str(refused.value)
    assert PASSWORD not in message and "DATABASE_URL" in message
    assert "postgresql://bot:********@127.0.0.1:1/imagen" in message


async def test_check_names_the_postgres_database_without_its_password(
    pg_url: str, tmp_path: Path
) -> None:
    """``python -m bot check --offline`` on DATABASE_URL: it checks PostgreSQL, and prints the
    URL with the password masked (trust authentication ignores the password given)."""
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "AIMLAPI_KEY": AIMLAPI_KEY,
        "DATABASE_URL": url,
        "DATABASE_PATH": str(tmp_path / "unused.sqlite3"),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "check", "--offline"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"ok    database {masked_url(url)} (schema version {len(load_migrations())})" in output
    assert PASSWORD not in output
    assert not (tmp_path / "unused.sqlite3").exists()


async def test_a_backup_is_a_pg_dump_archive_of_the_live_database(
    db: PostgresDatabase, tmp_path: Path
) -> None:
    await db.set_meta("k", "v")
    target = tmp_path / "backup.dump"
    await db.backup_to(target)
    assert target.read_bytes()[:5] == b"PGDMP"  # pg_restore's custom format
    listing = await asyncio.to_thread(
        subprocess.run, ["pg_restore", "--list", str(target)], capture_output=True, text=True
    )
    assert "TABLE DATA public meta" in listing.stdout and "FUNCTION public reserve_job" in (
        listing.stdout
    )
