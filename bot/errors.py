"""Typed errors raised by the core and shown to users by one handler.

Each error carries a short ``user_message`` fit for Discord and a stable ``error_class`` stored on
the job row. Raw upstream text never goes into ``user_message``; it stays in ``detail`` for the log.
"""

from __future__ import annotations


class ImagenError(Exception):
    """Base of every error a user may be shown."""

    error_class = "error"
    default_message = "Something went wrong. You were not charged."

    def __init__(self, user_message: str | None = None, *, detail: str = "") -> None:
        self.user_message = user_message or self.default_message
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
    default_message = "The bot is restarting. Try again in a minute; you were not charged."


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
    default_message = (
        "The image service rejected these options. Try a shorter prompt or other options."
    )


class SafetyBlockedError(ApiError):
    error_class = "safety_blocked"
    default_message = "The image service's safety filter blocked this prompt. Try rewording it."


class AuthError(ApiError):
    error_class = "auth"
    default_message = (
        "The image service rejected the bot's API key. An admin should check AIMLAPI_KEY."
    )


class OutOfCreditsError(ApiError):
    error_class = "out_of_credits"
    default_message = (
        "The bot's image service account is out of credits. An admin has to top it up."
    )


class ModelUnavailableError(ApiError):
    error_class = "model_unavailable"
    default_message = "This model is not available (it may be deprecated). Pick another model."


class RateLimitedError(ApiError):
    error_class = "rate_limited"
    retryable = True
    default_message = "The image service is busy right now. Try again in a minute."


class UpstreamError(ApiError):
    error_class = "upstream"
    retryable = True
    default_message = "The image service is having trouble. Try again in a few minutes."


class GenerationTimeoutError(ApiError):
    error_class = "timeout"
    default_message = "The image service took too long to answer. Try again."


class MalformedResponseError(ApiError):
    error_class = "malformed_response"
    default_message = "The image service sent an answer the bot could not read. Try again."


class NoImagesError(ApiError):
    error_class = "no_images"
    default_message = (
        "The image service returned no images; the prompt may have been filtered. Try rewording it."
    )


class ImageDownloadError(ApiError):
    error_class = "download"
    default_message = "The generated image could not be fetched. Try again."
