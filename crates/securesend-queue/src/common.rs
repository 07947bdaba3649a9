//! What both backends share: row decoding, time and JSON conversions, input checks and the
//! errors they build. Only SQL differs between the backends, so only SQL lives in them.

use std::time::Duration;

use securesend_core::{Error, ErrorKind};
use serde_json::Value;
use time::OffsetDateTime;

use crate::job::{JobId, JobSpec, JobState, truncate};
use crate::storage::{Inserted, Job, QueueError, Result};

/// The actor recorded for operator commands (cancel, retry, resolve).
pub(crate) const OPERATOR: &str = "operator";

/// The actor recorded for enqueuing.
pub(crate) const CLIENT: &str = "client";

/// The longest worker name accepted, in bytes.
pub(crate) const MAX_WORKER_NAME: usize = 200;

/// The error kind stored when a job failed because its retries ran out (the other kinds are
/// [`ErrorKind::as_str`] labels, as in JSON output).
pub const RETRIES_EXHAUSTED: &str = "retries exhausted";

/// A row of either backend, read by column name; NOT NULL columns read through the `Option`
/// forms too, and a missing value is reported as damage.
pub(crate) trait JobRow {
    /// A text column.
    fn text(&self, col: &str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, col: &str) -> Result<Option<i64>>;
    /// A small integer column.
    fn small(&self, col: &str) -> Result<Option<i16>>;
}

macro_rules! job_row {
    ($row:ty) => {
        impl JobRow for $row {
            fn text(&self, col: &str) -> Result<Option<String>> {
                sqlx::Row::try_get(self, col).map_err(db("reading a job"))
            }
            fn int(&self, col: &str) -> Result<Option<i64>> {
                sqlx::Row::try_get(self, col).map_err(db("reading a job"))
            }
            fn small(&self, col: &str) -> Result<Option<i16>> {
                sqlx::Row::try_get(self, col).map_err(db("reading a job"))
            }
        }
    };
}
job_row!(sqlx::postgres::PgRow);
job_row!(sqlx::sqlite::SqliteRow);

fn required<T>(value: Option<T>, col: &str) -> Result<T> {
    value.ok_or_else(|| corrupt(format!("no {col}")))
}

/// A storage failure as a core error; sqlx's messages name neither credentials nor contents.
pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> QueueError {
    move |err| {
        let kind = match &err {
            sqlx::Error::PoolTimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        QueueError::Other(
            Error::new(kind, format!("queue storage: {what}: {err}")).with_source(err),
        )
    }
}

pub(crate) fn corrupt(what: String) -> QueueError {
    QueueError::Other(Error::protocol(format!("queue storage holds {what}")))
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| corrupt(format!("an impossible time {ms}")))
}

pub(crate) fn opt_ms(ms: Option<i64>) -> Result<Option<OffsetDateTime>> {
    ms.map(from_ms).transpose()
}

pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    // Far beyond any plausible date either way; clamped rather than wrapped.
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn json(text: Option<String>, what: &str) -> Result<Option<Value>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|_| corrupt(format!("a {what} that is not JSON")))
    })
    .transpose()
}

pub(crate) fn u32_col(row: &impl JobRow, col: &str) -> Result<u32> {
    let v = required(row.int(col)?, col)?;
    u32::try_from(v).map_err(|_| corrupt(format!("an impossible {col} {v}")))
}

pub(crate) fn job_from_row(row: &impl JobRow) -> Result<Job> {
    let text = |col| required(row.text(col)?, col);
    let time = |col| from_ms(required(row.int(col)?, col)?);
    let id = text("id")?;
    let state = text("state")?;
    Ok(Job {
        id: id
            .parse()
            .map_err(|_| corrupt(format!("a job id {:?}", truncate(&id, 60))))?,
        profile: text("profile")?,
        provider: text("provider")?,
        state: parse_state(&state)?,
        phase: text("phase")?.parse()?,
        priority: required(row.small("priority")?, "priority")?,
        idempotency_key: row.text("idempotency_key")?,
        fingerprint: text("fingerprint")?,
        spec: json(Some(text("spec")?), "spec")?.unwrap_or(Value::Null),
        created_at: time("created_at")?,
        not_before: time("not_before")?,
        updated_at: time("updated_at")?,
        attempt: u32_col(row, "attempt")?,
        failures: u32_col(row, "failures")?,
        max_attempts: u32_col(row, "max_attempts")?,
        worker: row.text("worker")?,
        lease_until: opt_ms(row.int("lease_until")?)?,
        checkpoint: json(row.text("checkpoint")?, "checkpoint")?,
        committing_at: opt_ms(row.int("committing_at")?)?,
        receipt: json(row.text("receipt")?, "receipt")?,
        error_kind: row.text("error_kind")?,
        error_message: row.text("error_message")?,
        doubt_reason: row.text("doubt_reason")?,
        finished_at: opt_ms(row.int("finished_at")?)?,
    })
}

pub(crate) fn parse_state(text: &str) -> Result<JobState> {
    text.parse()
        .map_err(|_| corrupt(format!("an unknown state {:?}", truncate(text, 40))))
}

pub(crate) fn not_found(id: JobId) -> QueueError {
    QueueError::Other(Error::new(
        ErrorKind::NotFound,
        format!("there is no job {id} in the queue"),
    ))
}

pub(crate) fn conflict(message: String) -> QueueError {
    QueueError::Other(Error::new(ErrorKind::Conflict, message))
}

/// A time for messages, RFC 3339 in UTC.
pub(crate) fn show_time(ms: Option<i64>) -> String {
    ms.and_then(|ms| from_ms(ms).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "an unknown time".to_owned())
}

pub(crate) fn check_worker(worker: &str) -> Result<()> {
    if worker.trim().is_empty()
        || worker.len() > MAX_WORKER_NAME
        || worker.chars().any(char::is_control)
    {
        return Err(QueueError::Other(Error::invalid_input(format!(
            "the worker name {:?} is empty, longer than {MAX_WORKER_NAME} bytes or has control characters",
            truncate(worker, 60)
        ))));
    }
    Ok(())
}

pub(crate) fn check_lease(lease: Duration) -> Result<()> {
    if lease < Duration::from_millis(1) {
        return Err(QueueError::Other(Error::invalid_input(
            "the lease is shorter than a millisecond: give the worker time to heartbeat",
        )));
    }
    Ok(())
}

/// Server and adapter messages may span lines; the history keeps one, bounded.
pub(crate) fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    line.trim().to_owned()
}

/// The job already stored under an idempotency key (`id`, `fingerprint`): the same job when
/// the fingerprints match, else a refusal naming the key.
pub(crate) fn existing_for_key(
    id: &str,
    fingerprint: &str,
    key: &str,
    spec: &JobSpec,
) -> Result<Inserted> {
    let id: JobId = id.parse().map_err(|_| corrupt("a bad job id".to_owned()))?;
    if fingerprint == spec.fingerprint() {
        return Ok(Inserted::Existing(id));
    }
    Err(QueueError::Other(Error::invalid_input(format!(
        "idempotency key {:?} already belongs to job {id}, which has other content: \
         use a new key for a different message",
        truncate(key, 80)
    ))))
}
