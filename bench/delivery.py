"""Delivery overhead: from the API's answer to Discord accepting the images, bot vs plain aiohttp.

A 4-image 16:9 job (1408x768 PNGs of a real image's weight, ~2 MB each) runs through the real bot
in this process against the fakes. The bot's time is from the fake API answering the generation
(BenchAimlApi.answered) to the fake Discord receiving the message edit that carries the images
(RecordedCall.time). The baseline does the least a program could: the same generation request, a
concurrent download of the 4 images from the fake API's /files URLs, and one multipart POST of the
same bytes to the interaction's webhook, timed between the same two points. Both clocks are
``time.perf_counter()`` in this one process. Runs alternate, medians are compared.

    python -m bench.delivery [--size small]
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    Result,
    bench_api,
    bench_main,
    bench_stack,
    median,
    ms,
    profiled,
    realistic_png,
)
from tests.fakes.discord import FakeInteraction, FakeUser
from tests.harness import AIMLAPI_KEY, Stack, running_bot

SIZES = {"small": 2, "full": 15}  # jobs each way
COUNT = 4
ASPECT = "16:9"
RATIO_TARGET = 1.3
USER_ID = 1_600_000_000_000_000_000


def _edit_with_files(stack: Stack, it: FakeInteraction) -> float:
    """When the fake Discord received the bot's edit of the deferred response with the images."""
    path = rf"/webhooks/\d+/{it.token}/messages/@original"
    calls = [c for c in stack.discord.calls_to("PATCH", path) if c.files]
    if not calls:
        raise RuntimeError(f"the bot never posted the images of {it!r}")
    return calls[-1].time


async def bot_job(stack: Stack, n: int) -> tuple[float, FakeInteraction, int]:
    api = bench_api(stack)
    options = {"prompt": f"a harbour at dawn, take {n}", "aspect_ratio": ASPECT, "count": COUNT}
    it = await stack.discord.slash("imagine", options, user=FakeUser(USER_ID + n, f"u{n}"))
    response = await it.wait_response(10)
    assert response.type == 5, response
    message = await it.wait_original_message(60)
    assert len(message["attachments"]) == COUNT, message
    sent = sum(int(a["size"]) for a in message["attachments"])
    return _edit_with_files(stack, it) - api.answered[-1], it, sent


async def plain_job(
    session: aiohttp.ClientSession, stack: Stack, it: FakeInteraction, body: dict[str, Any]
) -> tuple[float, int]:
    """The baseline: generate, download the 4 images at once, POST them to the webhook."""
    api = bench_api(stack)
    async with session.post(
        f"{api.base_url}/v1/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {AIMLAPI_KEY}"},
    ) as resp:
        assert resp.status in (200, 201), resp.status
        payload = await resp.json()
    answered = api.answered[-1]

    async def download(url: str) -> bytes:
        async with session.get(url) as r:
            assert r.status == 200
            return await r.read()

    images = await asyncio.gather(*(download(item["url"]) for item in payload["data"]))
    form = aiohttp.FormData()
    attachments = [{"id": i, "filename": f"image-{i}.png"} for i in range(len(images))]
    form.add_field(
        "payload_json",
        json.dumps({"content": "", "attachments": attachments}),
        content_type="application/json",
    )
    for i, data in enumerate(images):
        form.add_field(f"files[{i}]", data, filename=f"image-{i}.png", content_type="image/png")
    url = f"{stack.discord.api_base_url}/webhooks/{stack.discord.application_id}/{it.token}"
    async with session.post(url, data=form, params={"wait": "true"}) as resp:
        assert resp.status == 200, await resp.text()
    path = rf"/webhooks/\d+/{it.token}"
    return stack.discord.calls_to("POST", path)[-1].time - answered, sum(map(len, images))


async def run(size: str, profile: str | None = None) -> Result:
    jobs = SIZES[size]
    for variant in range(4):
        realistic_png(ASPECT, variant)  # encoded up front, not while the clock runs
    bot_times: list[float] = []
    plain_times: list[float] = []
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        async with (
            bench_stack(Path(tmp)) as stack,
            running_bot(stack, DEFAULT_DAILY_CREDITS="10000") as _bot,
            aiohttp.ClientSession() as session,
        ):
            await bot_job(stack, -1)  # warm-up: first-use costs (imports, statement cache)
            import os

            async with profiled(os.getpid(), profile, "delivery"):
                for n in range(jobs):
                    seconds, it, sent = await bot_job(stack, n)
                    bot_times.append(seconds)
                    sizes.append(sent)
                    body = stack.api.requests[-1].body
                    plain, _ = await plain_job(session, stack, it, body)
                    plain_times.append(plain)
    b, p = median(bot_times), median(plain_times)
    ratio = b / p
    result = Result("Delivery overhead (4 x 1408x768 PNG)", "")
    result.add("job", f"{COUNT} images, {median(sizes) / 1e6:.1f} MB in total, {jobs} runs each")
    result.add("bot: API answer -> images accepted", f"median {ms(b)}, min {ms(min(bot_times))}")
    result.add("plain aiohttp download + upload", f"median {ms(p)}, min {ms(min(plain_times))}")
    result.add("ratio (bot / plain, medians)", f"{ratio:.2f}x")
    result.target(f"ratio <= {RATIO_TARGET}", ratio <= RATIO_TARGET)
    result.raw = {"bot": bot_times, "plain": plain_times, "bytes": sizes, "ratio": ratio}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return bench_main(
        "bench.delivery",
        "Delivery overhead of a 4-image job against plain aiohttp.",
        lambda a: run(a.size, a.profile),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
