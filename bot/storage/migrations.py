"""Numbered schema migrations, one folder of SQL files per dialect.

A file ``NNNN_name.sql`` moves a database from version NNNN-1 to NNNN; the version a database
records means the same schema for as long as the files exist, so numbers are never reused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from bot.storage.types import StorageError

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """The migration files shipped in ``package``, in order, with no gaps."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
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
