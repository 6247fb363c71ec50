"""The asyncpg pool every PostgreSQL repository shares, typed for the rest of the backend.

asyncpg ships no type information: this module is where its values become typed ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, cast

import asyncpg

Row = Mapping[str, Any]

# Set while one of Pool's methods has a connection out: one statement, in autocommit.
_ONE_STATEMENT: ContextVar[bool] = ContextVar("one_statement", default=False)


async def _reset(conn: Any) -> None:
    """Runs as a connection goes back to the pool, after asyncpg has rolled back any open
    transaction. One autocommit statement leaves nothing else behind (its locks end with its
    transaction), so it skips asyncpg's reset query, a round trip on every statement; work
    that held the connection itself (``pool.raw.acquire()``) gets the full reset."""
    if not _ONE_STATEMENT.get():
        await conn.execute(conn.get_reset_query())


class Pool:
    """Each method borrows a connection for one statement (autocommit); nothing is held
    between statements, so no await of ours sits inside a transaction. Statements sent through
    them must not change the session (``SET``, session advisory locks, ``LISTEN``): work that
    does borrows a connection with ``raw.acquire()``, which is reset when it comes back."""

    def __init__(self, pool: Any) -> None:
        self.raw = pool

    async def _one(
        self, run: Callable[..., Awaitable[Any]], sql: str, args: tuple[object, ...]
    ) -> Any:
        token = _ONE_STATEMENT.set(True)
        try:
            return await run(sql, *args)
        finally:
            _ONE_STATEMENT.reset(token)

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        return cast(list[Row], await self._one(self.raw.fetch, sql, args))

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        return cast(Row | None, await self._one(self.raw.fetchrow, sql, args))

    async def fetchval(self, sql: str, *args: object) -> Any:
        return await self._one(self.raw.fetchval, sql, args)

    async def execute(self, sql: str, *args: object) -> int:
        """Run one write; returns the number of rows it changed (from the command tag)."""
        status = cast(str, await self._one(self.raw.execute, sql, args))
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


async def create_pool(url: str, *, size: int) -> Pool:
    """A pool of at most ``size`` connections (at least one kept open)."""
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=size, command_timeout=60, reset=_reset
    )
    return Pool(pool)
