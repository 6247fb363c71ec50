"""`/quota`: a member's credits today, wherever they use the bot."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import texts
from bot.client import ImagenBot
from bot.jobs.access import guild_installed, member_role_ids
from bot.rendering import NO_PINGS
from bot.translator import declared
from cogs.render import quota_embed

Interaction = discord.Interaction[ImagenBot]


class QuotaCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=declared(texts.NAME_QUOTA),
        description=locale_str("Your credits today and when they reset"),
    )
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def quota(self, interaction: Interaction) -> None:
        # A server's budgets apply where it installed the bot; elsewhere the personal one does.
        guild_id = interaction.guild_id if guild_installed(interaction) else None
        quota = await self.bot.services.admin.quota(
            guild_id, interaction.user.id, member_role_ids(interaction)
        )
        await interaction.response.send_message(
            embed=quota_embed(quota, title=texts.QUOTA_TITLE()),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(QuotaCog(bot))
