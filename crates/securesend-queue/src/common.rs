//! What both backends share: row decoding, time and JSON conversions, input checks and the
//! errors they build. Only SQL differs between the backends, so only SQL lives in them.

use std::time::Duration;

use securesend_core::{Error, ErrorKind};
use serde_json::Value;
use time::OffsetDateTime;

use crate::job::{JobId, JobSpec, JobState, Phase, truncate};
use crate::storage::{ClaimRequest, Inserted, Job, ProfilePause, QueueError, Result};

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
        deadline: opt_ms(row.int("deadline")?)?,
        blobs_removed_at: opt_ms(row.int("blobs_removed_at")?)?,
    })
}

/// An `(id, spec)` row.
pub(crate) fn id_and_spec(row: &impl JobRow) -> Result<(JobId, Value)> {
    let id = required(row.text("id")?, "id")?;
    let id = id
        .parse()
        .map_err(|_| corrupt(format!("a job id {:?}", truncate(&id, 60))))?;
    let spec = json(Some(required(row.text("spec")?, "spec")?), "spec")?.unwrap_or(Value::Null);
    Ok((id, spec))
}

/// The `taken_over` event's detail. A committing job is handed out again only to reconcile.
pub(crate) fn take_over_detail(previous: Option<&str>, until: Option<i64>, phase: &str) -> String {
    if phase == Phase::Committing.as_str() {
        return "reconcile".to_owned();
    }
    format!(
        "took over from worker {} whose lease ran out at {} (phase {phase})",
        previous.unwrap_or("(unknown)"),
        show_time(until)
    )
}

/// A running job's files are still in use, and a queued or in-doubt job may run again.
pub(crate) fn check_blobs_removable(id: JobId, state: JobState) -> Result<()> {
    if state.is_terminal() {
        return Ok(());
    }
    Err(conflict(format!(
        "job {id} is {state}: its files may be removed only once it is sent, failed or cancelled"
    )))
}

/// A `profile_pauses` row (`profile`, `paused_until`, `pause_reason`) as a pause.
pub(crate) fn pause_from_row(row: &impl JobRow) -> Result<ProfilePause> {
    Ok(ProfilePause {
        profile: required(row.text("profile")?, "profile")?,
        until: from_ms(required(row.int("paused_until")?, "paused_until")?)?,
        reason: row.text("pause_reason")?,
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

pub(crate) fn check_claim(request: &ClaimRequest) -> Result<()> {
    check_worker(&request.worker)?;
    check_lease(request.lease)
}

/// Profile names as [`JobSpec::new`] accepts them.
pub(crate) fn check_profile(profile: &str) -> Result<()> {
    if profile.trim().is_empty() || profile.len() > 200 || profile.chars().any(char::is_control) {
        return Err(QueueError::Other(Error::invalid_input(format!(
            "the profile name {:?} is empty, longer than 200 bytes or has control characters",
            truncate(profile, 60)
        ))));
    }
    Ok(())
}

/// A cap of 0 would stop the profile for good without saying why; a pause says why and ends.
pub(crate) fn check_max_in_flight(profile: &str, max: Option<u32>) -> Result<Option<i64>> {
    match max {
        Some(0) => Err(QueueError::Other(Error::invalid_input(format!(
            "max_in_flight 0 for profile {:?} would never run a job: give at least 1, or pause the profile",
            truncate(profile, 60)
        )))),
        other => Ok(other.map(i64::from)),
    }
}

/// What a retryable failure does to a job.
pub(crate) enum RetryVerdict {
    /// Queued again.
    Requeue,
    /// Failed for good, with the error kind and message to store.
    GiveUp(&'static str, String),
}

/// Attempts run out first, then age: the next try at `at + after` must not pass the deadline.
pub(crate) fn retry_verdict(
    failures: u32,
    max_attempts: u32,
    created_at: i64,
    deadline: Option<i64>,
    next_try: i64,
    error: &str,
) -> RetryVerdict {
    if failures >= max_attempts {
        return RetryVerdict::GiveUp(
            RETRIES_EXHAUSTED,
            format!("gave up after {failures} failed attempts: {error}"),
        );
    }
    match deadline {
        Some(deadline) if next_try > deadline => RetryVerdict::GiveUp(
            ErrorKind::Timeout.as_str(),
            format!(
                "gave up: the job is older than its max age of {}, last error: {error}",
                show_duration(deadline.saturating_sub(created_at))
            ),
        ),
        _ => RetryVerdict::Requeue,
    }
}

/// A length of time for messages, in the largest unit that divides it.
pub(crate) fn show_duration(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1000, "s"),
    ];
    for (size, unit) in UNITS {
        if ms >= size && ms % size == 0 {
            return format!("{} {unit}", ms / size);
        }
    }
    format!("{ms} ms")
}

/// `sent` events in the last 10 minutes, per minute.
pub(crate) fn per_minute(sent_last_10_min: i64) -> f64 {
    sent_last_10_min.max(0) as f64 / 10.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(show_duration(300), "300 ms");
        assert_eq!(show_duration(1500), "1500 ms");
        assert_eq!(show_duration(2000), "2 s");
        assert_eq!(show_duration(90_000), "90 s");
        assert_eq!(show_duration(7_200_000), "2 h");
        assert_eq!(show_duration(172_800_000), "2 d");
    }

    #[test]
    fn attempts_run_out_before_age() {
        let exhausted = retry_verdict(3, 3, 0, Some(10), 20, "503");
        assert!(
            matches!(exhausted, RetryVerdict::GiveUp(RETRIES_EXHAUSTED, ref m)
            if m == "gave up after 3 failed attempts: 503")
        );
        let old = retry_verdict(1, 3, 0, Some(60_000), 60_001, "503");
        assert!(matches!(old, RetryVerdict::GiveUp("timed out", ref m)
            if m == "gave up: the job is older than its max age of 1 min, last error: 503"));
        assert!(matches!(
            retry_verdict(1, 3, 0, Some(60_000), 60_000, "503"),
            RetryVerdict::Requeue
        ));
        assert!(matches!(
            retry_verdict(1, 3, 0, None, i64::MAX, "503"),
            RetryVerdict::Requeue
        ));
    }
}
