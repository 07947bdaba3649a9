//! The conformance scenarios against the `kiteworks` provider and its sandbox.

use securesend::config::{ProfileConfig, Table};
use securesend_conformance as c;
use securesend_sandbox::kiteworks::{DEFAULT_CHUNK_MAX, KiteworksService};
use securesend_sandbox::{Sandbox, SandboxOptions};

fn fields(sandbox: &Sandbox, state: &tempfile::TempDir) -> Table {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields.insert(
        "state_dir".into(),
        state.path().display().to_string().into(),
    );
    fields
}

/// A sandbox and a provider connected to it through the generated profile.
async fn target_with(options: SandboxOptions) -> (Sandbox, c::Target, tempfile::TempDir) {
    let sandbox = Sandbox::start(&KiteworksService::default(), options)
        .await
        .expect("the kiteworks sandbox starts");
    let state = tempfile::tempdir().unwrap();
    let profile = ProfileConfig::new("conformance", "kiteworks", fields(&sandbox, &state), ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("kiteworks connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, target, state)
}

async fn target() -> (Sandbox, c::Target, tempfile::TempDir) {
    target_with(SandboxOptions::default()).await
}

/// Chunk requests the sandbox received (`POST …/rest/uploads/{id}`, on either chunk endpoint).
fn chunk_posts(sandbox: &Sandbox) -> usize {
    sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains("/rest/uploads/"))
        .count()
}

/// Round trips at the chunk boundaries, and proof that the chunk is the effective one: each
/// upload takes exactly ⌈size / chunk⌉ chunk requests (one for an empty file).
async fn round_trips_at(options: SandboxOptions, announced: u64, sizes: impl Fn(u64) -> Vec<u64>) {
    let (sandbox, t, _state) = target_with(options).await;
    let cap = t
        .provider
        .capabilities()
        .max_chunk_size
        .expect("kiteworks states its chunk cap");
    // What `GET /rest/uploads/config` announces, capped by the profile's `max_chunk_size`.
    let chunk = announced.min(cap);
    let sizes = sizes(chunk);
    c::round_trips(&t, &sizes).await;
    let expected: u64 = sizes.iter().map(|s| s.div_ceil(chunk).max(1)).sum();
    assert_eq!(
        chunk_posts(&sandbox) as u64,
        expected,
        "chunks of {chunk} bytes for {sizes:?}"
    );
}

#[tokio::test]
async fn sends() {
    let (_sandbox, t, _state) = target().await;
    c::send_zero_one_three(&t).await;
}

/// Repeated recipients reach the service once, internationalised domains as A-labels.
#[tokio::test]
async fn recipients_are_sent_once_in_ascii() {
    let (_sandbox, t, _state) = target().await;
    assert!(c::recipients_once_in_ascii(&t).await >= 3);
}

/// The sandbox announces 10 MiB (the service's default), below the profile's 16 MiB cap:
/// 10 MiB chunks.
#[tokio::test]
async fn round_trips() {
    round_trips_at(
        SandboxOptions::default(),
        DEFAULT_CHUNK_MAX,
        c::boundary_sizes,
    )
    .await;
}

/// A service announcing less than the profile's cap wins: 1 MiB chunks. The 50 MiB case ran
/// above; the boundaries are what this adds.
#[tokio::test]
async fn round_trips_at_the_announced_chunk_size() {
    let announced = 1 << 20;
    let options = SandboxOptions {
        chunk_max: Some(announced),
        ..SandboxOptions::default()
    };
    round_trips_at(options, announced, |chunk| {
        vec![chunk - 1, chunk, chunk + 1, 3 * chunk + 1]
    })
    .await;
}

/// A file whose size changes after it was checked fails the upload and the send with one
/// permanent integrity error.
#[tokio::test]
async fn a_file_whose_size_changes_fails_for_good() {
    let (_sandbox, t, _state) = target().await;
    assert_eq!(c::size_changes(&t).await, 4);
}

#[tokio::test]
async fn bad_input_touches_nothing() {
    let (sandbox, t, _state) = target().await;
    assert!(c::bad_input_matrix(&t).await >= 48);
    assert!(
        sandbox.journal().is_empty(),
        "bad input reached the service"
    );
}

/// Kiteworks delivers files as links and offers no chosen sender, reply-to, HTML body, attach
/// delivery, file password or priority (see `securesend_kiteworks::capabilities`).
#[tokio::test]
async fn unsupported_options_are_refused_before_any_request() {
    let (sandbox, t, _state) = target().await;
    assert_eq!(c::unsupported_options(&t).await, 6);
    assert!(
        sandbox.journal().is_empty(),
        "a refused option reached the service"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let (sandbox, _t, state) = target().await;
    let good = c::GoodProfile {
        provider: "kiteworks",
        fields: fields(&sandbox, &state),
        secret: Some("client_secret"),
        url: Some("base_url"),
        required: "client_id",
    };
    assert_eq!(
        c::bad_config(&good, &c::SandboxObserver::new(&sandbox)).await,
        8
    );
    assert!(sandbox.journal().is_empty());
}

#[tokio::test]
async fn browses() {
    let (_sandbox, t, _state) = target().await;
    c::browse(&t, 7, 3).await;
}

/// The `PUT …/sendFile` is the point of no return; the draft and each uploaded file are
/// checkpointed before it, and the service can be asked afterwards (`reconcile`).
#[tokio::test]
async fn journal_marks_the_point_of_no_return() {
    let (sandbox, t, _state) = target().await;
    assert!(
        t.provider.capabilities().reconcile,
        "GET /rest/mail/{{id}} settles a take-over"
    );
    let saved = c::journal_marks_the_point_of_no_return(&t).await;
    assert!(!saved.is_empty(), "the draft is checkpointed");
    assert!(saved.iter().all(|c| c["draft"].is_string()), "{saved:?}");
    let puts = sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "PUT" && e.path.ends_with("/actions/sendFile"))
        .count();
    assert_eq!(puts, 1);
}

/// A journal refusing before any checkpoint is kept stops the send with no `PUT` and deletes
/// the draft (nobody else knows it).
#[tokio::test]
async fn failing_journal_sends_nothing() {
    let (sandbox, t, _state) = target().await;
    c::failing_journal_sends_nothing(&t).await;
    let snapshot = sandbox.journal().snapshot();
    assert!(!snapshot.iter().any(|e| e.method == "PUT"), "no PUT");
}
