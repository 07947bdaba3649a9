//! The conformance scenarios against the `tuyu` provider, served by the sandbox.

use securesend::config::ProfileConfig;
use securesend_conformance as c;
use securesend_sandbox::tuyu::Tuyu;
use securesend_sandbox::{Sandbox, SandboxOptions};

async fn target() -> (Sandbox, c::Target) {
    let sandbox = Sandbox::start(&Tuyu::default(), SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    let profile = ProfileConfig::new("conformance", "tuyu", fields, ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("tuyu connects"),
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
    c::round_trips(&t, &[0, 1, 65_535, 65_536, 262_145, 3 << 20]).await;
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let (_sandbox, t) = target().await;
    c::bad_input_matrix(&t).await;
}
