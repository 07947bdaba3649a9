//! [`Worker`]: claims jobs, sends them through their profile's provider, records the outcome.
//!
//! Each job runs under a lease renewed by a heartbeat; every write the worker makes for it is
//! fenced by its attempt, so a worker that lost the job (it stalled, another took over) can no
//! longer record anything — above all not the mark before the point of no return, so it never
//! makes that request. The send carries a [`SendJournal`] that saves the adapter's checkpoints
//! and marks the point of no return in the queue; for a provider whose adapter does not use the
//! journal the worker marks it before calling `send`, so that a crash anywhere in the send ends
//! in doubt, never in a second delivery.
//!
//! How an attempt ends:
//!
//! | the send | the job |
//! |---|---|
//! | returned a receipt | `sent`, the receipt stored |
//! | failed, not sent, retryable | `queued` again after a backoff (and the profile paused for every worker when the service gave a `Retry-After`) |
//! | failed, not sent, permanent | `failed` |
//! | failed past the point of no return, the service not asked | `in_doubt` |
//! | stopped by the worker's shutdown before the point of no return | `queued` again, due now |

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::Rng;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use securesend_core::{Cancel, Error, ErrorKind, Provider, SendJournal};

use crate::job::{JobId, JobState, Phase};
use crate::queue::Queue;
use crate::spec::MessageSpec;
use crate::storage::{ClaimRequest, Claimed, Outcome, QueueError, Storage};

/// Builds the provider serving a profile (the facade's implementation reads
/// `securesend.toml`).
pub trait Connector: Send + Sync + fmt::Debug {
    /// The provider of `profile`.
    fn connect(&self, profile: &str) -> securesend_core::Result<Provider>;

    /// The provider keys whose adapters can reconcile a send taken over after its point of no
    /// return ([`Capabilities::reconcile`](securesend_core::Capabilities::reconcile)).
    fn reconciling_providers(&self) -> Vec<String>;
}

/// How failed attempts are spaced: `base × 2^failures`, at most `max`, with full jitter (a
/// random delay up to that), so that many jobs failing together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay's upper bound.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The delay after the `failures`-th failure (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let bound = self.base.saturating_mul(1 << exp).min(self.max);
        if bound.is_zero() {
            return bound;
        }
        let ms = rand::rng().random_range(0..=bound.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its name, recorded on every job it touches (default: host name, process id).
    pub name: String,
    /// Jobs run at once (default 1).
    pub concurrency: usize,
    /// How long a claim holds a job without a heartbeat (default 60 s).
    pub lease: Duration,
    /// How often the lease is renewed (default 20 s).
    pub heartbeat: Duration,
    /// How long to wait when nothing is due (default 500 ms).
    pub poll: Duration,
    /// Stop once nothing is queued or running (default: run until shut down).
    pub drain: bool,
    /// Spacing of retries.
    pub backoff: Backoff,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            name: default_name(),
            concurrency: 1,
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(20),
            poll: Duration::from_millis(500),
            drain: false,
            backoff: Backoff::default(),
        }
    }
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

/// How one attempt of a job ended, as the worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    /// The job.
    pub job: JobId,
    /// Its profile.
    pub profile: String,
    /// The attempt.
    pub attempt: u32,
    /// `sent`, `retry`, `failed`, `in_doubt`, `released` (given back at shutdown) or
    /// `lease_lost` (another worker has it).
    pub outcome: &'static str,
    /// The service's message id, once sent.
    pub message_id: Option<String>,
    /// One line: the error, the doubt, the retry delay.
    pub detail: Option<String>,
    /// How long the attempt took.
    pub elapsed: Duration,
}

/// Receives each [`JobReport`] (to print it, to count it).
pub type ReportSink = Arc<dyn Fn(&JobReport) + Send + Sync>;

/// What a worker did until it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Attempts by outcome (see [`JobReport::outcome`]).
    pub outcomes: std::collections::BTreeMap<&'static str, u64>,
}

/// Runs jobs from a [`Queue`].
pub struct Worker {
    queue: Queue,
    connector: Arc<dyn Connector>,
    options: WorkerOptions,
    sink: Option<ReportSink>,
    providers: Mutex<HashMap<String, Provider>>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.queue)
            .field("options", &self.options)
            .finish()
    }
}

impl Worker {
    /// A worker over `queue`, connecting profiles through `connector`.
    /// Retry delays the options leave at their default come from `[queue] retry_base` and
    /// `retry_max`.
    pub fn new(queue: Queue, connector: Arc<dyn Connector>, mut options: WorkerOptions) -> Self {
        if options.backoff == Backoff::default() {
            let config = queue.config();
            options.backoff = Backoff {
                base: config.retry_base.unwrap_or(options.backoff.base),
                max: config.retry_max.unwrap_or(options.backoff.max),
            };
        }
        Worker {
            queue,
            connector,
            options,
            sink: None,
            providers: Mutex::new(HashMap::new()),
        }
    }

    /// Hands every attempt's report to `sink`.
    pub fn on_report(mut self, sink: ReportSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Runs until `shutdown` fires (or, with [`WorkerOptions::drain`], until nothing is queued
    /// or running). On shutdown no new job is claimed; jobs in flight are asked to stop at their
    /// next safe point and are given back to the queue, or finish when past their point of no
    /// return.
    pub async fn run(self, shutdown: Cancel) -> Result<WorkerSummary, QueueError> {
        let me = Arc::new(self);
        let storage = me.queue.storage().clone();
        for (profile, limits) in &me.queue.config().profiles {
            storage
                .set_max_in_flight(profile, limits.max_in_flight)
                .await?;
        }
        let request = ClaimRequest {
            worker: me.options.name.clone(),
            lease: me.options.lease,
            reconcile: me.connector.reconciling_providers(),
        };
        let permits = Arc::new(Semaphore::new(me.options.concurrency.max(1)));
        let summary = Arc::new(Mutex::new(WorkerSummary::default()));
        let mut tasks = JoinSet::new();
        let jobs_stop = Cancel::new();
        let mut idle_error: Option<QueueError> = None;
        loop {
            while tasks.try_join_next().is_some() {}
            if shutdown.is_cancelled() {
                break;
            }
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                () = shutdown.cancelled() => break,
            };
            match storage.claim(&request).await {
                Ok(Some(claimed)) => {
                    idle_error = None;
                    let (me, summary, stop) = (me.clone(), summary.clone(), jobs_stop.clone());
                    tasks.spawn(async move {
                        let report = me.run_job(claimed, &stop).await;
                        *summary
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .outcomes
                            .entry(report.outcome)
                            .or_default() += 1;
                        if let Some(sink) = &me.sink {
                            sink(&report);
                        }
                        drop(permit);
                    });
                    continue;
                }
                Ok(None) => {
                    drop(permit);
                    if me.options.drain && tasks.is_empty() && me.nothing_left().await? {
                        break;
                    }
                }
                Err(e) => {
                    drop(permit);
                    // The storage may be restarting: keep trying, say so once.
                    if idle_error.is_none() {
                        tracing::warn!(worker = %me.options.name, "claiming a job failed: {e}");
                    }
                    idle_error = Some(e);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(me.options.poll) => {}
                () = shutdown.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        jobs_stop.cancel();
        while tasks.join_next().await.is_some() {}
        let summary = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(summary)
    }

    async fn nothing_left(&self) -> Result<bool, QueueError> {
        let stats = self.queue.storage().stats().await?;
        let n = |s| stats.counts.get(&s).copied().unwrap_or(0);
        Ok(n(JobState::Queued) == 0 && n(JobState::Running) == 0)
    }

    fn provider(&self, profile: &str) -> securesend_core::Result<Provider> {
        let mut cache = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(profile) {
            return Ok(p.clone());
        }
        let p = self.connector.connect(profile)?;
        cache.insert(profile.to_owned(), p.clone());
        Ok(p)
    }

    async fn run_job(&self, claimed: Claimed, stop: &Cancel) -> JobReport {
        let started = Instant::now();
        let job = &claimed.job;
        let (id, attempt) = (job.id, claimed.attempt());
        let storage = self.queue.storage().clone();
        let mut report = JobReport {
            job: id,
            profile: job.profile.clone(),
            attempt,
            outcome: "failed",
            message_id: None,
            detail: None,
            elapsed: Duration::ZERO,
        };
        let journal = Arc::new(QueueJournal {
            storage: storage.clone(),
            id,
            attempt,
            resume: job.checkpoint.clone(),
            committed_before: job.phase == Phase::Committing,
            passed: AtomicBool::new(false),
        });
        let outcome = match self.attempt(&claimed, journal.clone(), stop).await {
            Attempt::Done(outcome) => outcome,
            Attempt::Released => {
                report.outcome = match storage.release(id, attempt).await {
                    Ok(()) => "released",
                    Err(_) => "lease_lost",
                };
                report.elapsed = started.elapsed();
                return report;
            }
            Attempt::LeaseLost => {
                report.outcome = "lease_lost";
                report.elapsed = started.elapsed();
                return report;
            }
        };
        let (name, detail, message_id) = describe(&outcome);
        report.outcome = name;
        report.detail = detail;
        report.message_id = message_id;
        if let Outcome::Retry { after, .. } = &outcome {
            report.detail = Some(format!(
                "{}; next attempt in {}",
                report.detail.take().unwrap_or_default(),
                humantime::format_duration(Duration::from_secs(after.as_secs()))
            ));
        }
        match storage.finish(id, attempt, outcome).await {
            Ok(()) => {}
            Err(e) if e.is_lease_lost() => report.outcome = "lease_lost",
            Err(e) => {
                // The lease runs out and the job is taken over; its journal decides how.
                tracing::warn!(job = %id, "recording the outcome failed: {e}");
                report.outcome = "lease_lost";
            }
        }
        if let Err(e) = self.queue.sweep_blobs().await {
            tracing::warn!(job = %id, "removing staged files failed: {e}");
        }
        report.elapsed = started.elapsed();
        report
    }

    async fn attempt(
        &self,
        claimed: &Claimed,
        journal: Arc<QueueJournal>,
        stop: &Cancel,
    ) -> Attempt {
        let job = &claimed.job;
        let failed = |e: Error| {
            Attempt::Done(Outcome::Failed {
                kind: e.kind(),
                message: e.to_string(),
            })
        };
        let provider = match self.provider(&job.profile) {
            Ok(p) => p,
            // A profile this worker's configuration lacks or cannot build: another worker's may
            // serve it, and a fixed configuration will; the attempts bound the wait.
            Err(e) => return self.retry(job.failures, &e, &job.profile).await,
        };
        if journal.committed_before && !provider.capabilities().reconcile {
            return Attempt::Done(Outcome::InDoubt {
                reason: format!(
                    "a worker stopped after the point of no return of the {} send and the service cannot be asked whether it arrived",
                    provider.name()
                ),
            });
        }
        let spec = match MessageSpec::from_value(&job.spec) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let message = match spec.message(self.queue.blobs()).await {
            Ok(m) => m,
            Err(e) if e.is_io() => return self.retry(job.failures, &e, &job.profile).await,
            Err(e) => return failed(e),
        };
        if !provider.capabilities().journal
            && let Err(e) = journal.point_of_no_return().await
        {
            return lost_or(e, || Attempt::LeaseLost);
        }
        let cancel = Cancel::new();
        let message = message
            .with_journal(journal.clone())
            .with_cancel(cancel.clone());
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (storage, cancel, lost) =
                (self.queue.storage().clone(), cancel.clone(), lost.clone());
            let (id, attempt, lease, every) = (
                job.id,
                claimed.attempt(),
                self.options.lease,
                self.options.heartbeat,
            );
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut stopping = false;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        // The send stops at its next safe point; past its point of no return it
                        // finishes, and the lease must outlive it.
                        () = stop.cancelled(), if !stopping => {
                            stopping = true;
                            cancel.cancel();
                            continue;
                        }
                    }
                    match storage.heartbeat(id, attempt, lease).await {
                        Err(e) if e.is_lease_lost() => {
                            lost.store(true, Ordering::SeqCst);
                            cancel.cancel();
                            return;
                        }
                        // A storage hiccup: the fence still protects the point of no return.
                        Err(e) => tracing::warn!(job = %id, "heartbeat failed: {e}"),
                        Ok(()) => {}
                    }
                }
            })
        };
        let result = provider.send(message).await;
        heartbeat.abort();
        let past = journal.passed.load(Ordering::SeqCst);
        let e = match result {
            Ok(receipt) => {
                return Attempt::Done(Outcome::Sent(
                    serde_json::to_value(&receipt).unwrap_or(Value::Null),
                ));
            }
            Err(e) => e,
        };
        let lost = lost.load(Ordering::SeqCst);
        // Before the point of no return nothing can have been delivered, whatever failed.
        let not_sent = e.is_not_sent() || !past;
        if !not_sent {
            return Attempt::Done(Outcome::InDoubt {
                reason: e.to_string(),
            });
        }
        if lost {
            Attempt::LeaseLost
        } else if e.is_cancelled() {
            Attempt::Released
        } else if e.is_retryable() {
            self.retry(job.failures, &e, &job.profile).await
        } else {
            failed(e)
        }
    }

    async fn retry(&self, failures: u32, e: &Error, profile: &str) -> Attempt {
        let mut after = self.options.backoff.delay(failures + 1);
        if let Some(wait) = e.retry_after() {
            after = after.max(wait);
            if matches!(e.kind(), ErrorKind::RateLimited | ErrorKind::Unavailable) {
                // Every worker on every machine waits, not only this job.
                let reason = format!("the service asked to wait: {}", e.kind());
                if let Err(err) = self
                    .queue
                    .storage()
                    .pause_profile(profile, wait, &reason)
                    .await
                {
                    tracing::warn!(profile, "pausing the profile failed: {err}");
                }
            }
        }
        Attempt::Done(Outcome::Retry {
            after,
            error: e.to_string(),
        })
    }
}

fn lost_or(e: Error, lost: impl FnOnce() -> Attempt) -> Attempt {
    if e.kind() == ErrorKind::Conflict {
        lost()
    } else {
        Attempt::Done(Outcome::Retry {
            after: Duration::from_secs(1),
            error: e.to_string(),
        })
    }
}

enum Attempt {
    Done(Outcome),
    Released,
    LeaseLost,
}

fn describe(outcome: &Outcome) -> (&'static str, Option<String>, Option<String>) {
    match outcome {
        Outcome::Sent(receipt) => (
            "sent",
            None,
            receipt
                .get("message_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        Outcome::Retry { error, .. } => ("retry", Some(error.clone()), None),
        Outcome::Failed { message, .. } => ("failed", Some(message.clone()), None),
        Outcome::InDoubt { reason } => ("in_doubt", Some(reason.clone()), None),
    }
}

/// The journal a worker hands each send: checkpoints and the point of no return go to the
/// queue storage, fenced by the attempt.
struct QueueJournal {
    storage: Arc<dyn Storage>,
    id: JobId,
    attempt: u32,
    resume: Option<Value>,
    committed_before: bool,
    passed: AtomicBool,
}

impl fmt::Debug for QueueJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueJournal")
            .field("job", &self.id)
            .field("attempt", &self.attempt)
            .field("committed_before", &self.committed_before)
            .finish()
    }
}

fn journal_error(e: QueueError) -> Error {
    match e {
        QueueError::LeaseLost { job, attempt } => Error::new(
            ErrorKind::Conflict,
            format!("job {job}: attempt {attempt} lost its lease to another worker"),
        ),
        QueueError::Other(e) => e,
    }
}

#[async_trait]
impl SendJournal for QueueJournal {
    fn resume(&self) -> Option<Value> {
        self.resume.clone()
    }

    fn committed_before(&self) -> bool {
        self.committed_before
    }

    async fn save(&self, checkpoint: Value) -> securesend_core::Result<()> {
        self.storage
            .checkpoint(self.id, self.attempt, &checkpoint)
            .await
            .map_err(journal_error)
    }

    async fn point_of_no_return(&self) -> securesend_core::Result<()> {
        self.storage
            .committing(self.id, self.attempt)
            .await
            .map_err(journal_error)?;
        self.passed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
