"""A server's rules applied to one request: allowed channels, bans, the blocklist, enabled models.

Compiled blocklists are cached per server and dropped whenever an admin changes the list, so a
prompt check costs no database round trip in the common case. Blocklist work (compiling, add-time
probes, matching) runs on a few threads of its own, one piece at a time per server: a hostile list
costs its own server a thread for a bounded time, never the event loop or another server's turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TypeVar, cast

from bot import texts
from bot.errors import RefusedError
from bot.moderation import (
    Blocklist,
    BlocklistEntry,
    CompiledEntry,
    EntryKind,
    compile_entry,
    ensure_room,
    sanitize_for_display,
)
from bot.storage import Database, RequestContext

log = logging.getLogger(__name__)

T = TypeVar("T")

# Threads for blocklist work, shared by every server. With one piece of work per server at a time,
# one server hammering holds one of them.
BLOCKLIST_THREADS = 4
# How long a request waits for its server's previous blocklist work before it is refused: with the
# check's own deadline, well inside Discord's 3 s to answer an interaction.
SERVER_TURN_WAIT_S = 1.0


class Policy:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        executor: Executor | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._blocklists: dict[int, Blocklist] = {}
        self._versions: dict[int, int] = {}
        self._executor = executor or ThreadPoolExecutor(
            BLOCKLIST_THREADS, thread_name_prefix="blocklist"
        )
        self._turns: dict[int, asyncio.Semaphore] = {}

    async def context(self, guild_id: int | None, user_id: int) -> RequestContext | None:
        """The server's side of one request (None outside servers), in one database round trip."""
        if guild_id is None:
            return None
        return await self._db.requests.request_context(guild_id, user_id, self._clock())

    def check_access(self, ctx: RequestContext | None, channel_id: int | None) -> None:
        """Allowed channel, then ban; raises RefusedError with what to do next."""
        if ctx is None:
            return
        allowed = sorted(ctx.allowed_channels)
        if allowed and channel_id not in ctx.allowed_channels:
            listed = " ".join(f"<#{c}>" for c in allowed[:5])
            raise RefusedError(texts.CHANNEL_NOT_ALLOWED(channels=listed))
        ban = ctx.ban
        if ban is not None:
            refusal = (
                texts.BANNED()
                if ban.expires_at is None
                else texts.BANNED_UNTIL(until=f"<t:{int(ban.expires_at)}:f>")
            )
            if ban.reason:
                reason = sanitize_for_display(ban.reason, 200)
                refusal = texts.BAN_REASON(refusal=refusal, reason=reason)
            raise RefusedError(refusal)

    async def blocklist(self, guild_id: int) -> Blocklist:
        cached = self._blocklists.get(guild_id)
        if cached is not None:
            return cached
        version = self._versions.get(guild_id, 0)
        rows = await self._db.moderation.blocklist(guild_id)
        entries = [BlocklistEntry(cast(EntryKind, r.kind), r.pattern, r.id) for r in rows]
        built = await self._in_turn(guild_id, Blocklist, entries) if entries else Blocklist([])
        if self._versions.get(guild_id, 0) == version:  # no admin change while it was built
            self._blocklists[guild_id] = built
        return built

    def forget_blocklist(self, guild_id: int) -> None:
        self._blocklists.pop(guild_id, None)
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1

    async def new_entry(self, guild_id: int, kind: str, pattern: str) -> CompiledEntry:
        """Validate an entry an admin adds: room in the list, then the checks and the probes.

        Raises UserInputError saying what is wrong; an entry already on the list passes, so the
        admin hears that it is there rather than that the list is full.
        """
        stored = [r for r in await self._db.moderation.blocklist(guild_id) if r.kind == kind]
        if all(r.pattern != pattern for r in stored):
            ensure_room(kind, len(stored))
        return await self._in_turn(guild_id, compile_entry, kind, pattern)

    async def check_text(self, guild_id: int | None, texts: Sequence[str | None]) -> None:
        """Refuse a prompt that matches the server's blocklist; it never reaches the API."""
        if guild_id is None:
            return
        present = [t for t in texts if t]
        if not present:
            return
        blocklist = await self.blocklist(guild_id)
        if not blocklist:
            return  # most servers have no list: no thread hop on the way to the answer
        match = await self._in_turn(guild_id, blocklist.check, present[0], *present[1:])
        if match is not None:
            log.info("prompt refused by the blocklist of guild %d (%s)", guild_id, match)
            raise match.to_error()

    async def _in_turn(self, guild_id: int, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` on a blocklist thread once this server's previous blocklist work is done.

        The server's turn is given back when the thread finishes, not when the request stops
        waiting for it, so a server never has more than one thread busy.
        """
        turn = self._turns.setdefault(guild_id, asyncio.Semaphore(1))
        try:
            async with asyncio.timeout(SERVER_TURN_WAIT_S):
                await turn.acquire()
        except TimeoutError:
            raise RefusedError(
                texts.BLOCKLIST_BUSY(), detail=f"blocklist of guild {guild_id} busy"
            ) from None
        loop = asyncio.get_running_loop()

        def give_back(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed while the thread ran
                loop.call_soon_threadsafe(turn.release)

        try:
            future = self._executor.submit(contextvars.copy_context().run, fn, *args)
        except BaseException:
            turn.release()
            raise
        future.add_done_callback(give_back)
        return await asyncio.wrap_future(future)

    @staticmethod
    def model_enabled(ctx: RequestContext | None, model_id: str) -> bool:
        return ctx is None or model_id not in ctx.disabled_models

    async def disabled_models(self, guild_id: int | None) -> frozenset[str]:
        if guild_id is None:
            return frozenset()
        return frozenset(await self._db.moderation.disabled_models(guild_id))
