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


# --- Errors of the image service (bot/api, bot/errors) ---------------------------------------


# --- /imagine-admin (cogs/admin, bot/admin) ----------------------------------------------------


# --- /quota and budget commands ----------------------------------------------------------------


# --- /help and /history --------------------------------------------------------------------------


# --- The log channel and admin notices (bot/audit) ---------------------------------------------
