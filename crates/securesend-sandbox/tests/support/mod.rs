//! A tiny test-only service and a raw HTTP/1.1 client, to drive the harness end to end over
//! real loopback sockets. The raw client shows exactly what reached the wire: no response at
//! all, a response, or a response whose body stops short of its Content-Length.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use securesend_sandbox::ratelimit::{RatePolicy, enforce};
use securesend_sandbox::{
    Mail, MailAttachment, Mount, RateLimit, RequestSeq, SandboxError, SeededItem, Service,
    ServiceContext, async_trait,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Length of the `/big` body.
pub const BIG_LEN: usize = 100 * 1024;

/// The `/big` body: deterministic, so a client can check a prefix byte for byte.
pub fn big_body() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i % 251) as u8).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The test service: uploads, downloads, tokens, a send endpoint and a rate-limited route.
pub struct Echo;

#[derive(Deserialize)]
struct SendBody {
    to: Vec<String>,
    subject: String,
    attachments: Vec<String>,
}

#[derive(Clone)]
struct TooMany;

impl RatePolicy for TooMany {
    fn limited(&self, limit: u32, retry_after: Duration) -> Response {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::RETRY_AFTER, retry_after.as_secs().to_string()),
                (
                    header::HeaderName::from_static("x-ratelimit-limit"),
                    limit.to_string(),
                ),
            ],
            "slow down",
        )
            .into_response()
    }

    fn allowed(&self, _limit: u32, remaining: u32, mut response: Response) -> Response {
        response.headers_mut().insert(
            header::HeaderName::from_static("x-ratelimit-remaining"),
            remaining.into(),
        );
        response
    }
}

#[async_trait]
impl Service for Echo {
    fn key(&self) -> &'static str {
        "echo"
    }

    fn description(&self) -> &'static str {
        "test-only echo service"
    }

    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
        let seed = ctx.store().put_bytes("seed.txt", "seeded content").await?;
        let mut router = Router::new()
            .route("/hello", get(|| async { "hello, sandbox" }))
            .route("/big", get(|| async { big_body() }))
            .route(
                "/stream",
                get(|| async {
                    let chunks = big_body()
                        .chunks(4096)
                        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>();
                    Body::from_stream(futures::stream::iter(chunks))
                }),
            )
            .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
            .route("/upload/{name}", post(upload))
            .route("/files/{id}", get(download))
            .route("/token", post(token))
            .route("/whoami", get(whoami))
            .route("/send", post(send));
        if let Some(limiter) = ctx.rate_limiter(RateLimit::per_minute(2)) {
            let limited = Router::new().route("/limited", get(|| async { "ok" }));
            router = router.merge(enforce(limited, limiter, TooMany));
        }
        Ok(Mount::new(router.with_state(ctx.clone()))
            .profile_field("base_url", ctx.base_url())
            .profile_field("user", "tester")
            .credential("user", "tester")
            .seeded(SeededItem::file(&seed.id, &seed)))
    }
}

async fn upload(
    State(ctx): State<ServiceContext>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    match ctx
        .store()
        .write_body(&name, req.into_body(), Some(1 << 30))
        .await
    {
        Ok(f) => (
            StatusCode::CREATED,
            Json(json!({ "id": f.id, "size": f.size, "sha256": f.sha256 })),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn download(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(file) = ctx.store().get(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match ctx
        .store()
        .respond(&file, &headers, "application/octet-stream")
        .await
    {
        Ok(r) => r,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn token(State(ctx): State<ServiceContext>) -> Response {
    let t = ctx.tokens().issue("access", "tester");
    Json(json!({
        "access_token": t.value,
        "expires_in": t.lifetime.map(|l| l.as_secs()),
    }))
    .into_response()
}

async fn whoami(
    State(ctx): State<ServiceContext>,
    Extension(seq): Extension<RequestSeq>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match ctx.tokens().validate("access", bearer) {
        Ok(info) => info.subject.into_response(),
        Err(e) => {
            ctx.journal().note(seq, e.to_string());
            StatusCode::UNAUTHORIZED.into_response()
        }
    }
}

async fn send(State(ctx): State<ServiceContext>, Json(body): Json<SendBody>) -> Response {
    let mut mail = Mail::new("echo", "tester@example.com", &body.subject);
    mail.to = body.to;
    for id in &body.attachments {
        match ctx.store().get(id) {
            Some(f) => mail.attachments.push(MailAttachment::from(&f)),
            None => return (StatusCode::UNPROCESSABLE_ENTITY, "unknown file").into_response(),
        }
    }
    let sent = ctx.outbox().deliver(mail);
    (StatusCode::CREATED, Json(json!({ "id": sent.id }))).into_response()
}

/// What a raw request produced on the wire.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The connection closed (or was reset) before a single response byte.
    NoResponse,
    /// A complete response.
    Response(RawResponse),
    /// A response head, then fewer body bytes than its Content-Length, then the end.
    ShortBody {
        status: u16,
        announced: usize,
        received: Vec<u8>,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

impl Outcome {
    pub fn response(self) -> RawResponse {
        match self {
            Outcome::Response(r) => r,
            other => panic!("expected a complete response, got {other:?}"),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Response(r) => Some(r.status),
            Outcome::ShortBody { status, .. } => Some(*status),
            Outcome::NoResponse => None,
        }
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads until the server
/// closes. Write errors are ignored: a server that drops the connection mid-upload is one of
/// the outcomes under test, seen on the read side.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Outcome {
    raw_chunks(addr, method, target, headers, body.len() as u64, |i| {
        (i == 0 && !body.is_empty()).then(|| body.to_vec())
    })
    .await
}

/// Like [`raw`], with the body produced chunk by chunk by `next_chunk(i)` (so a test can send
/// tens of MiB without building them in memory); `len` is the Content-Length.
pub async fn raw_chunks(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    len: u64,
    mut next_chunk: impl FnMut(usize) -> Option<Vec<u8>>,
) -> Outcome {
    let mut stream = TcpStream::connect(addr).await.expect("connect to sandbox");
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {len}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut write_ok = stream.write_all(head.as_bytes()).await.is_ok();
    let mut i = 0;
    while write_ok {
        let Some(chunk) = next_chunk(i) else { break };
        write_ok = stream.write_all(&chunk).await.is_ok();
        i += 1;
    }
    let mut buf = Vec::new();
    // A reset after some bytes still leaves those bytes in `buf`.
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    parse(&buf)
}

fn parse(buf: &[u8]) -> Outcome {
    if buf.is_empty() {
        return Outcome::NoResponse;
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = buf[end + 4..].to_vec();
    let announced = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().expect("numeric content-length"));
    match announced {
        Some(n) if body.len() < n => Outcome::ShortBody {
            status,
            announced: n,
            received: body,
        },
        _ => Outcome::Response(RawResponse {
            status,
            headers,
            body,
        }),
    }
}
