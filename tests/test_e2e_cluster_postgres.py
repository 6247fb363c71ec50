"""Three real ``python -m bot`` processes, one shard of three each, on one PostgreSQL database.

The fake Discord spreads guilds by ``(guild_id >> 22) % 3``: the default guild is on shard 1,
``GUILD_TWO`` (one step of ``1 << 22`` further) on shard 2 and ``GUILD_ZERO`` on shard 0. The
processes must act as one bot: one cap, one per-user limit, one fair line, and the jobs of a
killed or frozen process refunded once by a live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.health import CLUSTER_CUT_OFF
from bot.texts import CLUSTER_CUT_OFF as CUT_OFF_TEXT
from tests.fakes.discord import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    FakeInteraction,
    FakeMember,
    default_guild,
)
from tests.harness import BotProcess, Stack, eventually, fake_stack
from tests.postgres import PostgresServer, requires_postgres
from tests.test_e2e_cluster import (
    ENV,
    corrections,
    db_rows,
    free_port,
    member,
    one_cap_one_line_one_limit,
    position,
    replies_kept,
    submit,
)
from tests.test_e2e_stale import corrected, job_of

pytestmark = requires_postgres

SHARDS = (0, 1, 2)
GUILD_TWO = DEFAULT_GUILD_ID + (1 << 22)  # shard 2 of 3
GUILD_ZERO = DEFAULT_GUILD_ID + (2 << 22)  # shard 0 of 3
GUILD_OF = {0: GUILD_ZERO, 1: DEFAULT_GUILD_ID, 2: GUILD_TWO}
ENV3 = {**ENV, "SHARD_COUNT": "3"}


@pytest.fixture
async def stack(tmp_path: Path, pg_url: str) -> AsyncIterator[Stack]:
    guilds = [default_guild()] + [
        default_guild(
            guild_id=gid,
            channel_id=DEFAULT_CHANNEL_ID + (gid - DEFAULT_GUILD_ID),
            member_id=1_200_000_000_000_010_001 + n,
            admin_id=1_200_000_000_000_010_101 + n,
            name=f"Guild {n}",
        )
        for n, gid in enumerate((GUILD_TWO, GUILD_ZERO))
    ]
    async with fake_stack(tmp_path, guilds=guilds, shards=3) as s:
        s.overrides["DATABASE_URL"] = pg_url  # every process, and db_rows, use PostgreSQL
        yield s


@pytest.fixture
def processes(stack: Stack) -> Iterator[dict[int, BotProcess]]:
    """One process per shard, not started: ``procs[shard_id]``."""
    procs = {shard: BotProcess(stack, **ENV3, SHARD_IDS=str(shard)) for shard in SHARDS}
    yield procs
    for proc in procs.values():
        with contextlib.suppress(ProcessLookupError):
            if proc.proc is not None:
                os.kill(proc.proc.pid, signal.SIGCONT)
        proc.close()


async def start_all(procs: dict[int, BotProcess]) -> None:
    for shard in SHARDS:
        await procs[shard].start_and_wait_ready(90)
    assert all(p.proc is not None and p.proc.poll() is None for p in procs.values())


def images(it: Any) -> Any:
    return (m := it.original_message()) and m["attachments"]


async def usage(stack: Stack) -> tuple[int, int]:
    (row,) = await db_rows(
        stack, "SELECT SUM(reserved) AS reserved, SUM(charged) AS charged FROM budget_usage"
    )
    return int(row["reserved"]), int(row["charged"])


def refunds_logged(procs: dict[int, BotProcess]) -> int:
    """How many orphaned jobs the processes say they refunded, all told."""
    logs = "".join(proc.log() for proc in procs.values())
    return sum(int(n) for n in re.findall(r"refunded (\d+) jobs", logs))


async def shard_one_holds_the_slots(
    stack: Stack, prefix: str, ids: int
) -> tuple[list[FakeMember], list[FakeInteraction], FakeInteraction]:
    """Shard 1's process runs two jobs (both slots) and queues a third behind a job waiting
    on shard 2's process; returns its users, its three jobs and the waiting one."""
    people = [
        member(stack, 1_200_000_000_000_000_000 + ids + n, DEFAULT_GUILD_ID) for n in range(3)
    ]
    mine = [
        await submit(stack, p, DEFAULT_GUILD_ID, f"{prefix} {n}") for n, p in enumerate(people[:2])
    ]
    await eventually(lambda: stack.api.in_flight == 2, 30, "two calls in flight")
    waiter = member(stack, 1_200_000_000_000_000_010 + ids, GUILD_TWO)
    waiting = await submit(stack, waiter, GUILD_TWO, "waits on shard 2")
    mine.append(await submit(stack, people[2], DEFAULT_GUILD_ID, f"{prefix} 2"))
    assert [position(it) for it in (*mine, waiting)] == [None, None, 2, 1]
    await replies_kept(stack, 4)
    return people, mine, waiting


async def refunded_once_by_the_live(
    stack: Stack,
    procs: dict[int, BotProcess],
    lost: list[FakeInteraction],
    waiting: FakeInteraction,
) -> list[dict[str, Any]]:
    """Past the lease of the process that held ``lost``, a live one takes its slots back (the
    waiting job runs) and, between the live ones, each lost job is refunded and told once."""
    await eventually(lambda: images(waiting), 60, "the waiting job on shard 2 ran")
    rows = await db_rows(stack, "SELECT id, prompt FROM jobs ORDER BY id")
    for it in lost:
        await corrected(it, job_of(it, rows))
    await eventually(lambda: refunds_logged(procs) == 3, 30, "three refunds logged")
    assert len(corrections(stack)) == 3
    return rows


async def test_three_processes_one_cap_one_limit_one_fair_line(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    await start_all(processes)
    assert stack.discord.sync_count == 1
    # Jobs arrive on all three processes, each of which alone would start two. Fairness
    # across them: the light user's single job, on shard 1's process, goes ahead of the heavy
    # user's second, on shard 0's; the heavy user's third, on shard 1's, is over the limit.
    rows = await one_cap_one_line_one_limit(
        stack,
        GUILD_ZERO,
        DEFAULT_GUILD_ID,
        GUILD_TWO,
        GUILD_ZERO,
        DEFAULT_GUILD_ID,
        DEFAULT_GUILD_ID,
    )
    # Each process delivered the jobs of its own shard's guild.
    for prompt, shard in (("a", 0), ("b", 1), ("heavy 1", 2), ("heavy 2", 0), ("light 1", 1)):
        (job_id,) = [r["id"] for r in rows if r["prompt"] == prompt]
        assert f"job {job_id} delivered" in processes[shard].log(), (prompt, shard)
    assert await usage(stack) == (0, 5)


async def test_kill_9_refunded_once_the_others_serve_and_the_restart_refunds_nothing(
    stack: Stack, processes: dict[int, BotProcess]
) -> None:
    await start_all(processes)
    stack.api.latency = 60.0
    people, doomed, waiting = await shard_one_holds_the_slots(stack, "doomed", 50_000)

    processes[1].kill()  # holds both slots and a queued job
    stack.api.latency = 0.0
    await refunded_once_by_the_live(stack, processes, doomed, waiting)
    newcomer = member(stack, 1_200_000_000_000_050_020, GUILD_ZERO)
    fresh = await submit(stack, newcomer, GUILD_ZERO, "served on shard 0")
    await eventually(lambda: images(fresh), 60, "a new job on shard 0 ran")
    rows = await db_rows(stack, "SELECT prompt, state FROM jobs ORDER BY id")
    assert {r["prompt"]: r["state"] for r in rows} == {
        "doomed 0": "interrupted",
        "doomed 1": "interrupted",
        "waits on shard 2": "done",
        "doomed 2": "interrupted",
        "served on shard 0": "done",
    }
    assert await usage(stack) == (0, 2)

    restarted = BotProcess(stack, **ENV3, SHARD_IDS="1")
    processes[3] = restarted
    await restarted.start_and_wait_ready(90)
    again = await submit(stack, people[0], DEFAULT_GUILD_ID, "after the restart")
    await eventually(lambda: images(again), 60, "shard 1 served again")
    assert len(corrections(stack)) == 3
    assert refunds_logged(processes) == 3
    assert await usage(stack) == (0, 3)


class DatabaseLink:
    """A TCP relay between one bot process and PostgreSQL that the test can cut and mend: the
    process's own network path to the database, without touching the server others use."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def mend(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def says_cut_off_and_refuses(
    stack: Stack, health: tuple[int, dict[str, Any]], ids: int
) -> FakeMember:
    """The shard 1 process's /healthz answer (``health``) says it is cut off, and a new
    member's /imagine there is refused privately; returns the member."""
    status, body = health
    assert status == 503 and CLUSTER_CUT_OFF in body["reasons"], body
    assert body["database"] == "unavailable"
    late = member(stack, 1_200_000_000_000_000_000 + ids, DEFAULT_GUILD_ID)
    refused = await submit(stack, late, DEFAULT_GUILD_ID, "while cut off")
    assert refused.response is not None and refused.response.type == 4, refused.response
    assert refused.response.data["content"] == CUT_OFF_TEXT.one, refused.response.data
    assert refused.response.data["flags"] & 64
    return late


async def test_a_frozen_process_is_refunded_by_the_live_ones_and_refuses_while_cut_off(
    stack: Stack, processes: dict[int, BotProcess], pg_server: PostgresServer, pg_url: str
) -> None:
    link = DatabaseLink(pg_server.port)
    await link.mend()
    health_port = free_port()
    frozen = processes[1]
    frozen.env["DATABASE_URL"] = pg_url.replace(f":{pg_server.port}/", f":{link.port}/")
    frozen.env["HEALTH_PORT"] = str(health_port)
    await start_all(processes)
    assert "cluster: process" in frozen.log()

    stack.api.latency = 20.0  # the frozen process's calls end after it thaws
    _, cut, waiting = await shard_one_holds_the_slots(stack, "frozen", 70_000)

    assert frozen.proc is not None
    os.kill(frozen.proc.pid, signal.SIGSTOP)
    stack.api.latency = 0.0
    rows = await refunded_once_by_the_live(stack, processes, cut, waiting)

    # It thaws with its network path to the database still cut: it takes no job, and says so.
    await link.cut()
    os.kill(frozen.proc.pid, signal.SIGCONT)
    late = await says_cut_off_and_refuses(stack, await healthz(health_port), 70_020)

    # Mended, it registers again and serves; nothing was refunded or charged twice.
    await link.mend()
    await eventually(lambda: "registering again" in frozen.log(), 60, "the frozen one re-registers")
    status, body = await healthz(health_port)
    assert status == 200, body
    again = await submit(stack, late, DEFAULT_GUILD_ID, "after the thaw")
    await eventually(lambda: images(again), 60, "shard 1 served again")
    # Its calls, answered after the thaw, find their jobs settled: no images, no charge. (It
    # does edit their messages once more, to say the bot restarted and nothing was charged.)
    for it in cut[:2]:
        job_id = job_of(it, rows)
        await eventually(
            lambda: f"job {job_id} failed: shutting_down" in frozen.log(),  # noqa: B023
            60,
            f"the thawed process giving up job {job_id}",
        )
        assert not images(it)
    assert len(corrections(stack)) == 3
    assert refunds_logged(processes) == 3
    rows = await db_rows(stack, "SELECT prompt, state FROM jobs ORDER BY id")
    states = {r["prompt"]: r["state"] for r in rows}
    assert [states[f"frozen {n}"] for n in range(3)] == ["interrupted"] * 3, states
    assert "while cut off" not in states
    assert await usage(stack) == (0, 2)
