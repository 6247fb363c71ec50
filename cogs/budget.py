"""/quota for members and the `/imagine-admin budget …` subcommands for admins."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.audit import record_admin_action
from bot.catalogue import MODELS
from bot.client import ImagenBot
from bot.jobs.access import guild_installed, member_role_ids
from bot.ledger import (
    MAX_CREDITS,
    Quota,
    checked_credits,
    discord_time,
    guild_scope,
    personal_scope,
)
from bot.rendering import EMBED_COLOUR, NO_PINGS

Interaction = discord.Interaction[ImagenBot]
Credits = app_commands.Range[int, 0, MAX_CREDITS]
PositiveCredits = app_commands.Range[int, 1, MAX_CREDITS]


def quota_embed(quota: Quota, *, title: str) -> discord.Embed:
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    usage = quota.usage
    embed.add_field(name="Used today", value=f"{usage.used} of {quota.total} credits")
    embed.add_field(name="Left", value=f"{quota.left} credits")
    embed.add_field(name="Resets", value=discord_time(quota.reset_at))
    if usage.reserved:
        embed.add_field(name="In progress", value=f"{usage.reserved} credits reserved")
    if usage.grants:
        embed.add_field(name="Extra today", value=f"+{usage.grants} credits granted")
    if quota.server_cap is not None:
        embed.add_field(
            name="Server cap", value=f"{quota.server_used} of {quota.server_cap} used by everyone"
        )
    buys = [
        f"{m.name}: {quota.left // m.credits_per_image} image"
        f"{'s' if quota.left // m.credits_per_image != 1 else ''}"
        for m in MODELS
        if not m.deprecated
    ]
    embed.add_field(name="That buys", value="\n".join(buys), inline=False)
    embed.set_footer(text=f"Daily budget from: {quota.limit.source}")
    return embed


def _guild_id(interaction: Interaction) -> int:
    assert interaction.guild_id is not None  # the admin group is guild-only
    return interaction.guild_id


class BudgetGroup(app_commands.Group):
    """Daily credit budgets of this server."""

    def __init__(self, bot: ImagenBot) -> None:
        super().__init__(name="budget", description="Daily credit budgets of this server")
        self.bot = bot

    async def _scope(self, interaction: Interaction) -> tuple[int, str, str]:
        guild_id = _guild_id(interaction)
        settings = await self.bot.db.guild_settings(guild_id)
        scope = guild_scope(guild_id, settings.timezone)
        day, _ = self.bot.services.ledger.days(scope)
        return guild_id, scope.key, day

    async def _done(
        self, interaction: Interaction, message: str, action: str, details: dict[str, object]
    ) -> None:
        # Answer first: the audit post to the log channel must not eat Discord's 3-second window.
        await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NO_PINGS)
        await record_admin_action(self.bot, interaction, action, details)

    @app_commands.command(
        name="default", description="Daily credits for everyone without a role or user budget"
    )
    @app_commands.describe(
        credits="Credits per member per day; leave empty to use the bot's default"
    )
    async def default(self, interaction: Interaction, credits: Credits | None = None) -> None:
        guild_id = _guild_id(interaction)
        if credits is not None:
            checked_credits(credits)
        await self.bot.db.update_guild_settings(guild_id, daily_credits=credits)
        shown = credits if credits is not None else self.bot.settings.default_daily_credits
        await self._done(
            interaction,
            f"Members now get {shown} credits a day"
            + ("" if credits is not None else " (the bot's default)")
            + ".",
            "budget default",
            {"credits": credits},
        )

    @app_commands.command(
        name="role", description="Daily credits for members with a role (the highest applies)"
    )
    @app_commands.describe(
        role="The role", credits="Credits per day; leave empty to remove the role's budget"
    )
    async def role(
        self, interaction: Interaction, role: discord.Role, credits: Credits | None = None
    ) -> None:
        guild_id = _guild_id(interaction)
        if credits is not None:
            checked_credits(credits)
        await self.bot.db.set_role_budget(guild_id, role.id, credits)
        text = (
            f"Members with <@&{role.id}> get {credits} credits a day "
            "(the highest role budget applies)."
            if credits is not None
            else f"Removed the budget of <@&{role.id}>."
        )
        await self._done(interaction, text, "budget role", {"role_id": role.id, "credits": credits})

    @app_commands.command(
        name="user", description="A daily budget for one member, overriding roles"
    )
    @app_commands.describe(
        user="The member", credits="Credits per day; leave empty to remove the override"
    )
    async def user(
        self, interaction: Interaction, user: discord.User, credits: Credits | None = None
    ) -> None:
        guild_id = _guild_id(interaction)
        if credits is not None:
            checked_credits(credits)
        await self.bot.db.set_user_budget(guild_id, user.id, credits)
        text = (
            f"<@{user.id}> now gets {credits} credits a day."
            if credits is not None
            else f"Removed the budget override of <@{user.id}>."
        )
        await self._done(interaction, text, "budget user", {"user_id": user.id, "credits": credits})

    @app_commands.command(name="grant", description="Give a member extra credits for today")
    @app_commands.describe(user="The member", credits="Extra credits, today only")
    async def grant(
        self, interaction: Interaction, user: discord.User, credits: PositiveCredits
    ) -> None:
        checked_credits(credits, minimum=1)
        guild_id, scope_key, day = await self._scope(interaction)
        await self.bot.db.add_grant(
            scope=scope_key,
            day=day,
            user_id=user.id,
            credits=credits,
            granted_by=interaction.user.id,
        )
        await self._done(
            interaction,
            f"Granted <@{user.id}> {credits} extra credits for today ({day}).",
            "budget grant",
            {"user_id": user.id, "credits": credits, "day": day, "guild_id": guild_id},
        )

    @app_commands.command(name="reset", description="Forget what a member spent today")
    @app_commands.describe(user="The member")
    async def reset(self, interaction: Interaction, user: discord.User) -> None:
        _, scope_key, day = await self._scope(interaction)
        forgiven = await self.bot.db.reset_usage(scope=scope_key, day=day, user_id=user.id)
        await self._done(
            interaction,
            f"Reset <@{user.id}>'s spending today ({forgiven} credits forgiven).",
            "budget reset",
            {"user_id": user.id, "forgiven": forgiven, "day": day},
        )

    @app_commands.command(
        name="server-cap", description="Credits the whole server may spend per day"
    )
    @app_commands.describe(credits="Credits per day for everyone together; leave empty for no cap")
    async def server_cap(self, interaction: Interaction, credits: Credits | None = None) -> None:
        guild_id = _guild_id(interaction)
        if credits is not None:
            checked_credits(credits)
        await self.bot.db.update_guild_settings(guild_id, server_cap=credits)
        text = (
            f"The server may now spend {credits} credits a day in total."
            if credits is not None
            else "The server has no daily cap now."
        )
        await self._done(interaction, text, "budget server-cap", {"credits": credits})

    @app_commands.command(name="show", description="Budgets of this server, or one member's today")
    @app_commands.describe(user="Show this member's budget and spending today")
    async def show(self, interaction: Interaction, user: discord.Member | None = None) -> None:
        guild_id = _guild_id(interaction)
        db = self.bot.db
        settings = await db.guild_settings(guild_id)
        if user is not None:
            scope = guild_scope(guild_id, settings.timezone)
            quota = await self.bot.services.ledger.quota(
                scope, user.id, tuple(r.id for r in user.roles)
            )
            embed = quota_embed(quota, title=f"Budget of {user.display_name}"[:256])
            await interaction.response.send_message(
                embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        embed = discord.Embed(title="Budgets", colour=EMBED_COLOUR)
        default = settings.daily_credits
        embed.add_field(
            name="Default",
            value=f"{default} credits/day"
            if default is not None
            else f"{self.bot.settings.default_daily_credits} credits/day (bot default)",
        )
        embed.add_field(
            name="Server cap",
            value=f"{settings.server_cap} credits/day"
            if settings.server_cap is not None
            else "none",
        )
        embed.add_field(name="Timezone", value=settings.timezone)
        roles = await db.role_budgets(guild_id)
        users = await db.user_budgets(guild_id)
        embed.add_field(
            name="Roles",
            value="\n".join(f"<@&{r}>: {c}" for r, c in list(roles.items())[:20]) or "none",
            inline=False,
        )
        embed.add_field(
            name="Members",
            value="\n".join(f"<@{u}>: {c}" for u, c in list(users.items())[:20]) or "none",
            inline=False,
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )


class QuotaCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="Your credits today and when they reset")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def quota(self, interaction: Interaction) -> None:
        if interaction.guild_id is not None and guild_installed(interaction):
            settings = await self.bot.db.guild_settings(interaction.guild_id)
            scope = guild_scope(interaction.guild_id, settings.timezone)
        else:
            scope = personal_scope(interaction.user.id)
        quota = await self.bot.services.ledger.quota(
            scope, interaction.user.id, member_role_ids(interaction)
        )
        await interaction.response.send_message(
            embed=quota_embed(quota, title="Your credits today"),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(QuotaCog(bot))
