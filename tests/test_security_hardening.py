"""Security review fixes: image bombs, the health server's address, dependency floors and their
lock, buttons of jobs outside a server, stored error detail, and the Compose file's hardening.

Real pieces: PNG bombs built here byte by byte, the real bot against the fake Discord and the fake
AI/ML API on 127.0.0.1, real sockets, a real aiohttp error from a real request.
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import socket
import struct
import warnings
import zlib
from typing import Any

import pytest
from PIL import Image

from bot import images
from bot.api import AimlApiClient, GenerationRequest
from bot.catalogue import MODELS
from bot.config import ConfigError, load_settings
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


# -- 4. where /healthz and /metrics listen -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


async def reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_health_listens_on_loopback_only_by_default(stack: Stack) -> None:
    port = free_port()
    async with running_bot(stack, HEALTH_PORT=str(port)) as bot:
        assert bot.health is not None
        assert bot.health.host == "127.0.0.1"
        assert await reachable("127.0.0.1", port)
        outside = outside_address()
        if outside is not None:
            assert not await reachable(outside, port), f"/metrics answered on {outside}"


async def test_health_host_every_interface_is_honoured(stack: Stack) -> None:
    port = free_port()
    async with running_bot(stack, HEALTH_PORT=str(port), HEALTH_HOST="0.0.0.0") as bot:
        assert bot.health is not None
        assert bot.health.host == "0.0.0.0"
        outside = outside_address()
        if outside is not None:
            assert await reachable(outside, port)


BASE_ENV = {"DISCORD_TOKEN": "x.y.z", "AIMLAPI_KEY": "k"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), (" ::1 ", "::1"), ("::", "::")],
)
def test_health_host_setting(value: str | None, expected: str) -> None:
    env = dict(BASE_ENV) if value is None else {**BASE_ENV, "HEALTH_HOST": value}
    assert load_settings(env, env_file=None).health_host == expected


@pytest.mark.parametrize("value", ["localhost", "0.0.0.0:8080", "256.1.1.1", "eth0"])
def test_a_bad_health_host_is_named(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE_ENV, "HEALTH_HOST": value}, env_file=None)
    message = str(info.value)
    assert message.startswith("HEALTH_HOST is invalid") and "127.0.0.1" in message
    assert "\n" not in message
