"""The usage chart beside /imagine-admin usage's CSV in each language (issue 21): its words follow
the reader where the chart's font can draw them, and fall back to English where it cannot
(Japanese), instead of empty boxes."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

from bot import texts
from bot.admin import AdminService
from bot.ledger import Ledger
from bot.policy import Policy
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import Clock
from tests.messages_i18n import LANGUAGES

GUILD = 10


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_chart_draws_every_letter_of_its_labels(tmp_path: Path, language: str) -> None:
    clock = Clock(dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC).timestamp())
    async with await SQLiteDatabase.open(tmp_path / "chart.sqlite3") as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None, clock=clock)
        admin = AdminService(db, Policy(db, clock=clock), ledger, default_model="x", clock=clock)
        with warnings.catch_warnings(record=True) as caught, texts.speaking(language):
            warnings.simplefilter("always")
            png = await admin.usage_chart(GUILD, admin.usage_since(7), 7, [])
    assert png.startswith(b"\x89PNG")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
