"""Image downloads are capped, checked and kept off private networks; images re-encode to fit.

Refused addresses are never connected to: a trace on the session records every connection the
client starts, and the tests assert it only ever reached the fake on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from yarl import URL

from bot import images
from bot.api import AimlApiClient, GenerationRequest
from bot.api.download import address_allowed
from bot.catalogue import MODELS
from bot.errors import ImageDownloadError, MalformedResponseError
from tests.fakes.aimlapi import FakeAimlApi, Fault
from tests.harness import AIMLAPI_KEY

KEY = AIMLAPI_KEY
CAP = 200_000
FAST = MODELS[0]


class ConnectionLog:
    """Every request the session starts, by URL: proof that refused hosts were not contacted."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._on_start)

    async def _on_start(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.urls.append(str(params.url))

    def hosts(self) -> set[str | None]:
        return {URL(u).host for u in self.urls}


@pytest.fixture
def connections() -> ConnectionLog:
    return ConnectionLog()


@pytest.fixture
async def session(connections: ConnectionLog) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[connections.trace]) as s:
        yield s


def make_client(
    session: aiohttp.ClientSession, fake: FakeAimlApi, *, allow_private: bool
) -> AimlApiClient:
    return AimlApiClient(
        session,
        base_url=fake.base_url,
        api_key=KEY,
        timeout_s=5,
        image_max_bytes=CAP,
        allow_private_hosts=allow_private,
    )


@pytest.fixture
def local(session: aiohttp.ClientSession, fake: FakeAimlApi) -> AimlApiClient:
    """A client allowed to fetch from the fake (http on 127.0.0.1), as in local tests."""
    return make_client(session, fake, allow_private=True)


@pytest.fixture
def strict(session: aiohttp.ClientSession, fake: FakeAimlApi) -> AimlApiClient:
    """A client as in production: public https hosts only."""
    return make_client(session, fake, allow_private=False)


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (1, 2, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def noisy_png(side: int) -> bytes:
    """A photo-like worst case for compression: random pixels over a gradient."""
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    gradient = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    buf = io.BytesIO()
    Image.blend(gradient, noise, 0.35).save(buf, "PNG")
    return buf.getvalue()


# -- downloads from the fake ---------------------------------------------------------------------


async def test_download_allowed_with_allow_private_hosts(
    fake: FakeAimlApi, local: AimlApiClient, connections: ConnectionLog
) -> None:
    data = png_bytes()
    url = fake.add_file(data)
    assert await local.download_image(url) == data
    assert connections.hosts() == {"127.0.0.1"}


async def test_oversize_by_content_length_is_refused_before_reading(
    fake: FakeAimlApi, local: AimlApiClient
) -> None:
    url = fake.add_file(png_bytes(), fault="oversize", oversize_bytes=CAP + 1)
    with pytest.raises(ImageDownloadError) as info:
        await local.download_image(url)
    assert "declares" in info.value.detail


async def test_oversize_stream_without_length_is_aborted(
    fake: FakeAimlApi, local: AimlApiClient
) -> None:
    url = fake.add_file(png_bytes(), fault="oversize_chunked", oversize_bytes=50 * CAP)
    with pytest.raises(ImageDownloadError) as info:
        await local.download_image(url)
    assert "aborted" in info.value.detail


async def test_exactly_at_the_cap_is_fine(fake: FakeAimlApi, local: AimlApiClient) -> None:
    url = fake.add_file(png_bytes(), fault="oversize", oversize_bytes=CAP)
    assert len(await local.download_image(url)) == CAP


async def test_404(fake: FakeAimlApi, local: AimlApiClient) -> None:
    with pytest.raises(ImageDownloadError) as info:
        await local.download_image(fake.add_file(b"", fault="404"))
    assert "HTTP 404" in info.value.detail


async def test_not_an_image_through_generate(fake: FakeAimlApi, local: AimlApiClient) -> None:
    fake.inject(Fault(image_fault="not_image"))
    with pytest.raises(ImageDownloadError) as info:
        await local.generate(GenerationRequest(model=FAST, prompt="x"))
    assert "not an image" in info.value.detail
    assert "502" not in info.value.user_message


async def test_oversize_through_generate(fake: FakeAimlApi, local: AimlApiClient) -> None:
    fake.inject(Fault(image_fault="oversize_chunked", oversize_bytes=3 * CAP))
    with pytest.raises(ImageDownloadError):
        await local.generate(GenerationRequest(model=FAST, prompt="x"))


async def test_redirect_within_limit_is_followed(fake: FakeAimlApi, local: AimlApiClient) -> None:
    data = png_bytes(colour=(9, 9, 9))
    final = fake.add_file(data)
    middle = fake.add_file(b"", fault="redirect", redirect_to=final)
    first = fake.add_file(b"", fault="redirect", redirect_to=middle)
    assert await local.download_image(first) == data
    assert len(fake.file_requests) == 3


async def test_redirect_loop_stops_after_three(fake: FakeAimlApi, local: AimlApiClient) -> None:
    url = fake.add_file(b"", fault="redirect")  # redirects to itself forever
    with pytest.raises(ImageDownloadError) as info:
        await local.download_image(url)
    assert "redirects" in info.value.detail
    assert len(fake.file_requests) == 4  # the first request and three redirects


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "http://[fe80::1]/x.png",
        "http://0.0.0.0/x.png",
        "http://224.0.0.1/x.png",
        "http://[::ffff:169.254.169.254]/",
        "ftp://127.0.0.1/x.png",
    ],
)
async def test_redirect_to_forbidden_address_is_refused_without_connecting(
    fake: FakeAimlApi, local: AimlApiClient, connections: ConnectionLog, target: str
) -> None:
    """Even with allow_private_hosts (local tests), metadata and similar addresses are refused."""
    url = fake.add_file(b"", fault="redirect", redirect_to=target)
    with pytest.raises(ImageDownloadError) as info:
        await local.download_image(url)
    assert "refused" in info.value.detail
    assert connections.hosts() == {"127.0.0.1"}
    assert len(connections.urls) == 1


async def test_redirect_to_private_address_refused_through_generate(
    fake: FakeAimlApi, local: AimlApiClient, connections: ConnectionLog
) -> None:
    fake.inject(Fault(image_fault="redirect", redirect_to="http://169.254.169.254/x.png"))
    with pytest.raises(ImageDownloadError):
        await local.generate(GenerationRequest(model=FAST, prompt="x"))
    assert connections.hosts() == {"127.0.0.1"}


# -- the production policy (allow_private_hosts false) -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/x.png",
        "https://192.168.1.20/x.png",
        "https://172.16.0.5/x.png",
        "https://127.0.0.1/x.png",
        "https://localhost/x.png",
        "https://[::1]/x.png",
        "https://[fd00::1]/x.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/x.png",
        "https://0.0.0.0/x.png",
        "https://[::ffff:10.0.0.1]/x.png",
    ],
)
async def test_private_addresses_refused(
    strict: AimlApiClient, connections: ConnectionLog, url: str
) -> None:
    with pytest.raises(ImageDownloadError) as info:
        await strict.download_image(url)
    assert "refused" in info.value.detail
    assert connections.urls == []


async def test_the_fake_itself_is_refused_in_production_mode(
    fake: FakeAimlApi, strict: AimlApiClient, connections: ConnectionLog
) -> None:
    with pytest.raises(ImageDownloadError):
        await strict.download_image(fake.add_file(png_bytes()))
    assert connections.urls == []
    assert fake.file_requests == []


@pytest.mark.parametrize(
    "url", ["http://example.com/x.png", "http://93.184.215.14/x.png", "file:///etc/passwd"]
)
async def test_http_refused_when_not_allowed(
    strict: AimlApiClient, connections: ConnectionLog, url: str
) -> None:
    with pytest.raises(ImageDownloadError) as info:
        await strict.download_image(url)
    assert "scheme" in info.value.detail
    assert connections.urls == []


@pytest.mark.parametrize(
    ("address", "private_ok", "strict_ok"),
    [
        ("8.8.8.8", True, True),
        ("2606:4700:4700::1111", True, True),
        ("127.0.0.1", True, False),
        ("10.1.2.3", True, False),
        ("172.20.0.2", True, False),
        ("::1", True, False),
        ("169.254.169.254", False, False),
        ("fe80::1", False, False),
        ("0.0.0.0", False, False),
        ("0.1.2.3", False, False),
        ("::", False, False),
        ("224.0.0.1", False, False),
        ("ff02::1", False, False),
        ("240.0.0.1", False, False),
        ("::ffff:169.254.169.254", False, False),
        ("2002:a9fe:a9fe::1", False, False),  # 6to4 wrapping 169.254.169.254
    ],
)
def test_address_policy(address: str, private_ok: bool, strict_ok: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert address_allowed(ip, allow_private=True) is private_ok
    assert address_allowed(ip, allow_private=False) is strict_ok


# -- inline base64 -------------------------------------------------------------------------------


def test_base64_decodes_under_the_cap(local: AimlApiClient) -> None:
    data = png_bytes()
    assert local.decode_base64(base64.b64encode(data).decode()) == data
    assert local.decode_base64("data:image/png;base64," + base64.b64encode(data).decode()) == data


def test_base64_over_the_cap_is_refused(local: AimlApiClient) -> None:
    with pytest.raises(ImageDownloadError):
        local.decode_base64(base64.b64encode(bytes(CAP + 10)).decode())


def test_base64_garbage_is_malformed(local: AimlApiClient) -> None:
    with pytest.raises(MalformedResponseError):
        local.decode_base64("not base64 at all!")


async def test_oversize_inline_image_through_generate(
    fake: FakeAimlApi, local: AimlApiClient
) -> None:
    big = base64.b64encode(png_bytes() + bytes(CAP)).decode()
    fake.inject(Fault(payload={"data": [{"url": None, "b64_json": big}]}))
    with pytest.raises(ImageDownloadError):
        await local.generate(GenerationRequest(model=FAST, prompt="x"))


# -- bytes: sniffing, dimensions, re-encoding ----------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
def test_sniff_by_magic_bytes(fmt: str, mime: str, ext: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buf, fmt)
    kind = images.sniff(buf.getvalue())
    assert kind is not None
    assert (kind.mime_type, kind.extension) == (mime, ext)
    assert images.ensure_image(buf.getvalue()) == kind
    assert images.dimensions(buf.getvalue()) == (30, 20)


@pytest.mark.parametrize(
    "data", [b"", b"<html>502</html>", b"RIFF\x00\x00\x00\x00WAVE", b"\x89PNX", b"GIF90a"]
)
def test_not_images(data: bytes) -> None:
    assert images.sniff(data) is None
    with pytest.raises(ImageDownloadError):
        images.ensure_image(data)


def test_truncated_header_is_refused() -> None:
    with pytest.raises(ImageDownloadError):
        images.dimensions(b"\x89PNG\r\n\x1a\n\x00\x00")


def test_fit_leaves_small_images_alone() -> None:
    data = png_bytes()
    out, kind, reencoded = images.fit_to_limit(data, len(data))
    assert (out, kind, reencoded) == (data, images.PNG, False)


def test_fit_reencodes_to_a_valid_smaller_image() -> None:
    data = noisy_png(384)
    limit = len(data) // 2
    out, kind, reencoded = images.fit_to_limit(data, limit)
    assert reencoded is True
    assert len(out) <= limit
    assert kind in (images.WEBP, images.JPEG)
    assert images.sniff(out) == kind
    with Image.open(io.BytesIO(out)) as img:
        img.load()
        assert img.size == (384, 384)


def test_fit_downscales_when_quality_is_not_enough() -> None:
    data = noisy_png(256)
    limit = 12_000
    out, kind, reencoded = images.fit_to_limit(data, limit)
    assert reencoded is True
    assert len(out) <= limit
    assert kind == images.JPEG
    width, height = images.dimensions(out)
    assert width < 256
    assert width == height


def test_fit_keeps_transparency_in_webp() -> None:
    """An uncompressed PNG, half clear and half opaque red: WebP fits it easily, so the test
    always takes the WebP path and checks the alpha survived."""
    img = Image.new("RGBA", (192, 192), (0, 0, 0, 0))
    img.paste((220, 20, 60, 255), (96, 0, 192, 192))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    data = buf.getvalue()
    out, kind, reencoded = images.fit_to_limit(data, len(data) // 4)
    assert (kind, reencoded) == (images.WEBP, True)
    with Image.open(io.BytesIO(out)) as reopened:
        assert reopened.mode == "RGBA"
        rgba = reopened.convert("RGBA")
        assert rgba.getpixel((10, 100))[3] == 0  # type: ignore[index, unused-ignore]
        assert rgba.getpixel((180, 100))[3] == 255  # type: ignore[index, unused-ignore]


def test_fit_gives_up_on_an_impossible_limit() -> None:
    with pytest.raises(ImageDownloadError):
        images.fit_to_limit(noisy_png(128), 50)


def test_fit_refuses_non_images() -> None:
    with pytest.raises(ImageDownloadError):
        images.fit_to_limit(b"<html>" * 100, 10)


# -- https: the connection goes to the checked address, TLS still checks the name ----------------


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for "localhost" (skips where openssl is missing)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
async def tls_server(tls_pair: tuple[Path, Path]) -> AsyncIterator[tuple[int, list[str]]]:
    """An https image host on 127.0.0.1; yields its port and the Host headers it saw."""
    cert, key = tls_pair
    hosts: list[str] = []
    data = png_bytes(colour=(5, 6, 7))

    async def image(request: web.Request) -> web.Response:
        hosts.append(request.host)
        return web.Response(body=data, content_type="image/png")

    app = web.Application()
    app.router.add_get("/x.png", image)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        yield int(runner.addresses[0][1]), hosts
    finally:
        await runner.cleanup()


@pytest.fixture
async def tls_client(
    tls_pair: tuple[Path, Path], fake: FakeAimlApi
) -> AsyncIterator[AimlApiClient]:
    ctx = ssl.create_default_context(cafile=str(tls_pair[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        yield make_client(session, fake, allow_private=True)


@pytest.mark.ci_required
async def test_https_by_name_connects_to_the_checked_address(
    tls_server: tuple[int, list[str]], tls_client: AimlApiClient
) -> None:
    port, hosts = tls_server
    data = await tls_client.download_image(f"https://localhost:{port}/x.png?token=abc")
    assert images.sniff(data) == images.PNG
    assert hosts == [f"localhost:{port}"]  # the Host header keeps the name


@pytest.mark.ci_required
async def test_https_certificate_is_still_verified(
    tls_server: tuple[int, list[str]], tls_client: AimlApiClient
) -> None:
    """The certificate names localhost, not 127.0.0.1: pinning the address kept verification on."""
    port, hosts = tls_server
    with pytest.raises(ImageDownloadError) as info:
        await tls_client.download_image(f"https://127.0.0.1:{port}/x.png")
    assert "ClientConnectorCertificateError" in info.value.detail or "SSL" in info.value.detail
    assert hosts == []


async def test_generated_image_fitted_to_an_attachment_cap(
    fake: FakeAimlApi, local: AimlApiClient
) -> None:
    url = fake.add_file(noisy_png(200))  # under the download cap
    fake.inject(Fault(payload={"data": [{"url": url}]}))
    result = await local.generate(GenerationRequest(model=FAST, prompt="x"))
    image = result.images[0]
    assert image.reencoded is False
    assert image.fitted(image.size) is image
    small = await asyncio.to_thread(image.fitted, image.size // 3)
    assert small.reencoded is True
    assert small.size <= image.size // 3
    assert images.sniff(small.data) is not None
    assert (small.mime_type, small.extension) in (("image/webp", "webp"), ("image/jpeg", "jpg"))
    assert (small.width, small.height) == images.dimensions(small.data)


def test_pillow_is_not_loaded_until_the_first_image() -> None:
    """Importing the bot and every extension leaves Pillow out (2.2 MiB of memory at ready);
    the first image loads it."""
    script = (
        "import importlib, sys\n"
        "import bot.__main__, bot.client\n"
        "for name in bot.client.EXTENSIONS: importlib.import_module(name)\n"
        "assert 'PIL' not in sys.modules, 'Pillow loaded at start-up'\n"
        "from bot import images\n"
        "images.dimensions(bytes.fromhex(sys.argv[1]))\n"
        "assert 'PIL' in sys.modules\n"
    )
    buf = io.BytesIO()
    Image.new("RGB", (3, 2)).save(buf, "PNG")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script, buf.getvalue().hex()],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
