"""Configuration: every missing or malformed variable is named in one line, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
BASE = {"DISCORD_TOKEN": "MTIz.abc.def-secret-token", "AIMLAPI_KEY": "aiml-secret-key"}


def load(**env: str) -> Settings:
    return load_settings({**BASE, **env}, env_file=None)


def test_defaults_match_the_spec() -> None:
    s = load()
    assert s.aimlapi_base_url == "https://api.aimlapi.com"
    assert s.database_path == Path("./data/imagen-bot.sqlite3")
    assert s.default_model == "google/imagen-4.0-fast-generate-001"
    assert s.default_daily_credits == 10
    assert s.max_concurrent_generations == 4
    assert s.max_jobs_per_user == 2
    assert s.bot_daily_usd_cap is None
    assert s.generation_timeout_s == 120
    assert s.image_max_bytes == 26_214_400
    assert s.allow_private_image_hosts is False
    assert s.shutdown_grace_s == 30
    assert s.health_port is None and s.dev_guild_id is None
    assert (s.log_level, s.log_format) == ("INFO", "text")
    assert s.discord_api_base_url == "https://discord.com/api/v10"
    assert s.discord_gateway_url is None


@pytest.mark.parametrize("name", ["DISCORD_TOKEN", "AIMLAPI_KEY"])
def test_missing_secret_is_named(name: str) -> None:
    env = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(ConfigError) as err:
        load_settings(env, env_file=None)
    assert name in str(err.value) and ".env.example" in str(err.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISCORD_TOKEN", "   "),
        ("DISCORD_TOKEN", "has space"),
        ("AIMLAPI_BASE_URL", "ftp://x"),
        ("AIMLAPI_BASE_URL", "not a url"),
        ("DEFAULT_MODEL", "dall-e-3"),
        ("DEFAULT_DAILY_CREDITS", "-1"),
        ("DEFAULT_DAILY_CREDITS", "ten"),
        ("MAX_CONCURRENT_GENERATIONS", "0"),
        ("MAX_JOBS_PER_USER", "1.5"),
        ("BOT_DAILY_USD_CAP", "nan"),
        ("BOT_DAILY_USD_CAP", "-3"),
        ("GENERATION_TIMEOUT_S", "0"),
        ("IMAGE_MAX_BYTES", "12"),
        ("ALLOW_PRIVATE_IMAGE_HOSTS", "maybe"),
        ("SHUTDOWN_GRACE_S", "forever"),
        ("HEALTH_PORT", "70000"),
        ("DEV_GUILD_ID", "abc"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "xml"),
        ("DISCORD_API_BASE_URL", "discord.com"),
        ("DISCORD_GATEWAY_URL", "https://gateway"),
    ],
)
def test_malformed_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(**{name: value})
    message = str(err.value)
    assert name in message and ".env.example" in message
    assert "\n" not in message
    assert BASE["DISCORD_TOKEN"] not in message and BASE["AIMLAPI_KEY"] not in message


def test_values_are_parsed() -> None:
    s = load(
        DEFAULT_DAILY_CREDITS="25",
        BOT_DAILY_USD_CAP="1.5",
        ALLOW_PRIVATE_IMAGE_HOSTS="yes",
        HEALTH_PORT="8080",
        DEV_GUILD_ID="123456789012345678",
        LOG_FORMAT="JSON",
        LOG_LEVEL="debug",
        DISCORD_GATEWAY_URL="ws://127.0.0.1:1/gateway",
        AIMLAPI_BASE_URL="http://127.0.0.1:9/",
    )
    assert s.default_daily_credits == 25 and s.bot_daily_usd_cap == 1.5
    assert s.allow_private_image_hosts and s.health_port == 8080
    assert s.dev_guild_id == 123456789012345678
    assert (s.log_format, s.log_level) == ("json", "DEBUG")
    assert s.aimlapi_base_url == "http://127.0.0.1:9"


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_TOKEN=from-file\nAIMLAPI_KEY=file-key\nDEFAULT_DAILY_CREDITS=7\n")
    s = load_settings({"AIMLAPI_KEY": "env-key"}, env_file=env_file)
    assert s.discord_token.reveal() == "from-file"
    assert s.aimlapi_key.reveal() == "env-key"
    assert s.default_daily_credits == 7


def test_secrets_are_masked() -> None:
    s = load()
    for text in (repr(s), str(s), repr(s.discord_token), f"{s.aimlapi_key}"):
        assert BASE["DISCORD_TOKEN"] not in text and BASE["AIMLAPI_KEY"] not in text
    assert set(s.secrets()) == set(BASE.values())
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def _run_bot(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in BASE and not k.startswith("DISCORD")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["DISCORD_TOKEN", "AIMLAPI_KEY"])
def test_process_exits_at_once_naming_the_variable(tmp_path: Path, missing: str) -> None:
    database = tmp_path / "data" / "bot.sqlite3"
    env = {k: v for k, v in BASE.items() if k != missing} | {"DATABASE_PATH": str(database)}
    result = _run_bot(env, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0] and ".env.example" in lines[0]
    # At once: it stopped before opening anything (a time limit would measure the machine).
    assert not database.parent.exists()


def test_check_offline_opens_and_migrates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "bot.sqlite3"
    result = _run_bot({**BASE, "DATABASE_PATH": str(db)}, "check", "--offline", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok    configuration" in result.stdout
    assert "ok    database" in result.stdout
    assert db.exists() and (db.stat().st_mode & 0o777) == 0o600
    assert BASE["DISCORD_TOKEN"] not in result.stdout + result.stderr


def test_invite_prints_the_oauth_url(tmp_path: Path) -> None:
    # "MTIz" is base64 for "123": a bot token starts with its user id.
    result = _run_bot(BASE, "invite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=123")
    assert "scope=bot+applications.commands" in url and "permissions=" in url
