"""Derive tests/data/discord_contract.json from Discord's own OpenAPI description of its HTTP API.

Run by hand when the description is updated (the tests only read the committed JSON, because a
user's clone has no ../shared):

    python tests/data/derive_discord_contract.py [OPENAPI_JSON] [--check]

OPENAPI_JSON defaults to ../shared/discord-api-spec/openapi.json next to the project. That copy is
discord/discord-api-spec, file specs/openapi.json, at commit SOURCE_COMMIT (MIT licence; its notice
is carried into the output). The output keeps, for each route the fake Discord serves (the routes
the bot calls, see BOT_ROUTES), the operation and its JSON request body, plus every schema those
bodies reference, transitively. Two additions are derived, not invented: a ``discriminator`` for a
body that is a union of schemas told apart by an enumerated ``type`` (the interaction callback),
and the one documented relaxation in RELAXATIONS. Keys are sorted so a re-run gives the same file.
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
ROOT = HERE.parents[1]
OUTPUT = HERE / "discord_contract.json"
DEFAULT_OPENAPI = ROOT.parent / "shared" / "discord-api-spec" / "openapi.json"

SOURCE_REPOSITORY = "https://github.com/discord/discord-api-spec"
SOURCE_FILE = "specs/openapi.json"
SOURCE_COMMIT = "74fda0fad044407ea280043a03ffc9bc64c4e49e"
SOURCE_DATE = "2026-07-18"

# Every route the fake Discord (tests/fakes/discord.py) serves, as the description spells it.
# tests/test_discord_contract.py fails when the fake serves a route missing here.
BOT_ROUTES: list[tuple[str, str]] = [
    ("GET", "/users/@me"),
    ("GET", "/users/{user_id}"),
    ("POST", "/users/@me/channels"),
    ("GET", "/oauth2/applications/@me"),
    ("GET", "/applications/@me"),
    ("GET", "/gateway"),
    ("GET", "/gateway/bot"),
    ("GET", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ("GET", "/channels/{channel_id}"),
    ("GET", "/channels/{channel_id}/messages"),
    ("POST", "/channels/{channel_id}/messages"),
    ("GET", "/channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"),
    ("POST", "/channels/{channel_id}/typing"),
    ("GET", "/guilds/{guild_id}"),
    ("GET", "/guilds/{guild_id}/roles"),
    ("GET", "/guilds/{guild_id}/channels"),
    ("GET", "/guilds/{guild_id}/members/{user_id}"),
]

SCHEMA_PREFIX = "#/components/schemas/"

# Where the description is stricter than Discord itself, for a value discord.py sends.
SNOWFLAKE_INT_MAX = 2**64 - 1
RELAXATIONS: dict[str, dict[str, Any]] = {
    "SnowflakeType": {
        "why": (
            "The description types snowflakes as decimal strings; discord.py sends some as JSON "
            "integers (attachment ids, allowed_mentions.users, message_reference ids, a DM's "
            "recipient_id) and Discord accepts them, so a non-negative integer below 2**64 is "
            "accepted too."
        ),
        "add": {"type": "integer", "minimum": 0, "maximum": SNOWFLAKE_INT_MAX},
    }
}


def refs_in(node: Any) -> set[str]:
    """Names of the component schemas a schema fragment references directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith(SCHEMA_PREFIX):
                raise SystemExit(f"unexpected reference outside component schemas: {ref}")
            found.add(ref.removeprefix(SCHEMA_PREFIX))
        for value in node.values():
            found |= refs_in(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs_in(value)
    return found


def closure(roots: set[str], schemas: dict[str, Any]) -> dict[str, Any]:
    """The named schemas reachable from ``roots`` through ``$ref``."""
    kept: dict[str, Any] = {}
    pending = sorted(roots)
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        if name not in schemas:
            raise SystemExit(f"the description references a missing schema: {name}")
        kept[name] = schemas[name]
        pending.extend(sorted(refs_in(schemas[name]) - kept.keys()))
    return kept


def discriminator(body: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    """For a union whose members each fix ``type`` to an enum: which member each value picks."""
    members = body.get("anyOf") or body.get("oneOf")
    if not isinstance(members, list):
        return None
    mapping: dict[str, str] = {}
    for member in members:
        ref = member.get("$ref", "")
        target = schemas.get(ref.removeprefix(SCHEMA_PREFIX), {})
        values = target.get("properties", {}).get("type", {}).get("enum")
        if not ref or not isinstance(values, list):
            return None
        for value in values:
            if str(value) in mapping:
                raise SystemExit(f"type {value} picks two schemas: {mapping[str(value)]}, {ref}")
            mapping[str(value)] = ref
    return {"property": "type", "mapping": mapping}


def relax(schemas: dict[str, Any]) -> dict[str, Any]:
    """Apply RELAXATIONS to the kept schemas; record each original next to its reason."""
    applied: dict[str, Any] = {}
    for name, relaxation in RELAXATIONS.items():
        if name not in schemas:
            continue
        original = schemas[name]
        applied[name] = {"why": relaxation["why"], "original": original}
        schemas[name] = {"anyOf": [original, relaxation["add"]]}
    return applied


def check_commit(openapi_path: Path) -> None:
    """A README beside the file that names another commit means SOURCE_COMMIT is stale."""
    readme = openapi_path.with_name("README.md")
    if not readme.exists():
        return
    named = set(re.findall(r"\b[0-9a-f]{40}\b", readme.read_text(encoding="utf-8")))
    if named and SOURCE_COMMIT not in named:
        raise SystemExit(f"{readme} names commit(s) {sorted(named)}: update SOURCE_COMMIT")


def derive(openapi_path: Path) -> dict[str, Any]:
    check_commit(openapi_path)
    doc = json.loads(openapi_path.read_text(encoding="utf-8"))
    licence_path = openapi_path.with_name("LICENSE")
    schemas: dict[str, Any] = doc["components"]["schemas"]
    operations: dict[str, Any] = {}
    roots: set[str] = set()
    for method, path in BOT_ROUTES:
        try:
            op = doc["paths"][path][method.lower()]
        except KeyError:
            raise SystemExit(f"the description has no operation {method} {path}") from None
        entry: dict[str, Any] = {"method": method, "path": path, "request_body": None}
        body = op.get("requestBody")
        if body is not None:
            schema = body["content"]["application/json"]["schema"]
            entry["request_body"] = {"required": bool(body.get("required")), "schema": schema}
            picked = discriminator(schema, schemas)
            if picked is not None:
                entry["discriminator"] = picked
            roots |= refs_in(schema)
        operations[op["operationId"]] = entry
    kept = copy.deepcopy(closure(roots, schemas))
    relaxations = relax(kept)
    return {
        "$comment": (
            "Generated by tests/data/derive_discord_contract.py from Discord's OpenAPI "
            "description; do not edit by hand."
        ),
        "source": {
            "repository": SOURCE_REPOSITORY,
            "file": SOURCE_FILE,
            "commit": SOURCE_COMMIT,
            "date": SOURCE_DATE,
            "sha256": hashlib.sha256(openapi_path.read_bytes()).hexdigest(),
            "openapi": doc["openapi"],
            "api_version": doc["info"]["version"],
            "licence": doc["info"]["license"]["identifier"],
            "licence_notice": licence_path.read_text(encoding="utf-8").strip(),
        },
        "relaxations": relaxations,
        "operations": operations,
        "components": {"schemas": kept},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("openapi", type=Path, nargs="?", default=DEFAULT_OPENAPI)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output is out of date")
    args = parser.parse_args(argv)
    text = json.dumps(derive(args.openapi), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
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
