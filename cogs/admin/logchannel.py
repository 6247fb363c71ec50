"""`/imagine-admin logchannel set|clear`: where a server's moderators read what happened."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import texts
from bot.audit import channel_ref
from bot.errors import UserInputError
from bot.translator import declared
from cogs.admin.common import Interaction, admin_of, guild_id_of, reply
from cogs.admin.notices import admin_action_embed, post_admin_action, post_to_log_channel

logchannel_group = app_commands.Group(
    name=declared(texts.NAME_LOGCHANNEL), description=locale_str("Where the bot logs activity")
)


@logchannel_group.command(
    name=declared(texts.NAME_SET), description=locale_str("Post generations and admin actions here")
)
@app_commands.rename(channel=declared(texts.OPTION_CHANNEL))
@app_commands.describe(channel=locale_str("A channel only moderators can read is best"))
async def logchannel_set(interaction: Interaction, channel: discord.TextChannel) -> None:
    guild_id = guild_id_of(interaction)
    # Posting first proves the bot may write there; if it can't, nothing changes.
    with texts.speaking(await interaction.client.server_language(guild_id)):
        hello = texts.ADMIN_LOGCHANNEL_HELLO()
        embed = admin_action_embed(
            interaction.user.id, "logchannel set", {"channel": channel_ref(channel.id)}
        )
    posted = await post_to_log_channel(
        interaction.client, guild_id, channel_id=channel.id, content=hello, embed=embed
    )
    if posted is None:
        raise UserInputError(texts.ADMIN_LOGCHANNEL_CANNOT_POST(channel=channel.mention))
    change = await admin_of(interaction).set_log_channel(guild_id, interaction.user.id, channel.id)
    await reply(interaction, texts.ADMIN_LOGCHANNEL_SET(channel=channel.mention))
    if change.previous is not None and change.previous != channel.id:
        # The old channel's readers see where the log went.
        await post_admin_action(interaction.client, change.entry, channel_id=change.previous)


@logchannel_group.command(
    name=declared(texts.NAME_CLEAR), description=locale_str("Stop posting to the log channel")
)
async def logchannel_clear(interaction: Interaction) -> None:
    change = await admin_of(interaction).clear_log_channel(
        guild_id_of(interaction), interaction.user.id
    )
    if change is None:
        await reply(interaction, texts.ADMIN_LOGCHANNEL_NONE())
        return
    await reply(interaction, texts.ADMIN_LOGCHANNEL_CLEARED())
    # The channel's readers see the logging stop.
    await post_admin_action(interaction.client, change.entry, channel_id=change.previous)
