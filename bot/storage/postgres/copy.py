"""``migrate-to-postgres``: an existing SQLite database copied into an empty PostgreSQL one.

One transaction on PostgreSQL: every table row for row, the counters as they are (copied rows
go around the reservation and the settlement, so nothing is counted twice), the id sequences
moved past the copied ids, then the row counts compared. Any difference rolls it all back.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import asyncpg

from bot.storage.postgres import queries as q
from bot.storage.postgres.database import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase
from bot.storage.types import StorageError

log = logging.getLogger(__name__)


async def _sqlite_tables(source: SQLiteDatabase) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    for row in await source.conn.fetchall(q.SQLITE_TABLES):
        name = str(row[0])
        info = await source.conn.fetchall(q.sqlite_table_info(name))
        tables[name] = [str(column[1]) for column in info]
    return tables


async def copy_sqlite_to_postgres(path: Path, target: PostgresDatabase) -> dict[str, int]:
    """Copy the SQLite file at ``path`` into ``target`` (migrated, every table empty); returns
    the rows copied per table. Raises ``StorageError`` and leaves the target untouched when
    the target holds data, a table is unknown, a row does not fit, or a count differs."""
    if not await asyncio.to_thread(path.is_file):
        raise StorageError(f"no SQLite database at {path}; check DATABASE_PATH")
    try:
        return await _copy(path, target)
    except asyncpg.PostgresError as exc:
        raise StorageError(
            f"copying into {target.shown_as} failed, nothing was copied: {exc}"
        ) from None


async def _copy(path: Path, target: PostgresDatabase) -> dict[str, int]:
    async with await SQLiteDatabase.open(path) as source:
        tables = await _sqlite_tables(source)
        unknown = sorted(set(tables) - set(q.COPIED_TABLES) - set(q.UNCOPIED_TABLES))
        if unknown:
            raise StorageError(
                f"the SQLite database has tables this bot cannot copy: {', '.join(unknown)}"
            )
        async with target.pool.raw.acquire() as conn, conn.transaction():
            for table in q.COPIED_TABLES:
                if await conn.fetchval(q.count_rows(table)):
                    raise StorageError(
                        f"the PostgreSQL database {target.shown_as} is not empty (table "
                        f"{table} has rows); copy into a new, empty database"
                    )
            expected: dict[str, int] = {}
            for table in q.COPIED_TABLES:
                columns = tables.get(table, [])
                known = {str(r[0]) for r in await conn.fetch(q.table_columns(table))}
                missing = [c for c in columns if c not in known]
                if missing:
                    raise StorageError(
                        f"PostgreSQL's table {table} lacks the columns {', '.join(missing)}; "
                        "upgrade the bot"
                    )
                rows: list[Any] = (
                    await source.conn.fetchall(q.sqlite_rows(table, columns)) if columns else []
                )
                if rows:
                    await conn.copy_records_to_table(
                        table, records=[tuple(r) for r in rows], columns=columns
                    )
                expected[table] = len(rows)
                log.info("copied %d rows of %s", len(rows), table)
            for table in q.IDENTITY_TABLES:
                await conn.execute(q.sync_identity(table))
            for table, count in expected.items():
                copied = int(await conn.fetchval(q.count_rows(table)))
                if copied != count:
                    raise StorageError(
                        f"table {table}: {count} rows in SQLite but {copied} in PostgreSQL; "
                        "nothing was copied"
                    )
    return expected
