"""The message catalogue's own rules: unique ids, consistent placeholders, and plural choice."""

from __future__ import annotations

import re

from bot import texts


def test_every_id_is_unique_and_well_formed() -> None:
    keys = [text.key for text in texts.all_texts()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    for key in keys:
        assert re.fullmatch(r"[a-z_]+(\.[a-z0-9_]+)+", key), key


def test_singular_and_plural_take_the_same_placeholders() -> None:
    import string

    parse = string.Formatter().parse
    for text in texts.all_texts():
        if text.other is None:
            continue
        one = {name for _, name, _, _ in parse(text.one) if name}
        other = {name for _, name, _, _ in parse(text.other) if name}
        assert one <= other | {"count"} and other <= one | {"count"}, text.key
        assert "count" in text.placeholders, text.key


def test_plural_form_follows_count() -> None:
    images = texts.Text("test.images", "{count} image", "{count} images")
    assert images(count=1) == "1 image"
    assert images(count=2) == "2 images"
    assert images(count=0) == "0 images"


def test_apology_is_literal() -> None:
    assert texts.APOLOGY() == (
        "Sorry, something went wrong on our side. You were not charged. Please try again."
    )
