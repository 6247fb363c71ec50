"""Operations end to end: /healthz around the gateway, /metrics after a generation, JSON logs."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.client import ImagenBot, apply_discord_urls
from bot.services import build_services
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, BotProcess, Stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def test_healthz_is_503_before_the_gateway_connects_and_200_after(stack: Stack) -> None:
    port = free_port()
    settings = stack.settings(HEALTH_PORT=str(port))
    apply_discord_urls(settings)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session, aiohttp.ClientSession() as http:
        db = await SQLiteDatabase.open(settings.database_path)
        async with db:
            bot = ImagenBot(
                settings=settings,
                services=build_services(settings, db, session),
                guild_ready_timeout=0.05,
            )
            task: asyncio.Task[None] | None = None
            try:
                # login() runs setup_hook (which starts the health server) but not the gateway.
                await bot.login(settings.discord_token.reveal())
                status, body = await get(http, f"{url}/healthz")
                assert status == 503 and "gateway not connected" in body
                task = asyncio.create_task(bot.connect())
                await asyncio.wait_for(bot.wait_until_ready(), 15)
                status, body = await get(http, f"{url}/healthz")
                assert status == 200, body
                it = await stack.discord.slash("imagine", {"prompt": "a metric of foxes"})
                await it.wait_original_message(30)
                for _ in range(100):
                    status, text = await get(http, f"{url}/metrics")
                    if 'outcome="ok"' in text:
                        break
                    await asyncio.sleep(0.05)
                families = {f.name: f for f in text_string_to_metric_families(text)}
                ok = [
                    s
                    for s in families["imagen_generations"].samples
                    if s.name.endswith("_total") and s.labels.get("outcome") == "ok"
                ]
                assert ok and ok[0].value == 1
                assert ok[0].labels["model"] == "google/imagen-4.0-fast-generate-001"
                charged = families["imagen_credits_charged"].samples[0].value
                assert charged == 1
                assert DISCORD_TOKEN not in text and AIMLAPI_KEY not in text
            finally:
                await bot.close()
            if task is not None:
                await asyncio.wait_for(task, 10)


async def test_json_logs_parse_line_by_line_and_hold_no_secret(stack: Stack) -> None:
    bot = BotProcess(stack, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    try:
        await bot.start_and_wait_ready()
        it = await stack.discord.slash("imagine", {"prompt": "json logs"})
        await it.wait_original_message(30)
        refused = await stack.discord.slash("imagine", {"prompt": "x" * 500})
        await refused.wait_response(30)
        assert await bot.terminate() == 0
    finally:
        bot.close()
    lines = [line for line in bot.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    job_lines = [r for r in records if "job_id" in r]
    assert job_lines and all("user_id" in r and "guild_id" in r for r in job_lines)
    text = bot.log()
    assert DISCORD_TOKEN not in text and AIMLAPI_KEY not in text
