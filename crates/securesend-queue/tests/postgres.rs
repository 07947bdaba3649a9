//! The conformance scenarios on PostgreSQL. They need `SECURESEND_TEST_POSTGRES` (a
//! `postgres://` URL of a server where the user may create databases); without it each test
//! says on stderr that it was skipped. Each test creates its own database and drops it.

mod conformance;

use std::io::Write;
use std::sync::Arc;

use securesend_queue::{PostgresStorage, Storage};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

const VAR: &str = "SECURESEND_TEST_POSTGRES";

struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create(test: &str) -> Option<TestDb> {
        let Ok(admin) = std::env::var(VAR) else {
            // Straight to the process's stderr: the test harness captures eprintln! of passing
            // tests, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: {VAR} is unset (set it to a postgres:// URL to run it)"
            );
            return None;
        };
        let name = format!("securesend_test_{test}_{}", std::process::id());
        let mut url = url::Url::parse(&admin).expect("SECURESEND_TEST_POSTGRES is a URL");
        url.set_path(&name);
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Some(TestDb {
            admin,
            name,
            url: url.to_string(),
        })
    }

    async fn open(&self) -> PostgresStorage {
        PostgresStorage::connect(&self.url).await.unwrap()
    }

    async fn drop(self) {
        let mut conn = PgConnection::connect(&self.admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

macro_rules! scenario {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let Some(db) = TestDb::create(stringify!($name)).await else {
                return;
            };
            let store = db.open().await;
            conformance::$name(&store).await;
            store.close().await;
            db.drop().await;
        }
    };
}

scenario!(idempotent_enqueue);
scenario!(claim_order);
scenario!(lease_expiry_and_take_over);
scenario!(committing_take_over_is_in_doubt);
scenario!(operator_transitions);
scenario!(history_lists_every_step);
scenario!(stats_and_purge);
scenario!(reconcilable_committing_take_over);
scenario!(paused_profile_is_skipped);
scenario!(later_pause_end_wins);
scenario!(max_age_ends_retries);
scenario!(blobs_are_removed_before_purge);
scenario!(stats_count_recent_sends);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_flight_cap() {
    let Some(db) = TestDb::create("in_flight_cap").await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(db.open().await);
    }
    let shared: Vec<Arc<dyn Storage>> = stores
        .iter()
        .cloned()
        .map(|s| Arc::new(s) as Arc<dyn Storage>)
        .collect();
    conformance::in_flight_cap(&shared).await;
    for store in stores {
        store.close().await;
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_claimers() {
    let Some(db) = TestDb::create("eight_claimers").await else {
        return;
    };
    // Each its own pool, as workers on separate machines would be, connecting at once so
    // the migrator's advisory lock is exercised too.
    let opened = futures::future::join_all((0..8).map(|_| PostgresStorage::connect(&db.url))).await;
    let stores: Vec<PostgresStorage> = opened.into_iter().map(|s| s.unwrap()).collect();
    let shared: Vec<Arc<dyn Storage>> = stores
        .iter()
        .cloned()
        .map(|s| Arc::new(s) as Arc<dyn Storage>)
        .collect();
    conformance::concurrent_claims(&shared, 50).await;
    for store in stores {
        store.close().await;
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_key_from_eight_connections() {
    let Some(db) = TestDb::create("same_key_from_eight_connections").await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..8 {
        stores.push(db.open().await);
    }
    let shared: Vec<Arc<dyn Storage>> = stores
        .iter()
        .cloned()
        .map(|s| Arc::new(s) as Arc<dyn Storage>)
        .collect();
    conformance::concurrent_idempotent_enqueue(&shared).await;
    for store in stores {
        store.close().await;
    }
    db.drop().await;
}
