"""The budget ledger on a real SQLite file: a race for the last credits, then raw throughput.

1. N concurrent reservations of 1 credit by one member against a 100-credit daily budget, from
   several separate connections to the file, then from several processes (each with its own
   connection): exactly 100 must be granted, the rest refused, and the usage row must say 100.
   Statements on one connection are serialised, so only separate connections can race.
2. Throughput of reserve + commit (``Ledger.reserve`` then ``db.jobs.finish_job(state='done')``),
   one after another and from many tasks at once, in a server scope (the path /imagine takes).
3. On PostgreSQL (a throwaway server, as the tests start it, with fsync on): the race from 3
   processes with a pool each, and reserve + commit in one server from 1, 2 and 4 processes.
   Skipped, saying how to get them, without PostgreSQL's binaries.

    python -m bench.ledger [--size small]
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.common import Result, bench_main
from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.storage import Database, NewJob
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import new_job
from tests.pg_race import LIMIT, Race, run_race, spent
from tests.postgres import HOW_TO_GET, find_bindir, postgres_server

GUILD_ID = 1_100_000_000_000_000_001
USER_ID = 1_200_000_000_000_000_001
BUDGET = 100
SIZES = {"small": (200, 300), "full": (1000, 5000)}  # racing reservations, throughput ops
WORKERS = 32
RACE_CONNECTIONS = 4  # separate connections in this process, and separate processes
TARGET_PER_S = 2000.0
PG_PROCESSES = (1, 2, 4)
PG_WORKERS = 8  # tasks (and pool connections) per process


async def reserve_all(db: Database, guild_id: int, racers: int) -> int:
    """``racers`` reservations at once on ``db``'s connection; how many were granted."""
    ledger = Ledger(db, default_daily_credits=BUDGET, usd_cap=None)
    scope = guild_scope(guild_id, "UTC")
    job = new_job(ledger, scope, user=USER_ID)

    async def one() -> bool:
        try:
            await ledger.reserve(scope, (), job)
        except BudgetExceededError:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(racers))))


async def usage_of(path: Path, guild_id: int) -> int:
    async with await SQLiteDatabase.open(path) as db:
        ledger = Ledger(db, default_daily_credits=BUDGET, usd_cap=None)
        scope = guild_scope(guild_id, "UTC")
        day, _ = ledger.days(scope)
        return (await db.budgets.usage(scope.key, day, USER_ID)).used


async def race_connections(path: Path, guild_id: int, racers: int) -> tuple[int, int, float]:
    """The race from RACE_CONNECTIONS connections in this process; (granted, usage, seconds)."""
    async with contextlib.AsyncExitStack() as stack:
        dbs = [
            await stack.enter_async_context(await SQLiteDatabase.open(path))
            for _ in range(RACE_CONNECTIONS)
        ]
        shares = [racers // len(dbs) + (n < racers % len(dbs)) for n in range(len(dbs))]
        started = time.perf_counter()
        granted = await asyncio.gather(
            *(reserve_all(db, guild_id, share) for db, share in zip(dbs, shares, strict=True))
        )
        seconds = time.perf_counter() - started
    return sum(granted), await usage_of(path, guild_id), seconds


def _race_process(path: Path, guild_id: int, racers: int, go: Barrier, out: Any) -> None:
    """One racing process: open its own connection, wait for the others, reserve, report."""

    async def main() -> int:
        async with await SQLiteDatabase.open(path) as db:
            await asyncio.to_thread(go.wait)
            return await reserve_all(db, guild_id, racers)

    out.put(asyncio.run(main()))


def race_processes(path: Path, guild_id: int, racers: int) -> tuple[int, int, float]:
    """The race from RACE_CONNECTIONS processes at once; (granted, usage, seconds)."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Barrier(RACE_CONNECTIONS + 1)
    out = ctx.Queue()
    shares = [
        racers // RACE_CONNECTIONS + (n < racers % RACE_CONNECTIONS)
        for n in range(RACE_CONNECTIONS)
    ]
    procs = [
        ctx.Process(target=_race_process, args=(path, guild_id, share, go, out)) for share in shares
    ]
    for proc in procs:
        proc.start()
    go.wait(timeout=120)
    started = time.perf_counter()
    granted = sum(out.get(timeout=120) for _ in procs)
    seconds = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
        if proc.exitcode != 0:
            raise RuntimeError(f"a racing process exited with {proc.exitcode}")
    return granted, asyncio.run(usage_of(path, guild_id)), seconds


async def throughput(
    db: Database, ops: int, workers: int, users_from: int, guild_id: int = GUILD_ID + 1
) -> float:
    """reserve + commit per second, ``workers`` tasks (users ``users_from``...) sharing ``ops``."""
    # A generous budget so that no reservation is refused: this measures the happy path.
    ledger = Ledger(db, default_daily_credits=ops + 1, usd_cap=None)
    scope = guild_scope(guild_id, "UTC")
    jobs = [new_job(ledger, scope, user=users_from + w) for w in range(workers)]
    remaining = ops

    async def worker(job: NewJob) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            job_id = await ledger.reserve(scope, (), job)
            settled = await db.jobs.finish_job(
                job_id, state="done", credits_charged=1, images_delivered=1, message_id=job_id
            )
            assert settled

    started = time.perf_counter()
    await asyncio.gather(*(worker(job) for job in jobs))
    return ops / (time.perf_counter() - started)


def _pg_throughput_process(
    url: str, ops: int, users_from: int, guild_id: int, go: Barrier, out: Any
) -> None:
    """One process's share of the PostgreSQL throughput run: its own pool, its own users."""

    async def main() -> float:
        async with await PostgresDatabase.open(url, migrate=False, pool_size=PG_WORKERS) as db:
            await db.ping()
            await asyncio.to_thread(go.wait, 120)
            return await throughput(db, ops, PG_WORKERS, users_from, guild_id)

    out.put(asyncio.run(main()))


def pg_throughput(url: str, ops: int, processes: int, *, servers: int = 1) -> float:
    """reserve + commit per second from ``processes`` processes together, in ``servers``
    servers (process n in server n % servers)."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    share = ops // processes
    procs = [
        ctx.Process(
            target=_pg_throughput_process,
            args=(url, share, USER_ID + 100 * (n + 1), GUILD_ID + 1 + n % servers, go, out),
        )
        for n in range(processes)
    ]
    for proc in procs:
        proc.start()
    go.wait(timeout=120)
    rates: list[float] = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
        if proc.exitcode != 0:
            raise RuntimeError(f"a throughput process exited with {proc.exitcode}")
    # Every process did its share; together they took as long as the slowest.
    return share * processes / max(share / rate for rate in rates)


async def run_postgres(result: Result, racers: int, ops: int) -> dict[str, Any] | None:
    bindir = find_bindir()
    if bindir is None:
        result.add("PostgreSQL", f"skipped: {HOW_TO_GET}")
        return None
    with postgres_server(bindir, durable=True) as server:
        race = Race("budget", attempts=racers)
        url = await server.create_database()
        granted, seconds = await asyncio.to_thread(run_race, url, race)
        used = await spent(url, race)
        rates = {}
        for processes in PG_PROCESSES:
            url = await server.create_database()
            rates[processes] = await asyncio.to_thread(pg_throughput, url, ops, processes)
        url = await server.create_database()
        spread = await asyncio.to_thread(pg_throughput, url, ops, 4, servers=4)
    result.add(
        "PostgreSQL",
        f"a throwaway server from {bindir} (fsync on), on a unix socket and 127.0.0.1; "
        f"each process its own asyncpg pool of {PG_WORKERS}",
    )
    result.add(
        f"race: {racers} reservations from {race.processes} processes on PostgreSQL, "
        f"budget {LIMIT}",
        f"{granted} granted, {racers - granted} refused, usage {used}, in {seconds * 1000:.0f} ms",
    )
    result.target(
        f"exactly {LIMIT} of {racers} granted across PostgreSQL processes",
        granted == LIMIT and used == LIMIT,
    )
    for processes, rate in rates.items():
        result.add(
            f"reserve+commit on PostgreSQL, one server, {processes} process(es) x "
            f"{PG_WORKERS} tasks ({ops} ops)",
            f"{rate:,.0f}/s",
        )
    # One server's reservations take turns on its lock through their commit; servers do not.
    result.add(
        f"reserve+commit on PostgreSQL, 4 servers, 4 processes x {PG_WORKERS} tasks ({ops} ops)",
        f"{spread:,.0f}/s",
    )
    result.target(
        f"reserve+commit on PostgreSQL from 4 processes >= {TARGET_PER_S:,.0f}/s",
        max(rates[4], spread) >= TARGET_PER_S,
    )
    return {
        "race": {"granted": granted, "usage": used, "seconds": seconds},
        "per_s_by_processes": rates,
        "per_s_4_servers": spread,
    }


async def run(size: str) -> Result:
    racers, ops = SIZES[size]
    result = Result("Budget ledger (SQLite)", "")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        async with await SQLiteDatabase.open(path) as db:
            pass  # created and migrated before anyone races
        races = {
            "connections": await race_connections(path, GUILD_ID, racers),
            "processes": await asyncio.to_thread(race_processes, path, GUILD_ID + 10, racers),
        }
        async with await SQLiteDatabase.open(path) as db:
            await throughput(db, min(200, ops), 1, USER_ID + 1)  # warm the statement cache
            sequential = await throughput(db, ops, 1, USER_ID + 2)
            concurrent = await throughput(db, ops, WORKERS, USER_ID + 3)
    result.add(
        "database",
        "SQLite file in a temp dir (WAL, synchronous=NORMAL); every statement through one "
        "aiosqlite connection",
    )
    for how, (granted, used, seconds) in races.items():
        result.add(
            f"race: {racers} reservations from {RACE_CONNECTIONS} {how}, budget {BUDGET}",
            f"{granted} granted, {racers - granted} refused, usage row {used}, "
            f"in {seconds * 1000:.0f} ms",
        )
        result.target(
            f"exactly {BUDGET} of {racers} granted across {how}",
            granted == BUDGET and used == BUDGET,
        )
    result.add(
        f"reserve+commit, one at a time ({ops} ops)",
        f"{sequential:,.0f}/s ({1000 / sequential:.2f} ms each)",
    )
    result.add(f"reserve+commit, {WORKERS} tasks at once ({ops} ops)", f"{concurrent:,.0f}/s")
    # Throughput is what the bot sustains with many users at once; one at a time it is latency.
    result.target(f"reserve+commit throughput >= {TARGET_PER_S:,.0f}/s", concurrent >= TARGET_PER_S)
    postgres = await run_postgres(result, racers, ops)
    result.raw = {
        "postgres": postgres,
        "racers": racers,
        "race_connections": RACE_CONNECTIONS,
        "races": {
            how: {"granted": g, "usage": u, "seconds": sec} for how, (g, u, sec) in races.items()
        },
        "sequential_per_s": sequential,
        "concurrent_per_s": concurrent,
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.ledger",
        "Budget ledger: a race for the last credits and throughput.",
        lambda a: run(a.size),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
