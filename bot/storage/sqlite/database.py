"""The SQLite backend: one file in WAL mode behind one aiosqlite connection.

A busy timeout, foreign keys on and SQLite's own automatic checkpoints. Every statement runs on
aiosqlite's worker thread, so a slow disk or a long report never stops the event loop (and the
gateway heartbeat with it). Schema changes are the numbered files in ``migrations/``, applied in
order and recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from bot.storage.migrations import Migration
from bot.storage.migrations import load_migrations as _load
from bot.storage.sqlite import queries as q
from bot.storage.sqlite.connection import Connection, RulesCache
from bot.storage.sqlite.repositories import (
    SQLiteAudit,
    SQLiteBudgets,
    SQLiteCluster,
    SQLiteGuilds,
    SQLiteJobs,
    SQLiteMembers,
    SQLiteModeration,
    SQLiteReports,
    SQLiteRequests,
)
from bot.storage.types import StorageError

log = logging.getLogger(__name__)


def load_migrations() -> list[Migration]:
    """The SQLite migrations shipped with the bot, in order."""
    return _load("bot.storage.sqlite.migrations")


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


def _unusable(path: Path, exc: BaseException) -> StorageError:
    # A full or failing disk shows up as "disk I/O error" or "database or disk is full": one
    # line for the operator, not a traceback.
    return StorageError(
        f"cannot use the database {path}: {exc}; check DATABASE_PATH, free disk space "
        "and permissions"
    )


class SQLiteDatabase:
    """Construct with ``await SQLiteDatabase.open(path)``; the repositories share its
    connection and the cache of server rules."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.path = path
        self.conn = Connection(conn)
        rules = RulesCache()
        self.jobs = SQLiteJobs(self.conn)
        self.budgets = SQLiteBudgets(self.conn)
        self.guilds = SQLiteGuilds(self.conn, rules)
        self.moderation = SQLiteModeration(self.conn, rules)
        self.audit = SQLiteAudit(self.conn)
        self.reports = SQLiteReports(self.conn)
        self.requests = SQLiteRequests(self.conn, rules)
        self.members = SQLiteMembers(self.conn, rules)
        self.cluster = SQLiteCluster(self.conn)

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
            with contextlib.suppress(aiosqlite.Error):
                await conn.close()
            raise _unusable(path, exc) from None
        except BaseException:
            await conn.close()
            raise
        return db

    async def _configure(self) -> None:
        # Each statement runs to its end (fetchall): a pragma's result row left unread keeps its
        # statement open, and an open statement can pin an old snapshot.
        try:
            await self.conn.fetchall(q.CONFIGURE[0])
            rows = await self.conn.fetchall(q.JOURNAL_MODE_WAL)
            mode = rows[0][0] if rows else None
            if str(mode).lower() != "wal":
                log.warning("SQLite did not switch to WAL mode (got %s)", mode)
            for pragma in q.CONFIGURE[1:]:
                await self.conn.fetchall(pragma)
        except aiosqlite.Error as exc:
            raise _unusable(self.path, exc) from None

    async def close(self) -> None:
        await self.conn.raw.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_version(self) -> int:
        row = await self.conn.fetchone(q.SCHEMA_VERSION)
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
            async with self.conn.lock:
                try:
                    await self.conn.raw.executescript(
                        q.migration_script(migration.sql, migration.version)
                    )
                except aiosqlite.Error as exc:
                    if self.conn.raw.in_transaction:
                        await self.conn.raw.execute(q.ROLLBACK)
                    raise StorageError(
                        f"migration {migration.name} of {self.path} failed: {exc}; check "
                        "DATABASE_PATH, free disk space and permissions"
                    ) from None
        return await self.schema_version()

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            row = await asyncio.wait_for(self.conn.fetchone(q.PING), timeout=2.0)
        except (aiosqlite.Error, TimeoutError, ValueError) as exc:
            log.warning("database ping failed: %s", exc)
            return False
        return row is not None

    async def integrity_check(self) -> str:
        row = await self.conn.fetchone(q.INTEGRITY_CHECK)
        return str(row[0]) if row else "no answer"

    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the live database (``VACUUM INTO``), safe while running."""
        await self.conn.execute(q.BACKUP_INTO, (str(target),))

    async def get_meta(self, key: str) -> str | None:
        row = await self.conn.fetchone(q.GET_META, (key,))
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self.conn.execute(q.SET_META, (key, value))
