"""Interaction acknowledgement under a burst: N `/imagine` from N users within one second.

The real bot (``python -m bot``) and a bare discord.py bot that only defers (bench/bare_bot.py)
run in turn as child processes against a fresh fake Discord each, rounds alternating so that
both meet the same machine. Before the burst each bot is warmed up with five /imagine (the bot
delivers all five, so it starts the burst idle with every code path and connection warm).

Per bot, over all rounds:

- acknowledgements: the fake times each interaction from its INTERACTION_CREATE frame being
  written to the callback request arriving (FakeInteraction.ack_latency). The real bot runs all
  its checks (channel, ban, blocklist, model, cooldown, job limit, budget reservation in SQLite)
  inside that window. An interaction with no callback within Discord's 3 seconds is a failure:
  counted, and left out of the percentiles;
- CPU per interaction: the process's user + system time (/proc/<pid>/stat) over the burst,
  divided by the interactions. On a shared machine this is steadier than latency, which mostly
  measures who else had the CPU at the time.

Targets: every interaction acknowledged, bot p99 < 100 ms, bot CPU per interaction <= 1.5x the
bare bot's. Both bots also run under bench/legs.py, which splits each acknowledgement into five
legs and notes their collections, and bench/stalls.py counts the machine's own stalls beside
each burst: what to read when a round is slow.

    python -m bench.ack [--size small]
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    Started,
    bench_main,
    bench_stack,
    collector_paused,
    cprofiled,
    cpu_seconds,
    ms,
    percentile,
    realistic_png,
    start_bot,
    thread_cpu_seconds,
)
from bench.legs import LEGS, legs_of
from bench.stalls import THRESHOLD_S, witness
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeUser
from tests.harness import eventually

USER_BASE_ID = 1_500_000_000_000_000_000
SIZES = {"small": (20, 0.2, 1), "full": (200, 1.0, 10)}  # users, seconds to dispatch in, rounds
P99_TARGET_S = 0.100
CPU_RATIO_TARGET = 1.5
# Discord's deadline: an interaction not acknowledged within it has failed for its member.
ACK_DEADLINE_S = 3.0
# The fake API answers slowly on purpose: what is measured is the acknowledgement, and the bot's
# workers stay busy with generations while the burst arrives, as they would in production.
API_LATENCY_S = 2.0
# One more than the bot's default MAX_CONCURRENT_GENERATIONS (4): one warm-up job waits.
WARM_UP_JOBS = 5


async def warm_up(fake: FakeDiscord, kind: str) -> None:
    """Bring the bot to a warm, idle state: every path of the burst taken once (a job that runs
    at once, one that waits for a slot), its connections to the API and Discord open, and all
    of its jobs delivered, so the burst meets a bot that has been running, not a fresh one."""
    warm = [
        await fake.slash(
            "imagine", {"prompt": f"warm-up {n}"}, user=FakeUser(USER_BASE_ID - 1 - n, f"warm{n}")
        )
        for n in range(WARM_UP_JOBS)
    ]
    for it in warm:
        await it.wait_response(10)
    if kind == "bot":  # the bare bot only defers: nothing follows
        await eventually(
            lambda: all((m := it.original_message()) and m.get("attachments") for it in warm),
            4 * API_LATENCY_S + 20,
            "the warm-up jobs to be delivered",
        )


async def burst(
    kind: str, users: int, spread: float, tmp: Path, profile: Path | None = None
) -> dict[str, Any]:
    """Start ``kind`` ("bot" or "bare"), warm it up, dispatch the burst, collect the acks.

    With ``profile``, the child's main thread is cProfiled over the burst into that file."""
    realistic_png("16:9", 0)  # encode before the clock starts: the fake serves it later
    legs_path = tmp / "legs.json"
    async with bench_stack(tmp, api_latency=API_LATENCY_S) as stack:
        started = await start_bot(
            stack,
            kind,
            legs=legs_path,
            profile=profile,
            DEFAULT_DAILY_CREDITS="1000",
            SHUTDOWN_GRACE_S="1",
        )
        try:
            fake = stack.discord
            await warm_up(fake, kind)
            loop = asyncio.get_running_loop()
            interactions: list[FakeInteraction] = []
            cpu_before = cpu_seconds(started.pid)
            threads_before = thread_cpu_seconds(started.pid)
            async with witness() as stalls:
                with collector_paused():
                    async with cprofiled(started.pid, profile):
                        t0 = loop.time()
                        for i in range(users):
                            delay = t0 + i * spread / users - loop.time()
                            if delay > 0:
                                await asyncio.sleep(delay)
                            user = FakeUser(USER_BASE_ID + i, f"user{i}")
                            options = {
                                "prompt": f"a lighthouse at dusk, take {i}",
                                "aspect_ratio": "16:9",
                            }
                            interactions.append(await fake.slash("imagine", options, user=user))
                        dispatched_in = loop.time() - t0
                        deadline = loop.time() + ACK_DEADLINE_S
                        for it in interactions:
                            with contextlib.suppress(TimeoutError):
                                await it.wait_response(max(0.0, deadline - loop.time()))
            cpu = cpu_seconds(started.pid) - cpu_before
            threads = {
                name: seconds - threads_before.get(name, 0.0)
                for name, seconds in thread_cpu_seconds(started.pid).items()
            }
            acked = [it for it in interactions if acknowledged_in_time(it)]
            types = collections.Counter(it.response.type for it in acked if it.response)
            probe = await read_probe(started, legs_path)
        finally:
            started.process.close()
    stamps = [
        (str(it.id), it.sent_at, it.callback_at)
        for it in interactions
        if it.sent_at is not None and it.callback_at is not None
    ]
    window = (min(s for _, s, _ in stamps), max(c for _, _, c in stamps)) if stamps else (0, 0)
    collected = during([(at, length) for _, at, length in probe["collections"]], window)
    return {
        "latencies": [it.ack_latency for it in acked],
        "failures": users - len(acked),
        "types": dict(types),
        "dispatched_in": dispatched_in,
        "interactions": users,
        "cpu_seconds": cpu,
        "thread_cpu_seconds": threads,
        "legs": legs_of(probe["interactions"], stamps),
        "stalls": during(stalls, window),
        "collections": collected,
        "collections_in_wait": sum(
            any(during([span], (sent, callback)) for _, sent, callback in stamps)
            for span in collected
        ),
    }


def acknowledged_in_time(it: FakeInteraction) -> bool:
    latency = it.ack_latency
    return latency is not None and latency <= ACK_DEADLINE_S


def during(
    spans: Sequence[tuple[float, float]], window: tuple[float, float]
) -> list[tuple[float, float]]:
    """The (start, seconds) spans that overlap ``window`` (start, end)."""
    return [(at, length) for at, length in spans if at < window[1] and at + length > window[0]]


async def read_probe(started: Started, path: Path, timeout: float = 10.0) -> dict[str, Any]:
    """Ask the child for what bench/legs.py noted (SIGUSR1) and read it."""
    os.kill(started.pid, signal.SIGUSR1)
    text = await eventually(
        lambda: path.read_text() if path.exists() else None, timeout, "the interaction times"
    )
    probe: dict[str, Any] = json.loads(text)
    return probe


def summarise(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every round's figures together: acknowledgement percentiles over the interactions
    acknowledged in time, failures counted apart, CPU seconds over all the interactions.

    Pooled: one round's p99 is its second-worst sample out of 200, so a single stall of the
    machine moves it; over 10 rounds the p99 is the 20th-worst of 2,000. The legs and the
    machine's stalls are pooled the same way.
    """
    pooled = [latency for r in rounds for latency in r["latencies"]]
    legs = {name: [d for r in rounds for d in r["legs"][name]] for name, _, _ in LEGS}
    stalls = [length for r in rounds for _, length in r["stalls"]]
    collections = [length for r in rounds for _, length in r["collections"]]
    in_wait = sum(r["collections_in_wait"] for r in rounds)
    interactions = sum(r["interactions"] for r in rounds)
    return {
        "interactions": interactions,
        "failures": sum(r["failures"] for r in rounds),
        "p50": percentile(pooled, 50),
        "p99": percentile(pooled, 99),
        "max": max(pooled, default=float("nan")),
        "cpu": sum(r["cpu_seconds"] for r in rounds) / interactions,
        "thread_cpu": thread_split(rounds, interactions),
        "legs": legs,
        "stalls": stalls,
        "collections": collections,
        "collections_in_wait": in_wait,
    }


def thread_split(rounds: Sequence[dict[str, Any]], interactions: int) -> dict[str, float]:
    """CPU seconds per interaction of each thread (by name) over every round, busiest first."""
    pooled: collections.Counter[str] = collections.Counter()
    for r in rounds:
        pooled.update(r.get("thread_cpu_seconds", {}))
    return {name: seconds / interactions for name, seconds in pooled.most_common() if seconds}


def cpu_ratio(bare: dict[str, Any], bot: dict[str, Any]) -> float:
    return float(bot["cpu"] / bare["cpu"]) if bare["cpu"] > 0 else float("inf")


def targets(bare: dict[str, Any], bot: dict[str, Any]) -> list[tuple[str, bool]]:
    """The three targets, judged on the summaries of both bots."""
    return [
        (
            f"every interaction acknowledged by the bot within {ACK_DEADLINE_S:.0f} s",
            bot["failures"] == 0,
        ),
        (f"bot ack p99 < {P99_TARGET_S * 1000:.0f} ms", bot["p99"] < P99_TARGET_S),
        (
            f"bot CPU per interaction <= {CPU_RATIO_TARGET}x bare's",
            cpu_ratio(bare, bot) <= CPU_RATIO_TARGET,
        ),
    ]


def describe_legs(legs: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{name} {ms_short(percentile(v, 50))} / {ms_short(percentile(v, 99))}"
        if v
        else f"{name} n/a"
        for name, v in legs.items()
    )


def ms_short(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def run(size: str, profile: str | None = None) -> Result:
    users, spread, rounds = SIZES[size]
    result = Result("Interaction acknowledgement", "")
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "bot": []}
    if profile:
        await asyncio.to_thread(Path(profile).mkdir, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        for n in range(rounds):  # alternate, so drift in the machine's load hits both alike
            for kind in ("bare", "bot"):
                stats_path = Path(profile) / f"{kind}{n}.pstats" if profile else None
                data = await burst(kind, users, spread, Path(tmp) / f"{kind}{n}", stats_path)
                runs[kind].append(data)
    b, r = summarise(runs["bare"]), summarise(runs["bot"])
    dispatched = max(d["dispatched_in"] for d in runs["bot"])
    result.add(
        "burst",
        f"{users} /imagine from {users} users within {dispatched:.2f} s, {rounds} round(s) each",
    )
    for name, kind, stats in (("bare discord.py", "bare", b), ("Imagen Bot", "bot", r)):
        # Deferred (5), or for the bot a job that must wait: its queue position at once (4).
        answered = [d["types"].get(5, 0) + d["types"].get(4, 0) for d in runs[kind]]
        result.add(
            f"{name}: acknowledged within {ACK_DEADLINE_S:.0f} s (deferred or queued) per round",
            f"{answered}; failures {stats['failures']} of {stats['interactions']}",
        )
        result.add(
            f"{name}: dispatch -> callback, all rounds",
            f"p50 {ms(stats['p50'])}, p99 {ms(stats['p99'])}, max {ms(stats['max'])}",
        )
        p99s = ", ".join(ms(percentile(d["latencies"], 99)) for d in runs[kind])
        result.add(f"{name}: p99 of each round", p99s)
        per_round = [d["cpu_seconds"] / d["interactions"] for d in runs[kind]]
        result.add(
            f"{name}: CPU per interaction, all rounds (each round)",
            f"{ms_short(stats['cpu'])} ms ({ms_short(min(per_round))}-"
            f"{ms_short(max(per_round))} ms)",
        )
        result.add(
            f"{name}: CPU per interaction by thread",
            ", ".join(f"{t} {ms_short(s)} ms" for t, s in stats["thread_cpu"].items()),
        )
        result.add(f"{name}: legs, p50 / p99 in ms", describe_legs(stats["legs"]))
        stalls, collections = stats["stalls"], stats["collections"]
        result.add(
            f"{name}: its garbage collections (generation 1-2) during the bursts",
            f"{len(collections)}, {ms(sum(collections))} in all, longest "
            f"{ms(max(collections, default=0.0))}; {stats['collections_in_wait']} of them "
            "while an interaction waited for its answer",
        )
        result.add(
            f"{name}: machine stalls > {THRESHOLD_S * 1000:.0f} ms during the bursts",
            f"{len(stalls)}, longest {ms(max(stalls, default=0.0))}",
        )
    ratio = cpu_ratio(b, r)
    result.add("CPU per interaction, bot / bare", f"{ratio:.2f}x")
    for what, met in targets(b, r):
        result.target(what, met)
    result.raw = {
        "bare": runs["bare"],
        "bot": runs["bot"],
        "cpu_ratio": ratio,
        "summary": [b, r],
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.ack",
        "Interaction acknowledgement under a burst of /imagine.",
        lambda a: run(a.size, a.profile),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
