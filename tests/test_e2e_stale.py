"""No message left stale by a process that died, and the crash window between posting a result and
recording its charge (issue 22).

Real ``python -m bot`` processes are killed with SIGKILL (tests.harness.BotProcess); the next one
must correct what the dead one left on Discord and settle its jobs by what Discord shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.discord import FakeInteraction
from tests.harness import BotProcess, Stack, eventually
from tests.test_e2e_crash import ENV, budget, channel_posts, db_rows, submit
from tests.test_e2e_jobs import delivered, queued_message, users

INTERRUPTED = (
    "The bot restarted before your images were ready (job {}). You were not charged. "
    "Please try again in a minute."
)
RESULT_EDIT = r"/webhooks/\d+/[^/]+/messages/@original"


@pytest.fixture
def procs(stack: Stack) -> Iterator[tuple[BotProcess, BotProcess]]:
    """A bot process to kill and the one started after it, both stopped after the test."""
    pair = (BotProcess(stack, **ENV), BotProcess(stack, **ENV))
    yield pair
    for proc in pair:
        proc.close()


def job_of(it: FakeInteraction, rows: list[dict[str, Any]]) -> int:
    """The job an /imagine interaction made, by its prompt."""
    prompt = it.data["options"][0]["value"]
    (job_id,) = [r["id"] for r in rows if r["prompt"] == prompt]
    return int(job_id)


async def corrected(it: FakeInteraction, job_id: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        message = it.original_message()
        return message if message and message["content"] == INTERRUPTED.format(job_id) else None

    message: dict[str, Any] = await eventually(check, 30, f"the message of job {job_id} corrected")
    return message


async def test_sigkill_leaves_no_stale_ticket_and_no_token(
    stack: Stack, procs: tuple[BotProcess, BotProcess]
) -> None:
    alice, bob, carol = users(stack, 3)
    first, second = procs
    await first.start_and_wait_ready()
    stack.api.latency = 60.0
    its = [
        await submit(stack, alice, "alice 1"),
        await submit(stack, bob, "bob 1"),
        await submit(stack, alice, "alice 2"),
        await submit(stack, carol, "carol 1"),
    ]
    await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
    for it in its[2:]:
        await queued_message(it)
    rows = await db_rows(stack, "SELECT id, prompt, state FROM jobs ORDER BY id")
    jobs = [job_of(it, rows) for it in its]
    # Each open job's token is kept with it (in the database file only) while it runs.
    tokens = await db_rows(stack, "SELECT job_id, token FROM job_replies ORDER BY job_id")
    assert {r["job_id"]: r["token"] for r in tokens} == {
        job: it.token for job, it in zip(jobs, its, strict=True)
    }

    first.kill()
    stack.api.latency = 0.0
    # One ticket's token has expired meanwhile: its message can't be edited any more.
    stack.discord.expire_token(its[3].token)
    await second.start_and_wait_ready()

    for it, job in zip(its[:3], jobs[:3], strict=True):
        message = await corrected(it, job)
        assert message["components"] == []
        assert not message["attachments"]
    # The expired one: told in the channel instead, pinging only its owner.
    (notice,) = await eventually(lambda: channel_posts(stack), 30, "the channel notice")
    assert notice["content"] == f"<@{carol.user.id}> " + INTERRUPTED.format(jobs[3])
    assert notice["allowed_mentions"] == {"parse": [], "users": [carol.user.id]}
    stale = its[3].original_message()
    assert stale is not None and "position" in stale["content"]

    # A click on its dead Cancel is answered, and corrects the ticket. (The corrected ones
    # have no button left to click.)
    assert its[3].original_message_id is not None
    click = await stack.discord.click(
        its[3].original_message_id, f"imagen:cancel:{jobs[3]}", user=carol
    )
    answer = await click.wait_response(30)
    assert answer.type == 7, answer
    assert answer.data["content"] == INTERRUPTED.format(jobs[3])
    assert answer.data["components"] == []
    stale = its[3].original_message()
    assert stale is not None and stale["content"] == INTERRUPTED.format(jobs[3])
    assert stale["components"] == []

    rows = await db_rows(stack, "SELECT state, credits_charged FROM jobs ORDER BY id")
    assert [(r["state"], r["credits_charged"]) for r in rows] == [("interrupted", 0)] * 4
    assert await budget(stack) == (0, 0)
    # Settled: no token is kept, and none was ever written to a log.
    assert await db_rows(stack, "SELECT * FROM job_replies") == []
    for proc in (first, second):
        for it in its:
            assert it.token not in proc.log()
    assert await second.terminate() == 0


async def kill_while_posting(
    stack: Stack, proc: BotProcess, path: str, status: int | None, *, token_expired: bool = False
) -> tuple[FakeInteraction, int]:
    """One /imagine whose result post, to ``path``, is held by Discord while the bot is killed;
    Discord then answers ``status`` (None: takes the post). Returns it and its job id."""
    await proc.start_and_wait_ready()
    stack.discord.inject("POST" if "channels" in path else "PATCH", path, status, delay=3.0)
    stack.api.latency = 1.0
    it = await submit(stack, stack.discord.member, "a lighthouse")
    if token_expired:
        stack.discord.expire_token(it.token)
    await stack.discord.wait_for_call(None, path, timeout=30)
    proc.kill()
    (row,) = await db_rows(stack, "SELECT id, state FROM jobs")
    assert row["state"] == "running"
    return it, int(row["id"])


async def test_kill_between_posting_and_recording_is_charged_once(
    stack: Stack, procs: tuple[BotProcess, BotProcess]
) -> None:
    first, second = procs
    # Discord takes the result, but the bot dies before it hears so and records the charge.
    it, job = await kill_while_posting(stack, first, RESULT_EDIT, None)
    result = await delivered(it)

    await second.start_and_wait_ready()
    (row,) = await db_rows(
        stack, "SELECT state, credits_charged, images_delivered, message_id FROM jobs"
    )
    assert (row["state"], row["credits_charged"], row["images_delivered"]) == ("done", 1, 1)
    assert row["message_id"] == int(result["id"])
    assert await budget(stack) == (0, 1)
    # No second post, no refund notice, and the result left as it was.
    assert channel_posts(stack) == []
    assert len(stack.discord.calls_to("PATCH", RESULT_EDIT)) == 1
    assert it.original_message() == result
    assert await db_rows(stack, "SELECT * FROM job_replies") == []
    assert f"job {job} was posted in message" in second.log()
    assert await second.terminate() == 0


async def test_a_result_posted_in_the_channel_before_the_kill_is_found_there(
    stack: Stack, procs: tuple[BotProcess, BotProcess]
) -> None:
    first, second = procs
    channel = stack.discord.default_channel.id
    # The token expired, so the result went to the channel; the bot died as it was posted.
    await kill_while_posting(
        stack, first, rf"/channels/{channel}/messages", None, token_expired=True
    )

    def results() -> list[dict[str, Any]]:
        return [m for m in stack.discord.messages_in(channel) if m["attachments"]]

    (post,) = await eventually(results, 30, "the result in the channel")

    await second.start_and_wait_ready()
    (row,) = await db_rows(stack, "SELECT state, credits_charged, message_id FROM jobs")
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    assert row["message_id"] == int(post["id"])
    assert await budget(stack) == (0, 1)
    # No second post and no refund notice.
    assert len(stack.discord.calls_to("POST", rf"/channels/{channel}/messages")) == 1
    assert results() == [post]
    assert await second.terminate() == 0


async def test_a_result_the_bot_cannot_see_in_its_channel_is_found_through_the_token(
    stack: Stack, procs: tuple[BotProcess, BotProcess]
) -> None:
    first, second = procs
    channel = stack.discord.default_channel.id
    it, _ = await kill_while_posting(stack, first, RESULT_EDIT, None)
    result = await delivered(it)
    # Like a user install in a server without the bot: it may not read the channel.
    stack.discord.inject("GET", rf"/channels/{channel}/messages.*", 403, times=None)

    await second.start_and_wait_ready()
    (row,) = await db_rows(stack, "SELECT state, credits_charged, message_id FROM jobs")
    assert (row["state"], row["credits_charged"]) == ("done", 1)
    assert row["message_id"] == int(result["id"])
    assert channel_posts(stack) == []
    assert await second.terminate() == 0


async def test_kill_before_the_post_lands_is_refunded(
    stack: Stack, procs: tuple[BotProcess, BotProcess]
) -> None:
    first, second = procs
    # The bot dies while posting, and the post never reaches Discord.
    it, job = await kill_while_posting(stack, first, RESULT_EDIT, 500)

    await second.start_and_wait_ready()
    message = await corrected(it, job)
    assert message["components"] == [] and not message["attachments"]
    (row,) = await db_rows(stack, "SELECT state, credits_charged FROM jobs")
    assert (row["state"], row["credits_charged"]) == ("interrupted", 0)
    assert await budget(stack) == (0, 0)
    assert await db_rows(stack, "SELECT * FROM job_replies") == []
    assert await second.terminate() == 0


async def test_a_token_is_dropped_when_it_expires_though_its_job_is_still_open(
    stack: Stack,
) -> None:
    # The interaction reaches the bot with 10 s left of the time it uses the token for.
    stack.discord.interaction_age_s = 15 * 60 - 30 - 10
    proc = BotProcess(stack, **ENV, GENERATION_TIMEOUT_S="300")
    try:
        await proc.start_and_wait_ready()
        stack.api.latency = 300.0
        it = await submit(stack, stack.discord.member, "a slow lighthouse")

        async def reply() -> dict[str, Any]:
            (row,) = await db_rows(stack, "SELECT message_id, token FROM job_replies")
            return row

        await eventually(lambda: stack.api.in_flight == 1, 30, "the call in flight")
        assert (await reply())["token"] == it.token
        deadline = time.monotonic() + 60
        while (row := await reply())["token"] is not None:
            assert time.monotonic() < deadline, "the expired token is still stored"
            await asyncio.sleep(0.5)
        # Still open: only the token went, the message id is kept for a restart.
        assert row["message_id"] == it.original_message_id
        (job,) = await db_rows(stack, "SELECT state FROM jobs")
        assert job["state"] == "running"
        assert it.token not in proc.log()
    finally:
        proc.close()
