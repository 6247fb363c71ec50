"""Discord's own published contract, derived for the routes the bot calls (issue 19).

tests/data/discord_contract.json is derived from Discord's OpenAPI description of its HTTP API by
tests/data/derive_discord_contract.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CONTRACT_PATH = Path(__file__).resolve().parent / "data" / "discord_contract.json"
CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
SOURCE_COMMIT = "74fda0fad044407ea280043a03ffc9bc64c4e49e"
CALLBACK_ROUTE = "POST /interactions/{interaction_id}/{interaction_token}/callback"


# -- the committed file -------------------------------------------------------------------------


def test_contract_file_names_its_source_commit_and_licence() -> None:
    source = CONTRACT["source"]
    assert source["repository"] == "https://github.com/discord/discord-api-spec"
    assert source["file"] == "specs/openapi.json"
    assert source["commit"] == SOURCE_COMMIT
    assert source["date"] == "2026-07-18"
    assert source["openapi"].startswith("3.1") and source["api_version"] == "10"
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    assert source["licence"] == "MIT"
    notice = source["licence_notice"]
    assert notice.startswith("MIT License") and "Copyright 2023 Discord" in notice
    assert "Permission is hereby granted, free of charge" in notice
    assert "derive_discord_contract.py" in CONTRACT["$comment"]


def test_contract_file_is_sorted_and_holds_every_schema_it_references() -> None:
    text = CONTRACT_PATH.read_text(encoding="utf-8")
    canonical = json.dumps(CONTRACT, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == canonical, "re-run tests/data/derive_discord_contract.py"
    schemas = CONTRACT["components"]["schemas"]
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs and refs <= schemas.keys()
    bodies = [op for op in CONTRACT["operations"].values() if op["request_body"]]
    assert {op["path"] for op in bodies} >= {
        "/interactions/{interaction_id}/{interaction_token}/callback",
        "/applications/{application_id}/commands",
        "/applications/{application_id}/guilds/{guild_id}/commands",
        "/webhooks/{webhook_id}/{webhook_token}",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        "/channels/{channel_id}/messages",
    }


def test_the_callback_schema_is_chosen_by_type() -> None:
    (callback,) = [op for op in CONTRACT["operations"].values() if op["path"] in CALLBACK_ROUTE]
    mapping = callback["discriminator"]["mapping"]
    prefix = "#/components/schemas/"
    assert {k: v.removeprefix(prefix) for k, v in mapping.items() if int(k) <= 9} == {
        "1": "PongInteractionCallbackRequest",
        "4": "CreateMessageInteractionCallbackRequest",
        "5": "CreateMessageInteractionCallbackRequest",
        "6": "UpdateMessageInteractionCallbackRequest",
        "7": "UpdateMessageInteractionCallbackRequest",
        "8": "ApplicationCommandAutocompleteCallbackRequest",
        "9": "ModalInteractionCallbackRequest",
    }
