//! The conformance scenarios against the `tuyu` provider, served by the sandbox.

use securesend::config::{ProfileConfig, Table};
use securesend_conformance as c;
use securesend_sandbox::tuyu::{Tuyu, WORKSPACE};
use securesend_sandbox::{Sandbox, SandboxOptions};

fn fields(sandbox: &Sandbox) -> Table {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    // A limit above the largest round trip, so the oversize case has a limit to exceed.
    fields.insert(
        "max_file_size".into(),
        toml::Value::Integer((c::LARGE + (4 << 20)) as i64),
    );
    fields
}

async fn target() -> (Sandbox, c::Target) {
    let (sandbox, _tuyu, target) = target_and_site().await;
    (sandbox, target)
}

/// The target, and the module whose site holds the folders and files.
async fn target_and_site() -> (Sandbox, Tuyu, c::Target) {
    let tuyu = Tuyu::default();
    let sandbox = Sandbox::start(&tuyu, SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let profile = ProfileConfig::new("conformance", "tuyu", fields(&sandbox), ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("tuyu connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, tuyu, target)
}

/// Requests to `path`.
fn count(sandbox: &Sandbox, method: &str, path: &str) -> usize {
    sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == method && e.path == path)
        .count()
}

/// `file_upload` has no chunked protocol: the file is one multipart part streamed in reads of
/// 256 KiB (`READ_CHUNK` in securesend-tuyu's `client.rs`), so that read is its chunk.
const READ_CHUNK: u64 = 256 * 1024;

#[tokio::test]
async fn sends() {
    let (_sandbox, t) = target().await;
    c::send_zero_one_three(&t).await;
}

/// Repeated recipients reach the service once, internationalised domains as A-labels.
#[tokio::test]
async fn recipients_are_sent_once_in_ascii() {
    let (_sandbox, t) = target().await;
    assert!(c::recipients_once_in_ascii(&t).await >= 3);
}

#[tokio::test]
async fn round_trips() {
    let (_sandbox, t) = target().await;
    c::round_trips(&t, &c::boundary_sizes(READ_CHUNK)).await;
}

/// A file whose size changes after it was checked fails the upload and the send with one
/// permanent integrity error (the streamed body it stopped is not a connection failure).
#[tokio::test]
async fn a_file_whose_size_changes_fails_for_good() {
    let (_sandbox, t) = target().await;
    assert_eq!(c::size_changes(&t).await, 4);
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let (sandbox, t) = target().await;
    assert!(c::bad_input_matrix(&t).await >= 48);
    assert!(
        sandbox.journal().is_empty(),
        "bad input reached the service"
    );
}

/// Tuyu sends files as links from the account: no chosen sender, cc, bcc (unless the profile
/// turns it on), reply-to, HTML body, attachments inside the mail, file password, priority or
/// resumable uploads (see `securesend_tuyu::capabilities`).
#[tokio::test]
async fn unsupported_options_are_refused_before_any_request() {
    let (sandbox, t) = target().await;
    let lacking = if t.provider.capabilities().bcc { 8 } else { 9 };
    assert_eq!(c::unsupported_options(&t).await, lacking);
    assert!(
        sandbox.journal().is_empty(),
        "a refused option reached the service"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let (sandbox, _t) = target().await;
    let good = c::GoodProfile {
        provider: "tuyu",
        fields: fields(&sandbox),
        secret: Some("api_secret"),
        url: Some("base_url"),
        required: "workspace_path",
    };
    assert_eq!(
        c::bad_config(&good, &c::SandboxObserver::new(&sandbox)).await,
        8
    );
    assert!(sandbox.journal().is_empty());
}

/// Pages hold 50 entries whatever is asked, so 55 files span two. Folder paths start at the
/// workspace (`folder_root`): a top-level folder would be a workspace, which only
/// administrators create.
#[tokio::test]
async fn browses() {
    let (sandbox, t) = target().await;
    assert_eq!(
        sandbox.profile()["folder_root"].as_str(),
        Some(WORKSPACE),
        "the sandbox's profile starts folder paths in the workspace"
    );
    c::browse(&t, 55, 50).await;
}

/// `file_send` is the point of no return. No checkpoint is saved: a take-over before it
/// uploads afresh (the failed attempt's uploads are removed, or, after a crash, stay in a
/// message folder of their own).
#[tokio::test]
async fn journal_marks_the_point_of_no_return() {
    let (sandbox, t) = target().await;
    assert!(
        !t.provider.capabilities().reconcile,
        "no lookup of a sent message"
    );
    let saved = c::journal_marks_the_point_of_no_return(&t).await;
    assert!(saved.is_empty(), "checkpoints saved: {saved:?}");
    assert_eq!(count(&sandbox, "POST", "/api/file_send"), 1);
}

/// A refused point of no return makes no `file_send` and removes what the send made: the
/// site holds the same folders and files as before it, and the store the same bytes.
#[tokio::test]
async fn failing_journal_sends_nothing() {
    let (sandbox, tuyu, t) = target_and_site().await;
    let entries = tuyu.site().entries().len();
    let stored = sandbox.store().len();
    c::failing_journal_sends_nothing(&t).await;
    assert_eq!(
        count(&sandbox, "POST", "/api/file_send"),
        0,
        "the send was posted"
    );
    assert_eq!(
        count(&sandbox, "POST", "/api/file_upload"),
        1,
        "the file was uploaded"
    );
    assert_eq!(
        tuyu.site().entries().len(),
        entries,
        "what the send made stays"
    );
    assert_eq!(sandbox.store().len(), stored, "stored bytes stay");
}
