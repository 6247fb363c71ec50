"""The job side's messages as members read them, pinned as literal text: one wording for a job
cut off by a restart, whether the bot stopped with it running or found it open at start."""

from __future__ import annotations

import dataclasses

from bot.ledger import Ledger, personal_scope
from bot.storage.sqlite import SQLiteDatabase
from tests.harness import Stack, eventually, new_job, running_bot
from tests.test_e2e_crash import channel_posts

RESTARTED = (
    "<@{user}> The bot restarted before your images were ready (job {job}). "
    "You were not charged. Please try again in a minute."
)


async def job_left_open(stack: Stack, guild_id: int | None = None) -> int:
    """A job of the member in the default channel that a previous process left open."""
    user = stack.discord.member.user.id
    db = await SQLiteDatabase.open(stack.settings().database_path)
    async with db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = personal_scope(user)
        job = dataclasses.replace(
            new_job(ledger, scope, user=user),
            guild_id=guild_id,
            channel_id=stack.discord.default_channel.id,
        )
        job_id: int = await ledger.reserve(scope, (), job)
    return job_id


async def test_a_job_left_open_by_the_last_process_is_told_in_the_one_restart_wording(
    stack: Stack,
) -> None:
    user = stack.discord.member.user.id
    job_id = await job_left_open(stack)
    async with running_bot(stack):
        (post,) = await eventually(lambda: channel_posts(stack), 30, "the restart notice")
        assert post["content"] == RESTARTED.format(user=user, job=job_id)
        assert post["allowed_mentions"] == {"parse": [], "users": [user]}
