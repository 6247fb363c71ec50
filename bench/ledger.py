"""The budget ledger on a real SQLite file: a race for the last credits, then raw throughput.

1. N concurrent reservations of 1 credit by one member against a 100-credit daily budget: exactly
   100 must be granted, the rest refused, and the usage row must say 100.
2. Throughput of reserve + commit (``Ledger.reserve`` then ``Database.finish_job(state='done')``),
   one after another and from many tasks at once, in a server scope (the path /imagine takes).

    python -m bench.ledger [--size small]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import Result, bench_main
from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.storage import Database, NewJob
from tests.harness import new_job

GUILD_ID = 1_100_000_000_000_000_001
USER_ID = 1_200_000_000_000_000_001
BUDGET = 100
SIZES = {"small": (200, 300), "full": (1000, 5000)}  # racing reservations, throughput ops
WORKERS = 32
TARGET_PER_S = 2000.0


async def race(db: Database, racers: int) -> tuple[int, int, int, float]:
    """``racers`` reservations at once for one user; (granted, refused, usage, seconds)."""
    ledger = Ledger(db, default_daily_credits=BUDGET, usd_cap=None)
    scope = guild_scope(GUILD_ID, "UTC")
    job = new_job(ledger, scope, user=USER_ID)

    async def one() -> bool:
        try:
            await ledger.reserve(scope, (), job)
        except BudgetExceededError:
            return False
        return True

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one() for _ in range(racers)))
    seconds = time.perf_counter() - started
    usage = await db.usage(scope.key, job.budget_day, USER_ID)
    granted = sum(outcomes)
    return granted, racers - granted, usage.used, seconds


async def throughput(db: Database, ops: int, workers: int, users_from: int) -> float:
    """reserve + commit per second, ``workers`` tasks (users ``users_from``...) sharing ``ops``."""
    # A generous budget so that no reservation is refused: this measures the happy path.
    ledger = Ledger(db, default_daily_credits=ops + 1, usd_cap=None)
    scope = guild_scope(GUILD_ID + 1, "UTC")
    jobs = [new_job(ledger, scope, user=users_from + w) for w in range(workers)]
    remaining = ops

    async def worker(job: NewJob) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            job_id = await ledger.reserve(scope, (), job)
            settled = await db.finish_job(
                job_id, state="done", credits_charged=1, images_delivered=1, message_id=job_id
            )
            assert settled

    started = time.perf_counter()
    await asyncio.gather(*(worker(job) for job in jobs))
    return ops / (time.perf_counter() - started)


async def run(size: str) -> Result:
    racers, ops = SIZES[size]
    result = Result("Budget ledger (SQLite)", "")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        path = Path(tmp) / "ledger.sqlite3"
        async with await Database.open(path) as db:
            granted, refused, used, seconds = await race(db, racers)
            await throughput(db, min(200, ops), 1, USER_ID + 1)  # warm the statement cache
            sequential = await throughput(db, ops, 1, USER_ID + 2)
            concurrent = await throughput(db, ops, WORKERS, USER_ID + 3)
    result.add(
        "database",
        "SQLite file in a temp dir (WAL, synchronous=NORMAL); every statement through one "
        "aiosqlite connection",
    )
    result.add(
        f"race: {racers} concurrent reservations, budget {BUDGET}",
        f"{granted} granted, {refused} refused, usage row {used}, in {seconds * 1000:.0f} ms",
    )
    result.add(
        f"reserve+commit, one at a time ({ops} ops)",
        f"{sequential:,.0f}/s ({1000 / sequential:.2f} ms each)",
    )
    result.add(f"reserve+commit, {WORKERS} tasks at once ({ops} ops)", f"{concurrent:,.0f}/s")
    result.target(f"exactly {BUDGET} of {racers} granted", granted == BUDGET and used == BUDGET)
    # Throughput is what the bot sustains with many users at once; one at a time it is latency.
    result.target(f"reserve+commit throughput >= {TARGET_PER_S:,.0f}/s", concurrent >= TARGET_PER_S)
    result.raw = {
        "racers": racers,
        "granted": granted,
        "refused": refused,
        "usage": used,
        "race_seconds": seconds,
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
