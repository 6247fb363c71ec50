"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Stack, fake_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The fake Discord and the fake AI/ML API on 127.0.0.1 (a module may override this)."""
    async with fake_stack(tmp_path) as s:
        yield s
