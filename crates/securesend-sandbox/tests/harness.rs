//! The harness end to end over loopback HTTP, with the test-only `Echo` service.

mod support;

use std::time::Duration;

use securesend_sandbox::fault::{AppliedFault, FaultMix, FaultSource};
use securesend_sandbox::journal::EntryState;
use securesend_sandbox::{
    FaultAction, FaultRule, ManualClock, RateLimitSetting, Route, Sandbox, SandboxOptions,
};
use support::{BIG_LEN, Echo, Outcome, big_body, raw, sha256_hex};

fn route(s: &str) -> Route {
    Route::parse(s).unwrap()
}

async fn start(options: SandboxOptions) -> Sandbox {
    Sandbox::start(&Echo, options).await.unwrap()
}

#[tokio::test]
async fn journal_records_requests_with_body_hashes() {
    let sb = start(SandboxOptions::default()).await;
    assert!(sb.journal().is_empty(), "no request was made yet");
    assert_eq!(sb.profile()["provider"].as_str(), Some("echo"));
    assert_eq!(sb.profile()["base_url"].as_str(), Some(sb.base_url()));
    assert_eq!(sb.seeded().len(), 1);
    let shown = format!("{sb:?}");
    assert!(
        shown.contains("echo") && !shown.contains("tester"),
        "{shown}"
    );

    let body = b"the quick brown fox";
    let r = raw(
        sb.addr(),
        "POST",
        "/upload/fox.txt?overwrite=1",
        &[("content-type", "text/plain"), ("x-not-selected", "1")],
        body,
    )
    .await
    .response();
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["sha256"], sha256_hex(body));

    let hello = raw(sb.addr(), "GET", "/hello", &[], b"").await.response();
    assert_eq!(hello.body, b"hello, sandbox");

    let entries = sb.journal().snapshot();
    assert_eq!(entries.len(), 2);
    let up = &entries[0];
    assert_eq!((up.seq, up.method.as_str()), (1, "POST"));
    assert_eq!(up.path, "/upload/fox.txt");
    assert_eq!(up.query.as_deref(), Some("overwrite=1"));
    assert_eq!(up.route.as_deref(), Some("/upload/{name}"));
    assert_eq!(up.header("content-type"), Some("text/plain"));
    assert_eq!(up.header("x-not-selected"), None);
    let rec = up.body.as_ref().unwrap();
    assert_eq!(rec.bytes, body.len() as u64);
    assert_eq!(rec.sha256.as_deref(), Some(sha256_hex(body).as_str()));
    assert_eq!(
        (up.status, up.state, &up.fault),
        (Some(201), EntryState::Answered, &None)
    );
    assert!(up.peer.ip().is_loopback());

    let get = &entries[1];
    assert_eq!(
        get.body.as_ref().unwrap().sha256.as_deref(),
        Some(sha256_hex(b"").as_str())
    );
    assert_eq!(sb.journal().count(&route("POST /upload/*")), 1);
    assert_eq!(sb.journal().count(&route("GET /upload/*")), 0);
    assert_eq!(sb.journal().count_by_route()["/hello"], 1);

    // An unknown path is journaled too, as unmatched.
    let missing = raw(sb.addr(), "GET", "/nope", &[], b"").await.response();
    assert_eq!(missing.status, 404);
    assert_eq!(sb.journal().last().unwrap().route, None);
    sb.journal().clear();
    assert!(sb.journal().is_empty());
}

#[tokio::test]
async fn body_hashing_can_be_switched_off() {
    let sb = start(SandboxOptions {
        hash_request_bodies: false,
        ..SandboxOptions::default()
    })
    .await;
    let body = b"not hashed by the journal";
    let r = raw(sb.addr(), "POST", "/upload/x", &[], body)
        .await
        .response();
    assert_eq!(
        r.json()["sha256"],
        sha256_hex(body),
        "the store still hashes"
    );
    let rec = sb.journal().last().unwrap().body.unwrap();
    assert_eq!(
        (rec.bytes, rec.complete, rec.sha256),
        (body.len() as u64, true, None)
    );
}

#[tokio::test]
async fn status_fault_answers_with_retry_after_and_service_is_not_called() {
    let sb = start(
        SandboxOptions::default().fault(
            FaultRule::new(
                route("POST /upload/*"),
                FaultAction::status_retry_after(503, 7).with_body("application/json", r#"{"e":1}"#),
            )
            .first(2),
        ),
    )
    .await;
    let body = vec![7u8; 300 * 1024];
    for _ in 0..2 {
        let r = raw(sb.addr(), "POST", "/upload/a.bin", &[], &body)
            .await
            .response();
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body, br#"{"e":1}"#);
    }
    assert!(sb.store().find_by_sha256(&sha256_hex(&body)).is_empty());
    let third = raw(sb.addr(), "POST", "/upload/a.bin", &[], &body)
        .await
        .response();
    assert_eq!(third.status, 201);
    assert_eq!(
        sb.store().find_by_sha256(&sha256_hex(&body)).len(),
        1,
        "stored once"
    );

    let entries = sb.journal().snapshot();
    for e in &entries[..2] {
        assert_eq!(
            e.fault,
            Some(AppliedFault::Status {
                status: 503,
                retry_after: Some(7),
                source: FaultSource::Rule(0)
            })
        );
        assert_eq!(e.status, Some(503));
        // The upload was read to its end before answering, and hashed for the journal.
        assert_eq!(
            e.body.as_ref().unwrap().sha256.as_deref(),
            Some(sha256_hex(&body).as_str())
        );
    }
    assert_eq!(entries[2].fault, None);
}

#[tokio::test]
async fn dropped_connection_gives_no_response() {
    let sb = start(
        SandboxOptions::default()
            .fault(FaultRule::new(route("GET /hello"), FaultAction::Drop).nth(2)),
    )
    .await;
    assert!(matches!(
        raw(sb.addr(), "GET", "/hello", &[], b"").await,
        Outcome::Response(_)
    ));
    assert_eq!(
        raw(sb.addr(), "GET", "/hello", &[], b"").await,
        Outcome::NoResponse
    );
    assert!(matches!(
        raw(sb.addr(), "GET", "/hello", &[], b"").await,
        Outcome::Response(_)
    ));
    let dropped = sb.journal().get(2).unwrap();
    assert_eq!(dropped.state, EntryState::Dropped);
    assert_eq!(dropped.status, None);
    assert_eq!(
        dropped.fault,
        Some(AppliedFault::Drop {
            source: FaultSource::Rule(0)
        })
    );
}

#[tokio::test]
async fn connection_dropped_part_way_through_the_request_body() {
    let sb = start(SandboxOptions::default().fault(FaultRule::new(
        route("POST /upload/*"),
        FaultAction::DropAfterBody { bytes: 64 * 1024 },
    )))
    .await;
    let body = vec![1u8; 4 * 1024 * 1024];
    assert_eq!(
        raw(sb.addr(), "POST", "/upload/big.bin", &[], &body).await,
        Outcome::NoResponse
    );
    let e = sb.journal().last().unwrap();
    assert_eq!(e.state, EntryState::Dropped);
    let rec = e.body.unwrap();
    assert!(
        rec.bytes >= 64 * 1024,
        "read at least the asked bytes: {}",
        rec.bytes
    );
    assert!(
        rec.bytes < body.len() as u64,
        "but not the whole body: {}",
        rec.bytes
    );
    assert!(!rec.complete);
    assert_eq!(rec.sha256, None);
    assert!(
        sb.store().find_by_sha256(&sha256_hex(&body)).is_empty(),
        "service never ran"
    );
}

#[tokio::test]
async fn truncated_response_body_is_short_of_its_content_length() {
    let sb = start(
        SandboxOptions::default()
            .fault(FaultRule::new(route("GET /big"), FaultAction::truncate()))
            .fault(FaultRule::new(
                route("GET /stream"),
                FaultAction::Truncate { keep: Some(10) },
            ))
            .fault(FaultRule::new(route("GET /empty"), FaultAction::truncate())),
    )
    .await;
    let expected = big_body();
    match raw(sb.addr(), "GET", "/big", &[], b"").await {
        Outcome::ShortBody {
            status,
            announced,
            received,
        } => {
            assert_eq!((status, announced), (200, BIG_LEN));
            assert_eq!(received.len(), BIG_LEN / 2);
            assert_eq!(received, expected[..BIG_LEN / 2]);
        }
        other => panic!("expected a short body, got {other:?}"),
    }
    assert_eq!(
        sb.journal().last().unwrap().fault,
        Some(AppliedFault::Truncate {
            announced: BIG_LEN as u64,
            sent: BIG_LEN as u64 / 2,
            source: FaultSource::Rule(0)
        })
    );

    // A streamed body without Content-Length is measured first, then cut the same way.
    match raw(sb.addr(), "GET", "/stream", &[], b"").await {
        Outcome::ShortBody {
            announced,
            received,
            ..
        } => {
            assert_eq!(announced, BIG_LEN);
            assert_eq!(received, expected[..10]);
        }
        other => panic!("expected a short body, got {other:?}"),
    }

    // A 204 cannot carry a body to cut, so the connection is dropped instead.
    assert_eq!(
        raw(sb.addr(), "GET", "/empty", &[], b"").await,
        Outcome::NoResponse
    );
    assert_eq!(sb.journal().last().unwrap().fault.unwrap().kind(), "drop");
}

#[tokio::test]
async fn a_real_client_sees_each_fault_as_an_error() {
    let sb = start(
        SandboxOptions::default()
            .fault(FaultRule::new(route("GET /hello"), FaultAction::Drop).first(1))
            .fault(FaultRule::new(route("GET /big"), FaultAction::truncate()).first(1))
            .fault(
                FaultRule::new(
                    route("GET /whoami"),
                    FaultAction::status_retry_after(429, 3),
                )
                .first(1),
            ),
    )
    .await;
    // reqwest wants a rustls provider at build time even for plain http; the project's is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().build().unwrap();
    let url = |p: &str| format!("{}{p}", sb.base_url());

    let err = client.get(url("/hello")).send().await.unwrap_err();
    assert!(err.status().is_none(), "no response: {err}");

    let resp = client.get(url("/big")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "short body must fail the read");

    let resp = client.get(url("/whoami")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");

    // Each fault fired once; the retries succeed.
    assert_eq!(
        client
            .get(url("/hello"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello, sandbox"
    );
    assert_eq!(
        client
            .get(url("/big"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        big_body()
    );
}

#[tokio::test]
async fn delay_holds_a_request_until_the_clock_moves() {
    let manual = ManualClock::new();
    let sb = start(
        SandboxOptions::default()
            .clock(manual.clock())
            .fault(FaultRule::new(
                route("GET /hello"),
                FaultAction::Delay(Duration::from_secs(30)),
            )),
    )
    .await;
    let addr = sb.addr();
    let delayed = tokio::spawn(async move { raw(addr, "GET", "/hello", &[], b"").await });
    manual.wait_for_sleepers(1).await;

    let held = sb.journal().get(1).unwrap();
    assert_eq!(held.state, EntryState::Pending);
    assert_eq!(held.fault.as_ref().unwrap().kind(), "delay");

    // An undelayed request overtakes the held one.
    let other = raw(addr, "GET", "/big", &[], b"").await.response();
    assert_eq!(other.status, 200);
    assert!(!delayed.is_finished());
    assert_eq!(sb.journal().get(1).unwrap().state, EntryState::Pending);

    manual.advance(Duration::from_secs(30));
    let answered = delayed.await.unwrap().response();
    assert_eq!(answered.body, b"hello, sandbox");
    let done = sb.journal().get(1).unwrap();
    assert_eq!(
        done.elapsed,
        Some(Duration::from_secs(30)),
        "measured on the sandbox clock"
    );
    assert_eq!(sb.journal().get(2).unwrap().elapsed, Some(Duration::ZERO));
}

#[tokio::test]
async fn latency_applies_to_every_request() {
    let manual = ManualClock::new();
    let sb = start(
        SandboxOptions::default()
            .clock(manual.clock())
            .latency(Duration::from_millis(1500)),
    )
    .await;
    let addr = sb.addr();
    let pending = tokio::spawn(async move { raw(addr, "GET", "/hello", &[], b"").await });
    manual.wait_for_sleepers(1).await;
    assert_eq!(sb.journal().get(1).unwrap().state, EntryState::Pending);
    manual.advance(Duration::from_millis(1500));
    assert_eq!(pending.await.unwrap().status(), Some(200));
    assert_eq!(
        sb.journal().get(1).unwrap().elapsed,
        Some(Duration::from_millis(1500))
    );
}

/// The fault kinds (or "ok") of `n` sequential requests to a fresh sandbox.
async fn fault_sequence(seed: u64, n: usize) -> Vec<String> {
    let mix = FaultMix {
        entries: vec![
            (1, FaultAction::status_retry_after(503, 1)),
            (1, FaultAction::Drop),
            (1, FaultAction::truncate()),
        ],
    };
    let sb = start(SandboxOptions {
        fault_rate: 0.5,
        fault_mix: mix,
        seed,
        ..SandboxOptions::default()
    })
    .await;
    let mut seen = Vec::new();
    for _ in 0..n {
        let outcome = raw(sb.addr(), "GET", "/big", &[], b"").await;
        let kind = match outcome {
            Outcome::NoResponse => "drop",
            Outcome::ShortBody { .. } => "truncate",
            Outcome::Response(r) if r.status == 503 => "status",
            Outcome::Response(_) => "ok",
        };
        seen.push(kind.to_owned());
    }
    // What the client saw is what the journal says was applied.
    let journaled: Vec<String> = sb
        .journal()
        .snapshot()
        .iter()
        .map(|e| e.fault.as_ref().map_or("ok", |f| f.kind()).to_owned())
        .collect();
    assert_eq!(seen, journaled);
    assert!(
        sb.journal()
            .snapshot()
            .iter()
            .filter_map(|e| e.fault.as_ref())
            .all(|f| matches!(
                f,
                AppliedFault::Status {
                    source: FaultSource::Rate,
                    ..
                } | AppliedFault::Drop {
                    source: FaultSource::Rate
                } | AppliedFault::Truncate {
                    source: FaultSource::Rate,
                    ..
                }
            ))
    );
    seen
}

#[tokio::test]
async fn seeded_fault_rate_is_reproducible() {
    let a = fault_sequence(42, 40).await;
    let b = fault_sequence(42, 40).await;
    assert_eq!(a, b, "same seed, same faults");
    for kind in ["ok", "drop", "truncate", "status"] {
        assert!(a.iter().any(|k| k == kind), "{kind} missing from {a:?}");
    }
    let c = fault_sequence(43, 40).await;
    assert_ne!(a, c, "another seed, other faults");
}

async fn get_token(addr: std::net::SocketAddr) -> String {
    let r = raw(addr, "POST", "/token", &[], b"").await.response();
    assert_eq!(r.json()["expires_in"], 60);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

async fn whoami(addr: std::net::SocketAddr, token: String) -> support::RawResponse {
    let auth = format!("Bearer {token}");
    raw(addr, "GET", "/whoami", &[("authorization", &auth)], b"")
        .await
        .response()
}

#[tokio::test]
async fn token_expiry_makes_a_token_invalid() {
    let manual = ManualClock::new();
    let sb = start(
        SandboxOptions::default()
            .clock(manual.clock())
            .token_lifetime(Duration::from_secs(60)),
    )
    .await;
    let addr = sb.addr();
    let token = get_token(addr).await;
    assert_eq!(whoami(addr, token.clone()).await.body, b"tester");
    manual.advance(Duration::from_secs(59));
    assert_eq!(whoami(addr, token.clone()).await.status, 200);
    manual.advance(Duration::from_secs(1));
    assert_eq!(whoami(addr, token).await.status, 401);
    let e = sb.journal().last().unwrap();
    assert_eq!(e.note.as_deref(), Some("token expired"));
    assert!(e.header("authorization").unwrap().starts_with("Bearer "));

    // "Expire all now" ends a fresh token without moving the clock.
    let fresh = get_token(addr).await;
    assert_eq!(whoami(addr, fresh.clone()).await.status, 200);
    sb.tokens().expire_all();
    assert_eq!(whoami(addr, fresh).await.status, 401);
}

#[tokio::test]
async fn outbox_and_downloads() {
    let sb = start(SandboxOptions::default()).await;
    let content = b"0123456789abcdef";
    let up = raw(sb.addr(), "POST", "/upload/r.bin", &[], content)
        .await
        .response();
    let id = up.json()["id"].as_str().unwrap().to_owned();

    let send =
        serde_json::json!({ "to": ["a@example.com"], "subject": "files", "attachments": [id] });
    let r = raw(
        sb.addr(),
        "POST",
        "/send",
        &[("content-type", "application/json")],
        send.to_string().as_bytes(),
    )
    .await
    .response();
    assert_eq!(r.status, 201);
    assert_eq!(sb.outbox().count(), 1, "exactly one message delivered");
    let mail = sb.outbox().messages().remove(0);
    assert_eq!(mail.to, ["a@example.com"]);
    assert_eq!(mail.attachments[0].sha256, sha256_hex(content));
    assert_eq!(mail.id, r.json()["id"]);

    let part = raw(
        sb.addr(),
        "GET",
        &format!("/files/{id}"),
        &[("range", "bytes=4-7")],
        b"",
    )
    .await
    .response();
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 4-7/16"));
    assert_eq!(part.body, b"4567");
    let full = raw(sb.addr(), "GET", &format!("/files/{id}"), &[], b"")
        .await
        .response();
    assert_eq!(full.body, content);
    let past = raw(
        sb.addr(),
        "GET",
        &format!("/files/{id}"),
        &[("range", "bytes=16-")],
        b"",
    )
    .await
    .response();
    assert_eq!(past.status, 416);
}

#[tokio::test]
async fn rate_limit_refuses_then_recovers_with_the_window() {
    let manual = ManualClock::new();
    let sb = start(SandboxOptions::default().clock(manual.clock())).await;
    let get = || raw(sb.addr(), "GET", "/limited", &[], b"");
    let first = get().await.response();
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(get().await.status(), Some(200));
    manual.advance(Duration::from_secs(20));
    let refused = get().await.response();
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("40"));
    manual.advance(Duration::from_secs(40));
    assert_eq!(get().await.status(), Some(200));

    // Switched off sandbox-wide, the service mounts no limiter at all.
    let open = start(SandboxOptions::default().rate_limit(RateLimitSetting::Off)).await;
    assert_eq!(
        raw(open.addr(), "GET", "/limited", &[], b"").await.status(),
        Some(404)
    );
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_closes() {
    let manual = ManualClock::new();
    let sb = start(
        SandboxOptions::default()
            .clock(manual.clock())
            .fault(FaultRule::new(
                route("GET /hello"),
                FaultAction::Delay(Duration::from_secs(5)),
            )),
    )
    .await;
    let addr = sb.addr();
    let in_flight = tokio::spawn(async move { raw(addr, "GET", "/hello", &[], b"").await });
    manual.wait_for_sleepers(1).await;
    let stopping = tokio::spawn(sb.shutdown());
    // Wait until the listener is closed, so the request below is finished *during* shutdown.
    let mut closed = false;
    for _ in 0..100_000 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(closed, "listener still open after shutdown was requested");
    assert!(!in_flight.is_finished());
    manual.advance(Duration::from_secs(5));
    assert_eq!(in_flight.await.unwrap().status(), Some(200));
    stopping.await.unwrap();
}
