"""One job from a slash command or a button to its one message: start, queue ticket, run,
cancel, shutdown, and the result buttons' actions.

The runner is given what it needs (the generation service, metrics, the retry schedule and a way
to dispatch events), not the bot: settlement goes through ``GenerationService`` and the admin side
hears of outcomes through ``job_delivered`` / ``job_failed`` events.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import discord

from bot import i18n, rendering, texts
from bot.api import GenerationResult
from bot.errors import ImagenError, ShuttingDownError
from bot.generation import GenerationService, ImagineRequest, PreparedJob
from bot.jobs.access import (
    can_manage_messages,
    guild_installed,
    in_jobs_place,
    may_use_job,
    member_role_ids,
    member_role_ids_in,
)
from bot.jobs.buttons import cancel_view, result_view
from bot.jobs.edit_modal import EditModal
from bot.jobs.posting import (
    DISCORD_FAILURES,
    DeliveryError,
    Poster,
    Rendered,
    token_expiry,
    why,
)
from bot.logs import log_context
from bot.metrics import Metrics
from bot.options import ImagineOptions
from bot.queue import JobCancelledError, JobState
from bot.rendering import NO_PINGS
from bot.storage import JobRow

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
# ``commands.Bot.dispatch``: the event's name without ``on_``, then its arguments.
Dispatch = Callable[..., None]

POSITION_UPDATE_INTERVAL_S = 3.0


class JobRunner:
    """Runs jobs for the bot, tracks them for cancel and shutdown, and delivers their images."""

    def __init__(
        self,
        service: GenerationService,
        metrics: Metrics,
        *,
        retry_delays: Sequence[float],
        dispatch: Dispatch,
    ) -> None:
        self.service = service
        self.metrics = metrics
        # Our own retries of a failed post to Discord, from the bot's pacing.
        self.poster = Poster(retry_delays)
        self.dispatch = dispatch
        self._active: dict[int, PreparedJob] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- entry points -------------------------------------------------------------------------

    @staticmethod
    def request_from(
        interaction: Interaction, options: ImagineOptions, *, parent_job_id: int | None = None
    ) -> ImagineRequest:
        """Who asks, from where, for what."""
        return ImagineRequest(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            options=options,
            role_ids=member_role_ids(interaction),
            guild_installed=guild_installed(interaction),
            parent_job_id=parent_job_id,
        )

    @classmethod
    def request_for(
        cls, interaction: Interaction, options: ImagineOptions, row: JobRow
    ) -> ImagineRequest:
        """A Reroll or Edit of ``row``. Clicked in DMs on a private result from a server, it
        runs in that server and channel, under its rules and budget, as the job did."""
        request = cls.request_from(interaction, options, parent_job_id=row.id)
        if interaction.guild_id is not None or row.guild_id is None:
            return request
        return dataclasses.replace(
            request,
            guild_id=row.guild_id,
            channel_id=row.channel_id,
            role_ids=member_role_ids_in(interaction, row.guild_id),
            guild_installed=True,
        )

    async def start(self, interaction: Interaction, request: ImagineRequest) -> None:
        """Check and reserve (errors go to the tree's handler, privately), answer, run the job.

        A job that must wait for a slot is not waited for here: once answered it is left with
        the queue as data, and a task of its own runs it when its turn comes (``_resume``)."""
        if interaction.guild_id is not None and not interaction.app_permissions.attach_files:
            raise DeliveryError(texts.NO_ATTACH_PERMISSION())
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

    async def _run(self, interaction: Interaction, job: PreparedJob, *, new: bool = False) -> None:
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
            await self.service.record_cancelled(job, exc)
            if not exc.by_shutdown:  # shutdown() logs its own
                log.info("job %d cancelled by its user and refunded", job.job_id)
            self._observe(job, "cancelled", None)
            await self.poster.tell(
                interaction, exc.user_message if exc.by_shutdown else texts.CANCELLED()
            )
        except asyncio.CancelledError:
            # Shutdown cut the job off: refund and say so, then let the cancellation go on.
            await asyncio.shield(self._interrupted(interaction, job, result))
            raise
        except ImagenError as exc:
            self._observe(job, exc.error_class, seconds)
            log.warning(
                "job %d failed: %s: %s", job.job_id, exc.error_class, exc.detail or exc.user_message
            )
            await self._failed(interaction, job, exc, result, exc.user_message)
        except Exception as exc:
            self._observe(job, "internal", seconds)
            log.exception("job %d failed unexpectedly", job.job_id)
            await self._failed(interaction, job, exc, result, texts.APOLOGY())
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
        # A private result goes by DM: the channel sees neither the ticket nor the answer.
        private = bool(job.options.private)
        try:
            if position is None:
                answered = await interaction.response.defer(thinking=True, ephemeral=private)
            else:
                answered = await interaction.response.send_message(
                    texts.QUEUED(position=position),
                    view=cancel_view(job.job_id),
                    allowed_mentions=NO_PINGS,
                    ephemeral=private,
                )
        except DISCORD_FAILURES as exc:
            raise DeliveryError(detail=f"answering the interaction failed: {why(exc)}") from exc
        # So that a restart can correct this message if the process dies before the job ends.
        await self.service.remember_reply(
            job,
            message_id=answered.message_id if answered is not None else None,
            token=interaction.token,
            expires_at=token_expiry(interaction).timestamp(),
        )
        if job.ticket.state is not JobState.QUEUED:
            return False  # it started, or was cancelled, while the answer was on its way
        # The queue calls back from fresh contexts: the member's language goes along by hand.
        language = i18n.current()
        job.ticket.follow_position(
            functools.partial(self._show_position, interaction, job, language),
            POSITION_UPDATE_INTERVAL_S,
            shown=position,
        )
        job.ticket.when_turn(lambda _: self._resume(interaction, job, language))
        return True

    def _resume(self, interaction: Interaction, job: PreparedJob, language: str) -> None:
        """The queue's call-back for a parked job that started or was cancelled: run the rest in
        a task of its own, tracked for shutdown (this is called inside whatever moved the queue,
        so the task starts from a fresh context, not that one's, in the member's language)."""
        context = contextvars.Context()
        context.run(i18n.use, language)
        task = asyncio.get_running_loop().create_task(
            self._resumed(interaction, job), context=context
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
                await self.poster.tell(interaction, texts.FAILED(reason=texts.APOLOGY()))

    async def _interrupted(
        self, interaction: Interaction, job: PreparedJob, result: GenerationResult | None
    ) -> None:
        settled = await self.service.fail(
            job, ShuttingDownError(detail="stopped by shutdown"), state="interrupted", result=result
        )
        if settled:
            log.warning("job %d interrupted by shutdown and refunded", job.job_id)
            await self.poster.tell(interaction, texts.INTERRUPTED(job_id=job.job_id))

    async def _failed(
        self,
        interaction: Interaction,
        job: PreparedJob,
        error: BaseException,
        result: GenerationResult | None,
        reason: str,
    ) -> None:
        """Refund the job, tell its user, then the admin side (``job_failed``). If even the
        refund fails (a failing disk), the user is still told and the job stays open for the
        next start to refund."""
        try:
            await self.service.fail(job, error, result=result)
        except Exception:
            log.exception("could not record the failure of job %d; it stays open", job.job_id)
        await self.poster.tell(interaction, texts.FAILED(reason=reason))
        self.dispatch("job_failed", job, error)

    def _observe(self, job: PreparedJob, outcome: str, seconds: float | None) -> None:
        self.metrics.observe_generation(job.model.id, outcome, seconds)

    # -- queue position -----------------------------------------------------------------------

    async def _show_position(
        self, interaction: Interaction, job: PreparedJob, language: str, pos: int
    ) -> None:
        """The queue's follower calls this from a task with a fresh context: ids and language
        set here."""
        with (
            log_context(job_id=job.job_id, guild_id=job.guild_id, user_id=job.user_id),
            texts.speaking(language),
        ):
            try:
                await interaction.edit_original_response(
                    content=texts.QUEUED(position=pos),
                    view=cancel_view(job.job_id),
                    allowed_mentions=NO_PINGS,
                )
            except DISCORD_FAILURES as exc:
                log.info("could not show the queue position of job %d: %r", job.job_id, exc)

    async def cancel(self, interaction: Interaction, job_id: int) -> None:
        job = self._active.get(job_id)
        if job is None or not in_jobs_place(
            interaction,
            guild_id=job.guild_id,
            user_id=job.user_id,
            private=bool(job.options.private),
        ):
            row = None if job is not None else await self.service.get_job(job_id)
            if (
                row is not None
                and row.state == "interrupted"
                and row.guild_id == interaction.guild_id
            ):
                # A ticket a dead process left: it now says what happened, without its button.
                await interaction.response.edit_message(
                    content=texts.INTERRUPTED(job_id=row.id), view=None, allowed_mentions=NO_PINGS
                )
                return
            await interaction.response.send_message(texts.NOT_WAITING(), ephemeral=True)
            return
        if interaction.user.id != job.user_id and not can_manage_messages(interaction):
            await interaction.response.send_message(texts.CANCEL_NOT_YOURS(), ephemeral=True)
            return
        if not await self.service.cancel(job):
            await interaction.response.send_message(texts.CANCEL_TOO_LATE(), ephemeral=True)
            return
        await interaction.response.edit_message(
            content=texts.CANCELLED(), view=None, allowed_mentions=NO_PINGS
        )

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(
        self, interaction: Interaction, job: PreparedJob, result: GenerationResult
    ) -> None:
        private = bool(job.options.private)
        limit = (
            interaction.filesize_limit
            if interaction.guild_id and not private
            else min(interaction.filesize_limit, 10 * 1024 * 1024)
        )
        files = await asyncio.to_thread(
            rendering.attachments_for, job.job_id, job.options, result.images, limit
        )
        charged = job.model.credits_per_image * len(files)
        row = await self.service.get_job(job.job_id)
        assert row is not None
        credits_left = await self.service.credits_left(
            job, member_role_ids(interaction), charged=charged
        )

        def render() -> Rendered:
            """The result in the language it is read in: the poster picks which."""
            embed = rendering.result_embed(
                row,
                enhanced_prompt=result.enhanced_prompt,
                charged=charged,
                credits_left=credits_left,
                reencoded=any(f.reencoded for f in files),
                requester_id=job.user_id,
            )
            content = None
            if result.missing:
                content = texts.PARTIAL(delivered=len(files), count=job.request.count)
            return Rendered(embed, content, result_view(job.job_id))

        await self.service.mark_posting(job, result, images=len(files), charged=charged)
        message = await self.poster.post_result(
            interaction,
            job_id=job.job_id,
            user_id=job.user_id,
            channel_id=job.channel_id,
            guild_id=job.guild_id,
            files=files,
            render=render,
            private=private,
        )
        completion = await self.service.complete(job, result, len(files), message.id)
        if private:
            await self.poster.tell(interaction, texts.PRIVATE_SENT(link=message.jump_url))
        self.metrics.add_spend(completion.charged, result.api_credits or 0, result.usd or 0.0)
        log.info(
            "job %d delivered %d images in message %d; charged %d, refunded %d",
            job.job_id,
            len(files),
            message.id,
            completion.charged,
            completion.refunded,
        )
        self.dispatch("job_delivered", job, message, completion.charged)

    # -- result buttons -----------------------------------------------------------------------

    async def _job_or_tell(self, interaction: Interaction, job_id: int) -> JobRow | None:
        """The job a result button names, if this click may act on it (``may_use_job``)."""
        row = await self.service.get_job(job_id)
        if row is None or not may_use_job(interaction, row):
            await interaction.response.send_message(texts.JOB_NOT_FOUND(), ephemeral=True)
            return None
        return row

    async def reroll(self, interaction: Interaction, job_id: int) -> None:
        """Same options, a new seed, charged to whoever clicked."""
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return
        options = ImagineOptions.from_row(row).replace(seed=None)
        await self.start(interaction, self.request_for(interaction, options, row))

    async def edit(self, interaction: Interaction, job_id: int) -> None:
        row = await self._job_or_tell(interaction, job_id)
        if row is None:
            return

        async def resubmit(submitted: Interaction, prompt: str, negative: str | None) -> None:
            options = ImagineOptions.from_row(row).replace(prompt=prompt, negative_prompt=negative)
            await self.start(submitted, self.request_for(submitted, options, row))

        await interaction.response.send_modal(EditModal(row, resubmit))

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
            await interaction.response.send_message(texts.DELETE_NOT_YOURS(), ephemeral=True)
            return
        await interaction.response.defer()
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.warning("could not delete the message of job %d: %s", job_id, exc)
            await interaction.followup.send(texts.DELETE_FAILED(), ephemeral=True)
            return
        log.info("job %d's message deleted by user %d", job_id, interaction.user.id)

    # -- shutdown -----------------------------------------------------------------------------

    async def shutdown(self, grace_s: float) -> None:
        """Stop accepting, refund what waits, give running jobs ``grace_s``, then cut them off.

        The grace covers a job's whole task, delivery included: waiting only for the API slots
        (``FairQueue.drain``) would cut jobs off while they post their images.
        """
        for ticket in self.service.stop_accepting():
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
