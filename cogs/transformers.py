"""Option types shared by the slash commands: a model named by id or display name.

``ModelTransformer`` turns what a member picked or typed into a catalogue ``ModelSpec``; its
``offer`` decides what autocomplete lists: ``/imagine`` offers the models members may use here,
the admin commands the models a server may make its default, or every model with its state.
"""

from __future__ import annotations

from typing import Any, Literal

import discord
from discord import app_commands

from bot import texts
from bot.catalogue import MODELS, ModelSpec
from bot.errors import UserInputError
from bot.moderation import sanitize_for_display
from bot.options import find_model

MODEL_NAME_MAX = 100
# usable: what members may pick here; default: what a server may make its default (enabled, not
# deprecated); all: every model, marked on or off here.
Offer = Literal["usable", "default", "all"]


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


def _matches(model: ModelSpec, needle: str) -> bool:
    return not needle or needle in model.name.casefold() or needle in model.id.casefold()


def _state_label(model: ModelSpec, enabled: bool) -> str:
    label = (texts.ADMIN_MODEL_CHOICE_ON if enabled else texts.ADMIN_MODEL_CHOICE_OFF)(
        model=model.name
    )
    return texts.ADMIN_MODEL_CHOICE_DEPRECATED(label=label) if model.deprecated else label


class ModelTransformer(app_commands.Transformer[Any]):
    """A model by id (what autocomplete sends) or by display name (what a person may type).
    For ``/imagine`` a blank value means none was chosen, so the server's default applies."""

    def __init__(self, offer: Offer = "usable") -> None:
        super().__init__()
        self.offer = offer

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
        if not value.strip() and self.offer == "usable":
            return None
        model = find_model(value)
        if model is None:
            raise OptionError(texts.UNKNOWN_MODEL(model=sanitize_for_display(value, 60)))
        return model

    async def autocomplete(
        self, interaction: discord.Interaction[Any], value: int | float | str, /
    ) -> list[app_commands.Choice[int | float | str]]:
        needle = str(value).casefold().strip()
        generation = interaction.client.services.generation
        if self.offer == "usable":
            models = await generation.enabled_models(interaction.guild_id)
            choices = [(model_label(m), m.id) for m in models if _matches(m, needle)]
        else:
            # Autocomplete runs no checks: reveal a server's settings only to its managers.
            perms = interaction.permissions
            if interaction.guild_id is None or not (perms.manage_guild or perms.administrator):
                return []
            enabled = {m.id for m in await generation.enabled_models(interaction.guild_id)}
            if self.offer == "default":
                pickable = [m for m in MODELS if m.id in enabled and not m.deprecated]
                choices = [(m.name, m.id) for m in pickable if _matches(m, needle)]
            else:
                choices = [
                    (_state_label(m, m.id in enabled), m.id) for m in MODELS if _matches(m, needle)
                ]
        return [app_commands.Choice(name=name, value=model_id) for name, model_id in choices][:25]


Model = app_commands.Transform[ModelSpec | None, ModelTransformer]
# For the admin commands: a model a server may make its default, or any model with its state.
DefaultModel = app_commands.Transform[ModelSpec, ModelTransformer("default")]
AnyModel = app_commands.Transform[ModelSpec, ModelTransformer("all")]
