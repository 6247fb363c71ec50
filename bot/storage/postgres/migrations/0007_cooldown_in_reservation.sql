-- The server's cooldown is checked by the reservation itself, after the member's lock (24), so
-- that two requests of one member sent at once cannot both pass it (the check before the
-- reservation reads, then reserves, across a round trip). A job the bot refused or cut off
-- starts no cooldown, as in LAST_JOB_TIME (bot/storage/postgres/queries.py). The member's lock
-- no longer names the day: a cooldown spans the day's boundary, and two requests sent in the
-- same instant on either side of it must still take turns. The function gains a parameter, so
-- the old one goes; its body is 0006's with those two changes.

DROP FUNCTION reserve_job(
    BIGINT, BIGINT, BIGINT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, INTEGER, BIGINT, TEXT,
    INTEGER, DOUBLE PRECISION, BIGINT, SMALLINT, DOUBLE PRECISION, INTEGER, INTEGER,
    DOUBLE PRECISION, BIGINT, BIGINT[]
);

CREATE FUNCTION reserve_job(
    p_guild_id BIGINT, p_channel_id BIGINT, p_user_id BIGINT, p_scope TEXT, p_day TEXT,
    p_bot_day TEXT, p_model TEXT, p_prompt TEXT, p_negative_prompt TEXT, p_aspect_ratio TEXT,
    p_count INTEGER, p_seed BIGINT, p_params_json TEXT, p_credits INTEGER,
    p_usd DOUBLE PRECISION, p_parent BIGINT, p_spoiler SMALLINT, p_now DOUBLE PRECISION,
    p_base_limit INTEGER, p_server_cap INTEGER, p_usd_cap DOUBLE PRECISION,
    p_rules_guild BIGINT, p_role_ids BIGINT[], p_cooldown_since DOUBLE PRECISION
) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
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
    PERFORM pg_advisory_xact_lock(24, hashtext(p_scope || '|' || p_user_id));
    WITH allowed AS (
        SELECT COALESCE((SELECT reserved + charged FROM budget_usage
                          WHERE scope = p_scope AND day = p_day AND user_id = p_user_id), 0)
               + p_credits
               <= COALESCE(
                      (SELECT credits FROM budget_user
                        WHERE guild_id = p_rules_guild AND user_id = p_user_id),
                      (SELECT MAX(credits) FROM budget_role
                        WHERE guild_id = p_rules_guild AND role_id = ANY (p_role_ids)),
                      (SELECT daily_credits FROM guild_settings
                        WHERE guild_id = p_rules_guild),
                      p_base_limit)
                  + COALESCE((SELECT SUM(credits) FROM budget_grant
                               WHERE scope = p_scope AND day = p_day
                                 AND user_id = p_user_id), 0)
           AND (v_cap IS NULL
                OR COALESCE((SELECT SUM(reserved + charged) FROM budget_usage
                              WHERE scope = p_scope AND day = p_day), 0) + p_credits <= v_cap)
           AND (p_cooldown_since IS NULL
                OR NOT EXISTS (SELECT 1 FROM jobs
                                WHERE user_id = p_user_id AND scope = p_scope
                                  AND created_at > p_cooldown_since
                                  AND COALESCE(error_class, '')
                                      NOT IN ('queue_full', 'shutting_down', 'interrupted')))
               AS ok
    ),
    job AS (
        INSERT INTO jobs (guild_id, channel_id, user_id, scope, budget_day, bot_day, model,
                          prompt, negative_prompt, aspect_ratio, count, seed, params_json,
                          state, credits_reserved, usd_reserved, parent_job_id, created_at,
                          spoiler)
        SELECT p_guild_id, p_channel_id, p_user_id, p_scope, p_day, p_bot_day, p_model,
               p_prompt, p_negative_prompt, p_aspect_ratio, p_count, p_seed, p_params_json,
               'queued', p_credits, p_usd, p_parent, p_now, p_spoiler
          FROM allowed WHERE ok
        RETURNING id
    ),
    spend AS (
        INSERT INTO bot_spend (day, scope, user_id, usd)
        SELECT p_bot_day, p_scope, p_user_id, p_usd FROM job
        ON CONFLICT (day, scope, user_id) DO UPDATE SET usd = bot_spend.usd + excluded.usd
        RETURNING 1
    ),
    counted AS (
        INSERT INTO budget_usage (scope, day, user_id, reserved)
        SELECT p_scope, p_day, p_user_id, p_credits FROM spend
        ON CONFLICT (scope, day, user_id)
        DO UPDATE SET reserved = budget_usage.reserved + excluded.reserved
    )
    SELECT id INTO v_id FROM job;
    RETURN v_id;
END $$;
