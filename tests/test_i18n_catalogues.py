"""The gettext catalogues (issue 21): every text translated in every shipped language with the
same placeholders and Discord markup, the template and the compiled catalogues in step with the
code, and plurals and numbers right per language."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot import i18n, texts
from tests.messages_i18n import IMAGES, LANGUAGES, NOT_ENOUGH, QUEUE_FULL, USD

LOCALES = Path(i18n.__file__).parent / "locales"
SHIPPED = ("de", "fr", "es", "pt_BR", "ja")
# Discord markup a translation must carry over unchanged: mentions, timestamps, links. A command
# in it reads as the reader's language names it (tests/test_i18n_command_mentions.py).
MARKUP = re.compile(r"<[@#&!t:][^>]*>|\]\(\{[a-z_]+\}\)")


def catalogue(language: str) -> Catalog:
    with open(LOCALES / language / "LC_MESSAGES" / "imagen.po", "rb") as f:
        return read_po(f, locale=language)


def template() -> Catalog:
    with open(LOCALES / "imagen.pot", "rb") as f:
        return read_po(f)


def entries(cat: Catalog) -> dict[tuple[str, str | None], Message]:
    out = {}
    for m in cat:
        if m.id:
            singular = m.id if isinstance(m.id, str) else m.id[0]
            out[(singular, m.context)] = m
    return out


def forms(message: Message) -> tuple[str, ...]:
    text = message.string
    return (text,) if isinstance(text, str) else tuple(text or ())


def placeholders(template_text: str) -> frozenset[str]:
    return frozenset(
        (name + (":" + spec if spec else ""))
        for _, name, spec, _ in string.Formatter().parse(template_text)
        if name
    )


def shape(text: str) -> tuple[frozenset[str], tuple[str, ...], int, int]:
    """What must survive translation: placeholders, Discord markup, bold and code marks."""
    return (
        placeholders(text),
        tuple(sorted(MARKUP.findall(text))),
        text.count("**"),
        text.count("`"),
    )


def test_the_template_has_every_text_and_command_string_of_the_code() -> None:
    """A new or changed text fails here until scripts/update-translations.sh is run."""
    pot = entries(template())
    for text in texts.all_texts():
        message = pot.get((text.one, text.key))
        assert message is not None, f"{text.key} missing or changed: run update-translations.sh"
        if text.other is not None:
            assert message.pluralizable and message.id[1] == text.other, text.key


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    pot = entries(template())
    po = entries(catalogue(language))
    assert set(po) == set(pot), "the catalogue is not updated from the template"
    for key, source in pot.items():
        message = po[key]
        assert not message.fuzzy, key
        assert message.string, f"{language}: {key} is not translated"
        english = [source.id] if isinstance(source.id, str) else list(source.id)
        translated = forms(message)
        assert all(translated), f"{language}: {key} has an empty plural form"
        expected = shape(english[-1])
        for form in translated:
            assert shape(form) == expected, (language, key, form)


@pytest.mark.parametrize("language", SHIPPED)
def test_the_compiled_catalogue_is_not_stale(language: str) -> None:
    """The .mo the bot reads says what its .po says (scripts/update-translations.sh compiles)."""
    with open(LOCALES / language / "LC_MESSAGES" / "imagen.mo", "rb") as f:
        compiled = {key: forms(m) for key, m in entries(read_mo(f)).items()}
    source = {key: forms(m) for key, m in entries(catalogue(language)).items()}
    assert compiled == source


def test_the_package_ships_the_compiled_catalogues() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    assert "locales/*/LC_MESSAGES/*.mo" in data["tool"]["setuptools"]["package-data"]["bot"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_plurals_come_from_each_language(language: str) -> None:
    with texts.speaking(language):
        assert (texts.HISTORY_IMAGES(count=1), texts.HISTORY_IMAGES(count=2)) == IMAGES[language]
        assert (texts.QUEUE_FULL(count=1), texts.QUEUE_FULL(count=2)) == QUEUE_FULL[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_numbers_are_written_the_languages_way(language: str) -> None:
    with texts.speaking(language):
        text = texts.BUDGET_NOT_ENOUGH(needed=1500, left=2, total=3000, reset="<t:1:R>")
        assert text == NOT_ENOUGH[language]
        assert texts.ADMIN_USAGE_USD_VALUE(usd=1234.5) == USD[language]


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "12,345"), ("de", "12.345"), ("fr", "12\u202f345"), ("ja", "12,345")],
)
def test_a_quantity_shown_alone_is_written_the_languages_way(language: str, written: str) -> None:
    with texts.speaking(language):
        assert i18n.number(12345) == written


def test_ids_and_timestamps_are_not_grouped_like_quantities() -> None:
    with texts.speaking("de"):
        assert texts.RESULT_FOOTER(job_id=123456) == "Auftrag 123456"
        assert texts.ADMIN_BANS_UNTIL(until=1767225600) == "bis <t:1767225600:f>"


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("de", "de"),
        ("fr", "fr"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("pt-BR", "pt_BR"),
        ("ja", "ja"),
        ("en-US", "en"),
        ("ko", "en"),
        (None, "en"),
    ],
)
def test_discord_locales_map_to_a_catalogue_or_english(locale: str | None, language: str) -> None:
    assert i18n.language_for(locale) == language


def test_a_forced_server_language_wins_over_the_members() -> None:
    assert i18n.reader_language("de", None) == "de"
    assert i18n.reader_language("de", "ja") == "ja"
    assert i18n.reader_language("de", "en") == "en"


def test_the_reader_language_is_scoped() -> None:
    with texts.speaking("fr"):
        assert texts.CANCELLED() == "Annulé. Rien ne vous a été facturé."
        with texts.speaking("ja"):
            assert texts.CANCELLED() == "キャンセルしました。料金は発生していません。"
        assert texts.CANCELLED() == "Annulé. Rien ne vous a été facturé."
    assert texts.CANCELLED() == "Cancelled. You were not charged."
