"""The admin-facing side: log-channel helpers, failure reports, usage reports over real SQLite."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.audit import jump_url
from bot.errors import AuthError, OutOfCreditsError, SafetyBlockedError
from bot.storage import BudgetCheck, Database, NewJob
from bot.storage.sqlite import SQLiteDatabase
from cogs.admin.notices import (
    admin_action_embed,
    failure_embed,
    generation_embed,
    report_failure_to_admins,
)
from cogs.admin.usage import usage_csv
from tests.fakes.discord import DEFAULT_CHANNEL_ID, DEFAULT_GUILD_ID
from tests.harness import AIMLAPI_KEY, fake_stack, running_bot

GUILD = 1
OTHER_GUILD = 2
NO_LIMIT = BudgetCheck(base_limit=10_000, server_cap=None, usd_cap=None)


def test_jump_url() -> None:
    assert jump_url(5, 6, 7) == "https://discord.com/channels/5/6/7"
    assert jump_url(None, 6, 7) == "https://discord.com/channels/@me/6/7"


def test_admin_action_embed_neutralises_user_text() -> None:
    embed = admin_action_embed(
        42, "blocklist add", {"pattern": "@everyone **x**", "enabled": True, "reset": None}, 9
    )
    fields = {f.name: f.value for f in embed.fields}
    assert fields["pattern"] is not None and "@everyone" not in fields["pattern"]
    assert "\\*\\*x\\*\\*" in fields["pattern"]
    assert fields["enabled"] == "on" and fields["reset"] == "(default)"
    assert embed.description == "by <@42>"
    assert embed.footer.text == "Audit #9"


def test_admin_action_embed_stays_within_discord_limits() -> None:
    details: dict[str, object] = {f"key{n}": "x" * 5000 for n in range(40)}
    embed = admin_action_embed(1, "a" * 500, details)
    assert len(embed.fields) <= 25
    assert all(f.value is not None and len(f.value) <= 1024 for f in embed.fields)
    assert embed.title is not None and len(embed.title) <= 256
    assert len(embed) <= 6000


def test_generation_embed() -> None:
    embed = generation_embed(
        user_id=5,
        prompt="<@&1> a cat",
        model_id="google/imagen-4.0-generate-001",
        images=2,
        charged=4,
        usd=0.084,
        link="https://discord.com/channels/1/2/3",
        job_id=77,
    )
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Requested by"] == "<@5>" and fields["Model"] == "Imagen 4"
    assert fields["Cost"] == "4 credits ($0.0840)"
    assert fields["Message"] == "[Jump to it](https://discord.com/channels/1/2/3)"
    assert embed.description is not None and "<@&" not in embed.description
    assert embed.footer.text == "Job 77"


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (AuthError(detail=f"401 Unauthorized: bad key {AIMLAPI_KEY}", status=401), "AIMLAPI_KEY"),
        (OutOfCreditsError(detail="upstream says: balance 0", status=402), "out of credits"),
        (SafetyBlockedError(detail="raw upstream text"), "logs"),
        (RuntimeError("internal detail"), "traceback"),
    ],
)
def test_failure_embed_gives_a_hint_and_never_raw_text(error: Exception, needle: str) -> None:
    embed = failure_embed(job_id=3, user_id=4, model_id="google/imagen4/preview", error=error)
    text = json.dumps(embed.to_dict())
    assert needle in text
    assert AIMLAPI_KEY not in text and "upstream" not in text.replace("Upstream", "")
    assert "internal detail" not in text and "raw" not in text
    assert "Job 3" in text and "<@4>" in text


async def test_failures_are_explained_in_the_log_channel(tmp_path: Path) -> None:
    async with fake_stack(tmp_path) as stack, running_bot(stack) as bot:
        error = AuthError(detail=f"401 from upstream, key {AIMLAPI_KEY}", status=401)
        # No log channel: nothing is posted, nothing fails.
        await report_failure_to_admins(
            bot, guild_id=DEFAULT_GUILD_ID, job_id=1, user_id=2, error=error
        )
        assert stack.discord.calls_to("POST", r"/channels/\d+/messages") == []
        await bot.db.guilds.update_guild_settings(
            DEFAULT_GUILD_ID, log_channel_id=DEFAULT_CHANNEL_ID
        )
        await report_failure_to_admins(
            bot, guild_id=DEFAULT_GUILD_ID, job_id=1, user_id=2, error=error
        )
        (post,) = stack.discord.messages_in(DEFAULT_CHANNEL_ID)
        text = json.dumps(post)
        assert "AIMLAPI_KEY" in text and "401" in text
        assert AIMLAPI_KEY not in text
        # A channel the bot may not post in is logged and skipped, never raised.
        stack.discord.inject("POST", r"/channels/\d+/messages", 403)
        await report_failure_to_admins(
            bot, guild_id=DEFAULT_GUILD_ID, job_id=2, user_id=2, error=error
        )
        assert len(stack.discord.messages_in(DEFAULT_CHANNEL_ID)) == 1
        # Outside servers there is no log channel.
        await report_failure_to_admins(bot, guild_id=None, job_id=3, user_id=2, error=error)


# -- usage reports over real SQLite -------------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await SQLiteDatabase.open(tmp_path / "db.sqlite3") as database:
        yield database


async def add_job(
    db: Database,
    *,
    guild_id: int | None,
    user_id: int,
    model: str = "google/imagen-4.0-fast-generate-001",
    count: int = 1,
    delivered: int | None = None,
    credits_each: int = 1,
    usd: float | None = 0.021,
    message_id: int | None = 1000,
    prompt: str = "a cat",
) -> int:
    scope = f"g:{guild_id}" if guild_id is not None else f"u:{user_id}"
    job_id = await db.jobs.reserve_job(
        NewJob(
            guild_id=guild_id,
            channel_id=500,
            user_id=user_id,
            scope=scope,
            budget_day="2025-01-01",
            bot_day="2025-01-01",
            model=model,
            prompt=prompt,
            negative_prompt=None,
            aspect_ratio="1:1",
            count=count,
            seed=1,
            params_json="{}",
            credits=credits_each * count,
            usd_estimate=0.0,
        ),
        NO_LIMIT,
    )
    assert job_id is not None
    delivered = count if delivered is None else delivered
    if delivered:
        await db.jobs.finish_job(
            job_id,
            state="done",
            credits_charged=credits_each * delivered,
            images_delivered=delivered,
            usd=usd,
            message_id=message_id,
        )
    else:
        await db.jobs.finish_job(job_id, state="failed", error_class="upstream")
    return job_id


async def test_usage_summary(db: Database) -> None:
    ultra = "google/imagen-4.0-ultra-generate-001"
    await add_job(db, guild_id=GUILD, user_id=10, count=3, usd=0.06)
    await add_job(db, guild_id=GUILD, user_id=10, model=ultra, credits_each=3, usd=0.06)
    await add_job(db, guild_id=GUILD, user_id=11, count=2, usd=0.04)
    await add_job(db, guild_id=GUILD, user_id=12, delivered=0)
    await add_job(db, guild_id=OTHER_GUILD, user_id=10, count=4)
    await add_job(db, guild_id=None, user_id=10, count=4)
    summary = await db.reports.usage_summary(GUILD, since=0)
    totals = summary.totals
    assert (totals.jobs, totals.failed, totals.images, totals.credits) == (4, 1, 6, 8)
    assert totals.usd == pytest.approx(0.16)
    assert [(u.key, u.images, u.credits) for u in summary.top_users] == [
        ("10", 4, 6),
        ("11", 2, 2),
        ("12", 0, 0),
    ]
    assert [(m.key, m.images, m.credits) for m in summary.models] == [
        ("google/imagen-4.0-fast-generate-001", 5, 5),
        (ultra, 1, 3),
    ]
    assert len((await db.reports.usage_summary(GUILD, since=0, top=1)).top_users) == 1
    empty = await db.reports.usage_summary(GUILD, since=10**12)
    assert empty.totals.jobs == 0 and empty.top_users == [] and empty.models == []


async def test_usage_rows_and_csv(db: Database) -> None:
    await add_job(db, guild_id=GUILD, user_id=10, prompt="=cmd|' /C calc'!A0")
    await add_job(db, guild_id=GUILD, user_id=11, prompt='line one\nline, two "quoted"')
    await add_job(db, guild_id=OTHER_GUILD, user_id=10)
    rows = await db.reports.usage_rows(GUILD, since=0)
    assert len(rows) == 2
    data, written = usage_csv(rows)
    assert written == 2
    parsed = list(csv.DictReader(io.StringIO(data.decode())))
    assert parsed[0]["prompt"].startswith("'=")
    assert parsed[1]["prompt"] == 'line one\nline, two "quoted"'
    assert parsed[0]["state"] == "done" and parsed[0]["created_at"].endswith("+00:00")
    # A size cap cuts whole rows and says how many made it.
    header_and_one = len(usage_csv(rows[:1])[0])
    data, written = usage_csv(rows, limit=header_and_one + 5)
    assert written == 1 and len(list(csv.DictReader(io.StringIO(data.decode())))) == 1


async def test_delivered_jobs_for_history(db: Database) -> None:
    ids = [await add_job(db, guild_id=GUILD, user_id=10, message_id=2000 + n) for n in range(12)]
    await add_job(db, guild_id=GUILD, user_id=10, delivered=0)
    await add_job(db, guild_id=GUILD, user_id=11)
    dm = await add_job(db, guild_id=None, user_id=10)
    here = await db.reports.delivered_jobs(user_id=10, guild_id=GUILD)
    assert [r.id for r in here] == ids[::-1][:10]
    everywhere = await db.reports.delivered_jobs(user_id=10, limit=3)
    assert [r.id for r in everywhere] == [dm, ids[-1], ids[-2]]
