"""`/imagine-admin`: server settings, models, channels, bans, the blocklist, the log channel and
usage reports. Budgets are attached from ``cogs/budget.py``.

The group is hidden from members by ``default_permissions(manage_guild=True)``, but a server can
show it to anyone with its own overrides, so every subcommand also checks Manage Server at run
time (``require_server_manager``). Every change is audited through ``bot.audit``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import zoneinfo
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.audit import (
    admin_action_embed,
    jump_url,
    mirror_generation,
    post_to_log_channel,
    record_admin_action,
    report_failure_to_admins,
)
from bot.catalogue import MAX_IMAGES, MODELS, PERSON_GENERATION, SAFETY_SETTINGS, ModelSpec
from bot.client import ImagenBot
from bot.errors import ImagenError, UserInputError
from bot.generation import PreparedJob
from bot.moderation import (
    MAX_REGEX_LENGTH,
    format_duration,
    parse_duration,
    sanitize_for_display,
    validate_timezone,
)
from bot.rendering import EMBED_COLOUR, NO_PINGS, model_name
from bot.storage import USAGE_CSV_COLUMNS, GuildSettings, JobRow, UsageSummary
from cogs.budget import BudgetGroup

Interaction = discord.Interaction[ImagenBot]

MAX_COOLDOWN_S = 86_400
MAX_USAGE_DAYS = 365
CSV_MAX_BYTES = 8 * 1024 * 1024
LIST_LIMIT = 25

SETTINGS: tuple[str, ...] = (
    "default_model",
    "enhance_prompt",
    "safety_setting",
    "person_generation",
    "add_watermark",
    "max_images",
    "timezone",
    "cooldown_seconds",
)
SAFETY_NAMES = {
    "block_low_and_above": "Strict: block low and above",
    "block_medium_and_above": "Medium: block medium and above",
    "block_only_high": "Lenient: block only high",
}
PERSON_NAMES = {"dont_allow": "No people", "allow_adult": "Adults only"}

GuildChannel = discord.TextChannel | discord.VoiceChannel | discord.StageChannel | discord.Thread


# -- the run-time permission check --------------------------------------------------------------


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
    """Add the run-time check to every subcommand under ``group`` (attached groups included)."""
    for command in group.walk_commands():
        if isinstance(command, app_commands.Command) and require_server_manager not in (
            command.checks
        ):
            command.add_check(require_server_manager)


def _guild_id(interaction: Interaction) -> int:
    if interaction.guild_id is None:  # the group is guild-only; this is the belt to those braces
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


async def _reply(
    interaction: Interaction, content: str | None = None, *, embed: discord.Embed | None = None
) -> None:
    if embed is None:
        await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(
            content, embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )


def _choices(values: Sequence[str], current: str) -> list[app_commands.Choice[str]]:
    needle = current.casefold().strip()
    return [
        app_commands.Choice(name=v[:100], value=v[:100])
        for v in values
        if not needle or needle in v.casefold()
    ][:25]


def find_model(text: str) -> ModelSpec:
    """A catalogue model by id or display name (what autocomplete offers or a person types)."""
    key = text.strip().casefold()
    for model in MODELS:
        if key in (model.id.casefold(), model.name.casefold()):
            return model
    shown = sanitize_for_display(text, 60)
    raise UserInputError(f'Unknown model "{shown}". Pick one from the list.')


def _on_off(value: bool | None) -> str:
    return "on" if value else "off"


def describe_settings(gs: GuildSettings, bot_default_model: str) -> dict[str, str]:
    """Each setting's effective value as an admin reads it, saying where defaults apply."""
    return {
        "default_model": (
            model_name(gs.default_model)
            if gs.default_model
            else f"{model_name(bot_default_model)} (bot default)"
        ),
        "enhance_prompt": (
            _on_off(gs.enhance_prompt)
            if gs.enhance_prompt is not None
            else "not set (service default)"
        ),
        "safety_setting": SAFETY_NAMES.get(gs.safety_setting, gs.safety_setting)
        if gs.safety_setting
        else "not set (service default)",
        "person_generation": PERSON_NAMES.get(gs.person_generation, gs.person_generation)
        if gs.person_generation
        else "not set (service default)",
        "add_watermark": (
            _on_off(gs.add_watermark)
            if gs.add_watermark is not None
            else "not set (service default)"
        ),
        "max_images": str(gs.max_images) if gs.max_images else f"{MAX_IMAGES} (default)",
        "timezone": gs.timezone,
        "cooldown_seconds": (
            f"{gs.cooldown_seconds} s" if gs.cooldown_seconds else "0 (no cooldown)"
        ),
    }


def _csv_cell(value: object) -> object:
    """Keep spreadsheet apps from running a prompt as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def usage_csv(rows: Sequence[tuple[object, ...]], limit: int = CSV_MAX_BYTES) -> tuple[bytes, int]:
    """The jobs as CSV (UTC ISO times), cut to ``limit`` bytes; returns (data, rows written)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(USAGE_CSV_COLUMNS)
    chunks = [out.getvalue().encode("utf-8")]
    size = len(chunks[0])
    created = USAGE_CSV_COLUMNS.index("created_at")
    written = 0
    for row in rows:
        cells = list(row)
        stamp = cells[created]
        if isinstance(stamp, int | float):
            cells[created] = dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")
        out.seek(0)
        out.truncate()
        writer.writerow([_csv_cell(c) for c in cells])
        chunk = out.getvalue().encode("utf-8")
        if size + len(chunk) > limit:
            break
        chunks.append(chunk)
        size += len(chunk)
        written += 1
    return b"".join(chunks), written


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def job_line(row: JobRow, *, with_user: bool = False) -> str:
    """One line of a history list: when, model, what happened, a link to the message."""
    parts = [f"`#{row.id}` <t:{int(row.created_at)}:R>", model_name(row.model)]
    if with_user:
        parts.append(f"<@{row.user_id}>")
    if row.state == "done":
        parts.append(f"{_plural(row.images_delivered, 'image')}, {row.credits_charged} cr")
    else:
        parts.append(f"{row.state}{f' ({row.error_class})' if row.error_class else ''}")
    if row.message_id is not None and row.channel_id is not None:
        parts.append(f"[jump]({jump_url(row.guild_id, row.channel_id, row.message_id)})")
    return " · ".join(parts) + "\n> " + sanitize_for_display(row.prompt.replace("\n", " "), 80)


class AdminGroup(app_commands.Group):
    """Every subcommand is guarded by ``require_server_manager`` (see ``guard_commands``)."""

    config = app_commands.Group(name="config", description="Show or change this server's settings")
    model = app_commands.Group(name="model", description="Turn models on or off in this server")
    channel = app_commands.Group(name="channel", description="Channels where /imagine works")
    blocklist = app_commands.Group(name="blocklist", description="Words and patterns refused")
    logchannel = app_commands.Group(name="logchannel", description="Where the bot logs activity")
    history = app_commands.Group(name="history", description="Generations of a member")

    def __init__(self, bot: ImagenBot) -> None:
        super().__init__(
            name="imagine-admin",
            description="Imagen Bot settings and moderation for this server",
            default_permissions=discord.Permissions(manage_guild=True),
            guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )
        self.bot = bot
        self.add_command(BudgetGroup(bot))
        guard_commands(self)

    # -- config -----------------------------------------------------------------------------

    @config.command(name="show", description="This server's Imagen Bot settings")
    async def config_show(self, interaction: Interaction) -> None:
        guild_id = _guild_id(interaction)
        db = self.bot.db
        gs = await db.guild_settings(guild_id)
        embed = discord.Embed(title="Server settings", colour=EMBED_COLOUR)
        for name, value in describe_settings(gs, self.bot.settings.default_model).items():
            embed.add_field(name=name, value=value)
        embed.add_field(
            name="log channel",
            value=f"<#{gs.log_channel_id}>" if gs.log_channel_id else "not set",
        )
        channels = await db.allowed_channels(guild_id)
        embed.add_field(
            name="channels",
            value=" ".join(f"<#{c}>" for c in channels[:LIST_LIMIT]) if channels else "all",
        )
        disabled = await db.disabled_models(guild_id)
        embed.add_field(
            name="models off",
            value=", ".join(model_name(m) for m in sorted(disabled)) if disabled else "none",
        )
        blocked = await db.blocklist(guild_id)
        bans = await db.active_bans(guild_id, time.time())
        embed.add_field(
            name="blocklist", value=f"{len(blocked)} entr{'y' if len(blocked) == 1 else 'ies'}"
        )
        embed.add_field(name="bans", value=_plural(len(bans), "active ban"))
        embed.set_footer(text="Change with /imagine-admin config set")
        await _reply(interaction, embed=embed)

    @config.command(name="set", description="Change one or more settings, or reset one")
    @app_commands.describe(
        default_model="Model used when a member names none",
        enhance_prompt="Let the service rewrite prompts unless the member chooses",
        safety_setting="How strictly the service filters images",
        person_generation="Whether images may show people",
        add_watermark="Add an invisible SynthID watermark",
        max_images=f"Most images per request, 1-{MAX_IMAGES}",
        timezone="IANA timezone for daily budgets, e.g. Europe/Paris",
        cooldown_seconds=f"Seconds a member waits between requests, 0-{MAX_COOLDOWN_S}",
        reset="Put this setting back to its default",
    )
    @app_commands.choices(
        safety_setting=[
            app_commands.Choice(name=SAFETY_NAMES[s], value=s) for s in SAFETY_SETTINGS
        ],
        person_generation=[
            app_commands.Choice(name=PERSON_NAMES[p], value=p) for p in PERSON_GENERATION
        ],
        reset=[app_commands.Choice(name=s, value=s) for s in SETTINGS],
    )
    async def config_set(
        self,
        interaction: Interaction,
        default_model: app_commands.Range[str, 1, 100] | None = None,
        enhance_prompt: bool | None = None,
        safety_setting: str | None = None,
        person_generation: str | None = None,
        add_watermark: bool | None = None,
        max_images: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        cooldown_seconds: app_commands.Range[int, 0, MAX_COOLDOWN_S] | None = None,
        reset: str | None = None,
    ) -> None:
        guild_id = _guild_id(interaction)
        changes: dict[str, object] = {}
        if default_model is not None:
            model = find_model(default_model)
            if model.deprecated:
                raise UserInputError(f"{model.name} is deprecated upstream; pick another model.")
            if model.id in await self.bot.db.disabled_models(guild_id):
                raise UserInputError(
                    f"{model.name} is turned off here; enable it first with "
                    "/imagine-admin model enable."
                )
            changes["default_model"] = model.id
        if enhance_prompt is not None:
            changes["enhance_prompt"] = enhance_prompt
        if safety_setting is not None:
            if safety_setting not in SAFETY_SETTINGS:
                raise UserInputError(f"safety_setting must be one of {', '.join(SAFETY_SETTINGS)}.")
            changes["safety_setting"] = safety_setting
        if person_generation is not None:
            if person_generation not in PERSON_GENERATION:
                raise UserInputError(
                    f"person_generation must be one of {', '.join(PERSON_GENERATION)}."
                )
            changes["person_generation"] = person_generation
        if add_watermark is not None:
            changes["add_watermark"] = add_watermark
        if max_images is not None:
            if not 1 <= max_images <= MAX_IMAGES:
                raise UserInputError(f"max_images must be from 1 to {MAX_IMAGES}.")
            changes["max_images"] = max_images
        if timezone is not None:
            changes["timezone"] = validate_timezone(timezone)
        if cooldown_seconds is not None:
            if not 0 <= cooldown_seconds <= MAX_COOLDOWN_S:
                raise UserInputError(
                    f"cooldown_seconds must be from 0 to {MAX_COOLDOWN_S} (one day)."
                )
            changes["cooldown_seconds"] = cooldown_seconds
        if reset is not None:
            if reset not in SETTINGS:
                raise UserInputError(f"reset must name a setting: {', '.join(SETTINGS)}.")
            if reset in changes:
                raise UserInputError(f"Either set {reset} or reset it, not both.")
            changes[reset] = None
        if not changes:
            raise UserInputError("Give at least one setting to change (or one to reset).")
        gs = await self.bot.db.update_guild_settings(guild_id, **changes)
        shown = describe_settings(gs, self.bot.settings.default_model)
        lines = [f"**{name}** → {shown[name]}" for name in changes]
        if "timezone" in changes:
            lines.append(f"Daily budgets now reset at midnight {gs.timezone}.")
        await _reply(interaction, "Updated:\n" + "\n".join(lines))
        await record_admin_action(
            self.bot, interaction, "config set", {k: changes[k] for k in changes}
        )

    @config_set.autocomplete("default_model")
    async def _default_model_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_server_manager(interaction) or interaction.guild_id is None:
            return []
        disabled = await self.bot.db.disabled_models(interaction.guild_id)
        return _model_choices(
            [m for m in MODELS if m.id not in disabled and not m.deprecated], current
        )

    @config_set.autocomplete("timezone")
    async def _timezone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().replace(" ", "_").casefold()
        names = sorted(zoneinfo.available_timezones())
        if not needle:
            names = ["UTC", "Europe/London", "Europe/Paris", "America/New_York",
                     "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney"]  # fmt: skip
        return _choices([n for n in names if needle in n.casefold()], "")

    # -- models -----------------------------------------------------------------------------

    @model.command(name="enable", description="Let members use a model again")
    @app_commands.describe(model="The model to turn on")
    async def model_enable(
        self, interaction: Interaction, model: app_commands.Range[str, 1, 100]
    ) -> None:
        guild_id = _guild_id(interaction)
        spec = find_model(model)
        changed = await self.bot.db.set_model_enabled(guild_id, spec.id, True)
        if not changed:
            await _reply(interaction, f"{spec.name} is already on.")
            return
        await _reply(interaction, f"{spec.name} is on again.")
        await record_admin_action(self.bot, interaction, "model enable", {"model": spec.id})

    @model.command(name="disable", description="Stop members from using a model")
    @app_commands.describe(model="The model to turn off")
    async def model_disable(
        self, interaction: Interaction, model: app_commands.Range[str, 1, 100]
    ) -> None:
        guild_id = _guild_id(interaction)
        spec = find_model(model)
        gs = await self.bot.db.guild_settings(guild_id)
        default = gs.default_model or self.bot.settings.default_model
        if spec.id == default:
            raise UserInputError(
                f"{spec.name} is this server's default model. Choose another default first "
                "(/imagine-admin config set default_model)."
            )
        changed = await self.bot.db.set_model_enabled(guild_id, spec.id, False)
        if not changed:
            await _reply(interaction, f"{spec.name} is already off.")
            return
        await _reply(interaction, f"{spec.name} is off; members can't pick it any more.")
        await record_admin_action(self.bot, interaction, "model disable", {"model": spec.id})

    @model_enable.autocomplete("model")
    @model_disable.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_server_manager(interaction) or interaction.guild_id is None:
            return []
        disabled = await self.bot.db.disabled_models(interaction.guild_id)
        return _model_choices(list(MODELS), current, disabled)

    # -- channels ---------------------------------------------------------------------------

    @channel.command(name="allow", description="Allow /imagine in a channel (then only there)")
    @app_commands.describe(channel="Channel where members may generate images")
    async def channel_allow(self, interaction: Interaction, channel: GuildChannel) -> None:
        guild_id = _guild_id(interaction)
        before = await self.bot.db.allowed_channels(guild_id)
        if not await self.bot.db.allow_channel(guild_id, channel.id):
            await _reply(interaction, f"{channel.mention} is already allowed.")
            return
        note = " From now on /imagine works only in the allowed channels." if not before else ""
        await _reply(interaction, f"/imagine now works in {channel.mention}.{note}")
        await record_admin_action(
            self.bot, interaction, "channel allow", {"channel": channel.mention}
        )

    @channel.command(name="remove", description="Take a channel off the allowed list")
    @app_commands.describe(channel="Channel to take off the list")
    async def channel_remove(self, interaction: Interaction, channel: GuildChannel) -> None:
        guild_id = _guild_id(interaction)
        if not await self.bot.db.remove_channel(guild_id, channel.id):
            await _reply(interaction, f"{channel.mention} wasn't on the list.")
            return
        left = await self.bot.db.allowed_channels(guild_id)
        note = " The list is empty, so /imagine works in every channel again." if not left else ""
        await _reply(interaction, f"{channel.mention} is off the list.{note}")
        await record_admin_action(
            self.bot, interaction, "channel remove", {"channel": channel.mention}
        )

    @channel.command(name="list", description="Channels where /imagine works")
    async def channel_list(self, interaction: Interaction) -> None:
        channels = await self.bot.db.allowed_channels(_guild_id(interaction))
        if not channels:
            await _reply(interaction, "No list is set: /imagine works in every channel.")
            return
        shown = " ".join(f"<#{c}>" for c in channels[:50])
        more = f" and {len(channels) - 50} more" if len(channels) > 50 else ""
        await _reply(interaction, f"/imagine works only in: {shown}{more}")

    # -- bans -------------------------------------------------------------------------------

    @app_commands.command(name="ban", description="Stop a member from generating images")
    @app_commands.describe(
        user="Who to ban",
        duration="How long, e.g. 30m, 2h, 7d (empty: until unbanned)",
        reason="Shown to them when they try",
    )
    async def ban(
        self,
        interaction: Interaction,
        user: discord.User,
        duration: app_commands.Range[str, 1, 40] | None = None,
        reason: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        guild_id = _guild_id(interaction)
        if user.bot:
            raise UserInputError("Bots can't generate images anyway.")
        length = parse_duration(duration) if duration is not None else None
        expires_at = time.time() + length.total_seconds() if length is not None else None
        await self.bot.db.ban(
            guild_id=guild_id,
            user_id=user.id,
            reason=(reason.strip() or None) if reason else None,
            banned_by=interaction.user.id,
            expires_at=expires_at,
        )
        until = (
            f" for {format_duration(length)} (until <t:{int(expires_at)}:f>)"
            if length is not None and expires_at is not None
            else " until unbanned"
        )
        await _reply(interaction, f"{user.mention} can't generate images here{until}.")
        await record_admin_action(
            self.bot,
            interaction,
            "ban",
            {
                "user": user.mention,
                "duration": format_duration(length) if length is not None else "until unbanned",
                "reason": reason,
            },
        )

    @app_commands.command(name="unban", description="Let a banned member generate images again")
    @app_commands.describe(user="Who to unban")
    async def unban(self, interaction: Interaction, user: discord.User) -> None:
        guild_id = _guild_id(interaction)
        if not await self.bot.db.unban(guild_id, user.id):
            await _reply(interaction, f"{user.mention} wasn't banned.")
            return
        await _reply(interaction, f"{user.mention} can generate images again.")
        await record_admin_action(self.bot, interaction, "unban", {"user": user.mention})

    @app_commands.command(name="bans", description="Members who can't generate images")
    async def bans(self, interaction: Interaction) -> None:
        rows = await self.bot.db.active_bans(_guild_id(interaction), time.time())
        if not rows:
            await _reply(interaction, "Nobody is banned.")
            return
        lines = []
        for ban in rows[:LIST_LIMIT]:
            until = f"until <t:{int(ban.expires_at)}:f>" if ban.expires_at else "until unbanned"
            reason = f" — {sanitize_for_display(ban.reason, 100)}" if ban.reason else ""
            lines.append(f"<@{ban.user_id}> {until}, by <@{ban.banned_by}>{reason}")
        if len(rows) > LIST_LIMIT:
            lines.append(f"…and {len(rows) - LIST_LIMIT} more")
        embed = discord.Embed(
            title=f"Active bans ({len(rows)})", description="\n".join(lines), colour=EMBED_COLOUR
        )
        await _reply(interaction, embed=embed)

    # -- blocklist --------------------------------------------------------------------------

    @blocklist.command(name="add", description="Refuse prompts containing a word or pattern")
    @app_commands.describe(
        pattern="A word or phrase (matched whole, any case, look-alikes too) or a regex",
        kind="word (default) or regex",
    )
    @app_commands.choices(
        kind=[
            app_commands.Choice(name="word or phrase", value="word"),
            app_commands.Choice(name="regex", value="regex"),
        ]
    )
    async def blocklist_add(
        self,
        interaction: Interaction,
        pattern: app_commands.Range[str, 1, MAX_REGEX_LENGTH],
        kind: str = "word",
    ) -> None:
        guild_id = _guild_id(interaction)
        pattern = pattern.strip() if kind == "word" else pattern
        # Raises UserInputError saying what is wrong (list full, bad or slow pattern); the
        # probes run off the loop, in the server's turn with its prompt checks.
        await self.bot.services.policy.new_entry(guild_id, kind, pattern)
        added = await self.bot.db.add_blocklist(
            guild_id=guild_id, kind=kind, pattern=pattern, added_by=interaction.user.id
        )
        self.bot.services.policy.forget_blocklist(guild_id)
        shown = sanitize_for_display(pattern, 100)
        if added is None:
            await _reply(interaction, f"That {kind} is already blocked: {shown}")
            return
        await _reply(interaction, f"Blocked {kind}: {shown}")
        await record_admin_action(
            self.bot, interaction, "blocklist add", {"kind": kind, "pattern": pattern}
        )

    @blocklist.command(name="remove", description="Stop refusing a word or pattern")
    @app_commands.describe(
        pattern="The entry, exactly as listed", kind="word or regex (default: both)"
    )
    @app_commands.choices(
        kind=[
            app_commands.Choice(name="word or phrase", value="word"),
            app_commands.Choice(name="regex", value="regex"),
        ]
    )
    async def blocklist_remove(
        self,
        interaction: Interaction,
        pattern: app_commands.Range[str, 1, MAX_REGEX_LENGTH],
        kind: str | None = None,
    ) -> None:
        guild_id = _guild_id(interaction)
        kinds = [kind] if kind in ("word", "regex") else ["word", "regex"]
        removed: list[str] = []
        for k in kinds:
            for candidate in dict.fromkeys((pattern, pattern.strip())):
                if await self.bot.db.remove_blocklist(guild_id, k, candidate):
                    removed.append(k)
        self.bot.services.policy.forget_blocklist(guild_id)
        shown = sanitize_for_display(pattern, 100)
        if not removed:
            await _reply(interaction, f"{shown} isn't on the blocklist.")
            return
        await _reply(interaction, f"Removed from the blocklist: {shown}")
        await record_admin_action(
            self.bot, interaction, "blocklist remove", {"kind": removed[0], "pattern": pattern}
        )

    @blocklist_remove.autocomplete("pattern")
    async def _blocklist_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_server_manager(interaction) or interaction.guild_id is None:
            return []
        rows = await self.bot.db.blocklist(interaction.guild_id)
        return _choices([r.pattern for r in rows if len(r.pattern) <= 100], current)

    @blocklist.command(name="list", description="Words and patterns this server refuses")
    async def blocklist_list(self, interaction: Interaction) -> None:
        rows = await self.bot.db.blocklist(_guild_id(interaction))
        if not rows:
            await _reply(interaction, "The blocklist is empty.")
            return
        lines: list[str] = []
        size = 0
        for row in rows:
            line = f"`{row.kind}` {sanitize_for_display(row.pattern, MAX_REGEX_LENGTH + 50)}"
            if size + len(line) > 3800:
                lines.append(f"…and {len(rows) - len(lines)} more")
                break
            lines.append(line)
            size += len(line) + 1
        embed = discord.Embed(
            title=f"Blocklist ({len(rows)})", description="\n".join(lines), colour=EMBED_COLOUR
        )
        await _reply(interaction, embed=embed)

    # -- log channel ------------------------------------------------------------------------

    @logchannel.command(name="set", description="Post generations and admin actions here")
    @app_commands.describe(channel="A channel only moderators can read is best")
    async def logchannel_set(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        guild_id = _guild_id(interaction)
        old = (await self.bot.db.guild_settings(guild_id)).log_channel_id
        details: dict[str, object] = {"channel": channel.mention}
        # Posting first proves the bot may write there; if it can't, nothing changes.
        posted = await post_to_log_channel(
            self.bot,
            guild_id,
            channel_id=channel.id,
            content="Imagen Bot will log generations and admin actions here.",
            embed=admin_action_embed(interaction.user.id, "logchannel set", details),
        )
        if posted is None:
            raise UserInputError(
                f"I can't post in {channel.mention}. Give me View Channel, Send Messages and "
                "Embed Links there, then try again."
            )
        await self.bot.db.update_guild_settings(guild_id, log_channel_id=channel.id)
        await _reply(interaction, f"Logging to {channel.mention}.")
        await self.bot.db.audit(
            guild_id=guild_id,
            actor_id=interaction.user.id,
            action="logchannel set",
            details=details,
        )
        if old is not None and old != channel.id:
            await post_to_log_channel(
                self.bot,
                guild_id,
                channel_id=old,
                embed=admin_action_embed(interaction.user.id, "logchannel set", details),
            )

    @logchannel.command(name="clear", description="Stop posting to the log channel")
    async def logchannel_clear(self, interaction: Interaction) -> None:
        guild_id = _guild_id(interaction)
        old = (await self.bot.db.guild_settings(guild_id)).log_channel_id
        if old is None:
            await _reply(interaction, "No log channel is set.")
            return
        await self.bot.db.update_guild_settings(guild_id, log_channel_id=None)
        await _reply(interaction, "The log channel is cleared; nothing will be posted.")
        audit_id = await self.bot.db.audit(
            guild_id=guild_id, actor_id=interaction.user.id, action="logchannel clear", details={}
        )
        # The channel's readers see the logging stop.
        await post_to_log_channel(
            self.bot,
            guild_id,
            channel_id=old,
            embed=admin_action_embed(interaction.user.id, "logchannel clear", {}, audit_id),
        )

    # -- usage and history ------------------------------------------------------------------

    @app_commands.command(name="usage", description="What members generated and what it cost")
    @app_commands.describe(days=f"How many days back, 1-{MAX_USAGE_DAYS} (default 7)")
    async def usage(
        self, interaction: Interaction, days: app_commands.Range[int, 1, MAX_USAGE_DAYS] = 7
    ) -> None:
        guild_id = _guild_id(interaction)
        if not 1 <= days <= MAX_USAGE_DAYS:
            raise UserInputError(f"days must be from 1 to {MAX_USAGE_DAYS}.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        since = time.time() - days * 86_400
        summary = await self.bot.db.usage_summary(guild_id, since)
        rows = await self.bot.db.usage_rows(guild_id, since)
        data, written = usage_csv(rows, min(CSV_MAX_BYTES, interaction.filesize_limit - 4096))
        embed = usage_embed(summary, days)
        note = f"{_plural(written, 'job')} in the CSV"
        if written < len(rows):
            note += f" (the first {written} of {len(rows)}; the file size limit cut the rest)"
        embed.set_footer(text=note)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        await interaction.followup.send(
            embed=embed,
            file=discord.File(io.BytesIO(data), filename=f"imagen-usage-{guild_id}-{stamp}.csv"),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @history.command(name="user", description="A member's latest requests in this server")
    @app_commands.describe(user="Whose requests to show")
    async def history_user(self, interaction: Interaction, user: discord.User) -> None:
        guild_id = _guild_id(interaction)
        rows = await self.bot.db.recent_jobs(user_id=user.id, guild_id=guild_id, limit=10)
        if not rows:
            await _reply(interaction, f"{user.mention} hasn't used /imagine here.")
            return
        embed = discord.Embed(
            title=f"Latest requests of {sanitize_for_display(user.display_name, 80)}",
            description="\n".join(job_line(r) for r in rows)[:4000],
            colour=EMBED_COLOUR,
        )
        await _reply(interaction, embed=embed)


def _model_choices(
    models: Sequence[ModelSpec], current: str, disabled: set[str] | None = None
) -> list[app_commands.Choice[str]]:
    needle = current.casefold().strip()
    out = []
    for m in models:
        if needle and needle not in m.name.casefold() and needle not in m.id.casefold():
            continue
        state = ""
        if disabled is not None:
            state = " (off)" if m.id in disabled else " (on)"
        label = f"{m.name}{state}" + (" — deprecated" if m.deprecated else "")
        out.append(app_commands.Choice(name=label, value=m.id))
    return out[:25]


def usage_embed(summary: UsageSummary, days: int) -> discord.Embed:
    totals = summary.totals
    embed = discord.Embed(
        title=f"Usage in the last {_plural(days, 'day')}",
        colour=EMBED_COLOUR,
    )
    embed.add_field(name="Requests", value=str(totals.jobs))
    embed.add_field(name="Images", value=str(totals.images))
    embed.add_field(name="Credits", value=str(totals.credits))
    embed.add_field(name="USD (API-reported)", value=f"${totals.usd:.2f}")
    embed.add_field(name="Failed", value=f"{totals.failed} (never charged)")
    if summary.top_users:
        embed.add_field(
            name="Top users",
            value="\n".join(
                f"{n}. <@{line.key}> — {_plural(line.images, 'image')}, {line.credits} credits"
                for n, line in enumerate(summary.top_users, start=1)
            ),
            inline=False,
        )
    if summary.models:
        embed.add_field(
            name="Per model",
            value="\n".join(
                f"{model_name(line.key)} — {_plural(line.images, 'image')}, "
                f"{line.credits} credits, ${line.usd:.2f}"
                for line in summary.models
            )[:1024],
            inline=False,
        )
    return embed


USER_SIDE_FAILURES = frozenset({"safety_blocked", "bad_request", "no_images", "cancelled"})


class AdminCog(commands.Cog):
    """Owns the admin group and mirrors every delivered generation to the log channel."""

    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot
        self.group = AdminGroup(bot)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.group)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.group.name)

    @commands.Cog.listener()
    async def on_job_failed(self, job: PreparedJob, error: BaseException) -> None:
        """Failures an admin can act on (key, credits, model, outages, Discord) go to the log
        channel; a prompt the safety filter refused is the user's business."""
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

    @commands.Cog.listener()
    async def on_job_delivered(
        self, job: PreparedJob, message: discord.Message, charged: int
    ) -> None:
        await mirror_generation(self.bot, job, message, charged)


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(AdminCog(bot))
