"""End-to-end harness: the fakes on 127.0.0.1 and the real bot, in this process or as a child.

The bot is configured exactly as a user would configure it (environment variables:
DISCORD_API_BASE_URL, DISCORD_GATEWAY_URL, AIMLAPI_BASE_URL, DATABASE_PATH, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http

from bot.client import ImagenBot, apply_discord_urls
from bot.config import Settings, load_settings
from bot.ledger import Ledger, Scope
from bot.services import Pacing, build_services
from bot.storage import NewJob
from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.aimlapi import FakeAimlApi
from tests.fakes.discord import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
DISCORD_TOKEN = "MTIzNDU2Nzg5.fake.discord-token-secret"
AIMLAPI_KEY = "aiml-test-key-secret-0123456789"
# The bot's own Discord retries, short so a test that exhausts them does not wait seconds; the
# production schedule is tested once, in tests/test_e2e_pacing.py.
TEST_PACING = Pacing(discord_retry_delays_s=(0.05, 0.1))


@dataclass
class Stack:
    discord: FakeDiscord
    api: FakeAimlApi
    tmp: Path
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.tmp / "data" / "imagen-bot.sqlite3"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "AIMLAPI_KEY": AIMLAPI_KEY,
            "AIMLAPI_BASE_URL": self.api.base_url,
            "DISCORD_API_BASE_URL": self.discord.api_base_url,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_PATH": str(self.db_path),
            "ALLOW_PRIVATE_IMAGE_HOSTS": "true",
            "GENERATION_TIMEOUT_S": "10",
            "SHUTDOWN_GRACE_S": "5",
            "LOG_LEVEL": "INFO",
        }
        env.update(self.overrides)
        env.update(overrides)
        return env

    def settings(self, **overrides: str) -> Settings:
        return load_settings(self.env(**overrides), env_file=None)


@contextlib.asynccontextmanager
async def fake_stack(
    tmp: Path, *, host: str = "127.0.0.1", **discord_options: Any
) -> AsyncIterator[Stack]:
    """The fakes on ``host``: another address than 127.0.0.1 serves bots in other namespaces."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with (
        FakeDiscord(token=DISCORD_TOKEN, host=host, **discord_options) as fake_discord,
        FakeAimlApi(AIMLAPI_KEY, host=host) as fake_api,
    ):
        try:
            yield Stack(fake_discord, fake_api, tmp)
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
            # Even if the bot swallowed the 400: a request Discord would refuse fails the test.
            fake_discord.assert_contract_kept()


@contextlib.asynccontextmanager
async def running_bot(
    stack: Stack, *, pacing: Pacing = TEST_PACING, **overrides: str
) -> AsyncIterator[ImagenBot]:
    """The real bot in this event loop, logged in and READY against the fake Discord; its clock
    and retry schedules are ``pacing``, passed in as the entry point passes production's."""
    settings = stack.settings(**overrides)
    apply_discord_urls(settings)
    readies = stack.discord.ready_count
    import aiohttp

    async with aiohttp.ClientSession() as session:
        db = await SQLiteDatabase.open(settings.database_path)
        async with db:
            services = build_services(settings, db, session, pacing)
            bot = ImagenBot(settings=settings, services=services, guild_ready_timeout=0.05)
            task = asyncio.create_task(bot.start(settings.discord_token.reveal()))
            try:
                await stack.discord.wait_ready(timeout=15, count=readies + 1)
                await asyncio.wait_for(bot.wait_until_ready(), 15)
                yield bot
            finally:
                if not bot.is_closed():
                    await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 15)


class BotProcess:
    """``python -m bot`` as a child process, as a user would run it."""

    def __init__(self, stack: Stack, *args: str, **overrides: str) -> None:
        self.stack = stack
        self.args = args or ("run",)
        self.env = {**_base_environ(), **stack.env(**overrides)}
        self.log_path = stack.tmp / f"bot-{id(self)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bot", *self.args]

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.stack.tmp,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def start_and_wait_ready(self, timeout: float = 30.0) -> None:
        readies = self.stack.discord.ready_count
        self.start()
        await self.stack.discord.wait_ready(timeout=timeout, count=readies + 1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    async def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.proc.poll() is None:
            if loop.time() > deadline:
                self.proc.kill()
                raise TimeoutError(f"bot did not exit in {timeout} s:\n{self.log()}")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "it") -> Any:
    """Poll ``check`` until it returns something truthy; a TimeoutError names ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class Clock:
    """A clock the test moves by hand (``clock.at = ...``), for day boundaries and expiries."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _base_environ() -> dict[str, str]:
    keep: Mapping[str, str] = os.environ
    env = {k: v for k, v in keep.items() if not k.startswith(("DISCORD_", "AIMLAPI_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


_job_seq = itertools.count()


def new_job(ledger: Ledger, scope: Scope, *, user: int = 42, credits: int = 1) -> NewJob:
    """A one-image job of ``credits`` for ``user`` in ``scope``, dated by the ledger's clock."""
    day, bot_day = ledger.days(scope)
    return NewJob(
        guild_id=scope.guild_id,
        channel_id=5,
        user_id=user,
        scope=scope.key,
        budget_day=day,
        bot_day=bot_day,
        model="google/imagen-4.0-fast-generate-001",
        prompt=f"a lighthouse at dusk, take {next(_job_seq)}",
        negative_prompt=None,
        aspect_ratio="1:1",
        count=1,
        seed=None,
        params_json="{}",
        credits=credits,
        usd_estimate=0.021 * credits,
    )
