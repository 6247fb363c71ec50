"""Private results end to end: the result goes to the member by DM with working buttons, the
channel sees nothing, closed DMs are refused and refunded, a server can forbid private results,
and its log channel still hears of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import ImagenBot
from tests.fakes.discord import DEFAULT_CHANNEL_ID, DEFAULT_GUILD_ID, FakeInteraction
from tests.harness import Stack, eventually, fake_stack, running_bot
from tests.test_e2e_admin import LOG_CHANNEL_ID, admin, guilds, log_posts
from tests.test_e2e_imagine import settled
from tests.test_e2e_member_settings import open_settings, press

DMS_CLOSED = (
    "⚠️ I couldn't send you a DM: your direct messages are closed to me. Allow direct messages "
    "from this server's members in its Privacy Settings, or turn private results off in "
    "/settings. You were not charged."
)
NOT_ALLOWED = "This server doesn't allow private results. Run /imagine without the private option."


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8") as b:
        yield b


def public_messages(stack: Stack, channel_id: int = DEFAULT_CHANNEL_ID) -> list[dict[str, Any]]:
    return [m for m in stack.discord.messages_in(channel_id) if not m["flags"] & 64]


def dms(stack: Stack) -> list[dict[str, Any]]:
    """What the member sees in their DMs with the bot (not the private answers to clicks)."""
    return public_messages(stack, stack.discord.dm_channel_id(stack.discord.user))


async def dm_result(stack: Stack, count: int) -> dict[str, Any]:
    """The ``count``-th result in the member's DMs."""
    found = await eventually(
        lambda: len(dms(stack)) >= count and dms(stack), timeout=30, what=f"{count} DM(s)"
    )
    message: dict[str, Any] = found[count - 1]
    return message


async def answered_privately(it: FakeInteraction) -> dict[str, Any]:
    """The interaction's answer: private, and edited to its final text."""
    response = await it.wait_response(30)
    assert response.type == 5 and response.data["flags"] & 64, response
    return await it.wait_original_message(30)


def job_of(message: dict[str, Any]) -> int:
    return int(message["attachments"][0]["filename"].split("-")[1])


async def test_a_private_result_comes_by_dm_with_working_buttons(
    stack: Stack, bot: ImagenBot
) -> None:
    it = await stack.discord.slash("imagine", {"prompt": "a secret garden", "private": True})
    answer = await answered_privately(it)
    result = await dm_result(stack, 1)
    assert answer["content"].startswith("📬 Sent to your DMs: https://discord.com/channels/@me/")
    assert answer["content"].endswith(f"/{result['id']}")
    assert public_messages(stack) == []  # the channel sees nothing
    job_id = job_of(result)
    buttons = [c["custom_id"] for row in result["components"] for c in row["components"]]
    assert buttons == [f"imagen:{a}:{job_id}" for a in ("reroll", "edit", "details", "delete")]
    row = await settled(bot, job_id)
    assert (row.state, row.credits_charged, row.guild_id) == ("done", 1, DEFAULT_GUILD_ID)
    assert row.message_id == int(result["id"])

    details = await stack.discord.click(result["id"], f"imagen:details:{job_id}")
    shown = await details.wait_response(30)
    assert shown.data["flags"] & 64
    fields = {f["name"]: f["value"] for f in shown.data["embeds"][0]["fields"]}
    assert fields["private"] == "True"

    # Reroll in DMs: charged to the server's budget like the first, and private again.
    reroll = await stack.discord.click(result["id"], f"imagen:reroll:{job_id}")
    await answered_privately(reroll)
    rerolled = await dm_result(stack, 2)
    again = await settled(bot, job_of(rerolled))
    assert (again.guild_id, again.channel_id, again.parent_job_id) == (
        DEFAULT_GUILD_ID,
        DEFAULT_CHANNEL_ID,
        job_id,
    )
    assert again.scope == row.scope

    edit = await stack.discord.click(rerolled["id"], f"imagen:edit:{again.id}")
    modal = await edit.wait_response(30)
    assert modal.type == 9
    submit = await stack.discord.submit_modal(
        modal.data["custom_id"], {"prompt": "a secret maze"}, message_id=rerolled["id"], dm=True
    )
    await answered_privately(submit)
    edited = await dm_result(stack, 3)
    assert stack.api.requests[-1].body["prompt"] == "a secret maze"
    assert public_messages(stack) == []

    delete = await stack.discord.click(edited["id"], f"imagen:delete:{job_of(edited)}")
    await delete.wait_response(30)
    await eventually(
        lambda: stack.discord.get_message(int(edited["id"])) is None, 30, "the DM deleted"
    )


async def test_in_dms_only_the_requester_may_act_on_a_private_result(
    stack: Stack, bot: ImagenBot
) -> None:
    it = await stack.discord.slash("imagine", {"prompt": "a secret", "private": True})
    await answered_privately(it)
    result = await dm_result(stack, 1)
    for action in ("reroll", "details", "delete"):
        click = await stack.discord.click(
            result["id"], f"imagen:{action}:{job_of(result)}", user=stack.discord.admin
        )
        refusal = await click.wait_response(30)
        assert refusal.type == 4 and refusal.data["flags"] & 64, action
    assert len(stack.api.requests) == 1
    assert stack.discord.get_message(int(result["id"])) is not None


async def test_closed_dms_are_refused_privately_and_refunded(stack: Stack, bot: ImagenBot) -> None:
    stack.discord.close_dms(stack.discord.user)
    it = await stack.discord.slash("imagine", {"prompt": "a letter", "private": True})
    answer = await answered_privately(it)
    assert answer["content"] == DMS_CLOSED
    assert public_messages(stack) == [] and dms(stack) == []
    rows = await bot.db.jobs.recent_jobs(user_id=stack.discord.user.id)
    assert len(rows) == 1 and rows[0].state == "failed" and rows[0].credits_charged == 0
    usage = await bot.db.budgets.usage(rows[0].scope, rows[0].budget_day, rows[0].user_id)
    assert usage.used == 0  # the ledger shows no charge


async def test_allow_private_off_is_honoured(stack: Stack, bot: ImagenBot) -> None:
    # The member asked for private results before the server forbade them.
    page = await open_settings(stack)
    await press(stack, page, "imagen:settings:private:on")
    await admin(stack, "config set", {"allow_private": False})

    it = await stack.discord.slash("imagine", {"prompt": "a crowd", "private": True})
    refusal = await it.wait_response(30)
    assert refusal.type == 4 and refusal.data["flags"] & 64
    assert refusal.data["content"] == NOT_ALLOWED
    assert stack.api.requests == []

    # Their default is set aside: the result is posted in the channel, for everyone.
    it = await stack.discord.slash("imagine", {"prompt": "a crowd"})
    response = await it.wait_response(30)
    assert response.type == 5 and not response.data.get("flags", 0) & 64
    message = await it.wait_original_message(30)
    assert message["attachments"] and dms(stack) == []
    page = await open_settings(stack)
    fields = {f["name"]: f["value"] for f in page["embeds"][0]["fields"]}
    assert fields["Private results"] == (
        "Not allowed in this server: results are posted in the channel"
    )


async def test_the_log_channel_still_hears_of_a_private_generation(
    stack: Stack, bot: ImagenBot
) -> None:
    await admin(stack, "logchannel set", {"channel": LOG_CHANNEL_ID})
    before = len(stack.discord.messages_in(LOG_CHANNEL_ID))
    it = await stack.discord.slash("imagine", {"prompt": "a hidden lake", "private": True})
    await answered_privately(it)
    await dm_result(stack, 1)
    posts = await log_posts(stack, before + 1)
    mirror = posts[-1]
    user = stack.discord.user.id
    assert mirror["content"] == (
        f"<@{user}> generated an image privately (sent by DM) from <#{DEFAULT_CHANNEL_ID}>."
    )
    assert mirror["embeds"][0]["description"] == "a hidden lake"
    names = [f["name"] for f in mirror["embeds"][0]["fields"]]
    assert "Message" not in names  # no link into the member's DMs


async def test_history_links_a_private_result_into_the_members_dms_only(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100") as bot:
        public = await stack.discord.slash("imagine", {"prompt": "an open field"})
        shown = await public.wait_original_message(30)
        await settled(bot, job_of(shown))
        it = await stack.discord.slash("imagine", {"prompt": "a locked room", "private": True})
        await answered_privately(it)
        private = await dm_result(stack, 1)
        await settled(bot, job_of(private))
    dm_id = stack.discord.dm_channel_id(stack.discord.user)
    in_dms = f"(https://discord.com/channels/@me/{dm_id}/{private['id']})"
    in_channel = f"(https://discord.com/channels/{DEFAULT_GUILD_ID}/{DEFAULT_CHANNEL_ID}/"
    # A new process has no DM channel cached: /history opens it to link there.
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100"):
        listing = await stack.discord.slash("history")
        lines = (await listing.wait_response(30)).data["embeds"][0]["description"].split("\n")
        locked = next(n for n, line in enumerate(lines) if "a locked room" in line)
        assert lines[locked - 1].endswith(in_dms)
        opened = next(n for n, line in enumerate(lines) if "an open field" in line)
        assert lines[opened - 1].endswith(f"{in_channel}{shown['id']})")
        # An admin cannot open the member's DMs: the private job is listed without a link.
        answer = await admin(stack, "history user", {"user": stack.discord.user.id})
        rows = answer["embeds"][0]["description"].split("\n")
        assert "](" not in next(r for r in rows if r.startswith(f"`#{job_of(private)}`"))
        assert f"{in_channel}{shown['id']})" in next(
            r for r in rows if r.startswith(f"`#{job_of(shown)}`")
        )
