//! Secrets in URLs and tokens never reach error text or logs, even at TRACE level.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use super::server::{Act, RawServer, client, refused_addr, reply};
use crate::http::{Call, Repeat, Token, TokenCache, TokenSource, read_error_body, status_error};
use crate::{Error, Result};

/// Everything written by the `fmt` subscriber, as one string.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

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

struct Fixed;

#[async_trait::async_trait]
impl TokenSource for Fixed {
    async fn fetch(&self, _current: Option<&Token>) -> Result<Token> {
        Ok(Token::new("canary-access-1").with_refresh_token("canary-refresh-2"))
    }
}

const QUERY: &str = "?folder=7&token=canary-q1&Signature=canary-q2&api_key=canary-q3&pin=canary-q4";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains("canary"), "{what} leaks a secret:\n{text}");
}

fn assert_error_clean(e: &Error) {
    assert_clean("Display", &e.to_string());
    assert_clean("Debug", &format!("{e:?}"));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_clean("source chain", &format!("{s} {s:?}"));
        source = s.source();
    }
}

// One thread, so the thread-local subscriber sees the client's and the connections' events.
#[tokio::test(flavor = "current_thread")]
async fn canaries_never_appear_in_errors_or_trace_output() {
    // While only one dispatcher exists, tracing-core computes a new callsite's interest from
    // the *calling thread's* subscriber, so a callsite first reached on another test's thread
    // would stay disabled for ours. A second live dispatcher makes it consult all of them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let capture = Capture::default();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish()
        .set_default();

    let tokens = TokenCache::new(Fixed);
    let (http, _) = client();

    // A retried request with secrets in the query and a bearer token.
    let server = RawServer::start(vec![
        reply(503, &[("retry-after", "1")], b""),
        reply(
            401,
            &[("content-type", "application/json")],
            br#"{"message":"token expired"}"#,
        ),
    ])
    .await;
    let url = server.url(&format!("/api/files{QUERY}"));
    let e = tokens
        .run(|token| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let resp = http
                    .send(Call::api(Repeat::Safe), |c| {
                        c.get(url.clone()).bearer_auth(token.access().expose())
                    })
                    .await?;
                let (status, headers) = (resp.status(), resp.headers().clone());
                let body = read_error_body(resp).await;
                Err::<(), _>(status_error("test", "list", status, &headers, &body))
            }
        })
        .await
        .unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert_error_clean(&e);
    assert!(
        server.heads().iter().all(|h| h.contains("canary-access-1")),
        "the token was sent"
    );

    // Transport failures of every kind, with the same query and a password in the URL.
    let refused = refused_addr().await;
    let hanging = RawServer::start(vec![Act::Hang]).await;
    let dropping = RawServer::start(vec![Act::Drop]).await;
    for base in [
        format!("http://ann:canary-pw@{refused}"),
        format!("http://{}", hanging.addr),
        format!("http://{}", dropping.addr),
    ] {
        let url = url::Url::parse(&format!("{base}/api/files{QUERY}")).unwrap();
        let call = Call::api(Repeat::Never).with_timeout(Duration::from_millis(300));
        let e = http.send(call, |c| c.get(url.clone())).await.unwrap_err();
        assert_error_clean(&e);
        assert!(e.to_string().contains("token=[redacted]"), "{e}");
    }

    // A key in the path (Privasfer's `DELETE /api/keys/{key}`): retried, then refused.
    let keyed = RawServer::start(vec![
        reply(503, &[("retry-after", "0")], b""),
        reply(204, &[], b""),
    ])
    .await;
    let url = keyed.url("/api/keys/canary-path-key?pin=canary-q5");
    let call = Call::api(Repeat::Safe).with_secret_path();
    let resp = http.send(call, |c| c.delete(url.clone())).await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(
        keyed.heads()[1].contains("/api/keys/canary-path-key"),
        "the path was sent"
    );
    let url = url::Url::parse(&format!("http://{refused}/api/keys/canary-path-key")).unwrap();
    let e = http
        .send(call, |c| c.delete(url.clone()))
        .await
        .unwrap_err();
    assert_error_clean(&e);
    assert!(e.to_string().contains("/[redacted]"), "{e}");

    assert_clean("the token cache's Debug", &format!("{tokens:?}"));
    let logs = capture.text();
    assert_clean("trace output", &logs);
    // The capture did see the requests: the assertions above are not vacuous.
    assert!(
        logs.contains("http_request") && logs.contains("attempt=2"),
        "{logs}"
    );
    assert!(
        logs.contains("folder=7&token=[redacted]&Signature=[redacted]"),
        "{logs}"
    );
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "{logs}");
    assert!(logs.contains("/[redacted]?pin=[redacted]"), "{logs}");
}
