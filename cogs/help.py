"""/help: what the bot can do, which models it offers and what they cost."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import texts
from bot.catalogue import MAX_IMAGES, MODELS, ModelSpec
from bot.client import ImagenBot
from bot.translator import declared


def model_line(model: ModelSpec, default_model: str) -> str:
    name = texts.HELP_MODEL_DEFAULT(name=model.name) if model.id == default_model else model.name
    line = texts.HELP_MODEL(name=name, count=model.credits_per_image, prompt_max=model.prompt_max)
    return texts.HELP_MODEL_DEPRECATED(line=line) if model.deprecated else line


def help_embed(default_model: str, daily_credits: int) -> discord.Embed:
    embed = discord.Embed(
        title=texts.HELP_TITLE(),
        description=texts.HELP_DESCRIPTION(),
        colour=discord.Colour.blurple(),
    )
    commands_text = texts.HELP_COMMANDS(max_images=MAX_IMAGES)
    embed.add_field(name=texts.HELP_COMMANDS_FIELD(), value=commands_text, inline=False)
    lines = [model_line(model, default_model) for model in MODELS]
    embed.add_field(name=texts.HELP_MODELS_FIELD(), value="\n".join(lines), inline=False)
    embed.add_field(
        name=texts.HELP_LIMITS_FIELD(),
        value=texts.HELP_LIMITS(max_images=MAX_IMAGES, daily_credits=daily_credits),
        inline=False,
    )
    return embed


class HelpCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=declared(texts.NAME_HELP),
        description=locale_str("What Imagen Bot can do, its models and costs"),
    )
    async def help(self, interaction: discord.Interaction[ImagenBot]) -> None:
        settings = self.bot.settings
        await interaction.response.send_message(
            embed=help_embed(settings.default_model, settings.default_daily_credits),
            ephemeral=True,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(HelpCog(bot))
