-- Daily budgets. A job reserves credits when its row is inserted and settles them when it leaves
-- the open states; triggers keep the counters in step with the job rows inside the same statement,
-- so a crash can never leave a reservation without its job or settle one twice.

ALTER TABLE guild_settings ADD COLUMN daily_credits INTEGER CHECK (daily_credits >= 0);
ALTER TABLE guild_settings ADD COLUMN server_cap INTEGER CHECK (server_cap >= 0);

ALTER TABLE jobs ADD COLUMN bot_day TEXT NOT NULL DEFAULT '';          -- UTC day, for the USD cap
ALTER TABLE jobs ADD COLUMN usd_reserved REAL NOT NULL DEFAULT 0;     -- catalogue estimate

-- Credits per user and day in one scope: in flight (reserved) and spent (charged).
CREATE TABLE budget_usage (
    scope     TEXT NOT NULL,
    day       TEXT NOT NULL,
    user_id   INTEGER NOT NULL,
    reserved  INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    charged   INTEGER NOT NULL DEFAULT 0 CHECK (charged >= 0),
    PRIMARY KEY (scope, day, user_id)
);
CREATE INDEX budget_usage_day ON budget_usage (scope, day);

-- Bot-wide spend per UTC day: estimates while jobs run, API-reported cost once they end.
CREATE TABLE bot_spend (
    day  TEXT PRIMARY KEY,
    usd  REAL NOT NULL DEFAULT 0
);

CREATE TABLE budget_role (
    guild_id  INTEGER NOT NULL,
    role_id   INTEGER NOT NULL,
    credits   INTEGER NOT NULL CHECK (credits >= 0),
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE budget_user (
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    credits   INTEGER NOT NULL CHECK (credits >= 0),
    PRIMARY KEY (guild_id, user_id)
);

-- Extra credits for one user on one day of the server's calendar.
CREATE TABLE budget_grant (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scope       TEXT NOT NULL,
    day         TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    credits     INTEGER NOT NULL CHECK (credits > 0),
    granted_by  INTEGER NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX budget_grant_user ON budget_grant (scope, day, user_id);

CREATE TRIGGER jobs_reserve AFTER INSERT ON jobs
WHEN new.state IN ('queued', 'running')
BEGIN
    INSERT INTO budget_usage (scope, day, user_id, reserved)
    VALUES (new.scope, new.budget_day, new.user_id, new.credits_reserved)
    ON CONFLICT (scope, day, user_id) DO UPDATE SET reserved = reserved + excluded.reserved;
    INSERT INTO bot_spend (day, usd) VALUES (new.bot_day, new.usd_reserved)
    ON CONFLICT (day) DO UPDATE SET usd = usd + excluded.usd;
END;

CREATE TRIGGER jobs_settle AFTER UPDATE OF state ON jobs
WHEN old.state IN ('queued', 'running') AND new.state NOT IN ('queued', 'running')
BEGIN
    UPDATE budget_usage
       SET reserved = reserved - old.credits_reserved,
           charged = charged + new.credits_charged
     WHERE scope = old.scope AND day = old.budget_day AND user_id = old.user_id;
    UPDATE bot_spend
       SET usd = MAX(0, usd - old.usd_reserved + COALESCE(new.usd, 0))
     WHERE day = old.bot_day;
END;
