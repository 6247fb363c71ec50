"""The fault matrix at the AI/ML API, end to end through the real bot.

For every fault: what the user reads (short, ours, no upstream text), the budget (reservation
released, charged only per image delivered), the job row (state and error class), the log line
(job id and error class), that the bot only ever connected to 127.0.0.1, and that the next request
is served normally.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.client import ImagenBot
from bot.logs import _ContextFilter
from tests.fakes.aimlapi import Fault
from tests.harness import Stack
from tests.messages_en import API_FAILURES, FAILED, FAST_UNAVAILABLE
from tests.reliability.conftest import BOT_ENV
from tests.reliability.support import (
    assert_user_text,
    budget,
    count,
    final_message,
    foreign_connections,
    job_id_of,
    settled_job,
)
from tests.storage_sql import sql_rows

pytestmark = pytest.mark.reliability

IMAGE_MAX_BYTES = 64 * 1024  # the fake's PNGs are ~16 KB; the oversize faults send far more
FAST_CREDITS = 1  # bot credits per Imagen 4 Fast image (SPEC.md)


@pytest.fixture
def bot_env() -> dict[str, str]:
    return {**BOT_ENV, "IMAGE_MAX_BYTES": str(IMAGE_MAX_BYTES)}


@dataclass(frozen=True)
class Case:
    id: str
    faults: tuple[Fault, ...]
    state: str
    error_class: str | None
    user_text: str | None  # the whole message the user reads (None: a result with images)
    requests: int  # generation calls the bot made (retries included)
    count: int = 1
    delivered: int = 0
    min_gap_s: float = 0.0  # least time between two calls (Retry-After honoured)
    options: dict[str, Any] = field(default_factory=dict)


def _fail(error_class: str) -> str:
    return FAILED.format(API_FAILURES[error_class])


UNAVAILABLE = FAILED.format(FAST_UNAVAILABLE)
METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

CASES = [
    Case("400", (Fault.http(400),), "failed", "bad_request", _fail("bad_request"), 1),
    Case(
        "400-safety",
        (Fault.safety(),),
        "failed",
        "safety_blocked",
        _fail("safety_blocked"),
        1,
    ),
    Case("401", (Fault.http(401),), "failed", "auth", _fail("auth"), 1),
    Case("403", (Fault.http(403),), "failed", "out_of_credits", _fail("out_of_credits"), 1),
    Case("404", (Fault.http(404),), "failed", "model_unavailable", UNAVAILABLE, 1),
    Case(
        "429-no-retry-after",
        (Fault.http(429),) * 3,
        "failed",
        "rate_limited",
        _fail("rate_limited"),
        3,
    ),
    Case(
        "429-retry-after",
        (Fault.http(429, retry_after="0.5"),) * 3,
        "failed",
        "rate_limited",
        _fail("rate_limited"),
        3,
        min_gap_s=0.5,
    ),
    Case(
        "429-retry-after-then-ok",
        (Fault.http(429, retry_after="1"),),
        "done",
        None,
        None,
        2,
        delivered=1,
        min_gap_s=1.0,
    ),
    Case("500", (Fault.http(500),) * 3, "failed", "upstream", _fail("upstream"), 3),
    Case("502", (Fault.http(502),) * 3, "failed", "upstream", _fail("upstream"), 3),
    Case("503", (Fault.http(503),) * 3, "failed", "upstream", _fail("upstream"), 3),
    Case("504", (Fault.http(504),) * 3, "failed", "timeout", _fail("timeout"), 3),
    Case("503-then-ok", (Fault.http(503),), "done", None, None, 2, delivered=1),
    Case(
        "hang-past-timeout",
        (Fault(hang=True),),
        "failed",
        "timeout",
        _fail("timeout"),
        1,
    ),
    Case(
        "malformed-json",
        (Fault(malformed_json=True),),
        "failed",
        "malformed_response",
        _fail("malformed_response"),
        1,
    ),
    Case(
        "empty-data",
        (Fault(payload={"data": [], "meta": {"usage": {"credits_used": 0}}}),),
        "failed",
        "no_images",
        _fail("no_images"),
        1,
    ),
    Case(
        "null-data",
        (Fault(payload={"data": None}),),
        "failed",
        "no_images",
        _fail("no_images"),
        1,
    ),
    Case(
        "fewer-images-than-asked",
        (Fault(images=1),),
        "done",
        None,
        None,
        1,
        count=3,
        delivered=1,
    ),
    Case(
        "image-url-404",
        (Fault(image_fault="404"),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
    Case(
        "one-image-url-404-of-two",
        (Fault(image_fault="404", faulty_images=1),),
        "done",
        None,
        None,
        1,
        count=2,
        delivered=1,
    ),
    Case(
        "oversize-image",
        (Fault(image_fault="oversize", oversize_bytes=4 * IMAGE_MAX_BYTES),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
    Case(
        "oversize-image-chunked",
        (Fault(image_fault="oversize_chunked", oversize_bytes=4 * IMAGE_MAX_BYTES),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
    Case(
        "non-image-bytes",
        (Fault(image_fault="not_image"),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
    Case(
        "redirect-to-link-local",
        (Fault(image_fault="redirect", redirect_to=METADATA_URL),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
    Case(
        "redirect-loop",
        (Fault(image_fault="redirect"),),
        "failed",
        "download",
        _fail("download"),
        1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_api_fault(
    stack: Stack, bot: ImagenBot, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(_ContextFilter())  # the job id on each record, as in production
    connections_before = len(foreign_connections())
    for fault in case.faults:
        stack.api.inject(fault)
    options = {"prompt": f"fault {case.id}", **case.options}
    if case.count != 1:
        options["count"] = case.count
    it = await stack.discord.slash("imagine", options)
    message = await final_message(it)
    row = await settled_job(bot, max(r["id"] for r in await _job_ids(bot)))
    job_id = row["id"]

    # What the user reads.
    if case.user_text is None:
        assert len(message["attachments"]) == case.delivered
        assert job_id_of(message) == job_id
        if case.delivered < case.count:
            assert message["content"] == (
                f"The image service returned {case.delivered} of {case.count} images; "
                "you were only charged for those."
            )
    else:
        assert message["content"] == case.user_text
        assert not message["attachments"] and not message["embeds"]
        assert not message.get("components")
    if case.user_text is not None or message.get("content"):
        assert_user_text(message["content"])

    # The budget: the reservation is gone, the charge is per image delivered.
    assert await budget(bot) == (0, case.delivered * FAST_CREDITS)
    assert row["credits_reserved"] == case.count * FAST_CREDITS
    assert row["credits_charged"] == case.delivered * FAST_CREDITS
    assert row["images_delivered"] == case.delivered

    # The job row.
    assert (row["state"], row["error_class"]) == (case.state, case.error_class)

    # The API calls (retries bounded; Retry-After honoured) and nowhere but 127.0.0.1.
    assert len(stack.api.requests) == case.requests
    times = [r.time for r in stack.api.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= case.min_gap_s * 0.95 for gap in gaps), gaps
    assert stack.api.contract_violations == []
    assert foreign_connections()[connections_before:] == []

    # The log: a line naming the job and the error class, with the job id on the record.
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    if case.error_class is not None:
        assert any(
            f"job {job_id}" in r.getMessage()
            and case.error_class in r.getMessage()
            and r.levelno >= logging.WARNING
            for r in records
        ), [r.getMessage() for r in records]
    else:
        assert any(f"job {job_id} delivered {case.delivered}" in r.getMessage() for r in records), [
            r.getMessage() for r in records
        ]
    if case.requests > 1 or any(f.image_fault for f in case.faults):
        # The retry or the dropped image was logged as a warning, on the job's context.
        assert any(
            r.levelno == logging.WARNING and getattr(r, "job_id", None) == job_id for r in records
        )

    # The next request is served normally.
    nxt = await stack.discord.slash("imagine", {"prompt": "after the fault"})
    after = await final_message(nxt)
    assert len(after["attachments"]) == 1
    next_row = await settled_job(bot, job_id_of(after))
    assert (next_row["state"], next_row["credits_charged"]) == ("done", FAST_CREDITS)
    assert await budget(bot) == (0, (case.delivered + 1) * FAST_CREDITS)
    count("API faults tried")


async def _job_ids(bot: ImagenBot) -> list[dict[str, Any]]:
    return [dict(r) for r in await sql_rows(bot.db, "SELECT id FROM jobs")]
