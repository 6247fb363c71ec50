"""Option types shared by the slash commands: a model named by id or display name.

``Model`` turns what a member picked or typed into a catalogue ``ModelSpec`` and offers the
models enabled in the server as autocomplete. ``/imagine`` uses it; the admin commands can too.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot import texts
from bot.catalogue import ModelSpec
from bot.errors import UserInputError
from bot.moderation import sanitize_for_display
from bot.options import find_model

MODEL_NAME_MAX = 100


class OptionError(UserInputError, app_commands.AppCommandError):
    """A bad option found while transforming it: an ``AppCommandError``, so discord.py hands it
    to the tree's handler as it is, which shows its ``user_message``."""


def model_label(model: ModelSpec) -> str:
    """How a model is offered in autocomplete: its name and price."""
    return texts.MODEL_CHOICE(
        name=model.name,
        count=model.credits_per_image,
        deprecated=texts.MODEL_DEPRECATED_MARK() if model.deprecated else "",
    )


class ModelTransformer(app_commands.Transformer[Any]):
    """A model by id (what autocomplete sends) or by display name (what a person may type);
    blank means none was chosen, so the server's default applies."""

    @property
    def max_value(self) -> int:
        return MODEL_NAME_MAX

    @property
    def min_value(self) -> int:
        return 1

    async def transform(
        self, interaction: discord.Interaction[Any], value: Any, /
    ) -> ModelSpec | None:
        if not isinstance(value, str):
            # A forged payload can put anything here; Discord itself would send a string.
            raise OptionError(texts.BAD_OPTION())
        if not value.strip():
            return None
        model = find_model(value)
        if model is None:
            raise OptionError(texts.UNKNOWN_MODEL(model=sanitize_for_display(value, 60)))
        return model

    async def autocomplete(
        self, interaction: discord.Interaction[Any], value: int | float | str, /
    ) -> list[app_commands.Choice[int | float | str]]:
        needle = str(value).casefold().strip()
        models = await interaction.client.services.generation.enabled_models(interaction.guild_id)
        return [
            app_commands.Choice(name=model_label(m), value=m.id)
            for m in models
            if not needle or needle in m.name.casefold() or needle in m.id.casefold()
        ][:25]


Model = app_commands.Transform[ModelSpec | None, ModelTransformer]
