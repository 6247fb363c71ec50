"""Derive tests/data/aimlapi_contract.json from the AI/ML API's OpenAPI files and seed documents.

Run by hand when the upstream documents change (the tests only read the committed JSON, because a
user's clone has no ../shared):

    python tests/data/derive_contract.py [--shared ../shared] [--check]

Per model it writes a strict JSON Schema of the request body (the OpenAPI schema with defaults and
prose removed, ``additionalProperties: false``, ``num_images`` at least 1, ``prompt`` non-empty),
the success status, a response schema, example responses and the API credits one image costs (from
the README's published prices, checked against the usage the seed examples report), so the fake
reports upstream's figures and never the catalogue's. ``google/imagen4/preview`` follows
its seed document (002) where that disagrees with the OpenAPI file, as the product does; the facts
taken from the seed are checked against its text so a changed seed fails loudly, not silently.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "aimlapi_contract.json"
DEFAULT_SHARED = HERE.parents[2] / "shared"
ENDPOINT = "/v1/images/generations"
JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
ERROR_BODY_KEYS = ["message", "path", "requestId", "statusCode", "timestamp"]

# The README's price line and the price family each model belongs to (the previews bill as the
# model they preview); every family must be priced there.
PRICE_LINE = re.compile(r"Example costs per 16:9 image:(?P<prices>[^.]*?);")
USD_LINE = re.compile(r"(?P<credits>[\d,]+) credits = 1 USD")
PRICE_ITEM = re.compile(r"(?P<family>Ultra|Imagen 4|Fast) (?P<credits>[\d,]+)(?: credits)?")
PRICE_FAMILY = {
    "google/imagen-4.0-fast-generate-001": "Fast",
    "google/imagen-4.0-generate-001": "Imagen 4",
    "google/imagen-4.0-ultra-generate-001": "Ultra",
    "google/imagen4/preview": "Imagen 4",
    "imagen-4.0-ultra-generate-preview-06-06": "Ultra",
}

# Keys of an OpenAPI schema object that say nothing a validator checks.
_PROSE_KEYS = {"description", "default", "example", "examples", "title", "x-hideTryItPanel"}

# The seed-002 model as the product keeps it (see ../shared/aimlapi/README.md).
SEED_002_MODEL = "google/imagen4/preview"
SEED_002_PARAMS = ["model", "prompt", "aspect_ratio", "num_images", "seed", "negative_prompt"]
SEED_002_PROMPT_MAX = 4000
SEED_002_SEED_MIN = 1
SEED_002_SUCCESS = 201
# Fragments of the seed's text that state those facts; all must be present.
SEED_002_EVIDENCE = [
    "promptstring · max: 4000",
    "negative_promptstring",
    "num_imagesnumber · min: 1 · max: 4",
    "seedinteger · min: 1",
    '"model": "google/imagen4/preview"',
    "201Success",
]
# The answer of that era, as the README describes it (the seed itself shows "No content").
SEED_002_ERA_EXAMPLE: dict[str, Any] = {
    "images": [
        {
            "url": "https://cdn.aimlapi.com/generations/example/1750000000000-seed002.png",
            "content_type": "image/png",
            "file_name": "1750000000000-seed002.png",
            "file_size": 1843200,
        }
    ],
    "seed": 42,
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strip_prose(schema: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: drop prose and defaults, turn ``nullable`` into a null type."""
    if isinstance(schema, list):
        return [strip_prose(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _PROSE_KEYS or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: strip_prose(sub) for name, sub in value.items()}
        else:
            out[key] = strip_prose(value)
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def request_schema(model_id: str, openapi_schema: dict[str, Any]) -> dict[str, Any]:
    """The strict request-body schema: every documented constraint, nothing undocumented allowed."""
    schema = strip_prose(openapi_schema)
    props: dict[str, Any] = schema["properties"]
    if props["model"].get("enum") != [model_id]:
        enum = props["model"].get("enum")
        raise SystemExit(f"{model_id}: the OpenAPI file's model enum is {enum}")
    props["model"] = {"type": "string", "const": model_id}
    # An empty prompt is never meant; README: "maximum 4 (minimum 1 in practice)".
    props["prompt"]["minLength"] = 1
    if "num_images" in props:
        props["num_images"]["minimum"] = 1
    schema["additionalProperties"] = False
    schema["required"] = sorted(schema.get("required", []))
    return {"$schema": JSON_SCHEMA_DRAFT, **schema}


def apply_seed_002(schema: dict[str, Any], seed_text: str) -> dict[str, Any]:
    """Narrow/extend the preview model's schema to what seed 002 documents."""
    missing = [fact for fact in SEED_002_EVIDENCE if fact not in seed_text]
    if missing:
        raise SystemExit(f"seed 002 no longer states: {missing}")
    schema = copy.deepcopy(schema)
    props: dict[str, Any] = schema["properties"]
    props["negative_prompt"] = {"type": "string"}
    props["prompt"]["maxLength"] = SEED_002_PROMPT_MAX
    props["seed"]["minimum"] = SEED_002_SEED_MIN
    schema["properties"] = {name: props[name] for name in SEED_002_PARAMS}
    return schema


def response_schema(openapi_op: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    responses: dict[str, Any] = openapi_op["responses"]
    (status, response), *_ = responses.items()
    body = response["content"]["application/json"]["schema"]
    return int(status), {"$schema": JSON_SCHEMA_DRAFT, **strip_prose(body)}


def schema_example(openapi_schema: dict[str, Any]) -> Any:
    """An example instance built from the schema's own ``example`` values."""
    if "example" in openapi_schema:
        return openapi_schema["example"]
    kind = openapi_schema.get("type")
    if kind == "object":
        return {k: schema_example(v) for k, v in openapi_schema.get("properties", {}).items()}
    if kind == "array":
        return [schema_example(openapi_schema.get("items", {}))]
    return None


def json_objects(text: str) -> list[Any]:
    """Every top-level JSON object embedded in a seed page's text."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    pos = 0
    while (start := text.find("{", pos)) != -1:
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        found.append(obj)
        pos = end
    return found


def seed_examples(seed_text: str) -> list[Any]:
    """Response bodies shown in a seed page (any object carrying one of the known image keys)."""
    return [
        obj
        for obj in json_objects(seed_text)
        if isinstance(obj, dict) and {"data", "images", "output"} & obj.keys()
    ]


def models_in(seed_text: str, model_ids: list[str]) -> list[str]:
    return [m for m in model_ids if re.search(rf"[\"'`•]\s*{re.escape(m)}[\"'`\s]", seed_text)]


def published_prices(readme: str) -> dict[str, int]:
    """Family -> API credits per image, from the README's "Example costs" line."""
    line = PRICE_LINE.search(" ".join(readme.split()))
    if line is None:
        raise SystemExit("aimlapi/README.md no longer states the example costs per image")
    prices = {
        m["family"]: int(m["credits"].replace(",", ""))
        for m in PRICE_ITEM.finditer(line["prices"])
    }
    missing = set(PRICE_FAMILY.values()) - set(prices)
    if missing:
        raise SystemExit(f"aimlapi/README.md prices no family {sorted(missing)}")
    return prices


def credits_per_usd(readme: str) -> int:
    found = USD_LINE.search(" ".join(readme.split()))
    if found is None:
        raise SystemExit("aimlapi/README.md no longer states how many credits make 1 USD")
    return int(found["credits"].replace(",", ""))


def reported_usage(example: Any) -> int | None:
    """API credits a one-image seed example reports (credits_used or the older tokens_used)."""
    meta = example.get("meta") if isinstance(example, dict) else None
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(usage, dict) or len(example.get("data") or []) != 1:
        return None
    value = usage.get("credits_used", usage.get("tokens_used"))
    return int(value) if isinstance(value, int | float) else None


def apply_prices(models: dict[str, Any], prices: dict[str, int]) -> None:
    """Each model's price; a seed example reporting another figure for its model fails loudly."""
    for model_id, entry in models.items():
        if model_id not in PRICE_FAMILY:
            raise SystemExit(f"{model_id}: no price family; add it to PRICE_FAMILY")
        price = prices[PRICE_FAMILY[model_id]]
        for example in entry["response_examples"]:
            seen = reported_usage(example["body"])
            if example["source"].startswith("seeds/") and seen not in (None, price):
                raise SystemExit(f"{model_id}: {example['source']} reports {seen}, README {price}")
        entry["api_credits_per_image"] = price


def derive(shared: Path) -> dict[str, Any]:
    api_dir = shared / "aimlapi"
    seed_dir = shared / "seeds"
    sources: dict[str, str] = {}
    models: dict[str, Any] = {}
    for path in sorted(api_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        op = doc["paths"][ENDPOINT]["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        model_id = body["title"]
        status, resp_schema = response_schema(op)
        resp_body = op["responses"][str(status)]["content"]["application/json"]["schema"]
        models[model_id] = {
            "sources": [f"aimlapi/{path.name}"],
            "request_schema": request_schema(model_id, body),
            "success_status": status,
            "response_schema": resp_schema,
            "response_examples": [
                {
                    "source": f"aimlapi/{path.name} (schema examples)",
                    "body": schema_example(resp_body),
                }
            ],
        }
        sources[f"aimlapi/{path.name}"] = sha256(path)

    ids = sorted(models)
    for path in sorted(seed_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        rel = f"seeds/{path.name}"
        sources[rel] = sha256(path)
        for model_id in models_in(text, ids):
            entry = models[model_id]
            entry["sources"].append(rel)
            entry["response_examples"].extend(
                {"source": rel, "body": body} for body in seed_examples(text)
            )
            if path.name.startswith("002_"):
                if model_id != SEED_002_MODEL:
                    raise SystemExit(f"seed 002 names {model_id}, expected {SEED_002_MODEL}")
                entry["request_schema"] = apply_seed_002(entry["request_schema"], text)
                entry["success_status"] = SEED_002_SUCCESS
                entry["response_examples"].append(
                    {"source": "aimlapi/README.md (seed-002 era)", "body": SEED_002_ERA_EXAMPLE}
                )
    if not any("seeds/002_" in s for s in models.get(SEED_002_MODEL, {}).get("sources", [])):
        raise SystemExit(f"no seed 002 document found for {SEED_002_MODEL}")
    readme = api_dir / "README.md"
    readme_text = readme.read_text(encoding="utf-8")
    apply_prices(models, published_prices(readme_text))
    sources["aimlapi/README.md"] = sha256(readme)

    return {
        "$comment": (
            "Generated by tests/data/derive_contract.py from ../shared/aimlapi/*.json, "
            "../shared/aimlapi/README.md and ../shared/seeds/*.txt; do not edit by hand."
        ),
        "endpoint": {"method": "POST", "path": ENDPOINT, "auth": "Authorization: Bearer <key>"},
        "credits_per_usd": credits_per_usd(readme_text),
        "error_body_keys": ERROR_BODY_KEYS,
        "sources": dict(sorted(sources.items())),
        "models": {m: models[m] for m in ids},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is out of date")
    args = parser.parse_args(argv)
    text = json.dumps(derive(args.shared), indent=2, ensure_ascii=False) + "\n"
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
