//! The conformance scenarios against the `tuyu` provider, served by the sandbox.

use securesend::config::ProfileConfig;
use securesend::{ErrorKind, SecureMessage};
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
    // Tuyu's file_send sends files: a message without any is refused before any request.
    let before = t.observer.fingerprint().await;
    let e = t
        .provider
        .send(
            SecureMessage::builder()
                .to("ada@example.com")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(t.observer.fingerprint().await, before);
    c::send_files(&t, &[("one.txt", 1024)]).await;
    c::send_files(
        &t,
        &[
            ("empty.bin", 0),
            ("twenty-mib.bin", 20 << 20),
            ("Übersicht – 日本.pdf", 4097),
        ],
    )
    .await;
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
