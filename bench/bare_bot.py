"""The baseline: a bare discord.py bot with the bot's intents whose /imagine only defers.

Run by the benchmarks as a child process (``python -m bench.bare_bot``) against the fake Discord,
configured like the real bot through DISCORD_TOKEN, DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL;
with SHARD_COUNT (a number) and SHARD_IDS (``0-1`` or ``0,2``) it is an ``AutoShardedClient`` that
runs those shards. It imports nothing of ``bot/`` so its memory is discord.py's alone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4")


class BareBot(discord.Client):
    def __init__(self, **options: Any) -> None:
        super().__init__(intents=discord.Intents(guilds=True), **options)
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(imagine)

    @property
    def syncs_commands(self) -> bool:
        return True

    async def setup_hook(self) -> None:
        if self.syncs_commands:
            await self.tree.sync()

    async def on_ready(self) -> None:
        # The bot's treatment of its heap at READY (bot/client.py freeze_heap), so that both
        # start their bursts with the same generations; left alone, this process meets a full
        # collection of 25-30 ms over discord.py's and aiohttp's modules at some point of its
        # bursts, and the baseline's tail becomes a matter of when that falls.
        gc.collect()
        gc.freeze()
        print(f"bare bot ready: {len(self.guilds)} guilds", flush=True)


class BareShardedBot(BareBot, discord.AutoShardedClient):
    """Some shards of a cluster; like the bot, only the process running shard 0 syncs."""

    @property
    def syncs_commands(self) -> bool:
        return 0 in (self.shard_ids or [0])


def shard_ids(raw: str) -> list[int]:
    """``0-1``, ``0,2`` or a mix."""
    ids: set[int] = set()
    for part in raw.split(","):
        first, _, last = part.strip().partition("-")
        ids.update(range(int(first), int(last or first) + 1))
    return sorted(ids)


@app_commands.command(name="imagine", description="Create images from a text prompt")
@app_commands.choices(aspect_ratio=[app_commands.Choice(name=a, value=a) for a in ASPECTS])
async def imagine(
    interaction: discord.Interaction,
    prompt: app_commands.Range[str, 1, 4000],
    model: app_commands.Range[str, 1, 100] | None = None,
    aspect_ratio: str | None = None,
    count: app_commands.Range[int, 1, 4] | None = None,
    seed: app_commands.Range[int, 0, 4294967295] | None = None,
    negative_prompt: app_commands.Range[str, 1, 4000] | None = None,
    enhance_prompt: bool | None = None,
) -> None:
    await interaction.response.defer(thinking=True)


async def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
    gateway = os.environ.get("DISCORD_GATEWAY_URL")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    count = os.environ.get("SHARD_COUNT")
    client = (
        BareBot()
        if count is None
        else BareShardedBot(
            shard_count=int(count),
            shard_ids=shard_ids(os.environ.get("SHARD_IDS") or f"0-{int(count) - 1}"),
        )
    )
    async with client:
        await client.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main())
