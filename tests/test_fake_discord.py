"""Tests of tests/fakes/discord.py with a bare discord.py client over a real websocket."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from typing import Any, Self

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    DEFAULT_ADMIN_ROLE_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    EXTRA_CHANNEL_BASE_ID,
    FakeDiscord,
    FakeUser,
    extra_guild_id,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"fake image data" * 10


# ------------------------------------------------------------------------------------------
# A tiny bot
# ------------------------------------------------------------------------------------------


class RetryButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"fk:retry:(?P<job>\d+)",
):
    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Retry", custom_id=f"fk:retry:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[discord.Client],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_message(f"retrying job {self.job}", ephemeral=True)


class UpscaleView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Upscale", custom_id="fk:upscale")
    async def upscale(
        self, interaction: discord.Interaction[discord.Client], button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(content="upscaled!", view=None)

    @discord.ui.button(label="Vary", custom_id="fk:vary")
    async def vary(
        self, interaction: discord.Interaction[discord.Client], button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="varied")


class PromptModal(discord.ui.Modal, title="Write a prompt"):
    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="Prompt", custom_id="fk:prompt-text"
    )

    def __init__(self) -> None:
        super().__init__(custom_id="fk:prompt-modal")
        self.style: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(custom_id="fk:style")
        self.add_item(discord.ui.Label(text="Style", component=self.style))

    async def on_submit(self, interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_message(
            f"prompt={self.prompt.value} style={self.style.value}", ephemeral=True
        )


class FakeTestBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
        )
        self.gate = asyncio.Event()
        self.http_errors: list[discord.HTTPException] = []
        self.tree_errors: list[BaseException] = []
        self.seen_users: list[discord.User | discord.Member] = []

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RetryButton)
        self.add_view(UpscaleView())
        register_commands(self)


def register_commands(bot: FakeTestBot) -> None:
    tree = bot.tree

    @tree.error
    async def on_tree_error(
        interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError
    ) -> None:
        bot.tree_errors.append(error)

    @tree.command(name="ping", description="Ephemeral pong")
    async def ping(interaction: discord.Interaction[discord.Client]) -> None:
        bot.seen_users.append(interaction.user)
        await interaction.response.send_message("pong", ephemeral=True)

    @tree.command(name="imagine", description="Deferred answer with a file")
    @app_commands.describe(prompt="what to draw", count="how many")
    async def imagine(
        interaction: discord.Interaction[discord.Client], prompt: str, count: int = 1
    ) -> None:
        await interaction.response.defer(thinking=True)
        files = [discord.File(io.BytesIO(PNG_BYTES), filename=f"img{i}.png") for i in range(count)]
        view = discord.ui.View(timeout=None)
        view.add_item(RetryButton(count))
        await interaction.followup.send(f"{prompt} x{count}", files=files, view=view)

    @tree.command(name="render", description="Deferred, then the original is edited")
    async def render(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(
            content="rendered",
            attachments=[discord.File(io.BytesIO(PNG_BYTES), filename="render.png")],
        )
        original = await interaction.original_response()
        await original.reply("done", mention_author=False)

    @tree.command(name="slow", description="Waits on a gate before following up")
    async def slow(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.defer(ephemeral=True)
        await bot.gate.wait()
        try:
            await interaction.followup.send("done", ephemeral=True)
        except discord.HTTPException as exc:
            bot.http_errors.append(exc)

    @tree.command(name="buttons", description="A message with a persistent view")
    async def buttons(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_message("pick one", view=UpscaleView())

    @tree.command(name="prompt", description="Opens a modal")
    async def prompt(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.send_modal(PromptModal())

    styles = ["photo", "painting", "pixel art", "pencil sketch"]

    async def style_autocomplete(
        interaction: discord.Interaction[discord.Client], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=s, value=s) for s in styles if current in s]

    @tree.command(name="style", description="Autocomplete")
    @app_commands.autocomplete(name=style_autocomplete)
    async def style(interaction: discord.Interaction[discord.Client], name: str) -> None:
        await interaction.response.send_message(f"style {name}", ephemeral=True)

    admin = app_commands.Group(name="fk-admin", description="Admin")
    budget = app_commands.Group(name="budget", description="Budgets", parent=admin)

    @budget.command(name="role", description="Set a role budget")
    async def budget_role(
        interaction: discord.Interaction[discord.Client],
        role: discord.Role,
        amount: int,
        user: discord.Member | None = None,
    ) -> None:
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message("no permission", ephemeral=True)
            return
        who = user.display_name if user is not None else "-"
        await interaction.response.send_message(
            f"role={role.name}:{role.id} amount={amount} user={who}", ephemeral=True
        )

    tree.add_command(admin, guild=discord.Object(DEFAULT_GUILD_ID))


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as f:
        discord.http.Route.BASE = f.api_base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f.gateway_url)
        try:
            yield f
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
            f.assert_contract_kept()


async def start_bot(fake: FakeDiscord) -> tuple[FakeTestBot, asyncio.Task[None]]:
    bot = FakeTestBot()
    await bot.login(fake.token)
    await bot.tree.sync()
    await bot.tree.sync(guild=discord.Object(DEFAULT_GUILD_ID))
    task = asyncio.create_task(bot.connect(reconnect=True))
    await fake.wait_ready(timeout=10)
    await asyncio.wait_for(bot.wait_until_ready(), 10)
    return bot, task


async def stop_bot(bot: commands.Bot, task: asyncio.Task[None]) -> None:
    await bot.close()
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[FakeTestBot]:
    b, task = await start_bot(fake)
    try:
        yield b
    finally:
        await stop_bot(b, task)


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------


async def test_login_sync_and_identify_are_recorded(fake: FakeDiscord, bot: FakeTestBot) -> None:
    assert fake.calls_to("GET", "/users/@me")
    assert fake.calls_to("GET", "/oauth2/applications/@me")
    me = fake.calls_to("GET", "/users/@me")[0]
    assert me.headers["authorization"] == f"Bot {fake.token}"
    assert me.status == 200
    assert {c["name"] for c in fake.global_commands} == {
        "ping",
        "imagine",
        "render",
        "slow",
        "buttons",
        "prompt",
        "style",
    }
    assert [c["name"] for c in fake.guild_commands[DEFAULT_GUILD_ID]] == ["fk-admin"]
    assert fake.sync_count == 2
    assert all(c["application_id"] == str(fake.application_id) for c in fake.global_commands)
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    assert fake.gateway_connects == 1
    guild = bot.get_guild(DEFAULT_GUILD_ID)
    assert guild is not None and guild.name == "Fake Guild"
    assert guild.get_channel(DEFAULT_CHANNEL_ID) is not None
    assert guild.get_role(DEFAULT_ADMIN_ROLE_ID) is not None
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id


async def test_rest_auth_content_type_and_unknown_routes(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base_url}/users/@me") as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "application/json"
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(f"{fake.api_base_url}/users/@me", headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(fake.bot_user.id)
        async with session.get(f"{fake.api_base_url}/no/such/route", headers=headers) as resp:
            assert resp.status == 404
        url = f"{fake.api_base_url}/channels/{DEFAULT_CHANNEL_ID}/messages/123"
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 404
            assert (await resp.json())["code"] == 10008
    assert [c.path for c in fake.unhandled_calls] == ["/no/such/route"]
    assert [c.status for c in fake.calls] == [401, 200, 404, 404]


async def test_slash_ephemeral_response(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("ping")
    resp = await it.wait_response(5)
    assert resp.type == 4
    assert resp.data["content"] == "pong"
    assert resp.data["flags"] & 64
    original = it.original_message()
    assert original is not None and original["flags"] & 64
    assert original["interaction_metadata"]["id"] == str(it.id)
    assert it.ack_latency is not None and 0 < it.ack_latency < 5
    assert isinstance(bot.seen_users[-1], discord.Member)
    assert bot.seen_users[-1].id == fake.member.user.id
    assert fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback")[0].query["with_response"]


async def test_slash_in_dm(fake: FakeDiscord, bot: FakeTestBot) -> None:
    stranger = fake.add_user(FakeUser(1_200_000_000_000_000_099, "stranger"))
    it = await fake.slash("ping", user=stranger, dm=True)
    resp = await it.wait_response(5)
    assert resp.type == 4
    assert it.payload["context"] == 1 and "member" not in it.payload
    assert isinstance(bot.seen_users[-1], discord.User)
    assert bot.seen_users[-1].id == stranger.id


async def test_deferred_then_followup_with_files(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("imagine", {"prompt": "a cat", "count": 2})
    resp = await it.wait_response(5)
    assert resp.type == 5
    followup = await it.wait_followup(5)
    assert followup["content"] == "a cat x2"
    assert [a["filename"] for a in followup["attachments"]] == ["img0.png", "img1.png"]
    assert followup["attachments"][0]["content_type"] == "image/png"
    assert followup["attachments"][0]["size"] == len(PNG_BYTES)
    assert fake.attachment_bytes(int(followup["attachments"][1]["id"])) == PNG_BYTES
    call = fake.calls_to("POST", r"/webhooks/\d+/[^/]+")[0]
    assert call.query["wait"] in ("1", "true")
    assert [f.field for f in call.files] == ["files[0]", "files[1]"]
    assert call.files[0].data == PNG_BYTES and call.files[0].filename == "img0.png"
    assert call.json["content"] == "a cat x2"
    assert followup["components"][0]["components"][0]["custom_id"] == "fk:retry:2"
    assert fake.get_message(int(followup["id"])) is followup
    # the attachment URL is served by the fake
    async with (
        aiohttp.ClientSession() as session,
        session.get(followup["attachments"][0]["url"]) as r,
    ):
        assert await r.read() == PNG_BYTES


async def test_dynamic_item_click_on_followup(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("imagine", {"prompt": "dog"})
    followup = await it.wait_followup(5)
    click = await fake.click(followup["id"], "fk:retry:1", user=fake.admin)
    resp = await click.wait_response(5)
    assert resp.type == 4
    assert resp.data["content"] == "retrying job 1"
    assert resp.data["flags"] & 64
    assert click.payload["message"]["id"] == followup["id"]
    assert click.payload["data"] == {"custom_id": "fk:retry:1", "component_type": 2}


async def test_persistent_view_click_updates_message(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("buttons")
    resp = await it.wait_response(5)
    assert resp.message is not None
    message_id = int(resp.message["id"])
    click = await fake.click(message_id, "fk:upscale")
    update = await click.wait_response(5)
    assert update.type == 7
    stored = fake.get_message(message_id)
    assert stored is not None
    assert stored["content"] == "upscaled!"
    assert stored["components"] == []
    assert stored["edited_timestamp"] is not None


async def test_component_defer_then_edit_original(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("buttons")
    message = (await it.wait_response(5)).message
    assert message is not None
    click = await fake.click(message["id"], "fk:vary")
    assert (await click.wait_response(5)).type == 6
    await fake.wait_for_call("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
    stored = fake.get_message(int(message["id"]))
    assert stored is not None and stored["content"] == "varied"
    assert click.original_message() is stored


async def test_deferred_then_edit_original_with_file(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("render")
    resp = await it.wait_response(5)
    assert resp.type == 5
    assert resp.message is not None and resp.message["flags"] & 128  # loading
    original = await it.wait_original_message(5)
    assert original["content"] == "rendered"
    assert original["flags"] == 0
    assert [a["filename"] for a in original["attachments"]] == ["render.png"]
    reply = await fake.wait_for_call("POST", rf"/channels/{DEFAULT_CHANNEL_ID}/messages")
    assert str(reply.json["message_reference"]["message_id"]) == original["id"]
    assert reply.json["allowed_mentions"]["replied_user"] is False
    stored = fake.messages_in(DEFAULT_CHANNEL_ID)[-1]
    assert stored["type"] == 19 and stored["content"] == "done"
    assert stored["message_reference"]["message_id"] == original["id"]
    assert stored["allowed_mentions"] == reply.json["allowed_mentions"]
    assert fake.calls_to("GET", r"/webhooks/\d+/[^/]+/messages/@original")


async def test_bad_token_login_fails(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.calls[-1].status == 401


async def test_modal_submit(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("prompt")
    resp = await it.wait_response(5)
    assert resp.type == 9
    assert resp.data["custom_id"] == "fk:prompt-modal"
    submit = await fake.submit_modal(
        "fk:prompt-modal", {"fk:prompt-text": "a red fox", "fk:style": "oil"}
    )
    answer = await submit.wait_response(5)
    assert answer.type == 4
    assert answer.data["content"] == "prompt=a red fox style=oil"
    kinds = [c["type"] for c in submit.payload["data"]["components"]]
    assert kinds == [1, 18]  # legacy action row + 2.6+ label component


async def test_autocomplete(fake: FakeDiscord, bot: FakeTestBot) -> None:
    choices = await fake.autocomplete("style", {"name": "p"}, "name")
    assert [c["name"] for c in choices] == ["photo", "painting", "pixel art", "pencil sketch"]
    choices = await fake.autocomplete("style", {"name": "pai"}, "name")
    assert choices == [{"name": "painting", "value": "painting"}]


async def test_subcommand_group_with_role_and_user_options(
    fake: FakeDiscord, bot: FakeTestBot
) -> None:
    it = await fake.slash(
        "fk-admin budget role",
        {"role": DEFAULT_ADMIN_ROLE_ID, "amount": 7, "user": fake.member},
        user=fake.admin,
    )
    resp = await it.wait_response(5)
    assert resp.data["content"] == (
        f"role=Admin:{DEFAULT_ADMIN_ROLE_ID} amount=7 user={fake.member.user.global_name}"
    )
    assert it.data["guild_id"] == str(DEFAULT_GUILD_ID)
    denied = await fake.slash(
        "fk-admin", {"role": DEFAULT_ADMIN_ROLE_ID, "amount": 1}, subcommand=["budget", "role"]
    )
    assert (await denied.wait_response(5)).data["content"] == "no permission"
    assert bot.tree_errors == []


async def test_injected_500_on_followup_is_retried(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.inject("POST", r"/webhooks/\d+/[^/]+", 500)
    it = await fake.slash("imagine", {"prompt": "retry me"})
    followup = await it.wait_followup(10)
    assert followup["content"] == "retry me x1"
    statuses = [c.status for c in fake.calls_to("POST", r"/webhooks/\d+/[^/]+")]
    assert statuses == [500, 200]
    assert len(it.followups) == 1


async def test_injected_429_with_via_is_retried(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.inject("POST", r"/channels/\d+/messages", 429, retry_after=0.05)
    channel = bot.get_channel(DEFAULT_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("hello", file=discord.File(io.BytesIO(b"abc"), filename="a.txt"))
    statuses = [c.status for c in fake.calls_to("POST", r"/channels/\d+/messages")]
    assert statuses == [429, 200]
    stored = fake.get_message(sent.id)
    assert stored is not None and stored["content"] == "hello"
    assert sent.attachments[0].filename == "a.txt"
    assert await sent.attachments[0].read() == b"abc"


async def test_injected_403_and_deleted_message_and_channel(
    fake: FakeDiscord, bot: FakeTestBot
) -> None:
    channel = bot.get_channel(DEFAULT_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("to be deleted")
    fake.inject("PATCH", r"/channels/\d+/messages/\d+", 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await msg.edit(content="nope")
    assert forbidden.value.code == 50013
    fake.delete_message(DEFAULT_CHANNEL_ID, msg.id)
    with pytest.raises(discord.NotFound) as not_found:
        await channel.fetch_message(msg.id)
    assert not_found.value.code == 10008
    fake.delete_channel(DEFAULT_CHANNEL_ID)
    with pytest.raises(discord.NotFound) as gone:
        await channel.send("anyone?")
    assert gone.value.code == 10003


async def test_expired_token(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("slow")
    resp = await it.wait_response(5)
    assert resp.type == 5 and resp.data["flags"] & 64
    fake.expire_token(it.token)
    bot.gate.set()
    await fake.wait_for_call("POST", r"/webhooks/\d+/[^/]+")
    for _ in range(100):
        if bot.http_errors:
            break
        await asyncio.sleep(0.01)
    assert bot.http_errors and bot.http_errors[0].status == 401
    assert bot.http_errors[0].code == 50027
    assert it.followups == []


async def test_gateway_drop_resumes_and_replays(fake: FakeDiscord, bot: FakeTestBot) -> None:
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed, "on_resumed")
    await fake.drop_gateway(code=4000)
    # dispatched while the bot is disconnected: replayed on RESUME
    it = await fake.slash("ping")
    await fake.wait_resumed(timeout=15)
    resp = await it.wait_response(10)
    assert resp.type == 4
    await asyncio.wait_for(resumed.wait(), 5)
    assert fake.resumes == 1
    assert fake.gateway_connects == 2
    assert len(fake.identify_payloads) == 1
    assert fake.resume_payloads[0]["session_id"]
    # and the session keeps working
    again = await fake.slash("ping")
    assert (await again.wait_response(5)).type == 4


async def test_callback_token_errors_over_raw_http(fake: FakeDiscord, bot: FakeTestBot) -> None:
    it = await fake.slash("slow")
    await it.wait_response(5)
    url = f"{fake.api_base_url}/interactions/{it.id}/{it.token}/callback"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"type": 4, "data": {"content": "x"}}) as r:
            assert r.status == 400
            assert (await r.json())["code"] == 40060
        fake.expire_token(it.token)
        async with session.post(url, json={"type": 4, "data": {"content": "x"}}) as r:
            assert r.status == 401
            assert (await r.json()) == {"message": "Invalid Webhook Token", "code": 50027}
    bot.gate.set()


async def test_extra_guilds(fake: FakeDiscord) -> None:
    fake.extra_guilds = 300
    bot, task = await start_bot(fake)
    try:
        assert len(bot.guilds) == 301
        extra = bot.get_guild(extra_guild_id(299))
        assert extra is not None and extra.name == "Extra Guild 299"
        assert extra.get_channel(EXTRA_CHANNEL_BASE_ID + 299) is not None
        it = await fake.slash("ping", guild_id=extra_guild_id(299))
        assert it.channel_id == EXTRA_CHANNEL_BASE_ID + 299
        assert (await it.wait_response(5)).type == 4
    finally:
        await stop_bot(bot, task)
