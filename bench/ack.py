"""Interaction acknowledgement under a burst: N `/imagine` from N users within one second.

The real bot (``python -m bot``) and a bare discord.py bot that only defers (bench/bare_bot.py)
run in turn as child processes against a fresh fake Discord each. The fake times every
interaction from the moment its INTERACTION_CREATE frame is written to the moment the callback
request arrives (FakeInteraction.ack_latency). The real bot does all its pre-defer checks (channel,
ban, blocklist, model, cooldown, job limit, budget reservation in SQLite) inside that window.
Before the burst each bot is warmed up with five /imagine (the bot delivers all five, so it
starts the burst idle with every code path and connection warm). Rounds alternate bare and bot;
p50 / p99 / max are over all rounds' samples together, and each round's p99 is printed too.
Both bots run under bench/legs.py, which splits each acknowledgement into five legs (which part
is the bot's own code, which is discord.py, aiohttp or the wire) and notes their collections
(and how many fell while an interaction waited for its answer);
bench/stalls.py counts the machine's own stalls beside each burst.

    python -m bench.ack [--size small]
"""

from __future__ import annotations

import asyncio
import collections
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
    cpu_seconds,
    median,
    ms,
    percentile,
    profiled,
    realistic_png,
    start_bot,
)
from bench.legs import LEGS, legs_of
from bench.stalls import THRESHOLD_S, witness
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeUser
from tests.harness import eventually

USER_BASE_ID = 1_500_000_000_000_000_000
SIZES = {"small": (20, 0.2, 1), "full": (200, 1.0, 10)}  # users, seconds to dispatch in, rounds
P99_TARGET_S = 0.100
RATIO_TARGET = 1.5
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
    kind: str, users: int, spread: float, tmp: Path, profile: str | None = None
) -> dict[str, Any]:
    """Start ``kind`` ("bot" or "bare"), warm it up, dispatch the burst, collect the acks."""
    realistic_png("16:9", 0)  # encode before the clock starts: the fake serves it later
    legs_path = tmp / "legs.json"
    async with bench_stack(tmp, api_latency=API_LATENCY_S) as stack:
        started = await start_bot(
            stack, kind, legs=legs_path, DEFAULT_DAILY_CREDITS="1000", SHUTDOWN_GRACE_S="1"
        )
        try:
            fake = stack.discord
            await warm_up(fake, kind)
            loop = asyncio.get_running_loop()
            interactions: list[FakeInteraction] = []
            cpu_before = cpu_seconds(started.pid)
            async with witness() as stalls:
                with collector_paused():
                    async with profiled(started.pid, profile, f"ack-{kind}"):
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
                        for it in interactions:
                            await it.wait_response(10)
            cpu = cpu_seconds(started.pid) - cpu_before
            latencies = [it.ack_latency or float("nan") for it in interactions]
            types = collections.Counter(it.response.type for it in interactions if it.response)
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
        "latencies": latencies,
        "types": dict(types),
        "dispatched_in": dispatched_in,
        "acknowledged": sum(types.values()),
        "cpu_per_interaction": cpu / users,
        "legs": legs_of(probe["interactions"], stamps),
        "stalls": during(stalls, window),
        "collections": collected,
        "collections_in_wait": sum(
            any(during([span], (sent, callback)) for _, sent, callback in stamps)
            for span in collected
        ),
    }


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
    """p50 / p99 / max of every round's latencies together, and the median CPU per interaction.

    Pooled: one round's p99 is its second-worst sample out of 200, so a single stall of the
    machine moves it; over 10 rounds the p99 is the 20th-worst of 2,000. The legs and the
    machine's stalls are pooled the same way.
    """
    pooled = [latency for r in rounds for latency in r["latencies"]]
    legs = {name: [d for r in rounds for d in r["legs"][name]] for name, _, _ in LEGS}
    stalls = [length for r in rounds for _, length in r["stalls"]]
    collections = [length for r in rounds for _, length in r["collections"]]
    in_wait = sum(r["collections_in_wait"] for r in rounds)
    return {
        "p50": percentile(pooled, 50),
        "p99": percentile(pooled, 99),
        "max": max(pooled),
        "cpu": median(r["cpu_per_interaction"] for r in rounds),
        "legs": legs,
        "stalls": stalls,
        "collections": collections,
        "collections_in_wait": in_wait,
    }


def paired_ratios(bot: Sequence[dict[str, Any]], bare: Sequence[dict[str, Any]]) -> list[float]:
    """Each round's bot p99 over the bare p99 of the round run just before it: the machine's
    mood drifts over minutes, and rounds next to each other meet much the same machine."""
    return [
        percentile(r["latencies"], 99) / percentile(b["latencies"], 99)
        for r, b in zip(bot, bare, strict=True)
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
    with tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        for n in range(rounds):  # alternate, so drift in the machine's load hits both alike
            for kind in ("bare", "bot"):
                data = await burst(kind, users, spread, Path(tmp) / f"{kind}{n}", profile)
                runs[kind].append(data)
    b, r = summarise(runs["bare"]), summarise(runs["bot"])
    dispatched = max(d["dispatched_in"] for d in runs["bot"])
    result.add(
        "burst",
        f"{users} /imagine from {users} users within {dispatched:.2f} s, {rounds} round(s) each",
    )
    acked_all = True
    for name, kind, stats in (("bare discord.py", "bare", b), ("Imagen Bot", "bot", r)):
        acked = [d["acknowledged"] for d in runs[kind]]
        # Deferred (5), or for the bot a job that must wait: its queue position at once (4).
        answered = [d["types"].get(5, 0) + d["types"].get(4, 0) for d in runs[kind]]
        if kind == "bot":
            acked_all = all(a == users for a in acked) and all(d == users for d in answered)
        result.add(f"{name}: acknowledged (deferred or queued) per round", f"{acked} ({answered})")
        result.add(
            f"{name}: dispatch -> callback, all rounds",
            f"p50 {ms(stats['p50'])}, p99 {ms(stats['p99'])}, max {ms(stats['max'])}",
        )
        p99s = ", ".join(ms(percentile(d["latencies"], 99)) for d in runs[kind])
        result.add(f"{name}: p99 of each round", p99s)
        result.add(f"{name}: CPU per interaction", ms(stats["cpu"]))
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
    ratio = r["p99"] / b["p99"] if b["p99"] > 0 else float("inf")
    result.add("p99 ratio (bot / bare)", f"{ratio:.2f}x")
    pairs = paired_ratios(runs["bot"], runs["bare"])
    result.add(
        "p99 ratio round by round (each bot round / the bare round before it)",
        f"median {median(pairs):.2f}x, {min(pairs):.2f}-{max(pairs):.2f}x, "
        f"{sum(p <= RATIO_TARGET for p in pairs)} of {len(pairs)} within {RATIO_TARGET}x",
    )
    result.target("every interaction acknowledged by the bot", acked_all)
    result.target(f"bot p99 < {P99_TARGET_S * 1000:.0f} ms", r["p99"] < P99_TARGET_S)
    result.target(f"bot p99 <= {RATIO_TARGET}x bare p99", ratio <= RATIO_TARGET)
    result.raw = {"bare": runs["bare"], "bot": runs["bot"], "ratio": ratio, "summary": [b, r]}
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
