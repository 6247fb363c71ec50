"""The Edit button's modal: the job's prompt (and negative prompt where its model takes one),
prefilled, to run again with every other option kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import texts
from bot.catalogue import get_model
from bot.replies import report_error
from bot.storage import JobRow

Interaction = discord.Interaction[Any]
# Called with the interaction, the new prompt and the new negative prompt (None: none).
Resubmit = Callable[[Interaction, str, str | None], Awaitable[None]]


class EditModal(discord.ui.Modal):
    def __init__(self, row: JobRow, resubmit: Resubmit) -> None:
        super().__init__(title=texts.EDIT_TITLE(), timeout=600)
        self.resubmit = resubmit
        model = get_model(row.model)
        limit = min(model.prompt_max if model else 400, 4000)
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label=texts.EDIT_PROMPT(),
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=row.prompt[:limit],
            max_length=limit,
            required=True,
        )
        self.add_item(self.prompt)
        self.negative: discord.ui.TextInput[EditModal] | None = None
        if model is not None and model.accepts("negative_prompt"):
            self.negative = discord.ui.TextInput(
                label=texts.EDIT_NEGATIVE(),
                custom_id="negative",
                style=discord.TextStyle.paragraph,
                default=(row.negative_prompt or "")[:limit],
                max_length=limit,
                required=False,
            )
            self.add_item(self.negative)

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        """Where the submitted modal enters the bot: the answer is in the member's language."""
        await interaction.client.enter(interaction)
        return True

    async def on_submit(self, interaction: Interaction) -> None:
        negative = (self.negative.value or None) if self.negative else None
        await self.resubmit(interaction, self.prompt.value, negative)

    # Modal narrows BaseView.on_error's signature; mypy flags the override discord.py makes.
    async def on_error(self, interaction: Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)
