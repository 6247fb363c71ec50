"""A hostile blocklist cannot freeze the bot (issue: security point 1).

An admin of a server they made themselves adds regexes that pass the static screen and the add-time
probes but backtrack on prompts built for them, then hammers ``/imagine`` with such prompts. The
check runs on worker threads under one deadline per request, one check at a time per server, after
the cheap per-member checks, so members of every other server keep being answered in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.errors import RefusedError, UserInputError
from bot.moderation import (
    MAX_REGEX_ENTRIES,
    Blocklist,
    BlocklistEntry,
    compile_entry,
)
from bot.policy import Policy
from bot.storage import Database
from bot.storage.sqlite import SQLiteDatabase
from tests.fakes.aimlapi import Fault
from tests.fakes.discord import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeUser,
    default_guild,
)
from tests.harness import Stack, fake_stack, running_bot
from tests.messages_en import BLOCKLIST_BUSY as BUSY_MESSAGE
from tests.messages_en import BLOCKLIST_TIMED_OUT as TIMED_OUT_MESSAGE

CALM_GUILD_ID = DEFAULT_GUILD_ID + 2_000
CALM_CHANNEL_ID = DEFAULT_CHANNEL_ID + 2_000
CALM_ADMIN_ID = 1_200_000_000_000_002_000
CALM_MEMBER_IDS = [1_200_000_000_000_002_001 + i for i in range(4)]
PREVIEW = "google/imagen4/preview"
DISCORD_DEADLINE_S = 3.0

# Each of these passes the static screen (no repeated group) and the add-time probes (nothing
# Greek in them), yet backtracks polynomially on a run of Greek letters with no digit after it.
# A cubic one costs a few times what a quadratic one does on the same text.
QUADRATIC = [rf"\p{{Greek}}*\p{{Greek}}*[\d{c}]" for c in "!#$%&'*,:;<=>?@^_`~-"]
CUBIC = [rf"\p{{Greek}}*\p{{Greek}}*\p{{Greek}}*[\d{c}]" for c in "!#$%&'*,:;"]
HOSTILE_PATTERNS = QUADRATIC[:10] + CUBIC
HOSTILE_TEXT = "α" * 300


def guilds() -> list[FakeGuild]:
    hostile = default_guild()
    calm = default_guild(
        guild_id=CALM_GUILD_ID,
        channel_id=CALM_CHANNEL_ID,
        admin_id=CALM_ADMIN_ID,
        member_id=CALM_MEMBER_IDS[0],
        name="Calm",
    )
    calm.members += [
        FakeMember(FakeUser(uid, f"calm{n}", f"Calm Member {n}"))
        for n, uid in enumerate(CALM_MEMBER_IDS[1:], 1)
    ]
    return [hostile, calm]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


async def admin_add(stack: Stack, pattern: str, kind: str, **kwargs: Any) -> str:
    it = await stack.discord.slash(
        "imagine-admin blocklist add", {"pattern": pattern, "kind": kind}, **kwargs
    )
    response = await it.wait_response(30)
    content: str = response.data["content"]
    return content


async def test_a_hostile_blocklist_does_not_delay_other_servers(stack: Stack) -> None:
    async with running_bot(
        stack, DEFAULT_DAILY_CREDITS="1000", MAX_JOBS_PER_USER="8", MAX_CONCURRENT_GENERATIONS="16"
    ):
        fake = stack.discord
        for pattern in HOSTILE_PATTERNS:
            assert "Blocked regex" in await admin_add(stack, pattern, "regex", user=fake.admin)
        # The calm server has a list too, so its checks go through the same worker threads.
        calm_guild = fake.get_guild(CALM_GUILD_ID)
        assert calm_guild is not None
        calm_admin = calm_guild.get_member(CALM_ADMIN_ID)
        assert "Blocked word" in await admin_add(
            stack, "teapot", "word", user=calm_admin, guild_id=CALM_GUILD_ID
        )

        # One member hammers: a bounded burst of prompts built to backtrack on every entry,
        # interleaved with the calm server's members asking for images.
        hostile: list[FakeInteraction] = []
        calm: list[FakeInteraction] = []
        options = {"prompt": HOSTILE_TEXT, "model": PREVIEW, "negative_prompt": HOSTILE_TEXT}
        for _ in range(3):
            for _ in range(6):
                hostile.append(await fake.slash("imagine", options))
            for uid in CALM_MEMBER_IDS:
                calm.append(
                    await fake.slash(
                        "imagine", {"prompt": "a lake at dawn"}, user=uid, guild_id=CALM_GUILD_ID
                    )
                )
        for it in calm:
            response = await it.wait_response(60)
            assert response.type == 5, response.data  # deferred: the job runs
        latencies = sorted(it.ack_latency or 0.0 for it in calm)
        assert latencies[-1] < DISCORD_DEADLINE_S, latencies
        for it in calm:
            message = await it.wait_original_message(30)
            assert message["attachments"], message

        # The hammering member got private refusals on the safe side, and nothing was generated.
        for it in hostile:
            response = await it.wait_response(60)
            assert response.data.get("flags", 0) & 64, response.data
            assert response.data["content"] in (TIMED_OUT_MESSAGE, BUSY_MESSAGE)
        assert all(HOSTILE_TEXT not in r.body for r in stack.api.requests)
        assert len(stack.api.requests) == len(calm)


async def test_a_full_regex_list_refuses_the_add_clearly(stack: Stack) -> None:
    async with running_bot(stack) as bot:
        admin = stack.discord.admin
        for pattern in QUADRATIC[:MAX_REGEX_ENTRIES]:
            assert "Blocked regex" in await admin_add(stack, pattern, "regex", user=admin)
        answer = await admin_add(stack, r"tea\s*pot", "regex", user=admin)
        assert f"already has {MAX_REGEX_ENTRIES} regex entries" in answer
        assert "Remove one first" in answer
        # Adding one already listed still says so; words still fit.
        assert "already blocked" in await admin_add(stack, QUADRATIC[0], "regex", user=admin)
        assert "Blocked word" in await admin_add(stack, "teapot", "word", user=admin)
        rows = await bot.db.moderation.blocklist(DEFAULT_GUILD_ID)
        assert sum(r.kind == "regex" for r in rows) == MAX_REGEX_ENTRIES


async def imagine_answer(stack: Stack, prompt: str) -> str:
    it = await stack.discord.slash("imagine", {"prompt": prompt})
    content: str = (await it.wait_response(30)).data["content"]
    return content


async def test_cooldown_comes_before_the_blocklist(stack: Stack) -> None:
    async with running_bot(stack):
        admin = stack.discord.admin
        assert "Blocked word" in await admin_add(stack, "teapot", "word", user=admin)
        it = await stack.discord.slash(
            "imagine-admin config set", {"cooldown_seconds": 3600}, user=admin
        )
        await it.wait_response(30)
        first = await stack.discord.slash("imagine", {"prompt": "a lake"})
        assert (await first.wait_response(30)).type == 5
        await first.wait_original_message(30)
        # A member inside their cooldown hears about the cooldown; their prompt is not checked.
        assert "cooldown" in await imagine_answer(stack, "a teapot")
        # A prompt too long for the model is refused for its length before any blocklist work.
        assert "characters" in await imagine_answer(stack, "teapot " * 60)


async def test_the_job_limit_comes_before_the_blocklist(stack: Stack) -> None:
    async with running_bot(stack, MAX_JOBS_PER_USER="2"):
        assert "Blocked word" in await admin_add(stack, "teapot", "word", user=stack.discord.admin)
        stack.api.inject(Fault(hang=True), times=2)
        for n in range(2):
            it = await stack.discord.slash("imagine", {"prompt": f"a lake, take {n}"})
            assert (await it.wait_response(30)).type == 5
        assert "already have 2 jobs" in await imagine_answer(stack, "a teapot")


# -- the policy: off the loop, one turn per server, stored entries trusted ----------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await SQLiteDatabase.open(tmp_path / "bot.sqlite3") as database:
        yield database


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(2, thread_name_prefix="test-blocklist")
    yield pool
    pool.shutdown(wait=True)


async def store(db: Database, guild_id: int, kind: str, *patterns: str) -> None:
    for pattern in patterns:
        await db.moderation.add_blocklist(guild_id=guild_id, kind=kind, pattern=pattern, added_by=1)


def test_one_deadline_covers_the_whole_check() -> None:
    # Each entry answers well inside the budget on its own; twenty of them do not.
    blocklist = Blocklist(
        [compile_entry("regex", p, entry_id=i) for i, p in enumerate(QUADRATIC, 1)], timeout=0.1
    )
    match = blocklist.check("α" * 250)
    assert match is not None and match.timed_out
    assert match.user_message == TIMED_OUT_MESSAGE


def test_stored_regexes_over_the_cap_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    entries = [BlocklistEntry("regex", rf"\bword{i}\b", i) for i in range(MAX_REGEX_ENTRIES + 3)]
    with caplog.at_level(logging.ERROR, logger="bot.moderation"):
        blocklist = Blocklist([*entries, BlocklistEntry("word", "teapot", 99)])
    assert len(blocklist) == MAX_REGEX_ENTRIES + 1
    assert [e.id for e, _ in blocklist.rejected] == [20, 21, 22]
    assert blocklist.check("word19") is not None
    assert blocklist.check("word20") is None
    assert blocklist.check("a teapot") is not None
    assert "skipping blocklist entry id=20" in caplog.text


async def test_stored_entries_are_not_probed_again(db: Database) -> None:
    # Refused by the add-time probe today; stored all the same (an older bot, a slower probe).
    with pytest.raises(UserInputError, match="too long"):
        compile_entry("regex", r"\w*\w*\w*\d")
    await store(db, DEFAULT_GUILD_ID, "regex", r"\w*\w*\w*\d")
    policy = Policy(db)
    await policy.check_text(DEFAULT_GUILD_ID, ["a quiet lake"])
    with pytest.raises(RefusedError) as info:
        await policy.check_text(DEFAULT_GUILD_ID, ["a lake at 5"])
    assert "doesn't allow" in info.value.user_message


async def test_the_check_runs_off_the_event_loop(db: Database) -> None:
    await store(db, DEFAULT_GUILD_ID, "regex", *QUADRATIC)
    policy = Policy(db)
    await policy.check_text(DEFAULT_GUILD_ID, ["a lake"])  # built and cached
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        with pytest.raises(RefusedError) as info:
            await policy.check_text(DEFAULT_GUILD_ID, [HOSTILE_TEXT, HOSTILE_TEXT])
    finally:
        task.cancel()
    assert ticks > 0, "the loop stood still while the blocklist was checked"
    assert info.value.user_message == TIMED_OUT_MESSAGE


async def test_one_server_hammering_holds_one_thread(
    db: Database, executor: ThreadPoolExecutor
) -> None:
    await store(db, DEFAULT_GUILD_ID, "regex", *QUADRATIC)
    await store(db, CALM_GUILD_ID, "word", "teapot")
    policy = Policy(db, executor=executor)
    await policy.check_text(DEFAULT_GUILD_ID, ["a lake"])
    await policy.check_text(CALM_GUILD_ID, ["a lake"])
    hostile = [
        asyncio.create_task(policy.check_text(DEFAULT_GUILD_ID, [HOSTILE_TEXT])) for _ in range(5)
    ]
    await asyncio.sleep(0)
    # Five hostile checks on a two-thread pool, and the other server is not behind them.
    await policy.check_text(CALM_GUILD_ID, ["a lake at dawn"])
    assert sum(t.done() for t in hostile) <= 1
    with pytest.raises(RefusedError):
        await policy.check_text(CALM_GUILD_ID, ["a teapot"])
    outcomes = await asyncio.gather(*hostile, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, RefusedError), outcome
        assert outcome.user_message in (TIMED_OUT_MESSAGE, BUSY_MESSAGE)


async def test_an_admin_change_during_a_build_is_not_cached_over(db: Database) -> None:
    await store(db, DEFAULT_GUILD_ID, "word", "teapot")
    policy = Policy(db)
    building = asyncio.create_task(policy.blocklist(DEFAULT_GUILD_ID))
    await asyncio.sleep(0)
    await store(db, DEFAULT_GUILD_ID, "word", "kettle")
    policy.forget_blocklist(DEFAULT_GUILD_ID)
    await building
    with pytest.raises(RefusedError):
        await policy.check_text(DEFAULT_GUILD_ID, ["a kettle"])
