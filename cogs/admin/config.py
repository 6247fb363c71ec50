"""`/imagine-admin config show|set`: the server's settings."""

from __future__ import annotations

import zoneinfo

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import i18n, texts
from bot.admin import FOLLOW_MEMBERS, MAX_COOLDOWN_S, SETTINGS
from bot.catalogue import MAX_IMAGES, PERSON_GENERATION, SAFETY_SETTINGS
from bot.rendering import EMBED_COLOUR, model_name
from bot.storage import GuildSettings
from bot.translator import declared
from cogs.admin.common import (
    LIST_LIMIT,
    Interaction,
    admin_of,
    choices,
    done,
    guild_id_of,
    reply,
)
from cogs.transformers import DefaultModel

SAFETY_NAMES = {
    "block_low_and_above": locale_str("Strict: block low and above"),
    "block_medium_and_above": locale_str("Medium: block medium and above"),
    "block_only_high": locale_str("Lenient: block only high"),
}
PERSON_NAMES = {
    "dont_allow": locale_str("No people"),
    "allow_adult": locale_str("Adults only"),
}
# Each setting's option name: `reset` offers the settings as the reader's Discord names them.
SETTING_NAMES = {
    "default_model": texts.OPTION_DEFAULT_MODEL,
    "enhance_prompt": texts.OPTION_ENHANCE_PROMPT,
    "safety_setting": texts.OPTION_SAFETY_SETTING,
    "person_generation": texts.OPTION_PERSON_GENERATION,
    "add_watermark": texts.OPTION_ADD_WATERMARK,
    "max_images": texts.OPTION_MAX_IMAGES,
    "timezone": texts.OPTION_TIMEZONE,
    "cooldown_seconds": texts.OPTION_COOLDOWN_SECONDS,
    "allow_private": texts.OPTION_ALLOW_PRIVATE,
    "language": texts.OPTION_LANGUAGE,
}
COMMON_TIMEZONES = ["UTC", "Europe/London", "Europe/Paris", "America/New_York",
                    "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney"]  # fmt: skip

config_group = app_commands.Group(
    name=declared(texts.NAME_CONFIG),
    description=locale_str("Show or change this server's settings"),
)


def _on_off(value: bool | None) -> str:
    return texts.ADMIN_ON() if value else texts.ADMIN_OFF()


def _choice_name(names: dict[str, locale_str], value: str | None) -> str | None:
    """A choice's name in the reader's language (the value itself if it has none)."""
    if value is None:
        return None
    name = names.get(value)
    return texts.translated(name.message) if name is not None else value


def describe_settings(gs: GuildSettings, bot_default_model: str) -> dict[str, str]:
    """Each setting's effective value as an admin reads it, saying where defaults apply."""
    service_default = texts.ADMIN_CONFIG_SERVICE_DEFAULT()
    return {
        "default_model": (
            model_name(gs.default_model)
            if gs.default_model
            else texts.ADMIN_CONFIG_BOT_DEFAULT_MODEL(model=model_name(bot_default_model))
        ),
        "enhance_prompt": (
            _on_off(gs.enhance_prompt) if gs.enhance_prompt is not None else service_default
        ),
        "safety_setting": _choice_name(SAFETY_NAMES, gs.safety_setting) or service_default,
        "person_generation": _choice_name(PERSON_NAMES, gs.person_generation) or service_default,
        "add_watermark": (
            _on_off(gs.add_watermark) if gs.add_watermark is not None else service_default
        ),
        "max_images": str(gs.max_images)
        if gs.max_images
        else texts.ADMIN_CONFIG_MAX_IMAGES_DEFAULT(count=MAX_IMAGES),
        "timezone": gs.timezone,
        "allow_private": (
            texts.ADMIN_CONFIG_PRIVATE_FORBIDDEN()
            if gs.allow_private is False
            else texts.ADMIN_CONFIG_PRIVATE_ALLOWED()
        ),
        "cooldown_seconds": (
            texts.ADMIN_CONFIG_COOLDOWN(seconds=gs.cooldown_seconds)
            if gs.cooldown_seconds
            else texts.ADMIN_CONFIG_NO_COOLDOWN()
        ),
        "language": (
            i18n.LANGUAGE_NAMES.get(gs.language, gs.language)
            if gs.language
            else texts.ADMIN_CONFIG_LANGUAGE_MEMBERS()
        ),
    }


@config_group.command(
    name=declared(texts.NAME_SHOW), description=locale_str("This server's Imagen Bot settings")
)
async def config_show(interaction: Interaction) -> None:
    view = await admin_of(interaction).overview(guild_id_of(interaction))
    gs = view.settings
    embed = discord.Embed(title=texts.ADMIN_CONFIG_TITLE(), colour=EMBED_COLOUR)
    for name, value in describe_settings(gs, interaction.client.settings.default_model).items():
        embed.add_field(name=name, value=value)
    embed.add_field(
        name=texts.ADMIN_CONFIG_LOG_CHANNEL(),
        value=f"<#{gs.log_channel_id}>" if gs.log_channel_id else texts.ADMIN_CONFIG_NOT_SET(),
    )
    channels = view.allowed_channels
    embed.add_field(
        name=texts.ADMIN_CONFIG_CHANNELS(),
        value=" ".join(f"<#{c}>" for c in channels[:LIST_LIMIT])
        if channels
        else texts.ADMIN_CONFIG_ALL_CHANNELS(),
    )
    disabled = view.disabled_models
    embed.add_field(
        name=texts.ADMIN_CONFIG_MODELS_OFF(),
        value=", ".join(model_name(m) for m in sorted(disabled))
        if disabled
        else texts.ADMIN_NONE(),
    )
    embed.add_field(
        name=texts.ADMIN_CONFIG_BLOCKLIST(),
        value=texts.ADMIN_CONFIG_BLOCKLIST_SIZE(count=view.blocklist_size),
    )
    embed.add_field(
        name=texts.ADMIN_CONFIG_BANS(), value=texts.ADMIN_CONFIG_BANS_COUNT(count=view.active_bans)
    )
    embed.set_footer(text=texts.ADMIN_CONFIG_FOOTER())
    await reply(interaction, embed=embed)


@config_group.command(
    name=declared(texts.NAME_SET),
    description=locale_str("Change one or more settings, or reset one"),
)
@app_commands.rename(
    **{setting: declared(name) for setting, name in SETTING_NAMES.items()},
    reset=declared(texts.OPTION_RESET),
)
@app_commands.describe(
    default_model=locale_str("Model used when a member names none"),
    enhance_prompt=locale_str("Let the service rewrite prompts unless the member chooses"),
    safety_setting=locale_str("How strictly the service filters images"),
    person_generation=locale_str("Whether images may show people"),
    add_watermark=locale_str("Add an invisible SynthID watermark"),
    max_images=declared(texts.ADMIN_CONFIG_MAX_IMAGES_OPTION, most=MAX_IMAGES),
    timezone=locale_str("IANA timezone for daily budgets, e.g. Europe/Paris"),
    cooldown_seconds=declared(texts.ADMIN_CONFIG_COOLDOWN_OPTION, most=MAX_COOLDOWN_S),
    language=declared(texts.ADMIN_CONFIG_LANGUAGE_OPTION),
    allow_private=locale_str(
        "Let members have their results sent to them by DM (default: allowed)"
    ),
    reset=locale_str("Put this setting back to its default"),
)
@app_commands.choices(
    safety_setting=[app_commands.Choice(name=SAFETY_NAMES[s], value=s) for s in SAFETY_SETTINGS],
    person_generation=[
        app_commands.Choice(name=PERSON_NAMES[p], value=p) for p in PERSON_GENERATION
    ],
    reset=[app_commands.Choice(name=declared(SETTING_NAMES[s]), value=s) for s in SETTINGS],
    language=[
        app_commands.Choice(
            name=declared(texts.ADMIN_CONFIG_LANGUAGE_MEMBERS), value=FOLLOW_MEMBERS
        ),
        *(
            app_commands.Choice(name=i18n.LANGUAGE_NAMES[code], value=code)
            for code in (i18n.SOURCE, *i18n.LANGUAGES)
        ),
    ],
)
async def config_set(
    interaction: Interaction,
    default_model: DefaultModel | None = None,
    enhance_prompt: bool | None = None,
    safety_setting: str | None = None,
    person_generation: str | None = None,
    add_watermark: bool | None = None,
    max_images: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
    timezone: app_commands.Range[str, 1, 64] | None = None,
    cooldown_seconds: app_commands.Range[int, 0, MAX_COOLDOWN_S] | None = None,
    allow_private: bool | None = None,
    language: str | None = None,
    reset: str | None = None,
) -> None:
    guild_id = guild_id_of(interaction)
    given: dict[str, object | None] = {
        "default_model": default_model.id if default_model is not None else None,
        "enhance_prompt": enhance_prompt,
        "safety_setting": safety_setting,
        "person_generation": person_generation,
        "add_watermark": add_watermark,
        "max_images": max_images,
        "timezone": timezone,
        "cooldown_seconds": cooldown_seconds,
        "allow_private": allow_private,
        "language": language,
    }
    changes = {name: value for name, value in given.items() if value is not None}
    change = await admin_of(interaction).set_config(
        guild_id, interaction.user.id, changes, reset=reset
    )
    gs = change.settings
    shown = describe_settings(gs, interaction.client.settings.default_model)
    lines = [
        texts.ADMIN_CONFIG_UPDATED_LINE(setting=name, value=shown[name])
        for name in change.entry.details
    ]
    if "timezone" in change.entry.details:
        lines.append(texts.ADMIN_CONFIG_TIMEZONE_NOTE(timezone=gs.timezone))
    await done(interaction, texts.ADMIN_CONFIG_UPDATED(lines="\n".join(lines)), change.entry)


@config_set.autocomplete("timezone")
async def _timezone_autocomplete(
    interaction: Interaction, current: str
) -> list[app_commands.Choice[str]]:
    needle = current.strip().replace(" ", "_").casefold()
    names = sorted(zoneinfo.available_timezones()) if needle else COMMON_TIMEZONES
    return choices([n for n in names if needle in n.casefold()], "")
