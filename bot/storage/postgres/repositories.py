"""The PostgreSQL repositories: one class per concern over the shared pool. The SQL text is in
``queries``; the row mapping is the SQLite backend's, since both hand back the same columns."""

from __future__ import annotations

import json
from typing import Any

from bot.storage.postgres import queries as q
from bot.storage.postgres.connection import Pool, Row
from bot.storage.sqlite.repositories import PERSONAL, SQLITE_INT_MAX, now
from bot.storage.sqlite.repositories import _job as job_of
from bot.storage.sqlite.repositories import _member_defaults as member_defaults_of
from bot.storage.sqlite.repositories import _settings as settings_of
from bot.storage.sqlite.repositories import _usage_line as usage_line_of
from bot.storage.types import (
    GUILD_SETTING_COLUMNS,
    MEMBER_DEFAULT_COLUMNS,
    TERMINAL_STATES,
    USAGE_CSV_COLUMNS,
    AuditRow,
    BanRow,
    BlocklistRow,
    BudgetCheck,
    BudgetRules,
    GuildRules,
    GuildSettings,
    JobReply,
    JobRow,
    MemberDefaults,
    NewJob,
    Posting,
    RequestContext,
    Usage,
    UsageSummary,
    UsageTotals,
)


def _job(row: Row) -> JobRow:
    return job_of(row)  # type: ignore[arg-type]


def _settings(row: Row | None, guild_id: int) -> GuildSettings:
    return settings_of(row, guild_id)  # type: ignore[arg-type]


def _member_defaults(row: Row | None) -> MemberDefaults:
    return member_defaults_of(row)  # type: ignore[arg-type]


class PostgresJobs:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def reserve_job(self, job: NewJob, check: BudgetCheck) -> int | None:
        """Insert the job and reserve its credits in one statement; None if a limit says no."""
        job_id = await self._db.fetchval(
            q.RESERVE_JOB,
            job.guild_id,
            job.channel_id,
            job.user_id,
            job.scope,
            job.budget_day,
            job.bot_day,
            job.model,
            job.prompt,
            job.negative_prompt,
            job.aspect_ratio,
            job.count,
            job.seed,
            job.params_json,
            job.credits,
            job.usd_estimate,
            job.parent_job_id,
            None if job.spoiler is None else int(job.spoiler),
            now(),
            check.base_limit,
            check.server_cap,
            check.usd_cap,
            check.guild_id,
            list(check.role_ids),
            check.cooldown_since,
        )
        return None if job_id is None else int(job_id)

    async def mark_running(self, job_id: int) -> bool:
        return await self._db.fetchone(q.MARK_RUNNING, now(), job_id) is not None

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
        """Move an open job to a terminal state, settling its credits and refunding the rest in
        the same statement. Returns False if the job was no longer open, so each job settles
        exactly once."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"not a terminal state: {state}")
        settled = await self._db.fetchone(
            q.FINISH_JOB,
            state,
            credits_charged,
            images_delivered,
            api_credits,
            usd,
            enhanced_prompt,
            message_id,
            error_class,
            error_detail[:2000] if error_detail else None,
            now(),
            job_id,
        )
        return settled is not None

    async def get_job(self, job_id: int) -> JobRow | None:
        if not 0 < job_id <= SQLITE_INT_MAX:
            return None  # a forged button id: BIGINT ends where SQLite's integers do
        row = await self._db.fetchone(q.GET_JOB, job_id)
        return None if row is None else _job(row)

    async def open_jobs(self) -> list[JobRow]:
        return [_job(r) for r in await self._db.fetchall(q.OPEN_JOBS)]

    async def save_reply(
        self, job_id: int, *, message_id: int | None, token: str, expires_at: float
    ) -> None:
        await self._db.execute(q.SAVE_REPLY, job_id, message_id, token, expires_at, now())

    async def mark_posting(self, job_id: int, posting: Posting) -> bool:
        row = await self._db.fetchone(
            q.MARK_POSTING,
            job_id,
            now(),
            posting.images,
            posting.credits_charged,
            posting.api_credits,
            posting.usd,
            posting.enhanced_prompt,
        )
        return row is not None

    async def job_reply(self, job_id: int) -> JobReply | None:
        row = await self._db.fetchone(q.GET_REPLY, job_id, now())
        if row is None:
            return None
        posting = None
        if row["posting_at"] is not None:
            posting = Posting(
                images=int(row["images"]),
                credits_charged=int(row["credits_charged"]),
                api_credits=row["api_credits"],
                usd=row["usd"],
                enhanced_prompt=row["enhanced_prompt"],
            )
        return JobReply(
            job_id=job_id, message_id=row["message_id"], token=row["token"], posting=posting
        )

    async def forget_expired_tokens(self) -> int:
        return await self._db.execute(q.FORGET_EXPIRED_TOKENS, now())

    async def recent_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        if guild_id is None:
            rows = await self._db.fetchall(q.RECENT_JOBS, user_id, limit)
        else:
            rows = await self._db.fetchall(q.RECENT_JOBS_IN_GUILD, user_id, guild_id, limit)
        return [_job(r) for r in rows]

    async def last_job_time(self, *, user_id: int, scope: str) -> float | None:
        row = await self._db.fetchone(q.LAST_JOB_TIME, user_id, scope)
        return None if row is None or row["t"] is None else float(row["t"])


class PostgresBudgets:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def usage(self, scope: str, day: str, user_id: int) -> Usage:
        row = await self._db.fetchone(q.USAGE, scope, day, user_id)
        assert row is not None
        return Usage(int(row["reserved"]), int(row["charged"]), int(row["grants"]))

    async def scope_usage(self, scope: str, day: str) -> int:
        row = await self._db.fetchone(q.SCOPE_USAGE, scope, day)
        return 0 if row is None else int(row["used"])

    async def bot_spend(self, day: str) -> float:
        row = await self._db.fetchone(q.BOT_SPEND, day)
        return 0.0 if row is None else float(row["usd"])

    async def budget_rules(self, guild_id: int, user_id: int) -> BudgetRules:
        row = await self._db.fetchone(q.BUDGET_RULES, guild_id, user_id)
        assert row is not None
        roles: dict[str, int] = json.loads(row["roles"] or "{}")
        return BudgetRules(
            user_credits=row["user_credits"],
            role_credits={int(role): int(credits) for role, credits in roles.items()},
            daily_credits=row["daily_credits"],
            server_cap=row["server_cap"],
        )

    async def set_role_budget(self, guild_id: int, role_id: int, credits: int | None) -> None:
        if credits is None:
            await self._db.execute(q.DELETE_ROLE_BUDGET, guild_id, role_id)
        else:
            await self._db.execute(q.SET_ROLE_BUDGET, guild_id, role_id, credits)

    async def set_user_budget(self, guild_id: int, user_id: int, credits: int | None) -> None:
        if credits is None:
            await self._db.execute(q.DELETE_USER_BUDGET, guild_id, user_id)
        else:
            await self._db.execute(q.SET_USER_BUDGET, guild_id, user_id, credits)

    async def role_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._db.fetchall(q.ROLE_BUDGETS, guild_id)
        return {int(r["role_id"]): int(r["credits"]) for r in rows}

    async def user_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._db.fetchall(q.USER_BUDGETS, guild_id)
        return {int(r["user_id"]): int(r["credits"]) for r in rows}

    async def add_grant(
        self, *, scope: str, day: str, user_id: int, credits: int, granted_by: int
    ) -> None:
        await self._db.execute(q.ADD_GRANT, scope, day, user_id, credits, granted_by, now())

    async def reset_usage(self, *, scope: str, day: str, user_id: int) -> int:
        """Forget a user's spent credits that day; returns what this very write cleared."""
        row = await self._db.fetchone(q.RESET_USAGE, scope, day, user_id)
        return 0 if row is None else int(row["last_forgiven"])


class PostgresGuilds:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return _settings(await self._db.fetchone(q.GUILD_SETTINGS, guild_id), guild_id)

    async def update_guild_settings(self, guild_id: int, **changes: object) -> GuildSettings:
        """Set some columns (``None`` resets one to the default) in one upsert, which returns
        the row as it left it."""
        unknown = set(changes) - set(GUILD_SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        if not changes:
            return await self.guild_settings(guild_id)
        columns = list(changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        if "timezone" in changes and changes["timezone"] is None:
            values[columns.index("timezone")] = "UTC"
        if "cooldown_seconds" in changes and changes["cooldown_seconds"] is None:
            values[columns.index("cooldown_seconds")] = 0
        row = await self._db.fetchone(q.upsert_guild_settings(columns), guild_id, now(), *values)
        return _settings(row, guild_id)


class PostgresMembers:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def member_defaults(self, guild_id: int | None, user_id: int) -> MemberDefaults:
        row = await self._db.fetchone(q.MEMBER_DEFAULTS, guild_id or PERSONAL, user_id)
        return _member_defaults(row)

    async def update_member_defaults(
        self, guild_id: int | None, user_id: int, **changes: object
    ) -> MemberDefaults:
        """Set some defaults (``None`` clears one) in one upsert that returns the row."""
        unknown = set(changes) - set(MEMBER_DEFAULT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown member defaults: {sorted(unknown)}")
        if not changes:
            return await self.member_defaults(guild_id, user_id)
        columns = list(changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        row = await self._db.fetchone(
            q.upsert_member_defaults(columns), guild_id or PERSONAL, user_id, now(), *values
        )
        return _member_defaults(row)

    async def reset_member_defaults(self, guild_id: int | None, user_id: int) -> bool:
        deleted = await self._db.execute(q.RESET_MEMBER_DEFAULTS, guild_id or PERSONAL, user_id)
        return deleted == 1


class PostgresModeration:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def allowed_channels(self, guild_id: int) -> list[int]:
        rows = await self._db.fetchall(q.ALLOWED_CHANNELS, guild_id)
        return [int(r["channel_id"]) for r in rows]

    async def allow_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self._db.execute(q.ALLOW_CHANNEL, guild_id, channel_id) == 1

    async def remove_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self._db.execute(q.REMOVE_CHANNEL, guild_id, channel_id) == 1

    async def ban(
        self,
        *,
        guild_id: int,
        user_id: int,
        reason: str | None,
        banned_by: int,
        expires_at: float | None,
    ) -> None:
        await self._db.execute(q.BAN, guild_id, user_id, reason, banned_by, now(), expires_at)

    async def unban(self, guild_id: int, user_id: int) -> bool:
        return await self._db.execute(q.UNBAN, guild_id, user_id) == 1

    async def active_ban(self, guild_id: int, user_id: int, at: float) -> BanRow | None:
        row = await self._db.fetchone(q.ACTIVE_BAN, guild_id, user_id, at)
        return None if row is None else BanRow(**dict(row))

    async def active_bans(self, guild_id: int, at: float) -> list[BanRow]:
        return [BanRow(**dict(r)) for r in await self._db.fetchall(q.ACTIVE_BANS, guild_id, at)]

    async def add_blocklist(
        self, *, guild_id: int, kind: str, pattern: str, added_by: int
    ) -> int | None:
        """The new entry's id, or None if the same entry exists."""
        row = await self._db.fetchone(q.ADD_BLOCKLIST, guild_id, kind, pattern, added_by, now())
        return None if row is None else int(row["id"])

    async def remove_blocklist(self, guild_id: int, kind: str, pattern: str) -> bool:
        return await self._db.execute(q.REMOVE_BLOCKLIST, guild_id, kind, pattern) == 1

    async def blocklist(self, guild_id: int) -> list[BlocklistRow]:
        return [BlocklistRow(**dict(r)) for r in await self._db.fetchall(q.BLOCKLIST, guild_id)]

    async def disabled_models(self, guild_id: int) -> set[str]:
        rows = await self._db.fetchall(q.DISABLED_MODELS, guild_id)
        return {str(r["model_id"]) for r in rows}

    async def set_model_enabled(self, guild_id: int, model_id: str, enabled: bool) -> bool:
        """Returns whether anything changed."""
        sql = q.ENABLE_MODEL if enabled else q.DISABLE_MODEL
        return await self._db.execute(sql, guild_id, model_id) == 1


class PostgresAudit:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def record(
        self, *, guild_id: int, actor_id: int, action: str, details: dict[str, Any]
    ) -> int:
        details_json = json.dumps(details, sort_keys=True, default=str)
        return int(
            await self._db.fetchval(q.RECORD_AUDIT, guild_id, actor_id, action, details_json, now())
        )

    async def rows(self, guild_id: int, limit: int = 50) -> list[AuditRow]:
        return [AuditRow(**dict(r)) for r in await self._db.fetchall(q.AUDIT_ROWS, guild_id, limit)]


class PostgresReports:
    def __init__(self, db: Pool) -> None:
        self._db = db

    async def usage_summary(self, guild_id: int, since: float, *, top: int = 5) -> UsageSummary:
        """Totals, the ``top`` users by credits and every model used, for jobs created since."""
        total = await self._db.fetchone(q.USAGE_TOTALS, guild_id, since)
        assert total is not None
        users = await self._db.fetchall(q.USAGE_BY_USER, guild_id, since, top)
        models = await self._db.fetchall(q.USAGE_BY_MODEL, guild_id, since)
        return UsageSummary(
            totals=UsageTotals(
                jobs=int(total["jobs"]),
                failed=int(total["failed"]),
                images=int(total["images"]),
                credits=int(total["credits"]),
                usd=float(total["usd"]),
            ),
            top_users=[usage_line_of(r) for r in users],  # type: ignore[arg-type]
            models=[usage_line_of(r) for r in models],  # type: ignore[arg-type]
        )

    async def usage_rows(
        self, guild_id: int, since: float, *, limit: int = 50_000
    ) -> list[tuple[object, ...]]:
        """The jobs created since, oldest first, as tuples in ``USAGE_CSV_COLUMNS`` order."""
        rows = await self._db.fetchall(q.USAGE_ROWS, guild_id, since, limit)
        return [tuple(r[c] for c in USAGE_CSV_COLUMNS) for r in rows]

    async def delivered_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        """A user's latest generations that reached a message (in one server, or anywhere)."""
        if guild_id is None:
            rows = await self._db.fetchall(q.DELIVERED_JOBS, user_id, limit)
        else:
            rows = await self._db.fetchall(q.DELIVERED_JOBS_IN_GUILD, user_id, guild_id, limit)
        return [_job(r) for r in rows]


class PostgresRequests:
    """Read in one statement on every request, never kept: another process sharing the database
    may change a server's rules, and no write of this one would tell."""

    def __init__(self, db: Pool) -> None:
        self._db = db

    async def request_context(self, guild_id: int, user_id: int, at: float) -> RequestContext:
        row = await self._db.fetchone(q.GUILD_RULES, guild_id, at, user_id)
        assert row is not None
        rules = GuildRules.from_json(
            _settings(row, guild_id),
            channels=row["channels"],
            disabled=row["disabled"],
            bans=row["bans"],
            defaults=row["defaults"],
        )
        return rules.context_for(user_id, at)


class PostgresCluster:
    """The cluster's leases, owners, slots and turns; each call is one statement, and the two
    that count before they write (enrol, claim) are functions that lock first (migration 0004)."""

    def __init__(self, db: Pool) -> None:
        self._db = db

    async def register(self, process_id: str, member: str, lease_s: float) -> None:
        await self._db.execute(q.REGISTER_PROCESS, process_id, member, lease_s)

    async def renew(self, process_id: str, lease_s: float) -> bool:
        return await self._db.fetchone(q.RENEW_LEASE, process_id, lease_s) is not None

    async def enrol(self, job_id: int, user_id: int, owner: str, max_per_user: int) -> bool:
        return bool(await self._db.fetchval(q.ENROL_JOB, job_id, user_id, owner, max_per_user))

    async def claim_slots(self, owner: str, max_slots: int) -> list[int]:
        rows = await self._db.fetchall(q.CLAIM_SLOTS, owner, max_slots)
        return [int(r["job_id"]) for r in rows]

    async def queue_positions(self, owner: str) -> dict[int, int]:
        rows = await self._db.fetchall(q.QUEUE_POSITIONS, owner)
        return {int(r["job_id"]): int(r["place"]) for r in rows}

    async def release_slots(self, job_ids: list[int]) -> None:
        await self._db.execute(q.RELEASE_SLOTS, job_ids)

    async def orphaned_jobs(self, process_id: str, member: str, lease_s: float) -> list[JobRow]:
        rows = await self._db.fetchall(q.ORPHANED_JOBS, process_id, member, now() - lease_s)
        return [_job(r) for r in rows]

    async def forget_dead(self, process_id: str, member: str) -> None:
        await self._db.execute(q.FORGET_DEAD, process_id, member)

    async def identify_turn(self, bucket: int, holder: str, window_s: float) -> float:
        return float(await self._db.fetchval(q.TAKE_IDENTIFY_TURN, bucket, holder, window_s))
