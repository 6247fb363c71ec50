"""One way to tell a user that something failed, used by commands, buttons and modals alike."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import discord
from discord import app_commands

from bot.errors import ImagenError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. You were not charged; please try again."
STALE_COMMAND = "This command has changed since Discord loaded it. Try again in a minute."


async def send_ephemeral(interaction: discord.Interaction[Any], message: str) -> None:
    """Tell the user something privately, whether or not the interaction was answered already."""
    message = message[:1900]
    mentions = discord.AllowedMentions.none()
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=mentions)
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=mentions
            )
    except discord.HTTPException as exc:
        log.warning("could not send an error message to the user: %s", exc)


def _where(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"command {interaction.command.qualified_name}"
    custom_id = interaction.data.get("custom_id") if interaction.data else None
    return f"component {custom_id}" if custom_id else f"interaction type {interaction.type}"


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Map an error to a short private message; unexpected ones are logged with a traceback."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, ImagenError):
        log.info(
            "%s refused: %s (%s)",
            _where(interaction),
            error.error_class,
            error.detail or error.user_message,
        )
        await send_ephemeral(interaction, error.user_message)
        return
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        await send_ephemeral(interaction, "You need the Manage Server permission for this.")
        return
    if isinstance(error, app_commands.NoPrivateMessage):
        await send_ephemeral(interaction, "This command only works in a server.")
        return
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # A Discord client still showing a command from before the last sync (or a forged
        # payload): not our bug, so no traceback.
        log.warning("%s: %s", _where(interaction), error)
        await send_ephemeral(interaction, STALE_COMMAND)
        return
    if isinstance(error, app_commands.CheckFailure):
        await send_ephemeral(interaction, "You can't use this command here.")
        return
    if isinstance(error, app_commands.TransformerError):
        await send_ephemeral(interaction, "One of the options has a value I can't use.")
        return
    log.error(
        "unexpected error in %s:\n%s",
        _where(interaction),
        "".join(traceback.format_exception(error)),
    )
    await send_ephemeral(interaction, APOLOGY)
