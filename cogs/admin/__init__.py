"""`/imagine-admin`: server settings, models, channels, bans, the blocklist, the log channel,
usage reports and budgets, one module per concern; and the log channel's view of every job.

Each command is a thin adapter over ``bot.admin.AdminService`` (which makes the change, records
it and drops stale caches); this module assembles the group, guards it once, and listens for the
job runner's events.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import texts
from bot.client import ImagenBot
from bot.errors import ImagenError
from bot.generation import PreparedJob
from bot.translator import declared
from cogs.admin.budget import budget_group
from cogs.admin.channels import channel_group
from cogs.admin.common import guard_commands
from cogs.admin.config import config_group
from cogs.admin.logchannel import logchannel_group
from cogs.admin.models import model_group
from cogs.admin.moderation import ban, bans, blocklist_group, unban
from cogs.admin.notices import mirror_generation, report_failure_to_admins
from cogs.admin.usage import history_group, usage

__all__ = ["AdminCog", "admin_group", "setup"]

# Failures that are the member's business (their prompt, their options), not an admin's.
USER_SIDE_FAILURES = frozenset({"safety_blocked", "bad_request", "no_images", "cancelled"})


def admin_group() -> app_commands.Group:
    """The `/imagine-admin` group, its children in the order Discord has always been sent them
    (a changed order is a changed command tree, and a re-sync)."""
    group = app_commands.Group(
        name=declared(texts.NAME_IMAGINE_ADMIN),
        description=locale_str("Imagen Bot settings and moderation for this server"),
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        allowed_installs=app_commands.AppInstallationType(guild=True),
    )
    children: tuple[app_commands.Command[Any, ..., Any] | app_commands.Group, ...] = (
        config_group,
        model_group,
        channel_group,
        blocklist_group,
        logchannel_group,
        history_group,
        ban,
        unban,
        bans,
        usage,
        budget_group,
    )
    for child in children:
        group.add_command(child)
    guard_commands(group)
    return group


class AdminCog(commands.Cog):
    """Owns the admin group; mirrors delivered jobs and failures admins can act on."""

    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot
        self.group = admin_group()

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.group)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.group.name)

    @commands.Cog.listener()
    async def on_job_delivered(
        self, job: PreparedJob, message: discord.Message, credits: int
    ) -> None:
        await mirror_generation(self.bot, job, message, credits)

    @commands.Cog.listener()
    async def on_job_failed(self, job: PreparedJob, error: BaseException) -> None:
        """Failures an admin can act on (key, credits, model, outages, Discord) go to the log
        channel; a prompt the safety filter refused is the member's business."""
        if isinstance(error, ImagenError) and error.error_class in USER_SIDE_FAILURES:
            return
        await report_failure_to_admins(
            self.bot,
            guild_id=job.guild_id,
            job_id=job.job_id,
            user_id=job.user_id,
            error=error,
            model_id=job.model.id,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(AdminCog(bot))
