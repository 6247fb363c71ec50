"""Every sentence a member or admin reads, in one module: a stable id and an English template each.

Code never builds a user-facing sentence by concatenation: it names a ``Text`` here and fills its
named placeholders. The id is what a translation catalogue will key on, so it must not change when
the English wording does.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Final

_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class Text:
    """One message: ``key`` is its stable id, ``one``/``other`` its English singular and plural.

    A text with a plural form is chosen by its ``count`` placeholder.
    """

    key: str
    one: str
    other: str | None = None

    def __call__(self, **params: object) -> str:
        template = self.one
        if self.other is not None and params.get("count") != 1:
            template = self.other
        return template.format(**params)

    @property
    def placeholders(self) -> frozenset[str]:
        names: set[str] = set()
        for template in (self.one, self.other or ""):
            names.update(name for _, name, _, _ in _FORMATTER.parse(template) if name)
        return frozenset(names)


def all_texts() -> list[Text]:
    """Every text this module defines, for the tests that check ids and placeholders."""
    return [value for value in globals().values() if isinstance(value, Text)]


# --- Shared by every surface ---------------------------------------------------------------

APOLOGY: Final = Text(
    "error.apology",
    "Sorry, something went wrong on our side. You were not charged. Please try again.",
)
FAILED: Final = Text("job.failed", "⚠️ {reason}")


# --- /imagine, its queue ticket, its result and the result buttons (bot/jobs) ---------------


# --- Refusals from policy, moderation, budgets and the queue ---------------------------------

CHANNEL_NOT_ALLOWED: Final = Text(
    "refused.channel", "Image generation isn't enabled in this channel. Try {channels}."
)
BANNED: Final = Text("refused.banned", "You can't generate images in this server.")
BANNED_UNTIL: Final = Text(
    "refused.banned_until", "You can't generate images in this server until {until}."
)
BAN_REASON: Final = Text("refused.ban_reason", "{refusal} Reason: {reason}")
PROMPT_BLOCKED: Final = Text(
    "blocklist.blocked",
    "Your prompt contains something this server doesn't allow. Please rephrase it.",
)
PROMPT_CHECK_TIMED_OUT: Final = Text(
    "blocklist.timed_out",
    "Your prompt could not be checked against this server's blocklist in time, so it was "
    "refused. Try a shorter or simpler prompt.",
)
BLOCKLIST_BUSY: Final = Text(
    "blocklist.busy",
    "This server's blocklist is busy checking other prompts. Try again in a moment.",
)
BLOCKLIST_KIND: Final = Text("blocklist.kind_invalid", 'The entry type must be "word" or "regex".')
BLOCKLIST_WORD_TOO_LONG: Final = Text(
    "blocklist.word_too_long", "A blocked word or phrase can be at most {limit} characters."
)
BLOCKLIST_WORD_BLANK: Final = Text(
    "blocklist.word_blank", "A blocked word needs at least one visible letter, digit or symbol."
)
BLOCKLIST_REGEX_EMPTY: Final = Text("blocklist.regex_empty", "The regex is empty.")
BLOCKLIST_REGEX_TOO_LONG: Final = Text(
    "blocklist.regex_too_long", "A blocked regex can be at most {limit} characters."
)
BLOCKLIST_REGEX_INVALID: Final = Text(
    "blocklist.regex_invalid", "That regex does not compile: {reason}."
)
BLOCKLIST_REGEX_INVALID_AT: Final = Text(
    "blocklist.regex_invalid_at", "That regex does not compile: {reason} at position {position}."
)
BLOCKLIST_REGEX_SLOW_SHAPE: Final = Text(
    "blocklist.regex_slow_shape", "That regex could be very slow ({problem}). Simplify it."
)
# The shapes named in the message above.
SHAPE_BACKREFERENCE: Final = Text("blocklist.shape.backreference", "backreference")
SHAPE_CONDITIONAL: Final = Text("blocklist.shape.conditional", "conditional group")
SHAPE_RECURSION: Final = Text("blocklist.shape.recursion", "recursion")
SHAPE_NESTED_QUANTIFIER: Final = Text(
    "blocklist.shape.nested_quantifier", "a repeated group contains another quantifier"
)
SHAPE_OVERLAPPING: Final = Text(
    "blocklist.shape.overlapping", "a repeated group has overlapping alternatives"
)
BLOCKLIST_REGEX_MATCHES_EMPTY: Final = Text(
    "blocklist.regex_matches_empty",
    "That regex can match empty text, so it would block every prompt.",
)
BLOCKLIST_REGEX_SLOW_PROBE: Final = Text(
    "blocklist.regex_slow_probe",
    "That regex took too long on a test prompt, so it could stall the bot. Simplify it.",
)
BLOCKLIST_REGEX_FULL: Final = Text(
    "blocklist.regex_full",
    "This server already has {limit} regex entries, the most it can have. Remove one first "
    "(/imagine-admin blocklist remove), or block words and phrases instead (up to {word_limit}).",
)
BLOCKLIST_WORD_FULL: Final = Text(
    "blocklist.word_full",
    "This server already has {limit} blocked words and phrases, the most it can have. "
    "Remove one first (/imagine-admin blocklist remove).",
)
DURATION_HELP: Final = Text("duration.invalid", "Use a duration like 30m, 2h or 7d.")
DURATION_TOO_SHORT: Final = Text("duration.too_short", "The shortest duration is 1 minute.")
DURATION_TOO_LONG: Final = Text("duration.too_long", "The longest duration is 365 days.")
TIMEZONE_UNKNOWN: Final = Text(
    "timezone.unknown", 'Unknown timezone "{name}"; use an IANA name like Europe/Paris.'
)
CREDITS_NOT_WHOLE: Final = Text("credits.not_whole", "Credits must be a whole number.")
CREDITS_TOO_LOW: Final = Text("credits.too_low", "Credits can't be less than {minimum}.")
CREDITS_TOO_HIGH: Final = Text("credits.too_high", "Credits can't be more than {maximum}.")
BUDGET_ZERO_HERE: Final = Text(
    "budget.zero_here",
    "Your daily budget here is 0 credits, so you can't generate images. "
    "Ask a server admin if you think this is a mistake.",
)
BUDGET_ZERO_PERSONAL: Final = Text(
    "budget.zero_personal",
    "Your personal daily budget is 0 credits, so you can't generate images. "
    "Ask a server admin if you think this is a mistake.",
)
BUDGET_NOT_ENOUGH: Final = Text(
    "budget.not_enough",
    "Not enough credits: this needs {needed} and you have {left} of {total} left today. "
    "Your budget resets {reset}.",
)
BUDGET_SERVER_CAP: Final = Text(
    "budget.server_cap", "This server has used its daily cap of {cap} credits. It resets {reset}."
)
BUDGET_BOT_CAP: Final = Text(
    "budget.bot_cap", "The bot has reached its daily spending cap. It resets {reset}."
)
BUDGET_CHANGED: Final = Text(
    "budget.changed", "Your budget changed while this request was checked. Try again."
)
QUEUE_FULL: Final = Text(
    "queue.full",
    "You already have {count} job queued or generating. Wait for one to finish.",
    "You already have {count} jobs queued or generating. Wait for one to finish.",
)
QUEUE_CANCELLED: Final = Text(
    "queue.cancelled", "The job was cancelled before it started. You were not charged."
)


# --- Errors of the image service (bot/api, bot/errors) ---------------------------------------

ERROR_GENERIC: Final = Text("error.generic", "Something went wrong. You were not charged.")
SHUTTING_DOWN: Final = Text(
    "error.shutting_down", "The bot is restarting. You were not charged. Try again in a minute."
)
API_BAD_REQUEST: Final = Text(
    "api.bad_request",
    "The image service rejected these options. Try a shorter prompt or other options.",
)
API_SAFETY_BLOCKED: Final = Text(
    "api.safety_blocked",
    "The image service's safety filter blocked this prompt. Try rewording it.",
)
API_AUTH: Final = Text(
    "api.auth", "The image service rejected the bot's API key. An admin should check AIMLAPI_KEY."
)
API_OUT_OF_CREDITS: Final = Text(
    "api.out_of_credits",
    "The bot's image service account is out of credits. An admin has to top it up.",
)
API_MODEL_UNAVAILABLE: Final = Text(
    "api.model_unavailable",
    "This model is not available (it may be deprecated). Pick another model.",
)
API_NAMED_MODEL_UNAVAILABLE: Final = Text(
    "api.named_model_unavailable",
    "{model} is not available (it may be deprecated upstream). Pick another model.",
)
API_RATE_LIMITED: Final = Text(
    "api.rate_limited", "The image service is busy right now. Try again in a minute."
)
API_UPSTREAM: Final = Text(
    "api.upstream", "The image service is having trouble. Try again in a few minutes."
)
API_TIMEOUT: Final = Text("api.timeout", "The image service took too long to answer. Try again.")
API_MALFORMED: Final = Text(
    "api.malformed_response",
    "The image service sent an answer the bot could not read. Try again.",
)
API_NO_IMAGES: Final = Text(
    "api.no_images",
    "The image service returned no images; the prompt may have been filtered. Try rewording it.",
)
API_DOWNLOAD: Final = Text("api.download", "The generated image could not be fetched. Try again.")
DELIVERY_FAILED: Final = Text(
    "error.delivery", "The images could not be posted to Discord. You were not charged."
)
IMAGE_TOO_LARGE: Final = Text(
    "api.image_too_large", "The generated image is too large to post here."
)
MISSING_PERMISSION: Final = Text(
    "error.missing_permission", "You need the {permission} permission for this."
)
MISSING_PERMISSIONS: Final = Text(
    "error.missing_permissions", "You need these permissions for this: {permissions}."
)
BOT_MISSING_PERMISSION: Final = Text(
    "error.bot_missing_permission",
    "I don't have the {permission} permission here. A server admin can grant it to me.",
)
BOT_MISSING_PERMISSIONS: Final = Text(
    "error.bot_missing_permissions",
    "I don't have these permissions here: {permissions}. A server admin can grant them to me.",
)
# Permissions as Discord's settings name them, for the two texts above.
PERMISSION_MANAGE_GUILD: Final = Text("permission.manage_guild", "Manage Server")
PERMISSION_MANAGE_MESSAGES: Final = Text("permission.manage_messages", "Manage Messages")
PERMISSION_SEND_MESSAGES: Final = Text("permission.send_messages", "Send Messages")
PERMISSION_SEND_MESSAGES_IN_THREADS: Final = Text(
    "permission.send_messages_in_threads", "Send Messages in Threads"
)
PERMISSION_EMBED_LINKS: Final = Text("permission.embed_links", "Embed Links")
PERMISSION_ATTACH_FILES: Final = Text("permission.attach_files", "Attach Files")
PERMISSION_READ_MESSAGE_HISTORY: Final = Text(
    "permission.read_message_history", "Read Message History"
)
PERMISSION_VIEW_CHANNEL: Final = Text("permission.view_channel", "View Channel")
PERMISSION_USE_EXTERNAL_EMOJIS: Final = Text("permission.use_external_emojis", "Use External Emoji")
GUILD_ONLY: Final = Text("error.guild_only", "This command only works in a server.")
STALE_COMMAND: Final = Text(
    "error.stale_command",
    "This command has changed since Discord loaded it. Try again in a minute.",
)
CHECK_FAILED: Final = Text("error.check_failed", "You can't use this command here.")
BAD_OPTION: Final = Text("error.bad_option", "One of the options has a value I can't use.")


# --- /imagine-admin (cogs/admin, bot/admin) ----------------------------------------------------


# --- /quota and budget commands ----------------------------------------------------------------


# --- /help and /history --------------------------------------------------------------------------

HELP_TITLE: Final = Text("help.title", "Imagen Bot")
HELP_DESCRIPTION: Final = Text(
    "help.description", "Create images with Google's Imagen 4 models, right here."
)
HELP_COMMANDS_FIELD: Final = Text("help.commands_field", "Commands")
HELP_COMMANDS: Final = Text(
    "help.commands",
    "`/imagine prompt` — make 1-{max_images} images; options: model, aspect_ratio, count, seed, "
    "negative_prompt, enhance_prompt\n"
    "`/quota` — your credits today and when they reset\n"
    "`/history` — your last 10 generations\n"
    "`/help` — this message\n"
    "`/imagine-admin …` — server settings, budgets and moderation (Manage Server)",
)
HELP_MODELS_FIELD: Final = Text("help.models_field", "Models and costs")
HELP_MODEL: Final = Text(
    "help.model",
    "**{name}**: {count} credit/image, prompt ≤ {prompt_max} chars",
    "**{name}**: {count} credits/image, prompt ≤ {prompt_max} chars",
)
HELP_MODEL_DEFAULT: Final = Text("help.model_default", "{name} (default)")
HELP_MODEL_DEPRECATED: Final = Text("help.model_deprecated", "{line} — deprecated")
HELP_LIMITS_FIELD: Final = Text("help.limits_field", "Limits")
HELP_LIMITS: Final = Text(
    "help.limits",
    "Up to {max_images} images per request. Everyone gets {daily_credits} credits a day unless "
    "the server sets otherwise; failed generations are never charged.",
)
HISTORY_EMPTY: Final = Text("history.empty", "You have no generations here yet. Try /imagine.")
HISTORY_TITLE: Final = Text("history.title", "Your latest generations")
HISTORY_TITLE_HERE: Final = Text("history.title_here", "Your latest generations in this server")
HISTORY_IMAGES: Final = Text("history.images", "{count} image", "{count} images")
HISTORY_LINE: Final = Text("history.line", "**{n}.** {when} · {model} · {images}\n> {prompt}")
HISTORY_LINE_LINKED: Final = Text(
    "history.line_linked", "**{n}.** {when} · {model} · {images} · [jump]({url})\n> {prompt}"
)


# --- The log channel and admin notices (bot/audit) ---------------------------------------------
