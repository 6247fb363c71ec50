"""One options type from /imagine to the job row and back: a model by its name, the row's
options for Reroll and Edit, the model option's autocomplete."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.client import ImagenBot
from bot.options import ImagineOptions
from tests.harness import Stack, running_bot
from tests.test_e2e_imagine import final_message, imagine, settled

PREVIEW = "google/imagen4/preview"
ULTRA = "google/imagen-4.0-ultra-generate-001"
# Every option /imagine takes but the prompt, each away from its default.
EVERY_OPTION: dict[str, Any] = {
    "model": PREVIEW,
    "aspect_ratio": "4:3",
    "count": 2,
    "seed": 9,
    "negative_prompt": "fog",
    "enhance_prompt": False,
}


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="1000", MAX_JOBS_PER_USER="8") as b:
        yield b


def job_of(message: dict[str, object]) -> int:
    attachments = message["attachments"]
    assert isinstance(attachments, list) and attachments, message
    return int(attachments[0]["filename"].split("-")[1])


async def test_a_model_typed_by_its_name_in_any_case_is_that_model(
    stack: Stack, bot: ImagenBot
) -> None:
    _, message = await imagine(stack, prompt="a kite", model="imagen 4 ULTRA")
    assert stack.api.requests[-1].body["model"] == ULTRA
    assert (await settled(bot, job_of(message))).model == ULTRA


async def test_a_blank_model_is_the_default_and_an_unknown_one_is_named(
    stack: Stack, bot: ImagenBot
) -> None:
    await imagine(stack, prompt="a kite", model="  ")
    assert stack.api.requests[-1].body["model"] == bot.settings.default_model
    it = await stack.discord.slash("imagine", {"prompt": "a kite", "model": "imagen 5 @here"})
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert response.data["content"].startswith("Unknown model `imagen 5")
    assert len(stack.api.requests) == 1


async def test_the_row_gives_back_the_options_the_job_ran_with(
    stack: Stack, bot: ImagenBot
) -> None:
    _, message = await imagine(stack, prompt="a lighthouse", **EVERY_OPTION)
    row = await settled(bot, job_of(message))
    assert ImagineOptions.from_row(row) == ImagineOptions(prompt="a lighthouse", **EVERY_OPTION)


async def test_edit_keeps_every_option_but_the_prompts(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a castle", **EVERY_OPTION)
    click = await stack.discord.click(message["id"], f"imagen:edit:{job_of(message)}")
    modal = await click.wait_response()
    submit = await stack.discord.submit_modal(
        modal.data["custom_id"], {"prompt": "a castle at dawn", "negative": ""}
    )
    await final_message(submit)
    first, second = stack.api.requests[-2].body, stack.api.requests[-1].body
    assert second["prompt"] == "a castle at dawn" and "negative_prompt" not in second
    kept = ("model", "aspect_ratio", "num_images", "seed", "enhance_prompt")
    assert {k: second.get(k) for k in kept} == {k: first.get(k) for k in kept}
    assert second["seed"] == 9 and second["num_images"] == 2


async def test_model_autocomplete_offers_the_servers_models_with_their_price(
    stack: Stack, bot: ImagenBot
) -> None:
    choices = await stack.discord.autocomplete("imagine", {"model": "ultra"}, "model")
    assert [c["value"] for c in choices] == [ULTRA, "imagen-4.0-ultra-generate-preview-06-06"]
    assert json.dumps(choices[0]["name"]) == json.dumps("Imagen 4 Ultra — 3 credits/image")
