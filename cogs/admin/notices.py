"""The Discord half of the audit trail: what the server's log channel shows, and posting it.

Admin actions (recorded by ``bot.admin`` through ``bot.audit``), every delivered generation, and
failures an admin can fix are posted there. It lives with the admin cog because only the admin
side posts there, and so the core that records needs no Discord. Posting is best effort: a
missing channel or permission is logged, never raised, so it can't break the command or the job
that triggered it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import discord

from bot import i18n, texts
from bot.audit import AuditEntry, admin_hint, jump_url
from bot.catalogue import get_model
from bot.errors import ApiError, ImagenError
from bot.moderation import sanitize_for_display
from bot.rendering import NO_PINGS

if TYPE_CHECKING:
    from bot.client import ImagenBot
    from bot.generation import PreparedJob

log = logging.getLogger(__name__)

AUDIT_COLOUR = discord.Colour.from_rgb(250, 166, 26)
MIRROR_COLOUR = discord.Colour.from_rgb(66, 133, 244)
FAILURE_COLOUR = discord.Colour.from_rgb(237, 66, 69)
MAX_DETAIL_FIELDS = 10


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
        channel_id = await bot.services.admin.log_channel(guild_id)
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


# -- admin actions ------------------------------------------------------------------------------


def _detail_value(value: object) -> str:
    if value is None:
        return texts.NOTICE_ADMIN_DEFAULT()
    if isinstance(value, bool):
        return texts.ADMIN_ON() if value else texts.ADMIN_OFF()
    return sanitize_for_display(str(value), 300) or texts.NOTICE_ADMIN_EMPTY()


def admin_action_embed(
    actor_id: int, action: str, details: dict[str, object], audit_id: int | None = None
) -> discord.Embed:
    embed = discord.Embed(
        title=texts.NOTICE_ADMIN_TITLE(action=sanitize_for_display(action, 100)),
        description=texts.NOTICE_ADMIN_BY(actor_id=actor_id),
        colour=AUDIT_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    for key, value in list(details.items())[:MAX_DETAIL_FIELDS]:
        embed.add_field(name=sanitize_for_display(str(key), 100), value=_detail_value(value))
    if audit_id is not None:
        embed.set_footer(text=texts.NOTICE_ADMIN_FOOTER(audit_id=audit_id))
    return embed


def entry_embed(entry: AuditEntry) -> discord.Embed:
    return admin_action_embed(entry.actor_id, entry.action, entry.details, entry.id)


async def post_admin_action(
    bot: ImagenBot, entry: AuditEntry, *, channel_id: int | None = None
) -> None:
    """Tell the log channel (or ``channel_id``) about a recorded admin action."""
    with texts.speaking(await bot.server_language(entry.guild_id)):
        embed = entry_embed(entry)
    await post_to_log_channel(bot, entry.guild_id, embed=embed, channel_id=channel_id)


# -- generations --------------------------------------------------------------------------------


def _model_label(model_id: str) -> str:
    model = get_model(model_id)
    return model.name if model else sanitize_for_display(model_id, 100)


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
    embed = discord.Embed(
        title=texts.NOTICE_GENERATED_TITLE(),
        description=sanitize_for_display(prompt, 1000),
        colour=MIRROR_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    embed.add_field(name=texts.NOTICE_REQUESTED_BY(), value=f"<@{user_id}>")
    embed.add_field(name=texts.NOTICE_MODEL(), value=_model_label(model_id))
    embed.add_field(name=texts.NOTICE_IMAGES(), value=i18n.number(images))
    cost = (
        texts.NOTICE_COST_USD(count=charged, usd=usd)
        if usd is not None
        else texts.NOTICE_COST_VALUE(count=charged)
    )
    embed.add_field(name=texts.NOTICE_COST(), value=cost)
    if link is not None:
        embed.add_field(name=texts.NOTICE_MESSAGE(), value=texts.NOTICE_JUMP(link=link))
    embed.set_footer(text=texts.NOTICE_JOB(job_id=job_id))
    return embed


async def mirror_generation(
    bot: ImagenBot, job: PreparedJob, message: discord.Message, charged: int
) -> None:
    """Copy a delivered job to the server's log channel, if it has one."""
    if job.guild_id is None:
        return
    admin = bot.services.admin
    channel_id = await admin.log_channel(job.guild_id)
    if channel_id is None:
        return
    row = await admin.job(job.job_id)
    # A private result sits in its member's DMs: no link, and the text says where it went.
    private = bool(job.options.private) and job.channel_id is not None
    link = (
        jump_url(job.guild_id, job.channel_id, message.id)
        if job.channel_id is not None and not private
        else None
    )
    with texts.speaking(await bot.server_language(job.guild_id)):
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
        if private:
            content = texts.NOTICE_GENERATED_PRIVATE(
                user_id=job.user_id, channel_id=job.channel_id
            )
        elif job.channel_id is not None:
            content = texts.NOTICE_GENERATED_IN(user_id=job.user_id, channel_id=job.channel_id)
        else:
            content = texts.NOTICE_GENERATED(user_id=job.user_id)
    await post_to_log_channel(
        bot, job.guild_id, channel_id=channel_id, content=content, embed=embed
    )


# -- failures admins can act on -----------------------------------------------------------------


def failure_embed(
    *, job_id: int, user_id: int, model_id: str | None, error: BaseException
) -> discord.Embed:
    error_class = error.error_class if isinstance(error, ImagenError) else type(error).__name__
    embed = discord.Embed(
        title=texts.NOTICE_FAILED_TITLE(),
        description=admin_hint(error),
        colour=FAILURE_COLOUR,
        timestamp=dt.datetime.now(dt.UTC),
    )
    embed.add_field(name=texts.NOTICE_ERROR(), value=sanitize_for_display(error_class, 100))
    if isinstance(error, ApiError) and error.status is not None:
        embed.add_field(name=texts.NOTICE_HTTP_STATUS(), value=str(error.status))
    embed.add_field(name=texts.NOTICE_REQUESTED_BY(), value=f"<@{user_id}>")
    if model_id is not None:
        embed.add_field(name=texts.NOTICE_MODEL(), value=_model_label(model_id))
    embed.set_footer(text=texts.NOTICE_FAILED_FOOTER(job_id=job_id))
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
    with texts.speaking(await bot.server_language(guild_id)):
        embed = failure_embed(job_id=job_id, user_id=user_id, model_id=model_id, error=error)
    await post_to_log_channel(bot, guild_id, embed=embed)
