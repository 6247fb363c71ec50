"""The production clock and retry schedules, once, in ``python -m bot`` as a user runs it.

Every other test passes short retries through ``Pacing`` (tests.harness.TEST_PACING); this one
starts the real entry point, which passes none, and measures the waits between the attempts the
fakes recorded. Only lower bounds: a loaded machine makes waits longer, never shorter.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta

from tests.fakes.aimlapi import Fault
from tests.harness import BotProcess, Stack, eventually
from tests.messages_en import API_FAILURES, FAILED
from tests.test_e2e_crash import db_rows

PATCH_ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
SLACK = 0.01  # timers may fire a hair early on some clocks


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_production_retry_schedules_and_clock(stack: Stack) -> None:
    proc = BotProcess(stack, DEFAULT_DAILY_CREDITS="100")
    try:
        await proc.start_and_wait_ready()

        # The API client: three attempts in all, backing off 0.5 s then 1 s (jitter halves at
        # most), then the job fails with the upstream message.
        stack.api.inject(Fault.http(503), times=3)
        it = await stack.discord.slash("imagine", {"prompt": "an outage"})
        failed = await it.wait_original_message(60)
        assert failed["content"] == FAILED.format(API_FAILURES["upstream"])
        api_times = [r.time for r in stack.api.requests]
        assert len(api_times) == 3
        first, second = gaps(api_times)
        assert first >= 0.25 - SLACK and second >= 0.5 - SLACK, (first, second)

        # Posting to Discord: the first try and three retries 1, 2 and 4 s apart, then one
        # last edit to say the images could not be posted.
        stack.discord.inject("PATCH", PATCH_ORIGINAL, 429, times=None, headers={"Via": ""})
        it = await stack.discord.slash("imagine", {"prompt": "undeliverable"})
        pattern = rf"/webhooks/\d+/{re.escape(it.token)}/messages/@original"
        calls = await eventually(
            lambda: (c := stack.discord.calls_to("PATCH", pattern)) and len(c) >= 5 and c,
            60,
            "four delivery attempts and the failure notice",
        )
        stack.discord.clear_faults()
        attempts = [c for c in calls if c.files]
        assert len(attempts) == 4
        waits = gaps([c.time for c in attempts])
        assert [w >= d - SLACK for w, d in zip(waits, (1.0, 2.0, 4.0), strict=True)] == [True] * 3
        assert "could not be posted" in json.dumps(calls[4].json)

        assert await proc.terminate() == 0, proc.log()
    finally:
        proc.close()

    # The ledger's clock is the wall clock: both jobs were dated today (UTC, the default).
    rows = await db_rows(stack, "SELECT budget_day, state, credits_charged FROM jobs ORDER BY id")
    now = datetime.now(UTC)
    days = {now.date().isoformat(), (now - timedelta(minutes=5)).date().isoformat()}
    assert [(r["state"], r["credits_charged"]) for r in rows] == [("failed", 0), ("failed", 0)]
    assert {r["budget_day"] for r in rows} <= days, rows
