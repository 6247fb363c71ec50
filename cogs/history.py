"""/history: a member's own latest generations, privately, with links back to the images."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import texts
from bot.audit import result_url
from bot.client import ImagenBot
from bot.moderation import sanitize_for_display
from bot.options import ImagineOptions
from bot.rendering import EMBED_COLOUR, NO_PINGS, model_name
from bot.storage import JobRow
from bot.translator import declared

HISTORY_LIMIT = 10


def history_line(n: int, row: JobRow, dm_channel_id: int | None = None) -> str:
    fields = {
        "n": n,
        "when": f"<t:{int(row.created_at)}:R>",
        "model": model_name(row.model),
        "images": texts.HISTORY_IMAGES(count=row.images_delivered),
        "prompt": sanitize_for_display(row.prompt.replace("\n", " "), 100),
    }
    url = result_url(row, dm_channel_id=dm_channel_id)
    if url is None:
        return texts.HISTORY_LINE(**fields)
    return texts.HISTORY_LINE_LINKED(url=url, **fields)


def history_embed(
    rows: list[JobRow], *, here: bool, dm_channel_id: int | None = None
) -> discord.Embed:
    title = texts.HISTORY_TITLE_HERE() if here else texts.HISTORY_TITLE()
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    lines = (history_line(n, r, dm_channel_id) for n, r in enumerate(rows, start=1))
    embed.description = "\n".join(lines)[:4000]
    return embed


async def dm_channel_id(user: discord.User | discord.Member, rows: list[JobRow]) -> int | None:
    """The member's DM channel with the bot, where their private results are, if any are listed."""
    if not any(ImagineOptions.from_row(r).private for r in rows):
        return None
    if user.dm_channel is not None:
        return user.dm_channel.id
    try:
        return (await user.create_dm()).id
    except discord.HTTPException:
        return None  # listed without a link, as if the message were gone


class HistoryCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=declared(texts.NAME_HISTORY),
        description=locale_str("Your last 10 generations, with links"),
    )
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def history(self, interaction: discord.Interaction[ImagenBot]) -> None:
        # In a server: that server's generations; elsewhere: all of them.
        rows = await self.bot.db.reports.delivered_jobs(
            user_id=interaction.user.id, guild_id=interaction.guild_id, limit=HISTORY_LIMIT
        )
        if not rows:
            await interaction.response.send_message(texts.HISTORY_EMPTY(), ephemeral=True)
            return
        dm_id = await dm_channel_id(interaction.user, rows)
        await interaction.response.send_message(
            embed=history_embed(rows, here=interaction.guild_id is not None, dm_channel_id=dm_id),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(HistoryCog(bot))
