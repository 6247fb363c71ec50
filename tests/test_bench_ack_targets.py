"""bench.ack's arithmetic: failures, percentiles and the CPU target (bench/ack.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.ack import summarise, targets
from bench.legs import LEGS


def burst(latencies: list[float], *, failures: int = 0, cpu_seconds: float = 0.1) -> dict[str, Any]:
    """One round as bench.ack's burst reports it: the latencies of the interactions
    acknowledged in time, and how many were not."""
    return {
        "latencies": latencies,
        "failures": failures,
        "interactions": len(latencies) + failures,
        "cpu_seconds": cpu_seconds,
        "legs": {name: [] for name, _, _ in LEGS},
        "stalls": [],
        "collections": [],
        "collections_in_wait": 0,
    }


def verdicts(bare: dict[str, Any], bot: dict[str, Any]) -> list[bool]:
    return [met for _, met in targets(summarise([bare]), summarise([bot]))]


def test_a_missing_acknowledgement_fails_the_run_and_stays_out_of_the_percentiles() -> None:
    """One interaction of 100 never acknowledged: the run fails its first target, while the
    percentiles are those of the 99 that were."""
    fast = [0.001] * 99
    bot = summarise([burst(fast, failures=1)])
    assert bot["failures"] == 1 and bot["interactions"] == 100
    assert bot["p50"] == bot["p99"] == bot["max"] == 0.001
    assert verdicts(burst([0.001] * 100), burst(fast, failures=1)) == [False, True, True]
    assert verdicts(burst([0.001] * 100), burst([0.001] * 100)) == [True, True, True]


def test_no_acknowledgement_at_all_fails_every_latency_target() -> None:
    assert verdicts(burst([0.001] * 10), burst([], failures=10)) == [False, False, True]


def test_cpu_per_interaction_is_judged_against_the_bare_bot_over_every_round() -> None:
    """CPU seconds over all the rounds' interactions together: within 1.5x the bare bot's
    passes, beyond fails."""
    bare = [burst([0.001] * 100, cpu_seconds=0.1), burst([0.001] * 100, cpu_seconds=0.1)]
    within = [burst([0.001] * 100, cpu_seconds=0.1), burst([0.001] * 100, cpu_seconds=0.19)]
    beyond = [burst([0.001] * 100, cpu_seconds=0.1), burst([0.001] * 100, cpu_seconds=0.22)]
    assert summarise(within)["cpu"] == pytest.approx(0.29 / 200)
    assert [met for _, met in targets(summarise(bare), summarise(within))][2]
    assert not [met for _, met in targets(summarise(bare), summarise(beyond))][2]


def test_a_slow_acknowledgement_misses_the_p99_target() -> None:
    """p99 over 100 samples is the 99th-smallest: two slow ones put it past 100 ms."""
    assert verdicts(burst([0.001] * 100), burst([0.001] * 98 + [0.2, 0.2])) == [True, False, True]
    assert verdicts(burst([0.001] * 100), burst([0.001] * 99 + [0.2])) == [True, True, True]
