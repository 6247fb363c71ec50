"""Every SQL statement of the PostgreSQL backend, in one place (parameters are ``$n``).

The statements mirror ``bot.storage.sqlite.queries`` one for one; where the dialects differ
(booleans, JSON aggregates, the reservation) the difference is here and nowhere else.
"""

from __future__ import annotations

from bot.storage.types import (
    GUILD_SETTING_COLUMNS,
    JOB_COLUMNS,
    MEMBER_DEFAULT_COLUMNS,
    USAGE_CSV_COLUMNS,
)

# -- connection and lifecycle --------------------------------------------------------------------

PING = "SELECT 1"
# One key for "this database is being migrated": processes starting together wait on it, and
# the first one's migrations are already recorded when the others read the version.
MIGRATION_LOCK_KEY = 20_0001
ADVISORY_LOCK = "SELECT pg_advisory_lock($1)"
ADVISORY_UNLOCK = "SELECT pg_advisory_unlock($1)"
CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)
SCHEMA_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
VERSION_TABLE_EXISTS = "SELECT to_regclass('schema_version') IS NOT NULL"
RECORD_VERSION = (
    "INSERT INTO schema_version (version, name, applied_at) "
    "VALUES ($1, $2, extract(epoch FROM now()))"
)
# Counters that must equal what the open jobs hold: a mismatch means a write went around the
# reservation and the settlement (a hand edit, a broken copy).
INTEGRITY_CHECK = """
SELECT (SELECT COALESCE(SUM(reserved), 0) FROM budget_usage)
     = (SELECT COALESCE(SUM(credits_reserved), 0) FROM jobs WHERE state IN ('queued', 'running'))
"""

GET_META = "SELECT value FROM meta WHERE key = $1"
SET_META = (
    "INSERT INTO meta (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# -- jobs ----------------------------------------------------------------------------------------

_JOBS = ", ".join(JOB_COLUMNS)

# The function (migration 0007) takes the locks its limits need, checks them and the server's
# cooldown, inserts the row and counts it.
RESERVE_JOB = (
    "SELECT reserve_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "$17, $18, $19, $20, $21, $22, $23, $24)"
)

MARK_RUNNING = (
    "UPDATE jobs SET state = 'running', started_at = $1 WHERE id = $2 AND state = 'queued' "
    "RETURNING id"
)

# The settlement moves the credits from reserved to charged (and refunds the rest), counts the
# USD against the day and forgets the reply's token, in one statement (migration 0006 dropped
# the triggers that did it). The row lock on the job comes first, then bot_spend's row, then
# budget_usage's, as in every writer: each part reads the one before it, so they run in that
# order. A second settlement waits for the first one's row lock, then finds the job no longer
# open and writes nothing.
FINISH_JOB = """
WITH settled AS (
    UPDATE jobs
       SET state = $1,
           credits_charged = LEAST($2, credits_reserved),
           images_delivered = $3,
           api_credits = COALESCE($4, api_credits),
           usd = COALESCE($5, usd),
           enhanced_prompt = COALESCE($6, enhanced_prompt),
           message_id = COALESCE($7, message_id),
           error_class = $8,
           error_detail = $9,
           finished_at = $10
     WHERE id = $11 AND state IN ('queued', 'running')
    RETURNING id, scope, budget_day, bot_day, user_id, usd, usd_reserved, credits_reserved,
              credits_charged
),
spend AS (
    INSERT INTO bot_spend (day, scope, user_id, usd)
    SELECT bot_day, scope, user_id, COALESCE(usd, 0) - usd_reserved FROM settled
    ON CONFLICT (day, scope, user_id) DO UPDATE SET usd = bot_spend.usd + excluded.usd
    RETURNING 1
),
counted AS (
    UPDATE budget_usage AS b
       SET reserved = b.reserved - s.credits_reserved,
           charged = b.charged + s.credits_charged
      FROM settled AS s
     WHERE b.scope = s.scope AND b.day = s.budget_day AND b.user_id = s.user_id
       AND EXISTS (SELECT FROM spend)
),
forgotten AS (
    DELETE FROM job_replies AS r USING settled AS s WHERE r.job_id = s.id
)
SELECT id FROM settled
"""

GET_JOB = f"SELECT {_JOBS} FROM jobs WHERE id = $1"
OPEN_JOBS = f"SELECT {_JOBS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"
RECENT_JOBS = f"SELECT {_JOBS} FROM jobs WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
RECENT_JOBS_IN_GUILD = (
    f"SELECT {_JOBS} FROM jobs WHERE user_id = $1 AND guild_id = $2 ORDER BY id DESC LIMIT $3"
)
LAST_JOB_TIME = (
    "SELECT MAX(created_at) AS t FROM jobs WHERE user_id = $1 AND scope = $2 "
    "AND COALESCE(error_class, '') NOT IN ('queue_full', 'shutting_down', 'interrupted')"
)

# -- budgets -------------------------------------------------------------------------------------

USAGE = """
SELECT COALESCE((SELECT reserved FROM budget_usage
                  WHERE scope = $1 AND day = $2 AND user_id = $3), 0) AS reserved,
       COALESCE((SELECT charged FROM budget_usage
                  WHERE scope = $1 AND day = $2 AND user_id = $3), 0) AS charged,
       COALESCE((SELECT SUM(credits) FROM budget_grant
                  WHERE scope = $1 AND day = $2 AND user_id = $3), 0) AS grants
"""
SCOPE_USAGE = (
    "SELECT COALESCE(SUM(reserved + charged), 0) AS used FROM budget_usage "
    "WHERE scope = $1 AND day = $2"
)
BOT_SPEND = "SELECT GREATEST(0, COALESCE(SUM(usd), 0)) AS usd FROM bot_spend WHERE day = $1"
BUDGET_RULES = """
SELECT (SELECT credits FROM budget_user
         WHERE guild_id = $1 AND user_id = $2) AS user_credits,
       (SELECT json_object_agg(role_id, credits) FROM budget_role
         WHERE guild_id = $1) AS roles,
       (SELECT daily_credits FROM guild_settings WHERE guild_id = $1) AS daily_credits,
       (SELECT server_cap FROM guild_settings WHERE guild_id = $1) AS server_cap
"""
DELETE_ROLE_BUDGET = "DELETE FROM budget_role WHERE guild_id = $1 AND role_id = $2"
SET_ROLE_BUDGET = (
    "INSERT INTO budget_role (guild_id, role_id, credits) VALUES ($1, $2, $3) "
    "ON CONFLICT (guild_id, role_id) DO UPDATE SET credits = excluded.credits"
)
DELETE_USER_BUDGET = "DELETE FROM budget_user WHERE guild_id = $1 AND user_id = $2"
SET_USER_BUDGET = (
    "INSERT INTO budget_user (guild_id, user_id, credits) VALUES ($1, $2, $3) "
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET credits = excluded.credits"
)
ROLE_BUDGETS = "SELECT role_id, credits FROM budget_role WHERE guild_id = $1 ORDER BY role_id"
USER_BUDGETS = "SELECT user_id, credits FROM budget_user WHERE guild_id = $1 ORDER BY user_id"
ADD_GRANT = (
    "INSERT INTO budget_grant (scope, day, user_id, credits, granted_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
# SET reads the row as it was, so last_forgiven gets the charged figure this write cleared.
RESET_USAGE = (
    "UPDATE budget_usage SET last_forgiven = charged, charged = 0 "
    "WHERE scope = $1 AND day = $2 AND user_id = $3 RETURNING last_forgiven"
)

# -- guild settings ------------------------------------------------------------------------------

_SETTINGS = ", ".join(GUILD_SETTING_COLUMNS)

GUILD_SETTINGS = f"SELECT {_SETTINGS} FROM guild_settings WHERE guild_id = $1"


def upsert_guild_settings(columns: list[str]) -> str:
    """Set ``columns`` (names checked against ``GUILD_SETTING_COLUMNS`` by the caller) and return
    the whole row as this statement left it."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    values = ", ".join(f"${n}" for n in range(3, len(columns) + 3))
    return (
        f"INSERT INTO guild_settings (guild_id, updated_at, {', '.join(columns)}) "
        f"VALUES ($1, $2, {values}) "
        f"ON CONFLICT (guild_id) DO UPDATE SET updated_at = excluded.updated_at, {assignments} "
        f"RETURNING {_SETTINGS}"
    )


# -- moderation ----------------------------------------------------------------------------------

ALLOWED_CHANNELS = "SELECT channel_id FROM allowed_channels WHERE guild_id = $1 ORDER BY channel_id"
ALLOW_CHANNEL = (
    "INSERT INTO allowed_channels (guild_id, channel_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
)
REMOVE_CHANNEL = "DELETE FROM allowed_channels WHERE guild_id = $1 AND channel_id = $2"
BAN = (
    "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "reason = excluded.reason, banned_by = excluded.banned_by, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at"
)
UNBAN = "DELETE FROM bans WHERE guild_id = $1 AND user_id = $2"
ACTIVE_BAN = (
    "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
    "WHERE guild_id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3)"
)
ACTIVE_BANS = (
    "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
    "WHERE guild_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at"
)
ADD_BLOCKLIST = (
    "INSERT INTO blocklist (guild_id, kind, pattern, added_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (guild_id, kind, pattern) DO NOTHING RETURNING id"
)
REMOVE_BLOCKLIST = "DELETE FROM blocklist WHERE guild_id = $1 AND kind = $2 AND pattern = $3"
BLOCKLIST = (
    "SELECT id, kind, pattern, added_by, created_at FROM blocklist WHERE guild_id = $1 ORDER BY id"
)
DISABLED_MODELS = "SELECT model_id FROM disabled_models WHERE guild_id = $1"
ENABLE_MODEL = "DELETE FROM disabled_models WHERE guild_id = $1 AND model_id = $2"
DISABLE_MODEL = (
    "INSERT INTO disabled_models (guild_id, model_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
)

# -- audit ---------------------------------------------------------------------------------------

RECORD_AUDIT = (
    "INSERT INTO audit_log (guild_id, actor_id, action, details_json, created_at) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING id"
)
AUDIT_ROWS = (
    "SELECT id, guild_id, actor_id, action, details_json, created_at FROM audit_log "
    "WHERE guild_id = $1 ORDER BY id DESC LIMIT $2"
)

# -- reports -------------------------------------------------------------------------------------

_WINDOW = "FROM jobs WHERE guild_id = $1 AND created_at >= $2"
_SUMS = (
    "COUNT(*) AS jobs, COALESCE(SUM(images_delivered), 0) AS images, "
    "COALESCE(SUM(credits_charged), 0) AS credits, COALESCE(SUM(usd), 0) AS usd"
)
USAGE_TOTALS = (
    f"SELECT {_SUMS}, COUNT(*) FILTER (WHERE state IN ('failed', 'interrupted')) AS failed "
    f"{_WINDOW}"
)
USAGE_BY_USER = (
    f"SELECT user_id::text AS k, {_SUMS} {_WINDOW} GROUP BY user_id "
    "ORDER BY credits DESC, images DESC, user_id LIMIT $3"
)
USAGE_BY_MODEL = (
    f"SELECT model AS k, {_SUMS} {_WINDOW} GROUP BY model ORDER BY credits DESC, images DESC, model"
)
USAGE_ROWS = (
    f"SELECT {', '.join(USAGE_CSV_COLUMNS)} FROM jobs "
    "WHERE guild_id = $1 AND created_at >= $2 ORDER BY id LIMIT $3"
)
_DELIVERED = "user_id = $1 AND state = 'done' AND message_id IS NOT NULL"
DELIVERED_JOBS = f"SELECT {_JOBS} FROM jobs WHERE {_DELIVERED} ORDER BY id DESC LIMIT $2"
DELIVERED_JOBS_IN_GUILD = (
    f"SELECT {_JOBS} FROM jobs WHERE {_DELIVERED} AND guild_id = $2 ORDER BY id DESC LIMIT $3"
)

# -- what the checks before the defer read -------------------------------------------------------

GUILD_RULES = f"""
SELECT {", ".join(f"gs.{c} AS {c}" for c in GUILD_SETTING_COLUMNS)},
       (SELECT json_agg(channel_id) FROM allowed_channels
         WHERE guild_id = $1) AS channels,
       (SELECT json_agg(model_id) FROM disabled_models
         WHERE guild_id = $1) AS disabled,
       (SELECT json_agg(json_build_object(
                   'user_id', user_id, 'reason', reason, 'banned_by', banned_by,
                   'created_at', created_at, 'expires_at', expires_at))
          FROM bans
         WHERE guild_id = $1 AND (expires_at IS NULL OR expires_at > $2)) AS bans,
       (SELECT json_agg(json_build_object(
                   'user_id', user_id, {", ".join(f"'{c}', {c}" for c in MEMBER_DEFAULT_COLUMNS)}))
          FROM member_defaults
         WHERE guild_id = $1 AND user_id = $3) AS defaults
  FROM (SELECT $1::bigint AS guild_id) AS q
  LEFT JOIN guild_settings AS gs ON gs.guild_id = q.guild_id
"""

# -- migrate-to-postgres -------------------------------------------------------------------------

# Every table a bot's SQLite file holds, parents before children (jobs refer to jobs).
COPIED_TABLES = (
    "meta",
    "guild_settings",
    "jobs",
    "budget_usage",
    "bot_spend",
    "budget_role",
    "budget_user",
    "budget_grant",
    "allowed_channels",
    "bans",
    "blocklist",
    "disabled_models",
    "audit_log",
    "member_defaults",
    "job_replies",
)
# What running processes keep (leases, job owners, IDENTIFY turns) is not copied: the copy is
# made with the bot stopped, so none of it is alive, and the open jobs copied are refunded at
# the next start as jobs no live process answers for.
UNCOPIED_TABLES = ("cluster_processes", "cluster_jobs", "identify_turns")
# The tables whose ids are an identity: after rows come in with their own ids, the next id
# must follow the largest copied one.
IDENTITY_TABLES = ("jobs", "budget_grant", "blocklist", "audit_log")


def count_rows(table: str) -> str:
    """A row count of one of ``COPIED_TABLES`` (the caller checks the name)."""
    return f"SELECT COUNT(*) FROM {table}"


def table_columns(table: str) -> str:
    return (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = current_schema() AND table_name = '{table}' "
        "ORDER BY ordinal_position"
    )


def sync_identity(table: str) -> str:
    return (
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
    )


# The SQLite side of the copy (read with the SQLite backend's connection).
SQLITE_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


def sqlite_table_info(table: str) -> str:
    return f'PRAGMA table_info("{table}")'


def sqlite_rows(table: str, columns: list[str]) -> str:
    """Every row of a table (names from SQLite's own catalogue), parents before children."""
    order = " ORDER BY id" if "id" in columns else ""
    return f"SELECT {', '.join(columns)} FROM {table}{order}"


# -- job replies (where an open job's answer is, for recovery after a crash) ----------------------

SAVE_REPLY = """
INSERT INTO job_replies (job_id, message_id, token, expires_at)
SELECT $1::bigint, $2::bigint,
       CASE WHEN $4::double precision > $5::double precision THEN $3::text END,
       $4::double precision
 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1::bigint AND state IN ('queued', 'running'))
ON CONFLICT (job_id) DO UPDATE
   SET message_id = excluded.message_id, token = excluded.token, expires_at = excluded.expires_at
"""
MARK_POSTING = """
INSERT INTO job_replies (job_id, posting_at, images, credits_charged, api_credits, usd,
                         enhanced_prompt)
SELECT $1::bigint, $2::double precision, $3::integer, $4::integer, $5::double precision,
       $6::double precision, $7::text
 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1::bigint AND state = 'running')
ON CONFLICT (job_id) DO UPDATE
   SET posting_at = excluded.posting_at, images = excluded.images,
       credits_charged = excluded.credits_charged, api_credits = excluded.api_credits,
       usd = excluded.usd, enhanced_prompt = excluded.enhanced_prompt
RETURNING job_id
"""
GET_REPLY = """
SELECT job_id, message_id, CASE WHEN expires_at > $2::double precision THEN token END AS token,
       posting_at,
       images, credits_charged, api_credits, usd, enhanced_prompt
  FROM job_replies WHERE job_id = $1
"""
FORGET_EXPIRED_TOKENS = (
    "UPDATE job_replies SET token = NULL WHERE token IS NOT NULL AND expires_at <= $1"
)

# -- member defaults (/settings) ------------------------------------------------------------------

_MEMBER = ", ".join(MEMBER_DEFAULT_COLUMNS)
MEMBER_DEFAULTS = f"SELECT {_MEMBER} FROM member_defaults WHERE guild_id = $1 AND user_id = $2"
RESET_MEMBER_DEFAULTS = "DELETE FROM member_defaults WHERE guild_id = $1 AND user_id = $2"


def upsert_member_defaults(columns: list[str]) -> str:
    """Set ``columns`` (names checked against ``MEMBER_DEFAULT_COLUMNS`` by the caller) and
    return the member's whole row as this statement left it."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    values = ", ".join(f"${n}" for n in range(4, 4 + len(columns)))
    return (
        f"INSERT INTO member_defaults (guild_id, user_id, updated_at, {', '.join(columns)}) "
        f"VALUES ($1, $2, $3, {values}) "
        "ON CONFLICT (guild_id, user_id) DO UPDATE SET updated_at = excluded.updated_at, "
        f"{assignments} RETURNING {_MEMBER}"
    )

# -- cluster (several processes on one database; the functions are migration 0004's) -----------

# Leases and turns are written and read by the database's clock: one clock for every host.
REGISTER_PROCESS = """
INSERT INTO cluster_processes (id, member, lease_until, started_at)
SELECT $1, $2, t + $3, t FROM cluster_clock() AS t
ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until
"""
RENEW_LEASE = (
    "UPDATE cluster_processes SET lease_until = cluster_clock() + $2 WHERE id = $1 RETURNING id"
)
ENROL_JOB = "SELECT cluster_enrol($1, $2, $3, $4)"
CLAIM_SLOTS = "SELECT job_id FROM cluster_claim_slots($1, $2) AS job_id"
QUEUE_POSITIONS = "SELECT job_id, place FROM cluster_line(cluster_clock()) WHERE owner = $1"
RELEASE_SLOTS = "UPDATE cluster_jobs SET slot = 0 WHERE job_id = ANY ($1::bigint[])"

# Open jobs no live process answers for: their owner's lease expired, or the owner was an
# earlier life of this member ($2; $1 is this process), or no process ever took them and they
# are older than a lease ($3: created_at is written by the bot's clock, so compared with it).
ORPHANED_JOBS = f"""
SELECT {_JOBS} FROM jobs
 WHERE state IN ('queued', 'running')
   AND NOT EXISTS (SELECT 1 FROM cluster_jobs c JOIN cluster_processes p ON p.id = c.owner
                    WHERE c.job_id = jobs.id AND p.lease_until > cluster_clock()
                      AND (p.member <> $2 OR p.id = $1))
   AND (EXISTS (SELECT 1 FROM cluster_jobs c WHERE c.job_id = jobs.id) OR created_at < $3)
 ORDER BY id
"""
FORGET_DEAD = """
WITH gone AS (
    DELETE FROM cluster_processes
     WHERE lease_until <= cluster_clock() OR (member = $2 AND id <> $1))
DELETE FROM cluster_jobs c USING jobs j
 WHERE j.id = c.job_id AND j.state NOT IN ('queued', 'running')
"""

# The turn is taken if it is free; else the seconds until it frees. When the holder's row is
# newer than this statement's snapshot, a whole window: waiting longer is safe, less is not.
TAKE_IDENTIFY_TURN = """
WITH clock AS (SELECT cluster_clock() AS t),
taken AS (
    INSERT INTO identify_turns (bucket, holder, until)
    SELECT $1, $2, t + $3 FROM clock
    ON CONFLICT (bucket) DO UPDATE SET holder = excluded.holder, until = excluded.until
     WHERE identify_turns.until <= excluded.until - $3
    RETURNING bucket)
SELECT CASE WHEN EXISTS (SELECT 1 FROM taken) THEN 0
            ELSE COALESCE((SELECT i.until - clock.t FROM identify_turns i, clock
                            WHERE i.bucket = $1 AND i.until > clock.t), $3) END
"""
