"""Both backends' side of an open job's reply (issue 22): a token is kept only while valid and only
for an open job, and nothing is kept once the job settles."""

from __future__ import annotations

import time

from bot.ledger import Ledger, guild_scope
from bot.storage import Posting
from tests.harness import new_job
from tests.postgres import Backend
from tests.storage_sql import sql_rows


async def test_a_token_is_kept_only_while_valid_and_only_while_its_job_is_open(
    backend: Backend,
) -> None:
    async with await backend.open() as db:
        ledger = Ledger(db, default_daily_credits=10, usd_cap=None)
        scope = guild_scope(1, "UTC")
        valid, expired, settled = [
            await ledger.reserve(scope, (), new_job(ledger, scope, user=42)) for _ in range(3)
        ]
        later = time.time() + 600
        await db.jobs.save_reply(valid, message_id=7, token="tok-valid", expires_at=later)
        await db.jobs.save_reply(expired, message_id=8, token="tok-old", expires_at=time.time())
        assert await db.jobs.finish_job(settled, state="cancelled")
        await db.jobs.save_reply(settled, message_id=9, token="tok-late", expires_at=later)

        reply = await db.jobs.job_reply(valid)
        assert reply is not None and (reply.message_id, reply.token) == (7, "tok-valid")
        assert "tok-valid" not in repr(reply)
        reply = await db.jobs.job_reply(expired)
        assert reply is not None and (reply.message_id, reply.token) == (8, None)
        assert await db.jobs.job_reply(settled) is None
        stored = [r["token"] for r in await sql_rows(db, "SELECT token FROM job_replies")]
        assert sorted(stored, key=str) == [None, "tok-valid"]

        # Posting is recorded only for a running job; settling drops the row, token and all.
        posting = Posting(images=1, credits_charged=1, api_credits=2.0, usd=0.02)
        assert not await db.jobs.mark_posting(valid, posting)
        assert await db.jobs.mark_running(valid)
        assert await db.jobs.mark_posting(valid, posting)
        reply = await db.jobs.job_reply(valid)
        assert reply is not None and reply.posting == posting and reply.token == "tok-valid"
        assert await db.jobs.finish_job(valid, state="done", credits_charged=1)
        assert await db.jobs.job_reply(valid) is None
        assert await db.jobs.forget_expired_tokens() == 0
