"""The core services the bot runs on, built in one place from the process's resources."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bot.api import AimlApiClient
from bot.config import Settings
from bot.generation import GenerationService
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.policy import Policy
from bot.queue import FairQueue
from bot.storage import Database


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


def build_api(settings: Settings, session: aiohttp.ClientSession) -> AimlApiClient:
    return AimlApiClient(
        session,
        base_url=settings.aimlapi_base_url,
        api_key=settings.aimlapi_key.reveal(),
        timeout_s=settings.generation_timeout_s,
        image_max_bytes=settings.image_max_bytes,
        allow_private_hosts=settings.allow_private_image_hosts,
    )


def build_services(settings: Settings, db: Database, session: aiohttp.ClientSession) -> Services:
    api = build_api(settings, session)
    ledger = Ledger(
        db, default_daily_credits=settings.default_daily_credits, usd_cap=settings.bot_daily_usd_cap
    )
    queue = FairQueue(settings.max_concurrent_generations, settings.max_jobs_per_user)
    policy = Policy(db)
    metrics = Metrics()
    metrics.watch_queue(lambda: queue.depth, lambda: queue.running)
    generation = GenerationService(
        settings=settings, db=db, api=api, ledger=ledger, queue=queue, policy=policy
    )
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
    )
