"""The AI/ML API client: post the request with bounded retries and backoff, parse, fetch the images.

Every failure leaves as a typed ``ApiError`` whose ``user_message`` is ours; upstream text goes only
into ``detail`` (truncated, key redacted) for the logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiohttp

from bot.api.download import GeneratedImage, ImageFetcher, read_capped
from bot.api.request import GenerationRequest, build_body
from bot.api.response import DETAIL_MAX, error_for_status, malformed, parse_response
from bot.catalogue import MAX_IMAGES, MODELS, ModelSpec
from bot.errors import (
    ApiError,
    GenerationTimeoutError,
    MalformedResponseError,
    UpstreamError,
)

log = logging.getLogger(__name__)

GENERATIONS_PATH: Final = "/v1/images/generations"
SUCCESS_STATUSES: Final = frozenset({200, 201})  # 200 in the OpenAPI files, 201 in the seeds
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
ERROR_BODY_MAX: Final = 64 * 1024
VERIFY_TIMEOUT_S: Final = 30.0

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


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


def _retryable(exc: ApiError) -> bool:
    """429 and 5xx (504 included: the next try may finish in time), and failed connections."""
    if exc.status is None:
        return isinstance(exc, UpstreamError)
    return exc.status in RETRY_STATUSES or exc.status >= 500


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
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._images = ImageFetcher(
            session,
            timeout_s=timeout_s,
            image_max_bytes=image_max_bytes,
            allow_private=allow_private_hosts,
        )

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
        fetched = await self._images.fetch_all(refs)
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

    async def _post(
        self,
        body: dict[str, Any],
        timeout_s: float,
        read: Callable[[aiohttp.ClientResponse], Awaitable[T]],
    ) -> T:
        """One POST to the endpoint, its answer read by ``read``; transport failures typed."""
        try:
            async with self._session.post(
                self._endpoint,
                json=body,
                headers=self._auth_headers(),
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as resp:
                return await read(resp)
        except TimeoutError as exc:
            raise GenerationTimeoutError(
                detail=f"no answer from the API within {timeout_s:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                detail=self._redact(f"connection error: {type(exc).__name__}: {exc}")
            ) from exc

    async def _post_once(
        self, body: dict[str, Any], model: ModelSpec
    ) -> tuple[Any, Mapping[str, str]]:
        async def read(resp: aiohttp.ClientResponse) -> tuple[bytes, Mapping[str, str]]:
            if resp.status not in SUCCESS_STATUSES:
                text = await self._read_error_text(resp)
                raise self._status_error(resp.status, text, resp.headers, model)
            raw = await read_capped(
                resp, self._max_answer_bytes(), MalformedResponseError, "answer"
            )
            return raw, dict(resp.headers)

        raw, headers = await self._post(body, self._timeout_s, read)
        try:
            return json.loads(raw), headers
        except ValueError as exc:
            text = raw[:DETAIL_MAX].decode("utf-8", "replace")
            raise malformed(f"answer is not JSON: {self._redact(text)!r}") from exc

    def _max_answer_bytes(self) -> int:
        # Inline base64 answers carry every image at 4/3 of its size.
        return MAX_IMAGES * self._image_max_bytes * 4 // 3 + 1024 * 1024

    async def _read_error_text(self, resp: aiohttp.ClientResponse) -> str:
        raw = await resp.content.read(ERROR_BODY_MAX)
        return raw.decode("utf-8", "replace")

    def _status_error(
        self, status: int, text: str, headers: Mapping[str, str], model: ModelSpec | None
    ) -> ApiError:
        return error_for_status(status, text, headers, model, self._redact)

    # -- key check -------------------------------------------------------------------------------

    async def verify_key(self) -> str:
        """Check the API key without spending credits, for ``python -m bot check``.

        There is no documented free endpoint, so this posts a generation body that cannot pass
        validation (a model and no prompt). The API authenticates before it validates: 400 means
        the key was accepted and nothing was generated; 401 is a bad key (AuthError), 403 an
        account out of credits (OutOfCreditsError). Returns "ok".
        """
        body = {"model": MODELS[0].id}

        async def read(resp: aiohttp.ClientResponse) -> tuple[int, str, Mapping[str, str]]:
            return resp.status, await self._read_error_text(resp), dict(resp.headers)

        timeout_s = min(self._timeout_s, VERIFY_TIMEOUT_S)
        status, text, headers = await self._post(body, timeout_s, read)
        if status in (400, 422):
            return "ok"
        if status in SUCCESS_STATUSES:
            log.warning("the key check was answered %d, not the expected 400", status)
            return "ok"
        raise self._status_error(status, text, headers, None)

    # -- images ----------------------------------------------------------------------------------

    async def download_image(self, url: str) -> bytes:
        """Fetch one image URL under this client's address rules and size cap."""
        return await self._images.download_image(url)

    def decode_base64(self, text: str) -> bytes:
        """Decode one inline image under this client's size cap."""
        return self._images.decode_base64(text)
