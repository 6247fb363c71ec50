"""`python -m bot check` warns when nothing caps the bot's daily spend (issue: security point 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import run_check
from bot.config import load_settings

BASE = {"DISCORD_TOKEN": "MTIz.abc.def-secret-token", "AIMLAPI_KEY": "aiml-secret-key"}


async def check_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], **env: str) -> str:
    settings = load_settings(
        {**BASE, "DATABASE_PATH": str(tmp_path / "bot.sqlite3"), **env}, env_file=None
    )
    assert await run_check(settings, offline=True) == 0  # a warning, not a failure
    return capsys.readouterr().out


async def test_check_warns_when_the_usd_cap_is_unset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (await check_output(tmp_path, capsys)).splitlines()
    warning = next(line for line in lines if line.startswith("warn"))
    assert "BOT_DAILY_USD_CAP" in warning and ".env" in warning


async def test_check_is_quiet_about_a_set_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = await check_output(tmp_path, capsys, BOT_DAILY_USD_CAP="5")
    assert "warn" not in out and "ok    database" in out
