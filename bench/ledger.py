"""The budget ledger on a real SQLite file: a race for the last credits, then raw throughput.

1. N concurrent reservations of 1 credit by one member against a 100-credit daily budget, from
   several separate connections to the file, then from several processes (each with its own
   connection): exactly 100 must be granted, the rest refused, and the usage row must say 100.
   Statements on one connection are serialised, so only separate connections can race.
2. Throughput of reserve + commit (``Ledger.reserve`` then ``db.jobs.finish_job(state='done')``),
   one after another and from many tasks at once, in a server scope (the path /imagine takes).
3. On PostgreSQL (a throwaway server, as the tests start it, with fsync on): the race from 3
   processes with a pool each, and reserve + commit in one server from 1, 2 and 4 processes,
   with the CPU time per operation of the client processes and of the server's, and the
   statements and transactions the server runs per operation (from its statement log, in a
   short run of its own), and the server's CPU time per statement, one at a time. Skipped,
   saying how to get them, without PostgreSQL's binaries.

    python -m bench.ledger [--size small]
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.common import Result, bench_main
from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.storage import Database, NewJob
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import new_job
from tests.pg_log import StatementLog
from tests.pg_race import LIMIT, Race, run_race, spent
from tests.postgres import HOW_TO_GET, PostgresServer, find_bindir, postgres_server

GUILD_ID = 1_100_000_000_000_000_001
USER_ID = 1_200_000_000_000_000_001
BUDGET = 100
SIZES = {"small": (200, 300), "full": (1000, 5000)}  # racing reservations, throughput ops
WORKERS = 32
RACE_CONNECTIONS = 4  # separate connections in this process, and separate processes
TARGET_PER_S = 2000.0
PG_PROCESSES = (1, 2, 4)
PG_WORKERS = 8  # tasks (and pool connections) per process
PG_LOGGED_OPS = 400  # operations of the run whose statements the server logs
PG_TIMED_STATEMENTS = {"small": 1000, "full": 3000}  # each kind, one connection, one at a time


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


@dataclass(frozen=True)
class PgRun:
    """One PostgreSQL throughput run: the rate, and the CPU time it cost per operation."""

    per_s: float
    client_cpu_ms: float  # every client process, user + system, per reserve + commit
    server_cpu_ms: float  # every process of the server (0 when not measured)


def _server_cpu_seconds(postmaster: int) -> float:
    """User + system CPU time of a PostgreSQL server so far: the postmaster, its live children
    and the children it has reaped (/proc/<pid>/stat fields 14-17)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a process that ended since the listing
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _backend_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one server process (/proc/<pid>/stat fields 14-15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pg_statement_cpu(url: str, n: int) -> dict[str, float]:
    """The server's CPU time per statement, in microseconds, of ``n`` of each kind run one at a
    time on one connection (that backend's own time, so the other work on the machine counts
    less than in a throughput run): a bare ``SELECT 1`` (the round trip's own cost), the
    reservation, and the settlement, each with its commit."""
    async with await PostgresDatabase.open(url, migrate=False, pool_size=1) as db:
        ledger = Ledger(db, default_daily_credits=2 * n + 100, usd_cap=None)
        scope = guild_scope(GUILD_ID + 20, "UTC")
        job = new_job(ledger, scope, user=USER_ID + 20)
        backend = int(await db.pool.fetchval("SELECT pg_backend_pid()"))

        async def settle(job_id: int) -> None:
            assert await db.jobs.finish_job(job_id, state="done", credits_charged=1)

        for job_id in [await ledger.reserve(scope, (), job) for _ in range(50)]:
            await settle(job_id)  # plans cached before the clock starts
        before = _backend_cpu_seconds(backend)
        for _ in range(n):
            await db.pool.fetchval("SELECT 1")
        after_ping = _backend_cpu_seconds(backend)
        ids = [await ledger.reserve(scope, (), job) for _ in range(n)]
        after_reserve = _backend_cpu_seconds(backend)
        for job_id in ids:
            await settle(job_id)
        after_settle = _backend_cpu_seconds(backend)
    return {
        "SELECT 1": (after_ping - before) * 1e6 / n,
        "reservation": (after_reserve - after_ping) * 1e6 / n,
        "settlement": (after_settle - after_reserve) * 1e6 / n,
    }


def _pg_throughput_process(
    url: str, ops: int, users_from: int, guild_id: int, go: Barrier, out: Any
) -> None:
    """One process's share of the PostgreSQL throughput run: its own pool, its own users."""

    async def main() -> tuple[float, float]:
        async with await PostgresDatabase.open(url, migrate=False, pool_size=PG_WORKERS) as db:
            # Every connection open before the clock starts: a run measures work, not connects.
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(PG_WORKERS):
                    await stack.enter_async_context(db.pool.raw.acquire())
            await asyncio.to_thread(go.wait, 120)
            cpu = time.process_time()
            rate = await throughput(db, ops, PG_WORKERS, users_from, guild_id)
            return rate, time.process_time() - cpu

    out.put(asyncio.run(main()))


def pg_throughput(
    url: str,
    ops: int,
    processes: int,
    *,
    servers: int = 1,
    postmaster: int | None = None,
    started: Callable[[], object] | None = None,
) -> PgRun:
    """reserve + commit per second from ``processes`` processes together, in ``servers``
    servers (process n in server n % servers); with the server's ``postmaster`` pid, its CPU
    time per operation too. ``started`` is called when every process is ready to go."""
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
    if started is not None:
        started()
    server_cpu = _server_cpu_seconds(postmaster) if postmaster else 0.0
    results: list[tuple[float, float]] = [out.get(timeout=600) for _ in procs]
    if postmaster:
        server_cpu = _server_cpu_seconds(postmaster) - server_cpu
    for proc in procs:
        proc.join(30)
        if proc.exitcode != 0:
            raise RuntimeError(f"a throughput process exited with {proc.exitcode}")
    done = share * processes
    client_cpu = sum(cpu for _, cpu in results)
    # Every process did its share; together they took as long as the slowest.
    return PgRun(
        per_s=done / max(share / rate for rate, _ in results),
        client_cpu_ms=client_cpu * 1000 / done,
        server_cpu_ms=server_cpu * 1000 / done,
    )


async def pg_statements(server: PostgresServer, ops: int) -> tuple[Counter[str], int]:
    """The statements the server runs per reserve + commit, by kind, from its own log of a run
    from one process, and the operations."""
    url = await server.create_database()
    log = StatementLog(server)
    await log.log_database(url)
    # The statements of the run, not of the processes' start.
    await asyncio.to_thread(pg_throughput, url, ops, 1, started=log.mark)
    return log.since_mark(), ops


async def run_postgres(
    result: Result, racers: int, ops: int, timed: int
) -> dict[str, Any] | None:
    bindir = find_bindir()
    if bindir is None:
        result.add("PostgreSQL", f"skipped: {HOW_TO_GET}")
        return None
    with postgres_server(bindir, durable=True) as server:
        assert server.proc is not None
        postmaster = server.proc.pid
        race = Race("budget", attempts=racers)
        url = await server.create_database()
        granted, seconds = await asyncio.to_thread(run_race, url, race)
        used = await spent(url, race)
        runs: dict[str, PgRun] = {}
        for processes in PG_PROCESSES:
            url = await server.create_database()
            runs[f"{processes} process(es), one server"] = await asyncio.to_thread(
                pg_throughput, url, ops, processes, postmaster=postmaster
            )
        url = await server.create_database()
        runs["4 processes, 4 servers"] = await asyncio.to_thread(
            pg_throughput, url, ops, 4, servers=4, postmaster=postmaster
        )
        statements, logged_ops = await pg_statements(server, min(ops, PG_LOGGED_OPS))
        per_statement = await pg_statement_cpu(await server.create_database(), timed)
    result.add(
        "PostgreSQL",
        f"a throwaway server from {bindir} (fsync and synchronous_commit on), over 127.0.0.1; "
        f"each process its own asyncpg pool of {PG_WORKERS}, opened before the clock starts",
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
    # Each task is its own member: without a server cap, none waits for another's commit.
    for how, run in runs.items():
        result.add(
            f"reserve+commit on PostgreSQL, {how}, x {PG_WORKERS} tasks ({ops} ops)",
            f"{run.per_s:,.0f}/s; CPU per op: clients {run.client_cpu_ms:.3f} ms, "
            f"server {run.server_cpu_ms:.3f} ms",
        )
    # Each logged statement is one round trip and, outside a transaction block, one transaction.
    result.add(
        f"statements the server runs per reserve+commit (its log, {logged_ops} ops, 1 process)",
        ", ".join(f"{kind} {n / logged_ops:.2f}" for kind, n in statements.most_common())
        + f"; total {sum(statements.values()) / logged_ops:.2f}",
    )
    result.add(
        f"server CPU per statement, one connection, {timed} of each",
        ", ".join(f"{kind} {us:.0f} us" for kind, us in per_statement.items()),
    )
    four = [run.per_s for how, run in runs.items() if how.startswith("4 ")]
    result.target(
        f"reserve+commit on PostgreSQL from 4 processes >= {TARGET_PER_S:,.0f}/s",
        max(four) >= TARGET_PER_S,
    )
    return {
        "race": {"granted": granted, "usage": used, "seconds": seconds},
        "throughput": {
            how: {
                "per_s": run.per_s,
                "client_cpu_ms_per_op": run.client_cpu_ms,
                "server_cpu_ms_per_op": run.server_cpu_ms,
            }
            for how, run in runs.items()
        },
        "statements_per_op": {kind: n / logged_ops for kind, n in statements.items()},
        "server_cpu_us_per_statement": per_statement,
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
    postgres = await run_postgres(result, racers, ops, PG_TIMED_STATEMENTS[size])
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
