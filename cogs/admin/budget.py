"""`/imagine-admin budget …`: the daily credit budgets of a server."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import texts
from bot.ledger import MAX_CREDITS
from bot.rendering import EMBED_COLOUR
from bot.translator import declared
from cogs.admin.common import Interaction, admin_of, done, guild_id_of, reply
from cogs.render import quota_embed

Credits = app_commands.Range[int, 0, MAX_CREDITS]
PositiveCredits = app_commands.Range[int, 1, MAX_CREDITS]
SHOWN_BUDGETS = 20

budget_group = app_commands.Group(
    name=declared(texts.NAME_BUDGET), description=locale_str("Daily credit budgets of this server")
)


@budget_group.command(
    name=declared(texts.NAME_DEFAULT),
    description=locale_str("Daily credits for everyone without a role or user budget"),
)
@app_commands.rename(credits=declared(texts.OPTION_CREDITS))
@app_commands.describe(
    credits=locale_str("Credits per member per day; leave empty to use the bot's default")
)
async def budget_default(interaction: Interaction, credits: Credits | None = None) -> None:
    entry = await admin_of(interaction).set_default_budget(
        guild_id_of(interaction), interaction.user.id, credits
    )
    if credits is None:
        text = texts.BUDGET_DEFAULT_BOT(credits=interaction.client.settings.default_daily_credits)
    else:
        text = texts.BUDGET_DEFAULT_SET(credits=credits)
    await done(interaction, text, entry)


@budget_group.command(
    name=declared(texts.NAME_ROLE),
    description=locale_str("Daily credits for members with a role (the highest applies)"),
)
@app_commands.rename(role=declared(texts.OPTION_ROLE), credits=declared(texts.OPTION_CREDITS))
@app_commands.describe(
    role=locale_str("The role"),
    credits=locale_str("Credits per day; leave empty to remove the role's budget"),
)
async def budget_role(
    interaction: Interaction, role: discord.Role, credits: Credits | None = None
) -> None:
    entry = await admin_of(interaction).set_role_budget(
        guild_id_of(interaction), interaction.user.id, role.id, credits
    )
    if credits is None:
        text = texts.BUDGET_ROLE_REMOVED(role_id=role.id)
    else:
        text = texts.BUDGET_ROLE_SET(role_id=role.id, credits=credits)
    await done(interaction, text, entry)


@budget_group.command(
    name=declared(texts.NAME_USER),
    description=locale_str("A daily budget for one member, overriding roles"),
)
@app_commands.rename(user=declared(texts.OPTION_USER), credits=declared(texts.OPTION_CREDITS))
@app_commands.describe(
    user=locale_str("The member"),
    credits=locale_str("Credits per day; leave empty to remove the override"),
)
async def budget_user(
    interaction: Interaction, user: discord.User, credits: Credits | None = None
) -> None:
    entry = await admin_of(interaction).set_user_budget(
        guild_id_of(interaction), interaction.user.id, user.id, credits
    )
    if credits is None:
        text = texts.BUDGET_USER_REMOVED(user_id=user.id)
    else:
        text = texts.BUDGET_USER_SET(user_id=user.id, credits=credits)
    await done(interaction, text, entry)


@budget_group.command(
    name=declared(texts.NAME_GRANT), description=locale_str("Give a member extra credits for today")
)
@app_commands.rename(user=declared(texts.OPTION_USER), credits=declared(texts.OPTION_CREDITS))
@app_commands.describe(
    user=locale_str("The member"), credits=locale_str("Extra credits, today only")
)
async def budget_grant(
    interaction: Interaction, user: discord.User, credits: PositiveCredits
) -> None:
    change = await admin_of(interaction).grant(
        guild_id_of(interaction), interaction.user.id, user.id, credits
    )
    text = texts.BUDGET_GRANTED(user_id=user.id, credits=change.credits, day=change.day)
    await done(interaction, text, change.entry)


@budget_group.command(
    name=declared(texts.NAME_RESET), description=locale_str("Forget what a member spent today")
)
@app_commands.rename(user=declared(texts.OPTION_USER))
@app_commands.describe(user=locale_str("The member"))
async def budget_reset(interaction: Interaction, user: discord.User) -> None:
    change = await admin_of(interaction).reset_spending(
        guild_id_of(interaction), interaction.user.id, user.id
    )
    await done(
        interaction, texts.BUDGET_RESET(user_id=user.id, forgiven=change.credits), change.entry
    )


@budget_group.command(
    name=declared(texts.NAME_SERVER_CAP),
    description=locale_str("Credits the whole server may spend per day"),
)
@app_commands.rename(credits=declared(texts.OPTION_CREDITS))
@app_commands.describe(
    credits=locale_str("Credits per day for everyone together; leave empty for no cap")
)
async def budget_server_cap(interaction: Interaction, credits: Credits | None = None) -> None:
    entry = await admin_of(interaction).set_server_cap(
        guild_id_of(interaction), interaction.user.id, credits
    )
    text = texts.BUDGET_CAP_REMOVED() if credits is None else texts.BUDGET_CAP_SET(credits=credits)
    await done(interaction, text, entry)


@budget_group.command(
    name=declared(texts.NAME_SHOW),
    description=locale_str("Budgets of this server, or one member's today"),
)
@app_commands.rename(user=declared(texts.OPTION_USER))
@app_commands.describe(user=locale_str("Show this member's budget and spending today"))
async def budget_show(interaction: Interaction, user: discord.Member | None = None) -> None:
    guild_id = guild_id_of(interaction)
    admin = admin_of(interaction)
    if user is not None:
        quota = await admin.quota(guild_id, user.id, tuple(r.id for r in user.roles))
        title = texts.QUOTA_TITLE_OF(name=user.display_name)[:256]
        await reply(interaction, embed=quota_embed(quota, title=title))
        return
    budgets = await admin.budgets(guild_id)
    settings = budgets.settings
    embed = discord.Embed(title=texts.BUDGET_SHOW_TITLE(), colour=EMBED_COLOUR)
    embed.add_field(
        name=texts.BUDGET_SHOW_DEFAULT(),
        value=texts.BUDGET_SHOW_PER_DAY(credits=settings.daily_credits)
        if settings.daily_credits is not None
        else texts.BUDGET_SHOW_PER_DAY_BOT(
            credits=interaction.client.settings.default_daily_credits
        ),
    )
    embed.add_field(
        name=texts.QUOTA_SERVER_CAP(),
        value=texts.BUDGET_SHOW_PER_DAY(credits=settings.server_cap)
        if settings.server_cap is not None
        else texts.ADMIN_NONE(),
    )
    embed.add_field(name=texts.BUDGET_SHOW_TIMEZONE(), value=settings.timezone)
    roles = list(budgets.roles.items())[:SHOWN_BUDGETS]
    users = list(budgets.users.items())[:SHOWN_BUDGETS]
    embed.add_field(
        name=texts.BUDGET_SHOW_ROLES(),
        value="\n".join(f"<@&{r}>: {c}" for r, c in roles) or texts.ADMIN_NONE(),
        inline=False,
    )
    embed.add_field(
        name=texts.BUDGET_SHOW_MEMBERS(),
        value="\n".join(f"<@{u}>: {c}" for u, c in users) or texts.ADMIN_NONE(),
        inline=False,
    )
    await reply(interaction, embed=embed)
