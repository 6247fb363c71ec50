"""Crash cycles: ``python -m bot`` killed with SIGKILL at random points of a stream of jobs, again
and again on the same database, then checked against what the fake Discord recorded.

Afterwards every reservation is either charged with its images delivered in a message, or
refunded; never both, never neither. No job is left open, the budget counters equal the sums of
the job rows, and the database passes ``PRAGMA integrity_check``. CI runs a few rounds;
``IMAGEN_RELIABILITY_SCALE=full`` runs twenty.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections import defaultdict
from typing import Any

import pytest

from bot.catalogue import get_model
from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS, FakeMember, FakeUser
from tests.harness import BotProcess, Stack, eventually
from tests.reliability.support import LOST, SecretScan, count, scale
from tests.storage_sql import sql_rows

pytestmark = pytest.mark.reliability

ENV = {
    "DEFAULT_DAILY_CREDITS": "100000",
    "MAX_CONCURRENT_GENERATIONS": "2",
    "MAX_JOBS_PER_USER": "2",
    "SHUTDOWN_GRACE_S": "5",
}
ATTACHMENT = re.compile(r"imagen-(\d+)-\d+\.\w+")


def members(stack: Stack, n: int) -> list[FakeMember]:
    guild = stack.discord.default_guild
    found = [stack.discord.member, stack.discord.admin]
    for i in range(len(found), n):
        member = FakeMember(
            FakeUser(1_200_000_000_000_700_000 + i, f"crash{i}"),
            permissions=DEFAULT_MEMBER_PERMISSIONS,
        )
        guild.members.append(member)
        found.append(member)
    return found[:n]


async def stream_of_jobs(
    stack: Stack, users: list[FakeMember], n: int, rng: random.Random, round_no: int
) -> None:
    for i in range(n):
        user = users[i % len(users)]
        await stack.discord.slash("imagine", {"prompt": f"round {round_no} job {i}"}, user=user)
        await asyncio.sleep(rng.uniform(0.0, 0.3))


def delivered_messages(stack: Stack) -> dict[int, list[dict[str, Any]]]:
    """Job id -> the stored messages carrying its images."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for message in stack.discord.all_messages:
        ids = {
            int(m[1])
            for a in message.get("attachments") or []
            if (m := ATTACHMENT.fullmatch(a.get("filename", "")))
        }
        for job_id in ids:
            found[job_id].append(message)
    return found


async def test_sigkill_at_random_points_loses_nothing(stack: Stack) -> None:
    size = scale()
    stack.api.latency = 0.4
    users = members(stack, 4)
    scan = SecretScan()
    killed_with_open_jobs = 0
    for round_no in range(size.crash_rounds):
        rng = random.Random(9000 + round_no)
        proc = BotProcess(stack, **ENV)
        try:
            await proc.start_and_wait_ready(timeout=30)
            submitting = asyncio.create_task(
                stream_of_jobs(stack, users, size.jobs_per_round, rng, round_no)
            )
            if round_no % 2 == 0:
                # Every other round is killed while an API call is in flight, for certain.
                await eventually(lambda: stack.api.in_flight, 30, "an API call in flight")
            else:
                await asyncio.sleep(rng.uniform(0.2, 2.5))
            if stack.api.in_flight:
                killed_with_open_jobs += 1
            proc.kill()
            submitting.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, LookupError):
                await submitting
        finally:
            proc.close()
        scan.add_file(f"log of round {round_no}", proc.log_path)
        count("crash rounds survived")
    # One last start refunds what the last kill left open; then a clean stop.
    stack.api.latency = 0.0
    final = BotProcess(stack, **ENV)
    try:
        await final.start_and_wait_ready(timeout=30)
        assert await final.terminate() == 0, final.log()
    finally:
        final.close()
    scan.add_file("log of the last start", final.log_path)
    scan.add_stack(stack)
    scan.assert_clean()

    db = await SQLiteDatabase.open(stack.db_path)
    async with db:
        assert await db.integrity_check() == "ok"
        rows = [dict(r) for r in await sql_rows(db, "SELECT * FROM jobs ORDER BY id")]
        usage = [dict(r) for r in await sql_rows(db, "SELECT * FROM budget_usage")]
    messages = delivered_messages(stack)
    assert rows, "no job was ever reserved"

    # Never neither: no job is left open, nothing stays reserved.
    assert [r["id"] for r in rows if r["state"] in ("queued", "running")] == []
    assert sum(u["reserved"] for u in usage) == 0
    # The counters are exactly the job rows: no charge without its job.
    charged_by_key: dict[tuple[str, str, int], int] = defaultdict(int)
    for r in rows:
        charged_by_key[(r["scope"], r["budget_day"], r["user_id"])] += r["credits_charged"]
    for u in usage:
        assert u["charged"] == charged_by_key[(u["scope"], u["day"], u["user_id"])], u

    delivered_refunded: list[int] = []
    for r in rows:
        model = get_model(r["model"])
        assert model is not None
        posted = messages.get(r["id"], [])
        if r["state"] == "done":
            # Charged: its images are in exactly one message, the one the row names.
            assert r["credits_charged"] == r["images_delivered"] * model.credits_per_image > 0
            assert [int(m["id"]) for m in posted] == [r["message_id"]], r
            assert len(posted[0]["attachments"]) == r["images_delivered"]
        else:
            # Refunded: nothing charged.
            assert r["credits_charged"] == 0, r
            if posted:
                # Killed between posting the images and recording the charge: the user got
                # them free. Counted and reported, never charged twice or lost.
                delivered_refunded.append(r["id"])
    states: dict[str, int] = defaultdict(int)
    for r in rows:
        states[r["state"]] += 1
    # The kills really cut jobs off: rounds died with calls in flight, and their jobs were
    # refunded at the next start (nothing charged, as checked above).
    assert killed_with_open_jobs >= (size.crash_rounds + 1) // 2, killed_with_open_jobs
    interrupted = [r for r in rows if r["state"] == "interrupted"]
    assert len(interrupted) >= killed_with_open_jobs, states
    assert all(r["error_class"] == "interrupted" for r in interrupted), interrupted
    assert states["done"] > 0, states
    count("crash jobs reserved", len(rows))
    for state, n in states.items():
        count(f"crash jobs {state}", n)
    count("crash rounds killed with an API call in flight", killed_with_open_jobs)
    count("crash jobs delivered, then refunded", len(delivered_refunded))
    LOST.extend(
        f"job {r['id']} {r['state']} charged {r['credits_charged']}"
        for r in rows
        if r["state"] in ("queued", "running")
    )
