"""Faults at Discord, end to end: the gateway dropping mid-job, the followup edit answered 429 or
5xx, the message or the channel deleted under a running job, no permission to attach files, and
an interaction token that expires before the images are ready.

In every case the job ends in exactly one state: charged with its images in a message, or
refunded; the bot stays connected and serves the next command.
"""

from __future__ import annotations

import re

import pytest

from bot.client import ImagenBot
from tests.fakes.discord import (
    DEFAULT_APP_PERMISSIONS,
    P_ATTACH_FILES,
    FakeChannel,
    FakeInteraction,
)
from tests.harness import Stack, eventually
from tests.reliability.support import (
    assert_user_text,
    budget,
    count,
    final_message,
    job_id_of,
    jobs,
    mention_violations,
    settled_job,
)

pytestmark = pytest.mark.reliability

PATCH_ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


def original_calls(stack: Stack, it: FakeInteraction) -> list[int]:
    path = rf"/webhooks/\d+/{re.escape(it.token)}/messages/@original"
    return [c.status for c in stack.discord.calls_to("PATCH", path)]


async def start_slow_job(stack: Stack, prompt: str, latency: float = 0.6) -> FakeInteraction:
    stack.api.latency = latency
    it = await stack.discord.slash("imagine", {"prompt": prompt})
    assert (await it.wait_response()).type == 5
    await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
    return it


async def serves_next(stack: Stack, bot: ImagenBot) -> None:
    """The bot is connected and the next command is delivered and charged as usual."""
    stack.api.latency = 0.0
    reserved_before, charged_before = await budget(bot)
    it = await stack.discord.slash("imagine", {"prompt": "the next one"})
    message = await final_message(it)
    assert len(message["attachments"]) == 1
    row = await settled_job(bot, job_id_of(message))
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    assert await budget(bot) == (reserved_before, charged_before + 1)
    assert bot.gateway_connected()


async def test_gateway_dropped_mid_job_resumes_and_delivers(stack: Stack, bot: ImagenBot) -> None:
    it = await start_slow_job(stack, "through a dropped gateway")
    resumes = stack.discord.resumes
    await stack.discord.drop_gateway()
    await stack.discord.wait_resumed(count=resumes + 1, timeout=30)
    message = await final_message(it)
    assert len(message["attachments"]) == 1
    row = await settled_job(bot, job_id_of(message))
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    assert await budget(bot) == (0, 1)
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_followup_429_with_via_is_retried_by_discord_py(stack: Stack, bot: ImagenBot) -> None:
    stack.discord.inject("PATCH", PATCH_ORIGINAL, 429, retry_after=0.1)
    it = await stack.discord.slash("imagine", {"prompt": "rate limited followup"})
    message = await final_message(it)
    assert len(message["attachments"]) == 1
    assert original_calls(stack, it) == [429, 200]
    await settled_job(bot, job_id_of(message))
    assert await budget(bot) == (0, 1)
    await serves_next(stack, bot)
    count("Discord faults tried")


@pytest.mark.parametrize("status", [500, 503])
async def test_followup_5xx_once_is_retried_and_delivered(
    stack: Stack, bot: ImagenBot, status: int
) -> None:
    stack.discord.inject("PATCH", PATCH_ORIGINAL, status)
    it = await stack.discord.slash("imagine", {"prompt": f"followup {status}"})
    message = await final_message(it)
    assert len(message["attachments"]) == 1
    assert original_calls(stack, it) == [status, 200]
    row = await settled_job(bot, job_id_of(message))
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_followup_429_forever_is_refunded(stack: Stack, bot: ImagenBot) -> None:
    """A 429 without Via (not Discord's own) is not retried by discord.py: the bot's own bounded
    retry gives up, refunds, and charges nothing."""
    fault = stack.discord.inject("PATCH", PATCH_ORIGINAL, 429, times=None, headers={"Via": ""})
    it = await stack.discord.slash("imagine", {"prompt": "never delivered"})
    row = await settled_job(bot, 1)
    assert (row["state"], row["error_class"], row["credits_charged"]) == ("failed", "delivery", 0)
    assert await budget(bot) == (0, 0)
    assert set(original_calls(stack, it)) == {429}
    fault.times = fault.hits  # Discord recovers
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_message_deleted_before_the_edit_posts_in_the_channel(
    stack: Stack, bot: ImagenBot
) -> None:
    it = await start_slow_job(stack, "deleted under me")
    assert it.original_message_id is not None
    stack.discord.delete_message(it.channel_id, it.original_message_id)
    row = await settled_job(bot, 1)
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    posted = stack.discord.get_message(int(row["message_id"]))
    assert posted is not None and posted["attachments"]
    assert f"<@{stack.discord.member.user.id}>" in posted["content"]
    assert await budget(bot) == (0, 1)
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_channel_deleted_mid_job_refunds(stack: Stack, bot: ImagenBot) -> None:
    doomed = FakeChannel(stack.discord.snowflake(), "doomed", 0, 1)
    stack.discord.default_guild.channels.append(doomed)
    stack.api.latency = 0.6
    it = await stack.discord.slash("imagine", {"prompt": "channel goes away"}, channel_id=doomed.id)
    assert (await it.wait_response()).type == 5
    await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
    stack.discord.delete_channel(doomed.id)
    row = await settled_job(bot, 1)
    assert (row["state"], row["credits_charged"]) == ("failed", 0)
    assert row["error_class"] == "delivery"
    assert await budget(bot) == (0, 0)
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_no_attach_files_permission_is_a_clear_private_message(
    stack: Stack, bot: ImagenBot
) -> None:
    it = await stack.discord.slash(
        "imagine",
        {"prompt": "cannot post here"},
        app_permissions=DEFAULT_APP_PERMISSIONS & ~P_ATTACH_FILES,
    )
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert "Attach Files" in response.data["content"]
    assert_user_text(response.data["content"])
    assert stack.api.requests == []
    assert await jobs(bot) == []
    assert await budget(bot) == (0, 0)
    await serves_next(stack, bot)
    count("Discord faults tried")


async def test_expired_token_delivers_to_the_channel(stack: Stack, bot: ImagenBot) -> None:
    it = await start_slow_job(stack, "slow past the token <@&42> @everyone")
    stack.discord.expire_token(it.token)
    channel = stack.discord.default_channel.id
    post = await stack.discord.wait_for_call("POST", rf"/channels/{channel}/messages", timeout=30)
    assert post.status == 200 and len(post.files) == 1
    row = await settled_job(bot, 1)
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    assert row["message_id"] == int(post.response["id"])
    user = stack.discord.member.user.id
    assert mention_violations(stack, {user}) == []
    await serves_next(stack, bot)
    count("Discord faults tried")
