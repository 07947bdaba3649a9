//! The token, the PIN, temporary keys and public download keys never reach logs (even at
//! TRACE), errors or Debug output, whichever way a download goes.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use securesend_core::{DownloadRequest, InboxQuery};
use securesend_sandbox::{FaultAction, FaultRule, Route, SandboxOptions};
use support::*;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// One thread, so the thread-local subscriber sees every event of the client.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_logs_errors_or_debug() {
    // With a second live dispatcher, callsites first reached elsewhere consult ours too.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let capture = Capture::default();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish()
        .set_default();

    // The byte URL fails for the first download of each kind: errors, retries and warnings
    // get their chance to leak.
    let fail_once = FaultRule::new(
        Route::parse("GET /api/downloads/*").unwrap(),
        FaultAction::status_retry_after(503, 0),
    )
    .first(1);
    let sb = sandbox(SandboxOptions::default().fault(fail_once)).await;
    let mut errors = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        vec![],
        vec![(
            "download_url",
            "{base_url}downloads/{download_id}/{key}".into(),
        )],
        vec![("pin", "wrongpin".into())],
        vec![("reuse_temporary_key", true.into())],
    ] {
        let pv = provider(&sb, &extra, Waits::default().sleeper(None));
        assert!(!format!("{pv:?}").contains(sb.credentials().get("token").unwrap()));
        let p = pv.clone().into_provider();
        for message in p.inbox(InboxQuery::all()).await.unwrap() {
            for file in message.files {
                let out = dir.path().join(uuid_of(&file.id));
                std::fs::create_dir_all(&out).unwrap();
                match p.download(DownloadRequest::new(&file.id)).await {
                    Ok(d) => match d.save_to(&out).await {
                        Ok(_) => {}
                        Err(e) => errors.push(format!("{e} {e:?}")),
                    },
                    Err(e) => errors.push(format!("{e} {e:?}")),
                }
            }
        }
        let report = &seeded_files(&sb)["report.pdf"];
        if let Err(e) = p
            .download(DownloadRequest::new(format!("file:{}", report.id)))
            .await
        {
            errors.push(format!("{e} {e:?}"));
        }
        pv.close().await.unwrap();
        errors.push(format!("{pv:?}"));
    }

    let mut secrets: Vec<String> = ["token", "pin", "other_token", "other_pin"]
        .iter()
        .map(|k| sb.credentials().get(k).unwrap().to_owned())
        .collect();
    for e in sb.journal().snapshot() {
        // Temporary keys travel in revocation paths and path-style byte URLs; public keys in
        // `key=` queries and byte-URL paths.
        if e.method == "DELETE" || e.path.matches('/').count() == 4 && e.method == "GET" {
            secrets.push(e.path.rsplit('/').next().unwrap().to_owned());
        }
        if let Some(k) = e.query.as_deref().and_then(|q| q.strip_prefix("key=")) {
            secrets.push(k.to_owned());
        }
    }
    let temp_keys = sb
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "DELETE")
        .count();
    assert!(temp_keys >= 3, "the scenario revoked keys");
    assert!(secrets.len() >= 10, "{}", secrets.len());
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("http_request") && logs.contains("privasfer_download"),
        "the capture saw the requests"
    );
    assert!(logs.contains("/[redacted]"), "paths with keys are masked");
    assert!(
        logs.contains("key=[redacted]"),
        "queries with keys are redacted"
    );
    assert!(
        errors.iter().any(|e| e.contains("Invalid PIN.")),
        "{errors:#?}"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "the logs leak a secret");
        for e in &errors {
            assert!(!e.contains(secret.as_str()), "an error leaks a secret: {e}");
        }
    }
}

fn uuid_of(id: &str) -> String {
    id.replace([':', '/'], "_")
}
