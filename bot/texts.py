"""Every sentence a member or admin reads, in one module: a stable id and an English template each.

Code never builds a user-facing sentence by concatenation: it names a ``Text`` here and fills its
named placeholders. The id is the gettext context a translation is keyed on, so it must not change
when the English wording does. The reader's language comes from ``bot.i18n`` (``speaking``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Final

from bot import i18n
from bot.i18n import speaking

__all__ = ["Text", "all_texts", "speaking", "translated"]

_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class Text:
    """One message: ``key`` is its stable id, ``one``/``other`` its English singular and plural.

    A text with a plural form is chosen by its ``count`` placeholder, by the reader's catalogue.
    """

    key: str
    one: str
    other: str | None = None

    def __call__(self, **params: object) -> str:
        language = i18n.current()
        catalogue = i18n.translation(language)
        if self.other is None:
            template = catalogue.pgettext(self.key, self.one)
        else:
            count = params["count"]
            assert isinstance(count, int)
            template = catalogue.npgettext(self.key, self.one, self.other, count)
        return template.format(**i18n.localized(params, language))

    @property
    def placeholders(self) -> frozenset[str]:
        names: set[str] = set()
        for template in (self.one, self.other or ""):
            names.update(name for _, name, _, _ in _FORMATTER.parse(template) if name)
        return frozenset(names)


def translated(message: str) -> str:
    """A command declaration's ``locale_str`` (a choice's name) in the reader's language."""
    return i18n.translation(i18n.current()).gettext(message)


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

CANCELLED: Final = Text("job.cancelled", "Cancelled. You were not charged.")
INTERRUPTED: Final = Text(
    "job.interrupted",
    "The bot restarted before your images were ready (job {job_id}). You were not charged. "
    "Please try again in a minute.",
)
ADDRESSED: Final = Text("job.addressed", "<@{user_id}> {message}")
READY_IN_CHANNEL: Final = Text("job.ready_in_channel", "your images are ready.")
READY_IN_CHANNEL_NOTE: Final = Text("job.ready_in_channel.note", "your images are ready. {note}")
QUEUED: Final = Text(
    "job.queued",
    "Queued: position {position}. You can cancel until it starts; "
    "you are only charged for images delivered.",
)
PARTIAL: Final = Text(
    "job.partial",
    "The image service returned {delivered} of {count} images; you were only charged for those.",
)
NO_ATTACH_PERMISSION: Final = Text(
    "job.no_attach_permission",
    "I can't attach files in this channel. Ask an admin to give me the Attach Files "
    "permission here.",
)
NOT_WAITING: Final = Text(
    "job.cancel.not_waiting", "This request is no longer waiting in the queue."
)
CANCEL_NOT_YOURS: Final = Text("job.cancel.not_yours", "Only the person who asked can cancel this.")
CANCEL_TOO_LATE: Final = Text("job.cancel.too_late", "Too late to cancel: it's already generating.")
JOB_NOT_FOUND: Final = Text("job.not_found", "I can't find that generation any more.")
DELETE_NOT_YOURS: Final = Text(
    "job.delete.not_yours", "Only the person who asked, or a moderator, can delete these images."
)
DELETE_FAILED: Final = Text("job.delete.failed", "I couldn't delete that message.")
UNKNOWN_MODEL: Final = Text(
    "job.model.unknown", "Unknown model `{model}`. Pick one from the list (see /help)."
)
MODEL_OFF: Final = Text(
    "job.model.off", "{model} is turned off in this server. Pick another model."
)
MODEL_CHOICE: Final = Text(
    "job.model.choice",
    "{name} — {count} credit/image{deprecated}",
    "{name} — {count} credits/image{deprecated}",
)
MODEL_DEPRECATED_MARK: Final = Text("job.model.deprecated_mark", " (deprecated)")
EDIT_TITLE: Final = Text("job.edit.title", "Edit and generate again")
EDIT_PROMPT: Final = Text("job.edit.prompt", "Prompt")
EDIT_NEGATIVE: Final = Text("job.edit.negative_prompt", "Negative prompt")


# /imagine as Discord shows it (cogs/imagine.py).
IMAGINE: Final = Text("imagine.description", "Create images from a text prompt")
IMAGINE_PROMPT: Final = Text(
    "imagine.prompt", "What to draw (up to 400 characters; 4,000 on Imagen 4 Preview)"
)
IMAGINE_MODEL: Final = Text("imagine.model", "Which Imagen 4 model (default: the server's choice)")
IMAGINE_ASPECT_RATIO: Final = Text("imagine.aspect_ratio", "Shape of the image")
IMAGINE_COUNT: Final = Text("imagine.count", "How many images, 1-{limit} (each one costs credits)")
IMAGINE_SEED: Final = Text("imagine.seed", "Same seed + same prompt + same model = same image")
IMAGINE_NEGATIVE_PROMPT: Final = Text(
    "imagine.negative_prompt", "What to keep out of the image (Imagen 4 Preview only)"
)
IMAGINE_ENHANCE_PROMPT: Final = Text(
    "imagine.enhance_prompt", "Let the service rewrite the prompt for better results"
)
IMAGINE_SPOILER: Final = Text(
    "imagine.spoiler", "Post the images as spoilers, hidden until clicked"
)
ASPECT_SQUARE: Final = Text("imagine.aspect_ratio.square", "{ratio} square")
ASPECT_LANDSCAPE: Final = Text("imagine.aspect_ratio.landscape", "{ratio} landscape")
ASPECT_PORTRAIT: Final = Text("imagine.aspect_ratio.portrait", "{ratio} portrait")

# What /imagine's options are checked against (bot/generation.py).
PROMPT_EMPTY: Final = Text("job.prompt.empty", "The prompt is empty. Describe the image you want.")
PROMPT_TOO_LONG: Final = Text(
    "job.prompt.too_long",
    "The prompt is {length} characters; {model} takes at most {limit}.",
)
NEGATIVE_NOT_TAKEN: Final = Text(
    "job.negative_prompt.not_taken",
    "{model} doesn't take a negative prompt. Models that do: {takers}.",
)
NEGATIVE_TOO_LONG: Final = Text(
    "job.negative_prompt.too_long",
    "The negative prompt is too long; {model} takes at most {limit} characters.",
)
COUNT_RANGE: Final = Text("job.count.range", "Count must be from 1 to {limit} in this server.")
ASPECT_RATIO_CHOICES: Final = Text(
    "job.aspect_ratio.choices", "Aspect ratio must be one of {ratios}."
)
SEED_RANGE: Final = Text("job.seed.range", "Seed must be from {low} to {high} for {model}.")
COOLDOWN: Final = Text(
    "job.cooldown", "This server has a {seconds} s cooldown. Try again <t:{when}:R>."
)

# The result message and Details (bot/rendering.py) and the result buttons (bot/jobs/buttons.py).
RESULT_AUTHOR: Final = Text("job.result.author", "Imagen Bot")
RESULT_ENHANCED: Final = Text("job.result.enhanced_prompt", "Enhanced prompt")
RESULT_NEGATIVE: Final = Text("job.result.negative_prompt", "Negative prompt")
RESULT_MODEL: Final = Text("job.result.model", "Model")
RESULT_ASPECT: Final = Text("job.result.aspect_ratio", "Aspect ratio")
RESULT_SEED: Final = Text("job.result.seed", "Seed")
RESULT_RANDOM_SEED: Final = Text("job.result.seed.random", "random")
RESULT_COST: Final = Text("job.result.cost", "Cost")
RESULT_CHARGED: Final = Text("job.result.charged", "{count} credit", "{count} credits")
RESULT_CHARGED_LEFT: Final = Text(
    "job.result.charged_left",
    "{count} credit · {left} left today",
    "{count} credits · {left} left today",
)
RESULT_REQUESTED_BY: Final = Text("job.result.requested_by", "Requested by")
RESULT_FOOTER: Final = Text("job.result.footer", "Job {job_id}")
RESULT_FOOTER_REENCODED: Final = Text(
    "job.result.footer.reencoded",
    "Job {job_id} · some images were re-encoded to fit Discord's file size limit",
)
DETAILS_TITLE: Final = Text("job.details.title", "Job {job_id}")
DETAILS_PROMPT: Final = Text("job.details.prompt", "Prompt")
DETAILS_IMAGES: Final = Text("job.details.images", "{delivered} of {count}")
DETAILS_CREDITS: Final = Text("job.details.credits", "{charged} charged of {reserved} reserved")
DETAILS_DEFAULT: Final = Text("job.details.default", "default")
DETAILS_REQUESTED: Final = Text("job.details.requested", "Requested")
BUTTON_CANCEL: Final = Text("job.button.cancel", "Cancel")
BUTTON_REROLL: Final = Text("job.button.reroll", "Reroll")
BUTTON_EDIT: Final = Text("job.button.edit", "Edit")
BUTTON_DETAILS: Final = Text("job.button.details", "Details")
BUTTON_DELETE: Final = Text("job.button.delete", "Delete")


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

ADMIN_ON: Final = Text("admin.value.on", "on")
ADMIN_OFF: Final = Text("admin.value.off", "off")
ADMIN_NONE: Final = Text("admin.value.none", "none")
ADMIN_MORE: Final = Text("admin.list.more", "…and {count} more")
ADMIN_MODEL_CHOICE_ON: Final = Text("admin.model.choice_on", "{model} (on)")
ADMIN_MODEL_CHOICE_OFF: Final = Text("admin.model.choice_off", "{model} (off)")
ADMIN_MODEL_CHOICE_DEPRECATED: Final = Text("admin.model.choice_deprecated", "{label} — deprecated")
ADMIN_MODEL_ON: Final = Text("admin.model.enabled", "{model} is on again.")
ADMIN_MODEL_ALREADY_ON: Final = Text("admin.model.already_on", "{model} is already on.")
ADMIN_MODEL_OFF: Final = Text(
    "admin.model.disabled", "{model} is off; members can't pick it any more."
)
ADMIN_MODEL_ALREADY_OFF: Final = Text("admin.model.already_off", "{model} is already off.")
ADMIN_MODEL_IS_DEFAULT: Final = Text(
    "admin.model.is_default",
    "{model} is this server's default model. Choose another default first "
    "(/imagine-admin config set default_model).",
)

ADMIN_CONFIG_TITLE: Final = Text("admin.config.title", "Server settings")
ADMIN_CONFIG_FOOTER: Final = Text("admin.config.footer", "Change with /imagine-admin config set")
ADMIN_CONFIG_SERVICE_DEFAULT: Final = Text(
    "admin.config.service_default", "not set (service default)"
)
ADMIN_CONFIG_BOT_DEFAULT_MODEL: Final = Text(
    "admin.config.bot_default_model", "{model} (bot default)"
)
ADMIN_CONFIG_MAX_IMAGES_DEFAULT: Final = Text(
    "admin.config.max_images_default", "{count} (default)"
)
ADMIN_CONFIG_COOLDOWN: Final = Text("admin.config.cooldown", "{seconds} s")
ADMIN_CONFIG_NO_COOLDOWN: Final = Text("admin.config.no_cooldown", "0 (no cooldown)")
ADMIN_CONFIG_LOG_CHANNEL: Final = Text("admin.config.log_channel", "log channel")
ADMIN_CONFIG_NOT_SET: Final = Text("admin.config.not_set", "not set")
ADMIN_CONFIG_CHANNELS: Final = Text("admin.config.channels", "channels")
ADMIN_CONFIG_ALL_CHANNELS: Final = Text("admin.config.all_channels", "all")
ADMIN_CONFIG_MODELS_OFF: Final = Text("admin.config.models_off", "models off")
ADMIN_CONFIG_BLOCKLIST: Final = Text("admin.config.blocklist", "blocklist")
ADMIN_CONFIG_BLOCKLIST_SIZE: Final = Text(
    "admin.config.blocklist_size", "{count} entry", "{count} entries"
)
ADMIN_CONFIG_BANS: Final = Text("admin.config.bans", "bans")
ADMIN_CONFIG_BANS_COUNT: Final = Text(
    "admin.config.bans_count", "{count} active ban", "{count} active bans"
)
ADMIN_CONFIG_DEPRECATED: Final = Text(
    "admin.config.deprecated", "{model} is deprecated upstream; pick another model."
)
ADMIN_CONFIG_MODEL_OFF: Final = Text(
    "admin.config.model_off",
    "{model} is turned off here; enable it first with /imagine-admin model enable.",
)
ADMIN_CONFIG_ONE_OF: Final = Text("admin.config.one_of", "{setting} must be one of {choices}.")
ADMIN_CONFIG_MAX_IMAGES_RANGE: Final = Text(
    "admin.config.max_images_range", "max_images must be from 1 to {most}."
)
ADMIN_CONFIG_COOLDOWN_RANGE: Final = Text(
    "admin.config.cooldown_range", "cooldown_seconds must be from 0 to {most} (one day)."
)
ADMIN_CONFIG_BAD_RESET: Final = Text(
    "admin.config.bad_reset", "reset must name a setting: {names}."
)
ADMIN_CONFIG_SET_AND_RESET: Final = Text(
    "admin.config.set_and_reset", "Either set {setting} or reset it, not both."
)
ADMIN_CONFIG_NOTHING: Final = Text(
    "admin.config.nothing", "Give at least one setting to change (or one to reset)."
)
ADMIN_CONFIG_UPDATED: Final = Text("admin.config.updated", "Updated:\n{lines}")
ADMIN_CONFIG_UPDATED_LINE: Final = Text("admin.config.updated_line", "**{setting}** → {value}")
ADMIN_CONFIG_TIMEZONE_NOTE: Final = Text(
    "admin.config.timezone_note", "Daily budgets now reset at midnight {timezone}."
)

ADMIN_CHANNEL_ALREADY: Final = Text("admin.channel.already", "{channel} is already allowed.")
ADMIN_CHANNEL_ALLOWED: Final = Text("admin.channel.allowed", "/imagine now works in {channel}.")
ADMIN_CHANNEL_ALLOWED_FIRST: Final = Text(
    "admin.channel.allowed_first",
    "/imagine now works in {channel}. From now on /imagine works only in the allowed channels.",
)
ADMIN_CHANNEL_NOT_LISTED: Final = Text("admin.channel.not_listed", "{channel} wasn't on the list.")
ADMIN_CHANNEL_REMOVED: Final = Text("admin.channel.removed", "{channel} is off the list.")
ADMIN_CHANNEL_REMOVED_LAST: Final = Text(
    "admin.channel.removed_last",
    "{channel} is off the list. The list is empty, so /imagine works in every channel again.",
)
ADMIN_CHANNEL_NO_LIST: Final = Text(
    "admin.channel.no_list", "No list is set: /imagine works in every channel."
)
ADMIN_CHANNEL_LIST: Final = Text("admin.channel.list", "/imagine works only in: {channels}")
ADMIN_CHANNEL_LIST_MORE: Final = Text(
    "admin.channel.list_more", "/imagine works only in: {channels} and {more} more"
)

ADMIN_BAN_BOT: Final = Text("admin.ban.bot", "Bots can't generate images anyway.")
ADMIN_BAN_UNTIL_UNBANNED: Final = Text("admin.ban.until_unbanned", "until unbanned")
ADMIN_BAN_DONE: Final = Text("admin.ban.done", "{user} can't generate images here until unbanned.")
ADMIN_BAN_DONE_FOR: Final = Text(
    "admin.ban.done_for", "{user} can't generate images here for {duration} (until <t:{until}:f>)."
)
ADMIN_UNBAN_DONE: Final = Text("admin.unban.done", "{user} can generate images again.")
ADMIN_UNBAN_NOT_BANNED: Final = Text("admin.unban.not_banned", "{user} wasn't banned.")
ADMIN_BANS_NONE: Final = Text("admin.bans.none", "Nobody is banned.")
ADMIN_BANS_TITLE: Final = Text("admin.bans.title", "Active bans ({count})")
ADMIN_BANS_UNTIL: Final = Text("admin.bans.until", "until <t:{until}:f>")
ADMIN_BANS_LINE: Final = Text("admin.bans.line", "<@{user_id}> {until}, by <@{banned_by}>")
ADMIN_BANS_LINE_REASON: Final = Text(
    "admin.bans.line_reason", "<@{user_id}> {until}, by <@{banned_by}> — {reason}"
)

ADMIN_BLOCKLIST_ADDED: Final = Text("admin.blocklist.added", "Blocked {kind}: {pattern}")
ADMIN_BLOCKLIST_ALREADY: Final = Text(
    "admin.blocklist.already", "That {kind} is already blocked: {pattern}"
)
ADMIN_BLOCKLIST_REMOVED: Final = Text(
    "admin.blocklist.removed", "Removed from the blocklist: {pattern}"
)
ADMIN_BLOCKLIST_NOT_LISTED: Final = Text(
    "admin.blocklist.not_listed", "{pattern} isn't on the blocklist."
)
ADMIN_BLOCKLIST_EMPTY: Final = Text("admin.blocklist.empty", "The blocklist is empty.")
ADMIN_BLOCKLIST_TITLE: Final = Text("admin.blocklist.title", "Blocklist ({count})")
ADMIN_BLOCKLIST_LINE: Final = Text("admin.blocklist.line", "`{kind}` {pattern}")

ADMIN_LOGCHANNEL_HELLO: Final = Text(
    "admin.logchannel.hello", "Imagen Bot will log generations and admin actions here."
)
ADMIN_LOGCHANNEL_CANNOT_POST: Final = Text(
    "admin.logchannel.cannot_post",
    "I can't post in {channel}. Give me View Channel, Send Messages and Embed Links there, "
    "then try again.",
)
ADMIN_LOGCHANNEL_SET: Final = Text("admin.logchannel.set", "Logging to {channel}.")
ADMIN_LOGCHANNEL_NONE: Final = Text("admin.logchannel.none", "No log channel is set.")
ADMIN_LOGCHANNEL_CLEARED: Final = Text(
    "admin.logchannel.cleared", "The log channel is cleared; nothing will be posted."
)

ADMIN_USAGE_DAYS_RANGE: Final = Text("admin.usage.days_range", "days must be from 1 to {most}.")
ADMIN_USAGE_TITLE: Final = Text(
    "admin.usage.title", "Usage in the last {count} day", "Usage in the last {count} days"
)
ADMIN_USAGE_CHART_CREDITS: Final = Text("admin.usage.chart_credits", "Credits charged")
ADMIN_USAGE_CHART_USD: Final = Text("admin.usage.chart_usd", "USD spent (API-reported)")
ADMIN_USAGE_REQUESTS: Final = Text("admin.usage.requests", "Requests")
ADMIN_USAGE_IMAGES: Final = Text("admin.usage.images", "Images")
ADMIN_USAGE_CREDITS: Final = Text("admin.usage.credits", "Credits")
ADMIN_USAGE_USD: Final = Text("admin.usage.usd", "USD (API-reported)")
ADMIN_USAGE_USD_VALUE: Final = Text("admin.usage.usd_value", "{usd:.2f}")
ADMIN_USAGE_FAILED: Final = Text("admin.usage.failed", "Failed")
ADMIN_USAGE_FAILED_VALUE: Final = Text("admin.usage.failed_value", "{count} (never charged)")
ADMIN_USAGE_TOP_USERS: Final = Text("admin.usage.top_users", "Top users")
ADMIN_USAGE_TOP_USER: Final = Text(
    "admin.usage.top_user", "{rank}. <@{user_id}> — {images}, {credits} credits"
)
ADMIN_USAGE_PER_MODEL: Final = Text("admin.usage.per_model", "Per model")
ADMIN_USAGE_MODEL_LINE: Final = Text(
    "admin.usage.model_line", "{model} — {images}, {credits} credits, {usd:.2f}"
)
ADMIN_USAGE_CSV_NOTE: Final = Text(
    "admin.usage.csv_note", "{count} job in the CSV", "{count} jobs in the CSV"
)
ADMIN_USAGE_CSV_CUT: Final = Text(
    "admin.usage.csv_cut",
    "{count} job in the CSV (the first {count} of {total}; the file size limit cut the rest)",
    "{count} jobs in the CSV (the first {count} of {total}; the file size limit cut the rest)",
)
ADMIN_IMAGES: Final = Text("admin.images", "{count} image", "{count} images")

ADMIN_HISTORY_NONE: Final = Text("admin.history.none", "{user} hasn't used /imagine here.")
ADMIN_HISTORY_TITLE: Final = Text("admin.history.title", "Latest requests of {name}")
ADMIN_HISTORY_CHARGED: Final = Text("admin.history.charged", "{images}, {credits} cr")
ADMIN_HISTORY_FAILED: Final = Text("admin.history.failed", "{state} ({error})")
ADMIN_HISTORY_JUMP: Final = Text("admin.history.jump", "[jump]({url})")


# --- /quota and budget commands ----------------------------------------------------------------

QUOTA_TITLE: Final = Text("quota.title", "Your credits today")
QUOTA_TITLE_OF: Final = Text("quota.title_of", "Budget of {name}")
QUOTA_USED: Final = Text("quota.used", "Used today")
QUOTA_USED_VALUE: Final = Text("quota.used_value", "{used} of {total} credits")
QUOTA_LEFT: Final = Text("quota.left", "Left")
QUOTA_LEFT_VALUE: Final = Text("quota.left_value", "{left} credits")
QUOTA_RESETS: Final = Text("quota.resets", "Resets")
QUOTA_IN_PROGRESS: Final = Text("quota.in_progress", "In progress")
QUOTA_IN_PROGRESS_VALUE: Final = Text("quota.in_progress_value", "{credits} credits reserved")
QUOTA_EXTRA: Final = Text("quota.extra", "Extra today")
QUOTA_EXTRA_VALUE: Final = Text("quota.extra_value", "+{credits} credits granted")
QUOTA_SERVER_CAP: Final = Text("quota.server_cap", "Server cap")
QUOTA_SERVER_CAP_VALUE: Final = Text("quota.server_cap_value", "{used} of {cap} used by everyone")
QUOTA_BUYS: Final = Text("quota.buys", "That buys")
QUOTA_BUYS_LINE: Final = Text(
    "quota.buys_line", "{model}: {count} image", "{model}: {count} images"
)
QUOTA_FOOTER: Final = Text("quota.footer", "Daily budget from: {source}")

BUDGET_DEFAULT_SET: Final = Text("budget.default.set", "Members now get {credits} credits a day.")
BUDGET_DEFAULT_BOT: Final = Text(
    "budget.default.bot", "Members now get {credits} credits a day (the bot's default)."
)
BUDGET_ROLE_SET: Final = Text(
    "budget.role.set",
    "Members with <@&{role_id}> get {credits} credits a day (the highest role budget applies).",
)
BUDGET_ROLE_REMOVED: Final = Text("budget.role.removed", "Removed the budget of <@&{role_id}>.")
BUDGET_USER_SET: Final = Text("budget.user.set", "<@{user_id}> now gets {credits} credits a day.")
BUDGET_USER_REMOVED: Final = Text(
    "budget.user.removed", "Removed the budget override of <@{user_id}>."
)
BUDGET_GRANTED: Final = Text(
    "budget.grant.done", "Granted <@{user_id}> {credits} extra credits for today ({day})."
)
BUDGET_RESET: Final = Text(
    "budget.reset.done", "Reset <@{user_id}>'s spending today ({forgiven} credits forgiven)."
)
BUDGET_CAP_SET: Final = Text(
    "budget.cap.set", "The server may now spend {credits} credits a day in total."
)
BUDGET_CAP_REMOVED: Final = Text("budget.cap.removed", "The server has no daily cap now.")
BUDGET_SHOW_TITLE: Final = Text("budget.show.title", "Budgets")
BUDGET_SHOW_DEFAULT: Final = Text("budget.show.default", "Default")
BUDGET_SHOW_PER_DAY: Final = Text("budget.show.per_day", "{credits} credits/day")
BUDGET_SHOW_PER_DAY_BOT: Final = Text(
    "budget.show.per_day_bot", "{credits} credits/day (bot default)"
)
BUDGET_SHOW_TIMEZONE: Final = Text("budget.show.timezone", "Timezone")
BUDGET_SHOW_ROLES: Final = Text("budget.show.roles", "Roles")
BUDGET_SHOW_MEMBERS: Final = Text("budget.show.members", "Members")


# --- /help and /history --------------------------------------------------------------------------

HELP_TITLE: Final = Text("help.title", "Imagen Bot")
HELP_DESCRIPTION: Final = Text(
    "help.description", "Create images with Google's Imagen 4 models, right here."
)
HELP_COMMANDS_FIELD: Final = Text("help.commands_field", "Commands")
HELP_COMMANDS: Final = Text(
    "help.commands",
    "`/imagine prompt` — make 1-{max_images} images; options: model, aspect_ratio, count, seed, "
    "negative_prompt, enhance_prompt, spoiler, private\n"
    "`/settings` — your own defaults for /imagine, and private results by DM\n"
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

NOTICE_ADMIN_TITLE: Final = Text("notice.admin.title", "Admin: {action}")
NOTICE_ADMIN_BY: Final = Text("notice.admin.by", "by <@{actor_id}>")
NOTICE_ADMIN_DEFAULT: Final = Text("notice.admin.default", "(default)")
NOTICE_ADMIN_EMPTY: Final = Text("notice.admin.empty", "(empty)")
NOTICE_ADMIN_FOOTER: Final = Text("notice.admin.footer", "Audit #{audit_id}")
NOTICE_GENERATED_TITLE: Final = Text("notice.generated.title", "Image generated")
NOTICE_GENERATED: Final = Text("notice.generated.text", "<@{user_id}> generated an image.")
NOTICE_GENERATED_IN: Final = Text(
    "notice.generated.text_in", "<@{user_id}> generated an image in <#{channel_id}>."
)
NOTICE_REQUESTED_BY: Final = Text("notice.field.requested_by", "Requested by")
NOTICE_MODEL: Final = Text("notice.field.model", "Model")
NOTICE_IMAGES: Final = Text("notice.field.images", "Images")
NOTICE_COST: Final = Text("notice.field.cost", "Cost")
NOTICE_COST_VALUE: Final = Text("notice.cost", "{count} credit", "{count} credits")
NOTICE_COST_USD: Final = Text(
    "notice.cost_usd", "{count} credit ({usd:.4f})", "{count} credits ({usd:.4f})"
)
NOTICE_MESSAGE: Final = Text("notice.field.message", "Message")
NOTICE_JUMP: Final = Text("notice.jump", "[Jump to it]({link})")
NOTICE_JOB: Final = Text("notice.job", "Job {job_id}")
NOTICE_FAILED_TITLE: Final = Text("notice.failed.title", "Generation failed")
NOTICE_ERROR: Final = Text("notice.field.error", "Error")
NOTICE_HTTP_STATUS: Final = Text("notice.field.http_status", "HTTP status")
NOTICE_FAILED_FOOTER: Final = Text(
    "notice.failed.footer", "Job {job_id} · the member was not charged"
)
NOTICE_HINT_AUTH: Final = Text(
    "notice.hint.auth",
    "The AI/ML API rejected the bot's API key. Check AIMLAPI_KEY in the bot's environment and "
    "restart the bot.",
)
NOTICE_HINT_OUT_OF_CREDITS: Final = Text(
    "notice.hint.out_of_credits",
    "The AI/ML API account is out of credits. Top it up at aimlapi.com.",
)
NOTICE_HINT_MODEL_UNAVAILABLE: Final = Text(
    "notice.hint.model_unavailable",
    "The AI/ML API says this model is unavailable (it may be deprecated). Consider "
    "`/imagine-admin model disable` for it.",
)
NOTICE_HINT_RATE_LIMITED: Final = Text(
    "notice.hint.rate_limited",
    "The AI/ML API is rate limiting the bot. If it persists, lower MAX_CONCURRENT_GENERATIONS or "
    "raise the account's limits.",
)
NOTICE_HINT_UPSTREAM: Final = Text(
    "notice.hint.upstream", "The AI/ML API is failing (server errors). Usually temporary."
)
NOTICE_HINT_KNOWN: Final = Text(
    "notice.hint.known", "See the bot's logs for this job id for the full error."
)
NOTICE_HINT_UNEXPECTED: Final = Text(
    "notice.hint.unexpected",
    "An unexpected error; the bot's logs have the traceback under this job id.",
)


# --- /settings: members' own defaults, and private results by DM (cogs/settings.py, bot/members.py)

SETTINGS: Final = Text("settings.command", "Your own defaults for /imagine, here")
SETTINGS_TITLE: Final = Text("settings.title", "Your /imagine defaults")
SETTINGS_INTRO: Final = Text(
    "settings.intro",
    "Used whenever you leave an option out of /imagine; the server's rules still apply.",
)
SETTINGS_INTRO_PERSONAL: Final = Text(
    "settings.intro_personal",
    "Used whenever you leave an option out of /imagine in DMs and where only you installed me.",
)
SETTINGS_MODEL: Final = Text("settings.field.model", "Model")
SETTINGS_ASPECT: Final = Text("settings.field.aspect_ratio", "Aspect ratio")
SETTINGS_COUNT: Final = Text("settings.field.count", "Images")
SETTINGS_ENHANCE: Final = Text("settings.field.enhance_prompt", "Prompt enhancement")
SETTINGS_PRIVATE: Final = Text("settings.field.private", "Private results")
SETTINGS_SERVER_DEFAULT: Final = Text("settings.server_default", "Server default ({value})")
SETTINGS_NOT_SET: Final = Text("settings.not_set", "Server default")
SETTINGS_ON: Final = Text("settings.on", "On")
SETTINGS_OFF: Final = Text("settings.off", "Off")
SETTINGS_PRIVATE_ON: Final = Text("settings.private.on", "On: results come to you by DM")
SETTINGS_PRIVATE_OFF: Final = Text("settings.private.off", "Off: results are posted in the channel")
SETTINGS_MODEL_NOW_OFF: Final = Text(
    "settings.model.now_off",
    "{model} (turned off in this server: its default, {server_model}, is used instead)",
)
SETTINGS_PRIVATE_FORBIDDEN: Final = Text(
    "settings.private.forbidden",
    "Not allowed in this server: results are posted in the channel",
)
SETTINGS_PICK_MODEL: Final = Text("settings.pick.model", "Default model")
SETTINGS_PICK_ASPECT: Final = Text("settings.pick.aspect_ratio", "Default aspect ratio")
SETTINGS_PICK_COUNT: Final = Text("settings.pick.count", "Default number of images")
SETTINGS_PICK_ENHANCE: Final = Text("settings.pick.enhance_prompt", "Prompt enhancement")
SETTINGS_CHOICE_DEFAULT: Final = Text("settings.choice.default", "Server default")
SETTINGS_CHOICE_COUNT: Final = Text("settings.choice.count", "{count} image", "{count} images")
SETTINGS_BUTTON_PRIVATE_ON: Final = Text("settings.button.private_on", "Send results by DM")
SETTINGS_BUTTON_PRIVATE_OFF: Final = Text(
    "settings.button.private_off", "Post results in the channel"
)
SETTINGS_BUTTON_RESET: Final = Text("settings.button.reset", "Reset all")
SETTINGS_FOOTER_RESET: Final = Text("settings.footer.reset", "Your defaults were reset.")
SETTINGS_MODEL_OFF: Final = Text(
    "settings.model.off", "That model is turned off in this server. Pick another one."
)
IMAGINE_PRIVATE: Final = Text(
    "imagine.private", "Send the result to you by DM; the channel sees nothing"
)
PRIVATE_NOT_ALLOWED: Final = Text(
    "job.private.not_allowed",
    "This server doesn't allow private results. Run /imagine without the private option.",
)
PRIVATE_DMS_CLOSED: Final = Text(
    "job.private.dms_closed",
    "I couldn't send you a DM: your direct messages are closed to me. Allow direct messages "
    "from this server's members in its Privacy Settings, or turn private results off in "
    "/settings. You were not charged.",
)
PRIVATE_SENT: Final = Text("job.private.sent", "📬 Sent to your DMs: {link}")
DETAILS_MEMBER_DEFAULT: Final = Text("job.details.member_default", "{value} (your default)")
NOTICE_GENERATED_PRIVATE: Final = Text(
    "notice.generated.text_private",
    "<@{user_id}> generated an image privately (sent by DM) from <#{channel_id}>.",
)
ADMIN_CONFIG_PRIVATE_ALLOWED: Final = Text("admin.config.private_allowed", "Allowed")
ADMIN_CONFIG_PRIVATE_FORBIDDEN: Final = Text(
    "admin.config.private_forbidden", "Forbidden: every result is posted in its channel"
)


# --- Languages (bot/i18n, /imagine-admin config set language) ---------------------------------

# Options whose description holds a number (the rest are plain ``locale_str`` in the cogs).
ADMIN_CONFIG_MAX_IMAGES_OPTION: Final = Text(
    "admin.config.option.max_images", "Most images per request, 1-{most}"
)
ADMIN_CONFIG_COOLDOWN_OPTION: Final = Text(
    "admin.config.option.cooldown_seconds", "Seconds a member waits between requests, 0-{most}"
)
ADMIN_CONFIG_LANGUAGE_OPTION: Final = Text(
    "admin.config.option.language", "The language everyone here reads the bot in"
)
ADMIN_USAGE_DAYS_OPTION: Final = Text(
    "admin.usage.option.days", "How many days back, 1-{most} (default 7)"
)
ADMIN_CONFIG_LANGUAGE_MEMBERS: Final = Text(
    "admin.config.language_members", "Follow each member's Discord language"
)


# --- Command, subcommand group, subcommand and option names (cogs/) ----------------------------
# The English is what Discord calls them and what other tools send: it never changes. Each
# language's name follows Discord's rule (``bot.translator.valid_name``) and GLOSSARY.md.

NAME_IMAGINE: Final = Text("command.imagine.name", "imagine")
NAME_IMAGINE_ADMIN: Final = Text("command.imagine_admin.name", "imagine-admin")
NAME_QUOTA: Final = Text("command.quota.name", "quota")
NAME_HELP: Final = Text("command.help.name", "help")
NAME_HISTORY: Final = Text("command.history.name", "history")
NAME_SETTINGS: Final = Text("command.settings.name", "settings")
NAME_CONFIG: Final = Text("command.config.name", "config")
NAME_MODEL: Final = Text("command.model.name", "model")
NAME_CHANNEL: Final = Text("command.channel.name", "channel")
NAME_BLOCKLIST: Final = Text("command.blocklist.name", "blocklist")
NAME_LOGCHANNEL: Final = Text("command.logchannel.name", "logchannel")
NAME_BUDGET: Final = Text("command.budget.name", "budget")
NAME_SHOW: Final = Text("command.show.name", "show")
NAME_SET: Final = Text("command.set.name", "set")
NAME_ENABLE: Final = Text("command.enable.name", "enable")
NAME_DISABLE: Final = Text("command.disable.name", "disable")
NAME_ALLOW: Final = Text("command.allow.name", "allow")
NAME_REMOVE: Final = Text("command.remove.name", "remove")
NAME_LIST: Final = Text("command.list.name", "list")
NAME_ADD: Final = Text("command.add.name", "add")
NAME_CLEAR: Final = Text("command.clear.name", "clear")
NAME_USER: Final = Text("command.user.name", "user")
NAME_BAN: Final = Text("command.ban.name", "ban")
NAME_UNBAN: Final = Text("command.unban.name", "unban")
NAME_BANS: Final = Text("command.bans.name", "bans")
NAME_USAGE: Final = Text("command.usage.name", "usage")
NAME_DEFAULT: Final = Text("command.default.name", "default")
NAME_ROLE: Final = Text("command.role.name", "role")
NAME_GRANT: Final = Text("command.grant.name", "grant")
NAME_RESET: Final = Text("command.reset.name", "reset")
NAME_SERVER_CAP: Final = Text("command.server_cap.name", "server-cap")

OPTION_PROMPT: Final = Text("option.prompt.name", "prompt")
OPTION_MODEL: Final = Text("option.model.name", "model")
OPTION_ASPECT_RATIO: Final = Text("option.aspect_ratio.name", "aspect_ratio")
OPTION_COUNT: Final = Text("option.count.name", "count")
OPTION_SEED: Final = Text("option.seed.name", "seed")
OPTION_NEGATIVE_PROMPT: Final = Text("option.negative_prompt.name", "negative_prompt")
OPTION_ENHANCE_PROMPT: Final = Text("option.enhance_prompt.name", "enhance_prompt")
OPTION_SPOILER: Final = Text("option.spoiler.name", "spoiler")
OPTION_PRIVATE: Final = Text("option.private.name", "private")
OPTION_DEFAULT_MODEL: Final = Text("option.default_model.name", "default_model")
OPTION_SAFETY_SETTING: Final = Text("option.safety_setting.name", "safety_setting")
OPTION_PERSON_GENERATION: Final = Text("option.person_generation.name", "person_generation")
OPTION_ADD_WATERMARK: Final = Text("option.add_watermark.name", "add_watermark")
OPTION_MAX_IMAGES: Final = Text("option.max_images.name", "max_images")
OPTION_TIMEZONE: Final = Text("option.timezone.name", "timezone")
OPTION_COOLDOWN_SECONDS: Final = Text("option.cooldown_seconds.name", "cooldown_seconds")
OPTION_ALLOW_PRIVATE: Final = Text("option.allow_private.name", "allow_private")
OPTION_LANGUAGE: Final = Text("option.language.name", "language")
OPTION_RESET: Final = Text("option.reset.name", "reset")
OPTION_CHANNEL: Final = Text("option.channel.name", "channel")
OPTION_PATTERN: Final = Text("option.pattern.name", "pattern")
OPTION_KIND: Final = Text("option.kind.name", "kind")
OPTION_USER: Final = Text("option.user.name", "user")
OPTION_DURATION: Final = Text("option.duration.name", "duration")
OPTION_REASON: Final = Text("option.reason.name", "reason")
OPTION_DAYS: Final = Text("option.days.name", "days")
OPTION_CREDITS: Final = Text("option.credits.name", "credits")
OPTION_ROLE: Final = Text("option.role.name", "role")
# --- Cluster: several bot processes on one database (issue 20) ------------------------------

CLUSTER_CUT_OFF: Final = Text(
    "cluster.cut_off",
    "The bot cannot reach its database right now, so it is not taking new images. You were "
    "not charged. Try again in a few minutes.",
)
