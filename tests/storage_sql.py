"""Raw SQL against the SQLite backend, for tests that look at rows the protocols do not expose."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.storage import Database
from bot.storage.sqlite import SQLiteDatabase


def sqlite_of(db: Database) -> SQLiteDatabase:
    """The SQLite backend behind ``db`` (the only backend the tests run)."""
    assert isinstance(db, SQLiteDatabase), type(db)
    return db


async def sql_rows(db: Database, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
    """Every row of one statement, run on the bot's own connection."""
    return await sqlite_of(db).conn.fetchall(sql, params)
