//! Canaries: passwords, application passwords and share passwords never appear in Debug
//! output, errors or logs (traced at the most verbose level), only on the wire.

use std::io::Write;
use std::sync::{Arc, Mutex};

use securesend_core::config::ProfileConfig;
use securesend_core::{Attachment, Delivery, SecureMessage};
use securesend_egroupware::EgroupwareProvider;
use securesend_sandbox::egroupware::Egroupware;
use securesend_sandbox::{Sandbox, SandboxOptions};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_debug_errors_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let egw = Egroupware::new();
    egw.control().set_epl(true);
    let sb = Sandbox::start(&egw, SandboxOptions::default())
        .await
        .unwrap();
    let password = sb.credentials().get("password").unwrap().to_owned();
    let token = sb.credentials().get("app_password").unwrap().to_owned();
    let share = "canary-share-7f3a91";

    let profile = |secret_field: &str, value: &str| {
        let mut fields = sb.profile().clone();
        fields.remove("provider");
        fields.remove("password");
        fields.insert(secret_field.into(), value.into());
        fields.insert("edition".into(), "epl".into());
        ProfileConfig::new("canary", "egroupware", fields, ".")
    };
    let message = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .attach(Attachment::from_bytes("a.txt", "a"))
            .delivery(Delivery::Link)
            .password(share)
            .build()
            .unwrap()
    };

    let mut shown = Vec::new();
    for (field, value) in [
        ("password", password.as_str()),
        ("app_password", token.as_str()),
    ] {
        let direct = EgroupwareProvider::from_profile(&profile(field, value)).unwrap();
        shown.push(format!("{direct:?}"));
        let provider = direct.into_provider();
        shown.push(format!("{provider:?}"));
        let receipt = provider.send(message()).await.unwrap();
        shown.push(format!("{receipt:?}"));
        // The share password reached the service, where it belongs.
        let mail = sb.outbox().get(&receipt.message_id).unwrap();
        assert_eq!(mail.details["sharePassword"], share);
        sb.outbox().clear();
        // A send refused before any request, a refused login, a malformed application password.
        let e = provider
            .send(
                SecureMessage::builder()
                    .to("ada@example.com")
                    .from("x@example.org")
                    .password(share)
                    .delivery(Delivery::Link)
                    .attach(Attachment::from_bytes("b.txt", "b"))
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap_err();
        shown.push(format!("{e} {e:?}"));
    }
    let wrong = securesend_egroupware::connect(&profile("password", "canary-wrong-pw-1234"))
        .unwrap()
        .send(message())
        .await
        .unwrap_err();
    shown.push(format!("{wrong} {wrong:?}"));
    let malformed =
        EgroupwareProvider::from_profile(&profile("app_password", "canary-not-a-token"))
            .unwrap_err();
    shown.push(format!("{malformed} {malformed:?}"));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("egroupware"), "tracing was captured");
    shown.push(logs);
    for text in &shown {
        for secret in [
            password.as_str(),
            token.as_str(),
            share,
            "canary-wrong-pw-1234",
            "canary-not-a-token",
        ] {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
    assert_eq!(sb.outbox().delivered_total(), 2);
}
