-- /settings: a member's own defaults for /imagine, one row per member per server. guild_id 0 is
-- the member's personal row (DMs, and user installs in servers that never installed the bot).
-- NULL in a column means "not chosen": the server's default applies.
CREATE TABLE member_defaults (
    guild_id        BIGINT NOT NULL,
    user_id         BIGINT NOT NULL,
    model           TEXT,
    aspect_ratio    TEXT,
    count           INTEGER CHECK (count BETWEEN 1 AND 4),
    enhance_prompt  SMALLINT CHECK (enhance_prompt IN (0, 1)),
    private         SMALLINT CHECK (private IN (0, 1)),
    updated_at      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Whether members may have their results sent to them by DM; NULL: allowed.
ALTER TABLE guild_settings ADD COLUMN allow_private SMALLINT CHECK (allow_private IN (0, 1));

-- Where an open job's reply is, so a restart can settle the job by what Discord shows and correct
-- a message left by a process that died. One row per open job, deleted when the job settles.
CREATE TABLE job_replies (
    job_id           BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    message_id       BIGINT,
    token            TEXT,
    expires_at       DOUBLE PRECISION,
    posting_at       DOUBLE PRECISION,
    images           INTEGER,
    credits_charged  INTEGER,
    api_credits      DOUBLE PRECISION,
    usd              DOUBLE PRECISION,
    enhanced_prompt  TEXT
);

-- The token goes with the job's settlement, whichever code settles it.
CREATE FUNCTION job_replies_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_replies WHERE job_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER job_replies_settled AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (OLD.state IN ('queued', 'running') AND NEW.state NOT IN ('queued', 'running'))
    EXECUTE FUNCTION job_replies_settled();
