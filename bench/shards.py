"""Shards: resident memory per process with many guilds over 4 shards in 2 processes, bot vs bare.

The fake gateway spreads its guilds over the shards by Discord's ``(guild_id >> 22) %
shard_count`` and announces each shard's in READY, then sends their GUILD_CREATEs. Two processes
run shards 0-1 and 2-3 of 4: first two bare ``AutoShardedClient`` processes (bench/bare_bot.py,
same intents), then two real bots on one SQLite file, each pair started together as a cluster
would be. Memory is read from /proc/<pid>/status one second after each process's on_ready.

Times to ready include the IDENTIFY turns: the bot's processes take them through the database
(one per 5 seconds across the cluster), the bare ones each wait only for their own previous shard.

    python -m bench.shards [--size small]
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Result, Started, bench_main, bench_stack, mib, proc_status, start_bot
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import Stack

SIZES = {"small": 400, "full": 10_000}
SHARD_COUNT = 4
PROCESSES = ("0-1", "2-3")
RATIO_TARGET = 1.3
SETTLE_S = 1.0
READY_TIMEOUT_S = 300.0
KINDS = (("bare", "bare AutoShardedClient"), ("bot", "Imagen Bot"))


async def start_cluster(stack: Stack, kind: str) -> list[Started]:
    """Both processes at once; if one fails to get ready, the other is stopped too."""
    outcomes = await asyncio.gather(
        *(
            start_bot(
                stack,
                kind,
                timeout=READY_TIMEOUT_S,
                SHARD_COUNT=str(SHARD_COUNT),
                SHARD_IDS=ids,
            )
            for ids in PROCESSES
        ),
        return_exceptions=True,
    )
    started = [o for o in outcomes if isinstance(o, Started)]
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        for s in started:
            s.process.close()
        raise failed[0]
    return started


def measure(started: Started, shards: str) -> dict[str, Any]:
    status = proc_status(started.pid)
    log = started.process.log()
    seen = re.search(r"(?:connected as .* to|bare bot ready:) (\d+) (?:servers|guilds)", log)
    return {
        "shards": shards,
        "guilds": int(seen.group(1)) if seen else 0,
        "rss_kib": status["VmRSS"],
        "hwm_kib": status["VmHWM"],
        "launch_to_ready_s": started.ready_at - started.launched,
        "gateway_to_ready_s": started.ready_at - started.gateway_at,
    }


async def boot(kind: str, guilds: int, tmp: Path) -> list[dict[str, Any]]:
    async with bench_stack(tmp, guilds=[], extra_guilds=guilds, shards=SHARD_COUNT) as stack:
        if kind == "bot":
            # Migrated once before the processes start, as an owner upgrading first would.
            await (await SQLiteDatabase.open(stack.db_path)).close()
        started = await start_cluster(stack, kind)
        try:
            await asyncio.sleep(SETTLE_S)
            return [measure(s, ids) for s, ids in zip(started, PROCESSES, strict=True)]
        finally:
            for s in started:
                s.process.close()


async def run(size: str) -> Result:
    guilds = SIZES[size]
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
        figures = {kind: await boot(kind, guilds, Path(tmp) / kind) for kind, _ in KINDS}
    ratios = [
        bot["rss_kib"] / bare["rss_kib"]
        for bot, bare in zip(figures["bot"], figures["bare"], strict=True)
    ]
    result = Result(
        f"Shards: {guilds:,} guilds over {SHARD_COUNT} shards in {len(PROCESSES)} processes", ""
    )
    for kind, name in KINDS:
        for p in figures[kind]:
            result.add(
                f"{name}, shards {p['shards']}: RSS after ready (peak)",
                f"{mib(p['rss_kib'])} ({mib(p['hwm_kib'])})",
            )
            result.add(
                f"{name}, shards {p['shards']}: time to ready",
                f"{p['launch_to_ready_s']:.2f} s from launch, "
                f"{p['gateway_to_ready_s']:.2f} s from the first shard's connection",
            )
        result.add(f"{name}: guilds seen", f"{' + '.join(str(p['guilds']) for p in figures[kind])}")
    for ids, ratio in zip(PROCESSES, ratios, strict=True):
        result.add(f"RSS ratio (bot / bare), shards {ids}", f"{ratio:.2f}x")
    result.target(
        f"bot RSS <= {RATIO_TARGET}x bare in each process", all(r <= RATIO_TARGET for r in ratios)
    )
    result.target(
        "every guild seen once across the processes",
        all(sum(p["guilds"] for p in figures[kind]) == guilds for kind, _ in KINDS),
    )
    result.raw = {**figures, "ratios": ratios, "guilds": guilds}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.shards",
        "Many guilds over 4 shards in 2 processes: memory per process and time to ready.",
        lambda a: run(a.size),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
