"""The life of a generation job, free of Discord: checks, reservation, queue, API call, settlement.

The Discord side (``bot/jobs``) calls ``prepare`` before deferring (every refusal is cheap
and private), then ``generate`` for the images, then ``complete`` or ``fail``. Every state change is
written to the job row before the side effect it announces, and settling a job is one statement
that the database applies at most once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from bot import texts
from bot.api import AimlApiClient, GenerationRequest, GenerationResult
from bot.catalogue import ASPECT_RATIOS, MODELS, ModelSpec
from bot.cluster import Cluster
from bot.config import Settings
from bot.errors import ImagenError, RefusedError, ShuttingDownError, UserInputError
from bot.ledger import BudgetExceededError, Ledger, Scope, guild_scope, personal_scope
from bot.members import apply_defaults, max_images, private_allowed
from bot.moderation import sanitize_for_display
from bot.options import MEMBER_DEFAULTS_KEY, ImagineOptions, find_model
from bot.policy import Policy
from bot.queue import FairQueue, JobCancelledError, QueueClosedError, QueueFullError, Ticket
from bot.storage import (
    Database,
    GuildSettings,
    JobReply,
    JobRow,
    NewJob,
    Posting,
    RequestContext,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImagineRequest:
    """What a user asked for, as typed; nothing here has been checked yet."""

    user_id: int
    guild_id: int | None
    channel_id: int | None
    options: ImagineOptions
    role_ids: tuple[int, ...] = ()
    parent_job_id: int | None = None
    # False for a user install used in a server that has not installed the bot: that server never
    # set rules or budgets, so none of its apply, and the member's personal budget is charged.
    guild_installed: bool = True

    @property
    def rules_guild_id(self) -> int | None:
        """The server whose rules and budgets apply, or None for personal ones."""
        return self.guild_id if self.guild_installed else None


@dataclass(slots=True)
class PreparedJob:
    """A job that passed every check and holds its reservation and queue ticket.

    ``options`` are the validated ones (defaults filled in); ``request`` is what the API gets."""

    job_id: int
    model: ModelSpec
    options: ImagineOptions
    request: GenerationRequest
    scope: Scope
    credits: int
    ticket: Ticket
    user_id: int
    guild_id: int | None
    channel_id: int | None
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Completion:
    charged: int
    refunded: int


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.replace("\x00", "").strip()
    return text or None


class GenerationService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        api: AimlApiClient,
        ledger: Ledger,
        queue: FairQueue,
        policy: Policy,
        cluster: Cluster | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.db = db
        self.api = api
        self.ledger = ledger
        self.queue = queue
        self.policy = policy
        self.cluster = cluster  # several processes: bot-wide slots, limits and recovery
        # Seeds are shown to users and need no secrecy: no system call per request for one.
        self._rng = rng or random.Random()
        self._clock = clock
        self.accepting = True

    # -- before deferring ---------------------------------------------------------------------

    def scope_for(self, req: ImagineRequest, gs: GuildSettings | None) -> Scope:
        """A server's budget only where that server installed the bot: a budget per server the
        member merely belongs to would be a fresh allowance in each of them."""
        guild_id = req.rules_guild_id
        if guild_id is None or gs is None:
            return personal_scope(req.user_id)
        return guild_scope(guild_id, gs.timezone)

    def resolve_model(self, req: ImagineRequest, ctx: RequestContext | None) -> ModelSpec:
        gs = ctx.settings if ctx else None
        model_id = (
            _clean(req.options.model) or (gs and gs.default_model) or self.settings.default_model
        )
        model = find_model(model_id)
        if model is None:
            raise UserInputError(texts.UNKNOWN_MODEL(model=sanitize_for_display(model_id, 60)))
        if not self.policy.model_enabled(ctx, model.id):
            raise UserInputError(texts.MODEL_OFF(model=model.name))
        return model

    async def enabled_models(self, guild_id: int | None) -> list[ModelSpec]:
        disabled = await self.policy.disabled_models(guild_id)
        return [m for m in MODELS if m.id not in disabled]

    def validate(
        self, options: ImagineOptions, model: ModelSpec, gs: GuildSettings | None
    ) -> ImagineOptions:
        """Every option against the model's limits, defaults filled in; a UserInputError names
        the problem."""
        prompt = _clean(options.prompt)
        if prompt is None:
            raise UserInputError(texts.PROMPT_EMPTY())
        if len(prompt) > model.prompt_max:
            raise UserInputError(
                texts.PROMPT_TOO_LONG(length=len(prompt), model=model.name, limit=model.prompt_max)
            )
        negative = _clean(options.negative_prompt)
        if negative is not None:
            if not model.accepts("negative_prompt"):
                takers = ", ".join(m.name for m in _models_taking("negative_prompt"))
                raise UserInputError(texts.NEGATIVE_NOT_TAKEN(model=model.name, takers=takers))
            if len(negative) > model.prompt_max:
                raise UserInputError(
                    texts.NEGATIVE_TOO_LONG(model=model.name, limit=model.prompt_max)
                )
        count = 1 if options.count is None else options.count
        most = max_images(gs)
        if not 1 <= count <= most:
            raise UserInputError(texts.COUNT_RANGE(limit=most))
        aspect = options.aspect_ratio or "1:1"
        if aspect not in ASPECT_RATIOS:
            raise UserInputError(texts.ASPECT_RATIO_CHOICES(ratios=", ".join(ASPECT_RATIOS)))
        seed = options.seed
        if seed is not None and not model.seed_min <= seed <= model.seed_max:
            raise UserInputError(
                texts.SEED_RANGE(low=model.seed_min, high=model.seed_max, model=model.name)
            )
        if seed is None and model.accepts("seed"):
            # Pick the seed ourselves so the reply can show it and Reroll can change it.
            seed = self._rng.randint(model.seed_min, model.seed_max)
        if options.private and not private_allowed(gs):
            raise UserInputError(texts.PRIVATE_NOT_ALLOWED())
        enhance = options.enhance_prompt
        if enhance is None and gs is not None:
            enhance = gs.enhance_prompt
        return options.replace(
            model=model.id,
            prompt=prompt,
            count=count,
            aspect_ratio=aspect,
            seed=seed,
            negative_prompt=negative,
            enhance_prompt=enhance,
        )

    async def check_cooldown(
        self, req: ImagineRequest, gs: GuildSettings | None, scope: Scope
    ) -> None:
        if gs is None or gs.cooldown_seconds <= 0:
            return
        last = await self.db.jobs.last_job_time(user_id=req.user_id, scope=scope.key)
        if last is None:
            return
        wait = last + gs.cooldown_seconds - self._clock()
        if wait > 0:
            raise RefusedError(
                texts.COOLDOWN(seconds=gs.cooldown_seconds, when=int(self._clock() + wait) + 1)
            )

    async def prepare(self, req: ImagineRequest) -> PreparedJob:
        """Run every check in order and reserve the credits; raises before anything is charged.

        Order: cut off from the cluster or not, allowed channel, ban, model and parameters,
        cooldown, per-user job limit, blocklist, budget. The cheap per-member checks come first:
        the blocklist's work is bounded, but it is the one check a hostile server can make
        expensive.
        """
        if not self.accepting:
            raise ShuttingDownError()
        if self.cluster is not None:
            self.cluster.check_connected()  # cut off: refuse before reading the database
        rules_guild_id = req.rules_guild_id
        ctx = await self.policy.context(rules_guild_id, req.user_id)
        gs = ctx.settings if ctx else None
        self.policy.check_access(ctx, req.channel_id)
        # The member's own defaults (/settings) fill what they did not choose; noted on the row.
        # In a server they come with its rules; outside one they are the member's personal ones.
        if ctx is not None:
            defaults = ctx.defaults
        else:
            defaults = await self.db.members.member_defaults(None, req.user_id)
        filled, from_defaults = apply_defaults(req.options, defaults, ctx)
        req = dataclasses.replace(req, options=filled)
        model = self.resolve_model(req, ctx)
        options = self.validate(req.options, model, gs)
        api_request = api_request_for(options, model, gs)
        scope = self.scope_for(req, gs)
        await self.check_cooldown(req, gs, scope)
        if self.queue.closed:
            raise QueueClosedError()
        in_flight = self.queue.in_flight(req.user_id)
        if in_flight >= self.queue.max_per_user:
            raise QueueFullError(in_flight)
        await self.policy.check_text(
            rules_guild_id, [api_request.prompt, api_request.negative_prompt]
        )
        credits = model.credits_per_image * api_request.count
        budget_day, bot_day = self.ledger.days(scope)
        job = NewJob(
            guild_id=req.guild_id,
            channel_id=req.channel_id,
            user_id=req.user_id,
            scope=scope.key,
            budget_day=budget_day,
            bot_day=bot_day,
            **options.columns(),
            params_json=json.dumps(
                {**options.params(), **_policy(api_request), **_defaults_used(from_defaults)},
                sort_keys=True,
            ),
            credits=credits,
            usd_estimate=model.usd_per_image * api_request.count,
            parent_job_id=req.parent_job_id,
        )
        # The cooldown again, in the reserving statement: a request sent at the same time as
        # this one may have reserved since the check above.
        since = (
            None if gs is None or gs.cooldown_seconds <= 0 else self._clock() - gs.cooldown_seconds
        )
        try:
            job_id = await self.ledger.reserve(scope, req.role_ids, job, cooldown_since=since)
        except BudgetExceededError:
            if since is not None:
                await self.check_cooldown(req, gs, scope)
            raise
        try:
            ticket = self.queue.admit(req.user_id, job_id)
            if self.cluster is not None:
                await self.cluster.enrol(ticket, req.user_id)
        except ImagenError as exc:
            # Another request of this user took the last slot while we reserved: undo.
            await self.db.jobs.finish_job(
                job_id, state="cancelled", error_class=exc.error_class, error_detail=str(exc)
            )
            raise
        # DEBUG: this runs before the member's interaction is answered, and a log line costs
        # ~0.15 ms there under a burst; the job's outcome is logged at INFO with its id.
        log.debug(
            "job %d reserved %d credits (%s x%d) for user %d in %s",
            job_id,
            credits,
            model.id,
            api_request.count,
            req.user_id,
            scope.key,
        )
        return PreparedJob(
            job_id=job_id,
            model=model,
            options=options,
            request=api_request,
            scope=scope,
            credits=credits,
            ticket=ticket,
            user_id=req.user_id,
            guild_id=req.guild_id,
            channel_id=req.channel_id,
        )

    # -- after deferring ----------------------------------------------------------------------

    def slot(self, job: PreparedJob) -> AbstractAsyncContextManager[Ticket]:
        return job.ticket.slot()

    async def generate(self, job: PreparedJob) -> GenerationResult:
        """Call the API for a job that holds a running slot (``async with service.slot(job)``)."""
        if not await self.db.jobs.mark_running(job.job_id):
            raise ShuttingDownError(detail=f"job {job.job_id} is no longer queued")
        return await self.api.generate(job.request)

    async def complete(
        self, job: PreparedJob, result: GenerationResult, delivered: int, message_id: int | None
    ) -> Completion:
        """Charge the images delivered; the rest of the reservation goes back."""
        delivered = max(0, min(delivered, job.request.count))
        charged = job.model.credits_per_image * delivered
        settled = await self.db.jobs.finish_job(
            job.job_id,
            state="done" if delivered else "failed",
            credits_charged=charged,
            images_delivered=delivered,
            api_credits=result.api_credits,
            usd=result.usd,
            enhanced_prompt=result.enhanced_prompt,
            message_id=message_id,
            error_class=None if delivered else "no_images",
        )
        if not settled:
            log.warning("job %d was already settled; not charging again", job.job_id)
            return Completion(0, 0)
        return Completion(charged, job.credits - charged)

    async def fail(
        self,
        job: PreparedJob,
        error: BaseException,
        *,
        state: str = "failed",
        result: GenerationResult | None = None,
    ) -> bool:
        """Refund in full and record why. False if the job had already been settled.

        Only our own errors' details are stored (written to carry no secret); of anything else,
        only its class: an aiohttp response error's repr carries its request's headers, and so
        the Authorization header. The log keeps the full error with the job id.
        """
        error_class = error.error_class if isinstance(error, ImagenError) else type(error).__name__
        detail = error.detail if isinstance(error, ImagenError) else ""
        detail = detail or type(error).__name__
        return await self.db.jobs.finish_job(
            job.job_id,
            state=state,
            error_class=error_class,
            error_detail=detail,
            api_credits=result.api_credits if result else None,
            usd=result.usd if result else None,
        )

    async def record_cancelled(self, job: PreparedJob, error: JobCancelledError) -> None:
        """A queued job whose ticket was cancelled (by its user or the shutdown): refund it."""
        await self.db.jobs.finish_job(job.job_id, state="cancelled", error_class=error.error_class)

    async def get_job(self, job_id: int) -> JobRow | None:
        return await self.db.jobs.get_job(job_id)

    async def credits_left(
        self, job: PreparedJob, role_ids: tuple[int, ...], *, charged: int
    ) -> int:
        """What the member has left today once this job is charged ``charged`` (its reservation
        still counts until it is settled)."""
        quota = await self.ledger.quota(job.scope, job.user_id, role_ids)
        return max(0, quota.left - (job.credits - charged))

    async def cancel(self, job: PreparedJob) -> bool:
        """Cancel a job still waiting in the queue, refunding it; False once it has started."""
        if not job.ticket.cancel():
            return False
        return await self.db.jobs.finish_job(job.job_id, state="cancelled", error_class="cancelled")

    # -- start-up and shutdown ----------------------------------------------------------------

    def stop_accepting(self) -> list[Ticket]:
        """Refuse new jobs and cancel those still waiting (their runners refund them)."""
        self.accepting = False
        self.queue.close()
        return self.queue.cancel_queued()

    async def recover_interrupted(self) -> Recovery:
        """Refund every job a previous process left open, except those it may have posted: their
        result may be on Discord, which only the Discord side can ask (``settle_posted`` or
        ``refund_interrupted`` then). Returns them all with their replies, so users can be told.
        In a cluster, only the jobs no live process answers for."""
        await self.forget_expired_tokens()
        recovery = Recovery()
        rows = await (self.cluster.orphaned_jobs() if self.cluster else self.db.jobs.open_jobs())
        for row in rows:
            left = LeftOpen(row, await self.db.jobs.job_reply(row.id))
            if left.reply is not None and left.reply.posting is not None:
                recovery.maybe_posted.append(left)
            elif await self.refund_interrupted(row):
                recovery.refunded.append(left)
        if recovery.refunded:
            log.warning("refunded %d jobs interrupted by the last shutdown", len(recovery.refunded))
        return recovery

    async def refund_interrupted(self, row: JobRow) -> bool:
        return await self.db.jobs.finish_job(
            row.id,
            state="interrupted",
            error_class="interrupted",
            error_detail="the bot stopped while this job was open",
        )

    async def settle_posted(self, left: LeftOpen, message_id: int) -> bool:
        """A job whose result Discord shows: settled as its completion would have been."""
        assert left.reply is not None and left.reply.posting is not None
        posting = left.reply.posting
        settled = await self.db.jobs.finish_job(
            left.row.id,
            state="done",
            credits_charged=posting.credits_charged,
            images_delivered=posting.images,
            api_credits=posting.api_credits,
            usd=posting.usd,
            enhanced_prompt=posting.enhanced_prompt,
            message_id=message_id,
        )
        if settled:
            log.warning(
                "job %d was posted in message %d before the last shutdown; charged %d",
                left.row.id,
                message_id,
                posting.credits_charged,
            )
        return settled

    # -- the job's reply, for a restart ---------------------------------------------------------

    async def forget_expired_tokens(self) -> None:
        forgotten = await self.db.jobs.forget_expired_tokens()
        if forgotten:
            log.info("dropped %d expired interaction tokens", forgotten)

    async def remember_reply(
        self, job: PreparedJob, *, message_id: int | None, token: str, expires_at: float
    ) -> None:
        await self.db.jobs.save_reply(
            job.job_id, message_id=message_id, token=token, expires_at=expires_at
        )

    async def mark_posting(
        self, job: PreparedJob, result: GenerationResult, *, images: int, charged: int
    ) -> None:
        """Record what the completion will be before the result is posted: a crash between
        posting and ``complete`` then leaves a job a restart can settle by what Discord shows."""
        posting = Posting(
            images=images,
            credits_charged=charged,
            api_credits=result.api_credits,
            usd=result.usd,
            enhanced_prompt=result.enhanced_prompt,
        )
        if not await self.db.jobs.mark_posting(job.job_id, posting):
            raise ShuttingDownError(detail=f"job {job.job_id} is no longer running")


@dataclass(frozen=True, slots=True)
class LeftOpen:
    """A job a previous process left open, and where its reply is."""

    row: JobRow
    reply: JobReply | None


@dataclass(slots=True)
class Recovery:
    """What start-up found open: jobs refunded, and jobs that may have been posted."""

    refunded: list[LeftOpen] = field(default_factory=list)
    maybe_posted: list[LeftOpen] = field(default_factory=list)


def _models_taking(param: str) -> Sequence[ModelSpec]:
    return [m for m in MODELS if m.accepts(param) and not m.deprecated]


def api_request_for(
    options: ImagineOptions, model: ModelSpec, gs: GuildSettings | None
) -> GenerationRequest:
    """The API's request for validated options, with the server's policy values."""
    return GenerationRequest(
        model=model,
        prompt=options.prompt,
        count=options.count or 1,
        aspect_ratio=options.aspect_ratio,
        seed=options.seed,
        negative_prompt=options.negative_prompt,
        enhance_prompt=options.enhance_prompt,
        safety_setting=gs.safety_setting if gs else None,
        person_generation=gs.person_generation if gs else None,
        add_watermark=gs.add_watermark if gs else None,
    )


def _defaults_used(names: Sequence[str]) -> dict[str, object]:
    """Which options came from the member's defaults, kept in params_json for Details."""
    return {MEMBER_DEFAULTS_KEY: list(names)} if names else {}


def _policy(req: GenerationRequest) -> dict[str, object]:
    """The server's policy values a job ran with, kept beside its options in params_json."""
    return {
        "safety_setting": req.safety_setting,
        "person_generation": req.person_generation,
        "add_watermark": req.add_watermark,
    }
