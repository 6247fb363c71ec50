"""The SQLite repositories: one class per concern, each implementing its protocol over the one
shared connection. The SQL text is in ``queries``; here only parameters and row mapping."""

from __future__ import annotations

import json
import time
from typing import Any

import aiosqlite

from bot.storage.sqlite import queries as q
from bot.storage.sqlite.connection import Connection, RulesCache
from bot.storage.types import (
    GUILD_SETTING_COLUMNS,
    MEMBER_DEFAULT_COLUMNS,
    NO_DEFAULTS,
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
    UsageLine,
    UsageSummary,
    UsageTotals,
)

SQLITE_INT_MAX = 2**63 - 1
_BOOL_COLUMNS = frozenset({"enhance_prompt", "add_watermark", "allow_private", "private"})
# The key of a member's personal defaults (no server id is 0).
PERSONAL = 0


def now() -> float:
    return time.time()


def _job(row: aiosqlite.Row) -> JobRow:
    return JobRow(**{key: row[key] for key in row.keys()})  # noqa: SIM118


def _settings(row: aiosqlite.Row | None, guild_id: int) -> GuildSettings:
    """A settings row (or a LEFT JOIN's all-NULL one) as ``GuildSettings`` with defaults."""
    if row is None:
        return GuildSettings(guild_id=guild_id)
    values: dict[str, Any] = {}
    for column in GUILD_SETTING_COLUMNS:
        value = row[column]
        values[column] = bool(value) if column in _BOOL_COLUMNS and value is not None else value
    values["timezone"] = values["timezone"] or "UTC"
    values["cooldown_seconds"] = values["cooldown_seconds"] or 0
    return GuildSettings(guild_id=guild_id, **values)


def _member_defaults(row: aiosqlite.Row | None) -> MemberDefaults:
    return NO_DEFAULTS if row is None else MemberDefaults.from_mapping(row)


def _usage_line(row: aiosqlite.Row) -> UsageLine:
    return UsageLine(
        key=str(row["k"]),
        jobs=int(row["jobs"]),
        images=int(row["images"]),
        credits=int(row["credits"]),
        usd=float(row["usd"]),
    )


class SQLiteJobs:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def reserve_job(self, job: NewJob, check: BudgetCheck) -> int | None:
        """Insert the job and reserve its credits in one statement; None if a limit says no."""
        row = await self._db.fetchone(
            q.RESERVE_JOB,
            {
                "guild_id": job.guild_id,
                "channel_id": job.channel_id,
                "user_id": job.user_id,
                "scope": job.scope,
                "day": job.budget_day,
                "bot_day": job.bot_day,
                "model": job.model,
                "prompt": job.prompt,
                "negative_prompt": job.negative_prompt,
                "aspect_ratio": job.aspect_ratio,
                "count": job.count,
                "seed": job.seed,
                "params_json": job.params_json,
                "credits": job.credits,
                "usd": job.usd_estimate,
                "parent": job.parent_job_id,
                "spoiler": job.spoiler,
                "now": now(),
                "base_limit": check.base_limit,
                "server_cap": check.server_cap,
                "usd_cap": check.usd_cap,
                "rules_guild": check.guild_id,
                "role_ids": json.dumps(list(check.role_ids)),
                "cooldown_since": check.cooldown_since,
            },
        )
        return None if row is None else int(row["id"])

    async def mark_running(self, job_id: int) -> bool:
        return await self._db.fetchone(q.MARK_RUNNING, (now(), job_id)) is not None

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
        """Move an open job to a terminal state, settling its credits (the trigger refunds the
        rest). Returns False if the job was no longer open, so each job settles exactly once."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"not a terminal state: {state}")
        settled = await self._db.fetchone(
            q.FINISH_JOB,
            {
                "state": state,
                "charged": credits_charged,
                "delivered": images_delivered,
                "api_credits": api_credits,
                "usd": usd,
                "enhanced": enhanced_prompt,
                "message_id": message_id,
                "error_class": error_class,
                "error_detail": error_detail[:2000] if error_detail else None,
                "now": now(),
                "id": job_id,
            },
        )
        return settled is not None

    async def get_job(self, job_id: int) -> JobRow | None:
        if not 0 < job_id <= SQLITE_INT_MAX:
            return None  # a forged button id; SQLite would raise OverflowError past int64
        row = await self._db.fetchone(q.GET_JOB, (job_id,))
        return None if row is None else _job(row)

    async def open_jobs(self) -> list[JobRow]:
        return [_job(r) for r in await self._db.fetchall(q.OPEN_JOBS)]

    async def save_reply(
        self, job_id: int, *, message_id: int | None, token: str, expires_at: float
    ) -> None:
        await self._db.execute(
            q.SAVE_REPLY,
            {
                "id": job_id,
                "message_id": message_id,
                "token": token,
                "expires_at": expires_at,
                "now": now(),
            },
        )

    async def mark_posting(self, job_id: int, posting: Posting) -> bool:
        row = await self._db.fetchone(
            q.MARK_POSTING,
            {
                "id": job_id,
                "now": now(),
                "images": posting.images,
                "charged": posting.credits_charged,
                "api_credits": posting.api_credits,
                "usd": posting.usd,
                "enhanced": posting.enhanced_prompt,
            },
        )
        return row is not None

    async def job_reply(self, job_id: int) -> JobReply | None:
        row = await self._db.fetchone(q.GET_REPLY, {"id": job_id, "now": now()})
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
        return await self._db.execute(q.FORGET_EXPIRED_TOKENS, (now(),))

    async def recent_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        if guild_id is None:
            rows = await self._db.fetchall(q.RECENT_JOBS, (user_id, limit))
        else:
            rows = await self._db.fetchall(q.RECENT_JOBS_IN_GUILD, (user_id, guild_id, limit))
        return [_job(r) for r in rows]

    async def last_job_time(self, *, user_id: int, scope: str) -> float | None:
        row = await self._db.fetchone(q.LAST_JOB_TIME, (user_id, scope))
        return None if row is None or row["t"] is None else float(row["t"])


class SQLiteBudgets:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def usage(self, scope: str, day: str, user_id: int) -> Usage:
        row = await self._db.fetchone(q.USAGE, {"s": scope, "d": day, "u": user_id})
        assert row is not None
        return Usage(int(row["reserved"]), int(row["charged"]), int(row["grants"]))

    async def scope_usage(self, scope: str, day: str) -> int:
        row = await self._db.fetchone(q.SCOPE_USAGE, (scope, day))
        return 0 if row is None else int(row["used"])

    async def bot_spend(self, day: str) -> float:
        row = await self._db.fetchone(q.BOT_SPEND, (day,))
        return 0.0 if row is None else float(row["usd"])

    async def budget_rules(self, guild_id: int, user_id: int) -> BudgetRules:
        """The user override, role budgets, server default and cap: one round trip, because the
        ledger needs them all to explain a refusal."""
        row = await self._db.fetchone(q.BUDGET_RULES, {"g": guild_id, "u": user_id})
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
            await self._db.execute(q.DELETE_ROLE_BUDGET, (guild_id, role_id))
        else:
            await self._db.execute(q.SET_ROLE_BUDGET, (guild_id, role_id, credits))

    async def set_user_budget(self, guild_id: int, user_id: int, credits: int | None) -> None:
        if credits is None:
            await self._db.execute(q.DELETE_USER_BUDGET, (guild_id, user_id))
        else:
            await self._db.execute(q.SET_USER_BUDGET, (guild_id, user_id, credits))

    async def role_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._db.fetchall(q.ROLE_BUDGETS, (guild_id,))
        return {int(r["role_id"]): int(r["credits"]) for r in rows}

    async def user_budgets(self, guild_id: int) -> dict[int, int]:
        rows = await self._db.fetchall(q.USER_BUDGETS, (guild_id,))
        return {int(r["user_id"]): int(r["credits"]) for r in rows}

    async def add_grant(
        self, *, scope: str, day: str, user_id: int, credits: int, granted_by: int
    ) -> None:
        await self._db.execute(q.ADD_GRANT, (scope, day, user_id, credits, granted_by, now()))

    async def reset_usage(self, *, scope: str, day: str, user_id: int) -> int:
        """Forget a user's spent credits that day (credits still in flight stay reserved).
        Returns the credits forgiven, read and cleared by the same statement."""
        row = await self._db.fetchone(q.RESET_USAGE, (scope, day, user_id))
        return 0 if row is None else int(row["last_forgiven"])


class SQLiteGuilds:
    def __init__(self, db: Connection, rules: RulesCache) -> None:
        self._db = db
        self._rules = rules

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        rules = self._rules.get(guild_id)  # every interaction reads the server's language
        if rules is not None:
            return rules.settings
        return _settings(await self._db.fetchone(q.GUILD_SETTINGS, (guild_id,)), guild_id)

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
        with self._rules.writing(guild_id):
            row = await self._db.fetchone(
                q.upsert_guild_settings(columns), (guild_id, now(), *values)
            )
        return _settings(row, guild_id)


class SQLiteMembers:
    """A member's defaults in a server are part of its kept rules: every write drops them."""

    def __init__(self, db: Connection, rules: RulesCache) -> None:
        self._db = db
        self._rules = rules

    async def member_defaults(self, guild_id: int | None, user_id: int) -> MemberDefaults:
        row = await self._db.fetchone(q.MEMBER_DEFAULTS, (guild_id or PERSONAL, user_id))
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
        key = guild_id or PERSONAL
        with self._rules.writing(key):
            row = await self._db.fetchone(
                q.upsert_member_defaults(columns), (key, user_id, now(), *values)
            )
        return _member_defaults(row)

    async def reset_member_defaults(self, guild_id: int | None, user_id: int) -> bool:
        key = guild_id or PERSONAL
        with self._rules.writing(key):
            return await self._db.execute(q.RESET_MEMBER_DEFAULTS, (key, user_id)) == 1


class SQLiteModeration:
    def __init__(self, db: Connection, rules: RulesCache) -> None:
        self._db = db
        self._rules = rules

    async def _write_rules(self, guild_id: int, sql: str, params: tuple[object, ...]) -> int:
        with self._rules.writing(guild_id):
            return await self._db.execute(sql, params)

    async def allowed_channels(self, guild_id: int) -> list[int]:
        rows = await self._db.fetchall(q.ALLOWED_CHANNELS, (guild_id,))
        return [int(r["channel_id"]) for r in rows]

    async def allow_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self._write_rules(guild_id, q.ALLOW_CHANNEL, (guild_id, channel_id)) == 1

    async def remove_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self._write_rules(guild_id, q.REMOVE_CHANNEL, (guild_id, channel_id)) == 1

    async def ban(
        self,
        *,
        guild_id: int,
        user_id: int,
        reason: str | None,
        banned_by: int,
        expires_at: float | None,
    ) -> None:
        await self._write_rules(
            guild_id, q.BAN, (guild_id, user_id, reason, banned_by, now(), expires_at)
        )

    async def unban(self, guild_id: int, user_id: int) -> bool:
        return await self._write_rules(guild_id, q.UNBAN, (guild_id, user_id)) == 1

    async def active_ban(self, guild_id: int, user_id: int, at: float) -> BanRow | None:
        row = await self._db.fetchone(q.ACTIVE_BAN, (guild_id, user_id, at))
        return None if row is None else BanRow(**dict(row))

    async def active_bans(self, guild_id: int, at: float) -> list[BanRow]:
        return [BanRow(**dict(r)) for r in await self._db.fetchall(q.ACTIVE_BANS, (guild_id, at))]

    async def add_blocklist(
        self, *, guild_id: int, kind: str, pattern: str, added_by: int
    ) -> int | None:
        """The new entry's id, or None if the same entry exists."""
        row = await self._db.fetchone(q.ADD_BLOCKLIST, (guild_id, kind, pattern, added_by, now()))
        return None if row is None else int(row["id"])

    async def remove_blocklist(self, guild_id: int, kind: str, pattern: str) -> bool:
        return await self._db.execute(q.REMOVE_BLOCKLIST, (guild_id, kind, pattern)) == 1

    async def blocklist(self, guild_id: int) -> list[BlocklistRow]:
        return [BlocklistRow(**dict(r)) for r in await self._db.fetchall(q.BLOCKLIST, (guild_id,))]

    async def disabled_models(self, guild_id: int) -> set[str]:
        rows = await self._db.fetchall(q.DISABLED_MODELS, (guild_id,))
        return {str(r["model_id"]) for r in rows}

    async def set_model_enabled(self, guild_id: int, model_id: str, enabled: bool) -> bool:
        """Returns whether anything changed."""
        sql = q.ENABLE_MODEL if enabled else q.DISABLE_MODEL
        return await self._write_rules(guild_id, sql, (guild_id, model_id)) == 1


class SQLiteAudit:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def record(
        self, *, guild_id: int, actor_id: int, action: str, details: dict[str, Any]
    ) -> int:
        details_json = json.dumps(details, sort_keys=True, default=str)
        row = await self._db.fetchone(
            q.RECORD_AUDIT, (guild_id, actor_id, action, details_json, now())
        )
        assert row is not None
        return int(row["id"])

    async def rows(self, guild_id: int, limit: int = 50) -> list[AuditRow]:
        return [
            AuditRow(**dict(r)) for r in await self._db.fetchall(q.AUDIT_ROWS, (guild_id, limit))
        ]


class SQLiteReports:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def usage_summary(self, guild_id: int, since: float, *, top: int = 5) -> UsageSummary:
        """Totals, the ``top`` users by credits and every model used, for jobs created since."""
        params = {"g": guild_id, "since": since, "top": top}
        total = await self._db.fetchone(q.USAGE_TOTALS, params)
        assert total is not None
        users = await self._db.fetchall(q.USAGE_BY_USER, params)
        models = await self._db.fetchall(q.USAGE_BY_MODEL, params)
        return UsageSummary(
            totals=UsageTotals(
                jobs=int(total["jobs"]),
                failed=int(total["failed"]),
                images=int(total["images"]),
                credits=int(total["credits"]),
                usd=float(total["usd"]),
            ),
            top_users=[_usage_line(r) for r in users],
            models=[_usage_line(r) for r in models],
        )

    async def usage_rows(
        self, guild_id: int, since: float, *, limit: int = 50_000
    ) -> list[tuple[object, ...]]:
        """The jobs created since, oldest first, as tuples in ``USAGE_CSV_COLUMNS`` order."""
        rows = await self._db.fetchall(q.USAGE_ROWS, (guild_id, since, limit))
        return [tuple(r[c] for c in USAGE_CSV_COLUMNS) for r in rows]

    async def delivered_jobs(
        self, *, user_id: int, guild_id: int | None = None, limit: int = 10
    ) -> list[JobRow]:
        """A user's latest generations that reached a message (in one server, or anywhere)."""
        if guild_id is None:
            rows = await self._db.fetchall(q.DELIVERED_JOBS, (user_id, limit))
        else:
            rows = await self._db.fetchall(q.DELIVERED_JOBS_IN_GUILD, (user_id, guild_id, limit))
        return [_job(r) for r in rows]


class SQLiteRequests:
    """A server's rules are kept between requests; every write to them (settings, channels,
    models, bans) goes through ``RulesCache.writing``, which drops the server's copy."""

    def __init__(self, db: Connection, rules: RulesCache) -> None:
        self._db = db
        self._rules = rules

    async def request_context(self, guild_id: int, user_id: int, at: float) -> RequestContext:
        rules = self._rules.get(guild_id)
        if rules is None:
            epoch = self._rules.epoch
            rules = await self._read_rules(guild_id, at)
            self._rules.keep(guild_id, rules, epoch)
        return rules.context_for(user_id, at)

    async def _read_rules(self, guild_id: int, at: float) -> GuildRules:
        row = await self._db.fetchone(q.GUILD_RULES, {"g": guild_id, "at": at})
        assert row is not None
        return GuildRules.from_json(
            _settings(row, guild_id),
            channels=row["channels"],
            disabled=row["disabled"],
            bans=row["bans"],
            defaults=row["defaults"],
        )


class SQLiteCluster:
    def __init__(self, db: Connection) -> None:
        self._db = db

    async def register(self, process_id: str, member: str, lease_s: float) -> None:
        at = now()
        await self._db.execute(
            q.REGISTER_PROCESS,
            {"id": process_id, "member": member, "until": at + lease_s, "now": at},
        )

    async def renew(self, process_id: str, lease_s: float) -> bool:
        row = await self._db.fetchone(q.RENEW_LEASE, {"id": process_id, "until": now() + lease_s})
        return row is not None

    async def enrol(self, job_id: int, user_id: int, owner: str, max_per_user: int) -> bool:
        row = await self._db.fetchone(
            q.ENROL_JOB,
            {"job_id": job_id, "owner": owner, "user_id": user_id, "max_per_user": max_per_user},
        )
        return row is not None

    async def claim_slots(self, owner: str, max_slots: int) -> list[int]:
        rows = await self._db.fetchall(
            q.CLAIM_SLOTS, {"owner": owner, "max_slots": max_slots, "now": now()}
        )
        return [int(r["job_id"]) for r in rows]

    async def queue_positions(self, owner: str) -> dict[int, int]:
        rows = await self._db.fetchall(q.QUEUE_POSITIONS, {"owner": owner, "now": now()})
        return {int(r["job_id"]): int(r["position"]) for r in rows}

    async def release_slots(self, job_ids: list[int]) -> None:
        await self._db.execute(q.RELEASE_SLOTS, {"ids": json.dumps(job_ids)})

    async def orphaned_jobs(self, process_id: str, member: str, lease_s: float) -> list[JobRow]:
        at = now()
        rows = await self._db.fetchall(
            q.ORPHANED_JOBS, {"now": at, "me": process_id, "member": member, "stale": at - lease_s}
        )
        return [_job(r) for r in rows]

    async def forget_dead(self, process_id: str, member: str) -> None:
        params = {"now": now(), "me": process_id, "member": member}
        await self._db.execute(q.FORGET_DEAD[0], params)
        await self._db.execute(q.FORGET_DEAD[1])

    async def identify_turn(self, bucket: int, holder: str, window_s: float) -> float:
        at = now()
        row = await self._db.fetchone(
            q.TAKE_IDENTIFY_TURN,
            {"bucket": bucket, "holder": holder, "until": at + window_s, "now": at},
        )
        if row is not None:
            return 0.0
        ends = await self._db.fetchone(q.IDENTIFY_TURN_ENDS, (bucket,))
        return max(0.0, float(ends["until"]) - at) if ends is not None else 0.0
