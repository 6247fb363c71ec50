"""The job queue end to end, in this process: concurrency, fairness, limits, Cancel, delivery.

The real bot against the fake Discord and a slowed-down fake AI/ML API on 127.0.0.1. Process-level
behaviour (SIGKILL, SIGTERM) is in test_e2e_crash.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from typing import Any

import pytest

from bot.client import ImagenBot
from bot.logs import guild_id_var, job_id_var, user_id_var
from bot.storage import JobRow
from tests.fakes.aimlapi import Fault
from tests.fakes.discord import (
    DEFAULT_MEMBER_PERMISSIONS,
    FakeInteraction,
    FakeMember,
    FakeUser,
    RecordedCall,
)
from tests.harness import Stack, eventually, running_bot
from tests.storage_sql import sql_rows

P_MANAGE_MESSAGES = 1 << 13
PATCH_ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


def add_member(stack: Stack, user_id: int, name: str, permissions: int = 0) -> FakeMember:
    member = FakeMember(
        FakeUser(user_id, name, name.title()),
        permissions=DEFAULT_MEMBER_PERMISSIONS | permissions,
    )
    stack.discord.default_guild.members.append(member)
    return member


def users(stack: Stack, count: int) -> list[FakeMember]:
    """``count`` distinct members of the default guild (the member, the admin, then new ones)."""
    members = [stack.discord.member, stack.discord.admin]
    for n in range(len(members), count):
        members.append(add_member(stack, 1_200_000_000_000_100_000 + n, f"user{n}"))
    return members[:count]


async def submit(stack: Stack, user: FakeMember, prompt: str) -> FakeInteraction:
    """/imagine as ``user``; returns once the bot has answered (deferred or refused)."""
    it = await stack.discord.slash("imagine", {"prompt": prompt}, user=user)
    await it.wait_response()
    return it


async def delivered(it: FakeInteraction, timeout: float = 30.0) -> dict[str, Any]:
    """The deferred response once it carries the images."""

    def done() -> dict[str, Any] | None:
        message = it.original_message()
        return message if message is not None and message["attachments"] else None

    message: dict[str, Any] = await eventually(done, timeout, f"the images of {it.id}")
    return message


async def queued_message(it: FakeInteraction) -> dict[str, Any]:
    """The deferred response once it shows the queue position and the Cancel button."""

    def shown() -> dict[str, Any] | None:
        message = it.original_message()
        return message if message is not None and "position" in message["content"] else None

    message: dict[str, Any] = await eventually(shown, 30, f"the queue position of {it.id}")
    return message


def job_id_of(message: dict[str, Any]) -> int:
    """The job id a message belongs to, from its buttons' custom ids."""
    for row in message.get("components") or []:
        for component in row["components"]:
            match = re.fullmatch(r"imagen:\w+:(\d+)", component.get("custom_id", ""))
            if match:
                return int(match[1])
    raise AssertionError(f"no job button on {message}")


def token_calls(stack: Stack, it: FakeInteraction, method: str = "PATCH") -> list[RecordedCall]:
    return stack.discord.calls_to(
        method, rf"/webhooks/\d+/{re.escape(it.token)}/messages/@original"
    )


async def budget(bot: ImagenBot) -> tuple[int, int]:
    """(reserved, charged) over every user and day."""
    rows = await sql_rows(
        bot.db,
        "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c FROM budget_usage",
    )
    return int(rows[0]["r"]), int(rows[0]["c"])


async def settled(bot: ImagenBot, job_id: int, timeout: float = 30.0) -> JobRow:
    """The job's row once it has left the open states."""
    deadline = time.monotonic() + timeout
    while True:
        row = await bot.db.jobs.get_job(job_id)
        assert row is not None
        if not row.is_open:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {row.state} after {timeout} s")
        await asyncio.sleep(0.02)


async def job_count(bot: ImagenBot) -> int:
    rows = await sql_rows(bot.db, "SELECT COUNT(*) AS n FROM jobs")
    return int(rows[0]["n"])


def api_prompts(stack: Stack) -> list[str]:
    """Prompts in the order their API calls started."""
    return [r.body["prompt"] for r in stack.api.requests]


# -- concurrency and fairness ----------------------------------------------------------------


async def test_never_more_than_max_concurrent_calls_in_flight(stack: Stack) -> None:
    stack.api.latency = 0.3
    async with running_bot(
        stack,
        MAX_CONCURRENT_GENERATIONS="2",
        MAX_JOBS_PER_USER="3",
        DEFAULT_DAILY_CREDITS="100",
    ) as bot:
        people = users(stack, 4)
        started = time.monotonic()
        its = [
            await stack.discord.slash("imagine", {"prompt": f"u{n} job{j}"}, user=person)
            for j in range(3)
            for n, person in enumerate(people)
        ]
        messages = [await delivered(it) for it in its]
        elapsed = time.monotonic() - started
        assert all(len(m["attachments"]) == 1 for m in messages)
        assert len(stack.api.requests) == 12
        assert stack.api.max_in_flight == 2
        # Twelve 0.3 s calls two at a time cannot take less than six rounds.
        assert elapsed >= 6 * 0.3
        # A job is settled just after its message is posted: wait on each job's own state.
        rows = [await settled(bot, job_id_of(m)) for m in messages]
        assert [(r.state, r.credits_charged) for r in rows] == [("done", 1)] * 12
        assert await budget(bot) == (0, 12)
        print(f"12 jobs, 4 users: max in flight {stack.api.max_in_flight}, {elapsed:.2f} s")


async def test_a_busy_user_does_not_hold_back_a_second_users_single_job(stack: Stack) -> None:
    stack.api.latency = 0.25
    async with running_bot(
        stack,
        MAX_CONCURRENT_GENERATIONS="1",
        MAX_JOBS_PER_USER="8",
        DEFAULT_DAILY_CREDITS="100",
    ):
        busy, other = users(stack, 2)
        busy_its = [await submit(stack, busy, f"busy {n}") for n in range(6)]
        # Jobs that had started (the running one, maybe one more) when the other user asked.
        started_before = len(stack.api.requests)
        single = await submit(stack, other, "single")
        started_after = len(stack.api.requests)
        # First in line at once, ahead of the busy user's queued jobs...
        shown = await queued_message(single)
        assert "position 1" in shown["content"], shown
        for it in [*busy_its, single]:
            await delivered(it)
        order = api_prompts(stack)
        # ...so it is the very next call to start: delayed by the one running job at most.
        index = order.index("single")
        assert started_before <= index <= started_after, (order, started_before, started_after)
        assert order[:index] + order[index + 1 :] == [f"busy {n}" for n in range(6)]
        assert stack.api.max_in_flight == 1


# -- per-user limit --------------------------------------------------------------------------


async def test_the_job_over_the_per_user_limit_is_refused_before_anything_is_charged(
    stack: Stack,
) -> None:
    stack.api.latency = 1.0
    async with running_bot(stack, MAX_JOBS_PER_USER="2", DEFAULT_DAILY_CREDITS="100") as bot:
        user, other = users(stack, 2)
        first = [await submit(stack, user, f"first {n}") for n in range(2)]
        assert all(it.response and it.response.type == 5 for it in first)
        before = (await job_count(bot), await budget(bot))
        assert before == (2, (2, 0))

        third = await submit(stack, user, "one too many")
        assert third.response is not None and third.response.type == 4
        assert third.response.data["flags"] & 64
        assert "already have 2 jobs" in third.response.data["content"]
        # Refused before the budget statement: no job row, nothing reserved, no API call.
        assert (await job_count(bot), await budget(bot)) == before
        assert "one too many" not in api_prompts(stack)

        # Another user is not affected by this user's limit.
        theirs = await submit(stack, other, "someone else")
        assert theirs.response is not None and theirs.response.type == 5

        # A finished job frees a place.
        stack.api.latency = 0.0
        for it in [*first, theirs]:
            await delivered(it)
        again = await submit(stack, user, "after the first two")
        assert again.response is not None and again.response.type == 5
        await delivered(again)
        assert await budget(bot) == (0, 4)


# -- queue position and Cancel ---------------------------------------------------------------


async def test_queued_jobs_show_their_position_and_can_be_cancelled(stack: Stack) -> None:
    stack.api.latency = 0.25
    stack.api.inject(Fault(delay=1.0))  # the first job holds the slot while the queue fills
    async with running_bot(
        stack,
        MAX_CONCURRENT_GENERATIONS="1",
        MAX_JOBS_PER_USER="16",
        DEFAULT_DAILY_CREDITS="100",
    ) as bot:
        busy, second, third = users(stack, 3)
        moderator = add_member(stack, 1_200_000_000_000_200_000, "moderator", P_MANAGE_MESSAGES)
        busy_its = [await submit(stack, busy, f"busy {n}") for n in range(14)]
        last = busy_its[-1]
        last_admitted = time.perf_counter()  # the fake Discord's clock for its calls
        second_it = await submit(stack, second, "second")
        third_it = await submit(stack, third, "third")

        queued = await queued_message(third_it)
        assert re.search(r"position \d+", queued["content"]), queued
        third_job = job_id_of(queued)
        buttons = [c for row in queued["components"] for c in row["components"]]
        assert [b["custom_id"] for b in buttons] == [f"imagen:cancel:{third_job}"]
        assert buttons[0]["label"] == "Cancel"

        # Someone else may not cancel it.
        denied = await stack.discord.click(queued["id"], f"imagen:cancel:{third_job}", user=second)
        refusal = await denied.wait_response()
        assert refusal.type == 4 and refusal.data["flags"] & 64
        assert "Only the person who asked" in refusal.data["content"]
        assert (await bot.db.jobs.get_job(third_job)).state == "queued"  # type: ignore[union-attr]

        # The requester may: refunded, and the message says so.
        reserved_before, _ = await budget(bot)
        click = await stack.discord.click(queued["id"], f"imagen:cancel:{third_job}", user=third)
        answer = await click.wait_response()
        assert answer.type == 7 and "Cancelled" in answer.data["content"]
        assert answer.data["components"] == []
        message = stack.discord.get_message(int(queued["id"]))
        assert message is not None and "Cancelled" in message["content"]
        row = await bot.db.jobs.get_job(third_job)
        assert row is not None and row.state == "cancelled" and row.credits_charged == 0
        assert (await budget(bot))[0] == reserved_before - 1

        # So may a moderator (Manage Messages), on someone else's job.
        second_msg = await queued_message(second_it)
        second_job = job_id_of(second_msg)
        by_mod = await stack.discord.click(
            second_msg["id"], f"imagen:cancel:{second_job}", user=moderator
        )
        assert "Cancelled" in (await by_mod.wait_response()).data["content"]
        row = await bot.db.jobs.get_job(second_job)
        assert row is not None and row.state == "cancelled"

        # The last of the busy user's jobs moves up the queue; its message follows, coalesced.
        # A queued job answers with its position at once (no defer-then-edit).
        first_answer = await last.wait_response()
        assert first_answer.type == 4
        first_position = int(re.findall(r"position (\d+)", first_answer.data["content"])[0])
        result = await delivered(last, timeout=60)
        assert len(result["attachments"]) == 1 and result["components"]
        edits = [
            (call.time, int(m[1]))
            for call in token_calls(stack, last)
            if (m := re.search(r"position (\d+)", call.json.get("content") or ""))
        ]
        shown = [first_position] + [position for _, position in edits]
        assert first_position >= 10
        assert len(shown) >= 2 and shown[-1] < shown[0], shown  # it did move
        # At most one edit per 3 s however often the position changed (12+ times), the first
        # counted from the answer: gaps have lower bounds only, which load cannot break.
        times = [last_admitted] + [at for at, _ in edits]
        spacing = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= 3.0 - 0.05 for gap in spacing), (shown, spacing)
        assert len(shown) < first_position
        print(f"position edits {shown}, {spacing} s apart")

        assert "second" not in api_prompts(stack) and "third" not in api_prompts(stack)
        for it in (second_it, third_it):
            message = it.original_message()
            assert message is not None and message["content"].startswith("Cancelled")
            assert message["components"] == [] and message["attachments"] == []
        for it in busy_its:
            await delivered(it)
        assert await budget(bot) == (0, 14)
        assert await bot.db.jobs.open_jobs() == []


async def test_a_job_that_waited_logs_under_its_own_ids_only(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A waiting job keeps no task; its own starts from inside the job that freed the slot. Its
    log lines carry its ids and none of that job's (here a DM job after a server's)."""
    caplog.set_level(logging.INFO, logger="bot.jobs")
    lines: list[tuple[str, int | None, int | None, int | None]] = []

    class Note(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            ids = (job_id_var.get(), guild_id_var.get(), user_id_var.get())
            lines.append((record.getMessage(), *ids))

    note = Note(logging.INFO)
    logging.getLogger("bot.jobs").addHandler(note)
    stack.api.latency = 0.5
    try:
        async with running_bot(stack, MAX_CONCURRENT_GENERATIONS="1") as bot:
            member, other = users(stack, 2)
            in_server = await submit(stack, member, "in the server")
            it = await stack.discord.slash(
                "imagine", {"prompt": "in a DM"}, user=other.user, dm=True
            )
            in_dm = await queued_message(it)
            first = await delivered(in_server)
            await delivered(it)
            server_job, dm_job = job_id_of(first), job_id_of(in_dm)
            assert (await settled(bot, dm_job)).guild_id is None
    finally:
        logging.getLogger("bot.jobs").removeHandler(note)
    delivered_lines = {line[1]: line for line in lines if " delivered " in line[0]}
    assert delivered_lines[server_job][2:] == (stack.discord.default_guild.id, member.user.id)
    assert delivered_lines[dm_job][2:] == (None, other.user.id)


async def test_cancel_after_the_job_started_is_refused(stack: Stack) -> None:
    stack.api.latency = 1.0
    async with running_bot(stack, MAX_CONCURRENT_GENERATIONS="1", MAX_JOBS_PER_USER="4") as bot:
        user = stack.discord.member
        running = await submit(stack, user, "running")
        queued = await submit(stack, user, "queued")
        message = await queued_message(queued)
        job_id = job_id_of(message)
        await eventually(lambda: "queued" in api_prompts(stack), 30, "the queued job to start")
        late = await stack.discord.click(message["id"], f"imagen:cancel:{job_id}", user=user)
        assert "already generating" in (await late.wait_response()).data["content"]
        stack.api.latency = 0.0
        await delivered(running)
        await delivered(queued)
        row = await bot.db.jobs.get_job(job_id)
        assert row is not None and row.state == "done" and row.credits_charged == 1


# -- delivery --------------------------------------------------------------------------------


async def test_a_job_outliving_its_token_is_posted_in_the_channel(stack: Stack) -> None:
    stack.api.latency = 0.8
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100") as bot:
        user = stack.discord.member
        it = await stack.discord.slash(
            "imagine", {"prompt": "@everyone look at <@42> and <@&7>"}, user=user
        )
        await it.wait_response()
        await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
        stack.discord.expire_token(it.token)

        channel = stack.discord.default_channel.id
        post = await stack.discord.wait_for_call(
            "POST", rf"/channels/{channel}/messages", timeout=10
        )
        assert post.status == 200
        assert post.json["content"].startswith(f"<@{user.user.id}>")
        mentions = post.json["allowed_mentions"]
        assert mentions["parse"] == []
        assert [str(u) for u in mentions["users"]] == [str(user.user.id)]
        assert not mentions.get("roles") and not mentions.get("replied_user")
        assert len(post.files) == 1
        message = stack.discord.get_message(int(post.response["id"]))
        assert message is not None and message["attachments"] and message["embeds"]
        job_id = job_id_of(message)
        row = await settled(bot, job_id)
        assert row.state == "done" and row.credits_charged == 1
        assert row.message_id == int(message["id"])
        # The edit was tried once, refused for the token, and not retried.
        assert [c.status for c in token_calls(stack, it)] == [401]
        # Its buttons work like any other result's.
        details = await stack.discord.click(message["id"], f"imagen:details:{job_id}")
        assert (await details.wait_response()).data["flags"] & 64


async def test_a_followup_failing_a_few_times_is_retried_and_delivered(stack: Stack) -> None:
    async with running_bot(stack) as bot:
        # discord.py's webhook client itself retries 5xx after 1 s and 3 s.
        stack.discord.inject("PATCH", PATCH_ORIGINAL, 500)
        stack.discord.inject("PATCH", PATCH_ORIGINAL, 502)
        it = await submit(stack, stack.discord.member, "persistent")
        message = await delivered(it)
        assert [c.status for c in token_calls(stack, it)] == [500, 502, 200]
        row = await bot.db.jobs.get_job(job_id_of(message))
        assert row is not None and row.state == "done" and row.credits_charged == 1


async def test_a_followup_that_keeps_failing_is_refunded_and_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(stack) as bot:
        # A 429 without Via (Cloudflare's, not Discord's) is one discord.py does not retry
        # itself, so the bot's own bounded retry is what is exercised here.
        stack.discord.inject("PATCH", PATCH_ORIGINAL, 429, times=None, headers={"Via": ""})
        it = await submit(stack, stack.discord.member, "undeliverable")
        rows = await eventually(
            lambda: [
                r
                for r in caplog.records
                if "failed" in r.getMessage() and "delivery" in r.getMessage()
            ],
            30,
            "the failure to be logged",
        )
        attempts = 3  # TEST_PACING's two retries after the first try
        # The delivery attempts, then one (also refused) to say it failed; nothing more.
        calls = await eventually(
            lambda: (
                (c := token_calls(stack, it))
                and all(x.status for x in c)
                and len(c) > attempts
                and c
            ),
            30,
            "the last edit",
        )
        assert [c.status for c in calls] == [429] * (attempts + 1)
        assert all(c.files for c in calls[:attempts])
        assert "could not be posted" in calls[-1].json["content"]
        (job,) = await sql_rows(bot.db, "SELECT id, state, error_class, credits_charged FROM jobs")
        assert (job["state"], job["error_class"], job["credits_charged"]) == (
            "failed",
            "delivery",
            0,
        )
        assert f"job {job['id']}" in rows[0].getMessage()
        assert await budget(bot) == (0, 0)
        stack.discord.clear_faults()
