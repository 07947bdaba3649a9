//! The shared backend: PostgreSQL, for workers on many machines.
//!
//! A claim locks the job row it takes with `FOR UPDATE SKIP LOCKED`, so concurrent claimers
//! pass over each other's rows instead of waiting; every fenced write locks its row with
//! `FOR UPDATE` before checking the attempt. Times come from the database's clock
//! (`clock_timestamp()`), so workers' clocks never matter. sqlx's PostgreSQL migrator takes
//! an advisory lock, so many workers may open the same database at once.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use securesend_core::{Error, ErrorKind};
use serde_json::Value;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, SqlSafeStr, Transaction};

use crate::common::*;
use crate::job::{EnqueueOptions, JobId, JobSpec, JobState};
use crate::state::allowed;
use crate::storage::{
    ClaimRequest, Claimed, Inserted, Job, JobEvent, Outcome, ProfilePause, QueueError, Resolution,
    Result, Stats, Storage,
};

/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Job storage in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0001_init.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "claim limits".into(),
            MigrationType::Simple,
            include_str!("../migrations/postgres/0002_claim_limits.sql").into_sql_str(),
            false,
        ),
    ])
}

type Tx = Transaction<'static, Postgres>;

const CLOCK: &str = "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

async fn now(tx: &mut Tx) -> Result<i64> {
    sqlx::query_scalar::<_, i64>(CLOCK)
        .fetch_one(&mut **tx)
        .await
        .map_err(db("reading the clock"))
}

/// Runs a savepoint command; sqlx's nested transactions would borrow `tx` under another type.
async fn savepoint(tx: &mut Tx, sql: &'static str) -> Result<()> {
    sqlx::raw_sql(sql)
        .execute(&mut **tx)
        .await
        .map_err(db("moving between claim candidates"))?;
    Ok(())
}

/// Whether `profile` may have one more job running now. Locking its row serializes every
/// claimer of the profile until commit, and the count that follows sees (READ COMMITTED) every
/// claim committed before the lock was granted: the cap is exact. No row: no pause, no cap.
async fn profile_has_room(tx: &mut Tx, profile: &str, at: i64) -> Result<bool> {
    let limits = sqlx::query(
        "SELECT paused_until, max_in_flight FROM profile_pauses WHERE profile = $1 FOR UPDATE",
    )
    .bind(profile)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db("locking a profile's limits"))?;
    let Some(limits) = limits else {
        return Ok(true);
    };
    let paused_until: Option<i64> = limits
        .try_get("paused_until")
        .map_err(db("reading a profile's limits"))?;
    if paused_until.is_some_and(|until| until > at) {
        return Ok(false);
    }
    let max: Option<i64> = limits
        .try_get("max_in_flight")
        .map_err(db("reading a profile's limits"))?;
    let Some(max) = max else {
        return Ok(true);
    };
    let running: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE profile = $1 AND state = 'running' AND lease_until > $2",
    )
    .bind(profile)
    .bind(at)
    .fetch_one(&mut **tx)
    .await
    .map_err(db("counting a profile's running jobs"))?;
    Ok(running < max)
}

#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &mut Tx,
    id: JobId,
    at: i64,
    actor: &str,
    attempt: i64,
    from: Option<JobState>,
    to: JobState,
    event: &str,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO job_events (job_id, at, actor, attempt, from_state, to_state, event, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.to_string())
    .bind(at)
    .bind(actor)
    .bind(attempt)
    .bind(from.map(JobState::as_str))
    .bind(to.as_str())
    .bind(event)
    .bind(detail)
    .execute(&mut **tx)
    .await
    .map_err(db("recording a job event"))?;
    Ok(())
}

/// The job's state and attempt, or not found.
async fn current(tx: &mut Tx, id: JobId) -> Result<(JobState, i64)> {
    // The row lock makes the check and the write that follows one step for every other writer.
    let row = sqlx::query("SELECT state, attempt FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db("reading a job"))?
        .ok_or_else(|| not_found(id))?;
    let state: String = row.try_get("state").map_err(db("reading a job"))?;
    let attempt: i64 = row.try_get("attempt").map_err(db("reading a job"))?;
    Ok((parse_state(&state)?, attempt))
}

/// The fence: the job must be running under exactly this attempt.
async fn fence(tx: &mut Tx, id: JobId, attempt: u32) -> Result<()> {
    let (state, current_attempt) = current(tx, id).await?;
    if state != JobState::Running || current_attempt != i64::from(attempt) {
        return Err(QueueError::LeaseLost { job: id, attempt });
    }
    Ok(())
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the schema up to date.
    /// Errors never repeat the URL, which may carry a password.
    pub async fn connect(url: &str) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(QueueError::Other(Error::invalid_input(
                "the queue URL must start with postgres:// or postgresql://",
            )));
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        migrator().run(&pool).await.map_err(|e| {
            QueueError::Other(
                Error::new(ErrorKind::Io, format!("queue storage: migrating: {e}")).with_source(e),
            )
        })?;
        Ok(PostgresStorage { pool })
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write(&self) -> Result<Tx> {
        self.pool.begin().await.map_err(db("starting a write"))
    }

    /// The database's clock, for reads.
    async fn clock(&self) -> Result<i64> {
        sqlx::query_scalar::<_, i64>(CLOCK)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the clock"))
    }

    async fn job(&self, id: JobId) -> Result<Job> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a job"))?
            .ok_or_else(|| not_found(id))?;
        job_from_row(&row)
    }
}

async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(db("committing"))
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn insert(&self, spec: &JobSpec, options: &EnqueueOptions) -> Result<Inserted> {
        options.validate()?;
        let spec_text = spec.spec().to_string();
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        if let Some(key) = &options.idempotency_key
            && let Some(existing) = by_key(&mut tx, key, spec).await?
        {
            return Ok(existing);
        }
        let id = JobId::new();
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, profile, provider, state, phase, priority, idempotency_key, \
             fingerprint, spec, created_at, not_before, updated_at, attempt, failures, max_attempts, \
             deadline) \
             VALUES ($1, $2, $3, 'queued', 'fresh', $4, $5, $6, $7, $8, COALESCE($9, $8), $8, 0, 0, $10, $11) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(spec.profile())
        .bind(spec.provider())
        .bind(options.priority)
        .bind(options.idempotency_key.as_deref())
        .bind(spec.fingerprint())
        .bind(&spec_text)
        .bind(at)
        .bind(options.not_before.map(to_ms))
        .bind(i64::from(options.max_attempts))
        .bind(options.max_age.map(|age| at.saturating_add(duration_ms(age))))
        .execute(&mut *tx)
        .await
        .map_err(db("storing the job"))?;
        if inserted.rows_affected() == 0 {
            // Another client stored the same key in between; ON CONFLICT waited for it.
            if let Some(key) = &options.idempotency_key
                && let Some(existing) = by_key(&mut tx, key, spec).await?
            {
                return Ok(existing);
            }
            return Err(corrupt(
                "a job that was neither stored nor found".to_owned(),
            ));
        }
        event(
            &mut tx,
            id,
            at,
            CLIENT,
            0,
            None,
            JobState::Queued,
            "enqueued",
            None,
        )
        .await?;
        commit(tx).await?;
        Ok(Inserted::Created(id))
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Option<Claimed>> {
        check_claim(request)?;
        let worker = request.worker.as_str();
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;

        // A worker that stopped after its committing mark may have sent: never hand the job
        // out again, unless its provider can be asked what became of it.
        let stranded = sqlx::query(
            "SELECT id, attempt, worker, committing_at FROM jobs \
             WHERE state = 'running' AND phase = 'committing' AND lease_until <= $1 \
             AND NOT (provider = ANY($2)) \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(at)
        .bind(&request.reconcile)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("looking for stranded jobs"))?;
        for row in stranded {
            let id: String = row.try_get("id").map_err(db("reading a job"))?;
            let id: JobId = id.parse().map_err(|_| corrupt("a bad job id".to_owned()))?;
            let attempt: i64 = row.try_get("attempt").map_err(db("reading a job"))?;
            let previous: Option<String> = row.try_get("worker").map_err(db("reading a job"))?;
            let committing_at: Option<i64> =
                row.try_get("committing_at").map_err(db("reading a job"))?;
            let reason = format!(
                "worker {} stopped after the point of no return at {}",
                previous.as_deref().unwrap_or("(unknown)"),
                show_time(committing_at)
            );
            sqlx::query(
                "UPDATE jobs SET state = 'in_doubt', doubt_reason = $1, lease_until = NULL, \
                 updated_at = $2 WHERE id = $3",
            )
            .bind(&reason)
            .bind(at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("marking a job in doubt"))?;
            event(
                &mut tx,
                id,
                at,
                worker,
                attempt,
                Some(JobState::Running),
                JobState::InDoubt,
                "in_doubt",
                Some(&reason),
            )
            .await?;
        }

        // The filter's count is a snapshot that concurrent claims may have outdated; the
        // candidate's profile is then locked and counted again. A profile found full is left
        // for the rest of this claim, and the savepoint rollback gives back both its lock and
        // the job's, so a claim never holds one profile's lock while waiting for another's.
        let mut full: Vec<String> = Vec::new();
        let row = loop {
            savepoint(&mut tx, "SAVEPOINT claim_candidate").await?;
            let next = sqlx::query(
                "SELECT j.id, j.profile, j.state, j.worker, j.lease_until, j.phase FROM jobs j \
                 LEFT JOIN profile_pauses p ON p.profile = j.profile \
                 WHERE ((j.state = 'queued' AND j.not_before <= $1) \
                     OR (j.state = 'running' AND j.lease_until <= $1 \
                         AND (j.phase <> 'committing' OR j.provider = ANY($2)))) \
                   AND NOT (j.profile = ANY($3)) \
                   AND (p.paused_until IS NULL OR p.paused_until <= $1) \
                   AND (p.max_in_flight IS NULL OR p.max_in_flight > (SELECT COUNT(*) FROM jobs r \
                         WHERE r.profile = j.profile AND r.state = 'running' AND r.lease_until > $1)) \
                 ORDER BY j.priority DESC, j.not_before, j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
            )
            .bind(at)
            .bind(&request.reconcile)
            .bind(&full)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("looking for a job"))?;
            let Some(row) = next else {
                commit(tx).await?;
                return Ok(None);
            };
            let profile: String = row.try_get("profile").map_err(db("reading a job"))?;
            if profile_has_room(&mut tx, &profile, at).await? {
                savepoint(&mut tx, "RELEASE SAVEPOINT claim_candidate").await?;
                break row;
            }
            savepoint(&mut tx, "ROLLBACK TO SAVEPOINT claim_candidate").await?;
            full.push(profile);
        };
        let id: String = row.try_get("id").map_err(db("reading a job"))?;
        let id: JobId = id.parse().map_err(|_| corrupt("a bad job id".to_owned()))?;
        let from = parse_state(
            &row.try_get::<String, _>("state")
                .map_err(db("reading a job"))?,
        )?;
        let taken_over = from == JobState::Running;
        let detail = if taken_over {
            let previous: Option<String> = row.try_get("worker").map_err(db("reading a job"))?;
            let until: Option<i64> = row.try_get("lease_until").map_err(db("reading a job"))?;
            let phase: String = row.try_get("phase").map_err(db("reading a job"))?;
            Some(take_over_detail(previous.as_deref(), until, &phase))
        } else {
            None
        };
        debug_assert!(allowed(from, JobState::Running));
        let attempt: i64 = sqlx::query_scalar(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, worker = $1, \
             lease_until = $2, updated_at = $3 WHERE id = $4 RETURNING attempt",
        )
        .bind(worker)
        .bind(at.saturating_add(duration_ms(request.lease)))
        .bind(at)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db("claiming a job"))?;
        event(
            &mut tx,
            id,
            at,
            worker,
            attempt,
            Some(from),
            JobState::Running,
            if taken_over { "taken_over" } else { "claimed" },
            detail.as_deref(),
        )
        .await?;
        commit(tx).await?;
        let job = self.job(id).await?;
        Ok(Some(Claimed { job, taken_over }))
    }

    async fn heartbeat(&self, id: JobId, attempt: u32, lease: Duration) -> Result<()> {
        check_lease(lease)?;
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        fence(&mut tx, id, attempt).await?;
        sqlx::query("UPDATE jobs SET lease_until = $1, updated_at = $2 WHERE id = $3")
            .bind(at.saturating_add(duration_ms(lease)))
            .bind(at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("renewing a lease"))?;
        commit(tx).await
    }

    async fn checkpoint(&self, id: JobId, attempt: u32, checkpoint: &Value) -> Result<()> {
        let text = checkpoint.to_string();
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        fence(&mut tx, id, attempt).await?;
        // A checkpoint after the committing mark must not lower the phase: that would let a
        // take-over send again.
        sqlx::query(
            "UPDATE jobs SET checkpoint = $1, updated_at = $2, \
             phase = CASE WHEN phase = 'committing' THEN 'committing' ELSE 'prepared' END \
             WHERE id = $3",
        )
        .bind(&text)
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("saving a checkpoint"))?;
        let worker = worker_of(&mut tx, id).await?;
        event(
            &mut tx,
            id,
            at,
            &worker,
            i64::from(attempt),
            Some(JobState::Running),
            JobState::Running,
            "checkpoint",
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn committing(&self, id: JobId, attempt: u32) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        fence(&mut tx, id, attempt).await?;
        sqlx::query(
            "UPDATE jobs SET phase = 'committing', committing_at = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(at)
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("marking a job committing"))?;
        let worker = worker_of(&mut tx, id).await?;
        event(
            &mut tx,
            id,
            at,
            &worker,
            i64::from(attempt),
            Some(JobState::Running),
            JobState::Running,
            "committing",
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn finish(&self, id: JobId, attempt: u32, outcome: Outcome) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        fence(&mut tx, id, attempt).await?;
        let worker = worker_of(&mut tx, id).await?;
        let key = id.to_string();
        let (to, name, detail) = match outcome {
            Outcome::Sent(receipt) => {
                sqlx::query(
                    "UPDATE jobs SET state = 'sent', receipt = $1, lease_until = NULL, \
                     finished_at = $2, updated_at = $2 WHERE id = $3",
                )
                .bind(receipt.to_string())
                .bind(at)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(db("recording a send"))?;
                (JobState::Sent, "sent", None)
            }
            Outcome::Retry { after, error } => {
                let error = one_line(&error);
                let row = sqlx::query(
                    "SELECT failures, max_attempts, created_at, deadline FROM jobs WHERE id = $1",
                )
                .bind(&key)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("reading a job"))?;
                let failures = u32_col(&row, "failures")?.saturating_add(1);
                let next_try = at.saturating_add(duration_ms(after));
                let verdict = retry_verdict(
                    failures,
                    u32_col(&row, "max_attempts")?,
                    row.int("created_at")?.unwrap_or(at),
                    row.int("deadline")?,
                    next_try,
                    &error,
                );
                if let RetryVerdict::GiveUp(kind, message) = verdict {
                    sqlx::query(
                        "UPDATE jobs SET state = 'failed', failures = $1, error_kind = $2, \
                         error_message = $3, lease_until = NULL, finished_at = $4, updated_at = $5 \
                         WHERE id = $6",
                    )
                    .bind(i64::from(failures))
                    .bind(kind)
                    .bind(&message)
                    .bind(at)
                    .bind(at)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a failure"))?;
                    (JobState::Failed, "failed", Some(message))
                } else {
                    // Known not sent: a committing mark no longer stands.
                    sqlx::query(
                        "UPDATE jobs SET state = 'queued', failures = $1, error_message = $2, \
                         not_before = $3, lease_until = NULL, committing_at = NULL, \
                         phase = CASE WHEN checkpoint IS NULL THEN 'fresh' ELSE 'prepared' END, \
                         updated_at = $4 WHERE id = $5",
                    )
                    .bind(i64::from(failures))
                    .bind(&error)
                    .bind(next_try)
                    .bind(at)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("rescheduling a job"))?;
                    (
                        JobState::Queued,
                        "retry",
                        Some(format!("retry in {} ms: {error}", duration_ms(after))),
                    )
                }
            }
            Outcome::Failed { kind, message } => {
                let message = one_line(&message);
                sqlx::query(
                    "UPDATE jobs SET state = 'failed', failures = failures + 1, error_kind = $1, \
                     error_message = $2, lease_until = NULL, finished_at = $3, updated_at = $4 \
                     WHERE id = $5",
                )
                .bind(kind.as_str())
                .bind(&message)
                .bind(at)
                .bind(at)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(db("recording a failure"))?;
                (
                    JobState::Failed,
                    "failed",
                    Some(format!("{}: {message}", kind.as_str())),
                )
            }
            Outcome::InDoubt { reason } => {
                let reason = one_line(&reason);
                sqlx::query(
                    "UPDATE jobs SET state = 'in_doubt', doubt_reason = $1, lease_until = NULL, \
                     updated_at = $2 WHERE id = $3",
                )
                .bind(&reason)
                .bind(at)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(db("marking a job in doubt"))?;
                (JobState::InDoubt, "in_doubt", Some(reason))
            }
        };
        debug_assert!(allowed(JobState::Running, to));
        event(
            &mut tx,
            id,
            at,
            &worker,
            i64::from(attempt),
            Some(JobState::Running),
            to,
            name,
            detail.as_deref(),
        )
        .await?;
        commit(tx).await
    }

    async fn release(&self, id: JobId, attempt: u32) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        fence(&mut tx, id, attempt).await?;
        let worker = worker_of(&mut tx, id).await?;
        sqlx::query(
            "UPDATE jobs SET state = 'queued', not_before = $1, lease_until = NULL, \
             committing_at = NULL, \
             phase = CASE WHEN checkpoint IS NULL THEN 'fresh' ELSE 'prepared' END, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("releasing a job"))?;
        event(
            &mut tx,
            id,
            at,
            &worker,
            i64::from(attempt),
            Some(JobState::Running),
            JobState::Queued,
            "released",
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn cancel(&self, id: JobId) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        let (state, attempt) = current(&mut tx, id).await?;
        if !allowed(state, JobState::Cancelled) {
            return Err(conflict(format!(
                "job {id} is {state}: only a queued job can be cancelled"
            )));
        }
        sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2",
        )
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("cancelling a job"))?;
        event(
            &mut tx,
            id,
            at,
            OPERATOR,
            attempt,
            Some(state),
            JobState::Cancelled,
            "cancelled",
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn retry(&self, id: JobId) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        let (state, attempt) = current(&mut tx, id).await?;
        if state != JobState::Failed {
            return Err(conflict(format!(
                "job {id} is {state}: only a failed job can be retried"
            )));
        }
        debug_assert!(allowed(state, JobState::Queued));
        // From the beginning: the checkpoint may name a draft the failure removed.
        sqlx::query(
            "UPDATE jobs SET state = 'queued', phase = 'fresh', checkpoint = NULL, \
             committing_at = NULL, failures = 0, error_kind = NULL, error_message = NULL, \
             finished_at = NULL, worker = NULL, lease_until = NULL, not_before = $1, \
             updated_at = $1 WHERE id = $2",
        )
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("retrying a job"))?;
        event(
            &mut tx,
            id,
            at,
            OPERATOR,
            attempt,
            Some(state),
            JobState::Queued,
            "retried",
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn resolve(&self, id: JobId, resolution: Resolution) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        let (state, attempt) = current(&mut tx, id).await?;
        if state != JobState::InDoubt {
            return Err(conflict(format!(
                "job {id} is {state}: only a job in doubt can be resolved"
            )));
        }
        let (to, name, sql) = match resolution {
            Resolution::Sent => (
                JobState::Sent,
                "resolved_sent",
                "UPDATE jobs SET state = 'sent', finished_at = $1, updated_at = $1 WHERE id = $2",
            ),
            Resolution::Resend => (
                JobState::Queued,
                "resolved_resend",
                "UPDATE jobs SET state = 'queued', phase = 'fresh', checkpoint = NULL, \
                 committing_at = NULL, worker = NULL, not_before = $1, updated_at = $1 \
                 WHERE id = $2",
            ),
        };
        debug_assert!(allowed(state, to));
        sqlx::query(sql)
            .bind(at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("resolving a job"))?;
        event(
            &mut tx,
            id,
            at,
            OPERATOR,
            attempt,
            Some(state),
            to,
            name,
            None,
        )
        .await?;
        commit(tx).await
    }

    async fn show(&self, id: JobId) -> Result<(Job, Vec<JobEvent>)> {
        let job = self.job(id).await?;
        let rows = sqlx::query(
            "SELECT seq, at, actor, attempt, from_state, to_state, event, detail \
             FROM job_events WHERE job_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a job's history"))?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let get = || db("reading a job's history");
            let from: Option<String> = row.try_get("from_state").map_err(get())?;
            let to: String = row.try_get("to_state").map_err(get())?;
            events.push(JobEvent {
                seq: row.try_get("seq").map_err(get())?,
                at: from_ms(row.try_get("at").map_err(get())?)?,
                actor: row.try_get("actor").map_err(get())?,
                attempt: u32_col(&row, "attempt")?,
                from: from.as_deref().map(parse_state).transpose()?,
                to: parse_state(&to)?,
                event: row.try_get("event").map_err(get())?,
                detail: row.try_get("detail").map_err(get())?,
            });
        }
        Ok((job, events))
    }

    async fn list(&self, state: Option<JobState>) -> Result<Vec<Job>> {
        let rows = match state {
            Some(state) => {
                sqlx::query("SELECT * FROM jobs WHERE state = $1 ORDER BY created_at, id")
                    .bind(state.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query("SELECT * FROM jobs ORDER BY created_at, id")
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db("listing jobs"))?;
        rows.iter().map(job_from_row).collect()
    }

    async fn stats(&self) -> Result<Stats> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(db("counting jobs"))?;
        let mut counts: BTreeMap<JobState, u64> =
            JobState::ALL.into_iter().map(|s| (s, 0)).collect();
        for row in rows {
            let state: String = row.try_get("state").map_err(db("counting jobs"))?;
            let n: i64 = row.try_get("n").map_err(db("counting jobs"))?;
            counts.insert(parse_state(&state)?, u64::try_from(n).unwrap_or(0));
        }
        let age: Option<i64> = sqlx::query_scalar(
            "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - MIN(not_before) FROM jobs \
             WHERE state = 'queued' AND not_before <= (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("measuring the oldest queued job"))?;
        let at = self.clock().await?;
        let sends = sqlx::query(
            "SELECT COUNT(*) AS hour, COUNT(*) FILTER (WHERE at > $2) AS ten \
             FROM job_events WHERE event = 'sent' AND at > $1",
        )
        .bind(at.saturating_sub(3_600_000))
        .bind(at.saturating_sub(600_000))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting recent sends"))?;
        let hour: i64 = sends.try_get("hour").map_err(db("counting recent sends"))?;
        let ten: i64 = sends.try_get("ten").map_err(db("counting recent sends"))?;
        Ok(Stats {
            counts,
            oldest_queued_age: age.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            sent_last_hour: u64::try_from(hour).unwrap_or(0),
            sends_per_minute: per_minute(ten),
            paused: self.pauses().await?,
        })
    }

    async fn pause_profile(&self, profile: &str, after: Duration, reason: &str) -> Result<()> {
        check_profile(profile)?;
        let reason = Some(one_line(reason)).filter(|r| !r.is_empty());
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        // The assignments all read the row as it was, so the reason follows the end that wins.
        sqlx::query(
            "INSERT INTO profile_pauses (profile, paused_until, pause_reason, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (profile) DO UPDATE SET \
             pause_reason = CASE WHEN profile_pauses.paused_until IS NULL \
                 OR excluded.paused_until > profile_pauses.paused_until \
                 THEN excluded.pause_reason ELSE profile_pauses.pause_reason END, \
             paused_until = GREATEST(profile_pauses.paused_until, excluded.paused_until), \
             updated_at = excluded.updated_at",
        )
        .bind(profile)
        .bind(at.saturating_add(duration_ms(after)))
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db("pausing a profile"))?;
        commit(tx).await
    }

    async fn set_max_in_flight(&self, profile: &str, max: Option<u32>) -> Result<()> {
        check_profile(profile)?;
        let max = check_max_in_flight(profile, max)?;
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        sqlx::query(
            "INSERT INTO profile_pauses (profile, max_in_flight, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (profile) DO UPDATE SET max_in_flight = excluded.max_in_flight, \
             updated_at = excluded.updated_at",
        )
        .bind(profile)
        .bind(max)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db("capping a profile"))?;
        commit(tx).await
    }

    async fn pauses(&self) -> Result<Vec<ProfilePause>> {
        let at = self.clock().await?;
        let rows = sqlx::query(
            "SELECT profile, paused_until, pause_reason FROM profile_pauses \
             WHERE paused_until > $1 ORDER BY profile",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing paused profiles"))?;
        rows.iter().map(pause_from_row).collect()
    }

    async fn blobs_due(&self, retention: Duration, limit: u32) -> Result<Vec<(JobId, Value)>> {
        let at = self.clock().await?;
        let rows = sqlx::query(
            "SELECT id, spec FROM jobs WHERE state IN ('sent', 'failed', 'cancelled') \
             AND blobs_removed_at IS NULL AND finished_at <= $1 \
             ORDER BY finished_at, id LIMIT $2",
        )
        .bind(at.saturating_sub(duration_ms(retention)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing jobs whose files are due for removal"))?;
        rows.iter().map(id_and_spec).collect()
    }

    async fn mark_blobs_removed(&self, id: JobId) -> Result<()> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        let (state, _) = current(&mut tx, id).await?;
        check_blobs_removable(id, state)?;
        sqlx::query(
            "UPDATE jobs SET blobs_removed_at = $1, updated_at = $1 \
             WHERE id = $2 AND blobs_removed_at IS NULL",
        )
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db("recording removed files"))?;
        commit(tx).await
    }

    async fn purge(&self, older_than: Duration) -> Result<u64> {
        let mut tx = self.write().await?;
        let at = now(&mut tx).await?;
        // The history goes with its job (ON DELETE CASCADE, foreign keys on).
        let done = sqlx::query(
            "DELETE FROM jobs WHERE state IN ('sent', 'failed', 'cancelled') AND finished_at <= $1 \
             AND blobs_removed_at IS NOT NULL",
        )
        .bind(at.saturating_sub(duration_ms(older_than)))
        .execute(&mut *tx)
        .await
        .map_err(db("purging jobs"))?;
        commit(tx).await?;
        Ok(done.rows_affected())
    }
}

/// The worker holding the job, for the history.
async fn worker_of(tx: &mut Tx, id: JobId) -> Result<String> {
    let worker: Option<String> = sqlx::query_scalar("SELECT worker FROM jobs WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(db("reading a job"))?;
    Ok(worker.unwrap_or_else(|| "(unknown)".to_owned()))
}

/// The job already stored under `key`: the same when its fingerprint matches, else refused.
async fn by_key(tx: &mut Tx, key: &str, spec: &JobSpec) -> Result<Option<Inserted>> {
    let existing = sqlx::query("SELECT id, fingerprint FROM jobs WHERE idempotency_key = $1")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db("looking up the idempotency key"))?;
    let Some(row) = existing else {
        return Ok(None);
    };
    let id: String = row.try_get("id").map_err(db("reading a job"))?;
    let fingerprint: String = row.try_get("fingerprint").map_err(db("reading a job"))?;
    existing_for_key(&id, &fingerprint, key, spec).map(Some)
}
