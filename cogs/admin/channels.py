"""`/imagine-admin channel allow|remove|list`: where /imagine works (an empty list: everywhere)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import texts
from bot.translator import declared
from cogs.admin.common import Interaction, admin_of, done, guild_id_of, reply

GuildChannel = discord.TextChannel | discord.VoiceChannel | discord.StageChannel | discord.Thread
SHOWN_CHANNELS = 50

channel_group = app_commands.Group(
    name=declared(texts.NAME_CHANNEL), description=locale_str("Channels where /imagine works")
)


@channel_group.command(
    name=declared(texts.NAME_ALLOW),
    description=locale_str("Allow /imagine in a channel (then only there)"),
)
@app_commands.rename(channel=declared(texts.OPTION_CHANNEL))
@app_commands.describe(channel=locale_str("Channel where members may generate images"))
async def channel_allow(interaction: Interaction, channel: GuildChannel) -> None:
    change = await admin_of(interaction).allow_channel(
        guild_id_of(interaction), interaction.user.id, channel.id
    )
    if change.entry is None:
        await reply(interaction, texts.ADMIN_CHANNEL_ALREADY(channel=channel.mention))
        return
    text = texts.ADMIN_CHANNEL_ALLOWED_FIRST if change.listed == 1 else texts.ADMIN_CHANNEL_ALLOWED
    await done(interaction, text(channel=channel.mention), change.entry)


@channel_group.command(
    name=declared(texts.NAME_REMOVE), description=locale_str("Take a channel off the allowed list")
)
@app_commands.rename(channel=declared(texts.OPTION_CHANNEL))
@app_commands.describe(channel=locale_str("Channel to take off the list"))
async def channel_remove(interaction: Interaction, channel: GuildChannel) -> None:
    change = await admin_of(interaction).remove_channel(
        guild_id_of(interaction), interaction.user.id, channel.id
    )
    if change.entry is None:
        await reply(interaction, texts.ADMIN_CHANNEL_NOT_LISTED(channel=channel.mention))
        return
    text = texts.ADMIN_CHANNEL_REMOVED_LAST if change.listed == 0 else texts.ADMIN_CHANNEL_REMOVED
    await done(interaction, text(channel=channel.mention), change.entry)


@channel_group.command(
    name=declared(texts.NAME_LIST), description=locale_str("Channels where /imagine works")
)
async def channel_list(interaction: Interaction) -> None:
    channels = await admin_of(interaction).allowed_channels(guild_id_of(interaction))
    if not channels:
        await reply(interaction, texts.ADMIN_CHANNEL_NO_LIST())
        return
    shown = " ".join(f"<#{c}>" for c in channels[:SHOWN_CHANNELS])
    if len(channels) > SHOWN_CHANNELS:
        text = texts.ADMIN_CHANNEL_LIST_MORE(channels=shown, more=len(channels) - SHOWN_CHANNELS)
    else:
        text = texts.ADMIN_CHANNEL_LIST(channels=shown)
    await reply(interaction, text)
