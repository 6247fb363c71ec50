"""Secrets: the API key and the Discord token never appear in a log line, a Discord payload, an
exception message, a repr, the metrics or a crash report.

Every scenario of this suite ends with the same scan (``leak_scan`` in conftest.py: the raw log
records at DEBUG, every Discord call and stored message, the database files, the bot's reprs and
metrics). This module adds the hostile cases: an upstream that echoes the key back, and the logs
of processes that crash or fail at start-up.
"""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.api import GenerationRequest
from bot.catalogue import MODELS
from bot.client import ImagenBot
from bot.config import Secret
from bot.errors import ApiError
from bot.services import Pacing, build_api
from tests.fakes.aimlapi import Fault
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, BotProcess, Stack, eventually
from tests.reliability.support import (
    SecretScan,
    count,
    final_message,
    settled_job,
)

pytestmark = pytest.mark.reliability


def test_the_scanner_finds_a_planted_secret_even_truncated() -> None:
    """The scan is only worth something if it fails when it should."""
    scan = SecretScan()
    scan.add("clean", "nothing to see")
    assert scan.leaks() == []
    scan.add("log", f"detail: key={AIMLAPI_KEY[:14]}")
    scan.add("file", b"\x89PNG" + DISCORD_TOKEN[-13:].encode() + b"\x00")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (DISCORD_TOKEN,), None)
    scan2 = SecretScan()
    scan2.add_records([record])
    assert [leak.split(" ")[0] for leak in scan.leaks()] == ["AIMLAPI_KEY", "DISCORD_TOKEN"]
    assert [leak.split(" ")[0] for leak in scan2.leaks()] == ["DISCORD_TOKEN"]


def test_reprs_mask_the_secrets(stack: Stack) -> None:
    settings = stack.settings()
    for text in (repr(settings), str(settings), repr(settings.discord_token), f"{settings}"):
        assert AIMLAPI_KEY not in text and DISCORD_TOKEN not in text
    assert repr(Secret("abc")) == "Secret('********')"


# An API that echoes the key back in every way it can: error bodies, answer shapes, image URLs.
ECHOES = [
    Fault.http(401, message=f"invalid api key {AIMLAPI_KEY}"),
    Fault.http(400, message=f"Body validation error! Authorization: Bearer {AIMLAPI_KEY}"),
    Fault.http(403, message=f"account for {AIMLAPI_KEY} has no credits"),
    Fault.http(404, message=f"model not found for key {AIMLAPI_KEY}"),
    Fault.http(503, message=f"upstream down; key {AIMLAPI_KEY}"),
    Fault(payload={"data": f"key {AIMLAPI_KEY}"}),
    Fault(payload={AIMLAPI_KEY: 1, "detail": AIMLAPI_KEY}),
]


@pytest.mark.parametrize("fault", ECHOES, ids=lambda f: str(f.status or "payload"))
async def test_an_upstream_echoing_the_key_leaks_it_nowhere(
    stack: Stack, bot: ImagenBot, fault: Fault
) -> None:
    stack.api.inject(fault, times=3)
    it = await stack.discord.slash("imagine", {"prompt": "echo"})
    message = await final_message(it)
    assert not message["attachments"]
    row = await settled_job(bot, 1)
    assert row["state"] == "failed" and row["credits_charged"] == 0
    assert AIMLAPI_KEY not in (row["error_detail"] or "")
    count("secret-echo scenarios")


async def test_exceptions_from_the_client_carry_no_key(stack: Stack) -> None:
    """The typed errors themselves: message, repr, detail, and their causes."""
    settings = stack.settings(GENERATION_TIMEOUT_S="1")
    faults = [
        Fault.http(401, message=f"bad key {AIMLAPI_KEY}"),
        Fault.http(500, message=f"oops {AIMLAPI_KEY}"),
        Fault(hang=True),
        Fault(payload={"images": [{"url": f"{stack.api.base_url}/files/x.png?k={AIMLAPI_KEY}"}]}),
    ]
    async with aiohttp.ClientSession() as session:
        api = build_api(settings, session, Pacing(api_attempts=1))
        for fault in faults:
            stack.api.inject(fault)
            with pytest.raises(ApiError) as caught:
                await api.generate(GenerationRequest(model=MODELS[0], prompt="x"))
            exc: BaseException | None = caught.value
            while exc is not None:
                for text in (str(exc), repr(exc), getattr(exc, "detail", "")):
                    assert AIMLAPI_KEY not in text, text
                exc = exc.__cause__ or exc.__context__
        assert AIMLAPI_KEY not in repr(api)


# -- crash reports -----------------------------------------------------------------------------


async def test_a_process_killed_mid_job_leaves_no_secret_in_its_log(stack: Stack) -> None:
    stack.api.latency = 5.0
    proc = BotProcess(stack, LOG_LEVEL="DEBUG", DEFAULT_DAILY_CREDITS="100")
    try:
        await proc.start_and_wait_ready()
        await stack.discord.slash("imagine", {"prompt": "killed"})
        await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
        proc.kill()
    finally:
        proc.close()
    scan = SecretScan()
    scan.add_file("crash log", proc.log_path)
    assert "job 1 reserved" in proc.log()
    scan.assert_clean()
    count("crash reports scanned")


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_token_discord_rejects_is_not_printed(stack: Stack, fmt: str) -> None:
    rejected = "OTk5OTk5.rejected.discord-token-never-print"
    proc = BotProcess(stack, DISCORD_TOKEN=rejected, LOG_LEVEL="DEBUG", LOG_FORMAT=fmt)
    try:
        proc.start()
        code = await proc.wait(30)
    finally:
        proc.close()
    log = proc.log()
    assert code == 4, log
    assert "DISCORD_TOKEN" in log and "Traceback" not in log
    scan = SecretScan({"rejected token": rejected, **SecretScan().secrets})
    scan.add_file("start-up failure log", proc.log_path)
    scan.assert_clean()
    count("crash reports scanned")


async def test_discord_unreachable_at_start_up_prints_no_secret(stack: Stack) -> None:
    proc = BotProcess(stack, DISCORD_API_BASE_URL="http://127.0.0.1:1/api/v10", LOG_LEVEL="DEBUG")
    try:
        proc.start()
        code = await proc.wait(60)
    finally:
        proc.close()
    log = proc.log()
    assert code == 5, log
    assert "cannot reach Discord" in log and "Traceback" not in log
    scan = SecretScan()
    scan.add_file("start-up failure log", proc.log_path)
    scan.assert_clean()
    count("crash reports scanned")
