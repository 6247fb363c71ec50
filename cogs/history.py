"""/history: a member's own latest generations, privately, with links back to the images."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import texts
from bot.audit import jump_url
from bot.client import ImagenBot
from bot.moderation import sanitize_for_display
from bot.rendering import EMBED_COLOUR, NO_PINGS, model_name
from bot.storage import JobRow
from bot.translator import declared

HISTORY_LIMIT = 10


def history_line(n: int, row: JobRow) -> str:
    fields = {
        "n": n,
        "when": f"<t:{int(row.created_at)}:R>",
        "model": model_name(row.model),
        "images": texts.HISTORY_IMAGES(count=row.images_delivered),
        "prompt": sanitize_for_display(row.prompt.replace("\n", " "), 100),
    }
    if row.channel_id is None or row.message_id is None:
        return texts.HISTORY_LINE(**fields)
    url = jump_url(row.guild_id, row.channel_id, row.message_id)
    return texts.HISTORY_LINE_LINKED(url=url, **fields)


def history_embed(rows: list[JobRow], *, here: bool) -> discord.Embed:
    title = texts.HISTORY_TITLE_HERE() if here else texts.HISTORY_TITLE()
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    embed.description = "\n".join(history_line(n, r) for n, r in enumerate(rows, start=1))[:4000]
    return embed


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
        await interaction.response.send_message(
            embed=history_embed(rows, here=interaction.guild_id is not None),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(HistoryCog(bot))
