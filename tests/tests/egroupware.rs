//! The conformance scenarios against the `egroupware` provider, served by the sandbox.

use securesend::config::{ProfileConfig, Table};
use securesend_conformance as c;
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};

fn fields(sandbox: &Sandbox) -> Table {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields
}

async fn target() -> (Sandbox, c::Target) {
    let sandbox = Sandbox::start(&Egroupware::new(), SandboxOptions::default())
        .await
        .expect("the EGroupware sandbox starts");
    let profile = ProfileConfig::new("conformance", "egroupware", fields(&sandbox), ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("egroupware connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, target)
}

/// EGroupware has no chunked upload: a WebDAV PUT carries the file as one streamed body, read
/// ahead 256 KiB at a time (`CHUNK` in securesend-egroupware's `stream.rs`), so that read is
/// its chunk.
const READ_AHEAD: u64 = 256 << 10;

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
    c::round_trips(&t, &c::boundary_sizes(READ_AHEAD)).await;
}

/// A file whose size changes after it was checked fails the upload and the send with one
/// permanent integrity error.
#[tokio::test]
async fn a_file_whose_size_changes_fails_for_good() {
    let (_sandbox, t) = target().await;
    assert_eq!(c::size_changes(&t).await, 4);
}

#[tokio::test]
async fn bad_input_sends_nothing() {
    let (sandbox, t) = target().await;
    assert!(c::bad_input_matrix(&t).await >= 48);
    assert!(
        sandbox.journal().is_empty(),
        "bad input reached the service"
    );
}

/// The community edition has no expiry or share password, and EGroupware offers no download
/// receipts, required login or resumable uploads (see `securesend_egroupware::capabilities`).
#[tokio::test]
async fn unsupported_options_are_refused_before_any_request() {
    let (sandbox, t) = target().await;
    assert_eq!(c::unsupported_options(&t).await, 5);
    assert!(
        sandbox.journal().is_empty(),
        "a refused option reached the service"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let (sandbox, _t) = target().await;
    let good = c::GoodProfile {
        provider: "egroupware",
        fields: fields(&sandbox),
        secret: Some("password"),
        url: Some("base_url"),
        required: "username",
    };
    assert_eq!(
        c::bad_config(&good, &c::SandboxObserver::new(&sandbox)).await,
        8
    );
    assert!(sandbox.journal().is_empty());
}

/// A depth-1 PROPFIND answers the whole folder; with a page size the adapter cuts it into
/// pages (offset cursors), so seven files at three a page span three pages.
#[tokio::test]
async fn browses() {
    let (_sandbox, t) = target().await;
    c::browse(&t, 7, 3).await;
}

/// `POST /groupdav.php/mail` requests (sends and compose windows, not attachment uploads).
fn mail_posts(sandbox: &Sandbox) -> usize {
    sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains("/groupdav.php/mail"))
        .filter(|e| !e.path.contains("/mail/attachments/"))
        .count()
}

/// The `POST /mail` is the point of no return. No checkpoint is saved: upload tokens are
/// single-use, so a take-over before it uploads afresh.
#[tokio::test]
async fn journal_marks_the_point_of_no_return() {
    let (sandbox, t) = target().await;
    assert!(
        !t.provider.capabilities().reconcile,
        "no lookup of a sent message"
    );
    let saved = c::journal_marks_the_point_of_no_return(&t).await;
    assert!(saved.is_empty(), "checkpoints saved: {saved:?}");
    assert_eq!(mail_posts(&sandbox), 1);
}

/// A refused point of no return makes no `POST /mail`. The uploaded attachment stays in
/// EGroupware's temporary folder, which has no request to delete it, and the error says so.
#[tokio::test]
async fn failing_journal_sends_nothing() {
    let (sandbox, t) = target().await;
    let stored = sandbox.store().len();
    let e = c::failing_journal_sends_nothing(&t).await;
    assert_eq!(mail_posts(&sandbox), 0, "the send was posted");
    assert_eq!(
        sandbox.store().len(),
        stored + 1,
        "what the send stored besides its one attachment upload"
    );
    assert!(
        e.to_string()
            .contains("the 1 attachment(s) already uploaded stay in EGroupware's temporary folder"),
        "{e}"
    );
}
