//! The conformance scenarios against the `local` provider.

use securesend::config::ProfileConfig;
use securesend_conformance as c;

fn target(root: &std::path::Path) -> c::Target {
    let mut fields = toml_fields(root);
    fields.insert(
        "from".into(),
        "Conformance <conformance@example.com>".into(),
    );
    let profile = ProfileConfig::new("conformance", "local", fields, ".");
    c::Target {
        provider: securesend::connect(&profile).expect("local connects"),
        observer: Box::new(c::LocalObserver::new(root)),
    }
}

fn toml_fields(root: &std::path::Path) -> securesend::config::Table {
    let mut t = securesend::config::Table::new();
    t.insert("root".into(), root.display().to_string().into());
    t
}

#[tokio::test]
async fn sends() {
    let dir = tempfile::tempdir().unwrap();
    c::send_zero_one_three(&target(dir.path())).await;
}

#[tokio::test]
async fn round_trips() {
    let dir = tempfile::tempdir().unwrap();
    c::round_trips(
        &target(dir.path()),
        &[0, 1, 58_367, 58_368, 58_369, 3 << 20],
    )
    .await;
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(&dir.path().join("data"));
    c::bad_input_matrix(&t).await;
    assert!(
        !dir.path().join("data").exists(),
        "bad input created the data directory"
    );
}

#[tokio::test]
async fn browses() {
    let dir = tempfile::tempdir().unwrap();
    c::browse(&target(dir.path()), 7, 3).await;
}
