//! The conformance scenarios against the `tuyu` provider, served by the sandbox.

use securesend::config::ProfileConfig;
use securesend_conformance as c;
use securesend_sandbox::tuyu::{Tuyu, WORKSPACE};
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

/// Pages hold 50 entries whatever is asked, so 55 files span two. Folder paths start at the
/// workspace (`folder_root`): a top-level folder would be a workspace, which only
/// administrators create.
#[tokio::test]
async fn browses() {
    let sandbox = Sandbox::start(&Tuyu::default(), SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields.insert("folder_root".into(), WORKSPACE.into());
    let profile = ProfileConfig::new("conformance", "tuyu", fields, ".");
    let t = c::Target {
        provider: securesend::connect(&profile).expect("tuyu connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    c::browse(&t, 55, 50).await;
}
