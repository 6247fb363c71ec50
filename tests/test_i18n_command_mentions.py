"""Replies name a command as the reader sees it in Discord (issue 21): every `/command` inside a
translated text is that language's name of the command, its subcommands and options word by word
(`/imagine-admin budget grant` in German is `/bild-admin budget gewähren`), read from the command
tree the bot synced, and names what the English text names."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from bot import i18n
from tests.harness import Stack
from tests.test_i18n_commands import synced

LOCALES = Path(i18n.__file__).parent / "locales"
# Each catalogue and the Discord locale whose names it gives (es-419 reads es-ES's).
SHIPPED = {"de": "de", "fr": "fr", "es": "es-ES", "pt_BR": "pt-BR", "ja": "ja"}
# A slash that starts a command: not inside a word ("credits/day", "AI/ML") or a URL.
MENTION = re.compile(r"(?<![\w/])/([-\w]+(?: [-\w]+)*)")

Tree = Mapping[str, Any]  # name as the reader sees it -> (English name, subtree)


def tree(items: list[dict[str, Any]], locale: str | None) -> dict[str, tuple[str, Tree]]:
    """Commands, subcommands and options by the name a reader of ``locale`` sees (English for
    ``None``, or where the locale has no name)."""
    out: dict[str, tuple[str, Tree]] = {}
    for item in items:
        shown = (item.get("name_localizations") or {}).get(locale, item["name"])
        out[shown] = (item["name"], tree(item.get("options") or [], locale))
    return out


def mentions(text: str, commands: Tree) -> Iterator[tuple[str, ...] | str]:
    """Each mention in ``text`` as its English path, or the words where no command has that
    name: the first word must be a command; each next word continues the path while it names
    a subcommand or option there."""
    for match in MENTION.finditer(text):
        words = match.group(1).split(" ")
        if words[0] not in commands:
            yield "/" + words[0]
            continue
        path: list[str] = []
        level = commands
        for word in words:
            if word not in level:
                break
            english, level = level[word]
            path.append(english)
        yield tuple(path)


def translated_pairs(language: str) -> Iterator[tuple[str, str, str]]:
    """(id, English, translation) for every form of every message of a catalogue."""
    with open(LOCALES / language / "LC_MESSAGES" / "imagen.po", "rb") as f:
        catalogue = read_po(f, locale=language)
    for message in catalogue:
        if not message.id:
            continue
        english = [message.id] if isinstance(message.id, str) else list(message.id)
        forms = [message.string] if isinstance(message.string, str) else list(message.string or ())
        key = message.context or english[0]
        for form in forms:
            yield key, english[-1], form


async def test_every_mention_is_a_command_in_the_readers_language(stack: Stack) -> None:
    payload = await synced(stack)
    english = tree(payload, None)
    wrong = []
    for language, locale in SHIPPED.items():
        commands = tree(payload, locale)
        for key, source, text in translated_pairs(language):
            wrong += [(language, key, m) for m in mentions(source, english) if isinstance(m, str)]
            found = set(mentions(text, commands))
            wrong += [(language, key, m) for m in found if isinstance(m, str)]
            if found != set(mentions(source, english)):
                wrong.append((language, key, text))
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Ändern mit /bild-admin konfiguration festlegen", [("imagine-admin", "config", "set")]),
        ("(/bild-admin sperrliste entfernen).", [("imagine-admin", "blocklist", "remove")]),
        ("`/bild prompt` — 1-4 Bilder", [("imagine", "prompt")]),
        ("/bild funktioniert nur in: {channels}", [("imagine",)]),
        ("Probier /imagine.", ["/imagine"]),
        ("{count} Credits/Tag, AI/ML API, Europe/Berlin", []),
        ("/画像生成 を試してみてください。", [("imagine",)]),
        ("/画像生成を試して", ["/画像生成を試して"]),
    ],
)
def test_a_mention_is_read_word_by_word(text: str, found: list[tuple[str, ...] | str]) -> None:
    german: list[dict[str, Any]] = [
        {
            "name": "imagine",
            "name_localizations": {"de": "bild", "ja": "画像生成"},
            "options": [{"name": "prompt", "name_localizations": {"de": "prompt"}}],
        },
        {
            "name": "imagine-admin",
            "name_localizations": {"de": "bild-admin"},
            "options": [
                {
                    "name": "config",
                    "name_localizations": {"de": "konfiguration"},
                    "options": [{"name": "set", "name_localizations": {"de": "festlegen"}}],
                },
                {
                    "name": "blocklist",
                    "name_localizations": {"de": "sperrliste"},
                    "options": [{"name": "remove", "name_localizations": {"de": "entfernen"}}],
                },
            ],
        },
    ]
    locale = "ja" if "画像" in text else "de"
    assert list(mentions(text, tree(german, locale))) == found
