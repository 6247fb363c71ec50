"""The Discord side of a job: answer, queue ticket, run, post, and the buttons on the result.

``runner`` drives a job; ``posting`` talks to Discord with one retry rule; ``buttons`` and
``edit_modal`` are what a member clicks; ``access`` says who may.
"""

from bot.jobs.buttons import BUTTONS
from bot.jobs.posting import DISCORD_FAILURES, DeliveryError
from bot.jobs.runner import JobRunner

__all__ = ["BUTTONS", "DISCORD_FAILURES", "DeliveryError", "JobRunner"]
