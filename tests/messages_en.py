"""What users read, pinned as literal English text (one table per language once localization lands).

Tests compare against these rather than against the code's own constants, so a changed or broken
message shows up as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

from typing import Final

# By error class: the whole message a user is shown for an API failure.
API_FAILURES: Final[dict[str, str]] = {
    "bad_request": (
        "The image service rejected these options. Try a shorter prompt or other options."
    ),
    "safety_blocked": "The image service's safety filter blocked this prompt. Try rewording it.",
    "auth": "The image service rejected the bot's API key. An admin should check AIMLAPI_KEY.",
    "out_of_credits": (
        "The bot's image service account is out of credits. An admin has to top it up."
    ),
    "model_unavailable": (
        "This model is not available (it may be deprecated). Pick another model."
    ),
    "rate_limited": "The image service is busy right now. Try again in a minute.",
    "upstream": "The image service is having trouble. Try again in a few minutes.",
    "timeout": "The image service took too long to answer. Try again.",
    "malformed_response": "The image service sent an answer the bot could not read. Try again.",
    "no_images": (
        "The image service returned no images; the prompt may have been filtered. Try rewording it."
    ),
    "download": "The generated image could not be fetched. Try again.",
}
# A 404 for a named model says which one.
FAST_UNAVAILABLE: Final = (
    "Imagen 4 Fast is not available (it may be deprecated upstream). Pick another model."
)
# A failed job's message in chat: the failure behind a warning sign.
FAILED: Final = "⚠️ {}"
