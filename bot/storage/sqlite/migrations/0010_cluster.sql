-- Several bot processes on one database (issue 20): who is alive, which process owns each open
-- job and whether it holds one of the bot-wide generation slots, and the IDENTIFY turns.

-- One row per running process; its lease is renewed while it lives. ``member`` names what it
-- runs (its shards), so its own restart knows the jobs of its previous life.
CREATE TABLE cluster_processes (
    id          TEXT PRIMARY KEY,
    member      TEXT NOT NULL,
    lease_until REAL NOT NULL,
    started_at  REAL NOT NULL
);

-- The owner of each job taken by a process of a cluster; a slot counts only while the owner's
-- lease lives, so a dead process's slots come back when its lease expires.
CREATE TABLE cluster_jobs (
    job_id  INTEGER PRIMARY KEY REFERENCES jobs (id),
    owner   TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    slot    INTEGER NOT NULL DEFAULT 0 CHECK (slot IN (0, 1))
);
CREATE INDEX cluster_jobs_owner ON cluster_jobs (owner);
CREATE INDEX cluster_jobs_user ON cluster_jobs (user_id);

-- Who may IDENTIFY next in each of Discord's IDENTIFY buckets (shard id % max_concurrency).
CREATE TABLE identify_turns (
    bucket INTEGER PRIMARY KEY,
    holder TEXT NOT NULL,
    until  REAL NOT NULL
);
