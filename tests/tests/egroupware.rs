//! The conformance scenarios against the `egroupware` provider, served by the sandbox.

use securesend::config::ProfileConfig;
use securesend_conformance as c;
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};

async fn target() -> (Sandbox, c::Target) {
    let sandbox = Sandbox::start(&Egroupware::new(), SandboxOptions::default())
        .await
        .expect("the EGroupware sandbox starts");
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    let profile = ProfileConfig::new("conformance", "egroupware", fields, ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("egroupware connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, target)
}

#[tokio::test]
async fn sends() {
    let (_sandbox, t) = target().await;
    c::send_zero_one_three(&t).await;
}

#[tokio::test]
async fn round_trips() {
    let (_sandbox, t) = target().await;
    c::round_trips(&t, &[0, 1, 262_143, 262_144, 262_145, 3 << 20]).await;
}

#[tokio::test]
async fn bad_input_sends_nothing() {
    let (sandbox, t) = target().await;
    c::bad_input_matrix(&t).await;
    assert!(
        sandbox.journal().is_empty(),
        "bad input reached the service"
    );
}

/// A depth-1 PROPFIND answers the whole folder; with a page size the adapter cuts it into
/// pages (offset cursors), so seven files at three a page span three pages.
#[tokio::test]
async fn browses() {
    let (_sandbox, t) = target().await;
    c::browse(&t, 7, 3).await;
}
