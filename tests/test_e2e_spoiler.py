"""/imagine's spoiler option through the fake Discord: posted as spoilers, kept by Reroll and
Edit, shown by Details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.client import ImagenBot
from tests.harness import Stack, running_bot
from tests.test_e2e_imagine import final_message, imagine


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8") as b:
        yield b


def filenames(message: dict[str, Any]) -> list[str]:
    names = [a["filename"] for a in message["attachments"]]
    assert names, message
    return names


def job_of(message: dict[str, Any]) -> str:
    return filenames(message)[0].split("-")[1]


async def details_fields(stack: Stack, message: dict[str, Any]) -> dict[str, str]:
    click = await stack.discord.click(message["id"], f"imagen:details:{job_of(message)}")
    response = await click.wait_response()
    assert response.data["flags"] & 64
    return {f["name"]: f["value"] for f in response.data["embeds"][0]["fields"]}


async def test_spoiler_images_are_posted_as_spoilers(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a plot twist", count=2, spoiler=True)
    names = filenames(message)
    assert len(names) == 2 and all(n.startswith("SPOILER_imagen-") for n in names), names
    assert (await details_fields(stack, message))["spoiler"] == "True"


async def test_without_the_option_nothing_is_hidden(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="a sunny field")
    assert not any(n.startswith("SPOILER_") for n in filenames(message))
    assert (await details_fields(stack, message))["spoiler"] == "default"


async def test_reroll_and_edit_keep_the_spoiler(stack: Stack, bot: ImagenBot) -> None:
    _, message = await imagine(stack, prompt="the ending", spoiler=True)
    reroll = await stack.discord.click(message["id"], f"imagen:reroll:{job_of(message)}")
    rerolled = await final_message(reroll)
    assert all(n.startswith("SPOILER_") for n in filenames(rerolled))
    assert (await details_fields(stack, rerolled))["spoiler"] == "True"

    edit = await stack.discord.click(rerolled["id"], f"imagen:edit:{job_of(rerolled)}")
    modal = await edit.wait_response()
    submit = await stack.discord.submit_modal(modal.data["custom_id"], {"prompt": "the twist"})
    edited = await final_message(submit)
    assert stack.api.requests[-1].body["prompt"] == "the twist"
    assert all(n.startswith("SPOILER_") for n in filenames(edited))
