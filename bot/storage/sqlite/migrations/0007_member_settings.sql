-- /settings: a member's own defaults for /imagine, one row per member per server. guild_id 0 is
-- the member's personal row (DMs, and user installs in servers that never installed the bot).
-- NULL in a column means "not chosen": the server's default applies.

CREATE TABLE member_defaults (
    guild_id        INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    model           TEXT,
    aspect_ratio    TEXT,
    count           INTEGER CHECK (count BETWEEN 1 AND 4),
    enhance_prompt  INTEGER CHECK (enhance_prompt IN (0, 1)),
    private         INTEGER CHECK (private IN (0, 1)),
    updated_at      REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- Whether members may have their results sent to them by DM; NULL: allowed.
ALTER TABLE guild_settings ADD COLUMN allow_private INTEGER CHECK (allow_private IN (0, 1));
