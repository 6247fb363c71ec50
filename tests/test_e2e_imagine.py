"""/imagine end to end: the real bot, the fake Discord and the fake AI/ML API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.catalogue import ASPECT_RATIOS, MODELS
from bot.client import ImagenBot
from bot.storage import JobRow
from tests.fakes.aimlapi import Fault
from tests.fakes.discord import FakeInteraction
from tests.harness import Stack, fake_stack, running_bot
from tests.storage_sql import sql_rows


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="1000", MAX_JOBS_PER_USER="8") as b:
        yield b


async def final_message(it: FakeInteraction, timeout: float = 30.0) -> dict[str, Any]:
    """The deferred response once the bot has edited it into its final form."""
    response = await it.wait_response(timeout)
    assert response.type == 5, response
    message = await it.wait_original_message(timeout)
    return message


async def imagine(stack: Stack, **options: Any) -> tuple[FakeInteraction, dict[str, Any]]:
    it = await stack.discord.slash("imagine", options)
    return it, await final_message(it)


async def settled(bot: ImagenBot, job_id: int, timeout: float = 30.0) -> JobRow:
    """The job's row once it is settled (the charge is recorded after the message is posted)."""
    deadline = time.monotonic() + timeout
    while (row := await bot.db.jobs.get_job(job_id)) is None or row.is_open:
        assert time.monotonic() < deadline, f"job {job_id} still open after {timeout} s"
        await asyncio.sleep(0.02)
    return row


def embed_fields(message: dict[str, Any]) -> dict[str, str]:
    embed = message["embeds"][0]
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


# What one image of each model costs, as the user reads it on a fresh budget of 1000 credits
# (SPEC.md: 1/2/3 credits), and the API credits upstream reports for it (42k/84k/126k).
COSTS = {
    "Imagen 4 Fast": ("1 credit · 999 left today", 42_000),
    "Imagen 4": ("2 credits · 998 left today", 84_000),
    "Imagen 4 Ultra": ("3 credits · 997 left today", 126_000),
    "Imagen 4 Preview": ("2 credits · 998 left today", 84_000),
}


@pytest.mark.parametrize("model", [m for m in MODELS if not m.deprecated], ids=lambda m: m.name)
async def test_each_model_posts_its_images(stack: Stack, bot: ImagenBot, model: Any) -> None:
    _, message = await imagine(stack, prompt="a red fox in the snow", model=model.id)
    assert len(message["attachments"]) == 1
    att = message["attachments"][0]
    assert att["filename"].startswith("imagen-") and att["filename"].endswith(".png")
    fields = embed_fields(message)
    assert fields["Model"] == model.name
    cost, api_credits = COSTS[model.name]
    assert fields["Cost"] == cost
    row = await settled(bot, int(att["filename"].split("-")[1]))
    assert row.api_credits == api_credits
    assert row.usd == pytest.approx(api_credits / 2_000_000)
    assert stack.api.contract_violations == []
    body = stack.api.requests[-1].body
    assert body["model"] == model.id and body["prompt"] == "a red fox in the snow"
    buttons = [c["custom_id"] for row in message["components"] for c in row["components"]]
    job_id = att["filename"].split("-")[1]
    assert buttons == [f"imagen:{a}:{job_id}" for a in ("reroll", "edit", "details", "delete")]


async def test_deprecated_model_says_so(stack: Stack, bot: ImagenBot) -> None:
    from tests.fakes.aimlapi import Fault

    stack.api.inject(Fault.http(404, "Model not found"))
    _, message = await imagine(stack, prompt="x", model="imagen-4.0-ultra-generate-preview-06-06")
    assert "deprecated" in message["content"]
    assert "Model not found" not in message["content"]
    assert not message["attachments"]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
async def test_count(stack: Stack, bot: ImagenBot, count: int) -> None:
    _, message = await imagine(stack, prompt="tea cups", count=count)
    names = sorted(a["filename"] for a in message["attachments"])
    assert len(names) == count
    assert stack.api.requests[-1].body["num_images"] == count


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
async def test_aspect_ratio(stack: Stack, bot: ImagenBot, ratio: str) -> None:
    _, message = await imagine(stack, prompt="a lighthouse", aspect_ratio=ratio)
    assert stack.api.requests[-1].body["aspect_ratio"] == ratio
    assert embed_fields(message)["Aspect ratio"] == ratio


async def test_seed_is_sent_and_shown(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a kite", seed=4294967295)
    assert stack.api.requests[-1].body["seed"] == 4294967295
    assert embed_fields(message)["Seed"] == "4294967295"


async def test_negative_prompt_on_the_model_that_takes_it(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(
        stack, prompt="a garden", model="google/imagen4/preview", negative_prompt="people"
    )
    assert stack.api.requests[-1].body["negative_prompt"] == "people"
    assert stack.api.contract_violations == []
    assert embed_fields(message)["Negative prompt"] == "people"


async def test_negative_prompt_refused_before_anything_is_charged(
    stack: Stack, bot: ImagenBot
) -> None:
    it = await stack.discord.slash("imagine", {"prompt": "a garden", "negative_prompt": "people"})
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert "negative prompt" in response.data["content"]
    assert stack.api.requests == []
    assert await bot.db.jobs.open_jobs() == []
    rows = await sql_rows(bot.db, "SELECT COUNT(*) AS n FROM jobs")
    assert rows[0]["n"] == 0


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"prompt": "x" * 401}, "at most 400"),
        ({"prompt": "   "}, "empty"),
        ({"prompt": "x", "model": "google/imagen4/preview", "seed": 0}, "Seed must be from 1"),
        ({"prompt": "x", "model": "no-such-model"}, "Unknown model"),
    ],
)
async def test_invalid_options_get_a_private_message(
    stack: Stack, bot: ImagenBot, options: dict[str, Any], needle: str
) -> None:
    it = await stack.discord.slash("imagine", options)
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert needle in response.data["content"]
    assert stack.api.requests == []


async def test_long_prompt_is_fine_on_preview(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="y" * 3000, model="google/imagen4/preview")
    assert len(message["attachments"]) == 1
    assert stack.api.contract_violations == []


async def test_everyone_in_a_prompt_pings_nobody(stack: Stack, bot: ImagenBot) -> None:
    prompt = "@everyone look <@123> and @here"
    _, message = await imagine(stack, prompt=prompt)
    edits = stack.discord.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
    assert edits
    for call in edits:
        mentions = call.json.get("allowed_mentions")
        assert mentions is not None and mentions.get("parse") == []
    description = message["embeds"][0]["description"]
    assert "@everyone" not in description.replace("@\u200beveryone", "")


async def test_details_and_delete(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a boat", aspect_ratio="16:9", seed=7)
    job_id = message["attachments"][0]["filename"].split("-")[1]
    details = await stack.discord.click(message["id"], f"imagen:details:{job_id}")
    response = await details.wait_response()
    assert response.data["flags"] & 64
    text = json.dumps(response.data["embeds"])
    assert "16:9" in text and '"7"' in text and "a boat" in text
    # Another member may not delete it.
    other = stack.discord.admin  # has Manage Server, not Manage Messages
    denied = await stack.discord.click(
        message["id"], f"imagen:delete:{job_id}", user=other, member_permissions=0
    )
    assert "Only the person" in (await denied.wait_response()).data["content"]
    assert stack.discord.get_message(int(message["id"])) is not None
    deleted = await stack.discord.click(message["id"], f"imagen:delete:{job_id}")
    await deleted.wait_response()
    await stack.discord.wait_for_call("DELETE", r".*/messages/.*")
    assert stack.discord.get_message(int(message["id"])) is None


async def test_reroll_uses_the_same_options_and_a_new_seed(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a comet", aspect_ratio="9:16", count=2, seed=11)
    job_id = message["attachments"][0]["filename"].split("-")[1]
    click = await stack.discord.click(message["id"], f"imagen:reroll:{job_id}")
    rerolled = await final_message(click)
    first, second = stack.api.requests[-2].body, stack.api.requests[-1].body
    assert second["prompt"] == first["prompt"] and second["aspect_ratio"] == "9:16"
    assert second["num_images"] == 2 and second["seed"] != 11
    assert len(rerolled["attachments"]) == 2


async def test_edit_opens_a_prefilled_modal_and_runs_a_new_job(
    stack: Stack, bot: ImagenBot
) -> None:
    _, message = await imagine(
        stack, prompt="a castle", model="google/imagen4/preview", negative_prompt="fog"
    )
    job_id = message["attachments"][0]["filename"].split("-")[1]
    click = await stack.discord.click(message["id"], f"imagen:edit:{job_id}")
    modal = await click.wait_response()
    assert modal.type == 9
    text = json.dumps(modal.data)
    assert "a castle" in text and "fog" in text
    submit = await stack.discord.submit_modal(
        modal.data["custom_id"], {"prompt": "a castle at night", "negative": "fog, rain"}
    )
    edited = await final_message(submit)
    body = stack.api.requests[-1].body
    assert body["prompt"] == "a castle at night" and body["negative_prompt"] == "fog, rain"
    assert len(edited["attachments"]) == 1


async def test_buttons_work_after_the_bot_process_restarts(stack: Stack) -> None:
    from tests.harness import BotProcess

    first = BotProcess(stack, DEFAULT_DAILY_CREDITS="100")
    try:
        await first.start_and_wait_ready()
        _, message = await imagine(stack, prompt="an old map", seed=5)
        assert await first.terminate() == 0
    finally:
        first.close()
    job_id = message["attachments"][0]["filename"].split("-")[1]
    second = BotProcess(stack, DEFAULT_DAILY_CREDITS="100")
    try:
        await second.start_and_wait_ready()
        details = await stack.discord.click(message["id"], f"imagen:details:{job_id}")
        assert "an old map" in json.dumps((await details.wait_response()).data)
        reroll = await stack.discord.click(message["id"], f"imagen:reroll:{job_id}")
        rerolled = await final_message(reroll)
        assert len(rerolled["attachments"]) == 1
        assert stack.api.requests[-1].body["prompt"] == "an old map"
        delete = await stack.discord.click(message["id"], f"imagen:delete:{job_id}")
        await delete.wait_response()
        await stack.discord.wait_for_call("DELETE", r".*/messages/.*")
        assert stack.discord.get_message(int(message["id"])) is None
        assert await second.terminate() == 0
    finally:
        second.close()


async def test_an_image_over_discords_cap_is_reencoded_not_dropped(tmp_path: Path) -> None:
    noise = random.Random(1).randbytes(700 * 700 * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (700, 700), noise).save(buffer, "PNG")
    big = buffer.getvalue()
    limit = 400 * 1024
    assert len(big) > limit
    async with fake_stack(tmp_path, attachment_size_limit=limit) as stack, running_bot(stack):
        url = stack.api.add_file(big)
        stack.api.inject(Fault(payload={"data": [{"url": url}]}))
        _, message = await imagine(stack, prompt="static on an old television")
    [attachment] = message["attachments"]
    assert attachment["size"] <= limit
    assert attachment["filename"].endswith((".webp", ".jpg"))
    assert "re-encoded" in message["embeds"][0]["footer"]["text"]
