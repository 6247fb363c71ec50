"""`/imagine-admin` and `/history` end to end: the real bot, the fake Discord and the fake API.

Each admin subcommand is run as the fake server's admin (Manage Server), and its effect is checked
on the next `/imagine` the way a member would see it.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from bot.catalogue import MODELS
from bot.client import ImagenBot
from bot.generation import PreparedJob
from bot.storage import AuditRow
from tests.fakes.discord import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    P_MANAGE_GUILD,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    default_guild,
)
from tests.harness import Stack, fake_stack, running_bot
from tests.storage_sql import sql_rows

ART_CHANNEL_ID = DEFAULT_CHANNEL_ID + 1
LOG_CHANNEL_ID = DEFAULT_CHANNEL_ID + 2
OTHER_GUILD_ID = DEFAULT_GUILD_ID + 1_000
OTHER_CHANNEL_ID = DEFAULT_CHANNEL_ID + 1_000
FAST = "google/imagen-4.0-fast-generate-001"
ULTRA = "google/imagen-4.0-ultra-generate-001"


def guilds() -> list[FakeGuild]:
    main = default_guild()
    main.channels += [FakeChannel(ART_CHANNEL_ID, "art"), FakeChannel(LOG_CHANNEL_ID, "mod-log")]
    other = default_guild(guild_id=OTHER_GUILD_ID, channel_id=OTHER_CHANNEL_ID, name="Other")
    return [main, other]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with fake_stack(tmp_path, guilds=guilds()) as s:
        yield s


@pytest.fixture
async def bot(stack: Stack) -> AsyncIterator[ImagenBot]:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="1000", MAX_JOBS_PER_USER="8") as b:
        yield b


# -- helpers ------------------------------------------------------------------------------------


async def admin(
    stack: Stack, command: str, options: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Run an admin subcommand as the server's admin; returns the (ephemeral) answer."""
    kwargs.setdefault("user", stack.discord.admin)
    it = await stack.discord.slash(f"imagine-admin {command}", options, **kwargs)
    response = await it.wait_response()
    assert response.type == 4, response
    assert response.data["flags"] & 64, "admin answers are private"
    assert response.data["allowed_mentions"] == {"parse": []}
    data: dict[str, Any] = response.data
    return data


async def imagine_ok(stack: Stack, **options: Any) -> dict[str, Any]:
    it = await stack.discord.slash("imagine", options)
    response = await it.wait_response(30)
    assert response.type == 5, response.data
    message: dict[str, Any] = await it.wait_original_message(30)
    assert message["attachments"], message
    return message


def after_hooks(bot: ImagenBot, prompt: str) -> tuple[asyncio.Event, asyncio.Event]:
    """Events set once every listener of the job runner's ``job_delivered`` / ``job_failed``
    event has finished for the job of ``prompt``: the barrier for "the log channel got nothing"."""
    delivered, failed = asyncio.Event(), asyncio.Event()

    async def others_done(event: str) -> None:
        # discord.py runs each listener of a dispatched event as a task named after the event;
        # the admin cog's were scheduled before this one.
        me = asyncio.current_task()
        others = [
            t
            for t in asyncio.all_tasks()
            if t is not me and t.get_name() == f"discord.py: on_{event}"
        ]
        await asyncio.gather(*others, return_exceptions=True)

    async def on_job_delivered(job: PreparedJob, *_: Any) -> None:
        if job.request.prompt == prompt:
            await others_done("job_delivered")
            delivered.set()

    async def on_job_failed(job: PreparedJob, *_: Any) -> None:
        if job.request.prompt == prompt:
            await others_done("job_failed")
            failed.set()

    bot.add_listener(on_job_delivered)
    bot.add_listener(on_job_failed)
    return delivered, failed


async def imagine_refused(stack: Stack, **options: Any) -> str:
    """A private refusal before deferring; returns its text."""
    kwargs = {k: options.pop(k) for k in ("user", "channel_id", "guild_id") if k in options}
    it = await stack.discord.slash("imagine", options, **kwargs)
    response = await it.wait_response(30)
    assert response.type == 4, response
    assert response.data["flags"] & 64
    text: str = response.data["content"]
    return text


def text_of(data: dict[str, Any]) -> str:
    return json.dumps({"content": data.get("content"), "embeds": data.get("embeds")})


async def job_count(bot: ImagenBot) -> int:
    rows = await sql_rows(bot.db, "SELECT COUNT(*) AS n FROM jobs")
    return int(rows[0]["n"])


async def audit_rows(
    bot: ImagenBot, count: int, guild_id: int = DEFAULT_GUILD_ID
) -> list[AuditRow]:
    """The newest audit rows once at least ``count`` exist (they are written after the reply)."""
    deadline = time.monotonic() + 30
    while True:
        rows = await bot.db.audit.rows(guild_id)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.02)


async def log_posts(stack: Stack, count: int) -> list[dict[str, Any]]:
    await stack.discord.wait_for_call(
        "POST", rf"/channels/{LOG_CHANNEL_ID}/messages", count=count, timeout=30
    )
    return stack.discord.messages_in(LOG_CHANNEL_ID)


async def set_log_channel(stack: Stack) -> None:
    await admin(stack, "logchannel set", {"channel": LOG_CHANNEL_ID})


# -- visibility and run-time permission ---------------------------------------------------------


async def test_synced_group_is_hidden_from_members_and_guild_only(
    stack: Stack, bot: ImagenBot
) -> None:
    command = next(c for c in stack.discord.global_commands if c["name"] == "imagine-admin")
    assert str(command["default_member_permissions"]) == str(1 << 5)
    assert command["contexts"] == [0]
    assert command["dm_permission"] is False
    subcommands = {
        o["name"]: sorted(s["name"] for s in o.get("options", []) if s["type"] == 1)
        for o in command["options"]
    }
    assert subcommands == {
        "config": ["set", "show"],
        "model": ["disable", "enable"],
        "channel": ["allow", "list", "remove"],
        "budget": sorted(["default", "role", "user", "grant", "reset", "show", "server-cap"]),
        "ban": [],
        "unban": [],
        "bans": [],
        "blocklist": ["add", "list", "remove"],
        "logchannel": ["clear", "set"],
        "usage": [],
        "history": ["user"],
    }


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("config set", {"cooldown_seconds": 60}),
        ("config show", None),
        ("ban", {"user": 1_200_000_000_000_000_002}),
        ("blocklist add", {"pattern": "anything"}),
        ("blocklist list", None),
        ("channel allow", {"channel": ART_CHANNEL_ID}),
        ("usage", None),
        ("budget default", {"credits": 0}),
    ],
)
async def test_a_member_shown_the_group_by_overrides_is_still_refused(
    stack: Stack, bot: ImagenBot, command: str, options: dict[str, Any] | None
) -> None:
    # The fake does not enforce default_member_permissions: exactly the case of a server whose
    # own overrides show the group to everyone.
    member = stack.discord.member
    it = await stack.discord.slash(
        f"imagine-admin {command}", options, user=member, member_permissions=0
    )
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    assert "Manage Server" in response.data["content"]
    settings = await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)
    assert settings.cooldown_seconds == 0 and settings.daily_credits is None
    assert await bot.db.moderation.active_bans(DEFAULT_GUILD_ID, time.time()) == []
    assert await bot.db.moderation.blocklist(DEFAULT_GUILD_ID) == []
    assert await bot.db.moderation.allowed_channels(DEFAULT_GUILD_ID) == []
    assert await bot.db.audit.rows(DEFAULT_GUILD_ID) == []


async def test_member_autocomplete_reveals_nothing(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "blocklist add", {"pattern": "secretword"})
    member = stack.discord.member
    assert (
        await stack.discord.autocomplete(
            "imagine-admin blocklist remove", {"pattern": ""}, "pattern", user=member
        )
        == []
    )
    choices = await stack.discord.autocomplete(
        "imagine-admin blocklist remove", {"pattern": "sec"}, "pattern", user=stack.discord.admin
    )
    assert [c["value"] for c in choices] == ["secretword"]


# -- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("safety_setting", "block_only_high", "safety_setting"),
        ("safety_setting", "block_low_and_above", "safety_setting"),
        ("person_generation", "dont_allow", "person_generation"),
        ("person_generation", "allow_adult", "person_generation"),
        ("add_watermark", True, "add_watermark"),
        ("add_watermark", False, "add_watermark"),
        ("enhance_prompt", True, "enhance_prompt"),
        ("enhance_prompt", False, "enhance_prompt"),
    ],
)
async def test_config_set_reaches_the_next_request(
    stack: Stack, bot: ImagenBot, option: str, value: object, field: str
) -> None:
    answer = await admin(stack, "config set", {option: value})
    assert option in answer["content"]
    await imagine_ok(stack, prompt="a quiet harbour")
    body = stack.api.requests[-1].body
    assert body[field] == value
    assert stack.api.contract_violations == []
    # Reset: the parameter is no longer sent.
    await admin(stack, "config set", {"reset": option})
    await imagine_ok(stack, prompt="a quiet harbour")
    assert field not in stack.api.requests[-1].body
    rows = await audit_rows(bot, 2)
    assert [r.action for r in rows] == ["config set", "config set"]
    assert json.loads(rows[1].details_json) == {option: value}
    assert json.loads(rows[0].details_json) == {option: None}


async def test_member_choice_of_enhance_prompt_beats_the_server_default(
    stack: Stack, bot: ImagenBot
) -> None:
    await admin(stack, "config set", {"enhance_prompt": True})
    await imagine_ok(stack, prompt="a tram", enhance_prompt=False)
    assert stack.api.requests[-1].body["enhance_prompt"] is False


async def test_default_model(stack: Stack, bot: ImagenBot) -> None:
    choices = await stack.discord.autocomplete(
        "imagine-admin config set",
        {"default_model": "ultra"},
        "default_model",
        user=stack.discord.admin,
    )
    assert ULTRA in [c["value"] for c in choices]
    await admin(stack, "config set", {"default_model": ULTRA})
    message = await imagine_ok(stack, prompt="a lantern")
    assert stack.api.requests[-1].body["model"] == ULTRA
    assert "Imagen 4 Ultra" in text_of(message)
    # By display name too; deprecated and unknown models are refused.
    await admin(stack, "config set", {"default_model": "Imagen 4"})
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).default_model == (
        "google/imagen-4.0-generate-001"
    )
    answer = await admin(
        stack, "config set", {"default_model": "imagen-4.0-ultra-generate-preview-06-06"}
    )
    assert "deprecated" in answer["content"]
    answer = await admin(stack, "config set", {"default_model": "dall-e"})
    assert "Unknown model" in answer["content"]
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).default_model == (
        "google/imagen-4.0-generate-001"
    )


async def test_max_images(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "config set", {"max_images": 2})
    text = await imagine_refused(stack, prompt="four cats", count=4)
    assert "1 to 2" in text
    assert stack.api.requests == [] and await job_count(bot) == 0
    message = await imagine_ok(stack, prompt="two cats", count=2)
    assert len(message["attachments"]) == 2


async def test_cooldown_refuses_a_second_quick_request(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "config set", {"cooldown_seconds": 3600})
    await imagine_ok(stack, prompt="first")
    text = await imagine_refused(stack, prompt="second")
    assert "cooldown" in text
    assert len(stack.api.requests) == 1
    # The admin's own requests are counted separately; and a reset lifts it.
    await admin(stack, "config set", {"reset": "cooldown_seconds"})
    await imagine_ok(stack, prompt="third")


async def test_timezone_is_canonicalised_and_validated(stack: Stack, bot: ImagenBot) -> None:
    answer = await admin(stack, "config set", {"timezone": "europe/paris"})
    assert "Europe/Paris" in answer["content"]
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).timezone == "Europe/Paris"
    choices = await stack.discord.autocomplete(
        "imagine-admin config set", {"timezone": "tokyo"}, "timezone", user=stack.discord.admin
    )
    assert [c["value"] for c in choices] == ["Asia/Tokyo"]
    answer = await admin(stack, "config set", {"timezone": "Mars/Olympus_Mons"})
    assert "Unknown timezone" in answer["content"]
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"cooldown_seconds": -5}, "cooldown_seconds must be from 0"),
        ({"cooldown_seconds": 10**12}, "cooldown_seconds must be from 0"),
        ({"max_images": 0}, "max_images must be from 1"),
        ({"max_images": 99}, "max_images must be from 1"),
        ({"timezone": "Nowhere/Special"}, "Unknown timezone"),
        ({"safety_setting": "block_none"}, "safety_setting must be one of"),
        ({"person_generation": "allow_all"}, "person_generation must be one of"),
        ({"reset": "everything"}, "reset must name a setting"),
        ({"cooldown_seconds": 5, "reset": "cooldown_seconds"}, "not both"),
        ({"timezone": "UTC", "max_images": 9}, "max_images must be from 1"),
        ({}, "at least one setting"),
    ],
)
async def test_bad_config_changes_nothing(
    stack: Stack, bot: ImagenBot, options: dict[str, Any], needle: str
) -> None:
    before = await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)
    answer = await admin(stack, "config set", options)
    assert needle in answer["content"]
    assert await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID) == before
    assert await bot.db.audit.rows(DEFAULT_GUILD_ID) == []


async def test_config_show(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "config set", {"cooldown_seconds": 30, "safety_setting": "block_only_high"})
    await admin(stack, "model disable", {"model": ULTRA})
    answer = await admin(stack, "config show")
    fields = {f["name"]: f["value"] for f in answer["embeds"][0]["fields"]}
    assert fields["cooldown_seconds"] == "30 s"
    assert "block only high" in fields["safety_setting"]
    assert fields["timezone"] == "UTC"
    assert fields["models off"] == "Imagen 4 Ultra"
    assert fields["channels"] == "all"


async def test_settings_survive_a_restart(stack: Stack) -> None:
    async with running_bot(stack) as bot:
        await admin(stack, "config set", {"person_generation": "dont_allow"})
        await audit_rows(bot, 1)
    async with running_bot(stack):
        await imagine_ok(stack, prompt="a crowd")
        assert stack.api.requests[-1].body["person_generation"] == "dont_allow"


async def test_one_servers_settings_never_reach_another(stack: Stack, bot: ImagenBot) -> None:
    await admin(
        stack,
        "config set",
        {"safety_setting": "block_only_high", "max_images": 1, "default_model": ULTRA},
    )
    await admin(stack, "model disable", {"model": "google/imagen-4.0-generate-001"})
    await admin(stack, "blocklist add", {"pattern": "teapot"})
    await admin(stack, "channel allow", {"channel": ART_CHANNEL_ID})
    await admin(stack, "ban", {"user": stack.discord.member.user.id})
    # The same member in the other server is unaffected by any of it.
    it = await stack.discord.slash(
        "imagine",
        {"prompt": "a teapot", "count": 2, "model": "google/imagen-4.0-generate-001"},
        guild_id=OTHER_GUILD_ID,
        user=stack.discord.member,
    )
    assert (await it.wait_response(30)).type == 5
    message = await it.wait_original_message(30)
    assert len(message["attachments"]) == 2
    body = stack.api.requests[-1].body
    assert "safety_setting" not in body and body["model"] == "google/imagen-4.0-generate-001"
    other = await bot.db.guilds.guild_settings(OTHER_GUILD_ID)
    assert other.safety_setting is None and other.max_images is None
    assert await bot.db.audit.rows(OTHER_GUILD_ID) == []
    # And the other server's admin sees its own (default) configuration.
    it = await stack.discord.slash(
        "imagine-admin config show", guild_id=OTHER_GUILD_ID, user=stack.discord.admin
    )
    fields = {f["name"]: f["value"] for f in (await it.wait_response()).data["embeds"][0]["fields"]}
    assert fields["safety_setting"].startswith("not set") and fields["models off"] == "none"
    assert fields["blocklist"] == "0 entries" and fields["channels"] == "all"


# -- models -------------------------------------------------------------------------------------


async def test_model_disable_refuses_and_hides_it(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "model disable", {"model": ULTRA})
    text = await imagine_refused(stack, prompt="a fox", model=ULTRA)
    assert "turned off" in text
    assert stack.api.requests == [] and await job_count(bot) == 0
    choices = await stack.discord.autocomplete("imagine", {"model": ""}, "model")
    assert ULTRA not in [c["value"] for c in choices]
    admin_choices = await stack.discord.autocomplete(
        "imagine-admin model enable", {"model": "ultra"}, "model", user=stack.discord.admin
    )
    assert any(c["value"] == ULTRA and "(off)" in c["name"] for c in admin_choices)
    assert "already off" in (await admin(stack, "model disable", {"model": ULTRA}))["content"]
    await admin(stack, "model enable", {"model": ULTRA})
    await imagine_ok(stack, prompt="a fox", model=ULTRA)
    rows = await audit_rows(bot, 2)
    assert [r.action for r in rows] == ["model enable", "model disable"]


async def test_admin_model_autocomplete_by_command(stack: Stack, bot: ImagenBot) -> None:
    """One model option: /imagine offers what members may use; `config set default_model` what
    may be the default (on, not deprecated); `model enable` every model with its state; members
    are offered nothing by the admin commands."""
    await admin(stack, "model disable", {"model": ULTRA})
    admin_user = stack.discord.admin

    async def offered(command: str, option: str, user: FakeMember | None = None) -> list[str]:
        choices = await stack.discord.autocomplete(command, {option: ""}, option, user=user)
        return [c["value"] for c in choices]

    everything = [m.id for m in MODELS]
    assert await offered("imagine-admin model enable", "model", admin_user) == everything
    usable = [m.id for m in MODELS if m.id != ULTRA]
    assert await offered("imagine", "model") == usable
    default = [m.id for m in MODELS if m.id != ULTRA and not m.deprecated]
    assert await offered("imagine-admin config set", "default_model", admin_user) == default
    member = stack.discord.member
    assert await offered("imagine-admin model enable", "model", member) == []
    assert await offered("imagine-admin config set", "default_model", member) == []


async def test_the_default_model_cannot_be_disabled(stack: Stack, bot: ImagenBot) -> None:
    answer = await admin(stack, "model disable", {"model": FAST})
    assert "default model" in answer["content"]
    assert await bot.db.moderation.disabled_models(DEFAULT_GUILD_ID) == set()
    await admin(stack, "model disable", {"model": ULTRA})
    answer = await admin(stack, "config set", {"default_model": ULTRA})
    assert "turned off" in answer["content"]


# -- channels -----------------------------------------------------------------------------------


async def test_channel_allow_list_remove(stack: Stack, bot: ImagenBot) -> None:
    answer = await admin(stack, "channel list")
    assert "every channel" in answer["content"]
    answer = await admin(stack, "channel allow", {"channel": ART_CHANNEL_ID})
    assert "only in the allowed channels" in answer["content"]
    text = await imagine_refused(stack, prompt="a fox")
    assert f"<#{ART_CHANNEL_ID}>" in text
    assert stack.api.requests == []
    it = await stack.discord.slash("imagine", {"prompt": "a fox"}, channel_id=ART_CHANNEL_ID)
    assert (await it.wait_response(30)).type == 5
    await it.wait_original_message(30)
    assert f"<#{ART_CHANNEL_ID}>" in (await admin(stack, "channel list"))["content"]
    answer = await admin(stack, "channel remove", {"channel": ART_CHANNEL_ID})
    assert "every channel again" in answer["content"]
    await imagine_ok(stack, prompt="a fox")
    rows = await audit_rows(bot, 2)
    assert [r.action for r in rows] == ["channel remove", "channel allow"]


# -- bans ---------------------------------------------------------------------------------------


async def test_ban_and_unban(stack: Stack, bot: ImagenBot) -> None:
    member = stack.discord.member.user.id
    answer = await admin(stack, "ban", {"user": member, "reason": "spam @everyone"})
    assert "until unbanned" in answer["content"]
    text = await imagine_refused(stack, prompt="a fox")
    assert "can't generate images" in text and "spam" in text
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert stack.api.requests == [] and await job_count(bot) == 0
    bans = await admin(stack, "bans")
    assert f"<@{member}>" in bans["embeds"][0]["description"]
    await admin(stack, "unban", {"user": member})
    await imagine_ok(stack, prompt="a fox")
    assert "wasn't banned" in (await admin(stack, "unban", {"user": member}))["content"]
    assert "Nobody" in (await admin(stack, "bans"))["content"]
    rows = await audit_rows(bot, 2)
    assert [r.action for r in rows] == ["unban", "ban"]
    assert json.loads(rows[1].details_json)["reason"] == "spam @everyone"


async def test_a_timed_ban_expires(stack: Stack, bot: ImagenBot) -> None:
    member = stack.discord.member.user.id
    answer = await admin(stack, "ban", {"user": member, "duration": "2h"})
    assert "for 2h" in answer["content"]
    ban = await bot.db.moderation.active_ban(DEFAULT_GUILD_ID, member, time.time())
    assert ban is not None and ban.expires_at is not None
    assert abs(ban.expires_at - (time.time() + 7200)) < 60
    assert "until" in await imagine_refused(stack, prompt="a fox")
    # Two hours later (written through storage, as the clock would have it): free again.
    await bot.db.moderation.ban(
        guild_id=DEFAULT_GUILD_ID,
        user_id=member,
        reason=None,
        banned_by=stack.discord.admin.user.id,
        expires_at=time.time() - 1,
    )
    await imagine_ok(stack, prompt="a fox")
    assert "Nobody" in (await admin(stack, "bans"))["content"]


@pytest.mark.parametrize("duration", ["soon", "2x", "0m", "400d", "9" * 30 + "d", "-3h"])
async def test_a_bad_duration_bans_nobody(stack: Stack, bot: ImagenBot, duration: str) -> None:
    answer = await admin(stack, "ban", {"user": stack.discord.member.user.id, "duration": duration})
    assert "duration" in answer["content"]
    assert await bot.db.moderation.active_bans(DEFAULT_GUILD_ID, time.time()) == []
    assert await bot.db.audit.rows(DEFAULT_GUILD_ID) == []


# -- blocklist ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a teapot on a table",
        "A TEAPOT",
        "a TeApOt",
        "a teap\u200bot",  # zero-width space
        "a te\u200c\u200dapot\ufeff",  # more invisible characters
        "a t\u0435apot",  # Cyrillic е
        "a **tea**pot",  # markdown
        "a ||teapot||",
        "a te\u00ada\u00adpot",  # soft hyphens
        "ａ ｔｅａｐｏｔ",  # fullwidth
    ],
)
async def test_blocklist_catches_evasions_before_the_api(
    stack: Stack, bot: ImagenBot, prompt: str
) -> None:
    await admin(stack, "blocklist add", {"pattern": "teapot"})
    text = await imagine_refused(stack, prompt=prompt)
    assert "doesn't allow" in text
    assert stack.api.requests == []
    assert await job_count(bot) == 0
    quota = await stack.discord.slash("quota")
    assert "0 of 1,000" in json.dumps((await quota.wait_response()).data)


async def test_blocklist_words_match_whole_words_only(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "blocklist add", {"pattern": "ass"})
    await imagine_ok(stack, prompt="a glass of water in class")
    assert "doesn't allow" in await imagine_refused(stack, prompt="kick ASS")


async def test_blocklist_negative_prompt_is_checked_too(stack: Stack, bot: ImagenBot) -> None:
    await admin(stack, "blocklist add", {"pattern": "teapot"})
    text = await imagine_refused(
        stack, prompt="a kitchen", model="google/imagen4/preview", negative_prompt="teapot"
    )
    assert "doesn't allow" in text and stack.api.requests == []


async def test_blocklist_regex_and_remove(stack: Stack, bot: ImagenBot) -> None:
    answer = await admin(stack, "blocklist add", {"pattern": r"tea\s*pots?", "kind": "regex"})
    assert "Blocked regex" in answer["content"]
    assert "doesn't allow" in await imagine_refused(stack, prompt="three tea pots")
    listed = await admin(stack, "blocklist list")
    assert "regex" in listed["embeds"][0]["description"]
    assert (
        "already"
        in (await admin(stack, "blocklist add", {"pattern": r"tea\s*pots?", "kind": "regex"}))[
            "content"
        ]
    )
    await admin(stack, "blocklist remove", {"pattern": r"tea\s*pots?"})
    await imagine_ok(stack, prompt="three tea pots")
    assert "isn't on" in (await admin(stack, "blocklist remove", {"pattern": "nope"}))["content"]
    assert "empty" in (await admin(stack, "blocklist list"))["content"]
    rows = await audit_rows(bot, 2)
    assert [r.action for r in rows] == ["blocklist remove", "blocklist add"]


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        (r"(a+)+$", "very slow"),
        (r"(\w+\s?)*$", "very slow"),
        (r"(a|aa)*b", "very slow"),
        (r"(abc", "does not compile"),
        (r"x*", "match empty text"),
    ],
)
async def test_a_dangerous_regex_is_rejected_clearly(
    stack: Stack, bot: ImagenBot, pattern: str, needle: str
) -> None:
    answer = await admin(stack, "blocklist add", {"pattern": pattern, "kind": "regex"})
    assert needle in answer["content"]
    assert await bot.db.moderation.blocklist(DEFAULT_GUILD_ID) == []
    await imagine_ok(stack, prompt="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")


@pytest.mark.parametrize("pattern", ["\u200b\u200b", "**", "x" * 150])
async def test_an_unusable_word_is_rejected(stack: Stack, bot: ImagenBot, pattern: str) -> None:
    answer = await admin(stack, "blocklist add", {"pattern": pattern})
    assert "blocked word" in answer["content"]
    assert await bot.db.moderation.blocklist(DEFAULT_GUILD_ID) == []


# -- log channel and audit ----------------------------------------------------------------------


async def test_generations_are_mirrored_without_pinging(stack: Stack, bot: ImagenBot) -> None:
    await set_log_channel(stack)
    message = await imagine_ok(stack, prompt="@everyone look at <@123> **bold**", count=2)
    posts = await log_posts(stack, 2)
    mirror = posts[-1]
    member = stack.discord.member.user.id
    assert f"<@{member}>" in mirror["content"]
    embed = mirror["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requested by"] == f"<@{member}>"
    assert fields["Model"] == "Imagen 4 Fast" and fields["Images"] == "2"
    assert fields["Cost"].startswith("2 credits")
    link = f"https://discord.com/channels/{DEFAULT_GUILD_ID}/{DEFAULT_CHANNEL_ID}/{message['id']}"
    assert link in fields["Message"]
    assert "@everyone" not in embed["description"].replace("@\u200beveryone", "")
    assert "\\*\\*bold\\*\\*" in embed["description"]
    for call in stack.discord.calls_to("POST", rf"/channels/{LOG_CHANNEL_ID}/messages"):
        assert call.json["allowed_mentions"]["parse"] == []
        assert not call.json["allowed_mentions"].get("users")


async def test_admin_actions_are_audited_and_posted(stack: Stack, bot: ImagenBot) -> None:
    answer = await admin(stack, "logchannel set", {"channel": LOG_CHANNEL_ID})
    assert f"<#{LOG_CHANNEL_ID}>" in answer["content"]
    await admin(stack, "config set", {"cooldown_seconds": 10})
    await admin(stack, "ban", {"user": stack.discord.admin.user.id, "reason": "<@&1> ping"})
    await admin(stack, "budget default", {"credits": 25})
    posts = await log_posts(stack, 4)
    titles = [p["embeds"][0]["title"] for p in posts]
    assert titles[:3] == ["Admin: logchannel set", "Admin: config set", "Admin: ban"]
    assert titles[3].startswith("Admin: budget")  # audited by bot/admin.py like the rest
    admin_id = stack.discord.admin.user.id
    assert all(p["embeds"][0]["description"] == f"by <@{admin_id}>" for p in posts)
    assert "<@&" not in json.dumps(posts[2]["embeds"], ensure_ascii=False)
    rows = await audit_rows(bot, 4)
    actions = [r.action for r in reversed(rows)]
    assert actions[:3] == ["logchannel set", "config set", "ban"]
    assert actions[3].startswith("budget")
    assert all(r.actor_id == admin_id for r in rows)
    assert json.loads(rows[2].details_json) == {"cooldown_seconds": 10}
    await admin(stack, "logchannel clear")
    posts = await log_posts(stack, 5)
    assert posts[-1]["embeds"][0]["title"] == "Admin: logchannel clear"
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).log_channel_id is None
    delivered, _ = after_hooks(bot, "quiet now")
    await imagine_ok(stack, prompt="quiet now")
    await asyncio.wait_for(delivered.wait(), 30)  # the mirror hook has had its turn
    assert len(stack.discord.messages_in(LOG_CHANNEL_ID)) == 5


async def test_a_log_channel_the_bot_cannot_post_in_is_refused(
    stack: Stack, bot: ImagenBot
) -> None:
    stack.discord.inject("POST", rf"/channels/{LOG_CHANNEL_ID}/messages", status=403, times=1)
    answer = await admin(stack, "logchannel set", {"channel": LOG_CHANNEL_ID})
    assert "can't post" in answer["content"]
    assert (await bot.db.guilds.guild_settings(DEFAULT_GUILD_ID)).log_channel_id is None
    assert await bot.db.audit.rows(DEFAULT_GUILD_ID) == []


# -- usage and history --------------------------------------------------------------------------


async def test_usage_summary_and_csv(stack: Stack, bot: ImagenBot) -> None:
    await imagine_ok(stack, prompt="=HYPERLINK(evil)", count=2)
    await imagine_ok(stack, prompt="a ship", model=ULTRA)
    it = await stack.discord.slash("imagine", {"prompt": "by the admin"}, user=stack.discord.admin)
    await it.wait_original_message(30)
    it = await stack.discord.slash("imagine-admin usage", {"days": 7}, user=stack.discord.admin)
    response = await it.wait_response()
    assert response.type == 5 and response.data["flags"] & 64
    followup = await it.wait_followup(10)
    embed = followup["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requests"] == "3" and fields["Images"] == "4" and fields["Credits"] == "6"
    member = stack.discord.member.user.id
    assert fields["Top users"].startswith(f"1. <@{member}> — 3 images, 5 credits")
    assert "Imagen 4 Ultra — 1 image, 3 credits" in fields["Per model"]
    assert "Imagen 4 Fast — 3 images, 3 credits" in fields["Per model"]
    assert embed["footer"]["text"].startswith("3 jobs")
    assert followup["flags"] & 64
    call = stack.discord.calls_to("POST", r"/webhooks/\d+/[^/]+")[-1]
    upload, chart = call.files
    assert upload.filename is not None and upload.filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(upload.data.decode())))
    assert len(rows) == 3
    assert rows[0]["prompt"] == "'=HYPERLINK(evil)"
    assert rows[0]["user_id"] == str(member) and rows[0]["images_delivered"] == "2"
    assert rows[1]["model"] == ULTRA and rows[1]["credits_charged"] == "3"
    assert rows[0]["created_at"].endswith("+00:00")
    # The chart beside it: a PNG of the same days and models, shown in the embed.
    assert chart.filename == upload.filename.removesuffix(".csv") + ".png"
    assert embed["image"]["url"] == f"attachment://{chart.filename}"
    with Image.open(io.BytesIO(chart.data)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        shown = json.loads(image.text["Description"])
    # Seven days back from now starts on the eighth calendar day (the server's, UTC here).
    days = [dt.date.fromisoformat(day) for day in shown["days"]]
    assert days == [days[0] + dt.timedelta(days=n) for n in range(8)]
    today = dt.datetime.now(dt.UTC).date()
    assert days[-1] in (today, today - dt.timedelta(days=1))
    assert sorted(shown["models"]) == sorted({row["model"] for row in rows})
    for model, per_day in shown["credits"].items():
        charged = sum(int(row["credits_charged"]) for row in rows if row["model"] == model)
        assert sum(per_day) == charged and len(per_day) == 8


async def test_usage_of_another_server_is_empty(stack: Stack, bot: ImagenBot) -> None:
    await imagine_ok(stack, prompt="a ship")
    it = await stack.discord.slash(
        "imagine-admin usage", guild_id=OTHER_GUILD_ID, user=stack.discord.admin
    )
    followup = await it.wait_followup(10)
    fields = {f["name"]: f["value"] for f in followup["embeds"][0]["fields"]}
    assert fields["Requests"] == "0" and "Top users" not in fields


async def test_history_lists_your_own_generations_with_links(stack: Stack, bot: ImagenBot) -> None:
    messages = [await imagine_ok(stack, prompt=f"picture {n}") for n in range(12)]
    it = await stack.discord.slash("imagine", {"prompt": "the admin's"}, user=stack.discord.admin)
    await it.wait_original_message(30)
    it = await stack.discord.slash("history")
    response = await it.wait_response()
    assert response.type == 4 and response.data["flags"] & 64
    description = response.data["embeds"][0]["description"]
    for message in messages[2:]:
        link = f"https://discord.com/channels/{DEFAULT_GUILD_ID}/{DEFAULT_CHANNEL_ID}/"
        assert f"({link}{message['id']})" in description
    assert f"/{messages[1]['id']})" not in description
    assert "picture 11" in description and "the admin's" not in description
    assert description.index("picture 11") < description.index("picture 2")


async def test_history_when_empty(stack: Stack, bot: ImagenBot) -> None:
    it = await stack.discord.slash("history")
    response = await it.wait_response()
    assert response.data["flags"] & 64 and "no generations" in response.data["content"]


async def test_history_in_dms_uses_the_at_me_link(stack: Stack, bot: ImagenBot) -> None:
    it = await stack.discord.slash("imagine", {"prompt": "a dm picture"}, dm=True)
    message = await it.wait_original_message(30)
    it = await stack.discord.slash("history", dm=True)
    description = (await it.wait_response()).data["embeds"][0]["description"]
    assert f"https://discord.com/channels/@me/{message['channel_id']}/{message['id']}" in (
        description
    )


async def test_admin_history_of_a_user(stack: Stack, bot: ImagenBot) -> None:
    message = await imagine_ok(stack, prompt="a good one")
    await admin(stack, "model disable", {"model": ULTRA})
    from tests.fakes.aimlapi import Fault

    stack.api.inject(Fault.safety())
    it: FakeInteraction = await stack.discord.slash("imagine", {"prompt": "a failed one"})
    await it.wait_original_message(30)
    answer = await admin(stack, "history user", {"user": stack.discord.member.user.id})
    description = answer["embeds"][0]["description"]
    assert "a good one" in description and "a failed one" in description
    assert "failed (safety_blocked)" in description
    assert f"/{message['id']})" in description
    answer = await admin(stack, "history user", {"user": stack.discord.admin.user.id})
    assert "hasn't used" in answer["content"]


async def test_admin_permission_via_administrator_bit(stack: Stack, bot: ImagenBot) -> None:
    administrator = 1 << 3
    answer = await admin(
        stack, "config show", user=stack.discord.member, member_permissions=administrator
    )
    assert answer["embeds"][0]["title"] == "Server settings"
    answer = await admin(
        stack, "config show", user=stack.discord.member, member_permissions=P_MANAGE_GUILD
    )
    assert answer["embeds"][0]["title"] == "Server settings"


@pytest.mark.parametrize("days", [0, -1, 10**9])
async def test_usage_with_a_bad_window_is_refused(stack: Stack, bot: ImagenBot, days: int) -> None:
    answer = await admin(stack, "usage", {"days": days})
    assert "days must be from 1 to 365" in answer["content"]


async def test_the_admin_group_refuses_dms(stack: Stack, bot: ImagenBot) -> None:
    it = await stack.discord.slash("imagine-admin config show", dm=True, user=stack.discord.admin)
    response = await it.wait_response()
    assert response.data["flags"] & 64 and "only works in a server" in response.data["content"]


async def test_admins_get_failure_detail_in_the_log_channel(stack: Stack, bot: ImagenBot) -> None:
    from tests.fakes.aimlapi import Fault

    await set_log_channel(stack)
    posts_before = len(await log_posts(stack, 1))
    stack.api.inject(Fault.http(401, "Invalid API key sk-raw-upstream-text"))
    it = await stack.discord.slash("imagine", {"prompt": "a fox"})
    message = await it.wait_original_message(30)
    assert "AIMLAPI_KEY" in message["content"] and "sk-raw" not in message["content"]
    posts = await log_posts(stack, posts_before + 1)
    failure = posts[-1]["embeds"][0]
    text = str(failure)
    assert failure["title"] == "Generation failed" and "AIMLAPI_KEY" in text
    assert "401" in text and "sk-raw" not in text
    # A prompt the safety filter refused is not an admin matter.
    _, failed = after_hooks(bot, "a fox again")
    stack.api.inject(Fault.safety())
    it = await stack.discord.slash("imagine", {"prompt": "a fox again"})
    await it.wait_original_message(30)
    await asyncio.wait_for(failed.wait(), 30)  # the admins' briefing hook has had its turn
    assert len(stack.discord.messages_in(LOG_CHANNEL_ID)) == len(posts)
