"""/help: what the bot can do, which models it offers and what they cost."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalogue import MAX_IMAGES, MODELS
from bot.client import ImagenBot

COMMANDS_TEXT = (
    "`/imagine prompt` — make 1-4 images; options: model, aspect_ratio, count, seed, "
    "negative_prompt, enhance_prompt\n"
    "`/quota` — your credits today and when they reset\n"
    "`/history` — your last 10 generations\n"
    "`/help` — this message\n"
    "`/imagine-admin …` — server settings, budgets and moderation (Manage Server)"
)


def help_embed(default_model: str, daily_credits: int) -> discord.Embed:
    embed = discord.Embed(
        title="Imagen Bot",
        description="Create images with Google's Imagen 4 models, right here.",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Commands", value=COMMANDS_TEXT, inline=False)
    lines = []
    for model in MODELS:
        note = " (default)" if model.id == default_model else ""
        flag = " — deprecated" if model.deprecated else ""
        lines.append(
            f"**{model.name}**{note}: {model.credits_per_image} credit"
            f"{'s' if model.credits_per_image != 1 else ''}/image, prompt ≤ {model.prompt_max} "
            f"chars{flag}"
        )
    embed.add_field(name="Models and costs", value="\n".join(lines), inline=False)
    embed.add_field(
        name="Limits",
        value=(
            f"Up to {MAX_IMAGES} images per request. Everyone gets {daily_credits} credits a day "
            "unless the server sets otherwise; failed generations are never charged."
        ),
        inline=False,
    )
    return embed


class HelpCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What Imagen Bot can do, its models and costs")
    async def help(self, interaction: discord.Interaction[ImagenBot]) -> None:
        settings = self.bot.settings
        await interaction.response.send_message(
            embed=help_embed(settings.default_model, settings.default_daily_credits),
            ephemeral=True,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(HelpCog(bot))
