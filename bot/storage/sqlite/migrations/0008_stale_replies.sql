-- Where an open job's reply is, so a restart can settle the job by what Discord shows and correct
-- a queue ticket or "generating…" message left by a process that died. One row per open job,
-- deleted when the job settles.
CREATE TABLE job_replies (
    job_id           INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    message_id       INTEGER,  -- the interaction's original response: the ticket, later the result
    token            TEXT,     -- the interaction's token, only while it is valid (NULL after)
    expires_at       REAL,     -- when the token stops working (unix seconds)
    -- Set just before the result is posted: what its completion will record. A job found
    -- with it after a crash was maybe posted; Discord says whether.
    posting_at       REAL,
    images           INTEGER,
    credits_charged  INTEGER,
    api_credits      REAL,
    usd              REAL,
    enhanced_prompt  TEXT
);

-- The token goes with the job's settlement, whichever code settles it.
CREATE TRIGGER job_replies_settled AFTER UPDATE OF state ON jobs
WHEN old.state IN ('queued', 'running') AND new.state NOT IN ('queued', 'running')
BEGIN
    DELETE FROM job_replies WHERE job_id = new.id;
END;
