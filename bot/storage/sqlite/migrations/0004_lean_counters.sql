-- The reservation is the one write a member waits on before their /imagine is answered, and every
-- page a commit touches is appended to the WAL. The two counter tables become WITHOUT ROWID (the
-- key is the table: one page per row instead of a table page plus its key index), and the
-- (scope, day) index goes, since the key already starts with those columns. The triggers are
-- dropped and made again unchanged around the rebuild.

DROP TRIGGER jobs_reserve;
DROP TRIGGER jobs_settle;

CREATE TABLE budget_usage_new (
    scope     TEXT NOT NULL,
    day       TEXT NOT NULL,
    user_id   INTEGER NOT NULL,
    reserved  INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    charged   INTEGER NOT NULL DEFAULT 0 CHECK (charged >= 0),
    PRIMARY KEY (scope, day, user_id)
) WITHOUT ROWID;
INSERT INTO budget_usage_new (scope, day, user_id, reserved, charged)
    SELECT scope, day, user_id, reserved, charged FROM budget_usage;
DROP TABLE budget_usage;
ALTER TABLE budget_usage_new RENAME TO budget_usage;

CREATE TABLE bot_spend_new (
    day  TEXT PRIMARY KEY,
    usd  REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO bot_spend_new (day, usd) SELECT day, usd FROM bot_spend;
DROP TABLE bot_spend;
ALTER TABLE bot_spend_new RENAME TO bot_spend;

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
