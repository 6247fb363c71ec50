"""The one aiosqlite connection every SQLite repository shares, and the cached server rules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import aiosqlite

from bot.storage.types import GuildRules

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]


class Connection:
    """Each statement is one round trip to aiosqlite's worker thread (execute and fetch
    together). Single statements skip the lock unless a transaction holds it: a statement is
    queued to the worker before the coroutine first yields, so when the lock is free it runs
    before any transaction that starts later and can never land inside one."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn
        # Held by multi-statement work (migrations) so no other task's statement lands inside.
        self.lock = asyncio.Lock()

    async def _one(self, statement: Callable[[], Awaitable[T]]) -> T:
        if self.lock.locked():
            async with self.lock:
                return await statement()
        return await statement()

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return list(await self._one(lambda: self.raw.execute_fetchall(sql, params)))

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write in autocommit mode; returns the number of rows changed.

        The cursor is left to the garbage collector: closing it would be a second round trip,
        and a write that has run to its end holds nothing open."""
        cursor = await self._one(lambda: self.raw.execute(sql, params))
        return cursor.rowcount


class RulesCache:
    """Each server's rules as the checks before the defer read them, dropped by every write to
    them. The epoch keeps a read that raced a write from being kept. Writes to the file from
    another process are not seen until a restart (the bot is the database's only writer)."""

    def __init__(self) -> None:
        self._rules: dict[int, GuildRules] = {}
        self._epoch = 0

    def get(self, guild_id: int) -> GuildRules | None:
        return self._rules.get(guild_id)

    @property
    def epoch(self) -> int:
        return self._epoch

    def keep(self, guild_id: int, rules: GuildRules, read_at_epoch: int) -> None:
        if read_at_epoch == self._epoch:
            self._rules[guild_id] = rules

    @contextlib.contextmanager
    def writing(self, guild_id: int) -> Iterator[None]:
        """Around a write to a server's settings, channels, models or bans: the kept rules are
        dropped however the write ends (a cancelled one still runs on the worker thread)."""
        try:
            yield
        finally:
            self._epoch += 1
            self._rules.pop(guild_id, None)
