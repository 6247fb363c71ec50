"""The values storage hands in and out, the same whatever database sits behind it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Protocol


class StorageError(Exception):
    """The database cannot be opened or written; the message says what to check."""


OPEN_STATES = ("queued", "running")
TERMINAL_STATES = ("done", "failed", "cancelled", "interrupted")


class Keyed(Protocol):
    """A row by column name: a backend's row type, or a JSON object."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job about to be inserted; inserting it reserves ``credits`` atomically."""

    guild_id: int | None
    channel_id: int | None
    user_id: int
    scope: str
    budget_day: str
    bot_day: str
    model: str
    prompt: str
    negative_prompt: str | None
    aspect_ratio: str | None
    count: int
    seed: int | None
    params_json: str
    credits: int
    usd_estimate: float
    parent_job_id: int | None = None
    spoiler: bool | None = None


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """The limits the reserving statement enforces.

    With ``guild_id`` set, the statement itself looks up that server's rules for the member
    (user override, else the highest budget among ``role_ids``, else the server default) and its
    cap, falling back to ``base_limit`` and ``server_cap``: one round trip, and no admin change can
    slip between reading a limit and reserving against it.
    """

    base_limit: int
    server_cap: int | None
    usd_cap: float | None
    guild_id: int | None = None
    role_ids: tuple[int, ...] = ()
    # The server's cooldown: no job of the member in the scope created after this time (jobs the
    # bot itself refused or cut off start none). Checked by the same statement, so two requests
    # sent at once cannot both pass it.
    cooldown_since: float | None = None


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    guild_id: int | None
    channel_id: int | None
    user_id: int
    scope: str
    budget_day: str
    bot_day: str
    model: str
    prompt: str
    negative_prompt: str | None
    aspect_ratio: str | None
    count: int
    seed: int | None
    params_json: str
    enhanced_prompt: str | None
    state: str
    credits_reserved: int
    credits_charged: int
    api_credits: float | None
    usd: float | None
    usd_reserved: float
    images_delivered: int
    error_class: str | None
    error_detail: str | None
    message_id: int | None
    parent_job_id: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    spoiler: int | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(JobRow))


@dataclass(frozen=True, slots=True)
class Posting:
    """What a job's completion will record, written just before its result is posted: a restart
    that finds the result on Discord settles the job with it."""

    images: int
    credits_charged: int
    api_credits: float | None = None
    usd: float | None = None
    enhanced_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class JobReply:
    """Where an open job's reply is on Discord: the original response's id, the interaction's
    token while it is still valid (else None), and the posting record once posting began."""

    job_id: int
    message_id: int | None
    token: str | None = field(repr=False)  # a credential: kept out of every repr and log
    posting: Posting | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    reserved: int
    charged: int
    grants: int

    @property
    def used(self) -> int:
        return self.reserved + self.charged


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's settings; ``None`` means the bot-wide default applies."""

    guild_id: int
    default_model: str | None = None
    enhance_prompt: bool | None = None
    safety_setting: str | None = None
    person_generation: str | None = None
    add_watermark: bool | None = None
    max_images: int | None = None
    timezone: str = "UTC"
    cooldown_seconds: int = 0
    log_channel_id: int | None = None
    daily_credits: int | None = None
    server_cap: int | None = None
    allow_private: bool | None = None
    # The language everyone in the server reads (a catalogue code); None: each member's own.
    language: str | None = None


GUILD_SETTING_COLUMNS: tuple[str, ...] = (
    "default_model",
    "enhance_prompt",
    "safety_setting",
    "person_generation",
    "add_watermark",
    "max_images",
    "timezone",
    "cooldown_seconds",
    "log_channel_id",
    "daily_credits",
    "server_cap",
    "allow_private",
    "language",
)


@dataclass(frozen=True, slots=True)
class MemberDefaults:
    """A member's own defaults for /imagine in one server (or their personal ones); ``None``
    means "not chosen": the server's default applies."""

    model: str | None = None
    aspect_ratio: str | None = None
    count: int | None = None
    enhance_prompt: bool | None = None
    private: bool | None = None

    @classmethod
    def from_mapping(cls, row: Keyed) -> MemberDefaults:
        """From a row or a JSON object; a database without a boolean type stores 0 and 1."""
        values: dict[str, Any] = {
            c: bool(row[c]) if c in _MEMBER_BOOLS and row[c] is not None else row[c]
            for c in MEMBER_DEFAULT_COLUMNS
        }
        return cls(**values)


MEMBER_DEFAULT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(MemberDefaults))
_MEMBER_BOOLS = frozenset({"enhance_prompt", "private"})
NO_DEFAULTS = MemberDefaults()


@dataclass(frozen=True, slots=True)
class BudgetRules:
    """Everything that sets a member's daily limit in one server, read in one statement."""

    user_credits: int | None
    role_credits: dict[int, int]
    daily_credits: int | None
    server_cap: int | None


@dataclass(frozen=True, slots=True)
class BanRow:
    guild_id: int
    user_id: int
    reason: str | None
    banned_by: int
    created_at: float
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class BlocklistRow:
    id: int
    kind: str
    pattern: str
    added_by: int
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    guild_id: int
    actor_id: int
    action: str
    details_json: str
    created_at: float


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """What a server's members generated in a window: delivered images and what they cost."""

    jobs: int
    failed: int
    images: int
    credits: int
    usd: float


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One user's or one model's share of a window (``key`` is the user id or model id)."""

    key: str
    jobs: int
    images: int
    credits: int
    usd: float


@dataclass(frozen=True, slots=True)
class UsageSummary:
    totals: UsageTotals
    top_users: list[UsageLine]
    models: list[UsageLine]


USAGE_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "user_id",
    "channel_id",
    "model",
    "state",
    "count",
    "images_delivered",
    "credits_charged",
    "api_credits",
    "usd",
    "error_class",
    "message_id",
    "prompt",
)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Everything the checks of one request need from its server: they all run before Discord's
    3-second acknowledgement deadline."""

    settings: GuildSettings
    allowed_channels: frozenset[int]
    disabled_models: frozenset[str]
    ban: BanRow | None
    defaults: MemberDefaults  # the member's own defaults in this server (/settings)


@dataclass(frozen=True, slots=True)
class GuildRules:
    """A server's side of every request, read in one statement and kept until a write to it:
    settings, allowed channels, disabled models, the bans not yet expired when read, and the
    members' own defaults (every member's where the backend keeps the rules, else the one
    member's it read them for)."""

    settings: GuildSettings
    allowed_channels: frozenset[int]
    disabled_models: frozenset[str]
    bans: dict[int, BanRow]
    defaults: dict[int, MemberDefaults]

    @classmethod
    def from_json(
        cls,
        settings: GuildSettings,
        *,
        channels: str | None,
        disabled: str | None,
        bans: str | None,
        defaults: str | None,
    ) -> GuildRules:
        """From the one statement each backend reads them with: the lists come as JSON arrays
        (``None`` where the database aggregated no rows)."""
        guild_id = settings.guild_id
        ban_rows = [BanRow(guild_id=guild_id, **b) for b in json.loads(bans or "[]")]
        member_rows = json.loads(defaults or "[]")
        return cls(
            settings=settings,
            allowed_channels=frozenset(int(c) for c in json.loads(channels or "[]")),
            disabled_models=frozenset(str(m) for m in json.loads(disabled or "[]")),
            bans={b.user_id: b for b in ban_rows},
            defaults={int(m["user_id"]): MemberDefaults.from_mapping(m) for m in member_rows},
        )

    def context_for(self, user_id: int, at: float) -> RequestContext:
        """One member's view at ``at``: a ban kept since the read may have expired."""
        ban = self.bans.get(user_id)
        if ban is not None and ban.expires_at is not None and ban.expires_at <= at:
            ban = None
        return RequestContext(
            settings=self.settings,
            allowed_channels=self.allowed_channels,
            disabled_models=self.disabled_models,
            ban=ban,
            defaults=self.defaults.get(user_id, NO_DEFAULTS),
        )
