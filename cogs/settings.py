"""/settings: a member's own defaults for /imagine, changed with selects and buttons (no typing).

The page is ephemeral, so only its member can click it; every click acts on the clicker's own
defaults in the server the click comes from, never on anything its custom_id names. Its items
are ``DynamicItem``s, so a page keeps working after a restart. The rules live in ``bot/members.py``.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts
from bot.catalogue import ASPECT_RATIOS
from bot.client import ImagenBot
from bot.errors import UserInputError
from bot.jobs.access import guild_installed
from bot.members import SettingsPage
from bot.rendering import EMBED_COLOUR, NO_PINGS, model_name
from bot.replies import report_error
from bot.translator import declared

Interaction = discord.Interaction[Any]

DEFAULT = "default"  # the choice that clears a default
YES_NO = {"on": True, "off": False}


def rules_guild(interaction: Interaction) -> int | None:
    """The server whose rules apply here, as for /imagine (None: the member's personal ones)."""
    return interaction.guild_id if guild_installed(interaction) else None


def _on_off(value: bool | None) -> str:
    if value is None:
        return texts.SETTINGS_NOT_SET()
    return texts.SETTINGS_ON() if value else texts.SETTINGS_OFF()


def settings_embed(page: SettingsPage, *, note: str | None = None) -> discord.Embed:
    d = page.defaults
    intro = texts.SETTINGS_INTRO() if page.guild_id is not None else texts.SETTINGS_INTRO_PERSONAL()
    embed = discord.Embed(title=texts.SETTINGS_TITLE(), description=intro, colour=EMBED_COLOUR)
    server_model = model_name(page.server_model)
    if d.model is None:
        model = texts.SETTINGS_SERVER_DEFAULT(value=server_model)
    elif page.model_off:
        model = texts.SETTINGS_MODEL_NOW_OFF(model=model_name(d.model), server_model=server_model)
    else:
        model = model_name(d.model)
    embed.add_field(name=texts.SETTINGS_MODEL(), value=model, inline=False)
    embed.add_field(
        name=texts.SETTINGS_ASPECT(),
        value=d.aspect_ratio or texts.SETTINGS_SERVER_DEFAULT(value="1:1"),
    )
    embed.add_field(
        name=texts.SETTINGS_COUNT(),
        value=str(min(d.count, page.max_images))
        if d.count
        else texts.SETTINGS_SERVER_DEFAULT(value="1"),
    )
    embed.add_field(name=texts.SETTINGS_ENHANCE(), value=_on_off(d.enhance_prompt))
    if not page.allow_private:
        private = texts.SETTINGS_PRIVATE_FORBIDDEN()
    else:
        private = texts.SETTINGS_PRIVATE_ON() if d.private else texts.SETTINGS_PRIVATE_OFF()
    embed.add_field(name=texts.SETTINGS_PRIVATE(), value=private, inline=False)
    if note:
        embed.set_footer(text=note)
    return embed


def _options(choices: list[tuple[str, str]], current: str | None) -> list[discord.SelectOption]:
    """A "server default" choice, then ``choices`` (label, value); the current one selected."""
    shown = [(texts.SETTINGS_CHOICE_DEFAULT(), DEFAULT), *choices]
    selected = current if current is not None else DEFAULT
    return [discord.SelectOption(label=lbl, value=v, default=v == selected) for lbl, v in shown]


def settings_view(page: SettingsPage) -> discord.ui.View:
    d = page.defaults
    enhance = None if d.enhance_prompt is None else ("on" if d.enhance_prompt else "off")
    view = discord.ui.View(timeout=None)
    for name, placeholder, choices, current in (
        ("model", texts.SETTINGS_PICK_MODEL, [(m.name, m.id) for m in page.models], d.model),
        ("aspect_ratio", texts.SETTINGS_PICK_ASPECT, [(a, a) for a in ASPECT_RATIOS],
         d.aspect_ratio),
        ("count", texts.SETTINGS_PICK_COUNT,
         [(texts.SETTINGS_CHOICE_COUNT(count=n), str(n)) for n in range(1, page.max_images + 1)],
         None if d.count is None else str(min(d.count, page.max_images))),
        ("enhance_prompt", texts.SETTINGS_PICK_ENHANCE,
         [(texts.SETTINGS_ON(), "on"), (texts.SETTINGS_OFF(), "off")], enhance),
    ):  # fmt: skip
        view.add_item(SettingSelect(name, placeholder(), _options(choices, current)))
    view.add_item(PrivateButton(not d.private, disabled=not page.allow_private and not d.private))
    view.add_item(ResetButton())
    return view


async def _show(interaction: Interaction, page: SettingsPage, note: str | None = None) -> None:
    await interaction.response.edit_message(
        embed=settings_embed(page, note=note), view=settings_view(page), allowed_mentions=NO_PINGS
    )


async def _change(interaction: Interaction, **changes: Any) -> None:
    """Apply the click to the clicker's own defaults and show the page again; a refusal is
    answered privately, like a command's."""
    bot: ImagenBot = interaction.client
    try:
        page = await bot.services.members.change(
            rules_guild(interaction), interaction.user.id, **changes
        )
        await _show(interaction, page)
    except Exception as exc:
        await report_error(interaction, exc)


def _value(name: str, raw: str) -> object:
    """A select's value as the default it sets (None: back to the server's); forged values are
    refused here or by the service's checks."""
    if raw == DEFAULT:
        return None
    if name == "count":
        if not raw.isdigit():
            raise UserInputError(texts.BAD_OPTION())
        return int(raw)
    if name == "enhance_prompt":
        if raw not in YES_NO:
            raise UserInputError(texts.BAD_OPTION())
        return YES_NO[raw]
    return raw


class _Entering:
    """A page item whose click enters the bot: the page is redrawn in the clicker's language."""

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        await interaction.client.enter(interaction)
        return True


class SettingSelect(
    _Entering,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"imagen:settings:(?P<name>model|aspect_ratio|count|enhance_prompt)",
):
    def __init__(
        self, name: str, placeholder: str = "", options: list[discord.SelectOption] | None = None
    ) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"imagen:settings:{name}",
                placeholder=placeholder or None,
                options=options or [],
            )
        )
        self.name = name

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SettingSelect:
        return cls(match["name"])

    async def callback(self, interaction: Interaction) -> None:
        values = self.item.values
        try:
            value = _value(self.name, values[0] if values else DEFAULT)
        except UserInputError as exc:
            await report_error(interaction, exc)
            return
        await _change(interaction, **{self.name: value})


class PrivateButton(
    _Entering,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"imagen:settings:private:(?P<value>on|off)",
):
    def __init__(self, on: bool, *, disabled: bool = False) -> None:
        label = texts.SETTINGS_BUTTON_PRIVATE_ON if on else texts.SETTINGS_BUTTON_PRIVATE_OFF
        super().__init__(
            discord.ui.Button(
                custom_id=f"imagen:settings:private:{'on' if on else 'off'}",
                label=label(),
                emoji="📬" if on else "📢",
                style=discord.ButtonStyle.primary,
                disabled=disabled,
            )
        )
        self.on = on

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PrivateButton:
        return cls(match["value"] == "on")

    async def callback(self, interaction: Interaction) -> None:
        await _change(interaction, private=self.on)


class ResetButton(
    _Entering, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagen:settings:reset"
):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                custom_id="imagen:settings:reset",
                label=texts.SETTINGS_BUTTON_RESET(),
                style=discord.ButtonStyle.danger,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResetButton:
        return cls()

    async def callback(self, interaction: Interaction) -> None:
        bot: ImagenBot = interaction.client
        try:
            page = await bot.services.members.reset(rules_guild(interaction), interaction.user.id)
            await _show(interaction, page, note=texts.SETTINGS_FOOTER_RESET())
        except Exception as exc:
            await report_error(interaction, exc)


ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (SettingSelect, PrivateButton, ResetButton)


class SettingsCog(commands.Cog):
    def __init__(self, bot: ImagenBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*ITEMS)

    @app_commands.command(name=declared(texts.NAME_SETTINGS), description=declared(texts.SETTINGS))
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def settings(self, interaction: discord.Interaction[ImagenBot]) -> None:
        page = await self.bot.services.members.page(rules_guild(interaction), interaction.user.id)
        await interaction.response.send_message(
            embed=settings_embed(page),
            view=settings_view(page),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )


async def setup(bot: ImagenBot) -> None:
    await bot.add_cog(SettingsCog(bot))
