"""Prometheus metrics for /metrics: generations, latency, queue, spend and gateway latency.

Everything lives on one ``CollectorRegistry`` owned by a ``Metrics`` instance rather than on the
process-global registry, so tests (and a process running more than one bot) can make several.
The queue and the bot push numbers in through the methods here or hand over callables that are
read at scrape time; nothing in this module knows about Discord.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

NAMESPACE: Final = "imagen"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# One Imagen call takes from about a second (Fast) to a minute or more (Ultra, retries);
# GENERATION_TIMEOUT_S defaults to 120 s, so the buckets stop there.
LATENCY_BUCKETS: Final = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)


class Metrics:
    """The bot's metrics on a registry of their own; ``render()`` gives the exposition text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.generations = Counter(
            "generations",
            "Generation jobs finished, by model and outcome (ok, failed, cancelled, ...).",
            ["model", "outcome"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.generation_seconds = Histogram(
            "generation_duration_seconds",
            "Time from the API call starting to the images being ready, by model.",
            ["model"],
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.queue_depth = Gauge(
            "queue_depth", "Jobs waiting for a generation slot.", namespace=NAMESPACE, registry=reg
        )
        self.jobs_running = Gauge(
            "jobs_running", "Jobs with an API call in flight.", namespace=NAMESPACE, registry=reg
        )
        self.credits_charged = Counter(
            "credits_charged",
            "Bot credits charged to users (after refunds).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.api_credits = Counter(
            "api_credits",
            "AI/ML API credits reported as used by the API.",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.usd_spent = Counter(
            "usd_spent",
            "US dollars spent at the AI/ML API, from the API-reported cost.",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.gateway_latency = Gauge(
            "discord_gateway_latency_seconds",
            "Discord gateway heartbeat latency (NaN while not connected).",
            namespace=NAMESPACE,
            registry=reg,
        )
        self.gateway_latency.set(math.nan)
        self.shard_latency = Gauge(
            "discord_shard_latency_seconds",
            "Gateway heartbeat latency of each of this process's shards (NaN while down).",
            ["shard"],
            namespace=NAMESPACE,
            registry=reg,
        )
        self.interactions = Counter(
            "interactions",
            "Interactions received (commands, buttons, modals), by the shard they came on.",
            ["shard"],
            namespace=NAMESPACE,
            registry=reg,
        )

    # -- recording ----------------------------------------------------------------------------

    def observe_generation(self, model: str, outcome: str, seconds: float | None = None) -> None:
        """Count one finished job; its latency is recorded when given (failures may have none)."""
        self.generations.labels(model=model, outcome=outcome).inc()
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            self.generation_seconds.labels(model=model).observe(seconds)

    def add_spend(self, credits: float = 0, api_credits: float = 0, usd: float = 0.0) -> None:
        """Add what one job cost. Counters only go up: a negative amount is a caller bug."""
        for counter, amount, name in (
            (self.credits_charged, credits, "credits"),
            (self.api_credits, api_credits, "api_credits"),
            (self.usd_spent, usd, "usd"),
        ):
            if not math.isfinite(amount) or amount < 0:
                log.warning("metrics: ignoring %s amount %r (counters only go up)", name, amount)
                continue
            if amount:
                counter.inc(amount)

    def set_queue(self, depth: int, running: int) -> None:
        """Set by the queue owner whenever a job is queued, started or finished."""
        self.queue_depth.set(depth)
        self.jobs_running.set(running)

    def watch_queue(self, depth: Callable[[], float], running: Callable[[], float]) -> None:
        """Read the queue's numbers at scrape time instead of having them pushed."""
        self.queue_depth.set_function(depth)
        self.jobs_running.set_function(running)

    def watch_gateway_latency(self, latency: Callable[[], float]) -> None:
        """``latency`` returns seconds (discord.py's ``Client.latency``), NaN when unknown."""

        self.gateway_latency.set_function(functools.partial(_read_latency, latency, "gateway"))

    def watch_shard_latencies(
        self, shard_ids: Iterable[int], latency: Callable[[int], float]
    ) -> None:
        """Read each shard's latency at scrape time, one labelled series per shard."""
        for shard_id in shard_ids:
            read = functools.partial(latency, shard_id)
            self.shard_latency.labels(str(shard_id)).set_function(
                functools.partial(_read_latency, read, f"shard {shard_id}")
            )

    def count_interaction(self, shard_id: int) -> None:
        self.interactions.labels(str(shard_id)).inc()

    # -- exposition ---------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (served with ``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


def _read_latency(latency: Callable[[], float], what: str) -> float:
    try:
        return float(latency())
    except Exception:
        log.exception("metrics: reading the %s latency failed", what)
        return math.nan
