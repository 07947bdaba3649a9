//! A send whose connection breaks after the request left: the adapter never posts it again and
//! decides from what EGroupware can tell (uploaded attachments are deleted only by a
//! successful send). A scripted server closes the connection on `POST /mail` after reading
//! the whole request, which neither mockito nor the sandbox's faults can do after processing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use securesend_core::{Attachment, Secret, SecretRef, SecureMessage};
use securesend_egroupware::{EgroupwareConfig, EgroupwareProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts of what the scripted server saw.
#[derive(Default)]
struct Seen {
    sends: AtomicUsize,
    probes: AtomicUsize,
}

async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(head.lines().next().unwrap_or("").to_owned())
}

async fn answer(stream: &mut TcpStream, status: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
}

/// Serves uploads, drops every `POST /mail` after reading it, and answers attachment checks
/// with `probe_status`.
async fn scripted(probe_status: &'static str) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/egroupware/", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let Some(line) = read_request(&mut stream).await else {
                    return;
                };
                if line.starts_with("POST /egroupware/groupdav.php/mail/attachments/") {
                    answer(
                        &mut stream,
                        "201 Created",
                        r#"{"status":201,"location":"/mail/attachments/a.txt--XyZ123"}"#,
                    )
                    .await;
                } else if line.starts_with("POST /egroupware/groupdav.php/mail") {
                    counts.sends.fetch_add(1, Ordering::SeqCst);
                    // Processed, but the answer never leaves: the connection just closes.
                } else if line
                    .starts_with("GET /egroupware/groupdav.php/mail/attachments/a.txt--XyZ123 ")
                {
                    counts.probes.fetch_add(1, Ordering::SeqCst);
                    answer(
                        &mut stream,
                        probe_status,
                        r#"{"error":404,"message":"gone"}"#,
                    )
                    .await;
                } else {
                    answer(&mut stream, "501 Not Implemented", "").await;
                }
            });
        }
    });
    (base, seen)
}

fn provider(base: &str) -> securesend_core::Provider {
    let mut config = EgroupwareConfig::new(base, "ralf", SecretRef::Literal(Secret::new("pw")));
    config.http.max_attempts = 3;
    EgroupwareProvider::new(config, std::path::Path::new("."))
        .unwrap()
        .into_provider()
}

fn with_file() -> SecureMessage {
    SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "a"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn consumed_attachments_prove_the_send() {
    let (base, seen) = scripted("404 Not Found").await;
    let receipt = provider(&base).send(with_file()).await.unwrap();
    assert_eq!(seen.sends.load(Ordering::SeqCst), 1, "never posted twice");
    assert_eq!(seen.probes.load(Ordering::SeqCst), 1);
    assert!(
        receipt
            .warnings
            .iter()
            .any(|w| w.contains("removed the uploaded attachments")),
        "{:?}",
        receipt.warnings
    );
}

#[tokio::test]
async fn attachments_still_there_leave_the_outcome_unknown() {
    let (base, seen) = scripted("200 OK").await;
    let e = provider(&base).send(with_file()).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("check the Sent folder"), "{e}");
    assert_eq!(seen.sends.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_attachments_nothing_can_tell() {
    let (base, seen) = scripted("404 Not Found").await;
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .build()
        .unwrap();
    let e = provider(&base).send(msg.clone()).await.unwrap_err();
    assert!(
        e.outcome_unknown() && e.to_string().contains("cannot be asked"),
        "{e}"
    );
    assert_eq!(seen.probes.load(Ordering::SeqCst), 0);
    let e = provider(&base).compose(msg).await.unwrap_err();
    assert!(
        e.outcome_unknown() && e.to_string().contains("compose window may have opened"),
        "{e}"
    );
    assert_eq!(
        seen.sends.load(Ordering::SeqCst),
        2,
        "each posted exactly once"
    );
}
