"""Reading the API's answers: each documented success shape, each error status as a typed error.

Pure functions of the status, headers and body, so each shape the contract lists is tested directly.
Upstream words only steer the choice of error and fill its ``detail``; users see our own texts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

from bot import texts
from bot.catalogue import API_CREDITS_PER_USD, ModelSpec
from bot.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    GenerationTimeoutError,
    MalformedResponseError,
    ModelUnavailableError,
    NoImagesError,
    OutOfCreditsError,
    RateLimitedError,
    SafetyBlockedError,
    UpstreamError,
)

log = logging.getLogger(__name__)

DETAIL_MAX: Final = 300  # characters of upstream text kept in an error's detail
_SAFETY_WORDS: Final = (
    "safety",
    "blocked",
    "responsible ai",
    "prohibited",
    "content policy",
    "moderation",
)


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


def malformed(why: str) -> MalformedResponseError:
    return MalformedResponseError(detail=why[:DETAIL_MAX])


def _opt_str(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise malformed(f"{where}.{key} is {type(value).__name__}, not a string")
    return value


def _items(value: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise malformed(f"{where} is {type(value).__name__}, not a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise malformed(f"{where}[{i}] is {type(item).__name__}, not an object")
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
        raise malformed(f"output is {type(value).__name__}, not an object")
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
        raise malformed(f"answer is {type(payload).__name__}, not an object")
    present = [key for key in ("data", "images", "output") if key in payload]
    if not present:
        raise malformed(f"unknown answer shape; keys {sorted(payload)[:10]}")
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


def _is_safety(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _SAFETY_WORDS)


def error_for_status(
    status: int,
    text: str,
    headers: Mapping[str, str],
    model: ModelSpec | None,
    redact: Callable[[str], str],
) -> ApiError:
    """Map a status to its typed error; upstream words only steer the choice and the detail."""
    message = _upstream_message(text)
    detail = redact(f"HTTP {status}: {message}")
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status in (400, 422):
        cls = SafetyBlockedError if _is_safety(message) else BadRequestError
        return cls(detail=detail, status=status)
    if status == 401:
        return AuthError(detail=detail, status=status)
    if status in (402, 403):
        return OutOfCreditsError(detail=detail, status=status)
    if status == 404:
        user = None if model is None else texts.API_NAMED_MODEL_UNAVAILABLE(model=model.name)
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
