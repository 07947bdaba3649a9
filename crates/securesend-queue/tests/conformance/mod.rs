//! Scenarios every backend must pass, over `&dyn Storage`; tests/sqlite.rs runs them on a
//! SQLite file (a PostgreSQL runner can call the same functions).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use securesend_core::ErrorKind;
use securesend_queue::{
    ClaimRequest, EnqueueOptions, JobId, JobSpec, JobState, Outcome, Phase, Resolution, Storage,
};
use serde_json::json;
use time::OffsetDateTime;

/// Long enough that no test's lease runs out by accident.
const LONG: Duration = Duration::from_secs(60);
/// Short leases for the take-over scenarios.
const SHORT: Duration = Duration::from_millis(200);
/// Just past a short lease.
const PAST_SHORT: Duration = Duration::from_millis(260);

fn spec(n: u32) -> JobSpec {
    JobSpec::new(
        "billing",
        "kiteworks",
        json!({"to": [format!("a{n}@example.com")], "subject": "invoice"}),
    )
    .unwrap()
}

/// A claim that reconciles no provider.
fn req(worker: &str, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        lease,
        reconcile: Vec::new(),
    }
}

fn keyed(key: &str) -> EnqueueOptions {
    EnqueueOptions {
        idempotency_key: Some(key.to_owned()),
        ..Default::default()
    }
}

async fn enqueue(store: &dyn Storage, n: u32) -> JobId {
    store
        .insert(&spec(n), &EnqueueOptions::default())
        .await
        .unwrap()
        .id()
}

async fn state_of(store: &dyn Storage, id: JobId) -> JobState {
    store.show(id).await.unwrap().0.state
}

pub async fn idempotent_enqueue(store: &dyn Storage) {
    let first = store
        .insert(&spec(1), &keyed("invoice-2026-001"))
        .await
        .unwrap();
    assert!(matches!(first, securesend_queue::Inserted::Created(_)));
    // Same key, same content (keys in another order): the same job, nothing new stored.
    let same = JobSpec::new(
        "billing",
        "kiteworks",
        json!({"subject": "invoice", "to": ["a1@example.com"]}),
    )
    .unwrap();
    let again = store
        .insert(&same, &keyed("invoice-2026-001"))
        .await
        .unwrap();
    assert_eq!(again, securesend_queue::Inserted::Existing(first.id()));
    assert_eq!(store.list(None).await.unwrap().len(), 1);
    let (_, history) = store.show(first.id()).await.unwrap();
    assert_eq!(history.len(), 1, "a repeated key writes no event");

    // Same key, other content: refused, naming the key and the job; nothing stored.
    let err = store
        .insert(&spec(2), &keyed("invoice-2026-001"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(text.contains("invoice-2026-001"), "{text}");
    assert!(text.contains(&first.id().to_string()), "{text}");
    assert_eq!(store.list(None).await.unwrap().len(), 1);

    // Bad options are refused before anything is stored.
    let err = store.insert(&spec(3), &keyed("")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(store.list(None).await.unwrap().len(), 1);

    // Without a key, the same content is two jobs.
    enqueue(store, 1).await;
    enqueue(store, 1).await;
    assert_eq!(store.list(None).await.unwrap().len(), 3);
}

pub async fn claim_order(store: &dyn Storage) {
    let low = enqueue(store, 1).await;
    let high = store
        .insert(
            &spec(2),
            &EnqueueOptions {
                priority: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id();
    let later = store
        .insert(
            &spec(3),
            &EnqueueOptions {
                priority: 9,
                not_before: Some(OffsetDateTime::now_utc() + time::Duration::hours(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id();
    let first = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(first.job.id, high);
    assert_eq!(first.attempt(), 1);
    assert!(!first.taken_over);
    assert_eq!(first.job.state, JobState::Running);
    assert_eq!(first.job.worker.as_deref(), Some("w1"));
    let second = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(second.job.id, low);
    // The job not due yet and the jobs under a live lease are not handed out.
    assert!(store.claim(&req("w2", LONG)).await.unwrap().is_none());
    assert_eq!(state_of(store, later).await, JobState::Queued);
    // Bad worker names and leases are refused.
    assert_eq!(
        store.claim(&req("", LONG)).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        store
            .claim(&req("w1", Duration::ZERO))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

/// `stores` are separate connections to the same queue, as separate processes would hold.
pub async fn concurrent_claims(stores: &[Arc<dyn Storage>], jobs: u32) {
    let mut ids = Vec::new();
    for n in 0..jobs {
        ids.push(enqueue(stores[0].as_ref(), n).await);
    }
    let mut tasks = Vec::new();
    for (w, store) in stores.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            while let Some(claimed) = store.claim(&req(&worker, LONG)).await.unwrap() {
                store
                    .finish(
                        claimed.job.id,
                        claimed.attempt(),
                        Outcome::Sent(json!({"ok": true})),
                    )
                    .await
                    .unwrap();
                mine.push(claimed.job.id);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut claims: HashMap<JobId, u32> = HashMap::new();
    let mut workers_that_worked = 0;
    for task in tasks {
        let mine = task.await.unwrap();
        if !mine.is_empty() {
            workers_that_worked += 1;
        }
        for id in mine {
            *claims.entry(id).or_default() += 1;
        }
    }
    assert_eq!(claims.len(), ids.len(), "every job claimed");
    assert!(
        claims.values().all(|&n| n == 1),
        "no job claimed twice: {claims:?}"
    );
    assert!(
        workers_that_worked > 1,
        "the claimers really ran side by side"
    );
    let stats = stores[0].stats().await.unwrap();
    assert_eq!(stats.counts[&JobState::Sent], u64::from(jobs));
    for id in ids {
        let (job, history) = stores[0].show(id).await.unwrap();
        assert_eq!(job.attempt, 1);
        assert_eq!(history.iter().filter(|e| e.event == "claimed").count(), 1);
    }
}

pub async fn lease_expiry_and_take_over(store: &dyn Storage) {
    let id = enqueue(store, 1).await;
    let stale = store.claim(&req("w1", SHORT)).await.unwrap().unwrap();
    store
        .checkpoint(id, stale.attempt(), &json!({"draft": 7}))
        .await
        .unwrap();
    // A live lease is not taken over.
    assert!(store.claim(&req("w2", SHORT)).await.unwrap().is_none());
    // A heartbeat extends it.
    tokio::time::sleep(Duration::from_millis(120)).await;
    store.heartbeat(id, stale.attempt(), SHORT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        store.claim(&req("w2", SHORT)).await.unwrap().is_none(),
        "the heartbeat kept the lease"
    );

    tokio::time::sleep(PAST_SHORT).await;
    let fresh = store.claim(&req("w2", LONG)).await.unwrap().unwrap();
    assert_eq!(fresh.job.id, id);
    assert!(fresh.taken_over);
    assert_eq!(fresh.attempt(), stale.attempt() + 1);
    assert_eq!(fresh.job.worker.as_deref(), Some("w2"));
    // Taken over from the checkpoint, not from scratch.
    assert_eq!(fresh.job.phase, Phase::Prepared);
    assert_eq!(fresh.job.checkpoint, Some(json!({"draft": 7})));

    // Every write of the stale worker is fenced off.
    let a = stale.attempt();
    for err in [
        store.heartbeat(id, a, LONG).await.unwrap_err(),
        store
            .checkpoint(id, a, &json!({"draft": 8}))
            .await
            .unwrap_err(),
        store.committing(id, a).await.unwrap_err(),
        store
            .finish(id, a, Outcome::Sent(json!({})))
            .await
            .unwrap_err(),
        store.release(id, a).await.unwrap_err(),
    ] {
        assert!(err.is_lease_lost(), "{err}");
    }
    let (job, _) = store.show(id).await.unwrap();
    assert_eq!(
        job.checkpoint,
        Some(json!({"draft": 7})),
        "the stale checkpoint was not saved"
    );
    assert_eq!(job.phase, Phase::Prepared);

    store
        .finish(id, fresh.attempt(), Outcome::Sent(json!({"mail": 42})))
        .await
        .unwrap();
    let (job, _) = store.show(id).await.unwrap();
    assert_eq!(job.state, JobState::Sent);
    assert_eq!(job.receipt, Some(json!({"mail": 42})));
    // Once sent, even the current attempt's writes are refused.
    assert!(
        store
            .heartbeat(id, fresh.attempt(), LONG)
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    // An unknown job is not found, not a lost lease.
    let err = store.heartbeat(JobId::new(), 1, LONG).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

pub async fn committing_take_over_is_in_doubt(store: &dyn Storage) {
    let id = enqueue(store, 1).await;
    let stale = store.claim(&req("w1", SHORT)).await.unwrap().unwrap();
    store.committing(id, stale.attempt()).await.unwrap();
    // A checkpoint after the mark keeps the phase committing.
    store
        .checkpoint(id, stale.attempt(), &json!({"late": true}))
        .await
        .unwrap();
    assert_eq!(store.show(id).await.unwrap().0.phase, Phase::Committing);
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        store.claim(&req("w2", LONG)).await.unwrap().is_none(),
        "never handed out again"
    );
    let (job, history) = store.show(id).await.unwrap();
    assert_eq!(job.state, JobState::InDoubt);
    assert_eq!(job.attempt, stale.attempt(), "not run again");
    let reason = job.doubt_reason.unwrap();
    assert!(
        reason.starts_with("worker w1 stopped after the point of no return at 20"),
        "{reason}"
    );
    let last = history.last().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(JobState::Running), JobState::InDoubt)
    );
    assert_eq!(last.detail.as_deref(), Some(reason.as_str()));
    assert!(
        store
            .finish(id, stale.attempt(), Outcome::Sent(json!({})))
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    assert_eq!(store.list(Some(JobState::InDoubt)).await.unwrap().len(), 1);
}

pub async fn operator_transitions(store: &dyn Storage) {
    // cancel: queued only.
    let queued = enqueue(store, 1).await;
    store.cancel(queued).await.unwrap();
    assert_eq!(state_of(store, queued).await, JobState::Cancelled);
    let err = store.cancel(queued).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let running = enqueue(store, 2).await;
    let claimed = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(claimed.job.id, running);
    let err = store.cancel(running).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!("conflict: job {running} is running: only a queued job can be cancelled")
    );
    assert_eq!(state_of(store, running).await, JobState::Running);
    assert_eq!(
        store.cancel(JobId::new()).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // retry: failed → queued, checkpoint cleared, attempt keeps rising.
    assert_eq!(
        store.retry(running).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    store
        .checkpoint(running, claimed.attempt(), &json!({"draft": 1}))
        .await
        .unwrap();
    store
        .finish(
            running,
            claimed.attempt(),
            Outcome::Failed {
                kind: ErrorKind::PermissionDenied,
                message: "recipient\nrefused".into(),
            },
        )
        .await
        .unwrap();
    let (job, _) = store.show(running).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error_kind.as_deref(), Some("permission denied"));
    assert_eq!(job.error_message.as_deref(), Some("recipient refused"));
    store.retry(running).await.unwrap();
    let (job, _) = store.show(running).await.unwrap();
    assert_eq!(
        (job.state, job.phase, job.checkpoint),
        (JobState::Queued, Phase::Fresh, None)
    );
    let again = store.claim(&req("w2", LONG)).await.unwrap().unwrap();
    assert_eq!(again.job.id, running);
    assert_eq!(again.attempt(), claimed.attempt() + 1);
    assert!(!again.taken_over);

    // retryable outcomes requeue until max_attempts.
    let bounded = store
        .insert(
            &spec(3),
            &EnqueueOptions {
                max_attempts: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id();
    store
        .finish(
            running,
            again.attempt(),
            Outcome::InDoubt {
                reason: "timeout after PUT".into(),
            },
        )
        .await
        .unwrap();
    let first = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(first.job.id, bounded);
    store
        .finish(
            bounded,
            first.attempt(),
            Outcome::Retry {
                after: Duration::ZERO,
                error: "503".into(),
            },
        )
        .await
        .unwrap();
    let (job, _) = store.show(bounded).await.unwrap();
    assert_eq!((job.state, job.failures), (JobState::Queued, 1));
    let second = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(second.attempt(), 2);
    store
        .finish(
            bounded,
            second.attempt(),
            Outcome::Retry {
                after: Duration::ZERO,
                error: "503".into(),
            },
        )
        .await
        .unwrap();
    let (job, _) = store.show(bounded).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error_kind.as_deref(), Some("retries exhausted"));
    // A retry in the future is not claimed now.
    let later = enqueue(store, 4).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(c.job.id, later);
    store
        .finish(
            later,
            c.attempt(),
            Outcome::Retry {
                after: LONG,
                error: "429".into(),
            },
        )
        .await
        .unwrap();
    assert!(store.claim(&req("w1", LONG)).await.unwrap().is_none());

    // resolve: in_doubt only; --sent and --resend.
    assert_eq!(
        store
            .resolve(later, Resolution::Sent)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    store.resolve(running, Resolution::Sent).await.unwrap();
    assert_eq!(state_of(store, running).await, JobState::Sent);
    assert_eq!(
        store
            .resolve(running, Resolution::Resend)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );

    let doubt = enqueue(store, 5).await;
    let d = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(d.job.id, doubt);
    store.committing(doubt, d.attempt()).await.unwrap();
    store
        .finish(
            doubt,
            d.attempt(),
            Outcome::InDoubt {
                reason: "connection reset after PUT".into(),
            },
        )
        .await
        .unwrap();
    store.resolve(doubt, Resolution::Resend).await.unwrap();
    let (job, _) = store.show(doubt).await.unwrap();
    assert_eq!((job.state, job.phase), (JobState::Queued, Phase::Fresh));
    let r = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!((r.job.id, r.attempt()), (doubt, d.attempt() + 1));

    // release: back to queued, due now.
    store.release(doubt, r.attempt()).await.unwrap();
    assert_eq!(state_of(store, doubt).await, JobState::Queued);
    assert_eq!(
        store.claim(&req("w3", LONG)).await.unwrap().unwrap().job.id,
        doubt
    );
}

pub async fn history_lists_every_step(store: &dyn Storage) {
    let id = store
        .insert(&spec(1), &keyed("payslip-7"))
        .await
        .unwrap()
        .id();
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store.heartbeat(id, c.attempt(), LONG).await.unwrap();
    store
        .checkpoint(id, c.attempt(), &json!({"draft": 3}))
        .await
        .unwrap();
    store.committing(id, c.attempt()).await.unwrap();
    store
        .finish(
            id,
            c.attempt(),
            Outcome::InDoubt {
                reason: "no answer to the PUT".into(),
            },
        )
        .await
        .unwrap();
    store.resolve(id, Resolution::Resend).await.unwrap();
    let c2 = store.claim(&req("w2", LONG)).await.unwrap().unwrap();
    store
        .finish(id, c2.attempt(), Outcome::Sent(json!({"id": "m1"})))
        .await
        .unwrap();

    let (job, history) = store.show(id).await.unwrap();
    assert_eq!(job.state, JobState::Sent);
    use JobState::*;
    let steps: Vec<_> = history
        .iter()
        .map(|e| (e.event.as_str(), e.actor.as_str(), e.attempt, e.from, e.to))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("enqueued", "client", 0, None, Queued),
            ("claimed", "w1", 1, Some(Queued), Running),
            ("checkpoint", "w1", 1, Some(Running), Running),
            ("committing", "w1", 1, Some(Running), Running),
            ("in_doubt", "w1", 1, Some(Running), InDoubt),
            ("resolved_resend", "operator", 1, Some(InDoubt), Queued),
            ("claimed", "w2", 2, Some(Queued), Running),
            ("sent", "w2", 2, Some(Running), Sent),
        ]
    );
    assert_eq!(history[4].detail.as_deref(), Some("no answer to the PUT"));
    assert!(
        history
            .windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at)
    );
    assert!(job.created_at <= job.updated_at);
    assert_eq!(job.finished_at, Some(history.last().unwrap().at));
}

pub async fn stats_and_purge(store: &dyn Storage) {
    let stats = store.stats().await.unwrap();
    assert!(stats.counts.values().all(|&n| n == 0));
    assert_eq!(stats.counts.len(), 6);
    assert_eq!(stats.oldest_queued_age, None);

    let sent = enqueue(store, 1).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(sent, c.attempt(), Outcome::Sent(json!({})))
        .await
        .unwrap();
    let cancelled = enqueue(store, 2).await;
    store.cancel(cancelled).await.unwrap();
    let doubt = enqueue(store, 3).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(doubt, c.attempt(), Outcome::InDoubt { reason: "?".into() })
        .await
        .unwrap();
    let queued = enqueue(store, 4).await;
    tokio::time::sleep(Duration::from_millis(30)).await;

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.counts[&JobState::Sent], 1);
    assert_eq!(stats.counts[&JobState::Cancelled], 1);
    assert_eq!(stats.counts[&JobState::InDoubt], 1);
    assert_eq!(stats.counts[&JobState::Queued], 1);
    assert_eq!(stats.counts[&JobState::Running], 0);
    let age = stats.oldest_queued_age.unwrap();
    assert!(
        age >= Duration::from_millis(25) && age < Duration::from_secs(30),
        "{age:?}"
    );

    // Jobs whose files are not marked removed stay, however old.
    assert_eq!(store.purge(Duration::ZERO).await.unwrap(), 0);
    for id in [sent, cancelled] {
        store.mark_blobs_removed(id).await.unwrap();
    }
    // Recent final jobs stay; older ones go with their history; the rest stays regardless.
    assert_eq!(store.purge(Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(store.purge(Duration::ZERO).await.unwrap(), 2);
    for id in [sent, cancelled] {
        assert_eq!(
            store.show(id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
    assert_eq!(state_of(store, doubt).await, JobState::InDoubt);
    assert_eq!(state_of(store, queued).await, JobState::Queued);
    assert_eq!(store.list(None).await.unwrap().len(), 2);
}

/// The same key enqueued from many connections at once: one job, every caller gets its id.
pub async fn concurrent_idempotent_enqueue(stores: &[Arc<dyn Storage>]) {
    let tasks: Vec<_> = stores
        .iter()
        .map(|store| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.insert(&spec(1), &keyed("race-1")).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let inserted = task.await.unwrap();
        if matches!(inserted, securesend_queue::Inserted::Created(_)) {
            created += 1;
        }
        ids.insert(inserted.id());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(stores[0].list(None).await.unwrap().len(), 1);
}

fn spec_for(profile: &str, provider: &str, n: u32) -> JobSpec {
    JobSpec::new(
        profile,
        provider,
        json!({"to": [format!("b{n}@example.com")], "subject": "payslip"}),
    )
    .unwrap()
}

async fn enqueue_for(store: &dyn Storage, profile: &str, provider: &str, n: u32) -> JobId {
    store
        .insert(&spec_for(profile, provider, n), &EnqueueOptions::default())
        .await
        .unwrap()
        .id()
}

/// Claims until one is handed out, for at most 10 s.
async fn claim_when_due(store: &dyn Storage, claim: &ClaimRequest) -> securesend_queue::Claimed {
    for _ in 0..200 {
        if let Some(claimed) = store.claim(claim).await.unwrap() {
            return claimed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no job was handed out within 10 s");
}

pub async fn reconcilable_committing_take_over(store: &dyn Storage) {
    let reconciled = enqueue(store, 1).await;
    let doubtful = enqueue_for(store, "hr", "smtp", 2).await;
    let stale = store.claim(&req("w1", SHORT)).await.unwrap().unwrap();
    assert_eq!(stale.job.id, reconciled);
    let other = store.claim(&req("w1", SHORT)).await.unwrap().unwrap();
    assert_eq!(other.job.id, doubtful);
    for c in [&stale, &other] {
        store
            .checkpoint(c.job.id, c.attempt(), &json!({"draft": 41}))
            .await
            .unwrap();
        store.committing(c.job.id, c.attempt()).await.unwrap();
    }
    let committing_at = store.show(reconciled).await.unwrap().0.committing_at;
    assert!(committing_at.is_some());
    tokio::time::sleep(PAST_SHORT).await;

    let reconciler = ClaimRequest {
        worker: "w2".into(),
        lease: LONG,
        reconcile: vec!["kiteworks".into()],
    };
    let fresh = store.claim(&reconciler).await.unwrap().unwrap();
    assert_eq!(fresh.job.id, reconciled);
    assert!(fresh.taken_over);
    assert_eq!(fresh.attempt(), stale.attempt() + 1);
    assert_eq!(fresh.job.state, JobState::Running);
    assert_eq!(fresh.job.worker.as_deref(), Some("w2"));
    // The reconciler must know the send may have happened, and what the adapter saved.
    assert_eq!(fresh.job.phase, Phase::Committing);
    assert_eq!(fresh.job.checkpoint, Some(json!({"draft": 41})));
    assert_eq!(fresh.job.committing_at, committing_at);
    let (_, history) = store.show(reconciled).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.actor.as_str(), last.attempt),
        ("taken_over", "w2", fresh.attempt())
    );
    assert_eq!(
        (last.from, last.to),
        (Some(JobState::Running), JobState::Running)
    );
    assert_eq!(last.detail.as_deref(), Some("reconcile"));

    // The provider that cannot reconcile: in doubt, never handed out, not run again.
    let (job, history) = store.show(doubtful).await.unwrap();
    assert_eq!(job.state, JobState::InDoubt);
    assert_eq!(job.attempt, other.attempt());
    assert_eq!(history.last().unwrap().event, "in_doubt");
    assert!(store.claim(&reconciler).await.unwrap().is_none());

    // The stale worker is fenced off; the reconciler settles it.
    assert!(
        store
            .finish(reconciled, stale.attempt(), Outcome::Sent(json!({})))
            .await
            .unwrap_err()
            .is_lease_lost()
    );
    store
        .finish(
            reconciled,
            fresh.attempt(),
            Outcome::Sent(json!({"mail": 9})),
        )
        .await
        .unwrap();
    assert_eq!(state_of(store, reconciled).await, JobState::Sent);
}

pub async fn paused_profile_is_skipped(store: &dyn Storage) {
    let with_priority = |priority| EnqueueOptions {
        priority,
        ..Default::default()
    };
    // A billing job under a lease that runs out during the pause: not taken over either.
    let leased = store
        .insert(&spec(1), &with_priority(5))
        .await
        .unwrap()
        .id();
    let held = store.claim(&req("w1", SHORT)).await.unwrap().unwrap();
    assert_eq!(held.job.id, leased);
    let billing = store
        .insert(&spec(2), &with_priority(9))
        .await
        .unwrap()
        .id();
    let hr = enqueue_for(store, "hr", "smtp", 3).await;

    store
        .pause_profile("billing", Duration::from_millis(700), "429 from\nkiteworks")
        .await
        .unwrap();
    let pauses = store.pauses().await.unwrap();
    assert_eq!(pauses.len(), 1);
    let pause = pauses[0].clone();
    assert_eq!(pause.profile, "billing");
    assert_eq!(pause.reason.as_deref(), Some("429 from kiteworks"));
    assert_eq!(store.stats().await.unwrap().paused, pauses);

    // The other profile still runs, though the paused one has the higher priority.
    let other = store.claim(&req("w2", LONG)).await.unwrap().unwrap();
    assert_eq!(other.job.id, hr);
    tokio::time::sleep(PAST_SHORT).await;
    let before = store.show(leased).await.unwrap().1;
    assert!(
        store.claim(&req("w2", LONG)).await.unwrap().is_none(),
        "neither the queued job nor the expired lease of a paused profile is handed out"
    );
    assert_eq!(store.show(leased).await.unwrap().1, before);
    assert_eq!(state_of(store, billing).await, JobState::Queued);

    let resumed = claim_when_due(store, &req("w2", LONG)).await;
    assert_eq!(resumed.job.id, billing);
    assert!(
        resumed.job.updated_at >= pause.until,
        "claimed at {} before the pause ended at {}",
        resumed.job.updated_at,
        pause.until
    );
    let taken = store.claim(&req("w2", LONG)).await.unwrap().unwrap();
    assert_eq!((taken.job.id, taken.taken_over), (leased, true));
    assert!(store.pauses().await.unwrap().is_empty());
    assert!(store.stats().await.unwrap().paused.is_empty());

    // Bad names are refused.
    assert_eq!(
        store
            .pause_profile(" ", LONG, "x")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

pub async fn later_pause_end_wins(store: &dyn Storage) {
    store
        .pause_profile("billing", Duration::from_secs(600), "maintenance window")
        .await
        .unwrap();
    let long = store.pauses().await.unwrap();
    store
        .pause_profile("billing", Duration::from_millis(300), "Retry-After: 0.3")
        .await
        .unwrap();
    assert_eq!(
        store.pauses().await.unwrap(),
        long,
        "the shorter pause changed nothing"
    );
    store
        .pause_profile("billing", Duration::from_secs(1200), "")
        .await
        .unwrap();
    let longer = store.pauses().await.unwrap();
    assert_eq!(longer.len(), 1);
    assert!(longer[0].until > long[0].until);
    assert_eq!(
        longer[0].reason, None,
        "the reason goes with the end that won"
    );
    // Pausing another profile does not touch this one; the list is by profile name.
    store
        .pause_profile("archive", Duration::from_secs(60), "full")
        .await
        .unwrap();
    let all = store.pauses().await.unwrap();
    let names: Vec<_> = all.iter().map(|p| p.profile.as_str()).collect();
    assert_eq!(names, ["archive", "billing"]);
    assert_eq!(all[1], longer[0]);
    enqueue(store, 1).await;
    assert!(store.claim(&req("w1", LONG)).await.unwrap().is_none());
}

/// `stores` are separate connections to the same queue.
pub async fn in_flight_cap(stores: &[Arc<dyn Storage>]) {
    let store = stores[0].as_ref();
    store.set_max_in_flight("billing", Some(2)).await.unwrap();
    assert_eq!(
        store
            .set_max_in_flight("billing", Some(0))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    for n in 0..5 {
        enqueue(store, n).await;
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&stores[w % stores.len()]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim(&req(&format!("w{w}"), LONG)).await.unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        if let Some(c) = task.await.unwrap() {
            claimed.push(c);
        }
    }
    assert_eq!(claimed.len(), 2, "the cap holds under concurrent claims");
    assert_eq!(store.list(Some(JobState::Running)).await.unwrap().len(), 2);
    assert!(store.claim(&req("w5", LONG)).await.unwrap().is_none());

    // A full profile does not block the others.
    let hr = enqueue_for(store, "hr", "smtp", 9).await;
    assert_eq!(
        store.claim(&req("w5", LONG)).await.unwrap().unwrap().job.id,
        hr
    );
    assert!(store.claim(&req("w5", LONG)).await.unwrap().is_none());

    // A finished job frees its place.
    let done = &claimed[0];
    store
        .finish(done.job.id, done.attempt(), Outcome::Sent(json!({})))
        .await
        .unwrap();
    let next = store.claim(&req("w6", LONG)).await.unwrap().unwrap();
    assert_eq!(next.job.profile, "billing");
    assert!(store.claim(&req("w6", LONG)).await.unwrap().is_none());

    // Without the cap the rest runs.
    store.set_max_in_flight("billing", None).await.unwrap();
    assert!(store.claim(&req("w7", LONG)).await.unwrap().is_some());
    assert!(store.claim(&req("w7", LONG)).await.unwrap().is_some());
    assert!(store.claim(&req("w7", LONG)).await.unwrap().is_none());
    assert_eq!(store.list(Some(JobState::Running)).await.unwrap().len(), 5);
}

pub async fn max_age_ends_retries(store: &dyn Storage) {
    let err = store
        .insert(
            &spec(1),
            &EnqueueOptions {
                max_age: Some(Duration::ZERO),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(store.list(None).await.unwrap().is_empty());

    let id = store
        .insert(
            &spec(2),
            &EnqueueOptions {
                max_age: Some(Duration::from_secs(3600)),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id();
    let job = store.show(id).await.unwrap().0;
    assert_eq!(
        job.deadline,
        Some(job.created_at + time::Duration::hours(1))
    );
    let unlimited = enqueue(store, 3).await;
    assert_eq!(store.show(unlimited).await.unwrap().0.deadline, None);
    store.cancel(unlimited).await.unwrap();

    // A retry due before the deadline is queued again.
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(c.job.id, id);
    store
        .finish(
            id,
            c.attempt(),
            Outcome::Retry {
                after: Duration::ZERO,
                error: "503".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(state_of(store, id).await, JobState::Queued);

    // One due after it fails the job, attempts left or not.
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(c.job.id, id);
    store
        .finish(
            id,
            c.attempt(),
            Outcome::Retry {
                after: Duration::from_secs(3601),
                error: "503 busy".into(),
            },
        )
        .await
        .unwrap();
    let (job, history) = store.show(id).await.unwrap();
    let message = "gave up: the job is older than its max age of 1 h, last error: 503 busy";
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.failures, 2);
    assert_eq!(job.error_kind.as_deref(), Some(ErrorKind::Timeout.as_str()));
    assert_eq!(job.error_message.as_deref(), Some(message));
    assert!(job.finished_at.is_some());
    let last = history.last().unwrap();
    assert_eq!((last.event.as_str(), last.to), ("failed", JobState::Failed));
    assert_eq!(last.detail.as_deref(), Some(message));
}

pub async fn blobs_are_removed_before_purge(store: &dyn Storage) {
    let sent = enqueue(store, 1).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(sent, c.attempt(), Outcome::Sent(json!({})))
        .await
        .unwrap();
    let cancelled = enqueue(store, 2).await;
    store.cancel(cancelled).await.unwrap();
    let failed = enqueue(store, 3).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(
            failed,
            c.attempt(),
            Outcome::Failed {
                kind: ErrorKind::NotFound,
                message: "no such recipient".into(),
            },
        )
        .await
        .unwrap();
    let doubt = enqueue(store, 4).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(doubt, c.attempt(), Outcome::InDoubt { reason: "?".into() })
        .await
        .unwrap();
    let running = enqueue(store, 5).await;
    let r = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    assert_eq!(r.job.id, running);
    let queued = enqueue(store, 6).await;

    // Only final jobs, oldest end first, each with the spec that names its files.
    let due = store.blobs_due(Duration::ZERO, 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [sent, cancelled, failed]);
    assert_eq!(due[1].1, *spec(2).spec());
    let first_two = store.blobs_due(Duration::ZERO, 2).await.unwrap();
    assert_eq!(first_two, due[..2]);
    assert!(
        store
            .blobs_due(Duration::from_secs(3600), 10)
            .await
            .unwrap()
            .is_empty(),
        "none ended an hour ago"
    );

    // Files of jobs that may still run are not to be removed.
    for id in [doubt, running, queued] {
        let err = store.mark_blobs_removed(id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert_eq!(store.show(id).await.unwrap().0.blobs_removed_at, None);
    }
    assert_eq!(
        store
            .mark_blobs_removed(JobId::new())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    assert_eq!(store.purge(Duration::ZERO).await.unwrap(), 0);
    store.mark_blobs_removed(sent).await.unwrap();
    let marked = store.show(sent).await.unwrap().0.blobs_removed_at.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.mark_blobs_removed(sent).await.unwrap();
    assert_eq!(
        store.show(sent).await.unwrap().0.blobs_removed_at,
        Some(marked),
        "marking again keeps the first time"
    );
    let ids: Vec<_> = store
        .blobs_due(Duration::ZERO, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [cancelled, failed]);

    assert_eq!(store.purge(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(
        store.show(sent).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.list(None).await.unwrap().len(), 5);
}

pub async fn stats_count_recent_sends(store: &dyn Storage) {
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.sent_last_hour, stats.sends_per_minute), (0, 0.0));
    for n in 0..3 {
        let id = enqueue(store, n).await;
        let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
        store
            .finish(id, c.attempt(), Outcome::Sent(json!({})))
            .await
            .unwrap();
    }
    // An operator's word that a job in doubt was delivered is not a send now.
    let doubt = enqueue(store, 7).await;
    let c = store.claim(&req("w1", LONG)).await.unwrap().unwrap();
    store
        .finish(doubt, c.attempt(), Outcome::InDoubt { reason: "?".into() })
        .await
        .unwrap();
    store.resolve(doubt, Resolution::Sent).await.unwrap();
    store
        .pause_profile("billing", Duration::from_secs(60), "429")
        .await
        .unwrap();

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.counts[&JobState::Sent], 4);
    assert_eq!(stats.sent_last_hour, 3);
    assert!(
        (stats.sends_per_minute - 0.3).abs() < 1e-9,
        "{}",
        stats.sends_per_minute
    );
    assert_eq!(stats.paused, store.pauses().await.unwrap());
    assert_eq!(stats.paused.len(), 1);
}
