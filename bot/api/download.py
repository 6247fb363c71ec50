"""The safe download: an answer's images fetched or decoded under a size cap, and checked as images.

Image URLs come from a third party's answer, so downloads refuse anything but public https hosts
(checked for every address and every redirect hop, before connecting) unless ``allow_private`` is
set for local tests. The bytes must then be a real image within the pixel cap (``bot.images``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from yarl import URL

from bot import images
from bot.api.response import ImageRef, malformed
from bot.errors import ApiError, ImageDownloadError

log = logging.getLogger(__name__)

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS: Final = 3
_CHUNK: Final = 64 * 1024
_ALWAYS_BLOCKED_V4: Final = ipaddress.ip_network("0.0.0.0/8")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """A downloaded image; format and size come from its bytes, not from what the API said."""

    data: bytes = field(repr=False)
    mime_type: str
    extension: str
    width: int
    height: int
    reencoded: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def fitted(self, limit_bytes: int) -> GeneratedImage:
        """This image re-encoded to fit an attachment cap, or itself when it fits already.

        CPU-bound (Pillow): call it through ``asyncio.to_thread`` from async code.
        """
        data, kind, reencoded = images.fit_to_limit(self.data, limit_bytes)
        if not reencoded:
            return self
        width, height = images.dimensions(data)
        return GeneratedImage(data, kind.mime_type, kind.extension, width, height, reencoded=True)


def address_allowed(ip: IPAddress, *, allow_private: bool) -> bool:
    """Whether an image may be fetched from ``ip``.

    Link-local (cloud metadata), multicast, reserved and unspecified addresses are refused even
    with ``allow_private``: no local test needs them and they are what an attacker aims at.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_allowed(ip.ipv4_mapped, allow_private=allow_private)
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_allowed(embedded, allow_private=allow_private):
            return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _ALWAYS_BLOCKED_V4:
        return False
    if ip.is_loopback:
        return allow_private
    if ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if ip.is_private or not ip.is_global:
        return allow_private
    return True


def _safe_url(url: URL) -> str:
    """A URL fit for logs: no query (signed CDN URLs carry tokens there), no credentials."""
    bare = url.with_query(None).with_fragment(None)
    return str(bare.with_user(None)) if bare.host else f"{url.scheme}:{url.path}"


async def read_capped(
    resp: aiohttp.ClientResponse, cap: int, error: type[ApiError], what: str
) -> bytes:
    """Read a body, aborting once it passes ``cap`` bytes (the connection is then dropped)."""
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise error(detail=f"{what} body passed {cap} bytes; aborted")
    return bytes(buf)


class ImageFetcher:
    """Gets one answer's images through the process's session, each under ``image_max_bytes``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float,
        image_max_bytes: int,
        allow_private: bool,
    ) -> None:
        self._session = session
        self._timeout_s = timeout_s
        self._image_max_bytes = image_max_bytes
        self._allow_private = allow_private

    async def fetch_all(self, refs: tuple[ImageRef, ...]) -> list[GeneratedImage]:
        """Fetch a job's images concurrently; deliver those that arrive, fail only if none do."""
        tasks = [asyncio.create_task(self._fetch(ref)) for ref in refs]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        fetched: list[GeneratedImage] = []
        failures: list[ApiError] = []
        for result in results:
            if isinstance(result, GeneratedImage):
                fetched.append(result)
            elif isinstance(result, ApiError):
                failures.append(result)
            else:
                raise result
        for failure in failures:
            log.warning("image dropped: %s: %s", failure.error_class, failure.detail)
        if not fetched:
            raise failures[0]
        return fetched

    async def _fetch(self, ref: ImageRef) -> GeneratedImage:
        if ref.b64 is not None:
            data = self.decode_base64(ref.b64)
        elif ref.url is not None:
            data = await self.download_image(ref.url)
        else:  # parse_response never yields this
            raise malformed("image reference without url or base64")
        kind = images.ensure_image(data)
        width, height = images.dimensions(data)
        if ref.mime_type and ref.mime_type != kind.mime_type:
            log.debug("API said %s, bytes are %s", ref.mime_type, kind.mime_type)
        return GeneratedImage(data, kind.mime_type, kind.extension, width, height)

    def decode_base64(self, text: str) -> bytes:
        """Decode an inline image under the same size cap as a download."""
        if text.startswith("data:"):
            text = text.partition(",")[2]
        text = "".join(text.split())
        if len(text) // 4 * 3 > self._image_max_bytes + 2:
            raise ImageDownloadError(
                detail=f"inline image of ~{len(text) // 4 * 3} bytes over {self._image_max_bytes}"
            )
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise malformed(f"image base64 does not decode: {exc}") from exc
        if len(data) > self._image_max_bytes:
            raise ImageDownloadError(
                detail=f"inline image of {len(data)} bytes over {self._image_max_bytes}"
            )
        return data

    async def download_image(self, url: str) -> bytes:
        """Fetch an image URL safely: checked addresses only, redirects followed by hand, capped."""
        current = URL(url)
        for _hop in range(MAX_REDIRECTS + 1):
            target, host_header, server_hostname = await self._checked_target(current)
            try:
                async with self._session.get(
                    target,
                    headers={"Host": host_header, "Accept": "image/*"},
                    server_hostname=server_hostname,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                ) as resp:
                    if resp.status in REDIRECT_STATUSES:
                        location = resp.headers.get("Location")
                        if not location:
                            raise ImageDownloadError(
                                detail=f"redirect without Location from {_safe_url(current)}"
                            )
                        try:
                            current = current.join(URL(location))
                        except ValueError as exc:
                            raise ImageDownloadError(
                                detail=f"unreadable redirect from {_safe_url(current)}"
                            ) from exc
                        log.debug("image redirected to %s", _safe_url(current))
                        continue
                    if resp.status != 200:
                        raise ImageDownloadError(
                            detail=f"HTTP {resp.status} for image {_safe_url(current)}"
                        )
                    declared = resp.content_length
                    if declared is not None and declared > self._image_max_bytes:
                        raise ImageDownloadError(
                            detail=f"image declares {declared} bytes, over {self._image_max_bytes}"
                        )
                    return await read_capped(
                        resp, self._image_max_bytes, ImageDownloadError, "image"
                    )
            except TimeoutError as exc:
                raise ImageDownloadError(
                    detail=f"image download timed out: {_safe_url(current)}"
                ) from exc
            except aiohttp.ClientError as exc:
                raise ImageDownloadError(
                    detail=f"image download failed: {type(exc).__name__} for {_safe_url(current)}"
                ) from exc
        raise ImageDownloadError(detail=f"more than {MAX_REDIRECTS} redirects for an image")

    async def _checked_target(self, url: URL) -> tuple[URL, str, str | None]:
        """Resolve and check ``url``'s host; the URL to connect to, its Host header and TLS name.

        The request goes to a checked IP address, so DNS cannot change its answer between the
        check and the connection.
        """
        shown = _safe_url(url)
        allowed_schemes = ("https", "http") if self._allow_private else ("https",)
        if url.scheme not in allowed_schemes:
            raise ImageDownloadError(detail=f"refused image URL scheme {url.scheme!r}: {shown}")
        host = url.raw_host
        if not host:
            raise ImageDownloadError(detail=f"image URL without a host: {shown}")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal: IPAddress | None
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            addresses = await self._resolve(host, port)
        refused = [
            str(ip)
            for ip in addresses
            if not address_allowed(ip, allow_private=self._allow_private)
        ]
        if refused:
            raise ImageDownloadError(
                detail=f"refused image host {host} ({', '.join(refused)} is not public): {shown}"
            )
        chosen = addresses[0]
        authority = f"[{host}]" if isinstance(literal, ipaddress.IPv6Address) else host
        if not url.is_default_port():
            authority = f"{authority}:{port}"
        target = url.with_user(None).with_host(str(chosen)).with_port(port)
        server_hostname = host if url.scheme == "https" and literal is None else None
        return target, authority, server_hostname

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise ImageDownloadError(detail=f"cannot resolve image host {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise ImageDownloadError(detail=f"image host {host} has no address")
        return addresses
