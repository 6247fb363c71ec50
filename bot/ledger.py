"""Per-user daily budgets: which limit applies, which day it is, and reserving credits.

The arithmetic that must not race (reserve against the limit) is one SQL statement in the storage
layer; this module only works out the numbers that statement compares against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import texts
from bot.errors import RefusedError, UserInputError
from bot.storage import BudgetCheck, BudgetRules, Database, NewJob, Usage


@dataclass(frozen=True, slots=True)
class Scope:
    """Where credits are counted: a server that installed the bot (its own timezone), or a person
    (UTC) in DMs and in servers that did not, one budget whatever the server."""

    key: str
    guild_id: int | None
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def day(self, at: float) -> str:
        return datetime.fromtimestamp(at, self.zone).date().isoformat()

    def next_reset(self, at: float) -> float:
        """The epoch second of the next local midnight (DST changes included)."""
        zone = self.zone
        local = datetime.fromtimestamp(at, zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=zone)
        # Round-trip through UTC so a non-existent local midnight lands on the real instant.
        return midnight.astimezone(UTC).timestamp()


def guild_scope(guild_id: int, timezone: str) -> Scope:
    return Scope(key=f"g:{guild_id}", guild_id=guild_id, timezone=timezone or "UTC")


def personal_scope(user_id: int) -> Scope:
    return Scope(key=f"u:{user_id}", guild_id=None, timezone="UTC")


UTC_SCOPE = Scope(key="bot", guild_id=None)


@dataclass(frozen=True, slots=True)
class Limit:
    base: int
    source: str  # "user override", "role", "server default", "bot default"


@dataclass(frozen=True, slots=True)
class Quota:
    """What /quota shows."""

    limit: Limit
    usage: Usage
    reset_at: float
    server_cap: int | None
    server_used: int

    @property
    def total(self) -> int:
        return self.limit.base + self.usage.grants

    @property
    def left(self) -> int:
        personal_left = max(0, self.total - self.usage.used)
        if self.server_cap is not None:
            return min(personal_left, max(0, self.server_cap - self.server_used))
        return personal_left


MAX_CREDITS = 1_000_000


def checked_credits(value: int, *, minimum: int = 0) -> int:
    """Admin-entered amounts: whole, not negative, not absurd. Discord enforces the option's range
    in its client, but a payload can still carry anything."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserInputError(texts.CREDITS_NOT_WHOLE())
    if value < minimum:
        raise UserInputError(texts.CREDITS_TOO_LOW(minimum=minimum))
    if value > MAX_CREDITS:
        raise UserInputError(texts.CREDITS_TOO_HIGH(maximum=f"{MAX_CREDITS:,}"))
    return value


class BudgetExceededError(RefusedError):
    error_class = "budget"

    def __init__(self, message: str, *, reset_at: float) -> None:
        super().__init__(message)
        self.reset_at = reset_at


def discord_time(at: float) -> str:
    """Discord renders this as a relative time in each reader's own timezone."""
    return f"<t:{int(at)}:R>"


class Ledger:
    def __init__(
        self,
        db: Database,
        *,
        default_daily_credits: int,
        usd_cap: float | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._default = default_daily_credits
        self._usd_cap = usd_cap
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    async def _rules(self, scope: Scope, user_id: int) -> BudgetRules | None:
        if scope.guild_id is None:
            return None
        return await self._db.budgets.budget_rules(scope.guild_id, user_id)

    def _limit(self, rules: BudgetRules | None, role_ids: Iterable[int]) -> Limit:
        """User override, else the highest role budget, else the server default, else the bot's."""
        if rules is None:
            return Limit(self._default, "bot default")
        if rules.user_credits is not None:
            return Limit(rules.user_credits, "user override")
        held = [rules.role_credits[r] for r in role_ids if r in rules.role_credits]
        if held:
            return Limit(max(held), "role")
        if rules.daily_credits is not None:
            return Limit(rules.daily_credits, "server default")
        return Limit(self._default, "bot default")

    async def limit_for(self, scope: Scope, user_id: int, role_ids: Iterable[int]) -> Limit:
        """User override, else the highest role budget, else the server default, else the bot's."""
        return self._limit(await self._rules(scope, user_id), role_ids)

    async def quota(self, scope: Scope, user_id: int, role_ids: Iterable[int]) -> Quota:
        at = self.now()
        day = scope.day(at)
        rules = await self._rules(scope, user_id)
        limit = self._limit(rules, role_ids)
        usage = await self._db.budgets.usage(scope.key, day, user_id)
        cap = rules.server_cap if rules is not None else None
        server_used = await self._db.budgets.scope_usage(scope.key, day) if cap is not None else 0
        return Quota(limit, usage, scope.next_reset(at), cap, server_used)

    def days(self, scope: Scope) -> tuple[str, str]:
        """The budget day in the scope and the bot-wide UTC day, read from one clock tick."""
        at = self.now()
        return scope.day(at), UTC_SCOPE.day(at)

    async def reserve(
        self,
        scope: Scope,
        role_ids: Iterable[int],
        job: NewJob,
        *,
        cooldown_since: float | None = None,
    ) -> int:
        """Insert the job, reserving its credits, or raise ``BudgetExceededError`` saying why.
        With ``cooldown_since``, a job of the member in the scope since then refuses it too."""
        # One round trip: the reserving statement reads the server's rules itself. This runs
        # before every /imagine is acknowledged (see docs/performance.md).
        roles = tuple(role_ids)
        check = BudgetCheck(
            base_limit=self._default,
            server_cap=None,
            usd_cap=self._usd_cap,
            guild_id=scope.guild_id,
            role_ids=roles,
            cooldown_since=cooldown_since,
        )
        job_id = await self._db.jobs.reserve_job(job, check)
        if job_id is not None:
            return job_id
        rules = await self._rules(scope, job.user_id)
        cap = rules.server_cap if rules is not None else None
        raise await self._refusal(scope, job, self._limit(rules, roles), cap)

    async def _refusal(
        self, scope: Scope, job: NewJob, limit: Limit, cap: int | None
    ) -> BudgetExceededError:
        at = self.now()
        reset = scope.next_reset(at)
        usage = await self._db.budgets.usage(scope.key, job.budget_day, job.user_id)
        total = limit.base + usage.grants
        if total == 0:
            zero = (
                texts.BUDGET_ZERO_HERE if scope.guild_id is not None else texts.BUDGET_ZERO_PERSONAL
            )
            return BudgetExceededError(zero(), reset_at=reset)
        if usage.used + job.credits > total:
            left = max(0, total - usage.used)
            return BudgetExceededError(
                texts.BUDGET_NOT_ENOUGH(
                    needed=job.credits, left=left, total=total, reset=discord_time(reset)
                ),
                reset_at=reset,
            )
        if cap is not None:
            server_used = await self._db.budgets.scope_usage(scope.key, job.budget_day)
            if server_used + job.credits > cap:
                return BudgetExceededError(
                    texts.BUDGET_SERVER_CAP(cap=cap, reset=discord_time(reset)),
                    reset_at=reset,
                )
        if self._usd_cap is not None and (
            await self._db.budgets.bot_spend(job.bot_day) + job.usd_estimate > self._usd_cap
        ):
            bot_reset = UTC_SCOPE.next_reset(at)
            return BudgetExceededError(
                texts.BUDGET_BOT_CAP(reset=discord_time(bot_reset)),
                reset_at=bot_reset,
            )
        return BudgetExceededError(texts.BUDGET_CHANGED(), reset_at=reset)
