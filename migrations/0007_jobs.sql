-- The scheduler (DESIGN §7): its lease, the brands' cron jobs and their runs.
-- A job raises one internal event per selected customer per occurrence ("bucket"); the
-- event's id is derived from (job, bucket, customer), so the events table's UNIQUE
-- (brand_id, event_id) is what makes an occurrence apply at most once per customer,
-- whatever crashes, restarts, second processes or manual runs happen.

-- One row per lease name: the process whose holder id is here (until expires_at_ms) runs
-- the background work; another takes over once it has expired.
CREATE TABLE scheduler_lease (
  name          TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
  holder        TEXT NOT NULL CHECK (length(holder) BETWEEN 1 AND 64),
  acquired_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID, STRICT;

CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  code          TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  cron          TEXT NOT NULL CHECK (length(cron) BETWEEN 9 AND 120),
  time_zone     TEXT NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
  active        INTEGER NOT NULL CHECK (active IN (0, 1)),
  selector      TEXT NOT NULL CHECK (json_valid(selector)),
  event_type    TEXT NOT NULL,
  payload       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload) AND json_type(payload) = 'object'),
  catch_up      TEXT NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'skip')),
  -- The next occurrence the scheduler starts, and the moment it is due.
  next_bucket   TEXT,
  next_due_ms   INTEGER,
  deleted_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, code),
  FOREIGN KEY (brand_id, event_type) REFERENCES event_types (brand_id, code)
) STRICT;
CREATE INDEX jobs_due ON jobs (next_due_ms) WHERE active = 1 AND deleted_at_ms IS NULL;

-- A run of one occurrence: by the schedule or by hand. A scheduled run goes through the
-- customers in id order in chunks across ticks; `cursor` is the last customer row done,
-- so a restart continues where it stopped.
CREATE TABLE job_runs (
  id             INTEGER PRIMARY KEY,
  job_id         INTEGER NOT NULL REFERENCES jobs(id),
  bucket         TEXT NOT NULL CHECK (length(bucket) = 16),
  due_at_ms      INTEGER NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  status         TEXT NOT NULL CHECK (status IN ('running', 'done')),
  cursor         INTEGER NOT NULL DEFAULT 0,
  scanned        INTEGER NOT NULL DEFAULT 0,
  matched        INTEGER NOT NULL DEFAULT 0,
  created        INTEGER NOT NULL DEFAULT 0,
  existing       INTEGER NOT NULL DEFAULT 0,
  failed         INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT CHECK (last_error IS NULL OR length(last_error) <= 500),
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER
) STRICT;
CREATE INDEX job_runs_job ON job_runs (job_id, id);
CREATE INDEX job_runs_running ON job_runs (id) WHERE status = 'running';
-- One scheduled run per occurrence.
CREATE UNIQUE INDEX job_runs_scheduled ON job_runs (job_id, bucket) WHERE trigger = 'schedule';
