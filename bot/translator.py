"""Commands, options and choices as Discord shows them in each shipped language: the command
tree's translator, backed by the same gettext catalogues as the replies (``bot.i18n``)."""

from __future__ import annotations

import re
from typing import Final

import discord
from discord import app_commands

from bot import i18n
from bot.texts import Text

# Discord's rule for command and option names (lower case is checked apart).
NAME_RULE: Final = re.compile(r"^[-_\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
DESCRIPTION_MAX: Final = 100


def declared(text: Text, **params: object) -> app_commands.locale_str:
    """A name, description or choice declared from a ``Text``: English now, each language on
    sync."""
    with i18n.speaking(i18n.SOURCE):
        english = text(**params)
    return app_commands.locale_str(english, text=text, params=params)


def valid_name(name: str) -> bool:
    return bool(NAME_RULE.fullmatch(name)) and name == name.lower()


class CatalogueTranslator(app_commands.Translator):
    """A declaration made with ``declared`` is looked up with its text's id as context, a plain
    ``locale_str`` by its English. A name that would break Discord's rules stays English, and so
    does a description over Discord's limit."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = i18n.language_for(locale)
        if language == i18n.SOURCE:
            return None
        text = string.extras.get("text")
        if isinstance(text, Text):
            with i18n.speaking(language):
                translated = text(**string.extras.get("params", {}))
        else:
            translated = i18n.translation(language).gettext(string.message)
        location = context.location
        is_name = location.name.endswith("_name") and location is not (
            app_commands.TranslationContextLocation.choice_name
        )
        # A declared name is sent even where it reads as in English ("prompt" in German): the
        # catalogue chose it, and every command then has a name in every served language.
        if translated == string.message and not (is_name and isinstance(text, Text)):
            return None
        if is_name:
            return translated if valid_name(translated) else None
        return translated if len(translated) <= DESCRIPTION_MAX else None
