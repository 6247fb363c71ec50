"""Crash safety and graceful shutdown of a real ``python -m bot`` process.

The bot runs as a child process (tests.harness.BotProcess) against the fake Discord and a slow fake
AI/ML API, and is killed with SIGKILL or stopped with SIGTERM/SIGINT while jobs run; the database
file it leaves behind is then read directly.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.discord import FakeInteraction, FakeMember
from tests.harness import BotProcess, Stack, eventually
from tests.storage_sql import sql_rows
from tests.test_e2e_jobs import (
    delivered,
    queued_message,
    users,
)

ENV = {
    "MAX_CONCURRENT_GENERATIONS": "2",
    "MAX_JOBS_PER_USER": "2",
    "DEFAULT_DAILY_CREDITS": "100",
}


async def submit(stack: Stack, user: FakeMember, prompt: str) -> FakeInteraction:
    it = await stack.discord.slash("imagine", {"prompt": prompt}, user=user)
    response = await it.wait_response(30)
    # Deferred, or (when it has to wait) answered at once with its queue position.
    assert response.type in (4, 5), response
    return it


def job_id_in(message: dict[str, Any]) -> int:
    name: str = message["attachments"][0]["filename"]
    return int(name.split("-")[1])


def channel_posts(stack: Stack) -> list[dict[str, Any]]:
    """Bot messages posted in the default channel through the bot API (not interaction replies)."""
    channel = stack.discord.default_channel.id
    return [
        c.json
        for c in stack.discord.calls_to("POST", rf"/channels/{channel}/messages")
        if c.status == 200
    ]


async def db_rows(stack: Stack, sql: str) -> list[dict[str, Any]]:
    db = await SQLiteDatabase.open(stack.db_path)
    async with db:
        return [dict(r) for r in await sql_rows(db, sql)]


async def budget(stack: Stack) -> tuple[int, int]:
    (row,) = await db_rows(
        stack,
        "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c FROM budget_usage",
    )
    return int(row["r"]), int(row["c"])


def assert_closed_cleanly(stack: Stack, log: str) -> None:
    """No leaked session in the log, and the database closed (SQLite removes the WAL file when
    the last connection closes properly; a killed process leaves it behind)."""
    assert not stack.db_path.with_name(stack.db_path.name + "-wal").exists()
    assert_clean_log(log)


def assert_clean_log(log: str) -> None:
    needles = (
        "Traceback",
        "Unclosed client session",
        "Unclosed connector",
        "never awaited",
        "Task was destroyed",
        "fake.discord-token-secret",
        "aiml-test-key-secret",
    )
    for needle in needles:
        assert needle not in log, f"{needle!r} in the bot's log:\n{log}"


async def test_sigkill_refunds_each_open_job_once_and_tells_each_user(stack: Stack) -> None:
    alice, bob, carol = users(stack, 3)
    first = BotProcess(stack, **ENV)
    second = BotProcess(stack, **ENV)
    third = BotProcess(stack, **ENV)
    try:
        await first.start_and_wait_ready()
        # A result posted before the crash, for its buttons afterwards.
        earlier = await delivered(await submit(stack, alice, "an old map"))
        earlier_job = job_id_in(earlier)

        stack.api.latency = 60.0
        open_its = [
            await submit(stack, alice, "alice 1"),
            await submit(stack, bob, "bob 1"),
            await submit(stack, alice, "alice 2"),
            await submit(stack, carol, "carol 1"),
        ]
        await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
        rows = await db_rows(stack, "SELECT id, user_id, state FROM jobs WHERE id > 1 ORDER BY id")
        assert sorted(r["state"] for r in rows) == ["queued", "queued", "running", "running"]
        assert await budget(stack) == (4, 1)

        first.kill()
        stack.api.latency = 0.0
        # Their tokens expired meanwhile: the users are told in the channel (the edits the bot
        # makes while they are valid: tests/test_e2e_stale.py).
        for it in open_its:
            stack.discord.expire_token(it.token)
        posts_before = len(channel_posts(stack))
        assert posts_before == 0

        await second.start_and_wait_ready()
        posts = await eventually(
            lambda: (p := channel_posts(stack)) and len(p) >= 4 and p, 30, "four notices"
        )
        told = {}
        for post in posts:
            (user_id,) = post["allowed_mentions"]["users"]
            assert post["allowed_mentions"]["parse"] == []
            assert post["content"].startswith(f"<@{user_id}>")
            assert "not charged" in post["content"]
            job = int(post["content"].split("job ")[1].split(")")[0])
            told[job] = int(user_id)
        owners = {r["id"]: r["user_id"] for r in rows}
        assert told == owners  # one notice per open job, to its owner only

        rows = await db_rows(stack, "SELECT * FROM jobs ORDER BY id")
        assert [(r["state"], r["credits_charged"]) for r in rows] == [("done", 1)] + [
            ("interrupted", 0)
        ] * 4
        assert all(r["error_class"] == "interrupted" for r in rows[1:])
        assert await budget(stack) == (0, 1)

        # Buttons on the message posted before the crash still work.
        details = await stack.discord.click(earlier["id"], f"imagen:details:{earlier_job}")
        assert "an old map" in json.dumps((await details.wait_response()).data)
        reroll = await stack.discord.click(
            earlier["id"], f"imagen:reroll:{earlier_job}", user=alice
        )
        assert len((await delivered(reroll))["attachments"]) == 1
        assert stack.api.requests[-1].body["prompt"] == "an old map"
        delete = await stack.discord.click(
            earlier["id"], f"imagen:delete:{earlier_job}", user=alice
        )
        await delete.wait_response()
        await stack.discord.wait_for_call("DELETE", r".*/messages/.*")
        assert stack.discord.get_message(int(earlier["id"])) is None
        assert await second.terminate() == 0

        # A second restart finds nothing to refund and tells nobody again.
        await third.start_and_wait_ready()
        helped = await stack.discord.slash("help")
        await helped.wait_response(30)
        assert await third.terminate() == 0
        # Once the process has exited nothing more can come: still the four notices of the
        # first restart, no fifth from it and none from this one.
        assert len(channel_posts(stack)) == 4
        assert await budget(stack) == (0, 2)
        for proc in (second, third):
            assert_clean_log(proc.log())
        assert "refunded 4 jobs interrupted" in second.log()
        assert "interrupted" not in third.log()
        del open_its
    finally:
        for proc in (first, second, third):
            proc.close()


async def test_sigterm_finishes_running_jobs_and_refunds_queued_ones(stack: Stack) -> None:
    alice, bob, carol = users(stack, 3)
    grace = 5.0
    proc = BotProcess(stack, **ENV, SHUTDOWN_GRACE_S=str(grace))
    try:
        await proc.start_and_wait_ready()
        stack.api.latency = 1.5
        running = [await submit(stack, alice, "alice 1"), await submit(stack, bob, "bob 1")]
        queued = [await submit(stack, alice, "alice 2"), await submit(stack, bob, "bob 2")]
        await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
        for it in queued:
            await queued_message(it)

        assert proc.proc is not None
        signalled = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        await eventually(lambda: "shutting down" in proc.log(), 30, "the shutdown to start")

        # A new request during the grace is refused, uncharged.
        late = await stack.discord.slash("imagine", {"prompt": "too late"}, user=carol)
        refusal = await late.wait_response(30)
        assert refusal.type == 4 and refusal.data["flags"] & 64
        assert "restarting" in refusal.data["content"].lower()

        assert await proc.wait(grace + 60) == 0
        took = time.monotonic() - signalled
        assert_closed_cleanly(stack, proc.log())

        for it in running:
            message = await delivered(it)
            assert len(message["attachments"]) == 1
        for it in queued:
            told = it.original_message()
            assert told is not None and not told["attachments"]
            assert "restarting" in told["content"].lower()
            assert "try again in a minute" in told["content"].lower()
            assert told["components"] == []
        rows = await db_rows(
            stack, "SELECT prompt, state, error_class, credits_charged FROM jobs ORDER BY id"
        )
        assert [tuple(r.values()) for r in rows] == [
            ("alice 1", "done", None, 1),
            ("bob 1", "done", None, 1),
            ("alice 2", "cancelled", "shutting_down", 0),
            ("bob 2", "cancelled", "shutting_down", 0),
        ]
        assert await budget(stack) == (0, 2)
        assert [r.body["prompt"] for r in stack.api.requests] == ["alice 1", "bob 1"]
        print(f"SIGTERM: exited 0 after {took:.2f} s (grace {grace} s)")
    finally:
        proc.close()


async def test_sigint_cuts_off_jobs_still_running_after_the_grace(stack: Stack) -> None:
    alice, bob = users(stack, 2)
    grace = 1.0
    proc = BotProcess(
        stack, **{**ENV, "MAX_CONCURRENT_GENERATIONS": "1"}, SHUTDOWN_GRACE_S=str(grace)
    )
    try:
        await proc.start_and_wait_ready()
        stack.api.latency = 60.0
        running = await submit(stack, alice, "slow")
        queued = await submit(stack, bob, "waiting")
        await eventually(lambda: stack.api.in_flight == 1, 30, "the call in flight")
        await queued_message(queued)
        assert proc.proc is not None
        signalled = time.monotonic()
        proc.proc.send_signal(signal.SIGINT)
        assert await proc.wait(45) == 0
        took = time.monotonic() - signalled
        # It gave the running job its grace, then cut it off instead of waiting out its call.
        assert grace <= took < 60.0, took
        assert_closed_cleanly(stack, proc.log())

        cut = running.original_message()
        assert cut is not None and not cut["attachments"]
        assert "restarted before your images were ready" in cut["content"]
        waited = queued.original_message()
        assert waited is not None and "restarting" in waited["content"].lower()
        rows = await db_rows(stack, "SELECT prompt, state, credits_charged FROM jobs ORDER BY id")
        assert [(r["prompt"], r["state"], r["credits_charged"]) for r in rows] == [
            ("slow", "interrupted", 0),
            ("waiting", "cancelled", 0),
        ]
        assert await budget(stack) == (0, 0)
        print(f"SIGINT: exited 0 after {took:.2f} s (grace {grace} s)")
    finally:
        proc.close()
