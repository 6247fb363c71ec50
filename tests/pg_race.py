"""Reservations raced from several processes, each with its own pool on one PostgreSQL
database: the test of the ledger's promises across processes, and bench/ledger.py's race."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

from bot.ledger import BudgetExceededError, Ledger, guild_scope
from bot.storage.postgres import PostgresDatabase
from tests.harness import new_job

GUILD = 1_100_000_000_000_000_001
USER = 1_200_000_000_000_000_001
LIMIT = 100


@dataclass(frozen=True)
class Race:
    """What is raced for: ``budget`` (one member's daily credits), ``cap`` (the server cap,
    every attempt by another member) or ``usd`` (the bot-wide USD cap, every attempt in another
    server). Each way, exactly ``LIMIT`` one-credit reservations fit."""

    kind: str
    attempts: int
    processes: int = 3

    def shares(self) -> list[tuple[int, int]]:
        """(first attempt number, how many) for each process."""
        size, extra = divmod(self.attempts, self.processes)
        out, start = [], 0
        for n in range(self.processes):
            count = size + (n < extra)
            out.append((start, count))
            start += count
        return out


def _ledger(db: PostgresDatabase, race: Race) -> Ledger:
    if race.kind == "usd":
        # new_job estimates 0.021 USD a credit: LIMIT of them fit under this cap, not one more.
        return Ledger(db, default_daily_credits=10, usd_cap=0.021 * LIMIT + 0.01)
    return Ledger(db, default_daily_credits=1_000_000, usd_cap=None)


async def prepare(url: str, race: Race) -> None:
    async with await PostgresDatabase.open(url) as db:
        if race.kind == "budget":
            await db.guilds.update_guild_settings(GUILD, daily_credits=LIMIT)
        if race.kind == "cap":
            await db.guilds.update_guild_settings(GUILD, server_cap=LIMIT)


async def reserve_many(url: str, race: Race, first: int, count: int, go: Barrier | None) -> int:
    """``count`` reservations at once from this process; how many were granted."""
    async with await PostgresDatabase.open(url, migrate=False) as db:
        ledger = _ledger(db, race)

        async def one(n: int) -> bool:
            guild = GUILD + n if race.kind == "usd" else GUILD
            user = USER + n if race.kind == "cap" else USER
            scope = guild_scope(guild, "UTC")
            try:
                await ledger.reserve(scope, (), new_job(ledger, scope, user=user))
            except BudgetExceededError:
                return False
            return True

        await db.ping()  # the pool's first connection is open before the start
        if go is not None:
            await asyncio.to_thread(go.wait, 120)
        return sum(await asyncio.gather(*(one(n) for n in range(first, first + count))))


def _process(url: str, race: Race, first: int, count: int, go: Barrier, out: Any) -> None:
    out.put(asyncio.run(reserve_many(url, race, first, count, go)))


def run_race(url: str, race: Race) -> tuple[int, float]:
    """The race from ``race.processes`` processes started together; (granted, seconds)."""
    asyncio.run(prepare(url, race))
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Barrier(race.processes + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process, args=(url, race, first, count, go, out))
        for first, count in race.shares()
    ]
    for proc in procs:
        proc.start()
    try:
        go.wait(timeout=120)
        started = time.perf_counter()
        granted = sum(out.get(timeout=300) for _ in procs)
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.join(60)
            if proc.is_alive():
                proc.kill()
    for proc in procs:
        if proc.exitcode != 0:
            raise RuntimeError(f"a racing process exited with {proc.exitcode}")
    return granted, seconds


async def spent(url: str, race: Race) -> int:
    """The credits the counters hold for the race's limit, read back after it."""
    async with await PostgresDatabase.open(url, migrate=False) as db:
        ledger = _ledger(db, race)
        scope = guild_scope(GUILD, "UTC")
        day, _ = ledger.days(scope)
        if race.kind == "budget":
            return (await db.budgets.usage(scope.key, day, USER)).used
        if race.kind == "cap":
            return await db.budgets.scope_usage(scope.key, day)
        jobs = await db.jobs.open_jobs()
        return sum(j.credits_reserved for j in jobs)
