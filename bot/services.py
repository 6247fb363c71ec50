"""The core services the bot runs on, built in one place from the process's resources."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bot.admin import AdminService
from bot.api import AimlApiClient
from bot.cluster import Cluster, member_name
from bot.config import Settings
from bot.generation import GenerationService
from bot.ledger import Ledger
from bot.members import MemberService
from bot.metrics import Metrics
from bot.policy import Policy
from bot.queue import FairQueue
from bot.storage import Database


@dataclass(frozen=True, slots=True)
class Pacing:
    """The clock and the retry schedules. Production runs on these defaults; tests pass a clock
    they move by hand and short waits here rather than patching the running bot."""

    clock: Callable[[], float] = time.time
    api_attempts: int = 3
    api_backoff_base_s: float = 0.5
    api_backoff_max_s: float = 20.0
    discord_retry_delays_s: tuple[float, ...] = (1.0, 2.0, 4.0)


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    session: aiohttp.ClientSession
    api: AimlApiClient
    ledger: Ledger
    queue: FairQueue
    policy: Policy
    generation: GenerationService
    metrics: Metrics
    admin: AdminService
    members: MemberService
    pacing: Pacing = field(default_factory=Pacing)
    cluster: Cluster | None = None  # only when sharded: several processes share the database


def build_api(
    settings: Settings, session: aiohttp.ClientSession, pacing: Pacing | None = None
) -> AimlApiClient:
    pacing = pacing or Pacing()
    return AimlApiClient(
        session,
        base_url=settings.aimlapi_base_url,
        api_key=settings.aimlapi_key.reveal(),
        timeout_s=settings.generation_timeout_s,
        image_max_bytes=settings.image_max_bytes,
        allow_private_hosts=settings.allow_private_image_hosts,
        max_attempts=pacing.api_attempts,
        backoff_base_s=pacing.api_backoff_base_s,
        backoff_max_s=pacing.api_backoff_max_s,
    )


def build_services(
    settings: Settings,
    db: Database,
    session: aiohttp.ClientSession,
    pacing: Pacing | None = None,
) -> Services:
    pacing = pacing or Pacing()
    api = build_api(settings, session, pacing)
    ledger = Ledger(
        db,
        default_daily_credits=settings.default_daily_credits,
        usd_cap=settings.bot_daily_usd_cap,
        clock=pacing.clock,
    )
    cluster = None
    if settings.sharded:
        cluster = Cluster(
            db.cluster,
            member=member_name(settings.shard_ids),
            max_slots=settings.max_concurrent_generations,
            max_per_user=settings.max_jobs_per_user,
            lease_s=settings.cluster_lease_s,
        )
    queue = FairQueue(
        settings.max_concurrent_generations, settings.max_jobs_per_user, coordinator=cluster
    )
    if cluster is not None:
        cluster.attach(queue)
    policy = Policy(db)
    metrics = Metrics()
    metrics.watch_queue(lambda: queue.depth, lambda: queue.running)
    generation = GenerationService(
        settings=settings,
        db=db,
        api=api,
        ledger=ledger,
        queue=queue,
        policy=policy,
        cluster=cluster,
    )
    admin = AdminService(db, policy, ledger, default_model=settings.default_model)
    members = MemberService(db, policy, default_model=settings.default_model)
    return Services(
        settings=settings,
        db=db,
        session=session,
        api=api,
        ledger=ledger,
        queue=queue,
        policy=policy,
        generation=generation,
        metrics=metrics,
        admin=admin,
        members=members,
        pacing=pacing,
        cluster=cluster,
    )
