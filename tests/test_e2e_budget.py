"""Budgets end to end: spending, refusals with the reset time, refunds, /quota, admin commands."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.client import ImagenBot
from tests.fakes.aimlapi import Fault
from tests.fakes.discord import FakeInteraction
from tests.harness import TEST_PACING, Clock, Stack, running_bot
from tests.storage_sql import sql_rows

UTC = ZoneInfo("UTC")


@pytest.fixture
def clock() -> Clock:
    """The ledger's clock, moved by hand: the evening before a day boundary in UTC."""
    return Clock(datetime(2026, 11, 21, 22, 0, tzinfo=UTC).timestamp())


@pytest.fixture
async def bot(stack: Stack, clock: Clock) -> AsyncIterator[ImagenBot]:
    pacing = dataclasses.replace(TEST_PACING, clock=clock)
    async with running_bot(stack, pacing=pacing, DEFAULT_DAILY_CREDITS="4") as b:
        yield b


async def private_reply(it: FakeInteraction) -> str:
    response = await it.wait_response(30)
    assert response.type == 4 and response.data["flags"] & 64, response
    return str(response.data.get("content") or json.dumps(response.data.get("embeds")))


async def settled(bot: ImagenBot, timeout: float = 30.0) -> None:
    """Wait until no job is open: the message is edited a moment before the job row settles."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await bot.db.jobs.open_jobs():
        assert loop.time() < deadline, "jobs did not settle"
        await asyncio.sleep(0.02)


async def generate(stack: Stack, **options: Any) -> dict[str, Any]:
    it = await stack.discord.slash("imagine", options)
    response = await it.wait_response(30)
    assert response.type == 5, response
    return await it.wait_original_message(30)


async def usage(bot: ImagenBot, user_id: int) -> tuple[int, int]:
    await settled(bot)
    rows = await sql_rows(
        bot.db,
        "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c "
        "FROM budget_usage WHERE user_id = ?",
        (user_id,),
    )
    return int(rows[0]["r"]), int(rows[0]["c"])


async def test_spend_refuse_with_reset_time_then_generate_after_midnight(
    stack: Stack, bot: ImagenBot, clock: Clock
) -> None:
    message = await generate(stack, prompt="a snowy owl", count=4)
    assert len(message["attachments"]) == 4
    assert "0 left today" in json.dumps(message["embeds"])
    calls = len(stack.api.requests)
    refused = await private_reply(await stack.discord.slash("imagine", {"prompt": "again"}))
    midnight = int(datetime(2026, 11, 22, tzinfo=UTC).timestamp())
    assert "Not enough credits" in refused and f"<t:{midnight}:R>" in refused
    assert len(stack.api.requests) == calls, "a refusal must not reach the API"
    quota = await private_reply(await stack.discord.slash("quota"))
    assert "4 of 4" in quota and f"<t:{midnight}:R>" in quota
    clock.at = midnight + 1
    message = await generate(stack, prompt="a new day")
    assert len(message["attachments"]) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http(400),
        Fault.safety(),
        Fault.http(401),
        Fault.http(403),
        Fault.http(404),
        Fault(malformed_json=True),
        Fault(images=0),
        Fault(image_fault="not_image"),
        Fault(image_fault="404"),
    ],
    ids=lambda f: f"{f.status}-{f.malformed_json}-{f.images}-{f.image_fault}",
)
async def test_failures_refund_in_full(stack: Stack, bot: ImagenBot, fault: Fault) -> None:
    stack.api.inject(fault)
    message = await generate(stack, prompt="a tower", count=2)
    assert not message["attachments"]
    assert "⚠️" in message["content"] and "Traceback" not in message["content"]
    assert await usage(bot, stack.discord.member.user.id) == (0, 0)
    await settled(bot)
    row = (await sql_rows(bot.db, "SELECT state, credits_charged, error_class FROM jobs"))[-1]
    assert row["state"] == "failed" and row["credits_charged"] == 0 and row["error_class"]


async def test_fewer_images_than_asked_charges_only_those(stack: Stack, bot: ImagenBot) -> None:
    stack.api.inject(Fault(images=2))
    message = await generate(stack, prompt="bicycles", count=4)
    assert len(message["attachments"]) == 2
    assert "2 of 4" in message["content"]
    assert await usage(bot, stack.discord.member.user.id) == (0, 2)
    row = (await sql_rows(bot.db, "SELECT * FROM jobs"))[-1]
    assert (row["credits_reserved"], row["credits_charged"], row["images_delivered"]) == (4, 2, 2)
    assert row["api_credits"] == 84_000 and row["usd"] == pytest.approx(0.042)


async def test_quota_in_a_dm_uses_the_personal_scope(stack: Stack, bot: ImagenBot) -> None:
    reply = await private_reply(await stack.discord.slash("quota", dm=True))
    assert "0 of 4" in reply


async def admin(stack: Stack, command: str, options: dict[str, Any] | None = None) -> str:
    it = await stack.discord.slash(
        f"imagine-admin budget {command}", options, user=stack.discord.admin
    )
    return await private_reply(it)


async def refused(stack: Stack, user: Any, **options: Any) -> str:
    return await private_reply(await stack.discord.slash("imagine", options, user=user))


async def test_budget_admin_commands_change_the_next_imagine(stack: Stack, bot: ImagenBot) -> None:
    member, admin_member = stack.discord.member, stack.discord.admin
    admin_role = admin_member.roles[0]

    assert "1 credits a day" in await admin(stack, "default", {"credits": 1})
    assert "Not enough credits" in await refused(stack, member, prompt="two", count=2)
    await generate(stack, prompt="one")

    await admin(stack, "role", {"role": admin_role, "credits": 6})
    it = await stack.discord.slash("imagine", {"prompt": "role", "count": 4}, user=admin_member)
    assert len((await it.wait_original_message(30))["attachments"]) == 4
    await admin(stack, "user", {"user": admin_member.user.id, "credits": 4})
    assert "Not enough credits" in await refused(stack, admin_member, prompt="x")

    assert "3 extra credits" in await admin(stack, "grant", {"user": member.user.id, "credits": 3})
    await generate(stack, prompt="granted", count=3)
    assert "Not enough credits" in await refused(stack, member, prompt="x")

    assert "4 credits forgiven" in await admin(stack, "reset", {"user": member.user.id})
    await generate(stack, prompt="after reset")

    shown = await admin(stack, "show")
    assert "1 credits/day" in shown and str(admin_role) in shown
    mine = await admin(stack, "show", {"user": member.user.id})
    assert "Used today" in mine and "That buys" in mine

    await admin(stack, "server-cap", {"credits": 1})
    await admin(stack, "user", {"user": admin_member.user.id, "credits": 100})
    assert "server has used its daily cap" in await refused(stack, admin_member, prompt="x")
    await admin(stack, "server-cap")
    it = await stack.discord.slash("imagine", {"prompt": "uncapped"}, user=admin_member)
    assert len((await it.wait_original_message(30))["attachments"]) == 1

    rows = await bot.db.audit.rows(stack.discord.default_guild.id, limit=50)
    actions = [r.action for r in rows]
    for action in ("budget default", "budget role", "budget user", "budget grant", "budget reset"):
        assert action in actions


@pytest.mark.parametrize(
    ("command", "options", "needle"),
    [
        ("default", {"credits": -5}, "less than 0"),
        ("default", {"credits": 10**9}, "more than"),
        ("grant", {"credits": 0}, "less than 1"),
        ("server-cap", {"credits": 10**12}, "more than"),
    ],
)
async def test_bad_amounts_are_refused_and_change_nothing(
    stack: Stack, bot: ImagenBot, command: str, options: dict[str, Any], needle: str
) -> None:
    if command == "grant":
        options = {**options, "user": stack.discord.member.user.id}
    before = await bot.db.guilds.guild_settings(stack.discord.default_guild.id)
    assert needle in await admin(stack, command, options)
    after = await bot.db.guilds.guild_settings(stack.discord.default_guild.id)
    assert before == after
    grants = await sql_rows(bot.db, "SELECT COUNT(*) AS n FROM budget_grant")
    assert grants[0]["n"] == 0
