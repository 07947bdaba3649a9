//! The storage contract every backend fulfils, and the records it returns.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use securesend_core::{Error, ErrorKind};
use serde_json::Value;
use time::OffsetDateTime;

use crate::job::{EnqueueOptions, JobId, JobSpec, JobState, Phase};

/// A queue operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A worker's write was refused because the job is no longer its own: another worker took
    /// it over (the attempt moved on), or it is no longer running. The worker must stop working
    /// on the job and must not make its point-of-no-return request.
    #[error(
        "job {job}: attempt {attempt} lost its lease (the job was taken over or is no longer running)"
    )]
    LeaseLost {
        /// The job.
        job: JobId,
        /// The attempt that lost it.
        attempt: u32,
    },
    /// Any other failure: bad input ([`ErrorKind::InvalidInput`]), an unknown job
    /// ([`ErrorKind::NotFound`]), a job in the wrong state ([`ErrorKind::Conflict`]) or the
    /// storage itself failing.
    #[error(transparent)]
    Other(#[from] Error),
}

impl QueueError {
    /// Whether a fenced write found the lease gone.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, QueueError::LeaseLost { .. })
    }

    /// The error's kind; a lost lease is a [`ErrorKind::Conflict`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            QueueError::LeaseLost { .. } => ErrorKind::Conflict,
            QueueError::Other(err) => err.kind(),
        }
    }
}

/// The result of queue operations.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// What [`Storage::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A new job was stored.
    Created(JobId),
    /// A job with the same idempotency key and the same content already existed; nothing was
    /// stored.
    Existing(JobId),
}

impl Inserted {
    /// The job's id, new or existing.
    pub fn id(self) -> JobId {
        match self {
            Inserted::Created(id) | Inserted::Existing(id) => id,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The profile it is sent through.
    pub profile: String,
    /// The provider serving that profile.
    pub provider: String,
    /// Where it stands.
    pub state: JobState,
    /// How far its current attempt got.
    pub phase: Phase,
    /// Higher runs first.
    pub priority: i16,
    /// The key it was enqueued with.
    pub idempotency_key: Option<String>,
    /// SHA-256 of its canonical content.
    pub fingerprint: String,
    /// What it sends.
    pub spec: Value,
    /// When it was stored.
    pub created_at: OffsetDateTime,
    /// No worker takes it before this.
    pub not_before: OffsetDateTime,
    /// Its last change.
    pub updated_at: OffsetDateTime,
    /// The fencing token: how many times a worker claimed it. Never decreases.
    pub attempt: u32,
    /// How many attempts failed.
    pub failures: u32,
    /// How many failed attempts end it.
    pub max_attempts: u32,
    /// The worker holding (or last holding) its lease.
    pub worker: Option<String>,
    /// When the current lease runs out.
    pub lease_until: Option<OffsetDateTime>,
    /// The adapter's saved progress.
    pub checkpoint: Option<Value>,
    /// When the worker marked it as about to make its point-of-no-return request.
    pub committing_at: Option<OffsetDateTime>,
    /// The receipt, once sent.
    pub receipt: Option<Value>,
    /// The kind of the last error.
    pub error_kind: Option<String>,
    /// The last error's message.
    pub error_message: Option<String>,
    /// Why it is in doubt.
    pub doubt_reason: Option<String>,
    /// When it reached a final state.
    pub finished_at: Option<OffsetDateTime>,
    /// Past this it is not retried any more: `created_at` plus the max age it was enqueued with.
    pub deadline: Option<OffsetDateTime>,
    /// When the files staged with it were recorded as removed.
    pub blobs_removed_at: Option<OffsetDateTime>,
}

/// What a worker asks [`Storage::claim`] for.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The worker's name, recorded on the job and its events.
    pub worker: String,
    /// How long the lease lasts from now.
    pub lease: Duration,
    /// Providers (by provider key, the job's `provider`) that can reconcile: a running job of
    /// theirs whose lease ran out while `committing` is handed out again (taken_over = true,
    /// phase still `committing`, attempt + 1, event `taken_over` with detail "reconcile") instead
    /// of becoming `in_doubt`. Jobs of every other provider still become `in_doubt` at claim.
    pub reconcile: Vec<String>,
}

/// A profile no worker takes jobs of until its pause ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePause {
    /// The profile.
    pub profile: String,
    /// When the pause ends (the database's clock).
    pub until: OffsetDateTime,
    /// Why, one line.
    pub reason: Option<String>,
}

/// A job a worker has just claimed, with its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The job, as it is after the claim (state running, the new attempt).
    pub job: Job,
    /// Whether another worker held it before and its lease ran out.
    pub taken_over: bool,
}

impl Claimed {
    /// The attempt every fenced write must quote.
    pub fn attempt(&self) -> u32 {
        self.job.attempt
    }
}

/// One step of a job's history: the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// Order of the events, across all jobs.
    pub seq: i64,
    /// When (the database's clock).
    pub at: OffsetDateTime,
    /// The worker, or `operator`/`client` for commands.
    pub actor: String,
    /// The job's attempt at the time.
    pub attempt: u32,
    /// The state before (none when the job was created).
    pub from: Option<JobState>,
    /// The state after.
    pub to: JobState,
    /// What happened: `enqueued`, `claimed`, `taken_over`, `checkpoint`, `committing`, `sent`,
    /// `retry`, `failed`, `in_doubt`, `released`, `cancelled`, `retried`, `resolved_sent`,
    /// `resolved_resend`.
    pub event: String,
    /// One line more.
    pub detail: Option<String>,
}

/// How a worker's attempt ended.
#[derive(Clone, PartialEq)]
pub enum Outcome {
    /// Delivered: the receipt, stored as given.
    Sent(Value),
    /// Not sent, and worth trying again after `after` (counted from the database's clock).
    /// When the failures reach the job's `max_attempts` the job fails instead.
    Retry {
        /// How long to wait.
        after: Duration,
        /// The error, one line.
        error: String,
    },
    /// Not sent, and never will be.
    Failed {
        /// The error's kind.
        kind: ErrorKind,
        /// The error, one line.
        message: String,
    },
    /// May have reached the service.
    InDoubt {
        /// Why, one line.
        reason: String,
    },
}

impl fmt::Debug for Outcome {
    // The receipt may be long; its shape is enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Sent(_) => f.write_str("Sent(..)"),
            Outcome::Retry { after, error } => f
                .debug_struct("Retry")
                .field("after", after)
                .field("error", error)
                .finish(),
            Outcome::Failed { kind, message } => f
                .debug_struct("Failed")
                .field("kind", kind)
                .field("message", message)
                .finish(),
            Outcome::InDoubt { reason } => {
                f.debug_struct("InDoubt").field("reason", reason).finish()
            }
        }
    }
}

/// An operator's answer for a job in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It was delivered: the job becomes `sent` (without a receipt).
    Sent,
    /// It was not: the job is queued again, from the beginning.
    Resend,
}

/// Counts per state, the age of the oldest due queued job, the send rate and the pauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Jobs per state; every state is present, zero included.
    pub counts: BTreeMap<JobState, u64>,
    /// How long the oldest queued job that is due has waited (since its `not_before`).
    pub oldest_queued_age: Option<Duration>,
    /// Sends recorded (`sent` events) in the last hour.
    pub sent_last_hour: u64,
    /// Sends recorded in the last 10 minutes, divided by 10.
    pub sends_per_minute: f64,
    /// Profiles paused now.
    pub paused: Vec<ProfilePause>,
}

/// Durable job storage. Every worker write names `(id, attempt)` and fails with
/// [`QueueError::LeaseLost`] when the job has moved on; every state change writes its
/// [`JobEvent`] in the same transaction.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// Stores a job, idempotently by key: the same key with the same fingerprint returns the
    /// existing job and stores nothing; with other content it is refused
    /// ([`ErrorKind::InvalidInput`], naming the key and the existing job).
    async fn insert(&self, spec: &JobSpec, options: &EnqueueOptions) -> Result<Inserted>;

    /// Atomically takes the next job for the request's worker and lease: due queued jobs by
    /// priority (highest first), then `not_before`, then id; and running jobs whose lease ran
    /// out (a take-over, attempt + 1). A running job whose lease ran out while `committing` is
    /// handed out again only to reconcile, when its provider is in `request.reconcile`;
    /// otherwise it becomes `in_doubt` with the reason. No job is handed out of a profile paused
    /// now, or of one whose running jobs under a live lease number its `max_in_flight` or more;
    /// jobs of other profiles still are.
    async fn claim(&self, request: &ClaimRequest) -> Result<Option<Claimed>>;

    /// Extends the lease of `attempt` by `lease` from now.
    async fn heartbeat(&self, id: JobId, attempt: u32, lease: Duration) -> Result<()>;

    /// Saves the adapter's progress; the phase becomes `prepared`.
    async fn checkpoint(&self, id: JobId, attempt: u32, checkpoint: &Value) -> Result<()>;

    /// Marks the attempt as about to make its point-of-no-return request. If this fails,
    /// the request must not be made.
    async fn committing(&self, id: JobId, attempt: u32) -> Result<()>;

    /// Records how the attempt ended.
    async fn finish(&self, id: JobId, attempt: u32, outcome: Outcome) -> Result<()>;

    /// Gives the job back unsent (a worker shutting down): it is queued again, due now.
    async fn release(&self, id: JobId, attempt: u32) -> Result<()>;

    /// Cancels a queued job; any other state is refused ([`ErrorKind::Conflict`]).
    async fn cancel(&self, id: JobId) -> Result<()>;

    /// Queues a failed job again, from the beginning (its checkpoint is cleared).
    async fn retry(&self, id: JobId) -> Result<()>;

    /// Settles a job in doubt.
    async fn resolve(&self, id: JobId, resolution: Resolution) -> Result<()>;

    /// A job and its history, oldest step first.
    async fn show(&self, id: JobId) -> Result<(Job, Vec<JobEvent>)>;

    /// Jobs, oldest first, optionally only those in `state`.
    async fn list(&self, state: Option<JobState>) -> Result<Vec<Job>>;

    /// Counts per state, the oldest queued age, the send rate and the pauses.
    async fn stats(&self) -> Result<Stats>;

    /// Pauses `profile` for every worker until `after` from now (the database clock). A pause
    /// already reaching further is kept (the later end wins). Event-free; `reason` is one line.
    async fn pause_profile(&self, profile: &str, after: Duration, reason: &str) -> Result<()>;

    /// Caps how many jobs of `profile` run at once across all workers (`None`: no cap).
    /// A cap of 0 is refused: pause the profile instead.
    async fn set_max_in_flight(&self, profile: &str, max: Option<u32>) -> Result<()>;

    /// Profiles paused now, with their end and reason, by profile name.
    async fn pauses(&self) -> Result<Vec<ProfilePause>>;

    /// Final jobs (sent, failed, cancelled) that ended at least `retention` ago and whose blobs
    /// are not yet marked removed, oldest first, at most `limit`: (id, spec).
    async fn blobs_due(&self, retention: Duration, limit: u32) -> Result<Vec<(JobId, Value)>>;

    /// Records that the job's blobs are gone (`blobs_removed_at`); idempotent (the first time
    /// is kept). Only a final job's blobs may go: any other state is refused
    /// ([`ErrorKind::Conflict`]).
    async fn mark_blobs_removed(&self, id: JobId) -> Result<()>;

    /// Removes final jobs (sent, failed, cancelled) that ended more than `older_than` ago and
    /// whose blobs are marked removed, with their history; returns how many. A job whose blobs
    /// are not marked stays, so its files are never orphaned: the queue calls
    /// [`Storage::blobs_due`], removes those files and calls [`Storage::mark_blobs_removed`]
    /// (for jobs without files too) before it purges.
    async fn purge(&self, older_than: Duration) -> Result<u64>;
}
