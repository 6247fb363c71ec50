"""Who is asking, and whether a click may act on a job: read from the interaction, not trusted
from a custom_id."""

from __future__ import annotations

from typing import Any

import discord

from bot.options import ImagineOptions
from bot.storage import JobRow

Interaction = discord.Interaction[Any]


def member_role_ids(interaction: Interaction) -> tuple[int, ...]:
    user = interaction.user
    if isinstance(user, discord.Member):
        return tuple(r.id for r in user.roles)
    return ()


def guild_installed(interaction: Interaction) -> bool:
    """Whether the server the interaction comes from installed the bot, so its rules and budgets
    apply. A user install works in any server its user is in; where the bot is neither a member
    (the guild cache) nor installed as the server's integration, only personal limits count."""
    guild_id = interaction.guild_id
    if guild_id is None:
        return False
    return interaction.is_guild_integration() or interaction.client.get_guild(guild_id) is not None


def can_manage_messages(interaction: Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.administrator)


def member_role_ids_in(interaction: Interaction, guild_id: int) -> tuple[int, ...]:
    """A member's roles in a server the interaction does not come from (a click in DMs), as far
    as the bot's member cache knows them; none if it does not."""
    guild = interaction.client.get_guild(guild_id)
    member = guild.get_member(interaction.user.id) if guild is not None else None
    return tuple(r.id for r in member.roles) if member is not None else ()


def in_jobs_place(
    interaction: Interaction, *, guild_id: int | None, user_id: int, private: bool
) -> bool:
    """A click acts on a job only in the job's own server (if it has one), or, for a private
    result sent by DM, in DMs by the member who asked for it."""
    if guild_id is None or guild_id == interaction.guild_id:
        return True
    return private and interaction.guild_id is None and interaction.user.id == user_id


def may_use_job(interaction: Interaction, row: JobRow) -> bool:
    """A button's custom_id names its job and can be forged; the message clicked cannot.

    A click acts on a job only in its place (``in_jobs_place``), and only from the job's own
    message or by the member who asked for it. Jobs in DMs and user installs have no server
    to check, so the message (or the requester) is all that stands between them and anyone.
    """
    private = bool(ImagineOptions.from_row(row).private)
    if not in_jobs_place(interaction, guild_id=row.guild_id, user_id=row.user_id, private=private):
        return False
    message = interaction.message
    on_its_message = message is not None and message.id == row.message_id
    return on_its_message or interaction.user.id == row.user_id
