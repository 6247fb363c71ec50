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
# A prompt refused because the blocklist check ran out of time, or the server's turn did not come.
BLOCKLIST_TIMED_OUT: Final = (
    "Your prompt could not be checked against this server's blocklist in time, so it was "
    "refused. Try a shorter or simpler prompt."
)
BLOCKLIST_BUSY: Final = (
    "This server's blocklist is busy checking other prompts. Try again in a moment."
)
# A prompt that matches the server's blocklist: the only text shown for it.
PROMPT_BLOCKED: Final = (
    "Your prompt contains something this server doesn't allow. Please rephrase it."
)
# A member without the permission an admin command needs (they lack it, they are told so).
MEMBER_NEEDS_MANAGE_SERVER: Final = "You need the Manage Server permission for this."
# The bot lacks a permission: the member is told the bot lacks it, and who can grant it.
BOT_LACKS_MANAGE_MESSAGES: Final = (
    "I don't have the Manage Messages permission here. A server admin can grant it to me."
)
BOT_LACKS_SEVERAL: Final = (
    "I don't have these permissions here: Manage Messages, Attach Files. "
    "A server admin can grant them to me."
)
# The one wording of the refund promise, wherever a text makes it.
NOT_CHARGED: Final = "You were not charged."
# A failed job's message in chat: the failure behind a warning sign.
FAILED: Final = "⚠️ {}"
