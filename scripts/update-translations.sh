#!/bin/sh
# Extracts every user-facing text into bot/locales/imagen.pot, merges it into each language's
# catalogue (bot/locales/<lang>/LC_MESSAGES/imagen.po) and compiles the .mo files the bot reads.
# Run after changing a text in bot/texts.py or a command's description in cogs/; then translate
# the entries Babel marked "fuzzy" or left empty, and run it again to compile.
#   scripts/update-translations.sh            extract, update and compile
#   scripts/update-translations.sh --compile  only compile (after editing a .po)
# Needs Babel (in the test extra: .venv/bin/pybabel, or PYBABEL=...).
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
LOCALES=bot/locales
if [ "${1:-}" != "--compile" ]; then
    # Text(id, one) and Text(id, one, other): the id is the gettext context. Babel reads a
    # trailing comma as one more (empty) argument, hence a plural spec for 3 and for 4 of them.
    # locale_str(...) marks a command's description or choice.
    "$PYBABEL" extract --no-default-keywords --no-location --sort-by-file \
        -k "Text:1c,2" -k "Text:1c,2,3,3t" -k "Text:1c,2,3,4t" -k locale_str \
        --project "Imagen Bot" --copyright-holder "Imagen Bot contributors" \
        -o "$LOCALES/imagen.pot" bot cogs
    "$PYBABEL" update --no-fuzzy-matching --ignore-obsolete -D imagen \
        -i "$LOCALES/imagen.pot" -d "$LOCALES"
fi
"$PYBABEL" compile --statistics -D imagen -d "$LOCALES"
