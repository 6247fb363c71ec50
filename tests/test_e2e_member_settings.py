"""/settings end to end: a member's own defaults, set with its selects and buttons, used by
/imagine where they chose nothing, beaten by an explicit option and by the server's policy, reset,
and named by Details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import ImagenBot
from tests.harness import Stack, fake_stack, running_bot
from tests.test_e2e_admin import admin, guilds
from tests.test_e2e_imagine import embed_fields, imagine

FAST = "google/imagen-4.0-fast-generate-001"
ULTRA = "google/imagen-4.0-ultra-generate-001"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="1000", MAX_JOBS_PER_USER="8") as b:
        yield b


async def open_settings(stack: Stack, **kwargs: Any) -> dict[str, Any]:
    """The member's /settings page: private, with its selects and buttons."""
    it = await stack.discord.slash("settings", **kwargs)
    response = await it.wait_response(30)
    assert response.type == 4 and response.data["flags"] & 64, response
    return await it.wait_original_message(30)


async def choose(stack: Stack, page: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """Pick ``value`` in the page's select for ``name``; the page as the bot redrew it."""
    click = await stack.discord.click(page["id"], f"imagen:settings:{name}", values=[value])
    response = await click.wait_response(30)
    assert response.type == 7, response
    message = stack.discord.get_message(int(page["id"]))
    assert message is not None
    return message


async def press(stack: Stack, page: dict[str, Any], custom_id: str) -> dict[str, Any]:
    click = await stack.discord.click(page["id"], custom_id)
    response = await click.wait_response(30)
    assert response.type == 7, response
    message = stack.discord.get_message(int(page["id"]))
    assert message is not None
    return message


def shown(page: dict[str, Any]) -> dict[str, str]:
    return embed_fields(page)


async def set_defaults(stack: Stack, **values: str) -> dict[str, Any]:
    page = await open_settings(stack)
    for name, value in values.items():
        page = await choose(stack, page, name, value)
    return page


async def test_the_page_offers_the_servers_models_and_shows_what_was_chosen(
    stack: Stack, bot: ImagenBot
) -> None:
    page = await open_settings(stack)
    selects = {
        c["custom_id"]: c for row in page["components"] for c in row["components"] if c["type"] == 3
    }
    assert set(selects) == {
        f"imagen:settings:{n}" for n in ("model", "aspect_ratio", "count", "enhance_prompt")
    }
    assert shown(page)["Model"] == "Server default (Imagen 4 Fast)"
    page = await choose(stack, page, "model", ULTRA)
    page = await choose(stack, page, "aspect_ratio", "16:9")
    assert shown(page)["Model"] == "Imagen 4 Ultra"
    assert shown(page)["Aspect ratio"] == "16:9"
    chosen = [
        o["value"]
        for row in page["components"]
        for c in row["components"]
        if c["custom_id"] == "imagen:settings:model"
        for o in c["options"]
        if o.get("default")
    ]
    assert chosen == [ULTRA]


async def test_a_members_defaults_are_used_and_an_explicit_option_wins(
    stack: Stack, bot: ImagenBot
) -> None:
    await set_defaults(stack, model=ULTRA, aspect_ratio="16:9", count="2", enhance_prompt="off")
    await imagine(stack, prompt="a harbour")
    body = stack.api.requests[-1].body
    assert (body["model"], body["aspect_ratio"], body["num_images"]) == (ULTRA, "16:9", 2)
    assert body["enhance_prompt"] is False

    await imagine(stack, prompt="a harbour", model=FAST, count=1, aspect_ratio="1:1")
    body = stack.api.requests[-1].body
    assert (body["model"], body["aspect_ratio"], body["num_images"]) == (FAST, "1:1", 1)
    assert body["enhance_prompt"] is False  # the one option left out still comes from them

    # Another member's requests are not touched by them.
    await imagine(stack, prompt="a harbour")
    assert stack.api.requests[-1].body["model"] == ULTRA
    it = await stack.discord.slash("imagine", {"prompt": "a harbour"}, user=stack.discord.admin)
    await it.wait_original_message(30)
    assert stack.api.requests[-1].body["model"] == FAST


async def test_the_servers_policy_beats_a_members_default(stack: Stack, bot: ImagenBot) -> None:
    await set_defaults(stack, model=ULTRA, count="4")
    await admin(stack, "model disable", {"model": ULTRA})
    await admin(stack, "config set", {"max_images": 2})

    _, message = await imagine(stack, prompt="a bridge")
    body = stack.api.requests[-1].body
    # The server's default model runs instead, and no more images than the server allows.
    assert (body["model"], body["num_images"]) == (FAST, 2)
    assert embed_fields(message)["Model"] == "Imagen 4 Fast"

    page = await open_settings(stack)
    assert shown(page)["Model"] == (
        "Imagen 4 Ultra (turned off in this server: its default, Imagen 4 Fast, is used instead)"
    )
    assert shown(page)["Images"] == "2"
    # A model the server turned off can't be chosen, even by a forged select value.
    click = await stack.discord.click(page["id"], "imagen:settings:model", values=[ULTRA])
    refusal = await click.wait_response(30)
    assert refusal.type == 4 and refusal.data["flags"] & 64
    assert refusal.data["content"] == "That model is turned off in this server. Pick another one."


async def test_settings_reset_puts_the_servers_defaults_back(stack: Stack, bot: ImagenBot) -> None:
    page = await set_defaults(stack, model=ULTRA, aspect_ratio="9:16")
    page = await press(stack, page, "imagen:settings:reset")
    assert shown(page)["Model"] == "Server default (Imagen 4 Fast)"
    assert shown(page)["Aspect ratio"] == "Server default (1:1)"
    assert page["embeds"][0]["footer"]["text"] == "Your defaults were reset."
    await imagine(stack, prompt="a meadow")
    body = stack.api.requests[-1].body
    assert (body["model"], body["aspect_ratio"]) == (FAST, "1:1")


async def test_details_names_the_values_that_came_from_the_members_defaults(
    stack: Stack, bot: ImagenBot
) -> None:
    await set_defaults(stack, model=ULTRA, aspect_ratio="16:9")
    _, message = await imagine(stack, prompt="a fox", aspect_ratio="4:3")
    job_id = message["attachments"][0]["filename"].split("-")[1]
    click = await stack.discord.click(message["id"], f"imagen:details:{job_id}")
    details = await click.wait_response(30)
    fields = {f["name"]: f["value"] for f in details.data["embeds"][0]["fields"]}
    assert fields["model"].startswith("Imagen 4 Ultra (")
    assert fields["model"].endswith(") (your default)")
    assert fields["aspect ratio"] == "4:3"  # chosen in the command, not a default
    assert not fields["images"].endswith("(your default)")


async def test_personal_defaults_in_dms_are_apart_from_a_servers(
    stack: Stack, bot: ImagenBot
) -> None:
    page = await open_settings(stack, dm=True)
    assert page["embeds"][0]["description"].startswith("Used whenever you leave an option out")
    await choose(stack, page, "aspect_ratio", "3:4")
    it = await stack.discord.slash("imagine", {"prompt": "a cat"}, dm=True)
    await it.wait_original_message(30)
    assert stack.api.requests[-1].body["aspect_ratio"] == "3:4"
    await imagine(stack, prompt="a cat")
    assert stack.api.requests[-1].body["aspect_ratio"] == "1:1"
