"""How jobs look in Discord: the result embed, the details embed, file names and messages.

Every piece of user text goes through ``sanitize_for_display`` and every message is sent with
``AllowedMentions.none()``, so a prompt can neither ping anyone nor break the layout.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot import texts
from bot.api import GeneratedImage
from bot.catalogue import get_model
from bot.images import fit_to_limit
from bot.moderation import sanitize_for_display
from bot.options import MEMBER_DEFAULTS_KEY, ImagineOptions
from bot.storage import JobRow

EMBED_COLOUR = discord.Colour.from_rgb(66, 133, 244)
NO_PINGS = discord.AllowedMentions.none()


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    reencoded: bool

    def to_file(self) -> discord.File:
        """A fresh ``discord.File`` (they are single-use, and deliveries may be retried)."""
        return discord.File(io.BytesIO(self.data), filename=self.filename)


def attachments_for(
    job_id: int, options: ImagineOptions, images: Sequence[GeneratedImage], size_limit: int
) -> list[Attachment]:
    """Name each image by its job and fit it under Discord's per-file cap (re-encoding if not),
    as the job's options ask."""
    # Discord shows an attachment as a spoiler when its file name starts with SPOILER_.
    prefix = "SPOILER_" if options.spoiler else ""
    out: list[Attachment] = []
    for n, image in enumerate(images[:10], start=1):
        data, kind, reencoded = fit_to_limit(image.data, size_limit)
        out.append(Attachment(f"{prefix}imagen-{job_id}-{n}.{kind.extension}", data, reencoded))
    return out


def model_name(model_id: str) -> str:
    model = get_model(model_id)
    return model.name if model else model_id


def discord_date(at: float) -> str:
    """Discord shows this as a date and time in each reader's own timezone and language."""
    return f"<t:{int(at)}:f>"


def result_embed(
    job: JobRow,
    *,
    enhanced_prompt: str | None,
    charged: int,
    credits_left: int | None,
    reencoded: bool,
    requester_id: int,
) -> discord.Embed:
    embed = discord.Embed(colour=EMBED_COLOUR, description=sanitize_for_display(job.prompt, 1000))
    embed.set_author(name=texts.RESULT_AUTHOR())
    if enhanced_prompt and enhanced_prompt.strip() != job.prompt.strip():
        embed.add_field(
            name=texts.RESULT_ENHANCED(),
            value=sanitize_for_display(enhanced_prompt, 1000),
            inline=False,
        )
    if job.negative_prompt:
        embed.add_field(
            name=texts.RESULT_NEGATIVE(),
            value=sanitize_for_display(job.negative_prompt, 500),
            inline=False,
        )
    embed.add_field(name=texts.RESULT_MODEL(), value=model_name(job.model))
    embed.add_field(name=texts.RESULT_ASPECT(), value=job.aspect_ratio or "1:1")
    seed = str(job.seed) if job.seed is not None else texts.RESULT_RANDOM_SEED()
    embed.add_field(name=texts.RESULT_SEED(), value=seed)
    cost = (
        texts.RESULT_CHARGED(count=charged)
        if credits_left is None
        else texts.RESULT_CHARGED_LEFT(count=charged, left=credits_left)
    )
    embed.add_field(name=texts.RESULT_COST(), value=cost)
    embed.add_field(name=texts.RESULT_REQUESTED_BY(), value=f"<@{requester_id}>")
    footer = texts.RESULT_FOOTER_REENCODED if reencoded else texts.RESULT_FOOTER
    embed.set_footer(text=footer(job_id=job.id))
    return embed


# The Details fields whose name is not the option's own.
_DETAILS_NAMES = {"count": "images"}


def details_embed(job: JobRow) -> discord.Embed:
    embed = discord.Embed(title=texts.DETAILS_TITLE(job_id=job.id), colour=EMBED_COLOUR)
    embed.add_field(
        name=texts.DETAILS_PROMPT(), value=sanitize_for_display(job.prompt, 1000), inline=False
    )
    if job.enhanced_prompt:
        embed.add_field(
            name=texts.RESULT_ENHANCED(),
            value=sanitize_for_display(job.enhanced_prompt, 1000),
            inline=False,
        )
    params = json.loads(job.params_json)
    options = ImagineOptions.from_row(job)
    shown: dict[str, object] = {
        "model": f"{model_name(job.model)} (`{job.model}`)",
        "images": texts.DETAILS_IMAGES(delivered=job.images_delivered, count=job.count),
    }
    # Every option the job ran with, by its name; a new option shows up here by itself.
    for name, value in options.params().items():
        if name not in ("model", "count"):
            shown[name.replace("_", " ")] = value
    shown["aspect ratio"] = shown.get("aspect ratio") or "1:1"
    for name in params.get(MEMBER_DEFAULTS_KEY, []):
        key = _DETAILS_NAMES.get(name, name.replace("_", " "))
        if key in shown:
            shown[key] = texts.DETAILS_MEMBER_DEFAULT(value=shown[key])
    shown |= {
        "safety setting": params.get("safety_setting"),
        "person generation": params.get("person_generation"),
        "watermark": params.get("add_watermark"),
        "state": job.state,
        "credits": texts.DETAILS_CREDITS(
            charged=job.credits_charged, reserved=job.credits_reserved
        ),
    }
    if job.usd is not None:
        shown["API cost"] = f"${job.usd:.4f}"
    for name, value in shown.items():
        if value is None or value == "":
            value = texts.DETAILS_DEFAULT()
        embed.add_field(name=name, value=sanitize_for_display(str(value), 300))
    embed.add_field(name=texts.DETAILS_REQUESTED(), value=discord_date(job.created_at))
    return embed
