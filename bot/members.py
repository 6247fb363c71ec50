"""A member's own defaults for /imagine (what `/settings` changes), and how they meet a request.

A request's explicit options win over the member's defaults, and the server's policy wins over
both: a default the server no longer allows (a model it turned off, private results it forbids,
more images than its ``max_images``) is set aside, never refused, so a stale default can't stop a
member from generating. Nothing here knows Discord.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import texts
from bot.catalogue import ASPECT_RATIOS, MAX_IMAGES, MODELS, ModelSpec, get_model
from bot.errors import UserInputError
from bot.options import ImagineOptions
from bot.policy import Policy
from bot.storage import Database, GuildSettings, MemberDefaults, RequestContext


def max_images(gs: GuildSettings | None) -> int:
    """The most images one request may ask for under the server's rules."""
    return min(MAX_IMAGES, gs.max_images if gs and gs.max_images else MAX_IMAGES)


def private_allowed(gs: GuildSettings | None) -> bool:
    """Private results are allowed unless the server forbade them (and everywhere outside one)."""
    return gs is None or gs.allow_private is not False


def apply_defaults(
    options: ImagineOptions, defaults: MemberDefaults, ctx: RequestContext | None
) -> tuple[ImagineOptions, tuple[str, ...]]:
    """The options with the member's defaults filled in where they chose nothing and the
    server allows them, and the names of the options that came from the defaults."""
    gs = ctx.settings if ctx else None
    changes: dict[str, Any] = {}
    model = get_model(defaults.model) if defaults.model else None
    if (
        not (options.model or "").strip()
        and model is not None
        and not model.deprecated
        and Policy.model_enabled(ctx, model.id)
    ):
        changes["model"] = model.id
    if options.aspect_ratio is None and defaults.aspect_ratio in ASPECT_RATIOS:
        changes["aspect_ratio"] = defaults.aspect_ratio
    if options.count is None and defaults.count is not None:
        changes["count"] = max(1, min(defaults.count, max_images(gs)))
    if options.enhance_prompt is None and defaults.enhance_prompt is not None:
        changes["enhance_prompt"] = defaults.enhance_prompt
    if options.private is None and defaults.private and private_allowed(gs):
        changes["private"] = True
    return options.replace(**changes), tuple(sorted(changes))


@dataclass(frozen=True, slots=True)
class SettingsPage:
    """What `/settings` shows: the member's defaults and what this server allows them."""

    guild_id: int | None
    defaults: MemberDefaults
    models: list[ModelSpec]
    server_model: str
    max_images: int
    allow_private: bool

    @property
    def model_off(self) -> bool:
        """The member's default model is one this server no longer offers."""
        return self.defaults.model is not None and self.defaults.model not in {
            m.id for m in self.models
        }


class MemberService:
    """Reads and changes a member's defaults, checked against the server's current rules."""

    def __init__(self, db: Database, policy: Policy, *, default_model: str) -> None:
        self._db = db
        self._policy = policy
        self._default_model = default_model

    async def page(self, guild_id: int | None, user_id: int) -> SettingsPage:
        """``guild_id`` is the server whose rules apply (None: the member's personal defaults)."""
        gs = await self._db.guilds.guild_settings(guild_id) if guild_id is not None else None
        disabled = await self._policy.disabled_models(guild_id)
        return SettingsPage(
            guild_id=guild_id,
            defaults=await self._db.members.member_defaults(guild_id, user_id),
            models=[m for m in MODELS if m.id not in disabled and not m.deprecated],
            server_model=(gs.default_model if gs else None) or self._default_model,
            max_images=max_images(gs),
            allow_private=private_allowed(gs),
        )

    async def change(self, guild_id: int | None, user_id: int, **changes: Any) -> SettingsPage:
        """Set some defaults (``None`` clears one); a UserInputError names what this server
        does not allow, before anything is written."""
        page = await self.page(guild_id, user_id)
        for name, value in changes.items():
            if value is not None:
                _check(page, name, value)
        await self._db.members.update_member_defaults(guild_id, user_id, **changes)
        return await self.page(guild_id, user_id)

    async def reset(self, guild_id: int | None, user_id: int) -> SettingsPage:
        await self._db.members.reset_member_defaults(guild_id, user_id)
        return await self.page(guild_id, user_id)


def _check(page: SettingsPage, name: str, value: object) -> None:
    if name == "model" and value not in {m.id for m in page.models}:
        raise UserInputError(texts.SETTINGS_MODEL_OFF())
    if name == "aspect_ratio" and value not in ASPECT_RATIOS:
        raise UserInputError(texts.ASPECT_RATIO_CHOICES(ratios=", ".join(ASPECT_RATIOS)))
    if name == "count" and not (isinstance(value, int) and 1 <= value <= page.max_images):
        raise UserInputError(texts.COUNT_RANGE(limit=page.max_images))
    if name == "private" and value is True and not page.allow_private:
        raise UserInputError(texts.PRIVATE_NOT_ALLOWED())
