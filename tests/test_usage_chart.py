"""The usage chart: per-day sums in the server's timezone, and a PNG that says what it shows."""

from __future__ import annotations

import datetime as dt
import io
import json

from PIL import Image, PngImagePlugin

from bot.usage_chart import BACKGROUND, FOREGROUND, ChartLabels, daily_usage, render_png

LABELS = ChartLabels(title="Usage in the last 3 days", credits="Credits", usd="USD spent")

DEC_1_UTC = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0

ROWS = [
    # 23:30 UTC on Nov 30 is 00:30 on Dec 1 in Berlin: the server's day, not UTC's, decides.
    {
        "created_at": DEC_1_UTC - 0.5 * HOUR,
        "model": "google/imagen-4.0-fast-generate-001",
        "credits_charged": 2,
        "usd": 0.04,
    },
    {
        "created_at": DEC_1_UTC + 5 * HOUR,
        "model": "google/imagen-4.0-ultra-generate-001",
        "credits_charged": 4,
        "usd": 0.12,
    },
    # A failed job: no credits, no spend, but its day is still in the window.
    {
        "created_at": DEC_1_UTC + 30 * HOUR,
        "model": "google/imagen-4.0-ultra-generate-001",
        "credits_charged": 0,
        "usd": None,
    },
    {
        "created_at": DEC_1_UTC + 50 * HOUR,
        "model": "google/imagen-4.0-fast-generate-001",
        "credits_charged": 1,
        "usd": 0.02,
    },
    # Outside the window: ignored.
    {
        "created_at": DEC_1_UTC + 30 * 24 * HOUR,
        "model": "google/imagen-4.0-fast-generate-001",
        "credits_charged": 9,
        "usd": 9.0,
    },
]


def test_sums_per_day_and_model_in_the_servers_timezone() -> None:
    usage = daily_usage(ROWS, first_day=dt.date(2026, 12, 1), days=3, timezone="Europe/Berlin")
    assert usage.days == (dt.date(2026, 12, 1), dt.date(2026, 12, 2), dt.date(2026, 12, 3))
    assert dict(usage.credits) == {
        "google/imagen-4.0-ultra-generate-001": (4, 0, 0),
        "google/imagen-4.0-fast-generate-001": (2, 0, 1),
    }
    assert [round(x, 2) for x in usage.usd] == [0.16, 0.0, 0.02]


def test_in_utc_the_late_job_falls_on_the_day_before() -> None:
    usage = daily_usage(ROWS, first_day=dt.date(2026, 12, 1), days=3, timezone="UTC")
    assert usage.credits["google/imagen-4.0-fast-generate-001"] == (0, 0, 1)


def test_png_decodes_is_opaque_and_names_its_days_and_models() -> None:
    usage = daily_usage(ROWS, first_day=dt.date(2026, 12, 1), days=3, timezone="Europe/Berlin")
    data = render_png(usage, LABELS)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.size == (900, 450)
        described = json.loads(image.text["Description"])
        rgba = image.convert("RGBA")
    assert described["days"] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert described["models"] == [
        "google/imagen-4.0-ultra-generate-001",
        "google/imagen-4.0-fast-generate-001",
    ]
    alpha = rgba.getchannel("A")
    assert alpha.getextrema() == (255, 255), "a transparent chart vanishes in one of the themes"
    colours = {colour for _, colour in rgba.getcolors(maxcolors=1 << 20) or []}
    assert len(colours) > 20, "the chart drew nothing"


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_text_contrast_meets_wcag_aaa() -> None:
    light, dark = sorted((_luminance(FOREGROUND), _luminance(BACKGROUND)), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 7.0


def test_an_empty_window_still_draws() -> None:
    usage = daily_usage([], first_day=dt.date(2026, 12, 1), days=7, timezone="UTC")
    assert usage.models == ()
    with Image.open(io.BytesIO(render_png(usage, LABELS))) as image:
        assert image.format == "PNG"
