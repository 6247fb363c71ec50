"""The PostgreSQL backend: a small asyncpg pool shared by every repository.

Selected by ``DATABASE_URL``; several bot processes may share one database. Schema changes are
the numbered files in ``migrations/``, each applied in one transaction and recorded in the
``schema_version`` table, all under an advisory lock so that processes starting together
migrate once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.storage.migrations import Migration
from bot.storage.migrations import load_migrations as _load
from bot.storage.postgres import queries as q
from bot.storage.postgres.connection import Pool, create_pool
from bot.storage.postgres.repositories import (
    PostgresAudit,
    PostgresBudgets,
    PostgresCluster,
    PostgresGuilds,
    PostgresJobs,
    PostgresMembers,
    PostgresModeration,
    PostgresReports,
    PostgresRequests,
)
from bot.storage.types import StorageError

log = logging.getLogger(__name__)

DEFAULT_POOL_SIZE = 5
PASSWORD_MASK = "********"


def load_migrations() -> list[Migration]:
    """The PostgreSQL migrations shipped with the bot, in order."""
    return _load("bot.storage.postgres.migrations")


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme in {"postgresql", "postgres"}


def masked_url(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD_MASK}@{host}"))


def _scrub(text: str, url: str) -> str:
    password = urlsplit(url).password
    text = text.replace(url, masked_url(url))
    return text.replace(password, PASSWORD_MASK) if password else text


def _unusable(url: str, exc: BaseException) -> StorageError:
    reason = _scrub(str(exc) or type(exc).__name__, url)
    return StorageError(
        f"cannot use the database {masked_url(url)}: {reason}; check DATABASE_URL and that "
        "PostgreSQL is running and reachable"
    )


class PostgresDatabase:
    """Construct with ``await PostgresDatabase.open(url)``; the repositories share its pool."""

    def __init__(self, pool: Pool, url: str) -> None:
        self.url = url
        self.pool = pool
        self.jobs = PostgresJobs(pool)
        self.budgets = PostgresBudgets(pool)
        self.guilds = PostgresGuilds(pool)
        self.moderation = PostgresModeration(pool)
        self.audit = PostgresAudit(pool)
        self.reports = PostgresReports(pool)
        self.requests = PostgresRequests(pool)
        self.members = PostgresMembers(pool)
        self.cluster = PostgresCluster(pool)

    @property
    def shown_as(self) -> str:
        return masked_url(self.url)

    @classmethod
    async def open(
        cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, migrate: bool = True
    ) -> Self:
        try:
            pool = await create_pool(url, size=pool_size)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise _unusable(url, exc) from None
        db = cls(pool, url)
        try:
            if migrate:
                await db.migrate()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await db.close()
            raise _unusable(url, exc) from None
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        await self.pool.raw.close()

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
        if not await self.pool.fetchval(q.VERSION_TABLE_EXISTS):
            return 0
        return int(await self.pool.fetchval(q.SCHEMA_VERSION))

    async def migrate(self) -> int:
        """Apply every migration newer than the recorded version, each in its own transaction,
        holding the migration lock so that another process starting now waits and then finds
        them applied."""
        migrations = load_migrations()
        latest = migrations[-1].version if migrations else 0
        async with self.pool.raw.acquire() as conn:
            await conn.execute(q.ADVISORY_LOCK, q.MIGRATION_LOCK_KEY)
            try:
                await conn.execute(q.CREATE_VERSION_TABLE)
                current = int(await conn.fetchval(q.SCHEMA_VERSION))
                if current > latest:
                    raise StorageError(
                        f"the database {self.shown_as} has schema version {current}, newer "
                        f"than this bot ({latest}); upgrade the bot or restore a backup"
                    )
                for migration in migrations:
                    if migration.version <= current:
                        continue
                    log.info("applying migration %s", migration.name)
                    try:
                        async with conn.transaction():
                            await conn.execute(migration.sql)
                            await conn.execute(q.RECORD_VERSION, migration.version, migration.name)
                    except asyncpg.PostgresError as exc:
                        raise StorageError(
                            f"migration {migration.name} of {self.shown_as} failed: "
                            f"{_scrub(str(exc), self.url)}"
                        ) from None
            finally:
                await conn.execute(q.ADVISORY_UNLOCK, q.MIGRATION_LOCK_KEY)
        return await self.schema_version()

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            answer = await asyncio.wait_for(self.pool.fetchval(q.PING), timeout=2.0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("database ping failed: %s", _scrub(str(exc), self.url))
            return False
        return bool(answer == 1)

    async def integrity_check(self) -> str:
        """ "ok" when the budget counters match the open jobs, as SQLite's check says "ok"."""
        consistent = await self.pool.fetchval(q.INTEGRITY_CHECK)
        return "ok" if consistent else "budget counters do not match the open jobs"

    async def backup_to(self, target: Path) -> None:
        """A consistent copy with ``pg_dump`` (custom format, for ``pg_restore``)."""
        env = dict(os.environ)
        parts = urlsplit(self.url)
        if parts.password:
            env["PGPASSWORD"] = parts.password
        host = parts.netloc.rsplit("@", 1)[-1]
        user = f"{parts.username}@" if parts.username else ""
        url = urlunsplit(parts._replace(netloc=user + host))
        try:
            proc = await asyncio.create_subprocess_exec(
                "pg_dump",
                "--format=custom",
                f"--file={target}",
                url,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise StorageError(
                f"cannot run pg_dump ({exc.strerror}); install PostgreSQL's client tools"
            ) from None
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise StorageError(f"pg_dump failed: {_scrub(err.decode(errors='replace'), self.url)}")

    async def get_meta(self, key: str) -> str | None:
        value = await self.pool.fetchval(q.GET_META, key)
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self.pool.execute(q.SET_META, key, value)
