//! The conformance scenarios on a SQLite file.

mod conformance;

use std::sync::Arc;

use securesend_queue::{SqliteStorage, Storage};
use tempfile::TempDir;

async fn open() -> (TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::open(dir.path().join("queue.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn idempotent_enqueue() {
    let (_dir, store) = open().await;
    conformance::idempotent_enqueue(&store).await;
}

#[tokio::test]
async fn claim_order() {
    let (_dir, store) = open().await;
    conformance::claim_order(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_claimers_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    // Each its own pool, as separate processes would be; opened at once to exercise the
    // migration lock too.
    let opened = futures::future::join_all((0..8).map(|_| SqliteStorage::open(&path))).await;
    let stores: Vec<Arc<dyn Storage>> = opened
        .into_iter()
        .map(|s| Arc::new(s.unwrap()) as Arc<dyn Storage>)
        .collect();
    conformance::concurrent_claims(&stores, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_from_eight_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let mut stores: Vec<Arc<dyn Storage>> = Vec::new();
    for _ in 0..8 {
        stores.push(Arc::new(SqliteStorage::open(&path).await.unwrap()));
    }
    conformance::concurrent_idempotent_enqueue(&stores).await;
}

#[tokio::test]
async fn purge_takes_the_history_along() {
    let (dir, store) = open().await;
    conformance::stats_and_purge(&store).await;
    use sqlx::{Connection, Row};
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("queue.db")),
    )
    .await
    .unwrap();
    let orphans: i64 =
        sqlx::query("SELECT COUNT(*) FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
    assert_eq!(orphans, 0);
    let kept: i64 = sqlx::query("SELECT COUNT(*) FROM job_events")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert!(kept > 0, "the remaining jobs keep theirs");
}

#[tokio::test]
async fn reconcilable_committing_take_over() {
    let (_dir, store) = open().await;
    conformance::reconcilable_committing_take_over(&store).await;
}

#[tokio::test]
async fn paused_profile_is_skipped() {
    let (_dir, store) = open().await;
    conformance::paused_profile_is_skipped(&store).await;
}

#[tokio::test]
async fn later_pause_end_wins() {
    let (_dir, store) = open().await;
    conformance::later_pause_end_wins(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_flight_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let mut stores: Vec<Arc<dyn Storage>> = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(SqliteStorage::open(&path).await.unwrap()));
    }
    conformance::in_flight_cap(&stores).await;
}

#[tokio::test]
async fn max_age_ends_retries() {
    let (_dir, store) = open().await;
    conformance::max_age_ends_retries(&store).await;
}

#[tokio::test]
async fn blobs_are_removed_before_purge() {
    let (_dir, store) = open().await;
    conformance::blobs_are_removed_before_purge(&store).await;
}

#[tokio::test]
async fn stats_count_recent_sends() {
    let (_dir, store) = open().await;
    conformance::stats_count_recent_sends(&store).await;
}

/// A file made before the claim limits existed (only 0001 applied) is brought up to date on
/// open, and its jobs read as before.
#[tokio::test]
async fn a_file_from_the_first_schema_is_migrated() {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use sqlx::{Connection, Row, SqlSafeStr};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../migrations/sqlite/0001_init.sql").into_sql_str(),
        false,
    )])
    .run(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, profile, provider, state, fingerprint, spec, created_at, \
         not_before, updated_at, max_attempts) \
         VALUES ('0190f3a2-7c1e-7d4b-9a8e-1f2d3c4b5a69', 'p', 'local', 'queued', 'f', '{\"n\":1}', \
         1, 1, 1, 3)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStorage::open(&path).await.unwrap();
    let jobs = store.list(None).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].spec, serde_json::json!({"n": 1}));
    assert_eq!((jobs[0].deadline, jobs[0].blobs_removed_at), (None, None));
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
    )
    .await
    .unwrap();
    let versions: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);
    let index: i64 = sqlx::query(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'jobs_running_profile'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(index, 1);
}

#[tokio::test]
async fn lease_expiry_and_take_over() {
    let (_dir, store) = open().await;
    conformance::lease_expiry_and_take_over(&store).await;
}

#[tokio::test]
async fn committing_take_over_is_in_doubt() {
    let (_dir, store) = open().await;
    conformance::committing_take_over_is_in_doubt(&store).await;
}

#[tokio::test]
async fn operator_transitions() {
    let (_dir, store) = open().await;
    conformance::operator_transitions(&store).await;
}

#[tokio::test]
async fn history_lists_every_step() {
    let (_dir, store) = open().await;
    conformance::history_lists_every_step(&store).await;
}

#[tokio::test]
async fn stats_and_purge() {
    let (_dir, store) = open().await;
    conformance::stats_and_purge(&store).await;
}

#[tokio::test]
async fn reopening_keeps_jobs_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let store = SqliteStorage::open(&path).await.unwrap();
    let id = store
        .insert(
            &securesend_queue::JobSpec::new("p", "local", serde_json::json!({"n": 1})).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap()
        .id();
    store.close().await;
    let store = SqliteStorage::open(&path).await.unwrap();
    assert_eq!(
        store.show(id).await.unwrap().0.spec,
        serde_json::json!({"n": 1})
    );
    // WAL is a property of the file: any connection, even without our options, sees it.
    use sqlx::{Connection, Row};
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
    )
    .await
    .unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
}
