"""Shared helpers of the reliability suite: the size knob, the secret scanner, waiting and ledger
checks, and the figures the suite reports at the end of a run.

The suite's size comes from ``IMAGEN_RELIABILITY_SCALE``: ``ci`` (the default, what CI runs) or
``full`` (the pre-release run: ``IMAGEN_RELIABILITY_SCALE=full pytest -m reliability``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bot.client import ImagenBot
from tests.fakes.discord import FakeInteraction
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, Stack
from tests.storage_sql import sql_rows

# -- the size knob --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    examples: int  # hypothesis examples per property (each one is a real command end to end)
    crash_rounds: int  # SIGKILL rounds in the crash-cycle test
    jobs_per_round: int  # jobs submitted in each crash round


SCALES: Final = {
    "ci": Scale("ci", examples=20, crash_rounds=5, jobs_per_round=4),
    "full": Scale("full", examples=250, crash_rounds=20, jobs_per_round=6),
}


def scale() -> Scale:
    name = os.environ.get("IMAGEN_RELIABILITY_SCALE", "ci").strip().lower() or "ci"
    if name not in SCALES:
        raise ValueError(f"IMAGEN_RELIABILITY_SCALE must be one of {sorted(SCALES)}, not {name!r}")
    return SCALES[name]


# -- figures for the report -----------------------------------------------------------------------

FIGURES: collections.Counter[str] = collections.Counter()
LOST: list[str] = []  # anything the checks found lost (a reservation neither charged nor refunded)


def count(name: str, n: int = 1) -> None:
    FIGURES[name] += n


# -- the secret scanner ---------------------------------------------------------------------------

SECRETS: Final = {"DISCORD_TOKEN": DISCORD_TOKEN, "AIMLAPI_KEY": AIMLAPI_KEY}
_WINDOW: Final = 12  # any 12 characters of a secret in a row count as a leak (truncated copies)


def _windows(secret: str) -> list[str]:
    if len(secret) <= _WINDOW:
        return [secret]
    return [secret[i : i + _WINDOW] for i in range(len(secret) - _WINDOW + 1)]


class SecretScan:
    """Collects every text the bot put out in a scenario and finds secrets in any of them."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.secrets = dict(SECRETS if secrets is None else secrets)
        self._windows = {
            name: ([w.encode() for w in _windows(secret)], _windows(secret))
            for name, secret in self.secrets.items()
        }
        self.sources: list[tuple[str, str | bytes]] = []

    def add(self, label: str, data: str | bytes | None) -> None:
        if data:
            self.sources.append((label, data))

    def add_records(self, records: Iterable[logging.LogRecord]) -> None:
        formatter = logging.Formatter()
        for record in records:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + formatter.formatException(record.exc_info)
            if record.exc_text:
                text += "\n" + record.exc_text
            if record.stack_info:
                text += "\n" + record.stack_info
            self.add(f"log record {record.name}:{record.lineno}", text)

    def add_stack(self, stack: Stack) -> None:
        """Every Discord call the bot made (bodies, queries, paths, files) and every stored
        message; the database files (job rows keep error details)."""
        for call in stack.discord.calls:
            label = f"Discord {call.method} {call.path}"
            self.add(label, call.path)
            self.add(label + " query", json.dumps(call.query))
            self.add(label + " body", json.dumps(call.json, ensure_ascii=False))
            for f in call.files:
                self.add(f"{label} file {f.filename}", f.data)
        for message in stack.discord.all_messages:
            self.add(f"message {message.get('id')}", json.dumps(message, ensure_ascii=False))
        folder = stack.db_path.parent
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    self.add(f"database file {path.name}", path.read_bytes())

    def add_bot(self, bot: ImagenBot) -> None:
        """Reprs of what holds a secret, and the metrics page."""
        services = bot.services
        self.add("repr(Settings)", repr(services.settings))
        self.add("str(Settings)", str(services.settings))
        self.add("repr(AimlApiClient)", repr(services.api))
        self.add("repr(Services)", repr(services))
        self.add("repr(GenerationService)", repr(services.generation))
        self.add("metrics", services.metrics.render().decode("utf-8", "replace"))

    def add_file(self, label: str, path: Path) -> None:
        if path.exists():
            self.add(label, path.read_bytes())

    def leaks(self) -> list[str]:
        found: list[str] = []
        for label, data in self.sources:
            for name, (byte_windows, str_windows) in self._windows.items():
                if isinstance(data, bytes):
                    hit = next((w.decode() for w in byte_windows if w in data), None)
                else:
                    hit = next((w for w in str_windows if w in data), None)
                if hit is not None:
                    found.append(f"{name} (…{hit}…) in {label}")
        return found

    def assert_clean(self) -> None:
        count("texts scanned for secrets", len(self.sources))
        leaks = self.leaks()
        assert not leaks, "secrets leaked:\n" + "\n".join(leaks[:20])


# -- waiting and the ledger -----------------------------------------------------------------------


async def final_message(it: FakeInteraction, timeout: float = 30.0) -> dict[str, Any]:
    """The deferred response once the bot has edited it into its final form."""
    response = await it.wait_response(timeout)
    assert response.type == 5, response
    message: dict[str, Any] = await it.wait_original_message(timeout)
    return message


async def budget(bot: ImagenBot) -> tuple[int, int]:
    """(reserved, charged) over every user and day."""
    rows = await sql_rows(
        bot.db,
        "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c FROM budget_usage",
    )
    return int(rows[0]["r"]), int(rows[0]["c"])


async def jobs(bot: ImagenBot) -> list[dict[str, Any]]:
    return [dict(r) for r in await sql_rows(bot.db, "SELECT * FROM jobs ORDER BY id")]


async def settled_job(bot: ImagenBot, job_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """The job's row once it has left the open states."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await sql_rows(bot.db, "SELECT * FROM jobs WHERE id = ?", (job_id,))
        row = dict(rows[0]) if rows else None
        if row is not None and row["state"] not in ("queued", "running"):
            return row
        if time.monotonic() > deadline:
            state = row["state"] if row else "missing"
            raise TimeoutError(f"job {job_id} still {state} after {timeout} s")
        await asyncio.sleep(0.02)


def job_id_of(message: dict[str, Any]) -> int:
    """The job id a result message names in its buttons."""
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            match = re.fullmatch(r"imagen:\w+:(\d+)", component.get("custom_id", ""))
            if match:
                return int(match[1])
    raise AssertionError(f"no job button on {message}")


# -- user-facing text -----------------------------------------------------------------------------

# What must never reach a user: upstream wording, tracebacks, internal names.
UPSTREAM_MARKERS: Final = (
    "Traceback",
    'File "',
    "requestId",
    "statusCode",
    "HTTP ",
    "Body validation error",
    "Unauthorized",
    "Insufficient credits",
    "Internal server error",
    "Bad gateway",
    "Service unavailable",
    "Generation timeout",
    "Too Many Requests",
    "Model not found",
    "127.0.0.1",
    "169.254",
    "aiohttp",
    "Error:",
    "Exception",
)


def assert_user_text(text: str, *, limit: int = 300) -> None:
    """Short, ours, no upstream text, no traceback."""
    assert text, "the user was told nothing"
    assert len(text) <= limit, f"message of {len(text)} characters: {text!r}"
    for marker in UPSTREAM_MARKERS:
        assert marker not in text, f"{marker!r} reached the user: {text!r}"


# -- pings ----------------------------------------------------------------------------------------


def mention_violations(stack: Stack, allowed_users: set[int], since: int = 0) -> list[str]:
    """Calls after ``since`` that could ping: a message body without ``allowed_mentions`` that
    parses nothing, or allowing users other than ``allowed_users`` (the requester)."""
    bad: list[str] = []
    for call in stack.discord.calls[since:]:
        body = call.json
        if not isinstance(body, dict):
            continue
        data = body.get("data") if "type" in body and isinstance(body.get("data"), dict) else body
        if not isinstance(data, dict) or not ("content" in data or "embeds" in data):
            continue
        mentions = data.get("allowed_mentions")
        where = f"{call.method} {call.path}"
        if not isinstance(mentions, dict):
            bad.append(f"{where}: no allowed_mentions")
            continue
        if mentions.get("parse") not in ([], None) or (
            mentions.get("parse") is None and "users" not in mentions
        ):
            bad.append(f"{where}: parse {mentions.get('parse')!r}")
        users = {int(u) for u in mentions.get("users") or []}
        if not users <= allowed_users:
            bad.append(f"{where}: users {sorted(users)}")
        if mentions.get("roles"):
            bad.append(f"{where}: roles {mentions['roles']}")
        if mentions.get("replied_user"):
            bad.append(f"{where}: replied_user")
    return bad


# -- connections ----------------------------------------------------------------------------------

_FOREIGN: list[str] = []
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Every connect and name lookup in this process that is not for 127.0.0.1 (the fakes)."""
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address and str(address[0]) not in _LOCAL_HOSTS:
            _FOREIGN.append(f"connect {address[0]}:{address[1] if len(address) > 1 else ''}")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host is not None and str(host) not in _LOCAL_HOSTS:
            _FOREIGN.append(f"getaddrinfo {host}")


sys.addaudithook(_audit)


def foreign_connections() -> list[str]:
    """Connections and lookups so far for anything but 127.0.0.1 (compare before and after)."""
    return list(_FOREIGN)
