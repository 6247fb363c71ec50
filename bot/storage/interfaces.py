"""What the bot asks of its database, one protocol per concern.

The rest of the code is typed against these, never against a backend: a second database (a
PostgreSQL backend beside SQLite) implements the same protocols and only start-up changes.
Every write that must not race is one statement in the backend; no method reads a value and
writes on the strength of it across an ``await``.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from bot.storage.types import (
    AuditRow,
    BanRow,
    BlocklistRow,
    BudgetCheck,
    BudgetRules,
    GuildSettings,
    JobReply,
    JobRow,
    MemberDefaults,
    NewJob,
    Posting,
    RequestContext,
    Usage,
    UsageSummary,
)


class JobRepository(Protocol):
    """Job rows from reservation to settlement."""

    async def reserve_job(self, job: NewJob, check: BudgetCheck) -> int | None:
        """Insert the job and reserve its credits in one statement; None if a limit says no."""
        ...

    async def mark_running(self, job_id: int) -> bool: ...

    async def finish_job(
        self,
        job_id: int,
        *,
        state: str,
        credits_charged: int = 0,
        images_delivered: int = 0,
        api_credits: float | None = None,
        usd: float | None = None,
        enhanced_prompt: str | None = None,
        message_id: int | None = None,
        error_class: str | None = None,
        error_detail: str | None = None,
    ) -> bool:
        """Settle an open job once: False if it was no longer open."""
        ...

    async def get_job(self, job_id: int) -> JobRow | None: ...

    async def open_jobs(self) -> list[JobRow]: ...

    async def save_reply(
        self, job_id: int, *, message_id: int | None, token: str, expires_at: float
    ) -> None:
        """Remember an open job's original response and its interaction token until
        ``expires_at`` (an expired token is not stored); forgotten when the job settles."""
        ...

    async def mark_posting(self, job_id: int, posting: Posting) -> bool:
        """Record, before posting a running job's result, what its completion will record;
        False if the job is no longer running."""
        ...

    async def job_reply(self, job_id: int) -> JobReply | None:
        """An open job's reply, its token only if still valid."""
        ...

    async def forget_expired_tokens(self) -> int:
        """Drop every stored token past its expiry; returns how many."""
        ...

    async def recent_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]: ...

    async def last_job_time(self, *, user_id: int, scope: str) -> float | None: ...


class BudgetRepository(Protocol):
    """Daily budgets: what is spent, what the limits are, grants and resets."""

    async def usage(self, scope: str, day: str, user_id: int) -> Usage: ...

    async def scope_usage(self, scope: str, day: str) -> int: ...

    async def bot_spend(self, day: str) -> float: ...

    async def budget_rules(self, guild_id: int, user_id: int) -> BudgetRules: ...

    async def set_role_budget(self, guild_id: int, role_id: int, credits: int | None) -> None: ...

    async def set_user_budget(self, guild_id: int, user_id: int, credits: int | None) -> None: ...

    async def role_budgets(self, guild_id: int) -> dict[int, int]: ...

    async def user_budgets(self, guild_id: int) -> dict[int, int]: ...

    async def add_grant(
        self, *, scope: str, day: str, user_id: int, credits: int, granted_by: int
    ) -> None: ...

    async def reset_usage(self, *, scope: str, day: str, user_id: int) -> int:
        """Forget the credits spent that day; returns exactly the credits forgiven."""
        ...


class GuildRepository(Protocol):
    """Per-server settings."""

    async def guild_settings(self, guild_id: int) -> GuildSettings: ...

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        """Set some columns (``None`` resets one); returns the row as this write left it."""
        ...


class ModerationRepository(Protocol):
    """Allowed channels, bans, the blocklist and model switches."""

    async def allowed_channels(self, guild_id: int) -> list[int]: ...

    async def allow_channel(self, guild_id: int, channel_id: int) -> bool: ...

    async def remove_channel(self, guild_id: int, channel_id: int) -> bool: ...

    async def ban(
        self,
        *,
        guild_id: int,
        user_id: int,
        reason: str | None,
        banned_by: int,
        expires_at: float | None,
    ) -> None: ...

    async def unban(self, guild_id: int, user_id: int) -> bool: ...

    async def active_ban(self, guild_id: int, user_id: int, at: float) -> BanRow | None: ...

    async def active_bans(self, guild_id: int, at: float) -> list[BanRow]: ...

    async def add_blocklist(
        self, *, guild_id: int, kind: str, pattern: str, added_by: int
    ) -> int | None: ...

    async def remove_blocklist(self, guild_id: int, kind: str, pattern: str) -> bool: ...

    async def blocklist(self, guild_id: int) -> list[BlocklistRow]: ...

    async def disabled_models(self, guild_id: int) -> set[str]: ...

    async def set_model_enabled(self, guild_id: int, model_id: str, enabled: bool) -> bool: ...


class AuditRepository(Protocol):
    """The admin audit trail."""

    async def record(
        self, *, guild_id: int, actor_id: int, action: str, details: dict[str, Any]
    ) -> int: ...

    async def rows(self, guild_id: int, limit: int = 50) -> list[AuditRow]: ...


class ReportRepository(Protocol):
    """Read-only reports over the job rows: usage summaries, CSV exports and history."""

    async def usage_summary(self, guild_id: int, since: float, *, top: int = 5) -> UsageSummary: ...

    async def usage_rows(
        self, guild_id: int, since: float, *, limit: int = 50_000
    ) -> list[tuple[object, ...]]: ...

    async def delivered_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]: ...


class RequestRepository(Protocol):
    """The read every request makes before it is acknowledged: a backend may keep it in memory,
    as long as every write to a server's rules is seen by the next read."""

    async def request_context(self, guild_id: int, user_id: int, at: float) -> RequestContext: ...


class MemberRepository(Protocol):
    """Members' own defaults for /imagine, per server; ``guild_id`` None: their personal ones."""

    async def member_defaults(self, guild_id: int | None, user_id: int) -> MemberDefaults: ...

    async def update_member_defaults(
        self, guild_id: int | None, user_id: int, **changes: object
    ) -> MemberDefaults:
        """Set some defaults (``None`` clears one); returns the row as this write left it."""
        ...

    async def reset_member_defaults(self, guild_id: int | None, user_id: int) -> bool:
        """Forget every default; False if there were none."""
        ...


class ClusterRepository(Protocol):
    """Several bot processes on one database: process leases, job owners, the bot-wide slots and
    line, and IDENTIFY turns. Times are leases in seconds from now, by the database's clock."""

    async def register(self, process_id: str, member: str, lease_s: float) -> None: ...

    async def renew(self, process_id: str, lease_s: float) -> bool:
        """False if the process's row is gone (others took it for dead and took its jobs)."""
        ...

    async def enrol(self, job_id: int, user_id: int, owner: str, max_per_user: int) -> bool:
        """Name the job's owner unless its user already has ``max_per_user`` open jobs in the
        whole cluster; one statement, so two processes cannot both pass."""
        ...

    async def claim_slots(self, owner: str, max_slots: int) -> list[int]:
        """Give this process's jobs at the head of the bot-wide line the free slots."""
        ...

    async def queue_positions(self, owner: str) -> dict[int, int]:
        """The bot-wide position of each of this process's waiting jobs."""
        ...

    async def release_slots(self, job_ids: list[int]) -> None: ...

    async def orphaned_jobs(self, process_id: str, member: str, lease_s: float) -> list[JobRow]:
        """Open jobs no live process answers for (see ``queries.ORPHANED_JOBS``)."""
        ...

    async def forget_dead(self, process_id: str, member: str) -> None: ...

    async def identify_turn(self, bucket: int, holder: str, window_s: float) -> float:
        """Take the bucket's IDENTIFY turn: 0 if taken, else the seconds until it frees."""
        ...


class Database(Protocol):
    """The bot's database: one repository per concern, plus its lifecycle."""

    @property
    def jobs(self) -> JobRepository: ...
    @property
    def budgets(self) -> BudgetRepository: ...
    @property
    def guilds(self) -> GuildRepository: ...
    @property
    def moderation(self) -> ModerationRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def cluster(self) -> ClusterRepository: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def schema_version(self) -> int: ...

    async def migrate(self) -> int: ...

    async def ping(self) -> bool: ...

    async def integrity_check(self) -> str: ...

    async def backup_to(self, target: Path) -> None: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...
