//! The conformance scenarios against the `kiteworks` provider and its sandbox.

use securesend::config::ProfileConfig;
use securesend_conformance as c;
use securesend_sandbox::kiteworks::KiteworksService;
use securesend_sandbox::{Sandbox, SandboxOptions};

/// A sandbox and a provider connected to it through the generated profile.
async fn target() -> (Sandbox, c::Target, tempfile::TempDir) {
    let sandbox = Sandbox::start(&KiteworksService::default(), SandboxOptions::default())
        .await
        .expect("the kiteworks sandbox starts");
    let state = tempfile::tempdir().unwrap();
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields.insert(
        "state_dir".into(),
        state.path().display().to_string().into(),
    );
    let profile = ProfileConfig::new("conformance", "kiteworks", fields, ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("kiteworks connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, target, state)
}

#[tokio::test]
async fn sends() {
    let (_sandbox, t, _state) = target().await;
    c::send_zero_one_three(&t).await;
}

#[tokio::test]
async fn round_trips() {
    let (_sandbox, t, _state) = target().await;
    c::round_trips(&t, &[0, 1, 58_367, (8 << 20) + 1]).await;
}

#[tokio::test]
async fn bad_input_touches_nothing() {
    let (_sandbox, t, _state) = target().await;
    c::bad_input_matrix(&t).await;
}

#[tokio::test]
async fn browses() {
    let (_sandbox, t, _state) = target().await;
    c::browse(&t, 7, 3).await;
}
