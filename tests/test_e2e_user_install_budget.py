"""Budgets cannot be farmed through user installs (issue: security point 2).

`/imagine` is offered as a user install, so a member can use it in any server they belong to,
including servers that never installed the bot. There the member's personal budget applies (one
per person, whatever the server), as in DMs; where the bot is installed, that server's rules and
budgets still apply, whichever installation the command came through.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import ImagenBot
from tests.fakes.discord import (
    DEFAULT_ADMIN_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_MEMBER_ID,
    FakeGuild,
    default_guild,
)
from tests.harness import Stack, eventually, fake_stack, running_bot
from tests.storage_sql import sql_rows

# Servers the member belongs to where the bot is not (it left them, or never joined).
ELSEWHERE = [DEFAULT_GUILD_ID + 3_000, DEFAULT_GUILD_ID + 4_000]
DAILY = 2


def guilds() -> list[FakeGuild]:
    return [default_guild()] + [
        default_guild(
            guild_id=gid,
            channel_id=DEFAULT_CHANNEL_ID + (gid - DEFAULT_GUILD_ID),
            member_id=DEFAULT_MEMBER_ID + (gid - DEFAULT_GUILD_ID),
            admin_id=DEFAULT_ADMIN_ID + (gid - DEFAULT_GUILD_ID),
            name=f"Elsewhere {gid}",
        )
        for gid in ELSEWHERE
    ]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS=str(DAILY)) as b:
        for gid in ELSEWHERE:
            await stack.discord.dispatch("GUILD_DELETE", {"id": str(gid)})
        await eventually(
            lambda: all(b.get_guild(gid) is None for gid in ELSEWHERE), 15, "the bot to leave"
        )
        yield b


async def imagine(stack: Stack, **kwargs: Any) -> dict[str, Any]:
    """The answer to an /imagine of ``count`` images; waits for the images if it was deferred."""
    options = {"prompt": "a lighthouse at dusk", "count": kwargs.pop("count", 1)}
    it = await stack.discord.slash("imagine", options, **kwargs)
    response = await it.wait_response(30)
    if response.type == 5:
        message: dict[str, Any] = await it.wait_original_message(30)
        assert message["attachments"], message
        return message
    return response.data


async def job_scopes(bot: ImagenBot) -> list[tuple[str, int | None]]:
    rows = await sql_rows(bot.db, "SELECT scope, guild_id FROM jobs ORDER BY id")
    return [(r["scope"], r["guild_id"]) for r in rows]


async def test_one_personal_budget_across_servers_without_the_bot(
    stack: Stack, bot: ImagenBot
) -> None:
    member = stack.discord.member.user.id
    first = await imagine(stack, guild_id=ELSEWHERE[0], user_install=True, count=DAILY)
    assert first["attachments"]
    # Another server without the bot, and DMs: the same budget, already spent.
    for where in ({"guild_id": ELSEWHERE[1], "user_install": True}, {"dm": True}):
        refused = await imagine(stack, **where)
        assert refused["flags"] & 64, refused
        assert "Not enough credits" in refused["content"], refused
    quota = await stack.discord.slash("quota", guild_id=ELSEWHERE[1], user_install=True)
    shown = json.dumps((await quota.wait_response(30)).data)
    assert f"{DAILY} of {DAILY} credits" in shown and "bot default" in shown
    # Where the bot is installed, that server's budget applies, separate from the personal one.
    assert (await imagine(stack, user_install=True))["attachments"]
    assert await job_scopes(bot) == [
        (f"u:{member}", ELSEWHERE[0]),
        (f"g:{DEFAULT_GUILD_ID}", DEFAULT_GUILD_ID),
    ]


async def test_a_server_that_installed_the_bot_keeps_its_rules(
    stack: Stack, bot: ImagenBot
) -> None:
    member = stack.discord.member.user.id
    ban = await stack.discord.slash(
        "imagine-admin ban", {"user": member, "reason": "spam"}, user=stack.discord.admin
    )
    await ban.wait_response(30)
    # Through the member's own install, in a server where the bot is: still banned there.
    refused = await imagine(stack, user_install=True)
    assert "can't generate images in this server" in refused["content"], refused
    # A server that installed the app's commands without the bot user counts as installed.
    assert (await imagine(stack, guild_id=ELSEWHERE[0]))["attachments"]
    assert await job_scopes(bot) == [(f"g:{ELSEWHERE[0]}", ELSEWHERE[0])]
