"""Every documented answer shape parses; usage comes from each of its sources; junk is refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from bot.api import AimlApiClient, GenerationRequest
from bot.api.response import parse_response
from bot.catalogue import MODELS
from bot.errors import MalformedResponseError, NoImagesError
from tests.fakes.aimlapi import CONTRACT_PATH, SHAPES, SIZES, FakeAimlApi, Fault, Shape
from tests.harness import AIMLAPI_KEY

KEY = AIMLAPI_KEY
CONTRACT: dict[str, Any] = json.loads(Path(CONTRACT_PATH).read_text(encoding="utf-8"))
URL = "https://cdn.aimlapi.com/generations/guepard/1758237214798-b22381b0.png"
FAST = MODELS[0]
PREVIEW = next(m for m in MODELS if m.id == "google/imagen4/preview")
# API credits per image as upstream publishes them (aimlapi/README.md; 2,000,000 = 1 USD).
PUBLISHED_API_CREDITS = {
    "google/imagen-4.0-fast-generate-001": 42_000,
    "google/imagen-4.0-generate-001": 84_000,
    "google/imagen-4.0-ultra-generate-001": 126_000,
    "google/imagen4/preview": 84_000,
    "imagen-4.0-ultra-generate-preview-06-06": 126_000,
}


# -- parse_response, pure ------------------------------------------------------------------------


def test_current_shape_with_url_mime_enhanced_prompt_and_credits() -> None:
    payload = {
        "data": [{"url": URL, "b64_json": None, "mime_type": "image/png", "prompt": "a raccoon"}],
        "meta": {"usage": {"credits_used": 126000}},
    }
    parsed = parse_response(payload, {"x-inference-id": "inf-1"})
    assert [(r.url, r.b64, r.mime_type) for r in parsed.images] == [(URL, None, "image/png")]
    assert parsed.enhanced_prompt == "a raccoon"
    assert parsed.api_credits == 126000
    assert parsed.usd == pytest.approx(0.063)
    assert parsed.inference_id == "inf-1"
    assert parsed.seed is None


def test_b64_json_items() -> None:
    parsed = parse_response({"data": [{"url": None, "b64_json": "iVBORw0KGgo="}], "meta": None}, {})
    assert parsed.images[0].b64 == "iVBORw0KGgo="
    assert parsed.images[0].url is None
    assert parsed.api_credits is None
    assert parsed.usd is None


def test_tokens_used_counts_as_credits() -> None:
    parsed = parse_response({"data": [{"url": URL}], "meta": {"usage": {"tokens_used": 42000}}}, {})
    assert parsed.api_credits == 42000
    assert parsed.usd == pytest.approx(0.021)


def test_credits_from_header_when_the_body_has_none() -> None:
    parsed = parse_response({"data": [{"url": URL}]}, {"X-AIMLAPI-Credits-Used": "84000"})
    assert parsed.api_credits == 84000
    assert parsed.usd == pytest.approx(0.042)


def test_usd_header_wins_over_computed_usd() -> None:
    parsed = parse_response(
        {"data": [{"url": URL}], "meta": {"usage": {"credits_used": 84000}}},
        {"x-aimlapi-usd-spent": "0.05", "x-aimlapi-credits-used": "1"},
    )
    assert parsed.api_credits == 84000  # the body comes first for credits
    assert parsed.usd == 0.05


def test_older_usd_spent_in_body() -> None:
    payload = {"data": [{"url": URL}], "meta": {"usage": {"credits_used": 2, "usd_spent": 0.06}}}
    assert parse_response(payload, {}).usd == 0.06


def test_unreadable_header_numbers_are_ignored() -> None:
    parsed = parse_response({"data": [{"url": URL}]}, {"x-aimlapi-credits-used": "lots"})
    assert parsed.api_credits is None


def test_boolean_is_not_a_credit_count() -> None:
    parsed = parse_response({"data": [{"url": URL}], "meta": {"usage": {"credits_used": True}}}, {})
    assert parsed.api_credits is None


def test_seed_002_era_images_shape() -> None:
    payload = {
        "images": [
            {"url": URL, "content_type": "image/jpeg", "file_name": "a.jpg", "file_size": 10},
            {"url": URL + "?2", "content_type": "image/png", "file_name": "b.png"},
        ],
        "seed": 42,
    }
    parsed = parse_response(payload, {})
    assert [(r.url, r.mime_type, r.file_name) for r in parsed.images] == [
        (URL, "image/jpeg", "a.jpg"),
        (URL + "?2", "image/png", "b.png"),
    ]
    assert parsed.seed == 42


def test_seed_000_output_choices_shape() -> None:
    payload = {"status": "completed", "output": {"choices": [{"image_base64": "AAAA"}]}}
    parsed = parse_response(payload, {})
    assert [r.b64 for r in parsed.images] == ["AAAA"]


def test_items_without_any_image_are_skipped() -> None:
    parsed = parse_response({"data": [{"url": None, "b64_json": None}, {"url": URL}]}, {})
    assert [r.url for r in parsed.images] == [URL]


@pytest.mark.parametrize(
    "payload",
    [
        {"data": None, "meta": None},
        {"data": []},
        {"data": [{"url": None, "b64_json": None}]},
        {"images": []},
        {"output": {"choices": []}},
        {"output": {"choices": None}},
    ],
)
def test_no_images(payload: dict[str, Any]) -> None:
    with pytest.raises(NoImagesError) as info:
        parse_response(payload, {})
    assert info.value.error_class == "no_images"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "data",
        42,
        {},
        {"result": [{"url": URL}]},
        {"data": "https://x"},
        {"data": {"url": URL}},
        {"data": ["https://x"]},
        {"data": [{"url": 5}]},
        {"data": [{"b64_json": ["x"]}]},
        {"images": [{"url": {"href": URL}}]},
        {"output": []},
        {"output": {"choices": "x"}},
    ],
)
def test_malformed(payload: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_response(payload, {})


def test_every_example_in_the_contract_parses() -> None:
    """The examples come from the upstream docs and seeds: each must read as at least one image."""
    count = 0
    for model_id, entry in CONTRACT["models"].items():
        for example in entry["response_examples"]:
            parsed = parse_response(example["body"], {})
            assert parsed.images, (model_id, example["source"])
            count += 1
    assert count >= 10


def test_seed_examples_carry_enhanced_prompt_and_usage() -> None:
    example = next(
        e["body"]
        for e in CONTRACT["models"]["google/imagen-4.0-ultra-generate-001"]["response_examples"]
        if e["source"].startswith("seeds/")
    )
    parsed = parse_response(example, {})
    assert parsed.enhanced_prompt and "raccoon" in parsed.enhanced_prompt
    assert parsed.api_credits == 126000


# -- through the client and the fake -------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
async def test_every_shape_end_to_end(
    fake: FakeAimlApi, client: AimlApiClient, shape: Shape
) -> None:
    fake.shape = shape
    req = GenerationRequest(model=FAST, prompt="a lighthouse", count=3, aspect_ratio="16:9", seed=7)
    result = await client.generate(req)
    assert len(result.images) == 3
    assert result.missing == 0
    assert {(i.width, i.height) for i in result.images} == {SIZES["16:9"]}
    assert {i.extension for i in result.images} == {"png"}
    assert {i.mime_type for i in result.images} == {"image/png"}
    assert len({i.data for i in result.images}) == 3  # a distinct colour per image
    assert result.api_credits == 126_000  # 3 x 42,000
    assert result.usd == pytest.approx(0.063)
    assert result.inference_id
    assert result.seed == 7
    assert result.attempts == 1
    assert result.requested == 3
    if shape in ("data_url", "data_b64", "data_tokens_used"):
        assert result.enhanced_prompt and result.enhanced_prompt.startswith("a lighthouse")
    else:
        assert result.enhanced_prompt is None
    expect_downloads = 3 if shape in ("data_url", "data_tokens_used", "images") else 0
    assert len(fake.file_requests) == expect_downloads
    assert fake.contract_violations == []


@pytest.mark.parametrize("aspect", list(SIZES))
async def test_sizes_follow_aspect_ratio(client: AimlApiClient, aspect: str) -> None:
    result = await client.generate(GenerationRequest(model=FAST, prompt="x", aspect_ratio=aspect))
    assert (result.images[0].width, result.images[0].height) == SIZES[aspect]


async def test_usage_from_headers_only(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.shape = "images"
    result = await client.generate(GenerationRequest(model=PREVIEW, prompt="x", count=2))
    assert result.api_credits == 168_000  # 2 x 84,000
    fake.usage_headers = False
    result = await client.generate(GenerationRequest(model=PREVIEW, prompt="x"))
    assert result.api_credits is None
    assert result.usd is None


async def test_enhanced_prompt_absent_when_disabled(client: AimlApiClient) -> None:
    req = GenerationRequest(model=FAST, prompt="x", enhance_prompt=False)
    assert (await client.generate(req)).enhanced_prompt is None


async def test_fewer_images_than_asked(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(images=2))
    result = await client.generate(GenerationRequest(model=FAST, prompt="x", count=4))
    assert len(result.images) == 2
    assert result.requested == 4
    assert result.missing == 2
    assert result.api_credits == 84_000  # 2 x 42,000


async def test_more_images_than_asked_are_cut(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(images=3))
    result = await client.generate(GenerationRequest(model=FAST, prompt="x", count=1))
    assert len(result.images) == 1
    assert len(fake.file_requests) == 1


async def test_one_shape_for_the_next_call_only(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.inject(Fault(shape="output_choices"))
    await client.generate(GenerationRequest(model=FAST, prompt="x"))
    await client.generate(GenerationRequest(model=FAST, prompt="x"))
    assert len(fake.file_requests) == 1  # only the second call answered with a URL


async def test_success_status_per_model(fake: FakeAimlApi) -> None:
    """The preview model answers 201 as in its seed, the others 200: the client takes both."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        for model in MODELS:
            body = {"model": model.id, "prompt": "x"}
            async with session.post(
                f"{fake.base_url}/v1/images/generations", json=body, headers=headers
            ) as resp:
                assert resp.status == CONTRACT["models"][model.id]["success_status"]


@pytest.mark.parametrize("shape", ["data_url", "data_b64"])
async def test_fake_answers_match_the_response_schema(fake: FakeAimlApi, shape: Shape) -> None:
    fake.shape = shape
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as session:
        for model in MODELS:
            body = {"model": model.id, "prompt": "x", "num_images": 2}
            async with session.post(
                f"{fake.base_url}/v1/images/generations", json=body, headers=headers
            ) as resp:
                payload = await resp.json()
            schema = CONTRACT["models"][model.id]["response_schema"]
            jsonschema.validate(payload, schema)
            assert len(payload["data"]) == 2
            credits = 2 * PUBLISHED_API_CREDITS[model.id]
            assert payload["meta"]["usage"]["credits_used"] == credits
            assert resp.headers["x-aimlapi-credits-used"] == str(credits)
            assert float(resp.headers["x-aimlapi-usd-spent"]) == pytest.approx(credits / 2_000_000)


async def test_concurrent_calls_are_tracked(fake: FakeAimlApi, client: AimlApiClient) -> None:
    fake.latency = 0.05
    req = GenerationRequest(model=FAST, prompt="x")
    await asyncio.gather(*(client.generate(req) for _ in range(4)))
    assert fake.max_in_flight == 4
    assert fake.in_flight == 0
