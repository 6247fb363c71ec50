"""Replies in the member's language end to end (issue 21): the real bot, the fake Discord sending
each interaction with the member's ``locale`` and the server's ``guild_locale``, the fake API.

What a member reads follows their locale; the log channel and the restart notice follow the
server's locale; a language an admin forces applies to both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.aimlapi import Fault
from tests.fakes.discord import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    FakeChannel,
    FakeGuild,
    default_guild,
)
from tests.harness import Stack, eventually, fake_stack, running_bot
from tests.messages_i18n import (
    IMAGES,
    MIRROR,
    PROMPT_TOO_LONG,
    QUEUE_FULL,
    QUEUED,
    RESULT,
)
from tests.test_e2e_crash import channel_posts
from tests.test_e2e_imagine import embed_fields, final_message
from tests.test_e2e_job_texts import job_left_open
from tests.test_e2e_jobs import delivered

LOG_CHANNEL_ID = DEFAULT_CHANNEL_ID + 2
TOO_LONG = "x" * 401


def guild(locale: str = "en-US") -> FakeGuild:
    main = default_guild()
    main.channels.append(FakeChannel(LOG_CHANNEL_ID, "mod-log"))
    main.preferred_locale = locale
    return main


async def refusal(stack: Stack, locale: str, **options: Any) -> str:
    it = await stack.discord.slash("imagine", options, locale=locale)
    response = await it.wait_response(30)
    assert response.type == 4 and response.data["flags"] & 64, response
    text: str = response.data["content"]
    return text


async def admin(stack: Stack, command: str, options: dict[str, Any]) -> dict[str, Any]:
    it = await stack.discord.slash(f"imagine-admin {command}", options, user=stack.discord.admin)
    response = await it.wait_response(30)
    assert response.type == 4, response
    data: dict[str, Any] = response.data
    return data


def log_posts(stack: Stack) -> list[dict[str, Any]]:
    return stack.discord.messages_in(LOG_CHANNEL_ID)


async def mirror_of(stack: Stack, before: int) -> tuple[str, set[str]]:
    """The title and field names of the next generation copied to the log channel."""

    def posted() -> dict[str, Any] | None:
        mirrors = [p for p in log_posts(stack)[before:] if p.get("embeds") and p.get("content")]
        return mirrors[-1] if mirrors else None

    post = await eventually(posted, 30, "the log channel's copy")
    embed = post["embeds"][0]
    return embed["title"], {f["name"] for f in embed["fields"]}


# -- the member's locale ----------------------------------------------------------------------


async def test_a_german_member_reads_german_refusal_queue_ticket_result_and_plurals(
    tmp_path: Path,
) -> None:
    async with fake_stack(tmp_path, guilds=[guild()]) as stack:
        stack.api.inject(Fault(delay=3.0))  # the first job holds the only slot
        async with running_bot(
            stack,
            MAX_CONCURRENT_GENERATIONS="1",
            DEFAULT_DAILY_CREDITS="100",
            MAX_JOBS_PER_USER="8",
        ):
            assert await refusal(stack, "de", prompt=TOO_LONG) == PROMPT_TOO_LONG["de"]

            first = await stack.discord.slash("imagine", {"prompt": "ein Turm"}, locale="de")
            await first.wait_response(30)
            second = await stack.discord.slash(
                "imagine", {"prompt": "zwei Türme", "count": 2}, locale="de"
            )
            ticket = await second.wait_response(30)
            assert ticket.type == 4 and ticket.data["content"] == QUEUED["de"]
            (button,) = ticket.data["components"][0]["components"]
            assert button["label"] == "Abbrechen"

            # The parked job runs later, from the queue: it keeps its member's language.
            names = set(RESULT["de"][0])
            assert names <= set(embed_fields(await delivered(first)))
            fields = embed_fields(await delivered(second))
            assert names <= set(fields)
            assert fields["Kosten"] == "2 Credits · heute noch 97 übrig"

            history = await stack.discord.slash("history", locale="de")
            listing = (await history.wait_response(30)).data["embeds"][0]["description"]
            one, two = IMAGES["de"]
            assert f"· {one} ·" in listing and f"· {two} ·" in listing


@pytest.mark.parametrize(
    ("locale", "language"),
    [("ja", "ja"), ("es-419", "es"), ("es-ES", "es"), ("pt-BR", "pt_BR"), ("fr", "fr"),
     ("ko", "en")],
)  # fmt: skip
async def test_each_locale_reads_its_own_result(stack: Stack, locale: str, language: str) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8"):
        if language in PROMPT_TOO_LONG:
            assert await refusal(stack, locale, prompt=TOO_LONG) == PROMPT_TOO_LONG[language]
        it = await stack.discord.slash("imagine", {"prompt": "a lighthouse"}, locale=locale)
        fields = embed_fields(await final_message(it))
        names, cost = RESULT[language]
        assert set(names) <= set(fields), fields
        assert fields[names[3]] == cost


async def test_buttons_and_the_edit_modal_answer_in_the_clickers_language(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8"):
        it = await stack.discord.slash("imagine", {"prompt": "a fox"})
        message = await final_message(it)
        assert set(RESULT["en"][0]) <= set(embed_fields(message))
        job = message["attachments"][0]["filename"].split("-")[1]

        reroll = await stack.discord.click(message["id"], f"imagen:reroll:{job}", locale="ja")
        rerolled = await final_message(reroll)
        assert set(RESULT["ja"][0]) <= set(embed_fields(rerolled))

        details = await stack.discord.click(message["id"], f"imagen:details:{job}", locale="de")
        assert (await details.wait_response()).data["embeds"][0]["title"] == f"Auftrag {job}"

        edit = await stack.discord.click(message["id"], f"imagen:edit:{job}", locale="es-419")
        modal = await edit.wait_response()
        submitted = await stack.discord.submit_modal(
            modal.data["custom_id"], {"prompt": "a red fox"}, locale="es-419"
        )
        assert set(RESULT["es"][0]) <= set(embed_fields(await final_message(submitted)))


async def test_plural_refusal_in_the_members_language(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="1"):
        stack.api.inject(Fault(delay=3.0))
        busy = await stack.discord.slash("imagine", {"prompt": "slow"}, locale="fr")
        await busy.wait_response(30)
        assert await refusal(stack, "fr", prompt="another") == QUEUE_FULL["fr"][0]
        await final_message(busy)


# -- the server's locale and the forced language ----------------------------------------------


async def test_the_log_channel_follows_the_servers_locale_or_the_forced_language(
    tmp_path: Path,
) -> None:
    async with (
        fake_stack(tmp_path, guilds=[guild("fr")]) as stack,
        running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8"),
    ):
        await admin(stack, "logchannel set", {"channel": LOG_CHANNEL_ID})
        hello = log_posts(stack)[0]
        assert hello["embeds"][0]["title"] == "Admin : logchannel set"
        before = len(log_posts(stack))

        # An English-speaking member in a French server: French in the log channel.
        it = await stack.discord.slash("imagine", {"prompt": "a bridge"}, locale="en-US")
        assert set(RESULT["en"][0]) <= set(embed_fields(await final_message(it)))
        title, names = await mirror_of(stack, before)
        assert (title, MIRROR["fr"][1] in names) == (MIRROR["fr"][0], True)

        # Forced to Japanese: the log channel and every member read Japanese.
        # The answer is in the language the admin read when they asked.
        answer = await admin(stack, "config set", {"language": "ja"})
        assert answer["content"] == "Updated:\n**language** → 日本語"
        before = len(log_posts(stack))
        it = await stack.discord.slash("imagine", {"prompt": "a gate"}, locale="de")
        assert set(RESULT["ja"][0]) <= set(embed_fields(await final_message(it)))
        title, names = await mirror_of(stack, before)
        assert (title, MIRROR["ja"][1] in names) == (MIRROR["ja"][0], True)

        # Back to each member's own language.
        answer = await admin(stack, "config set", {"language": "member"})
        assert (
            answer["content"] == "更新しました：\n**language** → 各メンバーの Discord の言語に従う"
        )
        it = await stack.discord.slash("imagine", {"prompt": "a road"}, locale="de")
        assert set(RESULT["de"][0]) <= set(embed_fields(await final_message(it)))


async def test_config_show_names_the_forced_language(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100", MAX_JOBS_PER_USER="8"):
        await admin(stack, "config set", {"language": "pt_BR"})
        shown = await admin(stack, "config show", {})
        fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
        assert shown["embeds"][0]["title"] == "Configurações do servidor"
        assert fields["language"] == "Português do Brasil"


async def test_the_restart_notice_is_in_the_servers_language(tmp_path: Path) -> None:
    async with fake_stack(tmp_path, guilds=[guild("de")]) as stack:
        user = stack.discord.member.user.id
        job_id = await job_left_open(stack, DEFAULT_GUILD_ID)
        async with running_bot(stack):
            (post,) = await eventually(lambda: channel_posts(stack), 30, "the restart notice")
            assert post["content"] == (
                f"<@{user}> Der Bot wurde neu gestartet, bevor deine Bilder fertig waren "
                f"(Auftrag {job_id}). Dir wurde nichts berechnet. "
                "Bitte versuch es in einer Minute noch einmal."
            )


async def test_a_result_posted_in_the_channel_is_in_the_servers_language(
    tmp_path: Path,
) -> None:
    """Past the token's life the result goes to the channel, where everyone reads it: French in
    a French server, though the German member's deferred answer was theirs."""
    async with fake_stack(tmp_path, guilds=[guild("fr")]) as stack:
        stack.api.latency = 0.8
        async with running_bot(stack, DEFAULT_DAILY_CREDITS="100"):
            user = stack.discord.member.user.id
            it = await stack.discord.slash("imagine", {"prompt": "a late train"}, locale="de")
            await it.wait_response()
            await eventually(lambda: stack.api.in_flight == 1, 30, "the API call")
            stack.discord.expire_token(it.token)
            (post,) = await eventually(lambda: channel_posts(stack), 30, "the channel post")
            assert post["content"] == f"<@{user}> vos images sont prêtes."
            fields = {f["name"]: f["value"] for f in post["embeds"][0]["fields"]}
            names, cost = RESULT["fr"]
            assert set(names) <= set(fields) and fields[names[3]] == cost
            labels = [c["label"] for row in post["components"] for c in row["components"]]
            assert labels == ["Relancer", "Modifier", "Détails", "Supprimer"]


# -- /settings and the restart correction -----------------------------------------------------


async def test_the_settings_page_is_in_the_members_language(stack: Stack) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100"):
        it = await stack.discord.slash("settings", locale="de")
        response = await it.wait_response(30)
        assert response.type == 4 and response.data["flags"] & 64, response
        page = await it.wait_original_message(30)
        embed = page["embeds"][0]
        assert embed["title"] == "Deine Standards für /bild"
        assert embed["description"] == (
            "Gilt immer, wenn du bei /bild eine Option weglässt; "
            "die Regeln des Servers gelten weiterhin."
        )
        assert embed_fields(page) == {
            "Modell": "Standard des Servers (Imagen 4 Fast)",
            "Seitenverhältnis": "Standard des Servers (1:1)",
            "Bilder": "Standard des Servers (1)",
            "Prompt-Verbesserung": "Standard des Servers",
            "Private Ergebnisse": "Aus: Ergebnisse werden im Kanal gepostet",
        }
        placeholders = {
            c["custom_id"]: c["placeholder"]
            for row in page["components"]
            for c in row["components"]
            if c["type"] == 3
        }
        assert placeholders["imagen:settings:aspect_ratio"] == "Standard-Seitenverhältnis"
        # A choice redraws the page in the clicker's language.
        click = await stack.discord.click(
            page["id"], "imagen:settings:aspect_ratio", values=["16:9"], locale="de"
        )
        assert (await click.wait_response(30)).type == 7
        redrawn = stack.discord.get_message(int(page["id"]))
        assert redrawn is not None
        assert embed_fields(redrawn)["Seitenverhältnis"] == "16:9"
        labels = [c.get("label") for row in redrawn["components"] for c in row["components"]]
        assert "Alles zurücksetzen" in labels


async def test_the_restart_correction_follows_the_forced_server_language(tmp_path: Path) -> None:
    """A French server whose admin forced German: the notice about a job the last process left
    open is German, though Discord says the server speaks French."""
    async with fake_stack(tmp_path, guilds=[guild("fr")]) as stack:
        async with running_bot(stack):
            await admin(stack, "config set", {"language": "de"})
        user = stack.discord.member.user.id
        job_id = await job_left_open(stack, DEFAULT_GUILD_ID)
        async with running_bot(stack):
            (post,) = await eventually(lambda: channel_posts(stack), 30, "the restart notice")
            assert post["content"] == (
                f"<@{user}> Der Bot wurde neu gestartet, bevor deine Bilder fertig waren "
                f"(Auftrag {job_id}). Dir wurde nichts berechnet. "
                "Bitte versuch es in einer Minute noch einmal."
            )
