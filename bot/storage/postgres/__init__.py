"""The PostgreSQL backend of `bot.storage`: its SQL in `queries`, its schema in `migrations/`."""

from bot.storage.postgres.database import (
    PostgresDatabase,
    is_postgres_url,
    load_migrations,
    masked_url,
)

__all__ = ["PostgresDatabase", "is_postgres_url", "load_migrations", "masked_url"]
