"""The fake Discord holds every request to Discord's own published contract (issue 19).

tests/data/discord_contract.json is derived from Discord's OpenAPI description of its HTTP API by
tests/data/derive_discord_contract.py; the fake validates each JSON body (and each multipart
``payload_json``) against it, answers a refused one 400 Invalid Form Body as Discord does, and
records it, so a blind spot shared by the bot and the fake cannot pass the tests.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from bot.client import apply_discord_urls
from tests.fakes.discord import (
    CONTRACT_PATH,
    DEFAULT_APPLICATION_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_MEMBER_ID,
    ContractViolation,
    FakeDiscord,
)
from tests.harness import DISCORD_TOKEN, Stack, fake_stack, running_bot

CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
SOURCE_COMMIT = "74fda0fad044407ea280043a03ffc9bc64c4e49e"
CALLBACK_ROUTE = "POST /interactions/{interaction_id}/{interaction_token}/callback"
CALLBACK_PATH = "/interactions/1300000000000000999/some-token/callback"
SYNC_ROUTE = "PUT /applications/{application_id}/commands"
SYNC_PATH = f"/applications/{DEFAULT_APPLICATION_ID}/commands"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A bare fake: these tests plant refused bodies, so no teardown check."""
    async with FakeDiscord() as f:
        yield f


async def send(fake: FakeDiscord, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One authenticated JSON request over real HTTP; the status and the JSON answer."""
    headers = {"Authorization": f"Bot {fake.token}"}
    url = fake.api_base_url + path
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body, headers=headers) as resp,
    ):
        answer = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, answer


def error_at(errors: dict[str, Any], field: str) -> list[dict[str, str]]:
    node: Any = errors
    for key in field.split(".") if field else []:
        node = node[key]
    found: list[dict[str, str]] = node["_errors"]
    return found


async def assert_refused(
    fake: FakeDiscord, method: str, path: str, body: Any, route: str, field: str, reason: str
) -> None:
    """Answered 400 Invalid Form Body with Discord's nested errors, recorded, and reported."""
    status, answer = await send(fake, method, path, body)
    assert status == 400, answer
    assert answer["code"] == 50035 and answer["message"] == "Invalid Form Body"
    assert [e["message"] for e in error_at(answer["errors"], field)] == [reason]
    assert [(v.route, v.field, v.reason) for v in fake.contract_violations] == [
        (route, field, reason)
    ]
    with pytest.raises(AssertionError) as failure:
        fake.assert_contract_kept()
    assert f"{route}: {field}: {reason}" in str(failure.value)


# -- the committed file -------------------------------------------------------------------------


def test_contract_file_names_its_source_commit_and_licence() -> None:
    source = CONTRACT["source"]
    assert source["repository"] == "https://github.com/discord/discord-api-spec"
    assert source["file"] == "specs/openapi.json"
    assert source["commit"] == SOURCE_COMMIT
    assert source["date"] == "2026-07-18"
    assert source["openapi"].startswith("3.1") and source["api_version"] == "10"
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    assert source["licence"] == "MIT"
    notice = source["licence_notice"]
    assert notice.startswith("MIT License") and "Copyright 2023 Discord" in notice
    assert "Permission is hereby granted, free of charge" in notice
    assert "derive_discord_contract.py" in CONTRACT["$comment"]


def test_contract_file_is_sorted_and_holds_every_schema_it_references() -> None:
    text = CONTRACT_PATH.read_text(encoding="utf-8")
    canonical = json.dumps(CONTRACT, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == canonical, "re-run tests/data/derive_discord_contract.py"
    schemas = CONTRACT["components"]["schemas"]
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs and refs <= schemas.keys()
    bodies = [op for op in CONTRACT["operations"].values() if op["request_body"]]
    assert {op["path"] for op in bodies} >= {
        "/interactions/{interaction_id}/{interaction_token}/callback",
        "/applications/{application_id}/commands",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        "/webhooks/{webhook_id}/{webhook_token}",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        "/channels/{channel_id}/messages",
    }


SAMPLE_VALUES = {r"\d+": "1100000000000000101", "[^/]+": "a-token"}


def route_samples(regex: str) -> list[str]:
    """Concrete paths for a fake route's regex, one per alternative of each named group."""
    parts = re.split(r"\(\?P<\w+>([^)]*)\)", regex)
    choices = [
        [part] if i % 2 == 0 else [SAMPLE_VALUES.get(alt, alt) for alt in part.split("|")]
        for i, part in enumerate(parts)
    ]
    samples = ["".join(c) for c in itertools.product(*choices)]
    assert all(re.fullmatch(regex, s) for s in samples), (regex, samples)
    return samples


def test_every_route_the_fake_serves_has_its_operation_and_nothing_else() -> None:
    fake = FakeDiscord()
    covered: set[str] = set()
    for method, regex in fake.served_routes:
        for sample in route_samples(regex):
            route = fake.contract_route(method, sample)
            assert route is not None, f"{method} {sample}: add it to BOT_ROUTES and re-derive"
            covered.add(route)
    listed = {f"{op['method']} {op['path']}" for op in CONTRACT["operations"].values()}
    assert covered == listed


def test_literal_segments_win_over_templated_ones() -> None:
    fake = FakeDiscord()
    webhook = "/webhooks/1300000000000000001/a-token/messages"
    assert fake.contract_route("PATCH", f"{webhook}/@original") == (
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    )
    assert fake.contract_route("PATCH", f"{webhook}/1100000000000000101") == (
        "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
    )
    assert fake.contract_route("GET", "/users/@me") == "GET /users/@me"


def test_the_callback_schema_is_chosen_by_type() -> None:
    (callback,) = [op for op in CONTRACT["operations"].values() if op["path"] in CALLBACK_ROUTE]
    mapping = callback["discriminator"]["mapping"]
    prefix = "#/components/schemas/"
    assert {k: v.removeprefix(prefix) for k, v in mapping.items() if int(k) <= 9} == {
        "1": "PongInteractionCallbackRequest",
        "4": "CreateMessageInteractionCallbackRequest",
        "5": "CreateMessageInteractionCallbackRequest",
        "6": "UpdateMessageInteractionCallbackRequest",
        "7": "UpdateMessageInteractionCallbackRequest",
        "8": "ApplicationCommandAutocompleteCallbackRequest",
        "9": "ModalInteractionCallbackRequest",
    }


# -- bodies the description refuses -------------------------------------------------------------


def select_row(**select: Any) -> dict[str, Any]:
    options = [{"label": "Fast", "value": "fast"}]
    return {"type": 1, "components": [{"type": 3, "options": options, **select}]}


PLANTED = {
    "unknown callback type": (
        {"type": 99, "data": {"content": "hello"}},
        "type",
        "Value must be one of (1, 4, 5, 6, 7, 8, 9, 12, 13).",
    ),
    "component without custom_id": (
        {"type": 4, "data": {"content": "pick", "components": [select_row()]}},
        "data.components.0.components.0.custom_id",
        "This field is required",
    ),
    "over-long embed title": (
        {"type": 4, "data": {"embeds": [{"title": "t" * 257}]}},
        "data.embeds.0.title",
        "Must be 256 or fewer in length.",
    ),
}


VALID_CALLBACKS = {
    "known callback type": {"type": 4, "data": {"content": "hello"}},
    "component with custom_id": {
        "type": 4,
        "data": {"content": "pick", "components": [select_row(custom_id="imagen:model")]},
    },
    "embed title at the limit": {"type": 4, "data": {"embeds": [{"title": "t" * 256}]}},
}


@pytest.mark.parametrize("case", VALID_CALLBACKS)
async def test_the_same_bodies_made_valid_reach_the_handler(fake: FakeDiscord, case: str) -> None:
    status, answer = await send(fake, "POST", CALLBACK_PATH, VALID_CALLBACKS[case])
    assert (status, answer["code"]) == (404, 10062)  # past validation: Unknown interaction
    assert fake.contract_violations == []


BY_TYPE = {
    "a modal needs a title": (
        {"type": 9, "data": {"custom_id": "edit", "components": [{"type": 10, "content": "x"}]}},
        "data.title",
        "This field is required",
    ),
    "autocomplete offers at most 25 choices": (
        {"type": 8, "data": {"choices": [{"name": f"m{i}", "value": f"m{i}"} for i in range(26)]}},
        "data.choices",
        "Must be 25 or fewer in length.",
    ),
    "an update keeps content within 2000": (
        {"type": 7, "data": {"content": "x" * 2001}},
        "data.content",
        "Must be 2000 or fewer in length.",
    ),
    "a button style is one the description lists": (
        {
            "type": 7,
            "data": {"components": [{"type": 1, "components": [{"type": 2, "style": 9}]}]},
        },
        "data.components.0.components.0.style",
        "Value must be one of [1, 2, 3, 4, 5, 6].",
    ),
}


REFUSED_CALLBACKS = {**PLANTED, **BY_TYPE}


@pytest.mark.parametrize("case", REFUSED_CALLBACKS)
async def test_refused_callback_bodies(fake: FakeDiscord, case: str) -> None:
    """The three planted bodies of the issue, then one limit of each callback type's schema."""
    body, field, reason = REFUSED_CALLBACKS[case]
    await assert_refused(fake, "POST", CALLBACK_PATH, body, CALLBACK_ROUTE, field, reason)


# -- the command tree sync ----------------------------------------------------------------------


def command(**option: Any) -> dict[str, Any]:
    base = {"type": 3, "name": "model", "description": "Which model"}
    return {"name": "imagine", "description": "Make an image", "options": [{**base, **option}]}


def choices(n: int, name: str = "Imagen") -> list[dict[str, str]]:
    return [{"name": f"{name} {i}", "value": f"m{i}"} for i in range(n)]


SYNC_REFUSED = {
    "26 choices": (
        [command(choices=choices(26))],
        "0.options.0.choices",
        "Must be 25 or fewer in length.",
    ),
    "choice name over 100": (
        [command(choices=choices(1, "n" * 100))],
        "0.options.0.choices.0.name",
        "Must be 100 or fewer in length.",
    ),
    "option description over 100": (
        [command(description="d" * 101)],
        "0.options.0.description",
        "Must be 100 or fewer in length.",
    ),
    "name localization over 32": (
        [{**command(), "name_localizations": {"fr": "imaginer" * 5}}],
        "0.name_localizations.fr",
        "Must be 32 or fewer in length.",
    ),
    "option description localization over 100": (
        [command(description_localizations={"de": "b" * 101})],
        "0.options.0.description_localizations.de",
        "Must be 100 or fewer in length.",
    ),
}


@pytest.mark.parametrize("case", SYNC_REFUSED)
async def test_command_sync_is_held_to_discords_limits(fake: FakeDiscord, case: str) -> None:
    body, field, reason = SYNC_REFUSED[case]
    await assert_refused(fake, "PUT", SYNC_PATH, body, SYNC_ROUTE, field, reason)
    assert fake.command_syncs == []  # refused, so nothing was registered


async def test_a_guild_sync_within_the_limits_is_registered(fake: FakeDiscord) -> None:
    body = [command(choices=choices(25), description_localizations={"de": "Welches Modell"})]
    path = f"/applications/{DEFAULT_APPLICATION_ID}/guilds/{DEFAULT_GUILD_ID}/commands"
    status, _ = await send(fake, "PUT", path, body)
    assert status == 200
    assert fake.contract_violations == []
    assert [c["name"] for c in fake.guild_commands[DEFAULT_GUILD_ID]] == ["imagine"]


async def test_the_bots_own_command_tree_passes(stack: Stack) -> None:
    async with running_bot(stack):
        synced = stack.discord.calls_to("PUT", r"/applications/\d+/commands")
    assert synced and all(c.status == 200 for c in synced)
    assert stack.discord.contract_violations == []


# -- snowflakes sent as JSON integers -----------------------------------------------------------


async def logged_in_client(stack: Stack) -> discord.Client:
    apply_discord_urls(stack.settings())
    client = discord.Client(intents=discord.Intents.none())
    await client.login(DISCORD_TOKEN)
    return client


async def test_integer_snowflakes_from_discord_py_are_accepted(stack: Stack) -> None:
    """The description types snowflakes as strings, but discord.py sends attachment ids,
    ``allowed_mentions.users`` and reply references as JSON integers, and Discord accepts them:
    the contract's one relaxation lets those through, so the bot is not failed for them."""
    client = await logged_in_client(stack)
    try:
        channel = await client.fetch_channel(DEFAULT_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(
            f"for <@{DEFAULT_MEMBER_ID}>",
            file=discord.File(io.BytesIO(b"png"), filename="a.png"),
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(DEFAULT_MEMBER_ID)]),
        )
        await sent.reply("again", mention_author=False)
    finally:
        await client.close()
    first, reply = stack.discord.calls_to("POST", rf"/channels/{DEFAULT_CHANNEL_ID}/messages")
    assert first.json["attachments"][0]["id"] == 0
    assert first.json["allowed_mentions"]["users"] == [DEFAULT_MEMBER_ID]
    assert reply.json["message_reference"]["message_id"] == sent.id
    assert [first.status, reply.status] == [200, 200]
    assert stack.discord.contract_violations == []
    assert "SnowflakeType" in CONTRACT["relaxations"]


@pytest.mark.parametrize(
    ("recipient", "accepted"),
    [
        (str(DEFAULT_MEMBER_ID), True),
        (DEFAULT_MEMBER_ID, True),
        (0, True),
        (2**64 - 1, True),
        (2**64, False),
        (-1, False),
        (1.5, False),
        ("12a", False),
        ("", False),
    ],
)
async def test_the_snowflake_relaxation_is_narrow(
    fake: FakeDiscord, recipient: Any, accepted: bool
) -> None:
    status, _ = await send(fake, "POST", "/users/@me/channels", {"recipient_id": recipient})
    assert (status != 400) is accepted
    assert (fake.contract_violations == []) is accepted
    if not accepted:
        assert [v.field for v in fake.contract_violations] == ["recipient_id"]


# -- nothing hides a refusal --------------------------------------------------------------------


async def test_a_refusal_fails_the_test_even_when_the_bot_swallows_the_400(
    tmp_path: Path,
) -> None:
    expected = re.escape("POST /channels/{channel_id}/messages: embeds.0.title: Must be 256")
    with pytest.raises(AssertionError, match=expected):
        async with fake_stack(tmp_path) as stack:
            client = await logged_in_client(stack)
            try:
                channel = await client.fetch_channel(DEFAULT_CHANNEL_ID)
                assert isinstance(channel, discord.TextChannel)
                with pytest.raises(discord.HTTPException) as refused:
                    await channel.send(embed=discord.Embed(title="t" * 257))
            finally:
                await client.close()
            # What a bot that catches and logs HTTPException would see, and then carry on.
            assert (refused.value.status, refused.value.code) == (400, 50035)
            assert "In embeds.0.title: Must be 256 or fewer in length." in str(refused.value)
            assert stack.discord.messages_in(DEFAULT_CHANNEL_ID) == []


async def test_a_served_route_missing_from_the_contract_is_reported(tmp_path: Path) -> None:
    trimmed = json.loads(json.dumps(CONTRACT))
    del trimmed["operations"]["trigger_typing_indicator"]
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(trimmed), encoding="utf-8")
    async with FakeDiscord(contract_path=path) as fake:
        status, _ = await send(fake, "POST", f"/channels/{DEFAULT_CHANNEL_ID}/typing", None)
    assert status == 204
    (violation,) = fake.contract_violations
    assert isinstance(violation, ContractViolation)
    assert violation.route == r"POST /channels/(?P<cid>\d+)/typing"
    assert "BOT_ROUTES" in violation.reason


async def test_the_bots_help_answer_keeps_the_contract(stack: Stack) -> None:
    """The e2e path: the bot's own /help answer passes, as every e2e test now checks."""
    async with running_bot(stack):
        it = await stack.discord.slash("help")
        response = await it.wait_response(15)
    assert response.type == 4
    callbacks = stack.discord.calls_to("POST", r"/interactions/\d+/[^/]+/callback")
    assert callbacks and all(c.status in (200, 204) for c in callbacks)
    assert stack.discord.contract_violations == []
