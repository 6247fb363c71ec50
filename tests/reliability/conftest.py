"""Fixtures of the reliability suite: a fresh stack per scenario, the bot with fast retries, and a
secret scan of everything the scenario produced, run when the scenario ends."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import ImagenBot
from tests.harness import TEST_PACING, Stack, fake_stack, running_bot
from tests.reliability.support import FIGURES, LOST, SecretScan, scale

# Generous budgets and a 5 s generation timeout: a hang is still quick to prove, and a loaded
# machine does not turn a normal answer into one.
BOT_ENV: dict[str, str] = {
    "DEFAULT_DAILY_CREDITS": "1000000",
    "MAX_JOBS_PER_USER": "8",
    "GENERATION_TIMEOUT_S": "5",
}


# The API client's backoff shortened (Retry-After up to 2 s still honoured), and the job
# runner's Discord retries short as everywhere in the tests.
FAST_RETRIES = dataclasses.replace(TEST_PACING, api_backoff_base_s=0.01, api_backoff_max_s=2.0)


@pytest.fixture
def leak_scan(caplog: pytest.LogCaptureFixture) -> Iterator[SecretScan]:
    """Every log record of the scenario (DEBUG and up, before any filter), every Discord payload,
    the database files and the bot's reprs and metrics, scanned for the two secrets at the end."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiosqlite")  # every statement, and no secrets in it
    scan = SecretScan()
    yield scan
    for when in ("setup", "call"):
        scan.add_records(caplog.get_records(when))
    scan.add_records(caplog.records)
    scan.assert_clean()


@pytest.fixture
async def stack(tmp_path: Path, leak_scan: SecretScan) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path) as s:
        yield s
        leak_scan.add_stack(s)


@pytest.fixture
def bot_env() -> dict[str, str]:
    return dict(BOT_ENV)


@pytest.fixture
async def bot(
    stack: Stack, bot_env: dict[str, str], leak_scan: SecretScan
) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, pacing=FAST_RETRIES, **bot_env) as b:
        yield b
        leak_scan.add_bot(b)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of the run, for docs/reliability.md."""
    if not FIGURES:
        return
    terminalreporter.section(f"reliability figures (IMAGEN_RELIABILITY_SCALE={scale().name})")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")
    terminalreporter.write_line(f"lost: {len(LOST)}" + (f" {LOST}" if LOST else ""))
