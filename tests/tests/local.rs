//! The conformance scenarios against the `local` provider.

use securesend::config::ProfileConfig;
use securesend_conformance as c;

fn fields(root: &std::path::Path) -> securesend::config::Table {
    let mut t = securesend::config::Table::new();
    t.insert("root".into(), root.display().to_string().into());
    t.insert(
        "from".into(),
        "Conformance <conformance@example.com>".into(),
    );
    // A limit above the largest round trip, so the oversize case has a limit to exceed.
    t.insert(
        "max_file_size".into(),
        toml::Value::Integer(MAX_FILE_SIZE as i64),
    );
    t
}

const MAX_FILE_SIZE: u64 = c::LARGE + (4 << 20);

fn target(root: &std::path::Path) -> c::Target {
    let profile = ProfileConfig::new("conformance", "local", fields(root), ".");
    c::Target {
        provider: securesend::connect(&profile).expect("local connects"),
        observer: Box::new(c::LocalObserver::new(root)),
    }
}

/// The local provider has no chunked protocol; it copies a file in blocks of 57 KiB
/// (`BLOCK_INPUT` in securesend-local: 1024 base64 input lines of 57 bytes), so that block is
/// its chunk.
const BLOCK: u64 = 57 * 1024;

#[tokio::test]
async fn sends() {
    let dir = tempfile::tempdir().unwrap();
    c::send_zero_one_three(&target(dir.path())).await;
}

/// Repeated recipients reach the service once, internationalised domains as A-labels.
#[tokio::test]
async fn recipients_are_sent_once_in_ascii() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(c::recipients_once_in_ascii(&target(dir.path())).await, 5);
}

#[tokio::test]
async fn round_trips() {
    let dir = tempfile::tempdir().unwrap();
    c::round_trips(&target(dir.path()), &c::boundary_sizes(BLOCK)).await;
}

/// A file whose size changes after it was checked fails the upload and the send with one
/// permanent integrity error.
#[tokio::test]
async fn a_file_whose_size_changes_fails_for_good() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(c::size_changes(&target(dir.path())).await, 4);
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(&dir.path().join("data"));
    assert!(c::bad_input_matrix(&t).await >= 48);
    assert!(
        !dir.path().join("data").exists(),
        "bad input created the data directory"
    );
}

/// Local sends files as attachments only: no links, expiry, password, receipts, login or
/// resumable uploads (see `securesend_local::capabilities`): six options.
#[tokio::test]
async fn unsupported_options_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(&dir.path().join("data"));
    assert_eq!(c::unsupported_options(&t).await, 6);
    assert!(!dir.path().join("data").exists(), "nothing was written");
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = c::GoodProfile {
        provider: "local",
        fields: fields(&dir.path().join("data")),
        secret: None,
        url: None,
        required: "root",
    };
    let observer = c::LocalObserver::new(dir.path().join("data"));
    assert_eq!(c::bad_config(&good, &observer).await, 3);
}

#[tokio::test]
async fn browses() {
    let dir = tempfile::tempdir().unwrap();
    c::browse(&target(dir.path()), 7, 3).await;
}

/// The rename into the outbox is the point of no return. The message id is saved just before
/// it, so a take-over can look for the message in the outbox.
#[tokio::test]
async fn journal_marks_the_point_of_no_return() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    assert!(
        t.provider.capabilities().reconcile,
        "the outbox can be asked"
    );
    let saved = c::journal_marks_the_point_of_no_return(&t).await;
    assert_eq!(saved.len(), 1, "checkpoints saved: {saved:?}");
    assert!(saved[0]["message_id"].is_string(), "{saved:?}");
}

/// A refused point of no return leaves no staged message, no entry under `sent/` and nothing
/// in the staging folder; only the content blob stays, as after any failed send (an identical
/// file stored concurrently may share it).
#[tokio::test]
async fn failing_journal_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let e = c::failing_journal_sends_nothing(&target(&root)).await;
    assert!(e.to_string().contains("not sent"), "{e}");
    let left: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&root).unwrap().to_owned())
        .collect();
    assert_eq!(left.len(), 1, "files left: {left:?}");
    assert!(left[0].starts_with("files/blobs"), "files left: {left:?}");
    let outbox: Vec<_> = std::fs::read_dir(root.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(outbox.is_empty(), "the outbox keeps {outbox:?}");
}
