"""Numbers in replies are written from bot/number_formats.py, a table derived from Babel's CLDR
data, without loading that data at run time: they must read exactly as Babel writes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel import Locale
from babel.numbers import format_currency, format_decimal, get_currency_symbol

from bot import i18n

ROOT = Path(__file__).resolve().parent.parent
VALUES = (0, 1, 7, 999, 1000, 1234, 10000, 123456, 1234567, -1500, 2.5, 0.0005, 0.125, 0.135,
          1234.5678, 99.995, 0.0199, 1e9, -0.004, 3.14159)  # fmt: skip
SPECS = ("", ".0f", ".2f", ".4f")


def babel_number(value: float, spec: str, language: str) -> str:
    locale = i18n.babel_locale(language)
    digits = int(spec[1:-1]) if spec else None
    if digits is not None:
        return format_decimal(value, "#,##0." + "0" * digits if digits else "#,##0", locale=locale)
    return format_decimal(value, locale=locale)


def babel_money(value: float, spec: str, language: str) -> str:
    locale = i18n.babel_locale(language)
    digits = int(spec[1:-1]) if spec else None
    pattern = None
    if digits is not None:
        standard = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
        pattern = standard.replace(".00", "." + "0" * digits if digits else "")
    text = format_currency(
        value, "USD", format=pattern, locale=locale, currency_digits=digits is None
    )
    return text.replace(get_currency_symbol("USD", locale), "$")


@pytest.mark.parametrize("language", (i18n.SOURCE, *i18n.LANGUAGES))
def test_numbers_and_dollars_read_as_babel_writes_them(language: str) -> None:
    for value in VALUES:
        for spec in SPECS:
            number = i18n._Quantity(value, language)
            money = i18n._Quantity(value, language, money=True)
            assert format(number, spec) == babel_number(value, spec, language), (value, spec)
            assert format(money, spec) == babel_money(value, spec, language), (value, spec)


def test_a_language_without_a_row_is_written_the_english_way() -> None:
    assert format(i18n._Quantity(1234.5, "ko"), "") == "1,234.5"


def test_the_committed_table_is_what_the_script_derives() -> None:
    script = ROOT / "scripts" / "derive_number_formats.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
