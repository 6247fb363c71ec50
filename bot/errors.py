"""Typed errors raised by the core and shown to users by one handler.

Each error carries a short ``user_message`` fit for Discord (by default its class's
``default_message``, a ``Text`` of bot/texts.py) and a stable ``error_class`` stored on the job
row. Raw upstream text never goes into ``user_message``; it stays in ``detail`` for the log.
"""

from __future__ import annotations

from typing import ClassVar

from bot import texts
from bot.texts import Text


class ImagenError(Exception):
    """Base of every error a user may be shown."""

    error_class = "error"
    default_message: ClassVar[Text] = texts.ERROR_GENERIC

    def __init__(self, user_message: str | None = None, *, detail: str = "") -> None:
        self.user_message = user_message or self.default_message()
        self.detail = detail
        super().__init__(detail or self.user_message)


class UserInputError(ImagenError):
    """The request itself is invalid: bad option, too long, not allowed here."""

    error_class = "invalid_input"


class RefusedError(ImagenError):
    """A policy refused the request (ban, blocklist, budget, cooldown, queue limit)."""

    error_class = "refused"


class ShuttingDownError(RefusedError):
    error_class = "shutting_down"
    default_message = texts.SHUTTING_DOWN


class ApiError(ImagenError):
    """A failure talking to the AI/ML API."""

    error_class = "api_error"
    retryable = False

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.status = status
        self.retry_after = retry_after


class BadRequestError(ApiError):
    error_class = "bad_request"
    default_message = texts.API_BAD_REQUEST


class SafetyBlockedError(ApiError):
    error_class = "safety_blocked"
    default_message = texts.API_SAFETY_BLOCKED


class AuthError(ApiError):
    error_class = "auth"
    default_message = texts.API_AUTH


class OutOfCreditsError(ApiError):
    error_class = "out_of_credits"
    default_message = texts.API_OUT_OF_CREDITS


class ModelUnavailableError(ApiError):
    error_class = "model_unavailable"
    default_message = texts.API_MODEL_UNAVAILABLE


class RateLimitedError(ApiError):
    error_class = "rate_limited"
    retryable = True
    default_message = texts.API_RATE_LIMITED


class UpstreamError(ApiError):
    error_class = "upstream"
    retryable = True
    default_message = texts.API_UPSTREAM


class GenerationTimeoutError(ApiError):
    error_class = "timeout"
    default_message = texts.API_TIMEOUT


class MalformedResponseError(ApiError):
    error_class = "malformed_response"
    default_message = texts.API_MALFORMED


class NoImagesError(ApiError):
    error_class = "no_images"
    default_message = texts.API_NO_IMAGES


class ImageDownloadError(ApiError):
    error_class = "download"
    default_message = texts.API_DOWNLOAD
