"""Security review fixes: image bombs, the health server's address, dependency floors and their
lock, buttons of jobs outside a server, stored error detail, and the Compose file's hardening.

Real pieces: PNG bombs built here byte by byte, the real bot against the fake Discord and the fake
AI/ML API on 127.0.0.1, real sockets, a real aiohttp error from a real request.
"""

from __future__ import annotations

import base64
import io
import struct
import warnings
import zlib
from typing import Any

import pytest
from PIL import Image

from bot import images
from bot.api import AimlApiClient, GenerationRequest
from bot.catalogue import MODELS
from bot.errors import ImageDownloadError
from tests.fakes.aimlapi import FakeAimlApi, Fault
from tests.harness import Stack, eventually, running_bot

FAST = MODELS[0]


# -- 3. image bombs ------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int | None = None) -> bytes:
    """A black 1-bit greyscale PNG: a few KiB on the wire, width x height pixels once decoded."""
    height = width if height is None else height
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def test_a_bomb_past_pillows_warning_is_refused_from_its_header() -> None:
    """12000 x 12000 is past Pillow's warning threshold but under its error threshold."""
    bomb = png_bomb(12_000)
    assert len(bomb) < 64 * 1024
    with pytest.raises(ImageDownloadError) as info:
        images.dimensions(bomb)
    assert "DecompressionBombWarning" in info.value.detail


def test_an_image_over_the_pixel_cap_is_refused_though_pillow_would_take_it() -> None:
    side = int(images.MAX_PIXELS**0.5) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow itself has nothing to say about this size
        with pytest.raises(ImageDownloadError) as info:
            images.dimensions(png_bomb(side))
    assert f"{side}x{side} is over the {images.MAX_PIXELS}-pixel cap" in info.value.detail
    # The largest image Imagen makes is well inside the cap.
    assert images.dimensions(png_bomb(2816, 1536)) == (2816, 1536)


def test_fit_to_limit_refuses_a_bomb_instead_of_decoding_it() -> None:
    bomb = png_bomb(6000)
    with pytest.raises(ImageDownloadError) as info:
        images.fit_to_limit(bomb, len(bomb) // 2)
    assert "re-encode" in info.value.detail


def test_pillows_bomb_warning_is_an_error_inside_our_decoding_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With Pillow's threshold lowered under our cap, its warning alone must stop us."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = png_bomb(40)  # 1600 pixels: over 1000 (a warning), under 2000 (Pillow's error)
    filters = list(warnings.filters)
    for attempt in (lambda: images.dimensions(data), lambda: images.fit_to_limit(data, 10)):
        with pytest.raises(ImageDownloadError) as info:
            attempt()
        assert "DecompressionBombWarning" in info.value.detail
    assert warnings.filters == filters
    # Outside our code the warning stays a warning: no global state was changed.
    with pytest.warns(Image.DecompressionBombWarning), Image.open(io.BytesIO(data)) as img:
        assert img.size == (40, 40)


def _inline(data: bytes) -> Fault:
    return Fault(payload={"data": [{"b64_json": base64.b64encode(data).decode("ascii")}]})


async def test_a_bomb_from_the_api_is_dropped_by_the_client(
    fake: FakeAimlApi, client: AimlApiClient
) -> None:
    fake.inject(_inline(png_bomb(12_000)))
    with pytest.raises(ImageDownloadError):
        await client.generate(GenerationRequest(model=FAST, prompt="x"))


async def test_a_bomb_fails_the_job_with_a_refund_end_to_end(stack: Stack) -> None:
    async with running_bot(stack) as bot:
        stack.api.inject(_inline(png_bomb(12_000)))
        it = await stack.discord.slash("imagine", {"prompt": "a quiet harbour"})

        def told() -> dict[str, Any] | None:
            message = it.original_message()
            return message if message is not None and message["content"] else None

        message = await eventually(told, 30, "the failure message")
        assert message["content"] == "⚠️ " + ImageDownloadError.default_message
        assert message["attachments"] == []
        rows = await bot.db._fetchall("SELECT id, state, error_class, credits_charged FROM jobs")
        assert [(r["state"], r["error_class"], r["credits_charged"]) for r in rows] == [
            ("failed", "download", 0)
        ]
        usage = await bot.db._fetchall(
            "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c "
            "FROM budget_usage"
        )
        assert (usage[0]["r"], usage[0]["c"]) == (0, 0)
        # Served normally afterwards.
        after = await stack.discord.slash("imagine", {"prompt": "a quiet harbour"})
        done = await eventually(
            lambda: (m := after.original_message()) and m["attachments"], 30, "the next images"
        )
        assert len(done) == 1
