"""The statements a PostgreSQL server runs, read from its own log: how the tests see round trips
that the client library makes on its own (the pool's reset), and bench/ledger.py counts them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import asyncpg

from tests.postgres import PostgresServer

# A logged statement runs to the next line that starts with a time (the next log entry).
_LOGGED = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*?)(?=\n\d{4}-|\Z)", re.DOTALL)
# What a WITH statement's first part does: the text after its first ``AS (``.
_FIRST_PART = re.compile(r"WITH\b.*?\bAS\s*\((.*)", re.DOTALL | re.IGNORECASE)


def statement_kind(text: str) -> str:
    """A logged statement's first words, enough to tell the statements apart; a statement
    that begins with ``WITH`` and writes first is named by that write (the settlement:
    ``UPDATE jobs``)."""
    text = text.strip()
    first = _FIRST_PART.match(text)
    if first:
        kind = statement_kind(first.group(1))
        if kind.split(" ", 1)[0].upper() in {"UPDATE", "INSERT", "DELETE"}:
            return kind
    words = re.sub(r"\(.*", "", text, flags=re.DOTALL).split()
    if not words:
        return ""
    return " ".join(words[:2]) if words[0].upper() in {"SELECT", "UPDATE"} else words[0]


class StatementLog:
    """Every statement of a database's new sessions goes to the server's log (``log_statement
    = all`` for that database only); ``mark`` starts a count, ``since_mark`` counts by kind."""

    def __init__(self, server: PostgresServer) -> None:
        self.path: Path = server.root / "server.log"
        self._admin_url = server.url()
        self._start = 0

    async def log_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(self._admin_url)
        try:
            await conn.execute(f"ALTER DATABASE {name} SET log_statement = 'all'")
        finally:
            await conn.close()

    def mark(self) -> None:
        self._start = self.path.stat().st_size

    def since_mark(self) -> Counter[str]:
        with self.path.open(errors="replace") as f:
            f.seek(self._start)
            text = f.read()
        return Counter(statement_kind(m.group(1)) for m in _LOGGED.finditer(text))
