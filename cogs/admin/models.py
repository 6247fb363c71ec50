"""`/imagine-admin model enable|disable`: which models members may pick here."""

from __future__ import annotations

from discord import app_commands
from discord.app_commands import locale_str

from bot import texts
from bot.translator import declared
from cogs.admin.common import Interaction, admin_of, done, guild_id_of, reply
from cogs.transformers import AnyModel

model_group = app_commands.Group(
    name=declared(texts.NAME_MODEL), description=locale_str("Turn models on or off in this server")
)


@model_group.command(
    name=declared(texts.NAME_ENABLE), description=locale_str("Let members use a model again")
)
@app_commands.rename(model=declared(texts.OPTION_MODEL))
@app_commands.describe(model=locale_str("The model to turn on"))
async def model_enable(interaction: Interaction, model: AnyModel) -> None:
    entry = await admin_of(interaction).enable_model(
        guild_id_of(interaction), interaction.user.id, model.id
    )
    if entry is None:
        await reply(interaction, texts.ADMIN_MODEL_ALREADY_ON(model=model.name))
        return
    await done(interaction, texts.ADMIN_MODEL_ON(model=model.name), entry)


@model_group.command(
    name=declared(texts.NAME_DISABLE), description=locale_str("Stop members from using a model")
)
@app_commands.rename(model=declared(texts.OPTION_MODEL))
@app_commands.describe(model=locale_str("The model to turn off"))
async def model_disable(interaction: Interaction, model: AnyModel) -> None:
    entry = await admin_of(interaction).disable_model(
        guild_id_of(interaction), interaction.user.id, model.id
    )
    if entry is None:
        await reply(interaction, texts.ADMIN_MODEL_ALREADY_OFF(model=model.name))
        return
    await done(interaction, texts.ADMIN_MODEL_OFF(model=model.name), entry)
