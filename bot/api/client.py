"""The AI/ML API client: build the request, call it with bounded retries, parse, fetch the images.

Every failure leaves as a typed ``ApiError`` whose ``user_message`` is ours; upstream text goes only
into ``detail`` (truncated, key redacted) for the logs. Image URLs come from a third party's answer,
so downloads refuse anything but public https hosts (checked for every address and every redirect
hop, before connecting) unless ``allow_private_hosts`` is set for local tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import aiohttp
from yarl import URL

from bot import images
from bot.api.request import GenerationRequest, build_body
from bot.catalogue import (
    API_CREDITS_PER_USD,
    MAX_IMAGES,
    MODELS,
    ModelSpec,
)
from bot.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    GenerationTimeoutError,
    ImageDownloadError,
    MalformedResponseError,
    ModelUnavailableError,
    NoImagesError,
    OutOfCreditsError,
    RateLimitedError,
    SafetyBlockedError,
    UpstreamError,
)

log = logging.getLogger(__name__)

GENERATIONS_PATH: Final = "/v1/images/generations"
SUCCESS_STATUSES: Final = frozenset({200, 201})  # 200 in the OpenAPI files, 201 in the seeds
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS: Final = 3
DETAIL_MAX: Final = 300  # characters of upstream text kept in an error's detail
ERROR_BODY_MAX: Final = 64 * 1024
VERIFY_TIMEOUT_S: Final = 30.0
_CHUNK: Final = 64 * 1024
_SAFETY_WORDS: Final = (
    "safety",
    "blocked",
    "responsible ai",
    "prohibited",
    "content policy",
    "moderation",
)
_ALWAYS_BLOCKED_V4: Final = ipaddress.ip_network("0.0.0.0/8")

Sleep = Callable[[float], Awaitable[None]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- results -------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationResult:
    """What one job got: fewer images than ``requested`` means the caller refunds the difference."""

    images: tuple[GeneratedImage, ...]
    enhanced_prompt: str | None
    api_credits: float | None
    usd: float | None
    inference_id: str | None
    seed: int | None
    requested: int
    attempts: int

    @property
    def missing(self) -> int:
        return max(0, self.requested - len(self.images))


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where one image of an answer is: a URL or inline base64."""

    url: str | None = None
    b64: str | None = field(default=None, repr=False)
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    images: tuple[ImageRef, ...]
    enhanced_prompt: str | None = None
    api_credits: float | None = None
    usd: float | None = None
    inference_id: str | None = None
    seed: int | None = None


# -- parsing -------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        log.warning("ignoring unreadable %s header %r", name, raw[:40])
        return None


def _malformed(why: str) -> MalformedResponseError:
    return MalformedResponseError(detail=why[:DETAIL_MAX])


def _opt_str(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _malformed(f"{where}.{key} is {type(value).__name__}, not a string")
    return value


def _items(value: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise _malformed(f"{where} is {type(value).__name__}, not a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _malformed(f"{where}[{i}] is {type(item).__name__}, not an object")
    return value


def _refs_from_data(value: object) -> tuple[list[ImageRef], str | None]:
    refs: list[ImageRef] = []
    enhanced: str | None = None
    for i, item in enumerate(_items(value, "data")):
        where = f"data[{i}]"
        ref = ImageRef(
            url=_opt_str(item, "url", where),
            b64=_opt_str(item, "b64_json", where),
            mime_type=_opt_str(item, "mime_type", where),
        )
        if enhanced is None and isinstance(item.get("prompt"), str) and item["prompt"]:
            enhanced = item["prompt"]
        if ref.url is None and ref.b64 is None:
            log.warning("%s has neither url nor b64_json; skipped", where)
            continue
        refs.append(ref)
    return refs, enhanced


def _refs_from_images(value: object) -> list[ImageRef]:
    refs = []
    for i, item in enumerate(_items(value, "images")):
        where = f"images[{i}]"
        url = _opt_str(item, "url", where)
        if url is None:
            log.warning("%s has no url; skipped", where)
            continue
        refs.append(
            ImageRef(
                url=url,
                mime_type=_opt_str(item, "content_type", where),
                file_name=_opt_str(item, "file_name", where),
            )
        )
    return refs


def _refs_from_output(value: object) -> list[ImageRef]:
    if not isinstance(value, dict):
        raise _malformed(f"output is {type(value).__name__}, not an object")
    choices = value.get("choices")
    if choices is None:
        return []
    refs = []
    for i, item in enumerate(_items(choices, "output.choices")):
        b64 = _opt_str(item, "image_base64", f"output.choices[{i}]")
        if b64 is None:
            log.warning("output.choices[%d] has no image_base64; skipped", i)
            continue
        refs.append(ImageRef(b64=b64))
    return refs


def parse_response(payload: object, headers: Mapping[str, str]) -> ParsedResponse:
    """Read any documented answer shape into one form; pure, so every shape is tested directly.

    Shapes: ``data[]`` (url or b64_json, optional mime_type and prompt = the enhanced prompt),
    ``images[]`` (url, content_type, file_name; plus ``seed``), ``output.choices[].image_base64``.
    Usage: ``meta.usage.credits_used``, ``meta.usage.tokens_used``, else the
    ``x-aimlapi-credits-used`` header; USD from ``x-aimlapi-usd-spent``, else credits / 2,000,000.
    """
    if not isinstance(payload, dict):
        raise _malformed(f"answer is {type(payload).__name__}, not an object")
    present = [key for key in ("data", "images", "output") if key in payload]
    if not present:
        raise _malformed(f"unknown answer shape; keys {sorted(payload)[:10]}")
    refs: list[ImageRef] = []
    enhanced: str | None = None
    for key in present:
        value = payload[key]
        if value is None:
            continue
        if key == "data":
            refs, enhanced = _refs_from_data(value)
        elif key == "images":
            refs = _refs_from_images(value)
        else:
            refs = _refs_from_output(value)
        break
    if not refs:
        raise NoImagesError(detail=f"answer has no images ({', '.join(present)} empty or null)")

    lowered = {k.lower(): v for k, v in headers.items()}
    credits: float | None = None
    usd: float | None = None
    meta = payload.get("meta")
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if isinstance(usage, dict):
        credits = _number(usage.get("credits_used"))
        if credits is None:
            credits = _number(usage.get("tokens_used"))
        usd = _number(usage.get("usd_spent"))
    if credits is None:
        credits = _header_number(lowered, "x-aimlapi-credits-used")
    header_usd = _header_number(lowered, "x-aimlapi-usd-spent")
    if header_usd is not None:
        usd = header_usd
    if usd is None and credits is not None:
        usd = credits / API_CREDITS_PER_USD
    seed = payload.get("seed")
    return ParsedResponse(
        images=tuple(refs),
        enhanced_prompt=enhanced,
        api_credits=credits,
        usd=usd,
        inference_id=lowered.get("x-inference-id") or None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )


# -- errors --------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        log.warning("ignoring unreadable Retry-After %r", value[:40])
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _upstream_message(text: str) -> str:
    """The API's error message when its body is the documented JSON, else the raw text."""
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        if message:
            request_id = body.get("requestId")
            return f"{message} (requestId {request_id})" if request_id else str(message)
    return text


def _retryable(exc: ApiError) -> bool:
    """429 and 5xx (504 included: the next try may finish in time), and failed connections."""
    if exc.status is None:
        return isinstance(exc, UpstreamError)
    return exc.status in RETRY_STATUSES or exc.status >= 500


def _is_safety(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _SAFETY_WORDS)


# -- addresses -----------------------------------------------------------------------------------


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


# -- the client ----------------------------------------------------------------------------------


class AimlApiClient:
    """Talks to ``POST /v1/images/generations`` through the process's one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        timeout_s: float,
        image_max_bytes: int,
        allow_private_hosts: bool,
        max_attempts: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._image_max_bytes = image_max_bytes
        self._allow_private = allow_private_hosts
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"AimlApiClient(base_url={self._base_url!r}, api_key='********')"

    @property
    def _endpoint(self) -> str:
        return f"{self._base_url}{GENERATIONS_PATH}"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "********")
        return text[:DETAIL_MAX]

    def _redacted(self, exc: ApiError) -> ApiError:
        """``exc`` with the key masked in its detail (and so in its message)."""
        if not self._api_key or self._api_key not in exc.detail:
            return exc
        return type(exc)(
            exc.user_message,
            detail=self._redact(exc.detail),
            status=exc.status,
            retry_after=exc.retry_after,
        )

    # -- generation ------------------------------------------------------------------------------

    async def generate(self, req: GenerationRequest) -> GenerationResult:
        """Generate, retrying 429/5xx with backoff, then fetch every image and check its bytes."""
        body = build_body(req)
        payload, headers, attempts = await self._post_with_retries(body, req.model)
        try:
            parsed = parse_response(payload, headers)
        except ApiError as exc:
            # parse_response is pure and knows no key; an answer can still echo it back.
            raise self._redacted(exc) from None
        refs = parsed.images
        if len(refs) > req.count:
            log.warning("asked for %d images, got %d; keeping %d", req.count, len(refs), req.count)
            refs = refs[: req.count]
        fetched = await self._fetch_all(refs)
        return GenerationResult(
            images=tuple(fetched),
            enhanced_prompt=parsed.enhanced_prompt,
            api_credits=parsed.api_credits,
            usd=parsed.usd,
            inference_id=parsed.inference_id,
            seed=parsed.seed if parsed.seed is not None else req.seed,
            requested=req.count,
            attempts=attempts,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._backoff_max_s)
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _post_with_retries(
        self, body: dict[str, Any], model: ModelSpec
    ) -> tuple[Any, Mapping[str, str], int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                payload, headers = await self._post_once(body, model)
            except ApiError as exc:
                if not _retryable(exc) or attempt >= self._max_attempts:
                    raise
                delay = self._backoff(attempt, exc.retry_after)
                log.warning(
                    "%s (attempt %d/%d, %s); retrying in %.2fs",
                    exc.error_class,
                    attempt,
                    self._max_attempts,
                    exc.detail,
                    delay,
                )
                await self._sleep(delay)
            else:
                return payload, headers, attempt

    async def _post_once(
        self, body: dict[str, Any], model: ModelSpec
    ) -> tuple[Any, Mapping[str, str]]:
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        try:
            async with self._session.post(
                self._endpoint,
                json=body,
                headers=self._auth_headers(),
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                if resp.status not in SUCCESS_STATUSES:
                    text = await self._read_error_text(resp)
                    raise self._status_error(resp.status, text, resp.headers, model)
                raw = await self._read_capped(resp, self._max_answer_bytes(), "answer")
                headers = dict(resp.headers)
        except TimeoutError as exc:
            raise GenerationTimeoutError(
                detail=f"no answer from the API within {self._timeout_s:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                detail=self._redact(f"connection error: {type(exc).__name__}: {exc}")
            ) from exc
        try:
            return json.loads(raw), headers
        except ValueError as exc:
            text = raw[:DETAIL_MAX].decode("utf-8", "replace")
            raise _malformed(f"answer is not JSON: {self._redact(text)!r}") from exc

    def _max_answer_bytes(self) -> int:
        # Inline base64 answers carry every image at 4/3 of its size.
        return MAX_IMAGES * self._image_max_bytes * 4 // 3 + 1024 * 1024

    async def _read_error_text(self, resp: aiohttp.ClientResponse) -> str:
        raw = await resp.content.read(ERROR_BODY_MAX)
        return raw.decode("utf-8", "replace")

    def _status_error(
        self, status: int, text: str, headers: Mapping[str, str], model: ModelSpec | None
    ) -> ApiError:
        """Map a status to its typed error; upstream words only steer the choice and the detail."""
        message = _upstream_message(text)
        detail = self._redact(f"HTTP {status}: {message}")
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if status in (400, 422):
            cls = SafetyBlockedError if _is_safety(message) else BadRequestError
            return cls(detail=detail, status=status)
        if status == 401:
            return AuthError(detail=detail, status=status)
        if status in (402, 403):
            return OutOfCreditsError(detail=detail, status=status)
        if status == 404:
            user = None
            if model is not None:
                user = (
                    f"{model.name} is not available (it may be deprecated upstream). "
                    "Pick another model."
                )
            return ModelUnavailableError(user, detail=detail, status=status)
        if status == 429:
            return RateLimitedError(detail=detail, status=status, retry_after=retry_after)
        if status in (408, 504):
            return GenerationTimeoutError(detail=detail, status=status)
        if 300 <= status < 400:
            return UpstreamError(detail=f"unexpected redirect: {detail}", status=status)
        if 400 <= status < 500:
            return BadRequestError(detail=detail, status=status)
        return UpstreamError(detail=detail, status=status, retry_after=retry_after)

    # -- key check -------------------------------------------------------------------------------

    async def verify_key(self) -> str:
        """Check the API key without spending credits, for ``python -m bot check``.

        There is no documented free endpoint, so this posts a generation body that cannot pass
        validation (a model and no prompt). The API authenticates before it validates: 400 means
        the key was accepted and nothing was generated; 401 is a bad key (AuthError), 403 an
        account out of credits (OutOfCreditsError). Returns "ok".
        """
        body = {"model": MODELS[0].id}
        timeout = aiohttp.ClientTimeout(total=min(self._timeout_s, VERIFY_TIMEOUT_S))
        try:
            async with self._session.post(
                self._endpoint,
                json=body,
                headers=self._auth_headers(),
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                text = await self._read_error_text(resp)
                headers = dict(resp.headers)
        except TimeoutError as exc:
            raise GenerationTimeoutError(detail="no answer to the key check") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                detail=self._redact(f"connection error: {type(exc).__name__}: {exc}")
            ) from exc
        if status in (400, 422):
            return "ok"
        if status in SUCCESS_STATUSES:
            log.warning("the key check was answered %d, not the expected 400", status)
            return "ok"
        raise self._status_error(status, text, headers, None)

    # -- images ----------------------------------------------------------------------------------

    async def _fetch_all(self, refs: tuple[ImageRef, ...]) -> list[GeneratedImage]:
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
            raise _malformed("image reference without url or base64")
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
            raise _malformed(f"image base64 does not decode: {exc}") from exc
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
                    return await self._read_capped(resp, self._image_max_bytes, "image")
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

    async def _read_capped(self, resp: aiohttp.ClientResponse, cap: int, what: str) -> bytes:
        """Read a body, aborting once it passes ``cap`` bytes (the connection is then dropped)."""
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            buf += chunk
            if len(buf) > cap:
                error = ImageDownloadError if what == "image" else MalformedResponseError
                raise error(detail=f"{what} body passed {cap} bytes; aborted")
        return bytes(buf)
