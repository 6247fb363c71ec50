-- Several bot processes on one database (issue 20): the tables of the SQLite backend's migration
-- 0010, in PostgreSQL's words. Leases and IDENTIFY turns are read against the database's clock
-- (``cluster_clock``), so processes on hosts whose clocks differ still agree on who is alive.

-- One row per running process; its lease is renewed while it lives. ``member`` names what it
-- runs (its shards), so its own restart knows the jobs of its previous life.
CREATE TABLE cluster_processes (
    id           TEXT PRIMARY KEY,
    member       TEXT NOT NULL,
    lease_until  DOUBLE PRECISION NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL
);

-- The owner of each job taken by a process of a cluster; a slot counts only while the owner's
-- lease lives, so a dead process's slots come back when its lease expires.
CREATE TABLE cluster_jobs (
    job_id   BIGINT PRIMARY KEY REFERENCES jobs (id),
    owner    TEXT NOT NULL,
    user_id  BIGINT NOT NULL,
    slot     SMALLINT NOT NULL DEFAULT 0 CHECK (slot IN (0, 1))
);
CREATE INDEX cluster_jobs_owner ON cluster_jobs (owner);
CREATE INDEX cluster_jobs_user ON cluster_jobs (user_id);

-- Who may IDENTIFY next in each of Discord's IDENTIFY buckets (shard id % max_concurrency).
CREATE TABLE identify_turns (
    bucket  INTEGER PRIMARY KEY,
    holder  TEXT NOT NULL,
    until   DOUBLE PRECISION NOT NULL
);

-- Epoch seconds, the unit of every time column, by the database's clock.
CREATE FUNCTION cluster_clock() RETURNS DOUBLE PRECISION LANGUAGE sql VOLATILE AS $$
    SELECT extract(epoch FROM clock_timestamp())::double precision
$$;

-- The open jobs of live processes at ``p_now``.
CREATE FUNCTION cluster_open(p_now DOUBLE PRECISION)
RETURNS TABLE (job_id BIGINT, owner TEXT, user_id BIGINT, slot SMALLINT)
LANGUAGE sql STABLE AS $$
    SELECT c.job_id, c.owner, c.user_id, c.slot
      FROM cluster_jobs c
      JOIN jobs j ON j.id = c.job_id
      JOIN cluster_processes p ON p.id = c.owner
     WHERE j.state IN ('queued', 'running') AND p.lease_until > p_now
$$;

-- The bot-wide line: a waiting job's turn is its rank among its user's waiting jobs plus the
-- slots that user holds, so users take turns whichever process holds their jobs.
CREATE FUNCTION cluster_line(p_now DOUBLE PRECISION)
RETURNS TABLE (job_id BIGINT, owner TEXT, place BIGINT)
LANGUAGE sql STABLE AS $$
    WITH live AS (SELECT * FROM cluster_open(p_now)),
    held AS (SELECT o.user_id, COUNT(*) AS n FROM live o WHERE o.slot = 1 GROUP BY o.user_id),
    turns AS (
        SELECT o.job_id, o.owner, o.user_id,
               ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.job_id) AS k
          FROM live o WHERE o.slot = 0)
    SELECT t.job_id, t.owner,
           ROW_NUMBER() OVER (ORDER BY t.k + COALESCE(h.n, 0), t.job_id) AS place
      FROM turns t LEFT JOIN held h ON h.user_id = t.user_id
$$;

-- Taking a job and claiming slots read counts and then write: one statement for the client
-- (SELECT cluster_enrol(...), SELECT * FROM cluster_claim_slots(...)), which first takes a lock
-- every writer of the same count takes. A VOLATILE function reads with a fresh snapshot per
-- statement, so the count after the lock sees every write committed before it; the lock is
-- held to the end of the transaction. Lock namespaces 20 and 21 are reserve_job's (0001).

-- Name the job's owner unless its user already has ``p_max_per_user`` open jobs bot-wide.
CREATE FUNCTION cluster_enrol(
    p_job_id BIGINT, p_user_id BIGINT, p_owner TEXT, p_max_per_user INTEGER
) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(22, hashtext(p_user_id::text));
    IF (SELECT COUNT(*) FROM cluster_jobs c JOIN jobs j ON j.id = c.job_id
         WHERE c.user_id = p_user_id AND j.state IN ('queued', 'running')) >= p_max_per_user THEN
        RETURN FALSE;
    END IF;
    INSERT INTO cluster_jobs (job_id, owner, user_id) VALUES (p_job_id, p_owner, p_user_id);
    RETURN TRUE;
END $$;

-- A process starts only its own jobs from the head of the line: a free slot waits for the
-- process whose job is first rather than going to a later job. One lock for the whole bot:
-- the slots are the bot's.
CREATE FUNCTION cluster_claim_slots(p_owner TEXT, p_max_slots INTEGER)
RETURNS SETOF BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now DOUBLE PRECISION;
BEGIN
    PERFORM pg_advisory_xact_lock(23, 0);
    v_now := cluster_clock();
    RETURN QUERY
    UPDATE cluster_jobs SET slot = 1
     WHERE cluster_jobs.job_id IN (
           SELECT l.job_id FROM cluster_line(v_now) l
            WHERE l.owner = p_owner
              AND l.place <= p_max_slots - (SELECT COUNT(*) FROM cluster_open(v_now) o
                                                WHERE o.slot = 1))
    RETURNING cluster_jobs.job_id;
END $$;
