"""Every change a server's admins can make, and what they read back, in one place.

Each change makes the write, drops the cache the write made stale, and records the audit row
(``_recorded``), so no command can forget one of the three. The cogs parse Discord input and
render the result; nothing here knows Discord: ids and values in, rows and results out.

The server's rules (settings, channels, models, bans) are cached by the storage layer, which
drops its copy in the same step as every write to them; the compiled blocklist is cached by the
policy, and is dropped here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot import i18n, texts
from bot.audit import AuditEntry, channel_ref, record, user_ref
from bot.catalogue import MAX_IMAGES, PERSON_GENERATION, SAFETY_SETTINGS, get_model
from bot.errors import UserInputError
from bot.ledger import Ledger, Quota, checked_credits, guild_scope, personal_scope
from bot.moderation import format_duration, sanitize_for_display, validate_timezone
from bot.policy import Policy
from bot.storage import (
    USAGE_CSV_COLUMNS,
    BanRow,
    BlocklistRow,
    Database,
    GuildSettings,
    JobRow,
    UsageSummary,
)
from bot.usage_chart import ChartLabels, daily_usage, render_png, rows_as_mappings

MAX_COOLDOWN_S = 86_400
MAX_USAGE_DAYS = 365
HISTORY_LENGTH = 10

# The settings `/imagine-admin config set` changes or resets, in the order it checks them.
SETTINGS: tuple[str, ...] = (
    "default_model",
    "enhance_prompt",
    "safety_setting",
    "person_generation",
    "add_watermark",
    "max_images",
    "timezone",
    "cooldown_seconds",
    "allow_private",
    "language",
)
# The language choice that stores no language: each member reads their own.
FOLLOW_MEMBERS = "member"


@dataclass(frozen=True, slots=True)
class ConfigChange:
    entry: AuditEntry
    settings: GuildSettings


@dataclass(frozen=True, slots=True)
class ChannelChange:
    """``listed`` is how many channels are allowed after the change (0: every channel)."""

    entry: AuditEntry | None
    listed: int


@dataclass(frozen=True, slots=True)
class BanChange:
    entry: AuditEntry
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class LogChannelChange:
    entry: AuditEntry
    previous: int | None


@dataclass(frozen=True, slots=True)
class SpendingChange:
    """A grant or a reset of today's spending: the budget day it applies to."""

    entry: AuditEntry
    day: str
    credits: int


@dataclass(frozen=True, slots=True)
class Overview:
    """What `/imagine-admin config show` shows besides the settings themselves."""

    settings: GuildSettings
    allowed_channels: list[int]
    disabled_models: set[str]
    blocklist_size: int
    active_bans: int


@dataclass(frozen=True, slots=True)
class Budgets:
    settings: GuildSettings
    roles: dict[int, int]
    users: dict[int, int]


class AdminService:
    def __init__(
        self,
        db: Database,
        policy: Policy,
        ledger: Ledger,
        *,
        default_model: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._policy = policy
        self._ledger = ledger
        self._default_model = default_model
        self._clock = clock

    async def _recorded(
        self,
        guild_id: int,
        actor_id: int,
        action: str,
        details: dict[str, object],
        *,
        blocklist: bool = False,
    ) -> AuditEntry:
        """The end of every change, once its write is done: drop what it made stale, record it."""
        if blocklist:
            self._policy.forget_blocklist(guild_id)
        return await record(
            self._db, guild_id=guild_id, actor_id=actor_id, action=action, details=details
        )

    # -- settings -------------------------------------------------------------------------------

    async def settings(self, guild_id: int) -> GuildSettings:
        return await self._db.guilds.guild_settings(guild_id)

    async def overview(self, guild_id: int) -> Overview:
        return Overview(
            settings=await self._db.guilds.guild_settings(guild_id),
            allowed_channels=await self._db.moderation.allowed_channels(guild_id),
            disabled_models=await self._db.moderation.disabled_models(guild_id),
            blocklist_size=len(await self._db.moderation.blocklist(guild_id)),
            active_bans=len(await self._db.moderation.active_bans(guild_id, self._clock())),
        )

    async def set_config(
        self,
        guild_id: int,
        actor_id: int,
        changes: Mapping[str, object],
        *,
        reset: str | None = None,
    ) -> ConfigChange:
        """Set some settings and reset at most one, in one write; raises UserInputError saying
        what is wrong before anything changes."""
        unknown = set(changes) - set(SETTINGS)
        if unknown:
            raise ValueError(f"not server settings: {sorted(unknown)}")
        checked: dict[str, object] = {}
        for name in SETTINGS:
            if name in changes:
                checked[name] = await self._checked_setting(guild_id, name, changes[name])
        if reset is not None:
            if reset not in SETTINGS:
                raise UserInputError(texts.ADMIN_CONFIG_BAD_RESET(names=", ".join(SETTINGS)))
            if reset in checked:
                raise UserInputError(texts.ADMIN_CONFIG_SET_AND_RESET(setting=reset))
            checked[reset] = None
        if not checked:
            raise UserInputError(texts.ADMIN_CONFIG_NOTHING())
        settings = await self._db.guilds.update_guild_settings(guild_id, **checked)
        entry = await self._recorded(guild_id, actor_id, "config set", dict(checked))
        return ConfigChange(entry, settings)

    async def reset_config(self, guild_id: int, actor_id: int, setting: str) -> ConfigChange:
        return await self.set_config(guild_id, actor_id, {}, reset=setting)

    async def _checked_setting(self, guild_id: int, name: str, value: object) -> object:
        if name == "default_model":
            model = get_model(str(value))
            if model is None:
                raise UserInputError(
                    texts.UNKNOWN_MODEL(model=sanitize_for_display(str(value), 60))
                )
            if model.deprecated:
                raise UserInputError(texts.ADMIN_CONFIG_DEPRECATED(model=model.name))
            if model.id in await self._db.moderation.disabled_models(guild_id):
                raise UserInputError(texts.ADMIN_CONFIG_MODEL_OFF(model=model.name))
            return model.id
        if name == "safety_setting" and value not in SAFETY_SETTINGS:
            raise UserInputError(
                texts.ADMIN_CONFIG_ONE_OF(setting=name, choices=", ".join(SAFETY_SETTINGS))
            )
        if name == "person_generation" and value not in PERSON_GENERATION:
            raise UserInputError(
                texts.ADMIN_CONFIG_ONE_OF(setting=name, choices=", ".join(PERSON_GENERATION))
            )
        if name == "max_images" and not (isinstance(value, int) and 1 <= value <= MAX_IMAGES):
            raise UserInputError(texts.ADMIN_CONFIG_MAX_IMAGES_RANGE(most=MAX_IMAGES))
        if name == "cooldown_seconds" and not (
            isinstance(value, int) and 0 <= value <= MAX_COOLDOWN_S
        ):
            raise UserInputError(texts.ADMIN_CONFIG_COOLDOWN_RANGE(most=MAX_COOLDOWN_S))
        if name == "timezone":
            return validate_timezone(str(value))
        if name == "language":
            languages = (i18n.SOURCE, *i18n.LANGUAGES)
            if value == FOLLOW_MEMBERS:
                return None
            if value not in languages:
                raise UserInputError(
                    texts.ADMIN_CONFIG_ONE_OF(setting=name, choices=", ".join(languages))
                )
        return value

    # -- models ---------------------------------------------------------------------------------

    async def disabled_models(self, guild_id: int) -> set[str]:
        return await self._db.moderation.disabled_models(guild_id)

    async def enable_model(self, guild_id: int, actor_id: int, model_id: str) -> AuditEntry | None:
        """None if the model was on already."""
        if not await self._db.moderation.set_model_enabled(guild_id, model_id, True):
            return None
        return await self._recorded(guild_id, actor_id, "model enable", {"model": model_id})

    async def disable_model(self, guild_id: int, actor_id: int, model_id: str) -> AuditEntry | None:
        """None if the model was off already; the server's default model can't be turned off."""
        settings = await self._db.guilds.guild_settings(guild_id)
        if model_id == (settings.default_model or self._default_model):
            model = get_model(model_id)
            name = model.name if model is not None else model_id
            raise UserInputError(texts.ADMIN_MODEL_IS_DEFAULT(model=name))
        if not await self._db.moderation.set_model_enabled(guild_id, model_id, False):
            return None
        return await self._recorded(guild_id, actor_id, "model disable", {"model": model_id})

    # -- channels -------------------------------------------------------------------------------

    async def allowed_channels(self, guild_id: int) -> list[int]:
        return await self._db.moderation.allowed_channels(guild_id)

    async def allow_channel(self, guild_id: int, actor_id: int, channel_id: int) -> ChannelChange:
        return await self._change_channel(guild_id, actor_id, channel_id, allow=True)

    async def remove_channel(self, guild_id: int, actor_id: int, channel_id: int) -> ChannelChange:
        return await self._change_channel(guild_id, actor_id, channel_id, allow=False)

    async def _change_channel(
        self, guild_id: int, actor_id: int, channel_id: int, *, allow: bool
    ) -> ChannelChange:
        if allow:
            changed = await self._db.moderation.allow_channel(guild_id, channel_id)
        else:
            changed = await self._db.moderation.remove_channel(guild_id, channel_id)
        listed = len(await self._db.moderation.allowed_channels(guild_id))
        if not changed:
            return ChannelChange(None, listed)
        action = "channel allow" if allow else "channel remove"
        details: dict[str, object] = {"channel": channel_ref(channel_id)}
        return ChannelChange(await self._recorded(guild_id, actor_id, action, details), listed)

    # -- bans -----------------------------------------------------------------------------------

    async def bans(self, guild_id: int) -> list[BanRow]:
        return await self._db.moderation.active_bans(guild_id, self._clock())

    async def ban(
        self,
        guild_id: int,
        actor_id: int,
        user_id: int,
        *,
        length: dt.timedelta | None,
        reason: str | None,
    ) -> BanChange:
        """Ban for ``length`` (None: until unbanned); a new ban replaces an old one."""
        expires_at = self._clock() + length.total_seconds() if length is not None else None
        await self._db.moderation.ban(
            guild_id=guild_id,
            user_id=user_id,
            reason=(reason.strip() or None) if reason else None,
            banned_by=actor_id,
            expires_at=expires_at,
        )
        details: dict[str, object] = {
            "user": user_ref(user_id),
            "duration": (
                format_duration(length) if length is not None else texts.ADMIN_BAN_UNTIL_UNBANNED()
            ),
            "reason": reason,
        }
        return BanChange(await self._recorded(guild_id, actor_id, "ban", details), expires_at)

    async def unban(self, guild_id: int, actor_id: int, user_id: int) -> AuditEntry | None:
        """None if the member wasn't banned."""
        if not await self._db.moderation.unban(guild_id, user_id):
            return None
        return await self._recorded(guild_id, actor_id, "unban", {"user": user_ref(user_id)})

    # -- blocklist ------------------------------------------------------------------------------

    async def blocklist(self, guild_id: int) -> list[BlocklistRow]:
        return await self._db.moderation.blocklist(guild_id)

    async def add_blocklist(
        self, guild_id: int, actor_id: int, kind: str, pattern: str
    ) -> AuditEntry | None:
        """None if the entry is on the list already. Raises UserInputError saying what is wrong
        (list full, bad or slow pattern); the probes run off the loop, in the server's turn."""
        pattern = pattern.strip() if kind == "word" else pattern
        await self._policy.new_entry(guild_id, kind, pattern)
        added = await self._db.moderation.add_blocklist(
            guild_id=guild_id, kind=kind, pattern=pattern, added_by=actor_id
        )
        if added is None:
            return None
        details: dict[str, object] = {"kind": kind, "pattern": pattern}
        return await self._recorded(guild_id, actor_id, "blocklist add", details, blocklist=True)

    async def remove_blocklist(
        self, guild_id: int, actor_id: int, pattern: str, kind: str | None = None
    ) -> AuditEntry | None:
        """Remove the entry as given or trimmed, of ``kind`` or of either; None if not listed."""
        kinds = [kind] if kind in ("word", "regex") else ["word", "regex"]
        removed: list[str] = []
        for k in kinds:
            for candidate in dict.fromkeys((pattern, pattern.strip())):
                if await self._db.moderation.remove_blocklist(guild_id, k, candidate):
                    removed.append(k)
        if not removed:
            return None
        details: dict[str, object] = {"kind": removed[0], "pattern": pattern}
        return await self._recorded(guild_id, actor_id, "blocklist remove", details, blocklist=True)

    # -- the log channel ------------------------------------------------------------------------

    async def log_channel(self, guild_id: int) -> int | None:
        return (await self._db.guilds.guild_settings(guild_id)).log_channel_id

    async def set_log_channel(
        self, guild_id: int, actor_id: int, channel_id: int
    ) -> LogChannelChange:
        previous = await self.log_channel(guild_id)
        await self._db.guilds.update_guild_settings(guild_id, log_channel_id=channel_id)
        details: dict[str, object] = {"channel": channel_ref(channel_id)}
        entry = await self._recorded(guild_id, actor_id, "logchannel set", details)
        return LogChannelChange(entry, previous)

    async def clear_log_channel(self, guild_id: int, actor_id: int) -> LogChannelChange | None:
        """None if no log channel was set."""
        previous = await self.log_channel(guild_id)
        if previous is None:
            return None
        await self._db.guilds.update_guild_settings(guild_id, log_channel_id=None)
        entry = await self._recorded(guild_id, actor_id, "logchannel clear", {})
        return LogChannelChange(entry, previous)

    # -- usage and history ----------------------------------------------------------------------

    def usage_since(self, days: int) -> float:
        """When a report of the last ``days`` days starts; checked before the command defers."""
        if not 1 <= days <= MAX_USAGE_DAYS:
            raise UserInputError(texts.ADMIN_USAGE_DAYS_RANGE(most=MAX_USAGE_DAYS))
        return self._clock() - days * 86_400

    async def usage(
        self, guild_id: int, since: float
    ) -> tuple[UsageSummary, list[tuple[object, ...]]]:
        """The summary and the jobs (``USAGE_CSV_COLUMNS``) since ``since``."""
        return (
            await self._db.reports.usage_summary(guild_id, since),
            await self._db.reports.usage_rows(guild_id, since),
        )

    async def usage_chart(
        self, guild_id: int, since: float, days: int, rows: Sequence[tuple[object, ...]]
    ) -> bytes:
        """The PNG beside the CSV: ``rows``' credits and spend per day of the server's calendar."""
        zone = (await self._db.guilds.guild_settings(guild_id)).timezone or "UTC"
        first = dt.datetime.fromtimestamp(since, ZoneInfo(zone)).date()
        last = dt.datetime.fromtimestamp(self._clock(), ZoneInfo(zone)).date()
        usage = daily_usage(
            rows_as_mappings(rows, USAGE_CSV_COLUMNS),
            first_day=first,
            days=(last - first).days + 1,
            timezone=zone,
        )
        with texts.speaking(i18n.drawable()):
            labels = ChartLabels(
                title=texts.ADMIN_USAGE_TITLE(count=days),
                credits=texts.ADMIN_USAGE_CHART_CREDITS(),
                usd=texts.ADMIN_USAGE_CHART_USD(),
            )
        return await asyncio.to_thread(render_png, usage, labels)

    async def history(self, guild_id: int, user_id: int) -> list[JobRow]:
        return await self._db.jobs.recent_jobs(
            user_id=user_id, guild_id=guild_id, limit=HISTORY_LENGTH
        )

    async def job(self, job_id: int) -> JobRow | None:
        return await self._db.jobs.get_job(job_id)

    # -- budgets --------------------------------------------------------------------------------

    async def budgets(self, guild_id: int) -> Budgets:
        return Budgets(
            settings=await self._db.guilds.guild_settings(guild_id),
            roles=await self._db.budgets.role_budgets(guild_id),
            users=await self._db.budgets.user_budgets(guild_id),
        )

    async def quota(self, guild_id: int | None, user_id: int, role_ids: Iterable[int]) -> Quota:
        """A member's credits today: in a server that installed the bot (``guild_id``) by its
        budgets and timezone, elsewhere (None) by their personal budget."""
        if guild_id is None:
            scope = personal_scope(user_id)
        else:
            scope = guild_scope(guild_id, (await self._db.guilds.guild_settings(guild_id)).timezone)
        return await self._ledger.quota(scope, user_id, role_ids)

    async def set_default_budget(
        self, guild_id: int, actor_id: int, credits: int | None
    ) -> AuditEntry:
        """Credits a member gets a day without a role or user budget; None: the bot's default."""
        if credits is not None:
            checked_credits(credits)
        await self._db.guilds.update_guild_settings(guild_id, daily_credits=credits)
        return await self._recorded(guild_id, actor_id, "budget default", {"credits": credits})

    async def set_role_budget(
        self, guild_id: int, actor_id: int, role_id: int, credits: int | None
    ) -> AuditEntry:
        if credits is not None:
            checked_credits(credits)
        await self._db.budgets.set_role_budget(guild_id, role_id, credits)
        details: dict[str, object] = {"role_id": role_id, "credits": credits}
        return await self._recorded(guild_id, actor_id, "budget role", details)

    async def set_user_budget(
        self, guild_id: int, actor_id: int, user_id: int, credits: int | None
    ) -> AuditEntry:
        if credits is not None:
            checked_credits(credits)
        await self._db.budgets.set_user_budget(guild_id, user_id, credits)
        details: dict[str, object] = {"user_id": user_id, "credits": credits}
        return await self._recorded(guild_id, actor_id, "budget user", details)

    async def set_server_cap(self, guild_id: int, actor_id: int, credits: int | None) -> AuditEntry:
        if credits is not None:
            checked_credits(credits)
        await self._db.guilds.update_guild_settings(guild_id, server_cap=credits)
        return await self._recorded(guild_id, actor_id, "budget server-cap", {"credits": credits})

    async def _budget_day(self, guild_id: int) -> tuple[str, str]:
        """The server's budget scope key and today in its timezone."""
        scope = guild_scope(guild_id, (await self._db.guilds.guild_settings(guild_id)).timezone)
        day, _ = self._ledger.days(scope)
        return scope.key, day

    async def grant(
        self, guild_id: int, actor_id: int, user_id: int, credits: int
    ) -> SpendingChange:
        """Extra credits for a member, today only."""
        checked_credits(credits, minimum=1)
        scope, day = await self._budget_day(guild_id)
        await self._db.budgets.add_grant(
            scope=scope, day=day, user_id=user_id, credits=credits, granted_by=actor_id
        )
        details: dict[str, object] = {
            "user_id": user_id,
            "credits": credits,
            "day": day,
            "guild_id": guild_id,
        }
        entry = await self._recorded(guild_id, actor_id, "budget grant", details)
        return SpendingChange(entry, day, credits)

    async def reset_spending(self, guild_id: int, actor_id: int, user_id: int) -> SpendingChange:
        """Forget what a member spent today; ``credits`` is how much was forgiven."""
        scope, day = await self._budget_day(guild_id)
        forgiven = await self._db.budgets.reset_usage(scope=scope, day=day, user_id=user_id)
        details: dict[str, object] = {"user_id": user_id, "forgiven": forgiven, "day": day}
        entry = await self._recorded(guild_id, actor_id, "budget reset", details)
        return SpendingChange(entry, day, forgiven)
