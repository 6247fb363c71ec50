"""The buttons on a queue ticket and on a result.

They are ``DynamicItem``s whose custom_id carries the job id, so they keep working after the bot
restarts. A click calls the method of the same name on the client's ``runner``; this module knows
that name only, so the runner can build views from here without a circle.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import texts
from bot.replies import report_error

# discord.ui callbacks are typed for any client.
Interaction = discord.Interaction[Any]

_JOB = r"(?P<job_id>[0-9]{1,19})"


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagen:x:" + _JOB):
    """A button naming its job in the custom_id; clicking it calls ``runner.<action>``.

    Subclasses only say which action, label and look; the template makes them persistent.
    """

    action = "x"
    label: texts.Text | None = None
    emoji: str | None = None
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                custom_id=f"imagen:{self.action}:{job_id}",
                label=self.label() if self.label else None,
                emoji=self.emoji,
                style=self.style,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(int(match["job_id"]))

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        """Where a click enters the bot: the answer is in the clicker's language."""
        await interaction.client.enter(interaction)
        return True

    async def callback(self, interaction: Interaction) -> None:
        """Errors are reported like a command's, instead of failing silently."""
        handler: Callable[[Interaction, int], Awaitable[None]] = getattr(
            interaction.client.runner, self.action
        )
        try:
            await handler(interaction, self.job_id)
        except Exception as exc:
            await report_error(interaction, exc)


class CancelButton(JobButton, template=r"imagen:cancel:" + _JOB):
    action, label = "cancel", texts.BUTTON_CANCEL


class RerollButton(JobButton, template=r"imagen:reroll:" + _JOB):
    action, label, emoji, style = "reroll", texts.BUTTON_REROLL, "🎲", discord.ButtonStyle.primary


class EditButton(JobButton, template=r"imagen:edit:" + _JOB):
    action, label, emoji = "edit", texts.BUTTON_EDIT, "✏️"


class DetailsButton(JobButton, template=r"imagen:details:" + _JOB):
    action, label, emoji = "details", texts.BUTTON_DETAILS, "ℹ️"


class DeleteButton(JobButton, template=r"imagen:delete:" + _JOB):
    action, label, emoji, style = "delete", texts.BUTTON_DELETE, "🗑️", discord.ButtonStyle.danger


BUTTONS: tuple[type[JobButton], ...] = (
    CancelButton,
    RerollButton,
    EditButton,
    DetailsButton,
    DeleteButton,
)


def cancel_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return _unlistened(view)


RESULT_BUTTONS: tuple[type[JobButton], ...] = (
    RerollButton,
    EditButton,
    DetailsButton,
    DeleteButton,
)


def result_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in RESULT_BUTTONS:
        view.add_item(button(job_id))
    return _unlistened(view)


def _unlistened(view: discord.ui.View) -> discord.ui.View:
    """A view of dynamic buttons only, stopped: their clicks reach the bot through the dynamic
    items registered at start-up, so discord.py need not file a copy of it per message sent."""
    view.stop()
    return view


def is_result_of(message: discord.Message, job_id: int) -> bool:
    """The message carries the job's result buttons (its queue ticket carries only Cancel)."""
    wanted = {f"imagen:{button.action}:{job_id}" for button in RESULT_BUTTONS}
    return any(
        getattr(child, "custom_id", None) in wanted
        for row in message.components
        for child in getattr(row, "children", ())
    )
