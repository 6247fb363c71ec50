"""The asyncpg pool every PostgreSQL repository shares, typed for the rest of the backend.

asyncpg ships no type information: this module is where its values become typed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import asyncpg

Row = Mapping[str, Any]


class Pool:
    """Each method borrows a connection for one statement (autocommit); nothing is held
    between statements, so no await of ours sits inside a transaction."""

    def __init__(self, pool: Any) -> None:
        self.raw = pool

    async def fetchall(self, sql: str, *args: object) -> list[Row]:
        return cast(list[Row], await self.raw.fetch(sql, *args))

    async def fetchone(self, sql: str, *args: object) -> Row | None:
        return cast(Row | None, await self.raw.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: object) -> Any:
        return await self.raw.fetchval(sql, *args)

    async def execute(self, sql: str, *args: object) -> int:
        """Run one write; returns the number of rows it changed (from the command tag)."""
        status = cast(str, await self.raw.execute(sql, *args))
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


async def create_pool(url: str, *, size: int) -> Pool:
    """A pool of at most ``size`` connections (at least one kept open)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=size, command_timeout=60)
    return Pool(pool)
