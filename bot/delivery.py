"""The Discord side of a job: defer, show the queue, post the images, and the result buttons.

``JobRunner`` drives one job from a slash command or a button through ``GenerationService`` and
turns every outcome into exactly one message. The buttons are ``DynamicItem``s whose custom_id
carries the job id, so they keep working after the bot restarts.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import discord

from bot import rendering
from bot.api import GenerationResult
from bot.catalogue import get_model
from bot.errors import ImagenError, ShuttingDownError
from bot.generation import ImagineRequest, PreparedJob
from bot.logs import log_context
from bot.queue import JobCancelledError, JobState
from bot.rendering import NO_PINGS, Attachment
from bot.replies import report_error
from bot.storage import JobRow

if TYPE_CHECKING:
    from bot.client import ImagenBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction["ImagenBot"]
# discord.ui callbacks are typed for any client; the bot is recovered with a cast.
AnyInteraction = discord.Interaction[Any]

TOKEN_LIFETIME = dt.timedelta(minutes=15)
TOKEN_MARGIN = dt.timedelta(seconds=30)
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
UNKNOWN_MESSAGE = 10008
POSITION_UPDATE_INTERVAL_S = 3.0
# What a call to Discord can fail with: an answer, or no answer (network, timeout).
DISCORD_FAILURES = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)
APOLOGY = "Something went wrong on our side. You were not charged; please try again."


class DeliveryError(ImagenError):
    error_class = "delivery"
    default_message = "The images could not be posted to Discord. You were not charged."


def token_expired(interaction: Interaction, *, now: dt.datetime | None = None) -> bool:
    now = now or discord.utils.utcnow()
    return now >= interaction.created_at + TOKEN_LIFETIME - TOKEN_MARGIN


def _post_in_channel_instead(exc: discord.HTTPException) -> bool:
    """The response can't be edited any more (token expired, or someone deleted the message):
    the images go to the channel as a new message instead."""
    return (
        exc.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE) or exc.status == 401
    )


def _why(exc: BaseException | None) -> str:
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


def member_role_ids(interaction: Interaction) -> tuple[int, ...]:
    user = interaction.user
    if isinstance(user, discord.Member):
        return tuple(r.id for r in user.roles)
    return ()


def guild_installed(interaction: discord.Interaction[Any]) -> bool:
    """Whether the server the interaction comes from installed the bot, so its rules and budgets
    apply. A user install works in any server its user is in; where the bot is neither a member
    (the guild cache) nor installed as the server's integration, only personal limits count."""
    guild_id = interaction.guild_id
    if guild_id is None:
        return False
    return interaction.is_guild_integration() or interaction.client.get_guild(guild_id) is not None


def can_manage_messages(interaction: Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.administrator)


def may_use_job(interaction: Interaction, row: JobRow) -> bool:
    """A button's custom_id names its job and can be forged; the message clicked cannot.

    A click acts on a job only in the job's own server (if it has one), and only from the job's
    own message or by the member who asked for it. Jobs in DMs and user installs have no server
    to check, so the message (or the requester) is all that stands between them and anyone.
    """
    if row.guild_id is not None and row.guild_id != interaction.guild_id:
        return False
    message = interaction.message
    on_its_message = message is not None and message.id == row.message_id
    return on_its_message or interaction.user.id == row.user_id


class JobRunner:
    """Runs jobs for the bot, tracks them for cancel and shutdown, and delivers their images."""

    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot
        self.service = bot.services.generation
        # Our own retries of a failed post to Discord (see _retryable), from the bot's pacing.
        self._retry_delays = bot.services.pacing.discord_retry_delays_s
        self._active: dict[int, PreparedJob] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_delivered: list[Callable[[PreparedJob, discord.Message, int], Awaitable[None]]] = []
        # Called after a job failed and its user was told (e.g. to brief the server's admins).
        self.on_failed: list[Callable[[PreparedJob, BaseException], Awaitable[None]]] = []

    # -- entry points -------------------------------------------------------------------------

    def request_from(self, interaction: Interaction, **options: Any) -> ImagineRequest:
        return ImagineRequest(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            role_ids=member_role_ids(interaction),
            guild_installed=guild_installed(interaction),
            **options,
        )

    async def start(self, interaction: Interaction, request: ImagineRequest) -> None:
        """Check and reserve (errors go to the tree's handler, privately), answer, run the job.

        A job that must wait for a slot is not waited for here: once answered it is left with
        the queue as data, and a task of its own runs it when its turn comes (``_resume``)."""
        if interaction.guild_id is not None and not interaction.app_permissions.attach_files:
            raise DeliveryError(
                "I can't attach files in this channel. Ask an admin to give me the Attach "
                "Files permission here."
            )
        job = await self.service.prepare(request)
        with log_context(job_id=job.job_id, guild_id=job.guild_id, user_id=job.user_id):
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await self._run(interaction, job, new=True)
            finally:
                if task is not None:
                    self._tasks.discard(task)

    async def _run(
        self,
        interaction: Interaction,
        job: PreparedJob,
        *,
        new: bool = False,
    ) -> None:
        """The job from its answer to its end: every outcome told to its user and recorded.

        A new job is answered first; if it must then wait for a slot it is parked (``_answer``)
        and this returns at once, to be called again (not new) when the job leaves the queue."""
        self._active[job.job_id] = job
        result: GenerationResult | None = None
        seconds: float | None = None
        parked = False
        try:
            if new:
                parked = await self._answer(interaction, job)
                if parked:
                    return
            async with self.service.slot(job):
                started = time.monotonic()
                result = await self.service.generate(job)
                seconds = time.monotonic() - started
            await self._deliver(interaction, job, result)
            self._observe(job, "ok", seconds)
        except JobCancelledError as exc:
            text = (
                ShuttingDownError.default_message
                if exc.by_shutdown
                else "Cancelled. You were not charged."
            )
            await self.service.db.finish_job(
                job.job_id, state="cancelled", error_class=exc.error_class
            )
            if not exc.by_shutdown:  # shutdown() logs its own
                log.info("job %d cancelled by its user and refunded", job.job_id)
            self._observe(job, "cancelled", None)
            await self._edit_quietly(interaction, text)
        except asyncio.CancelledError:
            # Shutdown cut the job off: refund and say so, then let the cancellation go on.
            await asyncio.shield(self._interrupted(interaction, job, result))
            raise
        except ImagenError as exc:
            self._observe(job, exc.error_class, seconds)
            log.warning(
                "job %d failed: %s: %s", job.job_id, exc.error_class, exc.detail or exc.user_message
            )
            await self._record_failure(job, exc, result)
            await self._edit_quietly(interaction, rendering.failure_text(exc.user_message))
            await self._after_failure(job, exc)
        except Exception as exc:
            self._observe(job, "internal", seconds)
            log.exception("job %d failed unexpectedly", job.job_id)
            await self._record_failure(job, exc, result)
            await self._edit_quietly(interaction, rendering.failure_text(APOLOGY))
            await self._after_failure(job, exc)
        finally:
            if not parked:
                self._active.pop(job.job_id, None)
                job.ticket.release()

    async def _answer(self, interaction: Interaction, job: PreparedJob) -> bool:
        """Acknowledge the interaction: deferred if the job starts at once, else its place in the
        queue with a Cancel button, in one request. True if the job was parked to wait.

        A parked job keeps no task, coroutine or event while it waits, only the queue's ticket:
        the ticket shows its moves (``follow_position``) and calls ``_resume`` when it leaves.
        Under a burst most jobs wait, and what each keeps alive is what the garbage collector
        walks while later members wait for their answers."""
        position = job.ticket.position
        try:
            if position is None:
                await interaction.response.defer(thinking=True)
            else:
                await interaction.response.send_message(
                    rendering.queued_text(position),
                    view=cancel_view(job.job_id),
                    allowed_mentions=NO_PINGS,
                )
        except DISCORD_FAILURES as exc:
            raise DeliveryError(detail=f"answering the interaction failed: {_why(exc)}") from exc
        if job.ticket.state is not JobState.QUEUED:
            return False  # it started, or was cancelled, while the answer was on its way
        job.ticket.follow_position(
            functools.partial(self._show_position, interaction, job),
            POSITION_UPDATE_INTERVAL_S,
            shown=position,
        )
        job.ticket.when_turn(lambda _: self._resume(interaction, job))
        return True

    def _resume(self, interaction: Interaction, job: PreparedJob) -> None:
        """The queue's call-back for a parked job that started or was cancelled: run the rest in
        a task of its own, tracked for shutdown (this is called inside whatever moved the queue,
        so the task starts from a fresh context, not that one's)."""
        task = asyncio.get_running_loop().create_task(
            self._resumed(interaction, job), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resumed(self, interaction: Interaction, job: PreparedJob) -> None:
        with log_context(job_id=job.job_id, guild_id=job.guild_id, user_id=job.user_id):
            try:
                await self._run(interaction, job)
            except Exception:
                # Only a failure while handling a failure gets here (e.g. the database failing
                # as the job is refunded); the job stays open for the next start to refund.
                log.exception("job %d could not be settled", job.job_id)
                await self._edit_quietly(interaction, rendering.failure_text(APOLOGY))

    async def _interrupted(
        self, interaction: Interaction, job: PreparedJob, result: GenerationResult | None
    ) -> None:
        settled = await self.service.fail(
            job, ShuttingDownError(detail="stopped by shutdown"), state="interrupted", result=result
        )
        if settled:
            log.warning("job %d interrupted by shutdown and refunded", job.job_id)
            await self._edit_quietly(
                interaction,
                "The bot restarted before your images were ready. You were not charged; "
                "please try again in a minute.",
            )

    async def _record_failure(
        self, job: PreparedJob, error: BaseException, result: GenerationResult | None
    ) -> None:
        """Refund the job; if even that fails (a failing disk), the user is still told, and the
        job stays open for the next start to refund."""
        try:
            await self.service.fail(job, error, result=result)
        except Exception:
            log.exception("could not record the failure of job %d; it stays open", job.job_id)

    async def _after_failure(self, job: PreparedJob, error: BaseException) -> None:
        for hook in self.on_failed:
            try:
                await hook(job, error)
            except Exception:
                log.exception("after-failure hook failed for job %d", job.job_id)

    def _observe(self, job: PreparedJob, outcome: str, seconds: float | None) -> None:
        self.bot.services.metrics.observe_generation(job.model.id, outcome, seconds)

    # -- queue position -----------------------------------------------------------------------

    async def _show_position(self, interaction: Interaction, job: PreparedJob, pos: int) -> None:
        """The queue's follower calls this from a task with a fresh context: ids set here."""
        with log_context(job_id=job.job_id, guild_id=job.guild_id, user_id=job.user_id):
            try:
                await interaction.edit_original_response(
                    content=rendering.queued_text(pos),
                    view=cancel_view(job.job_id),
                    allowed_mentions=NO_PINGS,
                )
            except DISCORD_FAILURES as exc:
                log.info("could not show the queue position of job %d: %r", job.job_id, exc)

    async def cancel(self, interaction: Interaction, job_id: int) -> None:
        job = self._active.get(job_id)
        if job is None or job.guild_id != interaction.guild_id:
            await interaction.response.send_message(
                "This request is no longer waiting in the queue.", ephemeral=True
            )
            return
        if interaction.user.id != job.user_id and not can_manage_messages(interaction):
            await interaction.response.send_message(
                "Only the person who asked can cancel this.", ephemeral=True
            )
            return
        if not await self.service.cancel(job):
            await interaction.response.send_message(
                "Too late to cancel: it's already generating.", ephemeral=True
            )
            return
        await interaction.response.edit_message(
            content="Cancelled. You were not charged.", view=None, allowed_mentions=NO_PINGS
        )

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(
        self, interaction: Interaction, job: PreparedJob, result: GenerationResult
    ) -> None:
        limit = (
            interaction.filesize_limit
            if interaction.guild_id
            else min(interaction.filesize_limit, 10 * 1024 * 1024)
        )
        files = await asyncio.to_thread(rendering.attachments_for, job.job_id, result.images, limit)
        charged = job.model.credits_per_image * len(files)
        row = await self.service.db.get_job(job.job_id)
        assert row is not None
        quota = await self.service.ledger.quota(
            job.scope, job.user_id, member_role_ids(interaction)
        )
        embed = rendering.result_embed(
            row,
            enhanced_prompt=result.enhanced_prompt,
            charged=charged,
            credits_left=max(0, quota.left - (job.credits - charged)),
            reencoded=any(f.reencoded for f in files),
            requester_id=job.user_id,
        )
        view = result_view(job.job_id, job.model.accepts("negative_prompt"))
        content = None
        if result.missing:
            content = (
                f"The image service returned {len(files)} of {job.request.count} images; "
                "you were only charged for those."
            )
        message = await self._post(interaction, job, files, embed, view, content)
        completion = await self.service.complete(job, result, len(files), message.id)
        self.bot.services.metrics.add_spend(
            completion.charged, result.api_credits or 0, result.usd or 0.0
        )
        log.info(
            "job %d delivered %d images in message %d; charged %d, refunded %d",
            job.job_id,
            len(files),
            message.id,
            completion.charged,
            completion.refunded,
        )
        for hook in self.on_delivered:
            try:
                await hook(job, message, completion.charged)
            except Exception:
                log.exception("after-delivery hook failed for job %d", job.job_id)

    async def _post(
        self,
        interaction: Interaction,
        job: PreparedJob,
        files: list[Attachment],
        embed: discord.Embed,
        view: discord.ui.View,
        content: str | None,
    ) -> discord.Message:
        """Edit the deferred response into the result, retrying transient failures; past the
        token's life, post in the channel instead, pinging the requester only."""
        last: BaseException | None = None
        for attempt in range(len(self._retry_delays) + 1):
            if token_expired(interaction):
                break
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
                    break
                if not _retryable(exc):
                    raise DeliveryError(detail=f"followup refused: {_why(exc)}") from exc
                last = exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = exc
            if attempt < len(self._retry_delays):
                log.warning("posting job %d failed (%s); retrying", job.job_id, type(last).__name__)
                await asyncio.sleep(self._retry_delays[attempt])
        else:
            raise DeliveryError(detail=f"followup failed after retries: {_why(last)}")
        return await self._post_to_channel(job, files, embed, view, content)

    async def _post_to_channel(
        self,
        job: PreparedJob,
        files: list[Attachment],
        embed: discord.Embed,
        view: discord.ui.View,
        content: str | None,
    ) -> discord.Message:
        if job.channel_id is None:
            raise DeliveryError(detail="token expired and no channel to post in")
        channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        text = f"<@{job.user_id}> your images are ready."
        if content:
            text += f" {content}"
        last: BaseException | None = None
        for attempt in range(len(self._retry_delays) + 1):
            try:
                return await channel.send(
                    content=text,
                    embed=embed,
                    files=[f.to_file() for f in files],
                    view=view,
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False, roles=False, users=[discord.Object(job.user_id)]
                    ),
                )
            except discord.HTTPException as exc:
                if not _retryable(exc):
                    raise DeliveryError(detail=f"channel post refused: {_why(exc)}") from exc
                last = exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = exc
            if attempt < len(self._retry_delays):
                await asyncio.sleep(self._retry_delays[attempt])
        raise DeliveryError(detail=f"channel post failed after retries: {_why(last)}")

    async def _edit_quietly(self, interaction: Interaction, text: str) -> None:
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

    # -- result buttons -----------------------------------------------------------------------

    async def _job_or_tell(self, interaction: Interaction, job_id: int) -> JobRow | None:
        """The job a result button names, if this click may act on it (``may_use_job``)."""
        row = await self.service.db.get_job(job_id)
        if row is None or not may_use_job(interaction, row):
            await interaction.response.send_message(
                "I can't find that generation any more.", ephemeral=True
            )
            return None
        return row

    async def reroll(self, interaction: Interaction, job_id: int) -> None:
        """Same options, a new seed, charged to whoever clicked."""
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return
        params = json.loads(row.params_json)
        request = self.request_from(
            interaction,
            prompt=row.prompt,
            model_id=row.model,
            aspect_ratio=row.aspect_ratio,
            count=row.count,
            negative_prompt=row.negative_prompt,
            enhance_prompt=params.get("enhance_prompt"),
            parent_job_id=row.id,
        )
        await self.start(interaction, request)

    async def edit(self, interaction: Interaction, job_id: int) -> None:
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return
        await interaction.response.send_modal(EditModal(self, row))

    async def details(self, interaction: Interaction, job_id: int) -> None:
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return
        await interaction.response.send_message(
            embed=rendering.details_embed(row), ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def delete(self, interaction: Interaction, job_id: int) -> None:
        """The requester or anyone with Manage Messages may delete the images."""
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return
        if interaction.user.id != row.user_id and not can_manage_messages(interaction):
            await interaction.response.send_message(
                "Only the person who asked, or a moderator, can delete these images.",
                ephemeral=True,
            )
            return
        await interaction.response.defer()
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.warning("could not delete the message of job %d: %s", job_id, exc)
            await interaction.followup.send("I couldn't delete that message.", ephemeral=True)
            return
        log.info("job %d's message deleted by user %d", job_id, interaction.user.id)

    # -- shutdown -----------------------------------------------------------------------------

    async def shutdown(self, grace_s: float) -> None:
        """Stop accepting, refund what waits, give running jobs ``grace_s``, then cut them off.

        The grace covers a job's whole task, delivery included: waiting only for the API slots
        (``FairQueue.drain``) would cut jobs off while they post their images.
        """
        self.service.accepting = False
        self.service.queue.close()
        for ticket in self.service.queue.cancel_queued():
            log.info("job %d cancelled by shutdown", ticket.job_id)
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        if pending:
            log.warning(
                "%d jobs still running after %.0f s; interrupting them", len(pending), grace_s
            )
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=10)


class EditModal(discord.ui.Modal):
    """Prefilled with the prompt (and the negative prompt where the model takes one)."""

    def __init__(self, runner: JobRunner, row: JobRow) -> None:
        super().__init__(title="Edit and generate again", timeout=600)
        self.runner = runner
        self.row = row
        model = get_model(row.model)
        limit = min(model.prompt_max if model else 400, 4000)
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Prompt",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=row.prompt[:limit],
            max_length=limit,
            required=True,
        )
        self.add_item(self.prompt)
        self.negative: discord.ui.TextInput[EditModal] | None = None
        if model is not None and model.accepts("negative_prompt"):
            self.negative = discord.ui.TextInput(
                label="Negative prompt",
                custom_id="negative",
                style=discord.TextStyle.paragraph,
                default=(row.negative_prompt or "")[:limit],
                max_length=limit,
                required=False,
            )
            self.add_item(self.negative)

    async def on_submit(self, interaction: AnyInteraction) -> None:
        params = json.loads(self.row.params_json)
        request = self.runner.request_from(
            interaction,
            prompt=self.prompt.value,
            model_id=self.row.model,
            aspect_ratio=self.row.aspect_ratio,
            count=self.row.count,
            seed=params.get("seed"),
            negative_prompt=(self.negative.value or None) if self.negative else None,
            enhance_prompt=params.get("enhance_prompt"),
            parent_job_id=self.row.id,
        )
        await self.runner.start(interaction, request)

    # Modal narrows BaseView.on_error's signature; mypy flags the override discord.py makes.
    async def on_error(self, interaction: AnyInteraction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)


# -- buttons ------------------------------------------------------------------------------------

_JOB = r"(?P<job_id>[0-9]{1,19})"


def _runner(interaction: AnyInteraction) -> JobRunner:
    return cast("ImagenBot", interaction.client).runner


async def _guarded(interaction: AnyInteraction, action: Awaitable[None]) -> None:
    """Button callbacks report their errors like commands do, instead of failing silently."""
    try:
        await action
    except Exception as exc:
        await report_error(interaction, exc)


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagen:x:" + _JOB):
    """A button naming its job in the custom_id; clicking it calls ``JobRunner.<action>``.

    Subclasses only say which action, label and look; the template makes them persistent.
    """

    action = "x"
    label = ""
    emoji: str | None = None
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                custom_id=f"imagen:{self.action}:{job_id}",
                label=self.label,
                emoji=self.emoji,
                style=self.style,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: AnyInteraction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: AnyInteraction) -> None:
        handler: Callable[[Interaction, int], Awaitable[None]] = getattr(
            _runner(interaction), self.action
        )
        await _guarded(interaction, handler(interaction, self.job_id))


class CancelButton(JobButton, template=r"imagen:cancel:" + _JOB):
    action, label = "cancel", "Cancel"


class RerollButton(JobButton, template=r"imagen:reroll:" + _JOB):
    action, label, emoji, style = "reroll", "Reroll", "🎲", discord.ButtonStyle.primary


class EditButton(JobButton, template=r"imagen:edit:" + _JOB):
    action, label, emoji = "edit", "Edit", "✏️"


class DetailsButton(JobButton, template=r"imagen:details:" + _JOB):
    action, label, emoji = "details", "Details", "ℹ️"


class DeleteButton(JobButton, template=r"imagen:delete:" + _JOB):
    action, label, emoji, style = "delete", "Delete", "🗑️", discord.ButtonStyle.danger


BUTTONS: tuple[type[JobButton], ...] = (
    CancelButton,
    RerollButton,
    EditButton,
    DetailsButton,
    DeleteButton,
)


def cancel_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return _unlistened(view)


def result_view(job_id: int, editable_negative: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in (RerollButton, EditButton, DetailsButton, DeleteButton):
        view.add_item(button(job_id))
    return _unlistened(view)


def _unlistened(view: discord.ui.View) -> discord.ui.View:
    """A view of dynamic buttons only, stopped: their clicks reach the bot through the dynamic
    items registered at start-up, so discord.py need not file a copy of it per message sent."""
    view.stop()
    return view
