//! The worker over a real SQLite queue, sending through a scripted mailer that records every
//! delivery: what each kind of failure does to a job, and that nothing is delivered twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use securesend_core::{
    Attachment, Cancel, Capabilities, Error, ErrorKind, Provider, SecureMailer, SecureMessage,
    SendReceipt, SendStatus,
};
use securesend_queue::{
    Backoff, BlobStore, ClaimRequest, Connector, EnqueueOptions, JobId, JobState, Queue,
    QueueConfig, SqliteStorage, Stage, Worker, WorkerOptions,
};

/// What the mailer does on its next call.
#[derive(Debug, Clone)]
enum Step {
    Deliver,
    /// Fails before its point of no return.
    FailBefore(ErrorKind, Option<Duration>),
    /// Marks its point of no return, then loses the answer.
    FailAfter,
    /// Waits for the send's cancel, then stops before its point of no return.
    WaitForCancel,
}

#[derive(Debug, Default)]
struct Mailer {
    script: Mutex<VecDeque<Step>>,
    /// Subject and SHA-256 of each attachment of every delivered message.
    delivered: Mutex<Vec<(String, Vec<String>)>>,
    calls: Mutex<Vec<CallSeen>>,
}

#[derive(Debug, Clone, PartialEq)]
struct CallSeen {
    subject: String,
    resume: Option<serde_json::Value>,
    committed_before: bool,
}

impl Mailer {
    fn with(steps: impl IntoIterator<Item = Step>) -> Arc<Mailer> {
        Arc::new(Mailer {
            script: Mutex::new(steps.into_iter().collect()),
            ..Mailer::default()
        })
    }
    fn delivered(&self) -> Vec<(String, Vec<String>)> {
        self.delivered.lock().unwrap().clone()
    }
    fn calls(&self) -> Vec<CallSeen> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl SecureMailer for Mailer {
    async fn send(&self, message: SecureMessage) -> securesend_core::Result<SendReceipt> {
        let journal = message
            .journal()
            .expect("the worker hands every send a journal");
        self.calls.lock().unwrap().push(CallSeen {
            subject: message.subject().to_owned(),
            resume: journal.resume(),
            committed_before: journal.committed_before(),
        });
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::Deliver);
        journal.save(json!({"step": format!("{step:?}")})).await?;
        match step {
            Step::Deliver => {}
            Step::FailBefore(kind, retry_after) => {
                let mut e = Error::new(kind, "the service said no").not_sent();
                if let Some(d) = retry_after {
                    e = e.with_retry_after(d);
                }
                return Err(e);
            }
            Step::FailAfter => {
                journal.point_of_no_return().await?;
                return Err(Error::new(ErrorKind::Timeout, "the answer was lost").maybe_sent());
            }
            Step::WaitForCancel => {
                message.cancel().cancelled().await;
                return Err(
                    Error::new(ErrorKind::Cancelled, "stopped; nothing was sent").not_sent(),
                );
            }
        }
        journal.point_of_no_return().await?;
        let mut hashes = Vec::new();
        for file in message.attachments() {
            let mut bytes = Vec::new();
            file.open().await?.read_to_end(&mut bytes).await.unwrap();
            hashes.push(hex::encode(Sha256::digest(&bytes)));
        }
        self.delivered
            .lock()
            .unwrap()
            .push((message.subject().to_owned(), hashes));
        let n = self.delivered.lock().unwrap().len();
        Ok(SendReceipt::new("fake", format!("m-{n}"), SendStatus::Sent))
    }
}

#[derive(Debug)]
struct Fake {
    mailer: Arc<Mailer>,
    caps: Capabilities,
}

impl Connector for Fake {
    fn connect(&self, _profile: &str) -> securesend_core::Result<Provider> {
        Ok(Provider::new("fake", self.caps.clone()).with_mailer(self.mailer.clone()))
    }
    fn reconciling_providers(&self) -> Vec<String> {
        if self.caps.reconcile {
            vec!["fake".to_owned()]
        } else {
            Vec::new()
        }
    }
}

fn caps(journal: bool, reconcile: bool) -> Capabilities {
    let mut c = Capabilities::default();
    c.send = true;
    c.attachments = true;
    c.journal = journal;
    c.reconcile = reconcile;
    c
}

struct Setup {
    _dir: tempfile::TempDir,
    queue: Queue,
    blobs: std::path::PathBuf,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("queue.db"))
        .await
        .unwrap();
    let blobs = dir.path().join("blobs");
    let queue = Queue::from_parts(
        Arc::new(storage),
        BlobStore::new(&blobs),
        QueueConfig::default(),
    );
    Setup {
        _dir: dir,
        queue,
        blobs,
    }
}

fn message(subject: &str, body: &str) -> SecureMessage {
    SecureMessage::builder()
        .to("ada@example.com")
        .subject(subject)
        .attach(Attachment::from_bytes("doc.txt", body.to_owned()))
        .build()
        .unwrap()
}

async fn enqueue(s: &Setup, fake: &Fake, subject: &str) -> JobId {
    let provider = fake.connect("p").unwrap();
    s.queue
        .enqueue(
            "p",
            &provider,
            message(subject, subject),
            &EnqueueOptions::default(),
            Stage::Copy,
        )
        .await
        .unwrap()
        .id()
}

fn options() -> WorkerOptions {
    WorkerOptions {
        name: "w1".into(),
        concurrency: 2,
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_millis(200),
        poll: Duration::from_millis(20),
        drain: true,
        backoff: Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
        },
    }
}

async fn drain(s: &Setup, fake: Fake) {
    let worker = Worker::new(s.queue.clone(), Arc::new(fake), options());
    tokio::time::timeout(Duration::from_secs(30), worker.run(Cancel::new()))
        .await
        .expect("the worker drains the queue")
        .unwrap();
}

async fn state(s: &Setup, id: JobId) -> securesend_queue::Job {
    s.queue.show(id).await.unwrap().0
}

fn blob_dirs(s: &Setup) -> usize {
    std::fs::read_dir(&s.blobs).map(|d| d.count()).unwrap_or(0)
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn every_job_is_delivered_once_with_its_files_and_its_blobs_are_removed() {
    let s = setup().await;
    let mailer = Mailer::with([]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(enqueue(&s, &fake, &format!("invoice {i}")).await);
    }
    assert_eq!(blob_dirs(&s), 6);
    drain(&s, fake).await;
    let mut delivered = mailer.delivered();
    delivered.sort();
    let expected: Vec<_> = (0..6)
        .map(|i| {
            let subject = format!("invoice {i}");
            let hash = sha(&subject);
            (subject, vec![hash])
        })
        .collect();
    assert_eq!(delivered, expected);
    for id in ids {
        let (job, history) = s.queue.show(id).await.unwrap();
        assert_eq!(job.state, JobState::Sent);
        assert!(
            job.receipt.unwrap()["message_id"]
                .as_str()
                .unwrap()
                .starts_with("m-")
        );
        let events: Vec<_> = history.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(events.first(), Some(&"enqueued"));
        assert!(events.contains(&"committing"), "{events:?}");
        assert_eq!(events.last(), Some(&"sent"));
    }
    assert_eq!(blob_dirs(&s), 0, "staged files outlived their jobs");
}

#[tokio::test]
async fn a_retryable_failure_before_the_point_of_no_return_is_tried_again() {
    let s = setup().await;
    let mailer = Mailer::with([Step::FailBefore(ErrorKind::Unavailable, None)]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "payslip").await;
    drain(&s, fake).await;
    let (job, history) = s.queue.show(id).await.unwrap();
    assert_eq!(job.state, JobState::Sent);
    assert_eq!(job.failures, 1);
    assert!(history.iter().any(|e| e.event == "retry"));
    assert_eq!(mailer.delivered().len(), 1);
    // The second attempt was handed the first one's checkpoint.
    let calls = mailer.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].resume,
        Some(json!({"step": "FailBefore(Unavailable, None)"}))
    );
}

#[tokio::test]
async fn a_permanent_failure_fails_the_job_and_removes_its_files() {
    let s = setup().await;
    let mailer = Mailer::with([Step::FailBefore(ErrorKind::PermissionDenied, None)]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "contract").await;
    drain(&s, fake).await;
    let job = state(&s, id).await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error_kind.as_deref(), Some("permission denied"));
    assert_eq!(mailer.calls().len(), 1);
    assert!(mailer.delivered().is_empty());
    assert_eq!(blob_dirs(&s), 0);
    // Sent again without its files it would be another message: refused, and it stays failed.
    let err = s.queue.retry(id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("queue the message again"), "{err}");
    assert_eq!(state(&s, id).await.state, JobState::Failed);
}

#[tokio::test]
async fn a_failure_past_the_point_of_no_return_is_in_doubt_and_never_sent_again() {
    let s = setup().await;
    let mailer = Mailer::with([Step::FailAfter]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "lab results").await;
    drain(&s, fake).await;
    let job = state(&s, id).await;
    assert_eq!(job.state, JobState::InDoubt);
    assert!(job.doubt_reason.unwrap().contains("answer was lost"));
    assert_eq!(mailer.calls().len(), 1, "a send in doubt was tried again");
    // The files stay until an operator decides: a resend needs them.
    assert_eq!(blob_dirs(&s), 1);
}

#[tokio::test]
async fn without_a_journal_any_unclear_failure_is_in_doubt() {
    let s = setup().await;
    // The adapter does not mark its point of no return: the worker marks it before the send,
    // so only an error that says "not sent" is retried.
    let mailer = Mailer::with([
        Step::FailBefore(ErrorKind::Unavailable, None),
        Step::FailAfter,
    ]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(false, false),
    };
    let id = enqueue(&s, &fake, "case file").await;
    drain(&s, fake).await;
    let (job, history) = s.queue.show(id).await.unwrap();
    assert_eq!(job.state, JobState::InDoubt);
    assert_eq!(mailer.calls().len(), 2);
    assert!(history.iter().any(|e| e.event == "retry"));
}

#[tokio::test]
async fn retry_after_pauses_the_profile_for_every_worker() {
    let s = setup().await;
    let mailer = Mailer::with([Step::FailBefore(
        ErrorKind::RateLimited,
        Some(Duration::from_millis(700)),
    )]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "statement").await;
    let started = std::time::Instant::now();
    let q = s.queue.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let paused = q.storage().pauses().await.unwrap();
            if let Some(p) = paused.into_iter().find(|p| p.profile == "p") {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    drain(&s, fake).await;
    let pause = tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .unwrap()
        .unwrap();
    assert!(pause.reason.unwrap().contains("rate limited"));
    assert_eq!(state(&s, id).await.state, JobState::Sent);
    // The second attempt waited for the pause.
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(mailer.delivered().len(), 1);
}

#[tokio::test]
async fn shutdown_gives_a_running_job_back_unsent() {
    let s = setup().await;
    let mailer = Mailer::with([Step::WaitForCancel]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "report").await;
    let shutdown = Cancel::new();
    let worker = Worker::new(
        s.queue.clone(),
        Arc::new(fake),
        WorkerOptions {
            drain: false,
            ..options()
        },
    );
    let run = tokio::spawn(worker.run(shutdown.clone()));
    while mailer.calls().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    let summary = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.outcomes.get("released"), Some(&1));
    let (job, history) = s.queue.show(id).await.unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.failures, 0);
    assert_eq!(history.last().unwrap().event, "released");
    assert!(mailer.delivered().is_empty());
}

/// A worker that claimed the job, saved a checkpoint (and maybe marked its point of no return),
/// then died: its lease runs out.
async fn die_holding(s: &Setup, committing: bool) {
    let storage = s.queue.storage();
    let claimed = storage
        .claim(&ClaimRequest {
            worker: "dead".into(),
            lease: Duration::from_millis(100),
            reconcile: Vec::new(),
        })
        .await
        .unwrap()
        .unwrap();
    let (id, attempt) = (claimed.job.id, claimed.attempt());
    storage
        .checkpoint(id, attempt, &json!({"draft": "d-7"}))
        .await
        .unwrap();
    if committing {
        storage.committing(id, attempt).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn a_job_whose_worker_died_before_the_point_of_no_return_is_taken_over_from_its_checkpoint() {
    let s = setup().await;
    let mailer = Mailer::with([]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "deed").await;
    die_holding(&s, false).await;
    drain(&s, fake).await;
    let (job, history) = s.queue.show(id).await.unwrap();
    assert_eq!(job.state, JobState::Sent);
    assert!(history.iter().any(|e| e.event == "taken_over"));
    let calls = mailer.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].resume, Some(json!({"draft": "d-7"})));
    assert!(!calls[0].committed_before);
    assert_eq!(mailer.delivered().len(), 1);
}

#[tokio::test]
async fn a_job_whose_worker_died_past_the_point_of_no_return_is_reconciled_or_in_doubt() {
    // A provider that cannot be asked: in doubt, the mailer never called.
    let s = setup().await;
    let mailer = Mailer::with([]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    };
    let id = enqueue(&s, &fake, "deed").await;
    die_holding(&s, true).await;
    drain(&s, fake).await;
    assert_eq!(state(&s, id).await.state, JobState::InDoubt);
    assert!(mailer.calls().is_empty());

    // One that reconciles: handed the checkpoint and told that the point was passed.
    let s = setup().await;
    let mailer = Mailer::with([]);
    let fake = Fake {
        mailer: mailer.clone(),
        caps: caps(true, true),
    };
    let id = enqueue(&s, &fake, "deed").await;
    die_holding(&s, true).await;
    drain(&s, fake).await;
    assert_eq!(state(&s, id).await.state, JobState::Sent);
    let calls = mailer.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].committed_before);
    assert_eq!(calls[0].resume, Some(json!({"draft": "d-7"})));
}

#[tokio::test]
async fn two_workers_never_run_the_same_job() {
    let s = setup().await;
    let mailer = Mailer::with([]);
    let fake = Arc::new(Fake {
        mailer: mailer.clone(),
        caps: caps(true, false),
    });
    for i in 0..40 {
        enqueue(&s, &fake, &format!("n{i}")).await;
    }
    let mut runs = Vec::new();
    for name in ["a", "b", "c"] {
        let worker = Worker::new(
            s.queue.clone(),
            fake.clone(),
            WorkerOptions {
                name: name.into(),
                concurrency: 3,
                ..options()
            },
        );
        runs.push(tokio::spawn(worker.run(Cancel::new())));
    }
    for r in runs {
        r.await.unwrap().unwrap();
    }
    let mut subjects: Vec<_> = mailer.delivered().into_iter().map(|d| d.0).collect();
    subjects.sort();
    let mut expected: Vec<_> = (0..40).map(|i| format!("n{i}")).collect();
    expected.sort();
    assert_eq!(
        subjects, expected,
        "a job was delivered twice or not at all"
    );
}
