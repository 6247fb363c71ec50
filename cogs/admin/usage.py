"""`/imagine-admin usage` (a summary, a CSV of every job, a chart) and `history user`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot import i18n, texts
from bot.admin import MAX_USAGE_DAYS
from bot.audit import result_url
from bot.moderation import sanitize_for_display
from bot.rendering import EMBED_COLOUR, NO_PINGS, model_name
from bot.storage import USAGE_CSV_COLUMNS, JobRow, UsageSummary
from bot.translator import declared
from cogs.admin.common import Interaction, admin_of, guild_id_of, reply

CSV_MAX_BYTES = 8 * 1024 * 1024
# Room left under the upload limit for the message around the file.
UPLOAD_MARGIN = 4096


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


def usage_embed(summary: UsageSummary, days: int) -> discord.Embed:
    totals = summary.totals
    embed = discord.Embed(title=texts.ADMIN_USAGE_TITLE(count=days), colour=EMBED_COLOUR)
    embed.add_field(name=texts.ADMIN_USAGE_REQUESTS(), value=i18n.number(totals.jobs))
    embed.add_field(name=texts.ADMIN_USAGE_IMAGES(), value=i18n.number(totals.images))
    embed.add_field(name=texts.ADMIN_USAGE_CREDITS(), value=i18n.number(totals.credits))
    embed.add_field(name=texts.ADMIN_USAGE_USD(), value=texts.ADMIN_USAGE_USD_VALUE(usd=totals.usd))
    embed.add_field(
        name=texts.ADMIN_USAGE_FAILED(), value=texts.ADMIN_USAGE_FAILED_VALUE(count=totals.failed)
    )
    if summary.top_users:
        embed.add_field(
            name=texts.ADMIN_USAGE_TOP_USERS(),
            value="\n".join(
                texts.ADMIN_USAGE_TOP_USER(
                    rank=n,
                    user_id=line.key,
                    images=texts.ADMIN_IMAGES(count=line.images),
                    credits=line.credits,
                )
                for n, line in enumerate(summary.top_users, start=1)
            ),
            inline=False,
        )
    if summary.models:
        embed.add_field(
            name=texts.ADMIN_USAGE_PER_MODEL(),
            value="\n".join(
                texts.ADMIN_USAGE_MODEL_LINE(
                    model=model_name(line.key),
                    images=texts.ADMIN_IMAGES(count=line.images),
                    credits=line.credits,
                    usd=line.usd,
                )
                for line in summary.models
            )[:1024],
            inline=False,
        )
    return embed


@app_commands.command(
    name=declared(texts.NAME_USAGE),
    description=locale_str("What members generated and what it cost"),
)
@app_commands.rename(days=declared(texts.OPTION_DAYS))
@app_commands.describe(days=declared(texts.ADMIN_USAGE_DAYS_OPTION, most=MAX_USAGE_DAYS))
async def usage(
    interaction: Interaction, days: app_commands.Range[int, 1, MAX_USAGE_DAYS] = 7
) -> None:
    guild_id = guild_id_of(interaction)
    admin = admin_of(interaction)
    since = admin.usage_since(days)
    await interaction.response.defer(ephemeral=True, thinking=True)
    summary, rows = await admin.usage(guild_id, since)
    data, written = usage_csv(rows, min(CSV_MAX_BYTES, interaction.filesize_limit - UPLOAD_MARGIN))
    embed = usage_embed(summary, days)
    if written < len(rows):
        note = texts.ADMIN_USAGE_CSV_CUT(count=written, total=len(rows))
    else:
        note = texts.ADMIN_USAGE_CSV_NOTE(count=written)
    embed.set_footer(text=note)
    chart = await admin.usage_chart(guild_id, since, days, rows)
    name = f"imagen-usage-{guild_id}-{dt.datetime.now(dt.UTC):%Y%m%d}"
    embed.set_image(url=f"attachment://{name}.png")
    await interaction.followup.send(
        embed=embed,
        files=[
            discord.File(io.BytesIO(data), filename=f"{name}.csv"),
            discord.File(io.BytesIO(chart), filename=f"{name}.png"),
        ],
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


history_group = app_commands.Group(
    name=declared(texts.NAME_HISTORY), description=locale_str("Generations of a member")
)


def job_line(row: JobRow) -> str:
    """One line of a history list: when, model, what happened, a link to the message."""
    parts = [f"`#{row.id}` <t:{int(row.created_at)}:R>", model_name(row.model)]
    if row.state == "done":
        parts.append(
            texts.ADMIN_HISTORY_CHARGED(
                images=texts.ADMIN_IMAGES(count=row.images_delivered), credits=row.credits_charged
            )
        )
    elif row.error_class:
        parts.append(texts.ADMIN_HISTORY_FAILED(state=row.state, error=row.error_class))
    else:
        parts.append(row.state)
    url = result_url(row)
    if url is not None:
        parts.append(texts.ADMIN_HISTORY_JUMP(url=url))
    return " · ".join(parts) + "\n> " + sanitize_for_display(row.prompt.replace("\n", " "), 80)


@history_group.command(
    name=declared(texts.NAME_USER),
    description=locale_str("A member's latest requests in this server"),
)
@app_commands.rename(user=declared(texts.OPTION_USER))
@app_commands.describe(user=locale_str("Whose requests to show"))
async def history_user(interaction: Interaction, user: discord.User) -> None:
    rows = await admin_of(interaction).history(guild_id_of(interaction), user.id)
    if not rows:
        await reply(interaction, texts.ADMIN_HISTORY_NONE(user=user.mention))
        return
    embed = discord.Embed(
        title=texts.ADMIN_HISTORY_TITLE(name=sanitize_for_display(user.display_name, 80)),
        description="\n".join(job_line(r) for r in rows)[:4000],
        colour=EMBED_COLOUR,
    )
    await reply(interaction, embed=embed)
