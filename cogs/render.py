"""Embeds more than one cog shows. A plain module, not an extension: no cog imports another."""

from __future__ import annotations

import discord

from bot import texts
from bot.catalogue import MODELS
from bot.ledger import Quota, discord_time
from bot.rendering import EMBED_COLOUR


def quota_embed(quota: Quota, *, title: str) -> discord.Embed:
    """A member's credits today: `/quota`, and `/imagine-admin budget show` for one member."""
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    usage = quota.usage
    embed.add_field(
        name=texts.QUOTA_USED(), value=texts.QUOTA_USED_VALUE(used=usage.used, total=quota.total)
    )
    embed.add_field(name=texts.QUOTA_LEFT(), value=texts.QUOTA_LEFT_VALUE(left=quota.left))
    embed.add_field(name=texts.QUOTA_RESETS(), value=discord_time(quota.reset_at))
    if usage.reserved:
        embed.add_field(
            name=texts.QUOTA_IN_PROGRESS(),
            value=texts.QUOTA_IN_PROGRESS_VALUE(credits=usage.reserved),
        )
    if usage.grants:
        embed.add_field(
            name=texts.QUOTA_EXTRA(), value=texts.QUOTA_EXTRA_VALUE(credits=usage.grants)
        )
    if quota.server_cap is not None:
        embed.add_field(
            name=texts.QUOTA_SERVER_CAP(),
            value=texts.QUOTA_SERVER_CAP_VALUE(used=quota.server_used, cap=quota.server_cap),
        )
    buys = [
        texts.QUOTA_BUYS_LINE(model=m.name, count=quota.left // m.credits_per_image)
        for m in MODELS
        if not m.deprecated
    ]
    embed.add_field(name=texts.QUOTA_BUYS(), value="\n".join(buys), inline=False)
    embed.set_footer(text=texts.QUOTA_FOOTER(source=quota.limit.source))
    return embed
