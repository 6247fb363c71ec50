"""What a member asks ``/imagine`` for, as one value that every step passes on.

The cog builds it, ``GenerationService.validate`` returns it with defaults filled in, the API
request and the job row are made from it, and ``from_row`` makes it again for Reroll and Edit.
The mapping to storage columns is here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from bot.catalogue import MODELS, ModelSpec, get_model
from bot.storage import JobRow

# Options stored in a column of their own (same name as the field); the rest live only in the
# row's params_json.
COLUMNS = frozenset(f.name for f in dataclasses.fields(JobRow))
# The params_json key listing the options a job took from its member's defaults (/settings).
MEMBER_DEFAULTS_KEY = "member_defaults"


@dataclass(frozen=True, slots=True)
class ImagineOptions:
    """One request's options. ``None`` means "not chosen": the server's or the model's default."""

    prompt: str
    model: str | None = None  # a catalogue id
    aspect_ratio: str | None = None
    count: int | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    enhance_prompt: bool | None = None
    spoiler: bool | None = None
    private: bool | None = None  # the result goes to the member by DM

    @classmethod
    def from_row(cls, row: JobRow) -> ImagineOptions:
        """The options a stored job ran with (for Reroll and Edit)."""
        params: dict[str, Any] = json.loads(row.params_json)
        values: dict[str, Any] = {
            f.name: getattr(row, f.name) if f.name in COLUMNS else params.get(f.name)
            for f in dataclasses.fields(cls)
        }
        # SQLite has no booleans: a yes/no option comes back from its column as 0 or 1.
        for name in _YES_NO:
            if values[name] is not None:
                values[name] = bool(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> ImagineOptions:
        return dataclasses.replace(self, **changes)

    def columns(self) -> dict[str, Any]:
        """The options that have a column of their own on the job row, by column name."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name in COLUMNS
        }

    def params(self) -> dict[str, Any]:
        """Every option but the prompt, for the row's params_json."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "prompt"
        }


def find_model(text: str) -> ModelSpec | None:
    """A catalogue model by id, or by id or display name in any case (what a person types)."""
    exact = get_model(text)
    if exact is not None:
        return exact
    key = text.strip().casefold()
    return next((m for m in MODELS if key in (m.id.casefold(), m.name.casefold())), None)


# The options that are a yes or no (annotations are strings under ``from __future__``).
_YES_NO = frozenset(
    f.name for f in dataclasses.fields(ImagineOptions) if str(f.type).startswith("bool")
)
