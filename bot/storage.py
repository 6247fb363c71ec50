"""The storage layer: every SQL statement of the bot lives in this module.

One aiosqlite connection per process to one file in WAL mode, with a busy timeout, foreign keys
on and SQLite's own automatic checkpoints. Every statement runs on aiosqlite's worker thread, so
a slow disk or a long report never stops the event loop (and the gateway heartbeat with it).
Schema changes are numbered files in ``bot/migrations`` applied in order and recorded in
``PRAGMA user_version``. Balances change only in single atomic statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
SQLITE_INT_MAX = 2**63 - 1
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


class StorageError(Exception):
    """The database cannot be opened or written; the message says what to check."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migration files shipped in the package, in order, with no gaps."""
    found: list[Migration] = []
    for entry in resources.files("bot.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(
                f"migration {migration.name} is out of sequence (expected {expected})"
            )
    return found


def _prepare_file(path: Path) -> None:
    """Create the directory and an owner-only database file before SQLite opens it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
    except OSError as exc:
        raise StorageError(
            f"cannot create the database file {path} ({exc.strerror}); "
            "check DATABASE_PATH and that its folder is writable"
        ) from None


class _Store:
    """Connection, plumbing, schema and meta; the sections below add one concern each."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        # One connection is shared by every task; the lock keeps one task's transaction from
        # absorbing another task's statements.
        self._lock = asyncio.Lock()
        # Each server's rules as the checks before the defer read them (RequestContextStore),
        # dropped by every write to them; the epoch keeps a read that raced a write out.
        self._rules: dict[int, GuildRules] = {}
        self._rules_epoch = 0

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Self:
        path = Path(path)
        _prepare_file(path)
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except Exception as exc:
            raise StorageError(
                f"cannot open the database {path}: {exc}; check DATABASE_PATH"
            ) from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await db._configure()
            if migrate:
                await db.migrate()
        except aiosqlite.Error as exc:
            # A full or failing disk shows up here as "disk I/O error" or "database or disk is
            # full": one line for the operator, not a traceback.
            with contextlib.suppress(aiosqlite.Error):
                await conn.close()
            raise StorageError(
                f"cannot use the database {path}: {exc}; check DATABASE_PATH, free disk space "
                "and permissions"
            ) from None
        except BaseException:
            await conn.close()
            raise
        return db

    async def _configure(self) -> None:
        try:
            # Each statement runs to its end (execute_fetchall): a pragma's result row left
            # unread keeps its statement open, and an open statement can pin an old snapshot.
            await self._conn.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            rows = list(await self._conn.execute_fetchall("PRAGMA journal_mode = WAL"))
            mode = rows[0][0] if rows else None
            if str(mode).lower() != "wal":
                log.warning("SQLite did not switch to WAL mode (got %s)", mode)
            # In WAL mode a commit appends to the log without an fsync; SQLite's automatic
            # checkpoint (left at its default) copies the log back and keeps it small.
            await self._conn.execute_fetchall("PRAGMA synchronous = NORMAL")
            await self._conn.execute_fetchall("PRAGMA foreign_keys = ON")
        except aiosqlite.Error as exc:
            raise StorageError(
                f"cannot use the database {self.path}: {exc}; check DATABASE_PATH, free disk space "
                "and permissions"
            ) from None

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- plumbing -----------------------------------------------------------------------------
    #
    # Each statement is one round trip to aiosqlite's worker thread (execute and fetch
    # together). Single statements skip the lock unless a transaction holds it: a statement is
    # queued to the worker before the coroutine first yields, so when the lock is free it runs
    # before any transaction that starts later and can never land inside one.

    async def _one(self, statement: Callable[[], Awaitable[T]]) -> T:
        if self._lock.locked():
            async with self._lock:
                return await statement()
        return await statement()

    async def _fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return list(await self._one(lambda: self._conn.execute_fetchall(sql, params)))

    async def _fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Params = ()) -> int:
        """Run one write in autocommit mode; returns the number of rows changed.

        The cursor is left to the garbage collector: closing it would be a second round trip,
        and a write that has run to its end holds nothing open."""
        cursor = await self._one(lambda: self._conn.execute(sql, params))
        return cursor.rowcount

    async def _write_rules(self, guild_id: int, sql: str, params: Params) -> int:
        """A write to a server's settings, channels, models or bans. The cached rules are
        dropped however the await ends: a cancelled one still runs on the worker thread."""
        try:
            return await self._execute(sql, params)
        finally:
            self._rules_epoch += 1
            self._rules.pop(guild_id, None)

    # -- schema -------------------------------------------------------------------------------

    async def schema_version(self) -> int:
        row = await self._fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply every migration newer than the file's ``user_version``; returns the version."""
        current = await self.schema_version()
        migrations = load_migrations()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise StorageError(
                f"the database {self.path} has schema version {current}, newer than this bot "
                f"({latest}); upgrade the bot or restore a backup"
            )
        for migration in migrations:
            if migration.version <= current:
                continue
            log.info("applying migration %s", migration.name)
            async with self._lock:
                try:
                    await self._conn.executescript(
                        "BEGIN IMMEDIATE;\n"
                        + migration.sql
                        + f"\nPRAGMA user_version = {migration.version};\nCOMMIT;"
                    )
                except aiosqlite.Error as exc:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    raise StorageError(
                        f"migration {migration.name} of {self.path} failed: {exc}; check "
                        "DATABASE_PATH, free disk space and permissions"
                    ) from None
        return await self.schema_version()

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            row = await asyncio.wait_for(self._fetchone("SELECT 1"), timeout=2.0)
        except (aiosqlite.Error, TimeoutError, ValueError) as exc:
            log.warning("database ping failed: %s", exc)
            return False
        return row is not None

    async def integrity_check(self) -> str:
        row = await self._fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database (``VACUUM INTO``), safe while running."""
        await self._execute("VACUUM INTO ?", (str(target),))

    # -- meta ---------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self._execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def now() -> float:
    return time.time()


def placeholders(items: Iterable[object]) -> str:
    return ", ".join("?" for _ in items)


# -- jobs and the budget ledger -----------------------------------------------------------------

OPEN_STATES = ("queued", "running")
TERMINAL_STATES = ("done", "failed", "cancelled", "interrupted")


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job about to be inserted; inserting it reserves ``credits`` atomically."""

    guild_id: int | None
    channel_id: int | None
    user_id: int
    scope: str
    budget_day: str
    bot_day: str
    model: str
    prompt: str
    negative_prompt: str | None
    aspect_ratio: str | None
    count: int
    seed: int | None
    params_json: str
    credits: int
    usd_estimate: float
    parent_job_id: int | None = None
    spoiler: bool | None = None


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """The limits the reserving statement enforces.

    With ``guild_id`` set, the statement itself looks up that server's rules for the member
    (user override, else the highest budget among ``role_ids``, else the server default) and its
    cap, falling back to ``base_limit`` and ``server_cap``: one round trip, and no admin change can
    slip between reading a limit and reserving against it.
    """

    base_limit: int
    server_cap: int | None
    usd_cap: float | None
    guild_id: int | None = None
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    guild_id: int | None
    channel_id: int | None
    user_id: int
    scope: str
    budget_day: str
    bot_day: str
    model: str
    prompt: str
    negative_prompt: str | None
    aspect_ratio: str | None
    count: int
    seed: int | None
    params_json: str
    enhanced_prompt: str | None
    state: str
    credits_reserved: int
    credits_charged: int
    api_credits: float | None
    usd: float | None
    usd_reserved: float
    images_delivered: int
    error_class: str | None
    error_detail: str | None
    message_id: int | None
    parent_job_id: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    spoiler: int | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


_JOB_COLUMNS = ", ".join(f.name for f in fields(JobRow))


def _job(row: aiosqlite.Row) -> JobRow:
    return JobRow(**{key: row[key] for key in row.keys()})  # noqa: SIM118


@dataclass(frozen=True, slots=True)
class Usage:
    reserved: int
    charged: int
    grants: int

    @property
    def used(self) -> int:
        return self.reserved + self.charged


class JobStore(_Store):
    """Job rows and the credits they hold."""

    async def reserve_job(self, job: NewJob, check: BudgetCheck) -> int | None:
        """Insert the job and reserve its credits in one statement; None if a limit says no."""
        params = {
            "guild_id": job.guild_id,
            "channel_id": job.channel_id,
            "user_id": job.user_id,
            "scope": job.scope,
            "day": job.budget_day,
            "bot_day": job.bot_day,
            "model": job.model,
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "aspect_ratio": job.aspect_ratio,
            "count": job.count,
            "seed": job.seed,
            "params_json": job.params_json,
            "credits": job.credits,
            "usd": job.usd_estimate,
            "parent": job.parent_job_id,
            "spoiler": job.spoiler,
            "now": now(),
            "base_limit": check.base_limit,
            "server_cap": check.server_cap,
            "usd_cap": check.usd_cap,
            "rules_guild": check.guild_id,
            "role_ids": json.dumps(list(check.role_ids)),
        }
        row = await self._fetchone(
            """
            INSERT INTO jobs (guild_id, channel_id, user_id, scope, budget_day, bot_day, model,
                              prompt, negative_prompt, aspect_ratio, count, seed, params_json,
                              state, credits_reserved, usd_reserved, parent_job_id, created_at,
                              spoiler)
            SELECT :guild_id, :channel_id, :user_id, :scope, :day, :bot_day, :model,
                   :prompt, :negative_prompt, :aspect_ratio, :count, :seed, :params_json,
                   'queued', :credits, :usd, :parent, :now, :spoiler
              FROM (SELECT COALESCE(
                               (SELECT credits FROM budget_user
                                 WHERE guild_id = :rules_guild AND user_id = :user_id),
                               (SELECT MAX(credits) FROM budget_role
                                 WHERE guild_id = :rules_guild
                                   AND role_id IN (SELECT value FROM json_each(:role_ids))),
                               (SELECT daily_credits FROM guild_settings
                                 WHERE guild_id = :rules_guild),
                               :base_limit) AS base_limit,
                           COALESCE(:server_cap, (SELECT server_cap FROM guild_settings
                                                   WHERE guild_id = :rules_guild)) AS server_cap
                   ) AS rules
            WHERE COALESCE((SELECT reserved + charged FROM budget_usage
                             WHERE scope = :scope AND day = :day AND user_id = :user_id), 0)
                  + :credits
                  <= rules.base_limit + COALESCE((SELECT SUM(credits) FROM budget_grant
                                                   WHERE scope = :scope AND day = :day
                                                     AND user_id = :user_id), 0)
              AND (rules.server_cap IS NULL
                   OR COALESCE((SELECT SUM(reserved + charged) FROM budget_usage
                                 WHERE scope = :scope AND day = :day), 0) + :credits
                      <= rules.server_cap)
              AND (:usd_cap IS NULL
                   OR COALESCE((SELECT usd FROM bot_spend WHERE day = :bot_day), 0) + :usd
                      <= :usd_cap)
            RETURNING id
            """,
            params,
        )
        return None if row is None else int(row["id"])

    async def mark_running(self, job_id: int) -> bool:
        started = await self._fetchone(
            "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued' "
            "RETURNING id",
            (now(), job_id),
        )
        return started is not None

    async def finish_job(
        self,
        job_id: int,
        *,
        state: str,
        credits_charged: int = 0,
        images_delivered: int = 0,
        api_credits: float | None = None,
        usd: float | None = None,
        enhanced_prompt: str | None = None,
        message_id: int | None = None,
        error_class: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        """Move an open job to a terminal state, settling its credits (the trigger refunds the
        rest). Returns False if the job was no longer open, so each job settles exactly once."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"not a terminal state: {state}")
        # RETURNING makes this one round trip to the database thread instead of two.
        settled = await self._fetchone(
            """
            UPDATE jobs
               SET state = :state,
                   credits_charged = MIN(:charged, credits_reserved),
                   images_delivered = :delivered,
                   api_credits = COALESCE(:api_credits, api_credits),
                   usd = COALESCE(:usd, usd),
                   enhanced_prompt = COALESCE(:enhanced, enhanced_prompt),
                   message_id = COALESCE(:message_id, message_id),
                   error_class = :error_class,
                   error_detail = :error_detail,
                   finished_at = :now
             WHERE id = :id AND state IN ('queued', 'running')
            RETURNING id
            """,
            {
                "state": state,
                "charged": credits_charged,
                "delivered": images_delivered,
                "api_credits": api_credits,
                "usd": usd,
                "enhanced": enhanced_prompt,
                "message_id": message_id,
                "error_class": error_class,
                "error_detail": error_detail[:2000] if error_detail else None,
                "now": now(),
                "id": job_id,
            },
        )
        return settled is not None

    async def get_job(self, job_id: int) -> JobRow | None:
        if not 0 < job_id <= SQLITE_INT_MAX:
            return None  # a forged button id; SQLite would raise OverflowError past int64
        row = await self._fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else _job(row)

    async def open_jobs(self) -> list[JobRow]:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"
        )
        return [_job(r) for r in rows]

    async def recent_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        if guild_id is None:
            rows = await self._fetchall(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            )
        else:
            rows = await self._fetchall(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE user_id = ? AND guild_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (user_id, guild_id, limit),
            )
        return [_job(r) for r in rows]

    async def last_job_time(self, *, user_id: int, scope: str) -> float | None:
        row = await self._fetchone(
            # Jobs the bot itself refused or cut off (queue full, shutdown, crash) start no
            # cooldown: the member did nothing wrong.
            "SELECT MAX(created_at) AS t FROM jobs WHERE user_id = ? AND scope = ? "
            "AND COALESCE(error_class, '') NOT IN ('queue_full', 'shutting_down', 'interrupted')",
            (user_id, scope),
        )
        return None if row is None or row["t"] is None else float(row["t"])

    async def usage(self, scope: str, day: str, user_id: int) -> Usage:
        row = await self._fetchone(
            """
            SELECT COALESCE((SELECT reserved FROM budget_usage
                              WHERE scope = :s AND day = :d AND user_id = :u), 0) AS reserved,
                   COALESCE((SELECT charged FROM budget_usage
                              WHERE scope = :s AND day = :d AND user_id = :u), 0) AS charged,
                   COALESCE((SELECT SUM(credits) FROM budget_grant
                              WHERE scope = :s AND day = :d AND user_id = :u), 0) AS grants
            """,
            {"s": scope, "d": day, "u": user_id},
        )
        assert row is not None
        return Usage(int(row["reserved"]), int(row["charged"]), int(row["grants"]))

    async def scope_usage(self, scope: str, day: str) -> int:
        row = await self._fetchone(
            "SELECT COALESCE(SUM(reserved + charged), 0) AS used FROM budget_usage "
            "WHERE scope = ? AND day = ?",
            (scope, day),
        )
        return 0 if row is None else int(row["used"])

    async def bot_spend(self, day: str) -> float:
        row = await self._fetchone("SELECT usd FROM bot_spend WHERE day = ?", (day,))
        return 0.0 if row is None else float(row["usd"])


# -- server settings ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's settings; ``None`` means the bot-wide default applies."""

    guild_id: int
    default_model: str | None = None
    enhance_prompt: bool | None = None
    safety_setting: str | None = None
    person_generation: str | None = None
    add_watermark: bool | None = None
    max_images: int | None = None
    timezone: str = "UTC"
    cooldown_seconds: int = 0
    log_channel_id: int | None = None
    daily_credits: int | None = None
    server_cap: int | None = None


GUILD_SETTING_COLUMNS: tuple[str, ...] = (
    "default_model",
    "enhance_prompt",
    "safety_setting",
    "person_generation",
    "add_watermark",
    "max_images",
    "timezone",
    "cooldown_seconds",
    "log_channel_id",
    "daily_credits",
    "server_cap",
)
_BOOL_COLUMNS = frozenset({"enhance_prompt", "add_watermark"})


def _settings_from(row: aiosqlite.Row | None, guild_id: int) -> GuildSettings:
    """A settings row (or a LEFT JOIN's all-NULL one) as ``GuildSettings`` with defaults."""
    if row is None:
        return GuildSettings(guild_id=guild_id)
    values: dict[str, Any] = {}
    for column in GUILD_SETTING_COLUMNS:
        value = row[column]
        values[column] = bool(value) if column in _BOOL_COLUMNS and value is not None else value
    values["timezone"] = values["timezone"] or "UTC"
    values["cooldown_seconds"] = values["cooldown_seconds"] or 0
    return GuildSettings(guild_id=guild_id, **values)


class GuildStore(_Store):
    async def guild_settings(self, guild_id: int) -> GuildSettings:
        row = await self._fetchone(
            f"SELECT {', '.join(GUILD_SETTING_COLUMNS)} FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return _settings_from(row, guild_id)

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        """Set some columns (``None`` resets one to the default) in one upsert."""
        unknown = set(changes) - set(GUILD_SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        if changes:
            columns = list(changes)
            values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
            if "timezone" in changes and changes["timezone"] is None:
                values[columns.index("timezone")] = "UTC"
            if "cooldown_seconds" in changes and changes["cooldown_seconds"] is None:
                values[columns.index("cooldown_seconds")] = 0
            assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
            await self._write_rules(
                guild_id,
                f"INSERT INTO guild_settings (guild_id, updated_at, {', '.join(columns)}) "
                f"VALUES (?, ?, {placeholders(columns)}) "
                f"ON CONFLICT (guild_id) DO UPDATE SET updated_at = excluded.updated_at, "
                f"{assignments}",
                (guild_id, now(), *values),
            )
        return await self.guild_settings(guild_id)


# -- budget configuration -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetRules:
    """Everything that sets a member's daily limit in one server, read in one statement."""

    user_credits: int | None
    role_credits: dict[int, int]
    daily_credits: int | None
    server_cap: int | None


class BudgetStore(_Store):
    async def budget_rules(self, guild_id: int, user_id: int) -> BudgetRules:
        """The user override, role budgets, server default and cap: one round trip, because the
        ledger needs them all before every reservation."""
        row = await self._fetchone(
            """
            SELECT (SELECT credits FROM budget_user
                     WHERE guild_id = :g AND user_id = :u) AS user_credits,
                   (SELECT json_group_object(role_id, credits) FROM budget_role
                     WHERE guild_id = :g) AS roles,
                   (SELECT daily_credits FROM guild_settings WHERE guild_id = :g) AS daily_credits,
                   (SELECT server_cap FROM guild_settings WHERE guild_id = :g) AS server_cap
            """,
            {"g": guild_id, "u": user_id},
        )
        assert row is not None
        roles: dict[str, int] = json.loads(row["roles"] or "{}")
        return BudgetRules(
            user_credits=row["user_credits"],
            role_credits={int(role): int(credits) for role, credits in roles.items()},
            daily_credits=row["daily_credits"],
            server_cap=row["server_cap"],
        )

    async def set_role_budget(self, guild_id: int, role_id: int, credits: int | None) -> None:
        if credits is None:
            await self._execute(
                "DELETE FROM budget_role WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
            )
            return
        await self._execute(
            "INSERT INTO budget_role (guild_id, role_id, credits) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, role_id) DO UPDATE SET credits = excluded.credits",
            (guild_id, role_id, credits),
        )

    async def set_user_budget(self, guild_id: int, user_id: int, credits: int | None) -> None:
        if credits is None:
            await self._execute(
                "DELETE FROM budget_user WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            return
        await self._execute(
            "INSERT INTO budget_user (guild_id, user_id, credits) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET credits = excluded.credits",
            (guild_id, user_id, credits),
        )

    async def role_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._fetchall(
            "SELECT role_id, credits FROM budget_role WHERE guild_id = ? ORDER BY role_id",
            (guild_id,),
        )
        return {int(r["role_id"]): int(r["credits"]) for r in rows}

    async def user_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._fetchall(
            "SELECT user_id, credits FROM budget_user WHERE guild_id = ? ORDER BY user_id",
            (guild_id,),
        )
        return {int(r["user_id"]): int(r["credits"]) for r in rows}

    async def add_grant(
        self, *, scope: str, day: str, user_id: int, credits: int, granted_by: int
    ) -> None:
        await self._execute(
            "INSERT INTO budget_grant (scope, day, user_id, credits, granted_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (scope, day, user_id, credits, granted_by, now()),
        )

    async def reset_usage(self, *, scope: str, day: str, user_id: int) -> int:
        """Forget a user's spent credits today (credits still in flight stay reserved).
        Returns the credits forgiven."""
        row = await self._fetchone(
            "SELECT charged FROM budget_usage WHERE scope = ? AND day = ? AND user_id = ?",
            (scope, day, user_id),
        )
        await self._execute(
            "UPDATE budget_usage SET charged = 0 WHERE scope = ? AND day = ? AND user_id = ?",
            (scope, day, user_id),
        )
        return 0 if row is None else int(row["charged"])


# -- moderation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BanRow:
    guild_id: int
    user_id: int
    reason: str | None
    banned_by: int
    created_at: float
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class BlocklistRow:
    id: int
    kind: str
    pattern: str
    added_by: int
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    guild_id: int
    actor_id: int
    action: str
    details_json: str
    created_at: float


class ModerationStore(_Store):
    async def allowed_channels(self, guild_id: int) -> list[int]:
        rows = await self._fetchall(
            "SELECT channel_id FROM allowed_channels WHERE guild_id = ? ORDER BY channel_id",
            (guild_id,),
        )
        return [int(r["channel_id"]) for r in rows]

    async def allow_channel(self, guild_id: int, channel_id: int) -> bool:
        changed = await self._write_rules(
            guild_id,
            "INSERT OR IGNORE INTO allowed_channels (guild_id, channel_id) VALUES (?, ?)",
            (guild_id, channel_id),
        )
        return changed == 1

    async def remove_channel(self, guild_id: int, channel_id: int) -> bool:
        changed = await self._write_rules(
            guild_id,
            "DELETE FROM allowed_channels WHERE guild_id = ? AND channel_id = ?",
            (guild_id, channel_id),
        )
        return changed == 1

    async def ban(
        self,
        *,
        guild_id: int,
        user_id: int,
        reason: str | None,
        banned_by: int,
        expires_at: float | None,
    ) -> None:
        await self._write_rules(
            guild_id,
            "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "reason = excluded.reason, banned_by = excluded.banned_by, "
            "created_at = excluded.created_at, expires_at = excluded.expires_at",
            (guild_id, user_id, reason, banned_by, now(), expires_at),
        )

    async def unban(self, guild_id: int, user_id: int) -> bool:
        changed = await self._write_rules(
            guild_id, "DELETE FROM bans WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return changed == 1

    async def active_ban(self, guild_id: int, user_id: int, at: float) -> BanRow | None:
        row = await self._fetchone(
            "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
            "WHERE guild_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)",
            (guild_id, user_id, at),
        )
        return None if row is None else BanRow(**dict(row))

    async def active_bans(self, guild_id: int, at: float) -> list[BanRow]:
        rows = await self._fetchall(
            "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
            "WHERE guild_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
            (guild_id, at),
        )
        return [BanRow(**dict(r)) for r in rows]

    async def add_blocklist(
        self, *, guild_id: int, kind: str, pattern: str, added_by: int
    ) -> int | None:
        """The new entry's id, or None if the same entry exists."""
        row = await self._fetchone(
            "INSERT INTO blocklist (guild_id, kind, pattern, added_by, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, pattern) DO NOTHING RETURNING id",
            (guild_id, kind, pattern, added_by, now()),
        )
        return None if row is None else int(row["id"])

    async def remove_blocklist(self, guild_id: int, kind: str, pattern: str) -> bool:
        return (
            await self._execute(
                "DELETE FROM blocklist WHERE guild_id = ? AND kind = ? AND pattern = ?",
                (guild_id, kind, pattern),
            )
            == 1
        )

    async def blocklist(self, guild_id: int) -> list[BlocklistRow]:
        rows = await self._fetchall(
            "SELECT id, kind, pattern, added_by, created_at FROM blocklist WHERE guild_id = ? "
            "ORDER BY id",
            (guild_id,),
        )
        return [BlocklistRow(**dict(r)) for r in rows]

    async def disabled_models(self, guild_id: int) -> set[str]:
        rows = await self._fetchall(
            "SELECT model_id FROM disabled_models WHERE guild_id = ?", (guild_id,)
        )
        return {str(r["model_id"]) for r in rows}

    async def set_model_enabled(self, guild_id: int, model_id: str, enabled: bool) -> bool:
        """Returns whether anything changed."""
        if enabled:
            sql = "DELETE FROM disabled_models WHERE guild_id = ? AND model_id = ?"
        else:
            sql = "INSERT OR IGNORE INTO disabled_models (guild_id, model_id) VALUES (?, ?)"
        changed = await self._write_rules(guild_id, sql, (guild_id, model_id))
        return changed == 1

    async def audit(
        self, *, guild_id: int, actor_id: int, action: str, details: dict[str, Any]
    ) -> int:
        row = await self._fetchone(
            "INSERT INTO audit_log (guild_id, actor_id, action, details_json, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (guild_id, actor_id, action, json.dumps(details, sort_keys=True, default=str), now()),
        )
        assert row is not None
        return int(row["id"])

    async def audit_rows(self, guild_id: int, limit: int = 50) -> list[AuditRow]:
        rows = await self._fetchall(
            "SELECT id, guild_id, actor_id, action, details_json, created_at FROM audit_log "
            "WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [AuditRow(**dict(r)) for r in rows]


# -- usage reports and history ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """What a server's members generated in a window: delivered images and what they cost."""

    jobs: int
    failed: int
    images: int
    credits: int
    usd: float


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One user's or one model's share of a window (``key`` is the user id or model id)."""

    key: str
    jobs: int
    images: int
    credits: int
    usd: float


@dataclass(frozen=True, slots=True)
class UsageSummary:
    totals: UsageTotals
    top_users: list[UsageLine]
    models: list[UsageLine]


USAGE_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "user_id",
    "channel_id",
    "model",
    "state",
    "count",
    "images_delivered",
    "credits_charged",
    "api_credits",
    "usd",
    "error_class",
    "message_id",
    "prompt",
)


def _usage_line(row: aiosqlite.Row) -> UsageLine:
    return UsageLine(
        key=str(row["k"]),
        jobs=int(row["jobs"]),
        images=int(row["images"]),
        credits=int(row["credits"]),
        usd=float(row["usd"]),
    )


class UsageStore(_Store):
    """Read-only reports over the job rows: usage summaries, CSV exports and history."""

    async def usage_summary(self, guild_id: int, since: float, *, top: int = 5) -> UsageSummary:
        """Totals, the ``top`` users by credits and every model used, for jobs created since."""
        window = "FROM jobs WHERE guild_id = :g AND created_at >= :since"
        sums = (
            "COUNT(*) AS jobs, COALESCE(SUM(images_delivered), 0) AS images, "
            "COALESCE(SUM(credits_charged), 0) AS credits, COALESCE(SUM(usd), 0) AS usd"
        )
        params = {"g": guild_id, "since": since, "top": top}
        total = await self._fetchone(
            f"SELECT {sums}, COALESCE(SUM(state IN ('failed', 'interrupted')), 0) AS failed "
            f"{window}",
            params,
        )
        assert total is not None
        users = await self._fetchall(
            f"SELECT user_id AS k, {sums} {window} GROUP BY user_id "
            "ORDER BY credits DESC, images DESC, user_id LIMIT :top",
            params,
        )
        models = await self._fetchall(
            f"SELECT model AS k, {sums} {window} GROUP BY model "
            "ORDER BY credits DESC, images DESC, model",
            params,
        )
        return UsageSummary(
            totals=UsageTotals(
                jobs=int(total["jobs"]),
                failed=int(total["failed"]),
                images=int(total["images"]),
                credits=int(total["credits"]),
                usd=float(total["usd"]),
            ),
            top_users=[_usage_line(r) for r in users],
            models=[_usage_line(r) for r in models],
        )

    async def usage_rows(
        self, guild_id: int, since: float, *, limit: int = 50_000
    ) -> list[tuple[object, ...]]:
        """The jobs created since, oldest first, as tuples in ``USAGE_CSV_COLUMNS`` order."""
        rows = await self._fetchall(
            f"SELECT {', '.join(USAGE_CSV_COLUMNS)} FROM jobs "
            "WHERE guild_id = ? AND created_at >= ? ORDER BY id LIMIT ?",
            (guild_id, since, limit),
        )
        return [tuple(r[c] for c in USAGE_CSV_COLUMNS) for r in rows]

    async def delivered_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        """A user's latest generations that reached a message (in one server, or anywhere)."""
        where = "user_id = ? AND state = 'done' AND message_id IS NOT NULL"
        params: list[object] = [user_id]
        if guild_id is not None:
            where += " AND guild_id = ?"
            params.append(guild_id)
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [_job(r) for r in rows]


# -- what the checks before the defer read ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything the checks of one request need from its server: they all run before Discord's
    3-second acknowledgement deadline."""

    settings: GuildSettings
    allowed_channels: frozenset[int]
    disabled_models: frozenset[str]
    ban: BanRow | None


@dataclass(frozen=True, slots=True)
class GuildRules:
    """A server's side of every request, read in one statement and kept until a write to it:
    settings, allowed channels, disabled models, and the bans not yet expired when read."""

    settings: GuildSettings
    allowed_channels: frozenset[int]
    disabled_models: frozenset[str]
    bans: dict[int, BanRow]


class RequestContextStore(_Store):
    """The rules are cached per server; every write to them goes through ``_write_rules``,
    which drops the server's copy. Writes to the file from another process are not seen until
    a restart (the bot is the database's only writer)."""

    async def request_context(self, guild_id: int, user_id: int, at: float) -> RequestContext:
        rules = self._rules.get(guild_id)
        if rules is None:
            epoch = self._rules_epoch
            rules = await self._read_rules(guild_id, at)
            if epoch == self._rules_epoch:
                self._rules[guild_id] = rules
        ban = rules.bans.get(user_id)
        if ban is not None and ban.expires_at is not None and ban.expires_at <= at:
            ban = None
        return RequestContext(
            settings=rules.settings,
            allowed_channels=rules.allowed_channels,
            disabled_models=rules.disabled_models,
            ban=ban,
        )

    async def _read_rules(self, guild_id: int, at: float) -> GuildRules:
        columns = ", ".join(f"gs.{c} AS {c}" for c in GUILD_SETTING_COLUMNS)
        row = await self._fetchone(
            f"""
            SELECT {columns},
                   (SELECT json_group_array(channel_id) FROM allowed_channels
                     WHERE guild_id = :g) AS channels,
                   (SELECT json_group_array(model_id) FROM disabled_models
                     WHERE guild_id = :g) AS disabled,
                   (SELECT json_group_array(json_object(
                               'user_id', user_id, 'reason', reason, 'banned_by', banned_by,
                               'created_at', created_at, 'expires_at', expires_at))
                      FROM bans
                     WHERE guild_id = :g AND (expires_at IS NULL OR expires_at > :at)) AS bans
              FROM (SELECT :g AS guild_id) AS q
              LEFT JOIN guild_settings AS gs ON gs.guild_id = q.guild_id
            """,
            {"g": guild_id, "at": at},
        )
        assert row is not None
        bans = [BanRow(guild_id=guild_id, **b) for b in json.loads(row["bans"] or "[]")]
        return GuildRules(
            settings=_settings_from(row, guild_id),
            allowed_channels=frozenset(int(c) for c in json.loads(row["channels"] or "[]")),
            disabled_models=frozenset(str(m) for m in json.loads(row["disabled"] or "[]")),
            bans={b.user_id: b for b in bans},
        )


class Database(JobStore, GuildStore, BudgetStore, ModerationStore, UsageStore, RequestContextStore):
    """The bot's SQLite database. Construct with ``await Database.open(path)``."""
