"""What admins see of the bot: the audit trail of admin actions and the server's log channel.

Every admin action is written to the ``audit_log`` table first and then posted to the log channel
(if the server set one). Every delivered generation is mirrored there, and failures an admin can
fix (a bad API key, an empty API account) are explained there in more detail than members get.
Posting to the log channel is best effort: a missing channel or permission is logged, never raised,
so it can't break the command or the job that triggered it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.catalogue import get_model
from bot.errors import (
    ApiError,
    AuthError,
    ImagenError,
    ModelUnavailableError,
    OutOfCreditsError,
    RateLimitedError,
    UpstreamError,
)
from bot.moderation import sanitize_for_display

if TYPE_CHECKING:
    from bot.client import ImagenBot
    from bot.generation import PreparedJob

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
AUDIT_COLOUR = discord.Colour.from_rgb(250, 166, 26)
MIRROR_COLOUR = discord.Colour.from_rgb(66, 133, 244)
FAILURE_COLOUR = discord.Colour.from_rgb(237, 66, 69)
MAX_DETAIL_FIELDS = 10


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """A link that opens a message in the client (``@me`` outside servers)."""
    where = str(guild_id) if guild_id is not None else "@me"
    return f"https://discord.com/channels/{where}/{channel_id}/{message_id}"


async def log_channel_id(bot: ImagenBot, guild_id: int) -> int | None:
    return (await bot.db.guild_settings(guild_id)).log_channel_id


async def post_to_log_channel(
    bot: ImagenBot,
    guild_id: int,
    *,
    embed: discord.Embed,
    content: str | None = None,
    channel_id: int | None = None,
) -> discord.Message | None:
    """Post to the server's log channel (or ``channel_id``); None if unset or Discord refused."""
    if channel_id is None:
        channel_id = await log_channel_id(bot, guild_id)
    if channel_id is None:
        return None
    channel = bot.get_partial_messageable(channel_id, guild_id=guild_id)
    try:
        return await channel.send(content=content, embed=embed, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning(
            "could not post to the log channel %d of guild %d: %s", channel_id, guild_id, exc
        )
        return None


def _detail_value(value: object) -> str:
    if value is None:
        return "(default)"
    if isinstance(value, bool):
        return "on" if value else "off"
    return sanitize_for_display(str(value), 300) or "(empty)"


def admin_action_embed(
    actor_id: int, action: str, details: dict[str, object], audit_id: int | None = None
) -> discord.Embed:
    embed = discord.Embed(
        title=f"Admin: {sanitize_for_display(action, 100)}",
        description=f"by <@{actor_id}>",
        colour=AUDIT_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    for key, value in list(details.items())[:MAX_DETAIL_FIELDS]:
        embed.add_field(name=sanitize_for_display(str(key), 100), value=_detail_value(value))
    if audit_id is not None:
        embed.set_footer(text=f"Audit #{audit_id}")
    return embed


async def record_admin_action(
    bot: ImagenBot,
    interaction: discord.Interaction[Any],
    action: str,
    details: dict[str, object],
) -> None:
    """Write the audit row, then tell the log channel (if the server set one).

    Call this after the change succeeded; the row is the record, the post is a courtesy.
    """
    guild_id = interaction.guild_id
    if guild_id is None:
        log.warning("admin action %s outside a server was not audited", action)
        return
    actor_id = interaction.user.id
    audit_id = await bot.db.audit(
        guild_id=guild_id, actor_id=actor_id, action=action, details=dict(details)
    )
    log.info(
        "guild %d: admin %d did %s %s (audit %d)", guild_id, actor_id, action, details, audit_id
    )
    await post_to_log_channel(
        bot, guild_id, embed=admin_action_embed(actor_id, action, details, audit_id)
    )


# -- generations --------------------------------------------------------------------------------


def generation_embed(
    *,
    user_id: int,
    prompt: str,
    model_id: str,
    images: int,
    charged: int,
    usd: float | None,
    link: str | None,
    job_id: int,
) -> discord.Embed:
    model = get_model(model_id)
    embed = discord.Embed(
        title="Image generated",
        description=sanitize_for_display(prompt, 1000),
        colour=MIRROR_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    embed.add_field(name="Requested by", value=f"<@{user_id}>")
    embed.add_field(
        name="Model", value=model.name if model else sanitize_for_display(model_id, 100)
    )
    embed.add_field(name="Images", value=str(images))
    cost = f"{charged} credit{'s' if charged != 1 else ''}"
    if usd is not None:
        cost += f" (${usd:.4f})"
    embed.add_field(name="Cost", value=cost)
    if link is not None:
        embed.add_field(name="Message", value=f"[Jump to it]({link})")
    embed.set_footer(text=f"Job {job_id}")
    return embed


async def mirror_generation(
    bot: ImagenBot, job: PreparedJob, message: discord.Message, charged: int
) -> None:
    """On ``job_delivered``: copy a delivered job to the server's log channel."""
    if job.guild_id is None:
        return
    channel_id = await log_channel_id(bot, job.guild_id)
    if channel_id is None:
        return
    row = await bot.db.get_job(job.job_id)
    link = (
        jump_url(job.guild_id, job.channel_id, message.id) if job.channel_id is not None else None
    )
    embed = generation_embed(
        user_id=job.user_id,
        prompt=job.request.prompt,
        model_id=job.model.id,
        images=row.images_delivered if row is not None else job.request.count,
        charged=charged,
        usd=row.usd if row is not None else None,
        link=link,
        job_id=job.job_id,
    )
    where = f" in <#{job.channel_id}>" if job.channel_id is not None else ""
    await post_to_log_channel(
        bot,
        job.guild_id,
        channel_id=channel_id,
        content=f"<@{job.user_id}> generated an image{where}.",
        embed=embed,
    )


# -- failures admins can act on -----------------------------------------------------------------

# What to do, per error; the member only sees the short message, the admin sees this.
_ADMIN_HINTS: tuple[tuple[type[ImagenError], str], ...] = (
    (
        AuthError,
        "The AI/ML API rejected the bot's API key. Check AIMLAPI_KEY in the bot's environment "
        "and restart the bot.",
    ),
    (OutOfCreditsError, "The AI/ML API account is out of credits. Top it up at aimlapi.com."),
    (
        ModelUnavailableError,
        "The AI/ML API says this model is unavailable (it may be deprecated). Consider "
        "`/imagine-admin model disable` for it.",
    ),
    (
        RateLimitedError,
        "The AI/ML API is rate limiting the bot. If it persists, lower "
        "MAX_CONCURRENT_GENERATIONS or raise the account's limits.",
    ),
    (UpstreamError, "The AI/ML API is failing (server errors). Usually temporary."),
)


def admin_hint(error: BaseException) -> str:
    for kind, hint in _ADMIN_HINTS:
        if isinstance(error, kind):
            return hint
    if isinstance(error, ImagenError):
        return "See the bot's logs for this job id for the full error."
    return "An unexpected error; the bot's logs have the traceback under this job id."


def failure_embed(
    *, job_id: int, user_id: int, model_id: str | None, error: BaseException
) -> discord.Embed:
    error_class = error.error_class if isinstance(error, ImagenError) else type(error).__name__
    embed = discord.Embed(
        title="Generation failed",
        description=admin_hint(error),
        colour=FAILURE_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    embed.add_field(name="Error", value=sanitize_for_display(error_class, 100))
    if isinstance(error, ApiError) and error.status is not None:
        embed.add_field(name="HTTP status", value=str(error.status))
    embed.add_field(name="Requested by", value=f"<@{user_id}>")
    if model_id is not None:
        model = get_model(model_id)
        embed.add_field(
            name="Model", value=model.name if model else sanitize_for_display(model_id, 100)
        )
    embed.set_footer(text=f"Job {job_id} · the member was not charged")
    return embed


async def report_failure_to_admins(
    bot: ImagenBot,
    *,
    guild_id: int | None,
    job_id: int,
    user_id: int,
    error: BaseException,
    model_id: str | None = None,
) -> None:
    """Tell the log channel why a job failed and what an admin can do about it.

    Only the error class, HTTP status and a fixed hint are posted: raw upstream text stays in the
    logs (under the job id), so nothing the API echoed (or a secret) can reach a channel.
    """
    if guild_id is None:
        return
    await post_to_log_channel(
        bot,
        guild_id,
        embed=failure_embed(job_id=job_id, user_id=user_id, model_id=model_id, error=error),
    )
