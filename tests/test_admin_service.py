"""The core admin service over a real SQLite file, without Discord.

Every change is checked the same way: read the server's rules through the path a request takes
(the policy, the ledger) so any cache is warm, make the change through the service, then read
again. The second read must see the change (the cache was dropped) and exactly one audit row must
have been written for it.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.admin import AdminService
from bot.errors import RefusedError, UserInputError
from bot.ledger import Ledger, guild_scope
from bot.policy import Policy
from bot.storage import Database
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import ROOT, Clock, new_job

GUILD = 10
OTHER_GUILD = 11
ADMIN = 20
MEMBER = 30
ROLE = 40
CHANNEL = 50
FAST = "google/imagen-4.0-fast-generate-001"
ULTRA = "google/imagen-4.0-ultra-generate-001"
DEFAULT_CREDITS = 10


@dataclass
class Core:
    db: Database
    policy: Policy
    ledger: Ledger
    admin: AdminService


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    clock = Clock(dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC).timestamp())
    async with await SQLiteDatabase.open(tmp_path / "admin.sqlite3") as db:
        policy = Policy(db, clock=clock)
        ledger = Ledger(db, default_daily_credits=DEFAULT_CREDITS, usd_cap=None, clock=clock)
        admin = AdminService(db, policy, ledger, default_model=FAST, clock=clock)
        yield Core(db, policy, ledger, admin)


# -- what a request sees ------------------------------------------------------------------------


async def rules(core: Core) -> object:
    """The server's side of a request as the checks before the defer read it."""
    ctx = await core.policy.context(GUILD, MEMBER)
    assert ctx is not None
    return (
        ctx.settings.cooldown_seconds,
        ctx.settings.log_channel_id,
        sorted(ctx.allowed_channels),
        sorted(ctx.disabled_models),
        ctx.ban is not None,
    )


async def prompt_check(core: Core) -> str:
    try:
        await core.policy.check_text(GUILD, ["a teapot on a table"])
    except RefusedError:
        return "refused"
    return "allowed"


async def quota(core: Core) -> object:
    q = await core.ledger.quota(guild_scope(GUILD, "UTC"), MEMBER, (ROLE,))
    return (q.limit.base, q.total, q.usage.used, q.server_cap)


# -- state before the change (written straight to storage), the change, and the read ------------


async def nothing(core: Core) -> None:
    return None


async def cooldown_set(core: Core) -> None:
    await core.db.guilds.update_guild_settings(GUILD, cooldown_seconds=30)


async def ultra_off(core: Core) -> None:
    await core.db.moderation.set_model_enabled(GUILD, ULTRA, False)


async def channel_listed(core: Core) -> None:
    await core.db.moderation.allow_channel(GUILD, CHANNEL)


async def member_banned(core: Core) -> None:
    await core.db.moderation.ban(
        guild_id=GUILD, user_id=MEMBER, reason=None, banned_by=ADMIN, expires_at=None
    )


async def teapot_listed(core: Core) -> None:
    await core.db.moderation.add_blocklist(
        guild_id=GUILD, kind="word", pattern="teapot", added_by=ADMIN
    )


async def log_channel_set(core: Core) -> None:
    await core.db.guilds.update_guild_settings(GUILD, log_channel_id=CHANNEL)


async def one_credit_spent(core: Core) -> None:
    scope = guild_scope(GUILD, "UTC")
    job = new_job(core.ledger, scope, user=MEMBER)
    job_id = await core.ledger.reserve(scope, (ROLE,), job)
    await core.db.jobs.finish_job(job_id, state="done", credits_charged=1, images_delivered=1)


@dataclass(frozen=True)
class Case:
    action: str
    before: Callable[[Core], Awaitable[None]]
    change: Callable[[AdminService], Awaitable[object]]
    read: Callable[[Core], Awaitable[object]]


CASES = {
    "config set": Case(
        "config set",
        nothing,
        lambda a: a.set_config(GUILD, ADMIN, {"cooldown_seconds": 45}),
        rules,
    ),
    "config reset": Case(
        "config set",
        cooldown_set,
        lambda a: a.reset_config(GUILD, ADMIN, "cooldown_seconds"),
        rules,
    ),
    "model disable": Case(
        "model disable", nothing, lambda a: a.disable_model(GUILD, ADMIN, ULTRA), rules
    ),
    "model enable": Case(
        "model enable", ultra_off, lambda a: a.enable_model(GUILD, ADMIN, ULTRA), rules
    ),
    "channel allow": Case(
        "channel allow", nothing, lambda a: a.allow_channel(GUILD, ADMIN, CHANNEL), rules
    ),
    "channel remove": Case(
        "channel remove", channel_listed, lambda a: a.remove_channel(GUILD, ADMIN, CHANNEL), rules
    ),
    "ban": Case(
        "ban", nothing, lambda a: a.ban(GUILD, ADMIN, MEMBER, length=None, reason="spam"), rules
    ),
    "timed ban": Case(
        "ban",
        nothing,
        lambda a: a.ban(GUILD, ADMIN, MEMBER, length=dt.timedelta(hours=2), reason=None),
        rules,
    ),
    "unban": Case("unban", member_banned, lambda a: a.unban(GUILD, ADMIN, MEMBER), rules),
    "blocklist add": Case(
        "blocklist add",
        nothing,
        lambda a: a.add_blocklist(GUILD, ADMIN, "word", " teapot "),
        prompt_check,
    ),
    "blocklist add regex": Case(
        "blocklist add",
        nothing,
        lambda a: a.add_blocklist(GUILD, ADMIN, "regex", r"tea\s*pots?"),
        prompt_check,
    ),
    "blocklist remove": Case(
        "blocklist remove",
        teapot_listed,
        lambda a: a.remove_blocklist(GUILD, ADMIN, "teapot"),
        prompt_check,
    ),
    "logchannel set": Case(
        "logchannel set", nothing, lambda a: a.set_log_channel(GUILD, ADMIN, CHANNEL), rules
    ),
    "logchannel clear": Case(
        "logchannel clear", log_channel_set, lambda a: a.clear_log_channel(GUILD, ADMIN), rules
    ),
    "budget default": Case(
        "budget default", nothing, lambda a: a.set_default_budget(GUILD, ADMIN, 25), quota
    ),
    "budget role": Case(
        "budget role", nothing, lambda a: a.set_role_budget(GUILD, ADMIN, ROLE, 40), quota
    ),
    "budget user": Case(
        "budget user", nothing, lambda a: a.set_user_budget(GUILD, ADMIN, MEMBER, 3), quota
    ),
    "budget grant": Case(
        "budget grant", nothing, lambda a: a.grant(GUILD, ADMIN, MEMBER, 5), quota
    ),
    "budget reset": Case(
        "budget reset", one_credit_spent, lambda a: a.reset_spending(GUILD, ADMIN, MEMBER), quota
    ),
    "budget server-cap": Case(
        "budget server-cap", nothing, lambda a: a.set_server_cap(GUILD, ADMIN, 50), quota
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_a_change_is_seen_by_the_next_request_and_audited_once(core: Core, name: str) -> None:
    case = CASES[name]
    await case.before(core)
    seen_before = await case.read(core)  # warms whatever the request path caches
    assert await case.read(core) == seen_before
    await case.change(core.admin)
    assert await case.read(core) != seen_before, "the next request still sees the old rules"
    rows = await core.db.audit.rows(GUILD)
    assert [(r.action, r.actor_id) for r in rows] == [(case.action, ADMIN)]
    assert await core.db.audit.rows(OTHER_GUILD) == []


async def test_what_the_audit_rows_record(core: Core) -> None:
    admin = core.admin
    await admin.set_config(GUILD, ADMIN, {"max_images": 2, "timezone": "europe/paris"})
    await admin.reset_config(GUILD, ADMIN, "max_images")
    await admin.ban(GUILD, ADMIN, MEMBER, length=dt.timedelta(hours=2), reason="  spam ")
    await admin.add_blocklist(GUILD, ADMIN, "word", " teapot ")
    await admin.grant(GUILD, ADMIN, MEMBER, 5)
    details = [json.loads(r.details_json) for r in reversed(await core.db.audit.rows(GUILD))]
    assert details == [
        {"max_images": 2, "timezone": "Europe/Paris"},
        {"max_images": None},
        {"user": f"<@{MEMBER}>", "duration": "2h", "reason": "  spam "},
        {"kind": "word", "pattern": "teapot"},
        {"user_id": MEMBER, "credits": 5, "day": "2026-11-21", "guild_id": GUILD},
    ]
    ban = await core.db.moderation.active_ban(GUILD, MEMBER, core.ledger.now())
    assert ban is not None and ban.reason == "spam"
    assert ban.expires_at == core.ledger.now() + 7200


async def test_nothing_to_change_records_nothing(core: Core) -> None:
    admin = core.admin
    await teapot_listed(core)
    assert await admin.enable_model(GUILD, ADMIN, ULTRA) is None
    assert await admin.unban(GUILD, ADMIN, MEMBER) is None
    assert (await admin.remove_channel(GUILD, ADMIN, CHANNEL)).entry is None
    assert await admin.add_blocklist(GUILD, ADMIN, "word", "teapot") is None
    assert await admin.remove_blocklist(GUILD, ADMIN, "kettle") is None
    assert await admin.clear_log_channel(GUILD, ADMIN) is None
    assert await core.db.audit.rows(GUILD) == []


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda a: a.set_config(GUILD, ADMIN, {"max_images": 9}), "max_images must be from 1"),
        (lambda a: a.set_config(GUILD, ADMIN, {"timezone": "Mars/Base"}), "Unknown timezone"),
        (lambda a: a.set_config(GUILD, ADMIN, {}), "at least one setting"),
        (lambda a: a.set_config(GUILD, ADMIN, {"safety_setting": "none"}), "must be one of"),
        (
            lambda a: a.set_config(GUILD, ADMIN, {"cooldown_seconds": 5}, reset="cooldown_seconds"),
            "not both",
        ),
        (lambda a: a.reset_config(GUILD, ADMIN, "everything"), "reset must name a setting"),
        (
            lambda a: a.set_config(
                GUILD, ADMIN, {"default_model": "imagen-4.0-ultra-generate-preview-06-06"}
            ),
            "deprecated",
        ),
        (lambda a: a.disable_model(GUILD, ADMIN, FAST), "default model"),
        (lambda a: a.add_blocklist(GUILD, ADMIN, "regex", "(a+)+$"), "very slow"),
        (lambda a: a.set_default_budget(GUILD, ADMIN, -1), "can't be less than 0"),
        (lambda a: a.grant(GUILD, ADMIN, MEMBER, 0), "can't be less than 1"),
    ],
)
async def test_refused_changes_change_and_record_nothing(
    core: Core, change: Callable[[AdminService], Awaitable[object]], needle: str
) -> None:
    seen = (await rules(core), await prompt_check(core), await quota(core))
    with pytest.raises(UserInputError) as refused:
        await change(core.admin)
    assert needle in refused.value.user_message
    assert (await rules(core), await prompt_check(core), await quota(core)) == seen
    assert await core.db.audit.rows(GUILD) == []


async def test_the_default_model_must_be_enabled_first(core: Core) -> None:
    await core.admin.disable_model(GUILD, ADMIN, ULTRA)
    with pytest.raises(UserInputError, match="turned off here"):
        await core.admin.set_config(GUILD, ADMIN, {"default_model": ULTRA})
    await core.admin.enable_model(GUILD, ADMIN, ULTRA)
    change = await core.admin.set_config(GUILD, ADMIN, {"default_model": ULTRA})
    assert change.settings.default_model == ULTRA


async def test_reads_for_the_show_commands(core: Core) -> None:
    admin = core.admin
    await admin.allow_channel(GUILD, ADMIN, CHANNEL)
    await admin.disable_model(GUILD, ADMIN, ULTRA)
    await admin.ban(GUILD, ADMIN, MEMBER, length=None, reason=None)
    await admin.add_blocklist(GUILD, ADMIN, "word", "teapot")
    await admin.set_role_budget(GUILD, ADMIN, ROLE, 40)
    view = await admin.overview(GUILD)
    assert view.allowed_channels == [CHANNEL] and view.disabled_models == {ULTRA}
    assert (view.blocklist_size, view.active_bans) == (1, 1)
    assert [b.user_id for b in await admin.bans(GUILD)] == [MEMBER]
    assert (await admin.budgets(GUILD)).roles == {ROLE: 40}
    assert (await admin.quota(GUILD, MEMBER, (ROLE,))).limit.base == 40
    assert (await admin.quota(None, MEMBER, (ROLE,))).limit.base == DEFAULT_CREDITS
    with pytest.raises(UserInputError, match="days must be from 1 to 365"):
        admin.usage_since(0)
    summary, rows = await admin.usage(GUILD, admin.usage_since(7))
    assert summary.totals.jobs == 0 and rows == []


def test_the_core_admin_service_needs_no_discord() -> None:
    probe = "import sys, bot.admin, bot.audit; print('discord' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
