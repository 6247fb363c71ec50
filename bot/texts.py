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


# --- /quota and budget commands ----------------------------------------------------------------


# --- /help and /history --------------------------------------------------------------------------


# --- The log channel and admin notices (bot/audit) ---------------------------------------------
