"""One way to tell a user that something failed, used by commands, buttons and modals alike."""

from __future__ import annotations

import logging
import traceback
from typing import Any, Final

import discord
from discord import app_commands

from bot import texts
from bot.errors import ImagenError

log = logging.getLogger(__name__)

# Discord's own names for the permissions its API spells otherwise: the ones a server admin looks
# for in the settings. Any other permission is shown by its API name, title-cased.
_PERMISSION_NAMES: Final = {
    "manage_guild": texts.PERMISSION_MANAGE_GUILD,
    "manage_messages": texts.PERMISSION_MANAGE_MESSAGES,
    "send_messages": texts.PERMISSION_SEND_MESSAGES,
    "send_messages_in_threads": texts.PERMISSION_SEND_MESSAGES_IN_THREADS,
    "embed_links": texts.PERMISSION_EMBED_LINKS,
    "attach_files": texts.PERMISSION_ATTACH_FILES,
    "read_message_history": texts.PERMISSION_READ_MESSAGE_HISTORY,
    "view_channel": texts.PERMISSION_VIEW_CHANNEL,
    "use_external_emojis": texts.PERMISSION_USE_EXTERNAL_EMOJIS,
}


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


def permission_name(permission: str) -> str:
    """A permission as a server admin sees it in Discord's settings."""
    name = _PERMISSION_NAMES.get(permission)
    return name() if name is not None else permission.replace("_", " ").title()


def permissions_text(missing: list[str], *, bot: bool) -> str:
    """What a member or the bot lacks, named as Discord's settings name it."""
    names = [permission_name(p) for p in missing]
    if len(names) == 1:
        one = texts.BOT_MISSING_PERMISSION if bot else texts.MISSING_PERMISSION
        return one(permission=names[0])
    several = texts.BOT_MISSING_PERMISSIONS if bot else texts.MISSING_PERMISSIONS
    return several(permissions=", ".join(names))


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
    if isinstance(error, app_commands.BotMissingPermissions):
        # The bot lacks it, not the member: say so, and who can fix it.
        await send_ephemeral(interaction, permissions_text(error.missing_permissions, bot=True))
        return
    if isinstance(error, app_commands.MissingPermissions):
        await send_ephemeral(interaction, permissions_text(error.missing_permissions, bot=False))
        return
    if isinstance(error, app_commands.NoPrivateMessage):
        await send_ephemeral(interaction, texts.GUILD_ONLY())
        return
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # A Discord client still showing a command from before the last sync (or a forged
        # payload): not our bug, so no traceback.
        log.warning("%s: %s", _where(interaction), error)
        await send_ephemeral(interaction, texts.STALE_COMMAND())
        return
    if isinstance(error, app_commands.CheckFailure):
        await send_ephemeral(interaction, texts.CHECK_FAILED())
        return
    if isinstance(error, app_commands.TransformerError):
        await send_ephemeral(interaction, texts.BAD_OPTION())
        return
    log.error(
        "unexpected error in %s:\n%s",
        _where(interaction),
        "".join(traceback.format_exception(error)),
    )
    await send_ephemeral(interaction, texts.APOLOGY())
