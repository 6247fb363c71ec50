"""Whose language a text is read in, the gettext catalogues and numbers per locale.

The reader's language lives in a context variable, set once where an interaction enters the bot,
so every text looked up while answering it (and in tasks started from there) is in that language
without a ``locale=`` argument at each call site. No Discord here: the core reads texts too.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Final

from bot.number_formats import NUMBER_FORMATS

DOMAIN: Final = "imagen"
LOCALE_DIR: Final = Path(__file__).parent / "locales"
SOURCE: Final = "en"
# The catalogues shipped beside English (gettext language codes), in the order admins see them.
LANGUAGES: Final = ("de", "fr", "es", "pt_BR", "ja")
LANGUAGE_NAMES: Final = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt_BR": "Português do Brasil",
    "ja": "日本語",
}
# Discord's locale codes that a catalogue serves; every other locale reads English.
_DISCORD_LOCALES: Final = {
    "de": "de",
    "fr": "fr",
    "es-ES": "es",
    "es-419": "es",
    "pt-BR": "pt_BR",
    "ja": "ja",
}
# Placeholders that hold a quantity: an int or float there is written the locale's way.
# Ids, timestamps and seeds are not quantities and stay as they are.
QUANTITIES: Final = frozenset(
    {
        "count", "credits", "left", "total", "needed", "cap", "used", "limit", "charged",
        "reserved", "forgiven", "minimum", "maximum", "delivered", "most", "word_limit",
        "prompt_max", "max_images", "daily_credits", "length", "seconds", "position", "images",
        "more",
    }
)  # fmt: skip
MONEY: Final = frozenset({"usd"})

# Languages whose letters the usage chart's font (matplotlib's bundled DejaVu Sans) can draw; a
# chart for another reader is labelled in English rather than with empty boxes.
DRAWABLE: Final = frozenset({SOURCE, "de", "fr", "es", "pt_BR"})

_reader: ContextVar[str] = ContextVar("imagen_reader_language", default=SOURCE)


def language_for(locale: object) -> str:
    """The catalogue that serves a Discord locale (``es-419`` -> ``es``); English if none does.

    ``locale`` is Discord's code or discord.py's ``Locale`` (whose ``str`` is the code)."""
    if locale is None:
        return SOURCE
    code = str(locale)
    if code in LANGUAGES or code == SOURCE:
        return code
    return _DISCORD_LOCALES.get(code, SOURCE)


def current() -> str:
    """The language texts are read in here."""
    return _reader.get()


def use(language: str) -> None:
    """Set the reader's language for the rest of this task (and the tasks it starts)."""
    _reader.set(language if language in LANGUAGES else SOURCE)


def drawable() -> str:
    """The reader's language if the chart's font can draw it, else English."""
    return current() if current() in DRAWABLE else SOURCE


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """Texts inside this block are in ``language``: for posts the whole server reads."""
    token = _reader.set(language if language in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _reader.reset(token)


def reader_language(locale: object, forced: str | None) -> str:
    """What a member reads: the server's forced language if an admin set one, else theirs."""
    return forced if forced in LANGUAGES or forced == SOURCE else language_for(locale)


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language; English (gettext's own plural rule) without one."""
    if language == SOURCE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def babel_locale(language: str) -> str:
    """Babel's (CLDR's) name for a catalogue's language."""
    return "es_ES" if language == "es" else language


def _digits(value: float, places: int, trim: bool, language: str) -> str:
    """``value`` rounded half-even to ``places`` decimals (trailing zeros dropped when ``trim``),
    in thousands, with the language's signs: what CLDR's ``#,##0.###`` pattern writes."""
    decimal_sign, group, _, _ = NUMBER_FORMATS[language]
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)][::-1]
    sign = "-" if exact < 0 else ""  # as CLDR: the sign of the value, though it rounds to 0
    return sign + group.join(groups) + (decimal_sign + fraction if fraction else "")


class _Quantity:
    """A number in a template, written with the reader's digits grouping and decimal sign."""

    __slots__ = ("language", "money", "value")

    def __init__(self, value: float, language: str, *, money: bool = False) -> None:
        self.value = value
        self.language = language
        self.money = money

    def __format__(self, spec: str) -> str:
        digits = int(spec[1:-1]) if re.fullmatch(r"\.\d+f", spec) else None
        language = self.language if self.language in NUMBER_FORMATS else SOURCE
        if self.money:
            # US dollars, cents by default; ``{usd:.4f}`` keeps four decimals.
            _, _, before, after = NUMBER_FORMATS[language]
            amount = _digits(self.value, 2 if digits is None else digits, False, language)
            sign, amount = ("-", amount[1:]) if amount.startswith("-") else ("", amount)
            return f"{sign}{before}{amount}{after}"
        return _digits(self.value, 3 if digits is None else digits, digits is None, language)

    def __str__(self) -> str:
        return self.__format__("")


def number(value: float) -> str:
    """A quantity shown alone (an embed field's value), written the reader's way."""
    return str(_Quantity(value, current()))


def localized(params: Mapping[str, object], language: str) -> dict[str, object]:
    """The placeholders' values with every quantity written for ``language``."""
    out: dict[str, object] = {}
    for name, value in params.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and name in MONEY:
            out[name] = _Quantity(value, language, money=True)  # type: ignore[arg-type]
        elif number and name in QUANTITIES:
            out[name] = _Quantity(value, language)  # type: ignore[arg-type]
        else:
            out[name] = value
    return out
