"""What every `/imagine-admin` command shares: the permission guard, the private reply, the
service, and the model lookup. A plain module, not an extension."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.admin import AdminService
from bot.audit import AuditEntry
from bot.client import ImagenBot
from bot.rendering import NO_PINGS
from cogs.admin.notices import post_admin_action

Interaction = discord.Interaction[ImagenBot]

LIST_LIMIT = 25


# -- the run-time permission check --------------------------------------------------------------
#
# The group is hidden from members by ``default_permissions(manage_guild=True)``, but a server can
# show it to anyone with its own overrides, so every subcommand also checks Manage Server at run
# time. ``guard_commands`` puts the check on the whole tree once, where the group is assembled.


def is_server_manager(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server (or Administrator) in the channel the command was used in."""
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


async def require_server_manager(interaction: discord.Interaction[Any]) -> bool:
    """An ``app_commands`` check: refuse anyone a server's overrides showed the group to."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not is_server_manager(interaction):
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


def guard_commands(group: app_commands.Group) -> None:
    """Add the run-time check to every subcommand under ``group``."""
    for command in group.walk_commands():
        if isinstance(command, app_commands.Command) and require_server_manager not in (
            command.checks
        ):
            command.add_check(require_server_manager)


# -- adapters -----------------------------------------------------------------------------------


def admin_of(interaction: Interaction) -> AdminService:
    return interaction.client.services.admin


def guild_id_of(interaction: Interaction) -> int:
    if interaction.guild_id is None:  # the group is guild-only; this is the belt to those braces
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def managed_guild(interaction: Interaction) -> int | None:
    """The server an autocomplete may reveal things of: None unless its user manages it
    (checks do not run for autocomplete)."""
    if not is_server_manager(interaction):
        return None
    return interaction.guild_id


async def reply(
    interaction: Interaction, content: str | None = None, *, embed: discord.Embed | None = None
) -> None:
    if embed is None:
        await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(
            content, embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )


async def done(interaction: Interaction, content: str, entry: AuditEntry | None) -> None:
    """Answer a change, then tell the log channel about it (if it changed anything): answering
    first keeps the post out of Discord's 3-second window."""
    await reply(interaction, content)
    if entry is not None:
        await post_admin_action(interaction.client, entry)


def choices(values: Sequence[str], current: str) -> list[app_commands.Choice[str]]:
    needle = current.casefold().strip()
    return [
        app_commands.Choice(name=v[:100], value=v[:100])
        for v in values
        if not needle or needle in v.casefold()
    ][:25]
