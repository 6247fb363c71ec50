"""One generation as the API will see it, and the JSON body built from it.

The request type and the function that turns it into API parameters live together so that a change
to the options touches one file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.catalogue import (
    ASPECT_RATIOS,
    MAX_IMAGES,
    P_ADD_WATERMARK,
    P_ASPECT_RATIO,
    P_CONVERT_B64,
    P_ENHANCE_PROMPT,
    P_NEGATIVE_PROMPT,
    P_NUM_IMAGES,
    P_PERSON_GENERATION,
    P_SAFETY_SETTING,
    P_SEED,
    PERSON_GENERATION,
    SAFETY_SETTINGS,
    ModelSpec,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One generation as the API will see it; policy values (safety, people, watermark) included.

    Validation of user input happens before this is built; ``__post_init__`` only guards against
    programming errors (ValueError), so a bad value never becomes a paid-for 400.
    """

    model: ModelSpec
    prompt: str
    count: int = 1
    aspect_ratio: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    enhance_prompt: bool | None = None
    safety_setting: str | None = None
    person_generation: str | None = None
    add_watermark: bool | None = None

    def __post_init__(self) -> None:
        m = self.model
        if not self.prompt or len(self.prompt) > m.prompt_max:
            raise ValueError(
                f"prompt length {len(self.prompt)} outside 1..{m.prompt_max} for {m.id}"
            )
        if not 1 <= self.count <= MAX_IMAGES:
            raise ValueError(f"count {self.count} outside 1..{MAX_IMAGES}")
        if self.aspect_ratio is not None and self.aspect_ratio not in ASPECT_RATIOS:
            raise ValueError(f"unknown aspect ratio {self.aspect_ratio!r}")
        if self.seed is not None and not m.seed_min <= self.seed <= m.seed_max:
            raise ValueError(f"seed {self.seed} outside {m.seed_min}..{m.seed_max} for {m.id}")
        if self.safety_setting is not None and self.safety_setting not in SAFETY_SETTINGS:
            raise ValueError(f"unknown safety setting {self.safety_setting!r}")
        if self.person_generation is not None and self.person_generation not in PERSON_GENERATION:
            raise ValueError(f"unknown person generation {self.person_generation!r}")


def build_body(req: GenerationRequest) -> dict[str, Any]:
    """The JSON body: only parameters the model accepts, only those set; URLs rather than base64."""
    optional: dict[str, object | None] = {
        P_NUM_IMAGES: req.count,
        P_ASPECT_RATIO: req.aspect_ratio,
        P_SEED: req.seed,
        P_NEGATIVE_PROMPT: req.negative_prompt or None,
        P_ENHANCE_PROMPT: req.enhance_prompt,
        P_SAFETY_SETTING: req.safety_setting,
        P_PERSON_GENERATION: req.person_generation,
        P_ADD_WATERMARK: req.add_watermark,
        P_CONVERT_B64: True,
    }
    body: dict[str, Any] = {"model": req.model.id, "prompt": req.prompt}
    dropped = []
    for name, value in optional.items():
        if value is None:
            continue
        if req.model.accepts(name):
            body[name] = value
        else:
            dropped.append(name)
    if dropped:
        log.debug("%s does not take %s; not sent", req.model.id, ", ".join(sorted(dropped)))
    return body
