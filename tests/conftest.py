"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.api import AimlApiClient
from tests.fakes.aimlapi import FakeAimlApi
from tests.harness import AIMLAPI_KEY, Stack, fake_stack


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
