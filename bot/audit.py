"""The audit trail of admin actions: what a change records, and the one function that records it.

Every admin change is written to the ``audit_log`` table by ``bot.admin.AdminService`` through
``record``. Telling the server's log channel about it is Discord's business and lives with the
admin cog (``cogs/admin/notices.py``), so this half, and the service, need no Discord at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot import texts
from bot.errors import (
    AuthError,
    ImagenError,
    ModelUnavailableError,
    OutOfCreditsError,
    RateLimitedError,
    UpstreamError,
)
from bot.options import ImagineOptions
from bot.storage import Database, JobRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded admin action, as the log channel shows it."""

    id: int
    guild_id: int
    actor_id: int
    action: str
    details: dict[str, object] = field(default_factory=dict)


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """A link that opens a message in the client (``@me`` outside servers)."""
    where = str(guild_id) if guild_id is not None else "@me"
    return f"https://discord.com/channels/{where}/{channel_id}/{message_id}"


def result_url(row: JobRow, *, dm_channel_id: int | None = None) -> str | None:
    """A link to a job's result. A private result is in its member's DMs with the bot, which only
    that member can open: ``dm_channel_id`` is theirs, or None for any other reader (no link)."""
    if row.message_id is None:
        return None
    if ImagineOptions.from_row(row).private:
        return None if dm_channel_id is None else jump_url(None, dm_channel_id, row.message_id)
    if row.channel_id is None:
        return None
    return jump_url(row.guild_id, row.channel_id, row.message_id)


def user_ref(user_id: int) -> str:
    """A member as audit details name them (the log channel renders it without pinging)."""
    return f"<@{user_id}>"


def channel_ref(channel_id: int) -> str:
    return f"<#{channel_id}>"


async def record(
    db: Database, *, guild_id: int, actor_id: int, action: str, details: dict[str, object]
) -> AuditEntry:
    """Write the audit row of a change that has just been made."""
    audit_id = await db.audit.record(
        guild_id=guild_id, actor_id=actor_id, action=action, details=dict(details)
    )
    log.info(
        "guild %d: admin %d did %s %s (audit %d)", guild_id, actor_id, action, details, audit_id
    )
    return AuditEntry(audit_id, guild_id, actor_id, action, dict(details))


# What to do, per error; the member only sees the short message, the admin sees this.
_ADMIN_HINTS: tuple[tuple[type[ImagenError], texts.Text], ...] = (
    (AuthError, texts.NOTICE_HINT_AUTH),
    (OutOfCreditsError, texts.NOTICE_HINT_OUT_OF_CREDITS),
    (ModelUnavailableError, texts.NOTICE_HINT_MODEL_UNAVAILABLE),
    (RateLimitedError, texts.NOTICE_HINT_RATE_LIMITED),
    (UpstreamError, texts.NOTICE_HINT_UPSTREAM),
)


def admin_hint(error: BaseException) -> str:
    """What an admin can do about a failed job (never the raw upstream text)."""
    for kind, hint in _ADMIN_HINTS:
        if isinstance(error, kind):
            return hint()
    if isinstance(error, ImagenError):
        return texts.NOTICE_HINT_KNOWN()
    return texts.NOTICE_HINT_UNEXPECTED()
