"""What Discord is sent for `/imagine-admin` and `/quota` stays as committed: the admin cogs were
reshaped (issue 18) without changing a name, option, description or order of the command tree."""

from __future__ import annotations

import json

from tests.data.derive_admin_commands import OUTPUT, render, synced_payload


async def test_the_synced_admin_and_quota_commands_are_unchanged() -> None:
    expected = json.loads(OUTPUT.read_text(encoding="utf-8"))
    assert json.loads(render(await synced_payload())) == expected
