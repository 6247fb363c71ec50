"""The synced command tree in every shipped language (issue 21): what the fake Discord recorded
from the bot's sync carries a valid localization of every name, description and choice, for
every command, subcommand group, subcommand and option, within Discord's rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.translator import CatalogueTranslator, valid_name
from tests.harness import Stack, running_bot
from tests.test_e2e_imagine import embed_fields, final_message

# Discord's locales a shipped catalogue serves.
SERVED = {"de", "fr", "es-ES", "es-419", "pt-BR", "ja"}
DISCORD_LOCALES = {locale.value for locale in discord.Locale}
NAME = re.compile(r"^[-_\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
SUBCOMMAND, GROUP = 1, 2
# Every command, group, subcommand and option by its English path, as synced before the names
# were localized: other tools send these, so they never change.
ENGLISH_PATHS = """
help
history
imagine
imagine aspect_ratio
imagine count
imagine enhance_prompt
imagine model
imagine negative_prompt
imagine private
imagine prompt
imagine seed
imagine spoiler
imagine-admin
imagine-admin ban
imagine-admin ban duration
imagine-admin ban reason
imagine-admin ban user
imagine-admin bans
imagine-admin blocklist
imagine-admin blocklist add
imagine-admin blocklist add kind
imagine-admin blocklist add pattern
imagine-admin blocklist list
imagine-admin blocklist remove
imagine-admin blocklist remove kind
imagine-admin blocklist remove pattern
imagine-admin budget
imagine-admin budget default
imagine-admin budget default credits
imagine-admin budget grant
imagine-admin budget grant credits
imagine-admin budget grant user
imagine-admin budget reset
imagine-admin budget reset user
imagine-admin budget role
imagine-admin budget role credits
imagine-admin budget role role
imagine-admin budget server-cap
imagine-admin budget server-cap credits
imagine-admin budget show
imagine-admin budget show user
imagine-admin budget user
imagine-admin budget user credits
imagine-admin budget user user
imagine-admin channel
imagine-admin channel allow
imagine-admin channel allow channel
imagine-admin channel list
imagine-admin channel remove
imagine-admin channel remove channel
imagine-admin config
imagine-admin config set
imagine-admin config set add_watermark
imagine-admin config set allow_private
imagine-admin config set cooldown_seconds
imagine-admin config set default_model
imagine-admin config set enhance_prompt
imagine-admin config set language
imagine-admin config set max_images
imagine-admin config set person_generation
imagine-admin config set reset
imagine-admin config set safety_setting
imagine-admin config set timezone
imagine-admin config show
imagine-admin history
imagine-admin history user
imagine-admin history user user
imagine-admin logchannel
imagine-admin logchannel clear
imagine-admin logchannel set
imagine-admin logchannel set channel
imagine-admin model
imagine-admin model disable
imagine-admin model disable model
imagine-admin model enable
imagine-admin model enable model
imagine-admin unban
imagine-admin unban user
imagine-admin usage
imagine-admin usage days
quota
settings
""".strip().splitlines()


def walk(payload: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command, subcommand group, subcommand and option, with its path."""

    def inner(path: str, item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        yield path, item
        for option in item.get("options") or []:
            yield from inner(f"{path} {option['name']}", option)

    for command in payload:
        yield from inner(command["name"], command)


async def synced(stack: Stack) -> list[dict[str, Any]]:
    async with running_bot(stack):
        return [dict(c) for c in stack.discord.global_commands]


async def test_every_description_is_localized_within_discords_rules(stack: Stack) -> None:
    payload = await synced(stack)
    assert {c["name"] for c in payload} >= {"imagine", "quota", "help", "history", "imagine-admin"}
    for path, item in walk(payload):
        assert NAME.fullmatch(item["name"]) and item["name"] == item["name"].lower(), path
        for locale, name in (item.get("name_localizations") or {}).items():
            assert locale in DISCORD_LOCALES, (path, locale)
            assert NAME.fullmatch(name) and name == name.lower(), (path, locale, name)
        assert 1 <= len(item["description"]) <= 100, path
        localized = item.get("description_localizations") or {}
        assert set(localized) == SERVED, (path, sorted(localized))
        for locale, text in localized.items():
            assert 1 <= len(text) <= 100, (path, locale, text)
            assert text != item["description"], (path, locale)
        for choice in item.get("choices") or []:
            assert 1 <= len(choice["name"]) <= 100, (path, choice)
            for locale, text in (choice.get("name_localizations") or {}).items():
                assert locale in SERVED and 1 <= len(text) <= 100, (path, locale, text)


async def test_every_name_is_localized_within_discords_rules(stack: Stack) -> None:
    payload = await synced(stack)
    assert sorted(path for path, _ in walk(payload)) == ENGLISH_PATHS
    for path, item in walk(payload):
        localized = item.get("name_localizations") or {}
        assert set(localized) == SERVED, (path, sorted(localized))
        for locale, name in localized.items():
            assert NAME.fullmatch(name) and name == name.lower(), (path, locale, name)
        assert localized["es-ES"] == localized["es-419"], path


async def test_sibling_names_differ_in_every_language(stack: Stack) -> None:
    """Discord refuses a command whose options (or subcommands) share a name in any locale."""
    payload = await synced(stack)
    families = [payload] + [item["options"] for _, item in walk(payload) if item.get("options")]
    for siblings in families:
        for locale in SERVED:
            names = [(s.get("name_localizations") or {}).get(locale, s["name"]) for s in siblings]
            assert len(names) == len(set(names)), (locale, names)


async def test_names_read_in_each_language(stack: Stack) -> None:
    options = dict(walk(await synced(stack)))
    assert options["imagine"]["name_localizations"]["de"] == "bild"
    assert options["imagine aspect_ratio"]["name_localizations"]["ja"] == "アスペクト比"
    grant = options["imagine-admin budget grant"]["name_localizations"]
    assert grant["fr"] == "accorder" and grant["pt-BR"] == "conceder"
    # A name that reads as in English is still sent: every command has one in every language.
    assert options["imagine prompt"]["name_localizations"]["de"] == "prompt"


async def test_settings_to_reset_are_offered_under_their_option_names(stack: Stack) -> None:
    options = dict(walk(await synced(stack)))
    reset = options["imagine-admin config set reset"]["choices"]
    assert len(reset) == 10
    for choice in reset:
        option = options[f"imagine-admin config set {choice['value']}"]
        assert choice["name"] == option["name"], choice
        for locale, name in option["name_localizations"].items():
            assert (choice.get("name_localizations") or {}).get(locale, choice["name"]) == name


async def test_a_german_member_uses_the_command_by_its_english_name(stack: Stack) -> None:
    """Discord shows a German member ``/bild``, and sends the interaction with the canonical
    names of the command, its subcommands and options: the bot answers in German."""
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="100"):
        it = await stack.discord.slash(
            "imagine", {"prompt": "ein Turm", "aspect_ratio": "16:9", "seed": 7}, locale="de"
        )
        fields = embed_fields(await final_message(it))
        assert fields["Seitenverhältnis"] == "16:9" and fields["Seed"] == "7", fields
        grant = await stack.discord.slash(
            "imagine-admin budget grant",
            {"user": stack.discord.member.user.id, "credits": 5},
            user=stack.discord.admin,
            locale="de",
        )
        reply = (await grant.wait_response(30)).data["content"]
        assert reply.startswith(f"<@{stack.discord.member.user.id}> hat 5 zusätzliche Credits"), (
            reply
        )


async def test_choices_are_localized(stack: Stack) -> None:
    options = dict(walk(await synced(stack)))
    aspect = {c["value"]: c for c in options["imagine aspect_ratio"]["choices"]}
    assert aspect["1:1"]["name"] == "1:1 square"
    assert aspect["1:1"]["name_localizations"]["de"] == "1:1 quadratisch"
    assert aspect["16:9"]["name_localizations"]["ja"] == "16:9 横長"
    assert aspect["9:16"]["name_localizations"]["es-419"] == "9:16 vertical"
    language = {c["value"]: c for c in options["imagine-admin config set language"]["choices"]}
    assert set(language) == {"member", "en", "de", "fr", "es", "pt_BR", "ja"}
    assert language["member"]["name_localizations"]["fr"] == (
        "Suivre la langue Discord de chaque membre"
    )
    assert language["de"]["name"] == "Deutsch"  # a language is named in its own language
    safety = options["imagine-admin config set safety_setting"]["choices"]
    assert safety[0]["name_localizations"]["pt-BR"] == "Rígido: bloquear a partir de baixo"


async def test_descriptions_read_in_each_language(stack: Stack) -> None:
    options = dict(walk(await synced(stack)))
    imagine = options["imagine"]["description_localizations"]
    assert imagine["de"] == "Bilder aus einem Text-Prompt erzeugen"
    assert imagine["ja"] == "テキストのプロンプトから画像を作成します"
    assert imagine["es-ES"] == imagine["es-419"] == "Crear imágenes a partir de un prompt de texto"
    count = options["imagine count"]["description_localizations"]
    assert count["fr"] == "Combien d'images, 1-4 (chacune coûte des crédits)"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("bild", True),
        ("neu-würfeln", True),
        ("画像", True),
        ("Bild", False),
        ("zu lang" * 5, False),
    ],
)
def test_a_name_that_breaks_discords_rules_is_refused(name: str, ok: bool) -> None:
    assert valid_name(name) is ok


async def test_the_translator_leaves_a_rule_breaking_name_english() -> None:
    """A catalogue entry may not break the sync: a translation that is no valid name stays
    English where a name goes, and is used where free text goes (a choice, a description)."""
    translator = CatalogueTranslator()
    where = app_commands.TranslationContextLocation
    string = app_commands.locale_str("word or phrase")

    async def translated(
        location: app_commands.TranslationContextLocation, locale: discord.Locale
    ) -> str | None:
        context: Any = app_commands.TranslationContext(location, None)  # type: ignore[call-overload]
        result: str | None = await translator.translate(string, locale, context)
        return result

    assert await translated(where.choice_name, discord.Locale.german) == "Wort oder Phrase"
    assert await translated(where.parameter_name, discord.Locale.german) is None
    assert await translated(where.choice_name, discord.Locale.korean) is None
    assert await translated(where.choice_name, discord.Locale.american_english) is None
