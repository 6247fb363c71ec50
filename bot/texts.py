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
    "Sorry, something went wrong on our side. You were not charged; please try again.",
)
FAILED: Final = Text("job.failed", "⚠️ {reason}")


# --- /imagine, its queue ticket, its result and the result buttons (bot/jobs) ---------------


# --- Refusals from policy, moderation, budgets and the queue ---------------------------------


# --- Errors of the image service (bot/api, bot/errors) ---------------------------------------


# --- /imagine-admin (cogs/admin, bot/admin) ----------------------------------------------------

ADMIN_ON: Final = Text("admin.value.on", "on")
ADMIN_OFF: Final = Text("admin.value.off", "off")
ADMIN_NONE: Final = Text("admin.value.none", "none")
ADMIN_MORE: Final = Text("admin.list.more", "…and {count} more")
ADMIN_UNKNOWN_MODEL: Final = Text(
    "admin.model.unknown", 'Unknown model "{model}". Pick one from the list.'
)
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
ADMIN_USAGE_REQUESTS: Final = Text("admin.usage.requests", "Requests")
ADMIN_USAGE_IMAGES: Final = Text("admin.usage.images", "Images")
ADMIN_USAGE_CREDITS: Final = Text("admin.usage.credits", "Credits")
ADMIN_USAGE_USD: Final = Text("admin.usage.usd", "USD (API-reported)")
ADMIN_USAGE_USD_VALUE: Final = Text("admin.usage.usd_value", "${usd:.2f}")
ADMIN_USAGE_FAILED: Final = Text("admin.usage.failed", "Failed")
ADMIN_USAGE_FAILED_VALUE: Final = Text("admin.usage.failed_value", "{count} (never charged)")
ADMIN_USAGE_TOP_USERS: Final = Text("admin.usage.top_users", "Top users")
ADMIN_USAGE_TOP_USER: Final = Text(
    "admin.usage.top_user", "{rank}. <@{user_id}> — {images}, {credits} credits"
)
ADMIN_USAGE_PER_MODEL: Final = Text("admin.usage.per_model", "Per model")
ADMIN_USAGE_MODEL_LINE: Final = Text(
    "admin.usage.model_line", "{model} — {images}, {credits} credits, ${usd:.2f}"
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
    "notice.cost_usd", "{count} credit (${usd:.4f})", "{count} credits (${usd:.4f})"
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
