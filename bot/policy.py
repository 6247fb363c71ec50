"""A server's rules applied to one request: allowed channels, bans, the blocklist, enabled models.

Compiled blocklists are cached per server and dropped whenever an admin changes the list, so a
prompt check costs no database round trip in the common case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.errors import RefusedError
from bot.moderation import Blocklist, compile_entry, sanitize_for_display
from bot.storage import Database, RequestContext

log = logging.getLogger(__name__)


class Policy:
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._blocklists: dict[int, Blocklist] = {}

    async def context(self, guild_id: int | None, user_id: int) -> RequestContext | None:
        """The server's side of one request (None outside servers), in one database round trip."""
        if guild_id is None:
            return None
        return await self._db.request_context(guild_id, user_id, self._clock())

    def check_access(self, ctx: RequestContext | None, channel_id: int | None) -> None:
        """Allowed channel, then ban; raises RefusedError with what to do next."""
        if ctx is None:
            return
        allowed = sorted(ctx.allowed_channels)
        if allowed and channel_id not in ctx.allowed_channels:
            listed = " ".join(f"<#{c}>" for c in allowed[:5])
            raise RefusedError(f"Image generation isn't enabled in this channel. Try {listed}.")
        ban = ctx.ban
        if ban is not None:
            until = f" until <t:{int(ban.expires_at)}:f>" if ban.expires_at is not None else ""
            reason = f" Reason: {sanitize_for_display(ban.reason, 200)}" if ban.reason else ""
            raise RefusedError(f"You can't generate images in this server{until}.{reason}")

    async def blocklist(self, guild_id: int) -> Blocklist:
        cached = self._blocklists.get(guild_id)
        if cached is None:
            rows = await self._db.blocklist(guild_id)
            cached = Blocklist([compile_entry(r.kind, r.pattern) for r in rows])
            self._blocklists[guild_id] = cached
        return cached

    def forget_blocklist(self, guild_id: int) -> None:
        self._blocklists.pop(guild_id, None)

    async def check_text(self, guild_id: int | None, texts: Sequence[str]) -> None:
        """Refuse a prompt that matches the server's blocklist; it never reaches the API."""
        if guild_id is None:
            return
        blocklist = await self.blocklist(guild_id)
        texts = [t for t in texts if t]
        if not texts:
            return
        match = blocklist.check(texts[0], *texts[1:])
        if match is not None:
            log.info("prompt refused by the blocklist of guild %d (%s)", guild_id, match)
            raise RefusedError(
                "Your prompt contains something this server doesn't allow. Please rephrase it."
            )

    @staticmethod
    def model_enabled(ctx: RequestContext | None, model_id: str) -> bool:
        return ctx is None or model_id not in ctx.disabled_models

    async def disabled_models(self, guild_id: int | None) -> frozenset[str]:
        if guild_id is None:
            return frozenset()
        return frozenset(await self._db.disabled_models(guild_id))
