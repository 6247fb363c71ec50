-- Server moderation: where the bot may be used, who may not, which words are refused, which
-- models are off, and the audit trail of every admin action.

CREATE TABLE allowed_channels (
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

CREATE TABLE bans (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    reason      TEXT,
    banned_by   INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL,                      -- NULL: until lifted
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE blocklist (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('word', 'regex')),
    pattern     TEXT NOT NULL,
    added_by    INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    UNIQUE (guild_id, kind, pattern)
);

CREATE TABLE disabled_models (
    guild_id    INTEGER NOT NULL,
    model_id    TEXT NOT NULL,
    PRIMARY KEY (guild_id, model_id)
);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    actor_id      INTEGER NOT NULL,
    action        TEXT NOT NULL,
    details_json  TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE INDEX audit_log_guild ON audit_log (guild_id, created_at);
