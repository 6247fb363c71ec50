"""Every SQL statement of the SQLite backend, in one place.

A reader sees the whole dialect here; a second backend keeps its own parallel module. The few
statements built from column lists are built by functions here, from fixed names only.
"""

from __future__ import annotations

from bot.storage.types import (
    GUILD_SETTING_COLUMNS,
    JOB_COLUMNS,
    MEMBER_DEFAULT_COLUMNS,
    USAGE_CSV_COLUMNS,
)

# -- connection and lifecycle --------------------------------------------------------------------

BUSY_TIMEOUT_MS = 10_000

CONFIGURE = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    # In WAL mode a commit appends to the log without an fsync; SQLite's automatic checkpoint
    # (left at its default) copies the log back and keeps it small.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
JOURNAL_MODE_WAL = "PRAGMA journal_mode = WAL"
SCHEMA_VERSION = "PRAGMA user_version"
PING = "SELECT 1"
INTEGRITY_CHECK = "PRAGMA integrity_check"
BACKUP_INTO = "VACUUM INTO ?"
ROLLBACK = "ROLLBACK"


def migration_script(sql: str, version: int) -> str:
    """One migration and its version number, committed together or not at all."""
    return f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"


GET_META = "SELECT value FROM meta WHERE key = ?"
SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# -- jobs ----------------------------------------------------------------------------------------

_JOBS = ", ".join(JOB_COLUMNS)

# Jobs the bot itself refused or cut off (queue full, shutdown, crash) start no cooldown: the
# member did nothing wrong.
NO_COOLDOWN = "('queue_full', 'shutting_down', 'interrupted')"

RESERVE_JOB = f"""
INSERT INTO jobs (guild_id, channel_id, user_id, scope, budget_day, bot_day, model,
                  prompt, negative_prompt, aspect_ratio, count, seed, params_json,
                  state, credits_reserved, usd_reserved, parent_job_id, created_at,
                  spoiler)
SELECT :guild_id, :channel_id, :user_id, :scope, :day, :bot_day, :model,
       :prompt, :negative_prompt, :aspect_ratio, :count, :seed, :params_json,
       'queued', :credits, :usd, :parent, :now, :spoiler
  FROM (SELECT COALESCE(
                   (SELECT credits FROM budget_user
                     WHERE guild_id = :rules_guild AND user_id = :user_id),
                   (SELECT MAX(credits) FROM budget_role
                     WHERE guild_id = :rules_guild
                       AND role_id IN (SELECT value FROM json_each(:role_ids))),
                   (SELECT daily_credits FROM guild_settings
                     WHERE guild_id = :rules_guild),
                   :base_limit) AS base_limit,
               COALESCE(:server_cap, (SELECT server_cap FROM guild_settings
                                       WHERE guild_id = :rules_guild)) AS server_cap
       ) AS rules
WHERE COALESCE((SELECT reserved + charged FROM budget_usage
                 WHERE scope = :scope AND day = :day AND user_id = :user_id), 0)
      + :credits
      <= rules.base_limit + COALESCE((SELECT SUM(credits) FROM budget_grant
                                       WHERE scope = :scope AND day = :day
                                         AND user_id = :user_id), 0)
  AND (rules.server_cap IS NULL
       OR COALESCE((SELECT SUM(reserved + charged) FROM budget_usage
                     WHERE scope = :scope AND day = :day), 0) + :credits
          <= rules.server_cap)
  AND (:usd_cap IS NULL
       OR COALESCE((SELECT usd FROM bot_spend WHERE day = :bot_day), 0) + :usd
          <= :usd_cap)
  AND (:cooldown_since IS NULL
       OR NOT EXISTS (SELECT 1 FROM jobs
                       WHERE user_id = :user_id AND scope = :scope
                         AND created_at > :cooldown_since
                         AND COALESCE(error_class, '') NOT IN {NO_COOLDOWN}))
RETURNING id
"""

MARK_RUNNING = (
    "UPDATE jobs SET state = 'running', started_at = ? WHERE id = ? AND state = 'queued' "
    "RETURNING id"
)

# The trigger jobs_settle moves the credits from reserved to charged (and refunds the rest).
FINISH_JOB = """
UPDATE jobs
   SET state = :state,
       credits_charged = MIN(:charged, credits_reserved),
       images_delivered = :delivered,
       api_credits = COALESCE(:api_credits, api_credits),
       usd = COALESCE(:usd, usd),
       enhanced_prompt = COALESCE(:enhanced, enhanced_prompt),
       message_id = COALESCE(:message_id, message_id),
       error_class = :error_class,
       error_detail = :error_detail,
       finished_at = :now
 WHERE id = :id AND state IN ('queued', 'running')
RETURNING id
"""

GET_JOB = f"SELECT {_JOBS} FROM jobs WHERE id = ?"
OPEN_JOBS = f"SELECT {_JOBS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id"
RECENT_JOBS = f"SELECT {_JOBS} FROM jobs WHERE user_id = ? ORDER BY id DESC LIMIT ?"
RECENT_JOBS_IN_GUILD = (
    f"SELECT {_JOBS} FROM jobs WHERE user_id = ? AND guild_id = ? ORDER BY id DESC LIMIT ?"
)
LAST_JOB_TIME = (
    "SELECT MAX(created_at) AS t FROM jobs WHERE user_id = ? AND scope = ? "
    f"AND COALESCE(error_class, '') NOT IN {NO_COOLDOWN}"
)

# An open job's reply (table job_replies, deleted by a trigger when the job settles). A token is
# stored only while valid, and only for a job still open: a click that settled the job first
# leaves nothing behind.
SAVE_REPLY = """
INSERT INTO job_replies (job_id, message_id, token, expires_at)
SELECT :id, :message_id, CASE WHEN :expires_at > :now THEN :token END, :expires_at
 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :id AND state IN ('queued', 'running'))
ON CONFLICT (job_id) DO UPDATE
   SET message_id = excluded.message_id, token = excluded.token, expires_at = excluded.expires_at
"""
MARK_POSTING = """
INSERT INTO job_replies (job_id, posting_at, images, credits_charged, api_credits, usd,
                         enhanced_prompt)
SELECT :id, :now, :images, :charged, :api_credits, :usd, :enhanced
 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = :id AND state = 'running')
ON CONFLICT (job_id) DO UPDATE
   SET posting_at = excluded.posting_at, images = excluded.images,
       credits_charged = excluded.credits_charged, api_credits = excluded.api_credits,
       usd = excluded.usd, enhanced_prompt = excluded.enhanced_prompt
RETURNING job_id
"""
GET_REPLY = """
SELECT job_id, message_id, CASE WHEN expires_at > :now THEN token END AS token, posting_at,
       images, credits_charged, api_credits, usd, enhanced_prompt
  FROM job_replies WHERE job_id = :id
"""
FORGET_EXPIRED_TOKENS = (
    "UPDATE job_replies SET token = NULL WHERE token IS NOT NULL AND expires_at <= ?"
)

# -- budgets -------------------------------------------------------------------------------------

USAGE = """
SELECT COALESCE((SELECT reserved FROM budget_usage
                  WHERE scope = :s AND day = :d AND user_id = :u), 0) AS reserved,
       COALESCE((SELECT charged FROM budget_usage
                  WHERE scope = :s AND day = :d AND user_id = :u), 0) AS charged,
       COALESCE((SELECT SUM(credits) FROM budget_grant
                  WHERE scope = :s AND day = :d AND user_id = :u), 0) AS grants
"""
SCOPE_USAGE = (
    "SELECT COALESCE(SUM(reserved + charged), 0) AS used FROM budget_usage "
    "WHERE scope = ? AND day = ?"
)
BOT_SPEND = "SELECT usd FROM bot_spend WHERE day = ?"
BUDGET_RULES = """
SELECT (SELECT credits FROM budget_user
         WHERE guild_id = :g AND user_id = :u) AS user_credits,
       (SELECT json_group_object(role_id, credits) FROM budget_role
         WHERE guild_id = :g) AS roles,
       (SELECT daily_credits FROM guild_settings WHERE guild_id = :g) AS daily_credits,
       (SELECT server_cap FROM guild_settings WHERE guild_id = :g) AS server_cap
"""
DELETE_ROLE_BUDGET = "DELETE FROM budget_role WHERE guild_id = ? AND role_id = ?"
SET_ROLE_BUDGET = (
    "INSERT INTO budget_role (guild_id, role_id, credits) VALUES (?, ?, ?) "
    "ON CONFLICT (guild_id, role_id) DO UPDATE SET credits = excluded.credits"
)
DELETE_USER_BUDGET = "DELETE FROM budget_user WHERE guild_id = ? AND user_id = ?"
SET_USER_BUDGET = (
    "INSERT INTO budget_user (guild_id, user_id, credits) VALUES (?, ?, ?) "
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET credits = excluded.credits"
)
ROLE_BUDGETS = "SELECT role_id, credits FROM budget_role WHERE guild_id = ? ORDER BY role_id"
USER_BUDGETS = "SELECT user_id, credits FROM budget_user WHERE guild_id = ? ORDER BY user_id"
ADD_GRANT = (
    "INSERT INTO budget_grant (scope, day, user_id, credits, granted_by, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# RETURNING shows a row as the statement left it, so the statement keeps what it forgave in a
# column of the same row: the figure is exactly what this write removed, whatever settles around.
RESET_USAGE = (
    "UPDATE budget_usage SET last_forgiven = charged, charged = 0 "
    "WHERE scope = ? AND day = ? AND user_id = ? RETURNING last_forgiven"
)

# -- guild settings ------------------------------------------------------------------------------

_SETTINGS = ", ".join(GUILD_SETTING_COLUMNS)

GUILD_SETTINGS = f"SELECT {_SETTINGS} FROM guild_settings WHERE guild_id = ?"


def upsert_guild_settings(columns: list[str]) -> str:
    """Set ``columns`` (names checked against ``GUILD_SETTING_COLUMNS`` by the caller) and return
    the whole row as this statement left it."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    values = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO guild_settings (guild_id, updated_at, {', '.join(columns)}) "
        f"VALUES (?, ?, {values}) "
        f"ON CONFLICT (guild_id) DO UPDATE SET updated_at = excluded.updated_at, {assignments} "
        f"RETURNING {_SETTINGS}"
    )


# -- members' own defaults -----------------------------------------------------------------------

_MEMBER = ", ".join(MEMBER_DEFAULT_COLUMNS)

MEMBER_DEFAULTS = f"SELECT {_MEMBER} FROM member_defaults WHERE guild_id = ? AND user_id = ?"
RESET_MEMBER_DEFAULTS = "DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ?"


def upsert_member_defaults(columns: list[str]) -> str:
    """Set ``columns`` (names checked against ``MEMBER_DEFAULT_COLUMNS`` by the caller) and
    return the member's whole row as this statement left it."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    values = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO member_defaults (guild_id, user_id, updated_at, {', '.join(columns)}) "
        f"VALUES (?, ?, ?, {values}) "
        "ON CONFLICT (guild_id, user_id) DO UPDATE SET updated_at = excluded.updated_at, "
        f"{assignments} RETURNING {_MEMBER}"
    )


# -- moderation ----------------------------------------------------------------------------------

ALLOWED_CHANNELS = "SELECT channel_id FROM allowed_channels WHERE guild_id = ? ORDER BY channel_id"
ALLOW_CHANNEL = "INSERT OR IGNORE INTO allowed_channels (guild_id, channel_id) VALUES (?, ?)"
REMOVE_CHANNEL = "DELETE FROM allowed_channels WHERE guild_id = ? AND channel_id = ?"
BAN = (
    "INSERT INTO bans (guild_id, user_id, reason, banned_by, created_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "reason = excluded.reason, banned_by = excluded.banned_by, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at"
)
UNBAN = "DELETE FROM bans WHERE guild_id = ? AND user_id = ?"
ACTIVE_BAN = (
    "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
    "WHERE guild_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)"
)
ACTIVE_BANS = (
    "SELECT guild_id, user_id, reason, banned_by, created_at, expires_at FROM bans "
    "WHERE guild_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at"
)
ADD_BLOCKLIST = (
    "INSERT INTO blocklist (guild_id, kind, pattern, added_by, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, pattern) DO NOTHING RETURNING id"
)
REMOVE_BLOCKLIST = "DELETE FROM blocklist WHERE guild_id = ? AND kind = ? AND pattern = ?"
BLOCKLIST = (
    "SELECT id, kind, pattern, added_by, created_at FROM blocklist WHERE guild_id = ? ORDER BY id"
)
DISABLED_MODELS = "SELECT model_id FROM disabled_models WHERE guild_id = ?"
ENABLE_MODEL = "DELETE FROM disabled_models WHERE guild_id = ? AND model_id = ?"
DISABLE_MODEL = "INSERT OR IGNORE INTO disabled_models (guild_id, model_id) VALUES (?, ?)"

# -- audit ---------------------------------------------------------------------------------------

RECORD_AUDIT = (
    "INSERT INTO audit_log (guild_id, actor_id, action, details_json, created_at) "
    "VALUES (?, ?, ?, ?, ?) RETURNING id"
)
AUDIT_ROWS = (
    "SELECT id, guild_id, actor_id, action, details_json, created_at FROM audit_log "
    "WHERE guild_id = ? ORDER BY id DESC LIMIT ?"
)

# -- reports -------------------------------------------------------------------------------------

_WINDOW = "FROM jobs WHERE guild_id = :g AND created_at >= :since"
_SUMS = (
    "COUNT(*) AS jobs, COALESCE(SUM(images_delivered), 0) AS images, "
    "COALESCE(SUM(credits_charged), 0) AS credits, COALESCE(SUM(usd), 0) AS usd"
)
USAGE_TOTALS = (
    f"SELECT {_SUMS}, COALESCE(SUM(state IN ('failed', 'interrupted')), 0) AS failed {_WINDOW}"
)
USAGE_BY_USER = (
    f"SELECT user_id AS k, {_SUMS} {_WINDOW} GROUP BY user_id "
    "ORDER BY credits DESC, images DESC, user_id LIMIT :top"
)
USAGE_BY_MODEL = (
    f"SELECT model AS k, {_SUMS} {_WINDOW} GROUP BY model ORDER BY credits DESC, images DESC, model"
)
USAGE_ROWS = (
    f"SELECT {', '.join(USAGE_CSV_COLUMNS)} FROM jobs "
    "WHERE guild_id = ? AND created_at >= ? ORDER BY id LIMIT ?"
)
_DELIVERED = "user_id = ? AND state = 'done' AND message_id IS NOT NULL"
DELIVERED_JOBS = f"SELECT {_JOBS} FROM jobs WHERE {_DELIVERED} ORDER BY id DESC LIMIT ?"
DELIVERED_JOBS_IN_GUILD = (
    f"SELECT {_JOBS} FROM jobs WHERE {_DELIVERED} AND guild_id = ? ORDER BY id DESC LIMIT ?"
)

# -- what the checks before the defer read -------------------------------------------------------

GUILD_RULES = f"""
SELECT {", ".join(f"gs.{c} AS {c}" for c in GUILD_SETTING_COLUMNS)},
       (SELECT json_group_array(channel_id) FROM allowed_channels
         WHERE guild_id = :g) AS channels,
       (SELECT json_group_array(model_id) FROM disabled_models
         WHERE guild_id = :g) AS disabled,
       (SELECT json_group_array(json_object(
                   'user_id', user_id, 'reason', reason, 'banned_by', banned_by,
                   'created_at', created_at, 'expires_at', expires_at))
          FROM bans
         WHERE guild_id = :g AND (expires_at IS NULL OR expires_at > :at)) AS bans,
       (SELECT json_group_array(json_object(
                   'user_id', user_id, {", ".join(f"'{c}', {c}" for c in MEMBER_DEFAULT_COLUMNS)}))
          FROM member_defaults
         WHERE guild_id = :g) AS defaults
  FROM (SELECT :g AS guild_id) AS q
  LEFT JOIN guild_settings AS gs ON gs.guild_id = q.guild_id
"""

# -- cluster (several processes on one database) --------------------------------------------------

REGISTER_PROCESS = """
INSERT INTO cluster_processes (id, member, lease_until, started_at)
VALUES (:id, :member, :until, :now)
ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until
"""
RENEW_LEASE = "UPDATE cluster_processes SET lease_until = :until WHERE id = :id RETURNING id"

# The per-user limit counted over every process, in the statement that takes the job.
ENROL_JOB = """
INSERT INTO cluster_jobs (job_id, owner, user_id)
SELECT :job_id, :owner, :user_id
 WHERE (SELECT COUNT(*) FROM cluster_jobs c JOIN jobs j ON j.id = c.job_id
         WHERE c.user_id = :user_id AND j.state IN ('queued', 'running')) < :max_per_user
RETURNING job_id
"""

# The bot-wide line: the open jobs of live processes; a waiting job's turn is its rank among its
# user's waiting jobs plus the slots that user holds, so users take turns whichever process
# holds their jobs.
_LINE = """
WITH open AS (
    SELECT c.job_id, c.owner, c.user_id, c.slot
      FROM cluster_jobs c
      JOIN jobs j ON j.id = c.job_id
      JOIN cluster_processes p ON p.id = c.owner
     WHERE j.state IN ('queued', 'running') AND p.lease_until > :now),
held AS (SELECT user_id, COUNT(*) AS n FROM open WHERE slot = 1 GROUP BY user_id),
turns AS (
    SELECT job_id, owner, user_id,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY job_id) AS k
      FROM open WHERE slot = 0),
line AS (
    SELECT t.job_id, t.owner,
           ROW_NUMBER() OVER (ORDER BY t.k + COALESCE(h.n, 0), t.job_id) AS position
      FROM turns t LEFT JOIN held h ON h.user_id = t.user_id)
"""
# A process starts only its own jobs from the head of the line: a free slot waits for the
# process whose job is first rather than going to a later job.
CLAIM_SLOTS = (
    _LINE
    + """
UPDATE cluster_jobs SET slot = 1
 WHERE job_id IN (SELECT job_id FROM line
                   WHERE owner = :owner
                     AND position <= :max_slots - (SELECT COUNT(*) FROM open WHERE slot = 1))
RETURNING job_id
"""
)
QUEUE_POSITIONS = _LINE + "SELECT job_id, position FROM line WHERE owner = :owner"
RELEASE_SLOTS = (
    "UPDATE cluster_jobs SET slot = 0 WHERE job_id IN (SELECT value FROM json_each(:ids))"
)

# Open jobs no live process answers for: their owner's lease expired, or the owner was an
# earlier life of this member, or (older than a lease) no process ever took them.
ORPHANED_JOBS = f"""
SELECT {_JOBS} FROM jobs
 WHERE state IN ('queued', 'running')
   AND NOT EXISTS (SELECT 1 FROM cluster_jobs c JOIN cluster_processes p ON p.id = c.owner
                    WHERE c.job_id = jobs.id AND p.lease_until > :now
                      AND (p.member != :member OR p.id = :me))
   AND (EXISTS (SELECT 1 FROM cluster_jobs c WHERE c.job_id = jobs.id)
        OR created_at < :stale)
 ORDER BY id
"""
FORGET_DEAD = (
    "DELETE FROM cluster_processes WHERE lease_until <= :now OR (member = :member AND id != :me)",
    "DELETE FROM cluster_jobs WHERE job_id IN "
    "(SELECT id FROM jobs WHERE state NOT IN ('queued', 'running'))",
)

TAKE_IDENTIFY_TURN = """
INSERT INTO identify_turns (bucket, holder, until) VALUES (:bucket, :holder, :until)
ON CONFLICT (bucket) DO UPDATE SET holder = excluded.holder, until = excluded.until
 WHERE identify_turns.until <= :now
RETURNING bucket
"""
IDENTIFY_TURN_ENDS = "SELECT until FROM identify_turns WHERE bucket = ?"
