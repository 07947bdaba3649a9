-- Times are epoch milliseconds from the database's clock; integers are BIGINT so both backends decode them as i64.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  profile TEXT NOT NULL,
  provider TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued','running','sent','failed','in_doubt','cancelled')),
  phase TEXT NOT NULL DEFAULT 'fresh' CHECK (phase IN ('fresh','prepared','committing')),
  priority SMALLINT NOT NULL DEFAULT 0,
  idempotency_key TEXT UNIQUE,
  fingerprint TEXT NOT NULL,
  spec TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  not_before BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deadline BIGINT,
  attempt BIGINT NOT NULL DEFAULT 0,
  failures BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL,
  worker TEXT,
  lease_until BIGINT,
  checkpoint TEXT,
  committing_at BIGINT,
  receipt TEXT,
  error_kind TEXT,
  error_message TEXT,
  doubt_reason TEXT,
  finished_at BIGINT,
  blobs_removed_at BIGINT
);
CREATE INDEX jobs_ready ON jobs (priority DESC, not_before, id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('sent','failed','cancelled');
CREATE TABLE job_events (
  seq BIGSERIAL PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  event TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX job_events_job ON job_events (job_id, seq);
CREATE TABLE profile_pauses (
  profile TEXT PRIMARY KEY,
  paused_until BIGINT,
  pause_reason TEXT,
  max_in_flight BIGINT,
  updated_at BIGINT NOT NULL
);
