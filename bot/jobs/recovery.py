"""The Discord side of a restart: jobs a dead process may have posted are settled by what Discord
shows, and the messages it left (a queue ticket, "generating…") are corrected to say what
happened, through the stored interaction token while it is valid, else in the channel.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot import texts
from bot.generation import GenerationService, LeftOpen, Recovery
from bot.jobs.buttons import is_result_of
from bot.jobs.posting import DISCORD_FAILURES, only_pinging, why
from bot.logs import log_context
from bot.rendering import NO_PINGS

log = logging.getLogger(__name__)

# How far back in the job's channel a result posted there instead of in its reply is looked for.
HISTORY_LIMIT = 100
# How often stored tokens past their expiry are dropped; the stored expiry is a margin (30 s)
# before Discord's, so none is kept past the token's 15 minutes.
TOKEN_SWEEP_INTERVAL_S = 20.0


async def settle_maybe_posted(
    client: discord.Client, service: GenerationService, recovery: Recovery
) -> None:
    """Each job caught between posting and recording: charged if Discord shows its result
    (no second post), else refunded and added to ``recovery.refunded`` to be told. A job
    Discord cannot be asked about now stays open for the next start."""
    for left in recovery.maybe_posted:
        with log_context(job_id=left.row.id, guild_id=left.row.guild_id, user_id=left.row.user_id):
            try:
                message_id = await find_result(client, left)
            except DISCORD_FAILURES as exc:
                log.warning(
                    "could not look for the result of job %d (%s); it stays open until the "
                    "next start",
                    left.row.id,
                    why(exc),
                )
                continue
            if message_id is not None:
                await service.settle_posted(left, message_id)
            elif await service.refund_interrupted(left.row):
                log.warning("job %d was not posted before the last shutdown; refunded", left.row.id)
                recovery.refunded.append(left)


async def find_result(client: discord.Client, left: LeftOpen) -> int | None:
    """The id of the message carrying the job's result buttons: its original response, or a
    post in its channel (where the result goes once the token has expired). Raises what a call
    to Discord raises when Discord could not answer."""
    row = left.row
    reply = left.reply
    reached = _through_token(client, left)
    if reached is not None:
        # Through the token first: it sees the response where the bot cannot read the channel
        # (a user install in a server without the bot).
        webhook, message_id = reached
        try:
            response = await webhook.fetch_message(message_id)
        except discord.HTTPException as exc:
            log.info("could not fetch the reply of job %d (%s)", row.id, why(exc))
        else:
            if is_result_of(response, row.id):
                return response.id
    if row.channel_id is None or client.user is None:
        return None
    channel = client.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
    try:
        if reply is not None and reply.message_id is not None:
            try:
                message = await channel.fetch_message(reply.message_id)
            except discord.NotFound:
                pass
            else:
                if is_result_of(message, row.id):
                    return message.id
        async for message in channel.history(limit=HISTORY_LIMIT):
            if message.author.id == client.user.id and is_result_of(message, row.id):
                return message.id
    except (discord.NotFound, discord.Forbidden):
        return None  # the channel is gone, or the bot can no longer see it: nothing is shown
    return None


def _through_token(client: discord.Client, left: LeftOpen) -> tuple[discord.Webhook, int] | None:
    """The job's interaction as a webhook, and its response's id, while its token is valid."""
    reply = left.reply
    if reply is None or not reply.token or not reply.message_id or not client.application_id:
        return None
    webhook = discord.Webhook.partial(client.application_id, reply.token, client=client)
    return webhook, reply.message_id


async def tell_interrupted(client: discord.Client, left: LeftOpen, language: str) -> None:
    """Replace the job's ticket or "generating…" message with what happened, its buttons
    removed; without a valid token, say it in the job's channel (pinging only its owner).
    ``language`` is the server's: the member's own is not known after a restart."""
    row = left.row
    with texts.speaking(language):
        text = texts.INTERRUPTED(job_id=row.id)
        addressed = texts.ADDRESSED(user_id=row.user_id, message=text)
    reached = _through_token(client, left)
    if reached is not None:
        webhook, message_id = reached
        try:
            await webhook.edit_message(
                message_id, content=text, view=None, allowed_mentions=NO_PINGS
            )
            return
        except DISCORD_FAILURES as exc:
            log.info(
                "could not edit the message of job %d (%s); telling the channel", row.id, why(exc)
            )
    if row.channel_id is None:
        return
    channel = client.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
    try:
        await channel.send(
            addressed,
            allowed_mentions=only_pinging(row.user_id),
        )
    except DISCORD_FAILURES as exc:
        log.warning(
            "could not tell user %d about interrupted job %d: %s", row.user_id, row.id, why(exc)
        )


async def sweep_tokens(service: GenerationService, every_s: float = TOKEN_SWEEP_INTERVAL_S) -> None:
    """Drop stored tokens as they expire, for jobs that outlive them (a long queue)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await service.forget_expired_tokens()
        except Exception:
            log.exception("could not drop expired interaction tokens")
