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
import json
import re
import socket
import struct
import tomllib
import warnings
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from bot import images
from bot.api import AimlApiClient, GenerationRequest
from bot.catalogue import MODELS
from bot.config import ConfigError, load_settings
from bot.errors import ImageDownloadError
from bot.generation import ImagineRequest
from bot.options import ImagineOptions
from tests.fakes.aimlapi import FakeAimlApi, Fault
from tests.fakes.discord import FakeInteraction, FakeUser
from tests.harness import AIMLAPI_KEY, DISCORD_TOKEN, Stack, eventually, running_bot
from tests.messages_en import API_FAILURES
from tests.storage_sql import sql_rows

FAST = MODELS[0]
ROOT = Path(__file__).resolve().parent.parent


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
        assert message["content"] == "⚠️ " + API_FAILURES["download"]
        assert message["attachments"] == []
        rows = await sql_rows(bot.db, "SELECT id, state, error_class, credits_charged FROM jobs")
        assert [(r["state"], r["error_class"], r["credits_charged"]) for r in rows] == [
            ("failed", "download", 0)
        ]
        usage = await sql_rows(
            bot.db,
            "SELECT COALESCE(SUM(reserved), 0) AS r, COALESCE(SUM(charged), 0) AS c "
            "FROM budget_usage",
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


# -- 6. buttons name their job in a custom_id anyone can forge -----------------------------------

P_MANAGE_MESSAGES = 1 << 13
NOT_FOUND = "I can't find that generation any more."


async def result_of(it: FakeInteraction) -> dict[str, Any]:
    """The job's result message, once it carries its images."""

    def done() -> dict[str, Any] | None:
        message = it.original_message()
        return message if message is not None and message["attachments"] else None

    found: dict[str, Any] = await eventually(done, 30, f"the images of {it.id}")
    return found


def job_of(message: dict[str, Any]) -> int:
    return int(message["attachments"][0]["filename"].split("-")[1])


async def forged_click(
    stack: Stack,
    message: dict[str, Any],
    custom_id: str,
    user: FakeUser,
    member_permissions: int | None = None,
) -> str:
    """``user`` clicks ``custom_id`` on ``message``; the private answer, which must be a refusal.

    discord.py dispatches only a custom_id the clicked message carries, as Discord guarantees;
    a forged payload carries it in a forged copy of a message the clicker can see.
    """
    button = {"type": 2, "style": 1, "label": "x", "custom_id": custom_id}
    forged = {**message, "components": [{"type": 1, "components": [button]}]}
    dm = message.get("guild_id") is None
    it = stack.discord._new_interaction(
        3,
        {"custom_id": custom_id, "component_type": 2},
        user=user,
        guild_id=None if dm else int(message["guild_id"]),
        channel_id=int(message["channel_id"]),
        dm=dm,
        member_permissions=member_permissions,
        roles=None,
        message=forged,
    )
    await stack.discord._send_interaction(it)
    answer = await it.wait_response(15)
    assert answer.type == 4 and answer.data["flags"] & 64, answer
    assert answer.data["content"] == NOT_FOUND
    return json.dumps(answer.data)


async def test_forged_buttons_on_a_dm_job_reveal_nothing(stack: Stack) -> None:
    owner = stack.discord.add_user(FakeUser(1_300_000_000_000_000_001, "owner", "Owner"))
    prompt, seed = "a secret birthday card for mum", 987_654
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="50") as bot:
        theirs = await result_of(
            await stack.discord.slash(
                "imagine", {"prompt": prompt, "seed": seed}, user=owner, dm=True
            )
        )
        job = job_of(theirs)
        assert (await bot.db.jobs.get_job(job)).guild_id is None  # type: ignore[union-attr]

        # Someone else, on a message of their own, in their DMs and in a server where they hold
        # Manage Messages, clicks buttons whose custom_id names that job.
        attacker = stack.discord.member
        in_dm = await result_of(
            await stack.discord.slash("imagine", {"prompt": "mine"}, user=attacker.user, dm=True)
        )
        in_server = await result_of(
            await stack.discord.slash("imagine", {"prompt": "mine too"}, user=attacker)
        )
        calls = len(stack.api.requests)
        for message, perms in ((in_dm, None), (in_server, P_MANAGE_MESSAGES)):
            for action in ("details", "edit", "reroll", "delete"):
                custom_id = f"imagen:{action}:{job}"
                text = await forged_click(stack, message, custom_id, attacker.user, perms)
                assert "birthday" not in text and str(seed) not in text
        assert len(stack.api.requests) == calls, "a forged Reroll ran a job"
        assert stack.discord.get_message(int(in_dm["id"])) is not None
        assert stack.discord.get_message(int(in_server["id"])) is not None

        # The requester's own click works.
        details = await stack.discord.click(theirs["id"], f"imagen:details:{job}", user=owner)
        text = json.dumps((await details.wait_response(15)).data)
        assert "birthday" in text and str(seed) in text


async def test_a_forged_button_on_a_server_job_is_refused_but_its_own_message_works(
    stack: Stack,
) -> None:
    async with running_bot(stack, DEFAULT_DAILY_CREDITS="50"):
        owner, other = stack.discord.member, stack.discord.admin
        theirs = await result_of(
            await stack.discord.slash("imagine", {"prompt": "a lantern festival"}, user=owner)
        )
        job = job_of(theirs)
        mine = await result_of(
            await stack.discord.slash("imagine", {"prompt": "a kite"}, user=other)
        )
        text = await forged_click(stack, mine, f"imagen:details:{job}", other.user)
        assert "lantern" not in text
        # On the job's own message anyone in the channel may look: the message shows it anyway.
        shared = await stack.discord.click(theirs["id"], f"imagen:details:{job}", user=other)
        assert "lantern" in json.dumps((await shared.wait_response(15)).data)


# -- 7. the error detail stored on a job ---------------------------------------------------------


async def test_a_failed_jobs_stored_detail_holds_no_header_or_key(stack: Stack) -> None:
    """An aiohttp response error's repr carries its request's headers, Authorization included."""
    async with running_bot(stack) as bot:
        service = bot.services.generation
        job = await service.prepare(
            ImagineRequest(
                user_id=stack.discord.user.id,
                guild_id=None,
                channel_id=None,
                options=ImagineOptions(prompt="x"),
            )
        )
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {AIMLAPI_KEY}"}
            async with session.get(stack.api.base_url + "/v1/nothing", headers=headers) as resp:
                with pytest.raises(aiohttp.ClientResponseError) as info:
                    resp.raise_for_status()
        assert AIMLAPI_KEY in repr(info.value)  # what used to be stored
        assert await service.fail(job, info.value)
        row = await bot.db.jobs.get_job(job.job_id)
        assert row is not None and row.state == "failed"
        assert row.error_class == "ClientResponseError"
        assert row.error_detail is not None
        for secret in (AIMLAPI_KEY, "Bearer", "Authorization", "headers"):
            assert secret not in row.error_detail


async def settled_row(bot: Any, timeout: float = 30.0) -> Any:
    async def check() -> Any:
        rows = await sql_rows(bot.db, "SELECT * FROM jobs ORDER BY id DESC LIMIT 1")
        return rows[0] if rows and rows[0]["state"] not in ("queued", "running") else None

    deadline = asyncio.get_running_loop().time() + timeout
    while (row := await check()) is None:
        assert asyncio.get_running_loop().time() < deadline, "the job never settled"
        await asyncio.sleep(0.05)
    return row


@pytest.mark.parametrize("where", ["followup", "channel"])
async def test_a_failed_delivery_stores_no_request_of_discords(stack: Stack, where: str) -> None:
    """Posting the images ends in aiohttp's TooManyRedirects, whose repr holds the request: the
    interaction token in its URL, and for a channel post the bot token in its headers."""
    original = r"/webhooks/\d+/[^/]+/messages/@original"
    if where == "followup":
        loop = {"Location": "/api/v10/webhooks/1/loop/messages/@original"}
        stack.discord.inject("PATCH", original, 307, times=None, headers=loop)
    else:
        loop = {"Location": "/api/v10/channels/1/messages"}
        stack.discord.inject("PATCH", original, 404, times=None)
        stack.discord.inject("POST", r"/channels/\d+/messages", 307, times=None, headers=loop)
    async with running_bot(stack) as bot:
        it = await stack.discord.slash("imagine", {"prompt": "a paper boat"})
        row = await settled_row(bot)
        assert (row["state"], row["error_class"]) == ("failed", "delivery")
        detail = row["error_detail"]
        assert "TooManyRedirects" in detail
        for secret in (it.token, DISCORD_TOKEN, "headers", "Authorization"):
            assert secret not in detail, detail


# -- 5. dependency floors and the lock the container installs from -------------------------------


def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def requirements(key: str) -> dict[str, Requirement]:
    table = project()
    found = table["project"]["dependencies"] if key == "project" else table[key]["requires"]
    return {canonicalize_name(r.name): r for r in map(Requirement, found)}


def locked() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock as name -> (pinned version, sha256 hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if pin:
            name = canonicalize_name(pin[1])
            pins[name] = (pin[2], [])
        elif (digest := re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})\s*\\?", line)) and name:
            pins[name][1].append(digest[1])
        else:
            assert not line.strip() or line.lstrip().startswith("#"), f"unpinned: {line!r}"
    return pins


@pytest.mark.parametrize(
    ("name", "vulnerable", "fixed"),
    [
        ("aiohttp", "3.13.2", "3.13.3"),  # CVE-2025-69223: compressed-body bomb
        ("pillow", "10.0.0", "12.1.1"),  # CVE-2023-4863 (libwebp), then CVE-2026-25990 (PSD)
        ("pillow", "12.1.0", "12.1.1"),
    ],
)
def test_floors_exclude_releases_with_known_advisories(
    name: str, vulnerable: str, fixed: str
) -> None:
    specifier = requirements("project")[name].specifier
    assert not specifier.contains(vulnerable)
    assert specifier.contains(fixed)
    assert locked()[name][0] not in ("", vulnerable)


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    pins = locked()
    wanted = {**requirements("project"), **requirements("build-system")}
    for name, requirement in wanted.items():
        assert name in pins, f"{name} is not in requirements.lock"
        version, _ = pins[name]
        assert requirement.specifier.contains(version), f"{name}=={version} vs {requirement}"
    for name, (_, hashes) in pins.items():
        assert hashes, f"{name} has no hash"


def test_the_container_installs_from_the_lock_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert "pip install --require-hashes --only-binary :all: -r requirements.lock" in dockerfile
    installs = re.findall(r"pip install [^\n]*", dockerfile)
    assert all("--require-hashes" in i or "--no-deps" in i for i in installs), installs
    assert "!requirements.lock" in (ROOT / ".dockerignore").read_text().splitlines()


# -- 8. the Compose service's hardening ----------------------------------------------------------


def compose_service() -> dict[str, Any]:
    with (ROOT / "docker-compose.yml").open() as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    assert list(services) == ["imagen-bot"]
    service: dict[str, Any] = services["imagen-bot"]
    return service


def test_compose_runs_the_bot_read_only_without_privileges() -> None:
    service = compose_service()
    assert service["read_only"] is True
    tmpfs = service["tmpfs"]
    mounts = [tmpfs] if isinstance(tmpfs, str) else tmpfs
    assert "/tmp" in [m.split(":")[0] for m in mounts]
    assert service["cap_drop"] == ["ALL"]
    assert not service.get("cap_add") and not service.get("privileged")
    assert "no-new-privileges:true" in service["security_opt"]
    # Its only other writable place is the data volume, where the database lives.
    assert service["volumes"] == ["imagen-data:/data"]
    assert service["environment"]["DATABASE_PATH"].startswith("/data/")


def test_compose_publishes_health_on_the_hosts_loopback_only() -> None:
    service = compose_service()
    assert service["ports"] == ["127.0.0.1:8080:8080"]
    env = service["environment"]
    assert (env["HEALTH_HOST"], env["HEALTH_PORT"]) == ("0.0.0.0", "8080")
