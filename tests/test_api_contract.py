"""Every body the client builds must pass the upstream contract; the catalogue must agree with it.

The contract (tests/data/aimlapi_contract.json) is derived from the AI/ML API's OpenAPI files and
the seed pages by tests/data/derive_contract.py; the fake API validates each request against it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from bot.api.client import AimlApiClient
from bot.api.request import GenerationRequest, build_body
from bot.catalogue import (
    ASPECT_RATIOS,
    MAX_IMAGES,
    MODELS,
    P_CONVERT_B64,
    PERSON_GENERATION,
    SAFETY_SETTINGS,
    ModelSpec,
)
from tests.fakes.aimlapi import CONTRACT_PATH, FakeAimlApi
from tests.harness import AIMLAPI_KEY

KEY = AIMLAPI_KEY
CONTRACT: dict[str, Any] = json.loads(Path(CONTRACT_PATH).read_text(encoding="utf-8"))
SCHEMAS: dict[str, dict[str, Any]] = {
    m: entry["request_schema"] for m, entry in CONTRACT["models"].items()
}

# Server policy values, None meaning "not set by the server": sent on every request that takes them.
POLICIES: list[tuple[str | None, str | None, bool | None, bool | None]] = list(
    itertools.product(
        (None, *SAFETY_SETTINGS),
        (None, *PERSON_GENERATION),
        (None, False, True),
        (None, False, True),
    )
)


def seeds_for(model: ModelSpec) -> tuple[int | None, ...]:
    return (None, model.seed_min, 123_456, model.seed_max)


def negatives_for(model: ModelSpec) -> tuple[str | None, ...]:
    return (None, "blurry, text, watermark") if model.accepts("negative_prompt") else (None,)


def requests_for(model: ModelSpec) -> Iterator[GenerationRequest]:
    """Every aspect ratio x count x seed x negative prompt, the policy values cycled through all."""
    policies = itertools.cycle(POLICIES)
    combos = itertools.product(
        (None, *ASPECT_RATIOS), range(1, MAX_IMAGES + 1), seeds_for(model), negatives_for(model)
    )
    for aspect, count, seed, negative in combos:
        safety, person, watermark, enhance = next(policies)
        yield GenerationRequest(
            model=model,
            prompt="p" * model.prompt_max if count == MAX_IMAGES else "a lighthouse at dusk",
            count=count,
            aspect_ratio=aspect,
            seed=seed,
            negative_prompt=negative,
            enhance_prompt=enhance,
            safety_setting=safety,
            person_generation=person,
            add_watermark=watermark,
        )


# -- the contract file against the catalogue ----------------------------------------------------


def test_contract_has_exactly_the_catalogue_models() -> None:
    assert set(SCHEMAS) == {m.id for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_contract_matches_catalogue_row(model: ModelSpec) -> None:
    entry = CONTRACT["models"][model.id]
    schema = entry["request_schema"]
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"model", "prompt"}
    assert props["model"]["const"] == model.id
    assert props["prompt"]["maxLength"] == model.prompt_max
    assert set(props) - {"model", "prompt"} == set(model.params)
    assert props["seed"]["minimum"] == model.seed_min
    assert props["seed"]["maximum"] == model.seed_max
    assert props["num_images"]["maximum"] == MAX_IMAGES
    assert set(props["aspect_ratio"]["enum"]) == set(ASPECT_RATIOS)
    if "safety_setting" in props:
        assert set(props["safety_setting"]["enum"]) == set(SAFETY_SETTINGS)
    if "person_generation" in props:
        assert set(props["person_generation"]["enum"]) == set(PERSON_GENERATION)
    assert entry["success_status"] in (200, 201)


# (bot credits, API credits) per image: SPEC.md's 1/2/3, upstream's published 42k/84k/126k.
PRICES = {
    "google/imagen-4.0-fast-generate-001": (1, 42_000),
    "google/imagen-4.0-generate-001": (2, 84_000),
    "google/imagen-4.0-ultra-generate-001": (3, 126_000),
    "google/imagen4/preview": (2, 84_000),
    "imagen-4.0-ultra-generate-preview-06-06": (3, 126_000),
}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_prices_are_the_published_ones(model: ModelSpec) -> None:
    """The catalogue and the derived contract each against the literal figures, not each other."""
    assert (model.credits_per_image, model.api_credits_per_image) == PRICES[model.id]
    assert model.usd_per_image == pytest.approx(PRICES[model.id][1] / 2_000_000)
    assert CONTRACT["models"][model.id]["api_credits_per_image"] == PRICES[model.id][1]
    assert CONTRACT["credits_per_usd"] == 2_000_000


def test_preview_model_follows_seed_002() -> None:
    schema = SCHEMAS["google/imagen4/preview"]
    assert schema["properties"]["prompt"]["maxLength"] == 4000
    assert schema["properties"]["negative_prompt"] == {"type": "string"}
    assert schema["properties"]["seed"]["minimum"] == 1
    assert CONTRACT["models"]["google/imagen4/preview"]["success_status"] == 201


# -- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_every_built_body_validates(model: ModelSpec) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMAS[model.id])
    checked = 0
    for req in requests_for(model):
        body = build_body(req)
        errors = [e.message for e in validator.iter_errors(body)]
        assert errors == [], (body, errors)
        checked += 1
    assert checked >= len(ASPECT_RATIOS) * MAX_IMAGES * 3


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_body_sends_only_what_was_set_and_accepted(model: ModelSpec) -> None:
    bare = build_body(GenerationRequest(model=model, prompt="x"))
    expected = {"model": model.id, "prompt": "x", "num_images": 1}
    if model.accepts(P_CONVERT_B64):
        expected[P_CONVERT_B64] = True
    assert bare == expected

    full = build_body(
        GenerationRequest(
            model=model,
            prompt="x",
            count=3,
            aspect_ratio="9:16",
            seed=model.seed_min,
            negative_prompt="fog",
            enhance_prompt=False,
            safety_setting="block_only_high",
            person_generation="dont_allow",
            add_watermark=True,
        )
    )
    assert set(full) - {"model", "prompt"} == set(model.params)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": ""},
        {"prompt": "x" * 4001},
        {"count": 0},
        {"count": MAX_IMAGES + 1},
        {"aspect_ratio": "2:1"},
        {"seed": -1},
        {"seed": 2**32},
        {"safety_setting": "block_none"},
        {"person_generation": "allow_all"},
    ],
)
def test_request_refuses_values_the_contract_forbids(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"model": MODELS[3], "prompt": "x", **kwargs}
    with pytest.raises(ValueError):
        GenerationRequest(**args)


def test_preview_seed_zero_is_refused_before_sending() -> None:
    preview = next(m for m in MODELS if m.id == "google/imagen4/preview")
    with pytest.raises(ValueError):
        GenerationRequest(model=preview, prompt="x", seed=0)


# -- on the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
async def test_every_request_sent_passes_the_fake_contract(
    fake: FakeAimlApi, client: AimlApiClient, model: ModelSpec
) -> None:
    """Aspect ratio x count for each model over real HTTP, seeds/negatives/policies cycled."""
    reqs = list(requests_for(model))
    sent = []
    seen: set[tuple[str | None, int]] = set()
    for req in reqs:
        if (req.aspect_ratio, req.count) in seen:
            continue
        seen.add((req.aspect_ratio, req.count))
        result = await client.generate(req)
        assert len(result.images) == req.count
        sent.append(req)
    assert fake.contract_violations == []
    assert len(fake.requests) == len(sent) == (len(ASPECT_RATIOS) + 1) * MAX_IMAGES
    for recorded, req in zip(fake.requests, sent, strict=True):
        assert recorded.body == build_body(req)
        assert recorded.headers["Authorization"] == f"Bearer {KEY}"


async def test_cycled_options_reach_the_wire(fake: FakeAimlApi, client: AimlApiClient) -> None:
    """The seed, negative prompt and policy values of the wire test really vary across calls."""
    preview = next(m for m in MODELS if m.accepts("negative_prompt"))
    for req in itertools.islice(requests_for(preview), 0, 8):
        await client.generate(req)
    bodies = [r.body for r in fake.requests]
    assert {b.get("seed") for b in bodies} >= {None, 1, preview.seed_max}
    assert {b.get("negative_prompt") for b in bodies} == {None, "blurry, text, watermark"}
    assert fake.contract_violations == []


@pytest.mark.parametrize(
    ("model_id", "extra"),
    [
        ("google/imagen-4.0-fast-generate-001", {"negative_prompt": "fog"}),
        ("google/imagen-4.0-fast-generate-001", {"prompt": "x" * 401}),
        ("google/imagen-4.0-fast-generate-001", {"num_images": 5}),
        ("google/imagen4/preview", {"seed": 0}),
        ("google/imagen4/preview", {"safety_setting": "block_only_high"}),
        ("google/imagen4/preview", {"convert_base64_to_url": True}),
        ("imagen-4.0-ultra-generate-preview-06-06", {"aspect_ratio": "2:1"}),
    ],
)
async def test_fake_records_what_breaks_the_contract(
    fake: FakeAimlApi, model_id: str, extra: dict[str, Any]
) -> None:
    """The check above is only worth something if the fake notices a bad body."""
    body = {"model": model_id, "prompt": "x", **extra}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base_url}/v1/images/generations", json=body, headers=headers) as resp,
    ):
        assert resp.status == 400
        assert (await resp.json())["message"].startswith("Body validation error!")
    assert len(fake.contract_violations) == 1
