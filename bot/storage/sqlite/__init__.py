"""The SQLite backend of `bot.storage`: its SQL in `queries`, its schema in `migrations/`."""

from bot.storage.sqlite.database import SQLiteDatabase, load_migrations

__all__ = ["SQLiteDatabase", "load_migrations"]
