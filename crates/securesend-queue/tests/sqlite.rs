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
