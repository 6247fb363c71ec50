"""`/imagine-admin ban|unban|bans` and `/imagine-admin blocklist add|remove|list`."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import texts
from bot.errors import UserInputError
from bot.moderation import MAX_REGEX_LENGTH, format_duration, parse_duration, sanitize_for_display
from bot.rendering import EMBED_COLOUR
from bot.storage import BanRow
from bot.translator import declared
from cogs.admin.common import (
    LIST_LIMIT,
    Interaction,
    admin_of,
    choices,
    done,
    guild_id_of,
    managed_guild,
    reply,
)

BLOCKLIST_EMBED_CHARS = 3800
KINDS = [
    app_commands.Choice(name=locale_str("word or phrase"), value="word"),
    app_commands.Choice(name=locale_str("regex"), value="regex"),
]

# -- bans ---------------------------------------------------------------------------------------


@app_commands.command(
    name=declared(texts.NAME_BAN), description=locale_str("Stop a member from generating images")
)
@app_commands.rename(
    user=declared(texts.OPTION_USER),
    duration=declared(texts.OPTION_DURATION),
    reason=declared(texts.OPTION_REASON),
)
@app_commands.describe(
    user=locale_str("Who to ban"),
    duration=locale_str("How long, e.g. 30m, 2h, 7d (empty: until unbanned)"),
    reason=locale_str("Shown to them when they try"),
)
async def ban(
    interaction: Interaction,
    user: discord.User,
    duration: app_commands.Range[str, 1, 40] | None = None,
    reason: app_commands.Range[str, 1, 200] | None = None,
) -> None:
    guild_id = guild_id_of(interaction)
    if user.bot:
        raise UserInputError(texts.ADMIN_BAN_BOT())
    length = parse_duration(duration) if duration is not None else None
    change = await admin_of(interaction).ban(
        guild_id, interaction.user.id, user.id, length=length, reason=reason
    )
    if length is not None and change.expires_at is not None:
        text = texts.ADMIN_BAN_DONE_FOR(
            user=user.mention, duration=format_duration(length), until=int(change.expires_at)
        )
    else:
        text = texts.ADMIN_BAN_DONE(user=user.mention)
    await done(interaction, text, change.entry)


@app_commands.command(
    name=declared(texts.NAME_UNBAN),
    description=locale_str("Let a banned member generate images again"),
)
@app_commands.rename(user=declared(texts.OPTION_USER))
@app_commands.describe(user=locale_str("Who to unban"))
async def unban(interaction: Interaction, user: discord.User) -> None:
    entry = await admin_of(interaction).unban(
        guild_id_of(interaction), interaction.user.id, user.id
    )
    if entry is None:
        await reply(interaction, texts.ADMIN_UNBAN_NOT_BANNED(user=user.mention))
        return
    await done(interaction, texts.ADMIN_UNBAN_DONE(user=user.mention), entry)


def ban_line(ban: BanRow) -> str:
    until = (
        texts.ADMIN_BANS_UNTIL(until=int(ban.expires_at))
        if ban.expires_at
        else texts.ADMIN_BAN_UNTIL_UNBANNED()
    )
    if ban.reason:
        return texts.ADMIN_BANS_LINE_REASON(
            user_id=ban.user_id,
            until=until,
            banned_by=ban.banned_by,
            reason=sanitize_for_display(ban.reason, 100),
        )
    return texts.ADMIN_BANS_LINE(user_id=ban.user_id, until=until, banned_by=ban.banned_by)


@app_commands.command(
    name=declared(texts.NAME_BANS), description=locale_str("Members who can't generate images")
)
async def bans(interaction: Interaction) -> None:
    rows = await admin_of(interaction).bans(guild_id_of(interaction))
    if not rows:
        await reply(interaction, texts.ADMIN_BANS_NONE())
        return
    lines = [ban_line(ban) for ban in rows[:LIST_LIMIT]]
    if len(rows) > LIST_LIMIT:
        lines.append(texts.ADMIN_MORE(count=len(rows) - LIST_LIMIT))
    embed = discord.Embed(
        title=texts.ADMIN_BANS_TITLE(count=len(rows)),
        description="\n".join(lines),
        colour=EMBED_COLOUR,
    )
    await reply(interaction, embed=embed)


# -- blocklist ----------------------------------------------------------------------------------

blocklist_group = app_commands.Group(
    name=declared(texts.NAME_BLOCKLIST), description=locale_str("Words and patterns refused")
)


@blocklist_group.command(
    name=declared(texts.NAME_ADD),
    description=locale_str("Refuse prompts containing a word or pattern"),
)
@app_commands.rename(pattern=declared(texts.OPTION_PATTERN), kind=declared(texts.OPTION_KIND))
@app_commands.describe(
    pattern=locale_str("A word or phrase (matched whole, any case, look-alikes too) or a regex"),
    kind=locale_str("word (default) or regex"),
)
@app_commands.choices(kind=KINDS)
async def blocklist_add(
    interaction: Interaction,
    pattern: app_commands.Range[str, 1, MAX_REGEX_LENGTH],
    kind: str = "word",
) -> None:
    entry = await admin_of(interaction).add_blocklist(
        guild_id_of(interaction), interaction.user.id, kind, pattern
    )
    shown = sanitize_for_display(pattern.strip() if kind == "word" else pattern, 100)
    if entry is None:
        await reply(interaction, texts.ADMIN_BLOCKLIST_ALREADY(kind=kind, pattern=shown))
        return
    await done(interaction, texts.ADMIN_BLOCKLIST_ADDED(kind=kind, pattern=shown), entry)


@blocklist_group.command(
    name=declared(texts.NAME_REMOVE), description=locale_str("Stop refusing a word or pattern")
)
@app_commands.rename(pattern=declared(texts.OPTION_PATTERN), kind=declared(texts.OPTION_KIND))
@app_commands.describe(
    pattern=locale_str("The entry, exactly as listed"),
    kind=locale_str("word or regex (default: both)"),
)
@app_commands.choices(kind=KINDS)
async def blocklist_remove(
    interaction: Interaction,
    pattern: app_commands.Range[str, 1, MAX_REGEX_LENGTH],
    kind: str | None = None,
) -> None:
    entry = await admin_of(interaction).remove_blocklist(
        guild_id_of(interaction), interaction.user.id, pattern, kind
    )
    shown = sanitize_for_display(pattern, 100)
    if entry is None:
        await reply(interaction, texts.ADMIN_BLOCKLIST_NOT_LISTED(pattern=shown))
        return
    await done(interaction, texts.ADMIN_BLOCKLIST_REMOVED(pattern=shown), entry)


@blocklist_remove.autocomplete("pattern")
async def _blocklist_autocomplete(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    guild_id = managed_guild(interaction)
    if guild_id is None:
        return []
    rows = await admin_of(interaction).blocklist(guild_id)
    return choices([r.pattern for r in rows if len(r.pattern) <= 100], current)


@blocklist_group.command(
    name=declared(texts.NAME_LIST), description=locale_str("Words and patterns this server refuses")
)
async def blocklist_list(interaction: Interaction) -> None:
    rows = await admin_of(interaction).blocklist(guild_id_of(interaction))
    if not rows:
        await reply(interaction, texts.ADMIN_BLOCKLIST_EMPTY())
        return
    lines: list[str] = []
    size = 0
    for row in rows:
        line = texts.ADMIN_BLOCKLIST_LINE(
            kind=row.kind, pattern=sanitize_for_display(row.pattern, MAX_REGEX_LENGTH + 50)
        )
        if size + len(line) > BLOCKLIST_EMBED_CHARS:
            lines.append(texts.ADMIN_MORE(count=len(rows) - len(lines)))
            break
        lines.append(line)
        size += len(line) + 1
    embed = discord.Embed(
        title=texts.ADMIN_BLOCKLIST_TITLE(count=len(rows)),
        description="\n".join(lines),
        colour=EMBED_COLOUR,
    )
    await reply(interaction, embed=embed)
