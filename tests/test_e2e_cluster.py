"""Two real ``python -m bot`` processes, each running one of two shards, on one SQLite file.

The fake Discord spreads its two guilds over the shards (``(guild_id >> 22) % 2``): the default
guild is on shard 1, a second guild on shard 0, so each process serves one guild. Together the
processes must behave as one bot: one bot-wide slot cap and line, one per-user limit, one
command sync, IDENTIFY turns, and the jobs of a killed process refunded once by the survivor.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.discord import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_MEMBER_PERMISSIONS,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeUser,
    default_guild,
)
from tests.harness import BotProcess, Stack, eventually, fake_stack
from tests.storage_sql import sql_rows
from tests.test_e2e_stale import corrected, job_of

# The default guild is on shard 1 of 2; this one is on shard 0.
GUILD_ZERO = DEFAULT_GUILD_ID + (1 << 22)
CHANNEL_ZERO = DEFAULT_CHANNEL_ID + (1 << 22)
LEASE_S = 3.0

ENV = {
    "SHARD_COUNT": "2",
    "MAX_CONCURRENT_GENERATIONS": "2",
    "MAX_JOBS_PER_USER": "2",
    "DEFAULT_DAILY_CREDITS": "100",
    "CLUSTER_LEASE_S": str(LEASE_S),
    "GENERATION_TIMEOUT_S": "120",
}
WEBHOOK_EDIT = r"/webhooks/\d+/[^/]+/messages/[^/]+"
CHANNEL_OF = {DEFAULT_GUILD_ID: DEFAULT_CHANNEL_ID, GUILD_ZERO: CHANNEL_ZERO}


def two_shards_guilds() -> list[FakeGuild]:
    """The default guild (shard 1 of 2) and one on shard 0."""
    return [
        default_guild(),
        default_guild(
            guild_id=GUILD_ZERO,
            channel_id=CHANNEL_ZERO,
            member_id=1_200_000_000_000_010_001,
            admin_id=1_200_000_000_000_010_002,
            name="Shard Zero Guild",
        ),
    ]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=two_shards_guilds(), shards=2) as s:
        assert s.discord.shard_of(DEFAULT_GUILD_ID) == 0  # nothing identified yet: one shard
        # Migrated once before the processes start, as an owner upgrading first would.
        db = await SQLiteDatabase.open(s.db_path)
        await db.close()
        yield s


@pytest.fixture
def processes(stack: Stack) -> Iterator[dict[int, BotProcess]]:
    """One process per shard, not started: ``procs[shard_id]``."""
    procs = {shard: BotProcess(stack, **ENV, SHARD_IDS=str(shard)) for shard in (0, 1)}
    yield procs
    for proc in procs.values():
        proc.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def member(stack: Stack, user_id: int, *guild_ids: int) -> FakeMember:
    """One user, a member of each of ``guild_ids``."""
    m = FakeMember(
        FakeUser(user_id, f"user{user_id % 1000}", f"User {user_id % 1000}"),
        permissions=DEFAULT_MEMBER_PERMISSIONS,
    )
    for gid in guild_ids:
        guild = stack.discord.get_guild(gid)
        assert guild is not None
        guild.members.append(m)
    return m


async def submit(stack: Stack, user: FakeMember, guild_id: int, prompt: str) -> FakeInteraction:
    it = await stack.discord.slash(
        "imagine",
        {"prompt": prompt},
        user=user,
        guild_id=guild_id,
        channel_id=CHANNEL_OF.get(guild_id) or guild_channel(stack, guild_id),
    )
    await it.wait_response(30)
    return it


def position(it: FakeInteraction) -> int | None:
    """The queue position the job's first answer showed, None if it was deferred."""
    response = it.response
    assert response is not None
    if response.type == 5:
        return None
    found = re.search(r"position (\d+)", response.data["content"])
    assert found, response.data
    return int(found.group(1))


def guild_channel(stack: Stack, guild_id: int) -> int:
    guild = stack.discord.get_guild(guild_id)
    assert guild is not None
    return guild.channels[0].id


async def db_rows(stack: Stack, sql: str) -> list[dict[str, Any]]:
    """Rows of the stack's database: PostgreSQL when its processes get ``DATABASE_URL``."""
    url = stack.overrides.get("DATABASE_URL")
    db: Database = await (PostgresDatabase.open(url) if url else SQLiteDatabase.open(stack.db_path))
    async with db:
        return [dict(r) for r in await sql_rows(db, sql)]


async def start_both(stack: Stack, procs: dict[int, BotProcess]) -> None:
    # Shard 1's process first: it must not sync, and shard 0's must wait for its IDENTIFY turn.
    await procs[1].start_and_wait_ready(60)
    await procs[0].start_and_wait_ready(60)


async def replies_kept(stack: Stack, count: int) -> None:
    """Wait until ``count`` open jobs' replies are stored, so a restart can correct them."""
    for _ in range(600):
        if len(await db_rows(stack, "SELECT job_id FROM job_replies")) >= count:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{count} job replies stored")


def corrections(stack: Stack) -> list[dict[str, Any]]:
    """Every edit of an interaction's message saying its job was cut off and refunded."""
    return [
        c.json
        for c in stack.discord.calls_to("PATCH", WEBHOOK_EDIT)
        if c.status == 200
        and "restarted before your images" in ((c.json or {}).get("content") or "")
    ]


def channel_notices(stack: Stack, channel_id: int) -> list[dict[str, Any]]:
    return [
        c.json
        for c in stack.discord.calls_to("POST", rf"/channels/{channel_id}/messages")
        if c.status == 200
    ]


async def test_one_sync_identify_turns_and_each_process_serves_its_shard(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    port = free_port()
    processes[1].env["HEALTH_PORT"] = str(port)
    await start_both(stack, processes)
    assert stack.discord.sync_count == 1
    assert "synced by the process that runs shard 0" in processes[1].log()
    assert re.search(r"synced \d+ commands to global", processes[0].log())
    (first, one), (second, zero) = stack.discord.identify_times
    assert (one, zero) == (1, 0)
    # Discord's rule: one IDENTIFY per bucket (max_concurrency 1: one bucket) per 5 seconds.
    assert second - first >= 4.9

    for job_id, guild_id, shard in ((1, GUILD_ZERO, 0), (2, DEFAULT_GUILD_ID, 1)):
        person = member(stack, 1_200_000_000_000_040_000 + job_id, guild_id)
        it = await submit(stack, person, guild_id, "a lighthouse")
        assert it.response is not None and it.response.type == 5
        await eventually(it.original_message, 30, "the images")
        await eventually(
            lambda: f"job {job_id} delivered" in processes[shard].log(),  # noqa: B023
            30,
            f"job {job_id} delivered by shard {shard}'s process",
        )

    # /healthz and /metrics of shard 1's process speak of its shard.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            health = await response.json()
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            metrics = await response.text()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    ((shard,),) = [list(health["shards"])]
    assert (shard["id"], shard["connected"]) == (1, True)
    assert 'imagen_discord_shard_latency_seconds{shard="1"}' in metrics
    assert 'imagen_interactions_total{shard="1"} 1.0' in metrics


async def test_bot_wide_cap_line_and_per_user_limit(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    await start_both(stack, processes)
    await one_cap_one_line_one_limit(
        stack,
        GUILD_ZERO,
        DEFAULT_GUILD_ID,
        GUILD_ZERO,
        DEFAULT_GUILD_ID,
        DEFAULT_GUILD_ID,
        GUILD_ZERO,
    )


async def one_cap_one_line_one_limit(
    stack: Stack, a_in: int, b_in: int, heavy_1_in: int, heavy_2_in: int, light_in: int, over: int
) -> list[dict[str, Any]]:
    """Users a and b take both slots; a heavy user's two jobs and a light user's one wait in
    one fair line, and the heavy user's third (in guild ``over``) is refused. Returns the jobs."""
    stack.api.latency = 15.0
    a = member(stack, 1_200_000_000_000_020_001, a_in)
    b = member(stack, 1_200_000_000_000_020_002, b_in)
    heavy = member(stack, 1_200_000_000_000_020_003, *{heavy_1_in, heavy_2_in, over})
    light = member(stack, 1_200_000_000_000_020_004, light_in)
    started = [await submit(stack, a, a_in, "a"), await submit(stack, b, b_in, "b")]
    await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
    heavy_1 = await submit(stack, heavy, heavy_1_in, "heavy 1")
    heavy_2 = await submit(stack, heavy, heavy_2_in, "heavy 2")
    light_1 = await submit(stack, light, light_in, "light 1")
    # Two slots bot-wide, though each process alone would start two: the rest wait in one line,
    # round-robin over users whichever process holds their jobs: the light user's one job goes
    # ahead of the heavy user's second, which moves back to 3.
    assert [position(it) for it in started] == [None, None]
    assert [position(it) for it in (heavy_1, heavy_2, light_1)] == [1, 2, 2]
    await eventually(
        lambda: "position 3" in (heavy_2.original_message() or {}).get("content", ""),
        30,
        "the heavy user's second job shown at position 3",
    )
    # The heavy user has a job in each process: the limit of 2 counts both.
    refused = await submit(stack, heavy, over, "heavy 3")
    assert refused.response is not None and refused.response.type == 4
    assert refused.response.data["content"] == (
        "You already have 2 jobs queued or generating. Wait for one to finish."
    )
    assert refused.response.data["flags"] & 64

    stack.api.latency = 0.0
    for it in (*started, heavy_1, heavy_2, light_1):
        await eventually(
            lambda: (m := it.original_message()) and m["attachments"],  # noqa: B023
            60,
            f"the images of {it.id}",
        )
    assert stack.api.max_in_flight == 2
    rows = await db_rows(stack, "SELECT id, prompt, state, error_class FROM jobs ORDER BY id")
    assert [r["state"] for r in rows] == ["done"] * 5 + ["cancelled"]
    assert rows[-1]["error_class"] == "queue_full"
    return rows


async def test_killed_process_jobs_refunded_once_by_the_survivor(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    await start_both(stack, processes)
    stack.api.latency = 60.0
    people = [member(stack, 1_200_000_000_000_050_000 + n, DEFAULT_GUILD_ID) for n in range(3)]
    survivor_user = member(stack, 1_200_000_000_000_050_010, GUILD_ZERO)
    doomed = [
        await submit(stack, p, DEFAULT_GUILD_ID, f"doomed {n}") for n, p in enumerate(people[:2])
    ]
    await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
    waiting = await submit(stack, survivor_user, GUILD_ZERO, "waits for a slot")
    doomed.append(await submit(stack, people[2], DEFAULT_GUILD_ID, "doomed 2"))
    assert [position(it) for it in (*doomed, waiting)] == [None, None, 2, 1]
    await replies_kept(stack, 4)

    processes[1].kill()  # shard 1's process, holding both slots and a queued job
    stack.api.latency = 0.0
    # Once its lease expires, the survivor takes the slots back and refunds the dead jobs.
    await eventually(
        lambda: (m := waiting.original_message()) and m["attachments"], 60, "the waiting job ran"
    )
    # Each member's own message (ticket or "generating…") says so, through its stored token.
    rows = await db_rows(stack, "SELECT id, prompt FROM jobs ORDER BY id")
    for it in doomed:
        message = await corrected(it, job_of(it, rows))
        assert message["components"] == []
    assert channel_notices(stack, DEFAULT_CHANNEL_ID) == []
    told = len(corrections(stack))
    assert told == 3
    assert "refunded 3 jobs" in processes[0].log()
    rows = await db_rows(stack, "SELECT id, state FROM jobs ORDER BY id")
    assert [r["state"] for r in rows] == ["interrupted", "interrupted", "done", "interrupted"]
    (usage,) = await db_rows(
        stack, "SELECT SUM(reserved) AS reserved, SUM(charged) AS charged FROM budget_usage"
    )
    assert (usage["reserved"], usage["charged"]) == (0, 1)

    # Its restart refunds nothing twice and tells no one again.
    restarted = BotProcess(stack, **ENV, SHARD_IDS="1")
    processes[2] = restarted
    await restarted.start_and_wait_ready(60)
    again = await submit(stack, people[0], DEFAULT_GUILD_ID, "after the restart")
    await eventually(
        lambda: (m := again.original_message()) and m["attachments"], 60, "served again"
    )
    assert len(corrections(stack)) == told
    assert channel_notices(stack, DEFAULT_CHANNEL_ID) == []
    assert "jobs interrupted" not in restarted.log()
    (usage,) = await db_rows(
        stack, "SELECT SUM(reserved) AS reserved, SUM(charged) AS charged FROM budget_usage"
    )
    assert (usage["reserved"], usage["charged"]) == (0, 2)


async def test_a_restart_refunds_its_previous_life_without_waiting_for_the_lease(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    # A lease far longer than the test: only the restart itself can know the jobs are dead.
    for proc in processes.values():
        proc.env["CLUSTER_LEASE_S"] = "600"
    await start_both(stack, processes)
    stack.api.latency = 60.0
    people = [member(stack, 1_200_000_000_000_060_001 + n, DEFAULT_GUILD_ID) for n in range(2)]
    cut = [await submit(stack, p, DEFAULT_GUILD_ID, f"cut off {n}") for n, p in enumerate(people)]
    await eventually(lambda: stack.api.in_flight == 2, 30, "both calls in flight")
    # Shard 0's process, alive throughout, has a job waiting for a slot.
    other = member(stack, 1_200_000_000_000_060_010, GUILD_ZERO)
    waiting = await submit(stack, other, GUILD_ZERO, "waits, alive")
    assert position(waiting) == 1
    await replies_kept(stack, 3)
    processes[1].kill()
    stack.api.latency = 0.0
    restarted = BotProcess(stack, **{**ENV, "CLUSTER_LEASE_S": "600"}, SHARD_IDS="1")
    processes[2] = restarted
    await restarted.start_and_wait_ready(60)
    # The restart settles only its previous life's jobs: the live process's job runs.
    rows = await db_rows(stack, "SELECT id, prompt, state FROM jobs ORDER BY id")
    for it in cut:
        await corrected(it, job_of(it, rows))
    assert "refunded 2 jobs" in restarted.log()
    await eventually(
        lambda: (m := waiting.original_message()) and m["attachments"], 60, "the waiting job ran"
    )
    rows = await db_rows(stack, "SELECT state FROM jobs ORDER BY id")
    assert [r["state"] for r in rows] == ["interrupted", "interrupted", "done"]
    assert len(corrections(stack)) == 2
