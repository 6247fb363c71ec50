"""The bot as a user runs it, with ``DATABASE_URL`` on a real PostgreSQL server: an /imagine
through the fake Discord is reserved, posted and charged in PostgreSQL, and the budget holds."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.storage.postgres import PostgresDatabase
from tests.harness import BotProcess, Stack
from tests.postgres import requires_postgres

pytestmark = requires_postgres


async def test_imagine_with_the_bot_on_postgres(stack: Stack, pg_url: str) -> None:
    bot = BotProcess(stack, DATABASE_URL=pg_url, DEFAULT_DAILY_CREDITS="1")
    try:
        await bot.start_and_wait_ready(timeout=60)
        it = await stack.discord.slash("imagine", {"prompt": "a harbour in the fog"})
        assert (await it.wait_response(30)).type == 5
        message: dict[str, Any] = await it.wait_original_message(30)
        [attachment] = message["attachments"]
        job_id = int(attachment["filename"].split("-")[1])

        refused = await stack.discord.slash("imagine", {"prompt": "one more"})
        response = await refused.wait_response(30)
        assert response.type == 4 and "credit" in str(response.data), response
        assert await bot.terminate() == 0
    finally:
        bot.close()
    async with await PostgresDatabase.open(pg_url) as db:
        deadline = asyncio.get_running_loop().time() + 30
        while (job := await db.jobs.get_job(job_id)) is None or job.is_open:
            assert asyncio.get_running_loop().time() < deadline, job
            await asyncio.sleep(0.05)
        assert (job.state, job.credits_charged, job.prompt) == ("done", 1, "a harbour in the fog")
        usage = await db.budgets.usage(job.scope, job.budget_day, job.user_id)
        assert (usage.reserved, usage.charged) == (0, 1)
        assert len(await db.jobs.open_jobs()) == 0
    assert not stack.db_path.exists(), "the bot opened SQLite although DATABASE_URL was set"
