"""Typed configuration, read once from the environment and `.env`, validated at start.

A missing or malformed variable raises ``ConfigError`` with one line naming it; the entry point
prints that line and exits non-zero. Secrets are wrapped in ``Secret`` so they never reach a repr,
a log line or an exception message.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.catalogue import get_model

ENV_EXAMPLE_HINT: Final = "see .env.example"
DEFAULT_DISCORD_API_BASE_URL: Final = "https://discord.com/api/v10"


class ConfigError(Exception):
    """A configuration problem a person can act on, in one line."""


class Secret:
    """A string that shows itself only when asked with ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    discord_token: Secret
    aimlapi_key: Secret
    aimlapi_base_url: str = "https://api.aimlapi.com"
    database_path: Path = Path("./data/imagen-bot.sqlite3")
    database_url: Secret | None = None  # postgresql://...: PostgreSQL instead of DATABASE_PATH
    database_pool_size: int = 5
    default_model: str = "google/imagen-4.0-fast-generate-001"
    default_daily_credits: int = 10
    max_concurrent_generations: int = 4
    max_jobs_per_user: int = 2
    bot_daily_usd_cap: float | None = None
    generation_timeout_s: float = 120.0
    image_max_bytes: int = 26_214_400
    allow_private_image_hosts: bool = False
    shutdown_grace_s: float = 30.0
    health_port: int | None = None
    health_host: str = "127.0.0.1"  # /healthz and /metrics show spend: this machine only
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    discord_api_base_url: str = DEFAULT_DISCORD_API_BASE_URL
    discord_gateway_url: str | None = None  # None: the one discord.py knows
    # Sharding (issue 20): None runs one un-sharded process, as before; "auto" asks Discord.
    shard_count: int | Literal["auto"] | None = None
    shard_ids: tuple[int, ...] | None = None  # None: every shard of shard_count
    cluster_lease_s: float = 30.0

    @property
    def sharded(self) -> bool:
        """Several processes may share the database: jobs, slots and limits are bot-wide."""
        return self.shard_count is not None

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for the log filter that scrubs them (the database URL's password
        alone too: a driver's error may quote it without the rest of the URL)."""
        values = [
            v.reveal() for f in fields(self) if isinstance(v := getattr(self, f.name), Secret)
        ]
        if self.database_url is not None:
            password = urlsplit(self.database_url.reveal()).password
            if password:
                values.append(password)
        return tuple(values)


def _missing(name: str) -> ConfigError:
    return ConfigError(
        f"{name} is not set: add it to the environment or to .env ({ENV_EXAMPLE_HINT})"
    )


def _bad(name: str, why: str) -> ConfigError:
    return ConfigError(f"{name} is invalid: {why} ({ENV_EXAMPLE_HINT})")


class _Reader:
    """Reads and converts one variable at a time, naming it in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def secret(self, name: str) -> Secret:
        value = self.raw(name)
        if value is None:
            raise _missing(name)
        if any(c.isspace() for c in value):
            raise _bad(name, "it contains whitespace")
        return Secret(value)

    def integer(self, name: str, default: int | None, *, minimum: int, maximum: int) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value.replace("_", ""))
        except ValueError:
            raise _bad(name, "expected a whole number") from None
        if not minimum <= number <= maximum:
            raise _bad(name, f"expected a number from {minimum} to {maximum}")
        return number

    def required_int(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.integer(name, default, minimum=minimum, maximum=maximum)
        assert value is not None
        return value

    def number(
        self, name: str, default: float | None, *, minimum: float, maximum: float
    ) -> float | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise _bad(name, "expected a number") from None
        if not math.isfinite(number) or not minimum <= number <= maximum:
            raise _bad(name, f"expected a number from {minimum:g} to {maximum:g}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise _bad(name, "expected true or false")

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise _bad(
                name, f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value.rstrip("/")

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        if self.raw(name) is None:
            return None
        return self.url(name, "", schemes)

    def database_url(self, name: str) -> Secret | None:
        """A PostgreSQL URL, kept secret whole: it may carry a password."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            scheme = urlsplit(value).scheme
        except ValueError:
            scheme = ""
        if scheme not in {"postgresql", "postgres"}:
            # The value itself is not repeated: it may hold a password.
            raise _bad(name, "expected a URL starting with postgresql:// or postgres://")
        return Secret(value)

    def ip_address(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise _bad(
                name,
                "expected an IP address to listen on: 127.0.0.1 (this machine only) or "
                "0.0.0.0 (every interface, as in a container)",
            ) from None

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise _bad(name, f"expected one of {', '.join(choices)}")


_SNOWFLAKE_MAX = 2**63 - 1


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
) -> Settings:
    """Build ``Settings`` from ``.env`` overlaid by the process environment."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    r = _Reader(merged)

    default_model = r.raw("DEFAULT_MODEL") or Settings.default_model
    if get_model(default_model) is None:
        raise _bad("DEFAULT_MODEL", f"unknown model {default_model[:80]!r}")

    log_level = r.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    shard_count, shard_ids = _shards(r)
    return Settings(
        discord_token=r.secret("DISCORD_TOKEN"),
        aimlapi_key=r.secret("AIMLAPI_KEY"),
        aimlapi_base_url=r.url("AIMLAPI_BASE_URL", Settings.aimlapi_base_url, ("https", "http")),
        database_path=Path(r.raw("DATABASE_PATH") or str(Settings.database_path)),
        database_url=r.database_url("DATABASE_URL"),
        database_pool_size=r.required_int("DATABASE_POOL_SIZE", 5, minimum=1, maximum=100),
        default_model=default_model,
        default_daily_credits=r.required_int(
            "DEFAULT_DAILY_CREDITS", 10, minimum=0, maximum=1_000_000
        ),
        max_concurrent_generations=r.required_int(
            "MAX_CONCURRENT_GENERATIONS", 4, minimum=1, maximum=64
        ),
        max_jobs_per_user=r.required_int("MAX_JOBS_PER_USER", 2, minimum=1, maximum=100),
        bot_daily_usd_cap=r.number("BOT_DAILY_USD_CAP", None, minimum=0.0, maximum=1e9),
        generation_timeout_s=_req(
            r.number("GENERATION_TIMEOUT_S", 120.0, minimum=0.1, maximum=3600.0)
        ),
        image_max_bytes=r.required_int(
            "IMAGE_MAX_BYTES", 26_214_400, minimum=1024, maximum=512 * 1024 * 1024
        ),
        allow_private_image_hosts=r.boolean("ALLOW_PRIVATE_IMAGE_HOSTS", False),
        shutdown_grace_s=_req(r.number("SHUTDOWN_GRACE_S", 30.0, minimum=0.0, maximum=3600.0)),
        health_port=r.integer("HEALTH_PORT", None, minimum=1, maximum=65535),
        health_host=r.ip_address("HEALTH_HOST", Settings.health_host),
        dev_guild_id=r.integer("DEV_GUILD_ID", None, minimum=1, maximum=_SNOWFLAKE_MAX),
        log_level=log_level,
        log_format=r.choice("LOG_FORMAT", "text", ("text", "json")),
        discord_api_base_url=r.url(
            "DISCORD_API_BASE_URL", DEFAULT_DISCORD_API_BASE_URL, ("https", "http")
        ),
        discord_gateway_url=r.optional_url("DISCORD_GATEWAY_URL", ("wss", "ws")),
        shard_count=shard_count,
        shard_ids=shard_ids,
        cluster_lease_s=_req(r.number("CLUSTER_LEASE_S", 30.0, minimum=1.0, maximum=3600.0)),
    )


_MAX_SHARDS: Final = 100_000


def _shards(r: _Reader) -> tuple[int | Literal["auto"] | None, tuple[int, ...] | None]:
    """``SHARD_COUNT`` and ``SHARD_IDS``, checked against each other."""
    raw_count = r.raw("SHARD_COUNT")
    count: int | Literal["auto"] | None
    if raw_count is not None and raw_count.lower() == "auto":
        count = "auto"
    else:
        try:
            count = r.integer("SHARD_COUNT", None, minimum=1, maximum=_MAX_SHARDS)
        except ConfigError:
            raise _bad(
                "SHARD_COUNT", f"expected auto or a number from 1 to {_MAX_SHARDS}"
            ) from None
    raw_ids = r.raw("SHARD_IDS")
    if raw_ids is None:
        return count, None
    if count is None:
        raise _bad("SHARD_IDS", "set SHARD_COUNT too (a number, or auto)")
    ids = parse_shard_ids(raw_ids)
    if isinstance(count, int):
        check_shard_ids(ids, count)
    return count, ids


def parse_shard_ids(raw: str) -> tuple[int, ...]:
    """``0-3``, ``0,2`` or a mix (``0-1,4``): sorted, without repeats."""
    ids: set[int] = set()
    for part in raw.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise _bad(
                "SHARD_IDS", f"{part.strip()[:20]!r} is not a shard id or a range like 0-3"
            ) from None
        if low < 0 or high < low or high - low >= _MAX_SHARDS:
            raise _bad("SHARD_IDS", f"{part.strip()[:20]!r} is not a range like 0-3")
        ids.update(range(low, high + 1))
    return tuple(sorted(ids))


def check_shard_ids(ids: tuple[int, ...], count: int) -> None:
    """Every id must be below the count (also called once ``auto`` has been resolved)."""
    if ids and ids[-1] >= count:
        raise _bad(
            "SHARD_IDS",
            f"shard {ids[-1]} does not exist with SHARD_COUNT={count} (ids run 0 to {count - 1})",
        )


def _req(value: float | None) -> float:
    assert value is not None
    return value
