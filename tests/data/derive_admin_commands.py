"""Derive tests/data/admin_commands.json: the synced payload of `/imagine-admin` and `/quota`.

The admin and quota commands were reshaped (issue 18) without changing what Discord sees; the
committed payload pins that. Run by hand after an intended change to those commands:

    python -m tests.data.derive_admin_commands [--check]

It starts the real bot against the fake Discord and keeps what the bot synced for the two
commands, with keys sorted so a re-run gives the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.harness import fake_stack, running_bot

OUTPUT = Path(__file__).resolve().parent / "admin_commands.json"
COMMANDS = ("imagine-admin", "quota")


async def synced_payload() -> list[dict[str, Any]]:
    """What the bot syncs for ``COMMANDS``, without the ids the fake assigns."""
    with tempfile.TemporaryDirectory() as tmp:
        async with fake_stack(Path(tmp)) as stack, running_bot(stack):
            synced = stack.discord.global_commands
    kept = [dict(c) for c in synced if c["name"] in COMMANDS]
    for command in kept:
        for key in ("id", "application_id", "version", "guild_id"):
            command.pop(key, None)
    return sorted(kept, key=lambda c: str(c["name"]))


def render(payload: list[dict[str, Any]]) -> str:
    return json.dumps(payload, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    text = render(asyncio.run(synced_payload()))
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is out of date", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
