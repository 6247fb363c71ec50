-- Key/value facts about this installation (e.g. the hash of the last synced command tree).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Per-server settings; NULL means "use the bot's default".
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    default_model     TEXT,
    enhance_prompt    INTEGER CHECK (enhance_prompt IN (0, 1)),
    safety_setting    TEXT,
    person_generation TEXT,
    add_watermark     INTEGER CHECK (add_watermark IN (0, 1)),
    max_images        INTEGER CHECK (max_images BETWEEN 1 AND 4),
    timezone          TEXT NOT NULL DEFAULT 'UTC',
    cooldown_seconds  INTEGER NOT NULL DEFAULT 0 CHECK (cooldown_seconds >= 0),
    log_channel_id    INTEGER,
    updated_at        REAL NOT NULL
);

-- One row per generation request, from reservation to its end.
CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id          INTEGER,
    channel_id        INTEGER,
    user_id           INTEGER NOT NULL,
    scope             TEXT NOT NULL,          -- 'g:<guild id>' or 'u:<user id>' (DMs, user installs)
    budget_day        TEXT NOT NULL,          -- YYYY-MM-DD in the scope's timezone
    model             TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    negative_prompt   TEXT,
    aspect_ratio      TEXT,
    count             INTEGER NOT NULL CHECK (count BETWEEN 1 AND 4),
    seed              INTEGER,
    params_json       TEXT NOT NULL,          -- every parameter sent, server policy included
    enhanced_prompt   TEXT,
    state             TEXT NOT NULL CHECK (state IN
                          ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    credits_reserved  INTEGER NOT NULL CHECK (credits_reserved >= 0),
    credits_charged   INTEGER NOT NULL DEFAULT 0 CHECK (credits_charged >= 0),
    api_credits       REAL,
    usd               REAL,
    images_delivered  INTEGER NOT NULL DEFAULT 0,
    error_class       TEXT,
    error_detail      TEXT,
    message_id        INTEGER,
    parent_job_id     INTEGER REFERENCES jobs (id),
    created_at        REAL NOT NULL,
    started_at        REAL,
    finished_at       REAL,
    CHECK (credits_charged <= credits_reserved)
);
CREATE INDEX jobs_open ON jobs (state) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_guild ON jobs (guild_id, created_at);
