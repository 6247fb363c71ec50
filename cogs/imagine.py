"""/imagine: parse the options, hand them to the job runner. Everything else lives in ``bot/``."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts
from bot.catalogue import ASPECT_RATIOS, MAX_IMAGES, SEED_MAX
from bot.client import ImagenBot
from bot.errors import UserInputError
from bot.options import ImagineOptions
from bot.translator import declared
from cogs.transformers import Model

Interaction = discord.Interaction[ImagenBot]

ASPECT_SHAPES = {
    "1:1": texts.ASPECT_SQUARE,
    "16:9": texts.ASPECT_LANDSCAPE,
    "9:16": texts.ASPECT_PORTRAIT,
    "4:3": texts.ASPECT_LANDSCAPE,
    "3:4": texts.ASPECT_PORTRAIT,
}


def _check_types(*options: tuple[object, type]) -> None:
    """discord.py hands option values over as the payload has them. Discord checks their types;
    a forged payload need not, and a list where a string belongs must not reach the core."""
    for value, kind in options:
        wrong_bool = kind is not bool and isinstance(value, bool)
        if value is not None and (not isinstance(value, kind) or wrong_bool):
            raise UserInputError(texts.BAD_OPTION())


class ImagineCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(name=declared(texts.NAME_IMAGINE), description=declared(texts.IMAGINE))
    @app_commands.rename(
        prompt=declared(texts.OPTION_PROMPT),
        model=declared(texts.OPTION_MODEL),
        aspect_ratio=declared(texts.OPTION_ASPECT_RATIO),
        count=declared(texts.OPTION_COUNT),
        seed=declared(texts.OPTION_SEED),
        negative_prompt=declared(texts.OPTION_NEGATIVE_PROMPT),
        enhance_prompt=declared(texts.OPTION_ENHANCE_PROMPT),
        spoiler=declared(texts.OPTION_SPOILER),
        private=declared(texts.OPTION_PRIVATE),
    )
    @app_commands.describe(
        prompt=declared(texts.IMAGINE_PROMPT),
        model=declared(texts.IMAGINE_MODEL),
        aspect_ratio=declared(texts.IMAGINE_ASPECT_RATIO),
        count=declared(texts.IMAGINE_COUNT, limit=MAX_IMAGES),
        seed=declared(texts.IMAGINE_SEED),
        negative_prompt=declared(texts.IMAGINE_NEGATIVE_PROMPT),
        enhance_prompt=declared(texts.IMAGINE_ENHANCE_PROMPT),
        spoiler=declared(texts.IMAGINE_SPOILER),
        private=declared(texts.IMAGINE_PRIVATE),
    )
    @app_commands.choices(
        aspect_ratio=[
            app_commands.Choice(name=declared(ASPECT_SHAPES[a], ratio=a), value=a)
            for a in ASPECT_RATIOS
        ]
    )
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def imagine(
        self,
        interaction: Interaction,
        prompt: app_commands.Range[str, 1, 4000],
        model: Model = None,
        aspect_ratio: str | None = None,
        count: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
        seed: app_commands.Range[int, 0, SEED_MAX] | None = None,
        negative_prompt: app_commands.Range[str, 1, 4000] | None = None,
        enhance_prompt: bool | None = None,
        spoiler: bool | None = None,
        private: bool | None = None,
    ) -> None:
        _check_types(
            (prompt, str),
            (aspect_ratio, str),
            (count, int),
            (seed, int),
            (negative_prompt, str),
            (enhance_prompt, bool),
            (spoiler, bool),
            (private, bool),
        )
        options = ImagineOptions(
            prompt=prompt,
            model=model.id if model else None,
            aspect_ratio=aspect_ratio,
            count=count,
            seed=seed,
            negative_prompt=negative_prompt,
            enhance_prompt=enhance_prompt,
            spoiler=spoiler,
            private=private,
        )
        await self.bot.runner.start(interaction, self.bot.runner.request_from(interaction, options))


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(ImagineCog(bot))
