"""Fixtures shared by the end-to-end tests, the Hypothesis profile for CI, and the rule that CI
may not skip what it is meant to run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import settings as hypothesis_settings

from bot.api import AimlApiClient
from tests.fakes.aimlapi import FakeAimlApi
from tests.harness import AIMLAPI_KEY, Stack, fake_stack
from tests.postgres import any_db, backend, pg_server, pg_url

# The PostgreSQL server and the fixture that runs a test on both backends (tests/postgres.py).
__all__ = ["any_db", "backend", "pg_server", "pg_url"]

# CI: no time limit per example (a loaded 2-core machine is slow, not wrong), the same examples
# every run, and no example database carried between runs.
hypothesis_settings.register_profile(
    "ci", deadline=None, derandomize=True, database=None, print_blob=True
)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# Markers of tests CI must run: under CI, a skip of one of them fails the run (.ci/run installs
# what they need). The container tests count as such wherever they are collected.
CI_REQUIRED_MARKERS = ("ci_required", "container")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Under CI, turn a skip of a CI-required test into a failure that says why it skipped."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    required = any(item.get_closest_marker(name) for name in CI_REQUIRED_MARKERS)
    if report.skipped and required and os.environ.get("CI"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI must run this test, but it was skipped: {reason}"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The fake Discord and the fake AI/ML API on 127.0.0.1 (a module may override this)."""
    async with fake_stack(tmp_path) as s:
        yield s


@pytest.fixture
async def fake() -> AsyncIterator[FakeAimlApi]:
    """The fake AI/ML API alone, for the client's own tests."""
    async with FakeAimlApi(AIMLAPI_KEY) as server:
        yield server


@pytest.fixture
async def client(fake: FakeAimlApi) -> AsyncIterator[AimlApiClient]:
    """A client allowed to fetch from the fake (http on 127.0.0.1), as in local tests."""
    async with aiohttp.ClientSession() as session:
        yield AimlApiClient(
            session,
            base_url=fake.base_url,
            api_key=AIMLAPI_KEY,
            timeout_s=10,
            image_max_bytes=5_000_000,
            allow_private_hosts=True,
        )
