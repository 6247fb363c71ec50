"""Raw SQL against either backend, for tests that look at rows the protocols do not expose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase


def sqlite_of(db: Database) -> SQLiteDatabase:
    """The SQLite backend behind ``db``."""
    assert isinstance(db, SQLiteDatabase), type(db)
    return db


async def sql_rows(db: Database, sql: str, params: Sequence[object] = ()) -> list[Any]:
    """Every row of one statement, run on the bot's own connection (or pool). Parameters are
    ``?`` on SQLite and ``$1``... on PostgreSQL; a statement without any runs on both."""
    if isinstance(db, PostgresDatabase):
        return list(await db.pool.fetchall(sql, *params))
    return list(await sqlite_of(db).conn.fetchall(sql, params))
