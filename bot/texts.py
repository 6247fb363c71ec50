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

NOT_CHARGED: Final = Text("job.not_charged", "You were not charged.")
CANCELLED: Final = Text("job.cancelled", "Cancelled. You were not charged.")
INTERRUPTED: Final = Text(
    "job.interrupted",
    "The bot restarted before your images were ready (job {job_id}). You were not charged; "
    "please try again in a minute.",
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
NOT_POSTED: Final = Text(
    "job.not_posted", "The images could not be posted to Discord. You were not charged."
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
BAD_OPTION: Final = Text("job.option.bad", "One of the options has a value I can't use.")
MODEL_CHOICE: Final = Text(
    "job.model.choice",
    "{name} — {count} credit/image{deprecated}",
    "{name} — {count} credits/image{deprecated}",
)
MODEL_DEPRECATED_MARK: Final = Text("job.model.deprecated_mark", " (deprecated)")
EDIT_TITLE: Final = Text("job.edit.title", "Edit and generate again")
EDIT_PROMPT: Final = Text("job.edit.prompt", "Prompt")
EDIT_NEGATIVE: Final = Text("job.edit.negative_prompt", "Negative prompt")


# --- Refusals from policy, moderation, budgets and the queue ---------------------------------


# --- Errors of the image service (bot/api, bot/errors) ---------------------------------------


# --- /imagine-admin (cogs/admin, bot/admin) ----------------------------------------------------


# --- /quota and budget commands ----------------------------------------------------------------


# --- /help and /history --------------------------------------------------------------------------


# --- The log channel and admin notices (bot/audit) ---------------------------------------------
