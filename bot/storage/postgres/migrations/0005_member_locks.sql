-- Reservations in one server no longer take turns through their commits (issue 20's
-- throughput): a reservation locks its member's scope and day, and the server's lock only when
-- a server cap applies; bot_spend is kept per member, so that the server's reservations and
-- settlements do not all write one row and wait for each other's commit.

-- Rows copied or written before this migration keep user_id 0; the sum per day is unchanged.
ALTER TABLE bot_spend ADD COLUMN user_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bot_spend DROP CONSTRAINT bot_spend_pkey;
ALTER TABLE bot_spend ADD PRIMARY KEY (day, scope, user_id);

-- As in 0001, every writer takes the bot_spend row before the budget_usage row.
CREATE OR REPLACE FUNCTION jobs_reserve() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bot_spend (day, scope, user_id, usd)
    VALUES (NEW.bot_day, NEW.scope, NEW.user_id, NEW.usd_reserved)
    ON CONFLICT (day, scope, user_id) DO UPDATE SET usd = bot_spend.usd + excluded.usd;
    INSERT INTO budget_usage (scope, day, user_id, reserved)
    VALUES (NEW.scope, NEW.budget_day, NEW.user_id, NEW.credits_reserved)
    ON CONFLICT (scope, day, user_id)
    DO UPDATE SET reserved = budget_usage.reserved + excluded.reserved;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jobs_settle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bot_spend (day, scope, user_id, usd)
    VALUES (OLD.bot_day, OLD.scope, OLD.user_id, COALESCE(NEW.usd, 0) - OLD.usd_reserved)
    ON CONFLICT (day, scope, user_id) DO UPDATE SET usd = bot_spend.usd + excluded.usd;
    UPDATE budget_usage
       SET reserved = reserved - OLD.credits_reserved,
           charged = charged + NEW.credits_charged
     WHERE scope = OLD.scope AND day = OLD.budget_day AND user_id = OLD.user_id;
    RETURN NULL;
END $$;

-- The reservation, as in 0001, with its locks narrowed: the member's lock (namespace 24: scope,
-- day and member) guards the member's limit; the server's (20) is taken too when a server cap
-- applies, since the cap sums every member; the day's (21) with a USD cap. All are taken in the
-- order 20, 21, 24 and before any row, so no two reservations wait in opposite orders, and a
-- settlement takes none. The rules are read before the locks only to know which to take: every
-- figure compared is read after them.
CREATE OR REPLACE FUNCTION reserve_job(
    p_guild_id BIGINT, p_channel_id BIGINT, p_user_id BIGINT, p_scope TEXT, p_day TEXT,
    p_bot_day TEXT, p_model TEXT, p_prompt TEXT, p_negative_prompt TEXT, p_aspect_ratio TEXT,
    p_count INTEGER, p_seed BIGINT, p_params_json TEXT, p_credits INTEGER,
    p_usd DOUBLE PRECISION, p_parent BIGINT, p_spoiler SMALLINT, p_now DOUBLE PRECISION,
    p_base_limit INTEGER, p_server_cap INTEGER, p_usd_cap DOUBLE PRECISION,
    p_rules_guild BIGINT, p_role_ids BIGINT[]
) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_limit BIGINT;
    v_cap BIGINT;
    v_spent DOUBLE PRECISION;
    v_id BIGINT;
BEGIN
    v_cap := COALESCE(p_server_cap,
                      (SELECT server_cap FROM guild_settings WHERE guild_id = p_rules_guild));
    IF v_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(20, hashtext(p_scope || '|' || p_day));
    END IF;
    IF p_usd_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(21, hashtext(p_bot_day));
        SELECT GREATEST(0, COALESCE(SUM(usd), 0)) INTO v_spent
          FROM bot_spend WHERE day = p_bot_day;
        IF v_spent + p_usd > p_usd_cap THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM pg_advisory_xact_lock(24, hashtext(p_scope || '|' || p_day || '|' || p_user_id));
    SELECT COALESCE(
               (SELECT credits FROM budget_user
                 WHERE guild_id = p_rules_guild AND user_id = p_user_id),
               (SELECT MAX(credits) FROM budget_role
                 WHERE guild_id = p_rules_guild AND role_id = ANY (p_role_ids)),
               (SELECT daily_credits FROM guild_settings WHERE guild_id = p_rules_guild),
               p_base_limit)
      INTO v_limit;
    IF COALESCE((SELECT reserved + charged FROM budget_usage
                  WHERE scope = p_scope AND day = p_day AND user_id = p_user_id), 0)
       + p_credits
       > v_limit + COALESCE((SELECT SUM(credits) FROM budget_grant
                              WHERE scope = p_scope AND day = p_day
                                AND user_id = p_user_id), 0) THEN
        RETURN NULL;
    END IF;
    IF v_cap IS NOT NULL
       AND COALESCE((SELECT SUM(reserved + charged) FROM budget_usage
                      WHERE scope = p_scope AND day = p_day), 0) + p_credits > v_cap THEN
        RETURN NULL;
    END IF;
    INSERT INTO jobs (guild_id, channel_id, user_id, scope, budget_day, bot_day, model,
                      prompt, negative_prompt, aspect_ratio, count, seed, params_json,
                      state, credits_reserved, usd_reserved, parent_job_id, created_at,
                      spoiler)
    VALUES (p_guild_id, p_channel_id, p_user_id, p_scope, p_day, p_bot_day, p_model,
            p_prompt, p_negative_prompt, p_aspect_ratio, p_count, p_seed, p_params_json,
            'queued', p_credits, p_usd, p_parent, p_now, p_spoiler)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;
