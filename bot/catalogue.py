"""The model catalogue: every model the bot knows, as data.

Adding a model is adding a row to ``MODELS``; nothing else in the code branches on a model id.
"""

from __future__ import annotations

from dataclasses import dataclass

ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4")
SAFETY_SETTINGS: tuple[str, ...] = (
    "block_low_and_above",
    "block_medium_and_above",
    "block_only_high",
)
PERSON_GENERATION: tuple[str, ...] = ("dont_allow", "allow_adult")
MAX_IMAGES = 4
SEED_MAX = 4_294_967_295
API_CREDITS_PER_USD = 2_000_000

# Optional request parameters, by the name the API uses.
P_NUM_IMAGES = "num_images"
P_SEED = "seed"
P_ASPECT_RATIO = "aspect_ratio"
P_NEGATIVE_PROMPT = "negative_prompt"
P_ENHANCE_PROMPT = "enhance_prompt"
P_CONVERT_B64 = "convert_base64_to_url"
P_PERSON_GENERATION = "person_generation"
P_SAFETY_SETTING = "safety_setting"
P_ADD_WATERMARK = "add_watermark"

_CURRENT_PARAMS = frozenset(
    {
        P_NUM_IMAGES,
        P_SEED,
        P_ASPECT_RATIO,
        P_ENHANCE_PROMPT,
        P_CONVERT_B64,
        P_PERSON_GENERATION,
        P_SAFETY_SETTING,
        P_ADD_WATERMARK,
    }
)
# google/imagen4/preview as its seed document describes it.
_PREVIEW_PARAMS = frozenset({P_NUM_IMAGES, P_SEED, P_ASPECT_RATIO, P_NEGATIVE_PROMPT})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model row: what it is called, what it accepts and what it costs."""

    id: str
    name: str
    prompt_max: int
    credits_per_image: int
    api_credits_per_image: int
    params: frozenset[str]
    seed_min: int = 0
    seed_max: int = SEED_MAX
    deprecated: bool = False
    description: str = ""

    def accepts(self, param: str) -> bool:
        return param in self.params

    @property
    def usd_per_image(self) -> float:
        return self.api_credits_per_image / API_CREDITS_PER_USD


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="google/imagen-4.0-fast-generate-001",
        name="Imagen 4 Fast",
        prompt_max=400,
        credits_per_image=1,
        api_credits_per_image=42_000,
        params=_CURRENT_PARAMS,
        description="fastest, cheapest",
    ),
    ModelSpec(
        id="google/imagen-4.0-generate-001",
        name="Imagen 4",
        prompt_max=400,
        credits_per_image=2,
        api_credits_per_image=84_000,
        params=_CURRENT_PARAMS,
        description="balanced speed and quality",
    ),
    ModelSpec(
        id="google/imagen-4.0-ultra-generate-001",
        name="Imagen 4 Ultra",
        prompt_max=400,
        credits_per_image=3,
        api_credits_per_image=126_000,
        params=_CURRENT_PARAMS,
        description="photorealism and text rendering",
    ),
    ModelSpec(
        id="google/imagen4/preview",
        name="Imagen 4 Preview",
        prompt_max=4000,
        credits_per_image=2,
        api_credits_per_image=84_000,
        params=_PREVIEW_PARAMS,
        seed_min=1,
        description="long prompts, negative prompt",
    ),
    ModelSpec(
        id="imagen-4.0-ultra-generate-preview-06-06",
        name="Imagen 4 Ultra Preview",
        prompt_max=400,
        credits_per_image=3,
        api_credits_per_image=126_000,
        params=_CURRENT_PARAMS,
        deprecated=True,
        description="deprecated upstream",
    ),
)

_BY_ID: dict[str, ModelSpec] = {m.id: m for m in MODELS}


def get_model(model_id: str) -> ModelSpec | None:
    return _BY_ID.get(model_id)


def model_ids() -> tuple[str, ...]:
    return tuple(_BY_ID)
