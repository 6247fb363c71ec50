"""The wording bugs of issue 18, end to end: who lacks a permission, the one blocked-prompt text.

The real bot runs against the fake Discord; what a member reads is compared with the literal
English of tests/messages_en.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from discord import app_commands

from bot import texts
from bot.client import ImagenBot
from tests.fakes.discord import (
    P_ATTACH_FILES,
    P_READ_MESSAGE_HISTORY,
    P_SEND_MESSAGES,
    P_VIEW_CHANNEL,
)
from tests.harness import Stack, fake_stack, running_bot
from tests.messages_en import (
    BOT_LACKS_MANAGE_MESSAGES,
    BOT_LACKS_SEVERAL,
    MEMBER_NEEDS_MANAGE_SERVER,
    NOT_CHARGED,
    PROMPT_BLOCKED,
)

# What the bot holds in the channel for these tests: enough to answer, not Manage Messages.
BOT_PERMISSIONS = P_VIEW_CHANNEL | P_SEND_MESSAGES | P_READ_MESSAGE_HISTORY


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path) as s:
        yield s


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack) as b:
        yield b


def require_bot_permissions(bot: ImagenBot, name: str, **perms: bool) -> None:
    """Give a command a discord.py check on the bot's own permissions, as a command needing them
    would declare; the check and the error it raises are discord.py's, not ours."""
    command = bot.tree.get_command(name)
    assert isinstance(command, app_commands.Command)
    app_commands.checks.bot_has_permissions(**perms)(command)


async def private_answer(stack: Stack, name: str, **kwargs: object) -> str:
    it = await stack.discord.slash(name, **kwargs)  # type: ignore[arg-type]
    response = await it.wait_response(30)
    assert response.type == 4 and response.data["flags"] & 64, response
    text: str = response.data["content"]
    return text


async def test_bot_missing_a_permission_says_the_bot_lacks_it(stack: Stack, bot: ImagenBot) -> None:
    require_bot_permissions(bot, "history", manage_messages=True)
    text = await private_answer(stack, "history", app_permissions=BOT_PERMISSIONS)
    assert text == BOT_LACKS_MANAGE_MESSAGES
    assert "You need" not in text


async def test_bot_missing_several_permissions_names_each(stack: Stack, bot: ImagenBot) -> None:
    require_bot_permissions(bot, "history", manage_messages=True, attach_files=True)
    text = await private_answer(stack, "history", app_permissions=BOT_PERMISSIONS)
    assert text == BOT_LACKS_SEVERAL


async def test_member_missing_a_permission_is_told_what_they_lack(
    stack: Stack, bot: ImagenBot
) -> None:
    text = await private_answer(
        stack,
        "imagine-admin usage",
        user=stack.discord.member,
        member_permissions=0,
        app_permissions=BOT_PERMISSIONS | P_ATTACH_FILES,
    )
    assert text == MEMBER_NEEDS_MANAGE_SERVER


async def test_a_blocked_prompt_shows_the_one_blocked_text(stack: Stack, bot: ImagenBot) -> None:
    added = await stack.discord.slash(
        "imagine-admin blocklist add", {"pattern": "teapot"}, user=stack.discord.admin
    )
    await added.wait_response(30)
    text = await private_answer(stack, "imagine", options={"prompt": "a small teapot"})
    assert text == PROMPT_BLOCKED
    assert stack.api.requests == []


def test_the_refund_promise_has_one_wording() -> None:
    """Every text that tells a member they were not charged says it the same way."""
    for text in texts.all_texts():
        for template in (text.one, text.other or ""):
            if "not charged" in template.lower() and "you" in template.lower():
                assert NOT_CHARGED in template, text.key
