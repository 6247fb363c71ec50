"""Posting a job's outcome to Discord: the result, the channel fallback, short notices.

Every call to Discord here goes through ``with_retries``, the one place that decides what is
worth another try of our own and turns the rest into a ``DeliveryError``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import aiohttp
import discord

from bot import i18n, texts
from bot.errors import ImagenError
from bot.rendering import NO_PINGS, Attachment

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
T = TypeVar("T")

TOKEN_LIFETIME = dt.timedelta(minutes=15)
TOKEN_MARGIN = dt.timedelta(seconds=30)
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
UNKNOWN_MESSAGE = 10008
CANNOT_DM = 50007
# What a call to Discord can fail with: an answer, or no answer (network, timeout).
DISCORD_FAILURES = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)


class DeliveryError(ImagenError):
    error_class = "delivery"
    default_message = texts.DELIVERY_FAILED


class Rendered(NamedTuple):
    """A result message: made by a call, so it can be made again in another language."""

    embed: discord.Embed
    content: str | None
    view: discord.ui.View


class _TokenGone(Exception):
    """The response can't be edited any more: the result goes to the channel instead."""


def token_expiry(interaction: Interaction) -> dt.datetime:
    """When the bot stops using the interaction's token (a margin before Discord does)."""
    return interaction.created_at + TOKEN_LIFETIME - TOKEN_MARGIN


def token_expired(interaction: Interaction, *, now: dt.datetime | None = None) -> bool:
    return (now or discord.utils.utcnow()) >= token_expiry(interaction)


def _post_in_channel_instead(exc: discord.HTTPException) -> bool:
    """The token expired, or someone deleted the message: editing it will never work."""
    return (
        exc.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE) or exc.status == 401
    )


def why(exc: BaseException | None) -> str:
    """A failed call to Discord, fit to store on the job: the class, and Discord's status and code
    when it answered. Not its text or repr: an aiohttp error's carry the request, with the
    interaction token in its URL and the bot token in its headers."""
    if isinstance(exc, discord.HTTPException):
        return f"{type(exc).__name__} {exc.status} (code {exc.code})"
    return type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    """Worth another try of our own. discord.py has already retried 5xx answers (about 25 s of
    backoff) and 429s that came through Discord's proxy; repeating that would keep a user waiting
    minutes during an outage. A bare 429 and a dropped connection are ours to retry."""
    if isinstance(exc, discord.HTTPException):
        return exc.status == 429
    return isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError)


async def with_retries(
    call: Callable[[], Awaitable[T]], delays: Sequence[float], *, what: str, job_id: int
) -> T:
    """``call()`` once, then once more after each of ``delays`` while it fails in a way
    ``_retryable`` accepts; any other failure, or the last, raises ``DeliveryError``."""
    last: BaseException | None = None
    for attempt in range(len(delays) + 1):
        try:
            return await call()
        except DISCORD_FAILURES as exc:
            if not _retryable(exc):
                raise DeliveryError(detail=f"{what} refused: {why(exc)}") from exc
            last = exc
        if attempt < len(delays):
            log.warning("%s for job %d failed (%s); retrying", what, job_id, type(last).__name__)
            await asyncio.sleep(delays[attempt])
    raise DeliveryError(detail=f"{what} failed after retries: {why(last)}")


class Poster:
    """Posts for the job runner, with its own retry schedule for Discord's calls."""

    def __init__(self, retry_delays: Sequence[float]) -> None:
        self.retry_delays = tuple(retry_delays)

    async def post_result(
        self,
        interaction: Interaction,
        *,
        job_id: int,
        user_id: int,
        channel_id: int | None,
        guild_id: int | None,
        files: list[Attachment],
        render: Callable[[], Rendered],
        private: bool = False,
    ) -> discord.Message:
        """Edit the deferred response into the result; past the token's life, post in the
        channel instead, pinging the requester only, in the server's language (everyone there
        reads it; the deferred response is its member's). A private result goes by DM instead."""
        embed, content, view = render()
        if private:
            return await self._post_by_dm(
                interaction, job_id=job_id, files=files, embed=embed, view=view, content=content
            )

        async def edit() -> discord.Message:
            if token_expired(interaction):
                raise _TokenGone
            try:
                return await interaction.edit_original_response(
                    content=content,
                    embed=embed,
                    attachments=[f.to_file() for f in files],
                    view=view,
                    allowed_mentions=NO_PINGS,
                )
            except discord.HTTPException as exc:
                if _post_in_channel_instead(exc):
                    raise _TokenGone from exc
                raise

        try:
            return await with_retries(edit, self.retry_delays, what="followup", job_id=job_id)
        except _TokenGone:
            pass
        if channel_id is None:
            raise DeliveryError(detail="token expired and no channel to post in")
        channel = interaction.client.get_partial_messageable(channel_id, guild_id=guild_id)
        language = i18n.current()
        if guild_id is not None:
            language = await interaction.client.server_language(guild_id)
        with texts.speaking(language):
            embed, content, view = render()
            ready = (
                texts.READY_IN_CHANNEL_NOTE(note=content) if content else texts.READY_IN_CHANNEL()
            )
            addressed = texts.ADDRESSED(user_id=user_id, message=ready)
        return await self._send(
            channel,
            job_id=job_id,
            what="channel post",
            content=addressed,
            files=files,
            embed=embed,
            view=view,
            mentions=only_pinging(user_id),
        )

    async def _post_by_dm(
        self,
        interaction: Interaction,
        *,
        job_id: int,
        files: list[Attachment],
        embed: discord.Embed,
        view: discord.ui.View,
        content: str | None,
    ) -> discord.Message:
        """DMs closed to the bot (50007) are the member's choice, not a fault: no retry, and
        the reason is what they read."""
        dm = await with_retries(
            interaction.user.create_dm, self.retry_delays, what="opening a DM", job_id=job_id
        )
        try:
            return await self._send(
                dm,
                job_id=job_id,
                what="DM",
                content=content,
                files=files,
                embed=embed,
                view=view,
                mentions=NO_PINGS,
            )
        except DeliveryError as exc:
            refused = exc.__cause__
            if isinstance(refused, discord.Forbidden) and refused.code == CANNOT_DM:
                raise DeliveryError(texts.PRIVATE_DMS_CLOSED(), detail=exc.detail) from refused
            raise

    async def _send(
        self,
        channel: discord.abc.Messageable,
        *,
        job_id: int,
        what: str,
        content: str | None,
        files: list[Attachment],
        embed: discord.Embed,
        view: discord.ui.View,
        mentions: discord.AllowedMentions,
    ) -> discord.Message:
        """A new message with the result in ``channel``, under the retry rule."""

        async def send() -> discord.Message:
            message: discord.Message = await channel.send(
                content=content,
                embed=embed,
                files=[f.to_file() for f in files],
                view=view,
                allowed_mentions=mentions,
            )
            return message

        return await with_retries(send, self.retry_delays, what=what, job_id=job_id)

    @staticmethod
    async def tell(interaction: Interaction, text: str) -> None:
        """Replace the deferred response with a short message; log if Discord won't take it."""
        if token_expired(interaction):
            log.warning("interaction token expired; could not tell the user: %s", text)
            return
        try:
            await interaction.edit_original_response(
                content=text[:1900],
                embed=None,
                attachments=[],
                view=None,
                allowed_mentions=NO_PINGS,
            )
        except DISCORD_FAILURES as exc:
            log.warning("could not tell the user about their job: %r", exc)


def only_pinging(user_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(user_id)])
