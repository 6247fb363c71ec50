"""Hostile input, property-based: prompts and options a client would never send, and malformed
interaction payloads straight from the gateway.

Properties, for every input: nothing crashes (no unexpected error, the bot stays connected and
answers the next command), nothing pings (every message carries allowed_mentions that parse
nothing, naming at most the requester), and a refusal charges nothing (no job row, no API call).

Inputs come from hypothesis strategies, drawn deterministically (``derandomize``) by a sync
``@given`` function that only collects them; the async test then runs each one against ONE bot.
That keeps hypothesis out of the event loop; the price is no shrinking, so a failure names the
exact input instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalogue import MODELS, SEED_MAX, get_model
from bot.client import ImagenBot
from tests.fakes.discord import (
    DEFAULT_GUILD_ID,
    FakeInteraction,
    default_guild,
)
from tests.harness import Stack, fake_stack
from tests.reliability.support import (
    SecretScan,
    assert_user_text,
    budget,
    count,
    final_message,
    job_id_of,
    mention_violations,
    scale,
    settled_job,
)
from tests.storage_sql import sql_rows

pytestmark = pytest.mark.reliability

OTHER_GUILD_ID = 1_100_000_000_000_009_001
OTHER_CHANNEL_ID = 1_100_000_000_000_009_101
OTHER_MEMBER_ID = 1_200_000_000_000_009_001
OTHER_ADMIN_ID = 1_200_000_000_000_009_002


@pytest.fixture
async def stack(tmp_path: Path, leak_scan: SecretScan) -> AsyncIterator[Stack]:
    """Two servers, so a button can name the other server's job."""
    guilds = [
        default_guild(),
        default_guild(
            guild_id=OTHER_GUILD_ID,
            channel_id=OTHER_CHANNEL_ID,
            member_id=OTHER_MEMBER_ID,
            admin_id=OTHER_ADMIN_ID,
            name="Other Guild",
        ),
    ]
    async with fake_stack(tmp_path, guilds=guilds) as s:
        yield s
        leak_scan.add_stack(s)


# -- strategies ---------------------------------------------------------------------------------

HOSTILE_PIECES = [
    "@everyone",
    "@here",
    "<@1200000000000000002>",
    "<@!1200000000000000002>",
    "<@&1100000000000000201>",
    "<@&1100000000000000001>",
    "<#1100000000000000101>",
    "</imagine:1>",
    "**bold**",
    "__under__",
    "*",
    "_",
    "`",
    "```py\nprint(1)\n```",
    "||spoiler||",
    "> quote\n",
    "# heading\n",
    "-# subtext\n",
    "[free nitro](https://evil.example/x)",
    "<https://evil.example>",
    "~~strike~~",
    "\\",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u061c",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\x7f",
    "\x85",
    "\u2028",
    "e\u0301\u0301\u0301",
    "👨‍👩‍👧‍👦",
    "مرحبا",
    "﷽",
    "Ω",
    "<t:0:R>",
    "<:emoji:1>",
    "' OR 1=1; --",
    "%s %d {0} {prompt}",
]

piece = st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=12))
prompts = st.one_of(
    st.lists(piece, max_size=25).map("".join),
    # Long ones: a piece repeated up to past every limit (400, 4,000, 10,000 characters).
    st.tuples(st.lists(piece, min_size=1, max_size=4).map("".join), st.integers(1, 2500)).map(
        lambda t: (t[0] * t[1])[:10_000]
    ),
)
EDGE_PROMPTS = [
    "x" * 10_000,
    "x" * 4000,
    "x" * 4001,
    "x" * 400,
    "x" * 401,
    "\x00",
    "\x00" * 50,
    "a\x00b",
    "\u202e" * 400,
    "\u200b",
    " ",
    "@everyone " * 40,
]
MODEL_VALUES = [m.id for m in MODELS] + [m.name for m in MODELS] + ["nope", "x" * 100, "@everyone"]
option_sets = st.fixed_dictionaries(
    {"prompt": prompts},
    optional={
        "model": st.one_of(st.sampled_from(MODEL_VALUES), st.text(min_size=1, max_size=100)),
        "count": st.sampled_from([-1, 0, 1, 2, 4, 5, 100]),
        "seed": st.sampled_from([-1, 0, 1, SEED_MAX, SEED_MAX + 1, 2**63 - 1, -(2**63)]),
        "negative_prompt": prompts,
        "aspect_ratio": st.sampled_from(["1:1", "16:9", "9:16", "4:3", "3:4", "2:1", "", "1:1 "]),
        "enhance_prompt": st.booleans(),
    },
)


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` deterministic examples of ``strategy`` (hypothesis drives, we only collect)."""
    found: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found[:n]


# -- checks -------------------------------------------------------------------------------------


class Checker:
    """Runs one input and checks the three properties around it."""

    def __init__(self, stack: Stack, bot: ImagenBot, caplog: pytest.LogCaptureFixture) -> None:
        self.stack = stack
        self.bot = bot
        self.caplog = caplog
        self.refused = 0
        self.served = 0
        self.silent = 0

    async def job_count(self) -> int:
        rows = await sql_rows(self.bot.db, "SELECT COUNT(*) AS n FROM jobs")
        return int(rows[0]["n"])

    def unexpected_errors(self, since: int) -> list[str]:
        return [
            r.getMessage()[-3000:]
            for r in self.caplog.records[since:]
            if r.levelno >= logging.ERROR
        ]

    async def imagine(self, options: dict[str, Any]) -> None:
        shown = json.dumps(options)[:300]
        calls, logs = len(self.stack.discord.calls), len(self.caplog.records)
        jobs_before, api_before = await self.job_count(), len(self.stack.api.requests)
        reserved_before, charged_before = await budget(self.bot)
        it = await self.stack.discord.slash("imagine", options)
        try:
            response = await it.wait_response(30)
        except TimeoutError:
            raise AssertionError(f"{shown}: no answer") from None
        if response.type == 4:
            self.refused += 1
            assert response.data["flags"] & 64, shown
            assert_user_text(response.data["content"])
            assert await self.job_count() == jobs_before, shown
            assert len(self.stack.api.requests) == api_before, shown
            assert await budget(self.bot) == (reserved_before, charged_before), shown
        else:
            assert response.type == 5, (response, shown)
            self.served += 1
            message = await final_message(it)
            row = await settled_job(self.bot, await self.last_job())
            model = get_model(row["model"])
            assert model is not None
            if message["attachments"]:
                assert row["state"] == "done", shown
                assert row["credits_charged"] == len(message["attachments"]) * (
                    model.credits_per_image
                )
                assert job_id_of(message) == row["id"]
            else:
                assert row["state"] == "failed" and row["credits_charged"] == 0, shown
                assert_user_text(message["content"])
            assert await budget(self.bot) == (0, charged_before + row["credits_charged"]), shown
        assert mention_violations(self.stack, {it.user.id}, since=calls) == [], shown
        assert self.unexpected_errors(logs) == [], shown
        assert self.stack.api.contract_violations == [], shown

    async def last_job(self) -> int:
        rows = await sql_rows(self.bot.db, "SELECT MAX(id) AS id FROM jobs")
        return int(rows[0]["id"])

    async def still_serving(self) -> None:
        assert self.bot.gateway_connected()
        it = await self.stack.discord.slash("imagine", {"prompt": "a calm lake"})
        message = await final_message(it)
        assert len(message["attachments"]) == 1


@pytest.fixture
def checker(stack: Stack, bot: ImagenBot, caplog: pytest.LogCaptureFixture) -> Checker:
    return Checker(stack, bot, caplog)


# -- prompts and options ------------------------------------------------------------------------


async def test_hostile_prompts(checker: Checker) -> None:
    inputs = EDGE_PROMPTS + draw(prompts, scale().examples)
    for prompt in inputs:
        await checker.imagine({"prompt": prompt})
    await checker.still_serving()
    count("hostile prompts tried", len(inputs))
    assert checker.served and checker.refused  # both sides of the line were exercised


async def test_hostile_prompts_on_the_long_prompt_model(checker: Checker) -> None:
    inputs = EDGE_PROMPTS + draw(prompts, scale().examples)
    for prompt in inputs:
        await checker.imagine(
            {"prompt": prompt, "model": "google/imagen4/preview", "negative_prompt": prompt}
        )
    await checker.still_serving()
    count("hostile prompts tried", len(inputs))
    assert checker.served and checker.refused, (checker.served, checker.refused)


BOUNDS: list[dict[str, Any]] = [
    {"prompt": "x", "count": 0},
    {"prompt": "x", "count": 1},
    {"prompt": "x", "count": 4},
    {"prompt": "x", "count": 5},
    {"prompt": "x", "count": -1},
    {"prompt": "x", "seed": -1},
    {"prompt": "x", "seed": 0},
    {"prompt": "x", "seed": SEED_MAX},
    {"prompt": "x", "seed": SEED_MAX + 1},
    {"prompt": "x", "seed": 2**63 - 1},
    {"prompt": "x", "model": "google/imagen4/preview", "seed": 0},
    {"prompt": "x" * 400},
    {"prompt": "x" * 401},
    {"prompt": "x" * 4000, "model": "google/imagen4/preview"},
    {"prompt": "x" * 4001, "model": "google/imagen4/preview"},
    {"prompt": "x", "negative_prompt": "people"},
    {"prompt": "x", "model": "google/imagen4/preview", "negative_prompt": "y" * 4001},
    {"prompt": "x", "aspect_ratio": "2:1"},
    {"prompt": "x", "aspect_ratio": ""},
    {"prompt": "x", "model": ""},
    {"prompt": "x", "model": "x" * 101},
    {"prompt": ""},
]
BOUNDS_SERVED_REFUSED = (8, 14)


async def test_every_option_at_and_past_its_bounds(checker: Checker) -> None:
    for options in BOUNDS:
        await checker.imagine(options)
    # Each bound is on one side of the line or the other, so the split is exact.
    assert (checker.served, checker.refused) == BOUNDS_SERVED_REFUSED
    await checker.still_serving()
    count("option bounds tried", len(BOUNDS))


async def test_hostile_option_sets(checker: Checker) -> None:
    inputs = draw(option_sets, scale().examples)
    for options in inputs:
        await checker.imagine(options)
    await checker.still_serving()
    count("hostile option sets tried", len(inputs))
    assert checker.served and checker.refused, (checker.served, checker.refused)


# -- malformed payloads from the gateway --------------------------------------------------------


async def raw(
    stack: Stack,
    itype: int,
    data: dict[str, Any],
    *,
    guild_id: int = DEFAULT_GUILD_ID,
    message: dict[str, Any] | None = None,
) -> FakeInteraction:
    """An interaction with exactly this ``data``, whatever a client would send."""
    fake = stack.discord
    guild = fake.get_guild(guild_id)
    assert guild is not None and guild.first_text_channel is not None
    it = fake._new_interaction(
        itype,
        data,
        user=guild.members[0],
        guild_id=guild_id,
        channel_id=guild.first_text_channel.id,
        dm=False,
        member_permissions=None,
        roles=None,
        message=message,
    )
    return await fake._send_interaction(it)


def command_id(stack: Stack, name: str) -> str:
    return str(stack.discord._find_command(name, DEFAULT_GUILD_ID)["id"])


def malformed_commands(stack: Stack) -> dict[str, dict[str, Any]]:
    imagine = {"id": command_id(stack, "imagine"), "name": "imagine", "type": 1}
    admin = {"id": command_id(stack, "imagine-admin"), "name": "imagine-admin", "type": 1}
    return {
        "no options": {**imagine},
        "empty options": {**imagine, "options": []},
        "prompt as integer": {**imagine, "options": [{"name": "prompt", "type": 4, "value": 5}]},
        "prompt as null": {**imagine, "options": [{"name": "prompt", "type": 3, "value": None}]},
        "prompt as list": {**imagine, "options": [{"name": "prompt", "type": 3, "value": ["a"]}]},
        "count as text": {
            **imagine,
            "options": [
                {"name": "prompt", "type": 3, "value": "x"},
                {"name": "count", "type": 3, "value": "three"},
            ],
        },
        "seed as float": {
            **imagine,
            "options": [
                {"name": "prompt", "type": 3, "value": "x"},
                {"name": "seed", "type": 10, "value": 1.5},
            ],
        },
        "enhance as text": {
            **imagine,
            "options": [
                {"name": "prompt", "type": 3, "value": "x"},
                {"name": "enhance_prompt", "type": 3, "value": "yes"},
            ],
        },
        "unknown option": {
            **imagine,
            "options": [
                {"name": "prompt", "type": 3, "value": "x"},
                {"name": "evil", "type": 3, "value": "@everyone"},
            ],
        },
        "option without value": {**imagine, "options": [{"name": "prompt", "type": 3}]},
        "unknown command": {"id": "1", "name": "no-such-command", "type": 1},
        "known name, wrong id": {**imagine, "id": "1", "options": []},
        "unknown subcommand": {
            **admin,
            "options": [{"name": "no-such-group", "type": 1, "options": []}],
        },
        "unknown subcommand in a group": {
            **admin,
            "options": [{"name": "config", "type": 2, "options": [{"name": "nope", "type": 1}]}],
        },
        "group without subcommand": {**admin, "options": [{"name": "config", "type": 2}]},
        "admin without options": {**admin},
    }


STALE = "has changed"  # replies.STALE_COMMAND
BAD_VALUE = "value I can't use"
SILENT = None
# Missing or unknown parts of a command are what a Discord client with a stale command list
# sends; wrong types only a forged payload. An option without a value breaks discord.py itself
# (a KeyError in its namespace code, logged by asyncio): nothing is answered or charged.
COMMAND_EXPECTATIONS: dict[str, str | None] = {
    "no options": STALE,
    "empty options": STALE,
    "prompt as integer": BAD_VALUE,
    "prompt as null": "*",
    "prompt as list": BAD_VALUE,
    "count as text": BAD_VALUE,
    "seed as float": BAD_VALUE,
    "enhance as text": BAD_VALUE,
    "unknown option": "*",
    "option without value": SILENT,
    "unknown command": STALE,
    "known name, wrong id": STALE,
    "unknown subcommand": STALE,
    "unknown subcommand in a group": STALE,
    "group without subcommand": STALE,
    "admin without options": STALE,
}
DISCORD_PY_FAILURES = {"option without value": "KeyError('value')"}


async def test_malformed_command_payloads(stack: Stack, bot: ImagenBot, checker: Checker) -> None:
    cases = malformed_commands(stack)
    assert set(cases) == set(COMMAND_EXPECTATIONS)
    for name, data in cases.items():
        calls, logs = len(stack.discord.calls), len(checker.caplog.records)
        it = await raw(stack, 2, data)
        await after_payload(
            stack,
            checker,
            it,
            name,
            calls,
            logs,
            COMMAND_EXPECTATIONS[name],
            DISCORD_PY_FAILURES.get(name),
        )
    await checker.still_serving()
    count("malformed payloads tried", len(cases))


async def after_payload(
    stack: Stack,
    checker: Checker,
    it: FakeInteraction,
    name: str,
    calls: int,
    logs: int,
    expect: str | None,
    known_failure: str | None = None,
) -> None:
    """The payload got the expected short private answer (or none, or "*": any); nothing
    charged, nothing pinged, no unexpected error, still connected."""
    if expect is SILENT:
        # A command that always answers, sent after the payload: the bot takes interactions in
        # the order they arrive, so an answer to the payload would have come before this one.
        barrier = await stack.discord.slash("help")
        await barrier.wait_response(30)
        assert it.response is None, (name, it.response)
        checker.silent += 1
    else:
        try:
            response = await it.wait_response(30)
        except TimeoutError:
            raise AssertionError(f"{name!r}: no answer") from None
        if response.type == 4:
            content = response.data.get("content") or ""
            assert response.data.get("flags", 0) & 64, name
            assert_user_text(content)
            if expect != "*":
                assert expect in content, (name, content)
        else:
            assert expect == "*" and response.type in (5, 6, 9), (name, response)
    await no_open_jobs(checker)
    assert mention_violations(stack, {it.user.id}, since=calls) == [], name
    assert await budget(checker.bot) == (0, await charged(checker)), name
    assert checker.bot.gateway_connected(), name
    errors = checker.unexpected_errors(logs)
    if known_failure is not None:
        errors = [e for e in errors if known_failure not in e]
    assert errors == [], (name, errors)


async def no_open_jobs(checker: Checker, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while await checker.bot.db.jobs.open_jobs():
        assert time.monotonic() < deadline, "jobs still open"
        await asyncio.sleep(0.02)


async def charged(checker: Checker) -> int:
    rows = await sql_rows(checker.bot.db, "SELECT COALESCE(SUM(credits_charged), 0) AS c FROM jobs")
    return int(rows[0]["c"])


def button_row(custom_id: str) -> dict[str, Any]:
    button = {"type": 2, "style": 1, "label": "x", "custom_id": custom_id}
    return {"type": 1, "components": [button]}


NOT_FOUND = "can't find"
NOT_QUEUED = "no longer waiting"


async def test_malformed_and_foreign_button_payloads(
    stack: Stack, bot: ImagenBot, checker: Checker
) -> None:
    # A job of this server and one of the other server, each with its result message.
    mine = await final_message(await stack.discord.slash("imagine", {"prompt": "mine"}))
    theirs = await final_message(
        await stack.discord.slash("imagine", {"prompt": "theirs"}, guild_id=OTHER_GUILD_ID)
    )
    my_job, their_job = job_id_of(mine), job_id_of(theirs)
    await no_open_jobs(checker)
    jobs_before = await checker.job_count()
    # custom_ids no button template matches are not ours to answer (discord.py drops them).
    expectations: dict[str, str | None] = {
        "": SILENT,
        "garbage": SILENT,
        "imagen:": SILENT,
        "imagen:reroll:": SILENT,
        "imagen:reroll:abc": SILENT,
        "imagen:reroll:-1": SILENT,
        "imagen:reroll:1:extra": SILENT,
        "imagen:reroll:99999999999999999999": SILENT,
        f"imagen:frobnicate:{my_job}": SILENT,
        "x" * 100: SILENT,
        "imagen:reroll:9223372036854775808": NOT_FOUND,
        "imagen:details:" + "9" * 19: NOT_FOUND,
        "imagen:details:9223372036854775807": NOT_FOUND,
        "imagen:details:0": NOT_FOUND,
        "imagen:details:424242": NOT_FOUND,
        "imagen:cancel:424242": NOT_QUEUED,
        f"imagen:cancel:{my_job}": NOT_QUEUED,
        # Another server's job is never found from here.
        f"imagen:details:{their_job}": NOT_FOUND,
        f"imagen:delete:{their_job}": NOT_FOUND,
        f"imagen:edit:{their_job}": NOT_FOUND,
        f"imagen:reroll:{their_job}": NOT_FOUND,
        f"imagen:cancel:{their_job}": NOT_QUEUED,
    }
    for custom_id, expect in expectations.items():
        calls, logs = len(stack.discord.calls), len(checker.caplog.records)
        # discord.py only dispatches a custom_id the message carries, as Discord guarantees;
        # a forged payload carries it in a forged message.
        forged = {**mine, "components": [button_row(custom_id)]}
        it = await raw(stack, 3, {"custom_id": custom_id, "component_type": 2}, message=forged)
        await after_payload(stack, checker, it, custom_id, calls, logs, expect)
    assert await checker.job_count() == jobs_before
    assert stack.discord.get_message(int(theirs["id"])) is not None
    # Modal submissions that name no modal of ours, or ours with its fields missing.
    modals: list[tuple[str, list[dict[str, Any]]]] = [
        ("nope", []),
        (f"imagen:edit-modal:{their_job}", []),
        ("", [{"type": 1, "components": [{"type": 4, "custom_id": "prompt"}]}]),
    ]
    for custom_id, components in modals:
        calls, logs = len(stack.discord.calls), len(checker.caplog.records)
        it = await raw(stack, 5, {"custom_id": custom_id, "components": components})
        await after_payload(stack, checker, it, f"modal {custom_id!r}", calls, logs, SILENT)
    await checker.still_serving()
    count("malformed payloads tried", len(expectations) + len(modals))
