//! Retries: which answers and failures are retried, how long the client waits, when it stops.

use std::time::{Duration, SystemTime};

use super::server::{Act, RawServer, client, client_with, refused_addr, reply};
use crate::http::{BASE_BACKOFF, Call, HttpSettings, Repeat, RetryHook, read_bytes_capped};

fn ok() -> Act {
    reply(200, &[], b"done")
}

#[tokio::test]
async fn retries_503_then_succeeds_with_growing_jittered_waits() {
    let server = RawServer::start(vec![reply(503, &[], b""), reply(503, &[], b""), ok()]).await;
    let (http, waits) = client();
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(&read_bytes_capped(resp, 100).await.unwrap()[..], b"done");
    assert_eq!(server.hits(), 3);
    let w = waits.get();
    assert_eq!(w.len(), 2);
    assert!(w[0] >= BASE_BACKOFF && w[0] <= BASE_BACKOFF * 2, "{w:?}");
    assert!(
        w[1] >= BASE_BACKOFF * 2 && w[1] <= BASE_BACKOFF * 4,
        "{w:?}"
    );
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured() {
    let server = RawServer::start(vec![reply(429, &[("retry-after", "7")], b""), ok()]).await;
    let (http, waits) = client();
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(waits.get(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(40));
    let server = RawServer::start(vec![reply(503, &[("retry-after", &at)], b""), ok()]).await;
    let (http, waits) = client();
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let w = waits.get();
    // HTTP-dates have whole seconds: the wait is the date minus now, just under 40 s.
    assert!(
        w.len() == 1 && w[0] > Duration::from_secs(30) && w[0] <= Duration::from_secs(40),
        "{w:?}"
    );
}

#[tokio::test]
async fn never_repeat_is_attempted_exactly_once() {
    let server = RawServer::start(vec![reply(503, &[], b""), ok()]).await;
    let (http, waits) = client();
    let url = server.url("/send");
    let resp = http
        .send(Call::api(Repeat::Never), |c| {
            c.post(url.clone()).body("msg")
        })
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.hits(), 1);
    assert!(waits.get().is_empty());

    // Nor after a transport failure.
    let server = RawServer::start(vec![Act::Drop, ok()]).await;
    let url = server.url("/send");
    let e = http
        .send(Call::api(Repeat::Never), |c| {
            c.post(url.clone()).body("msg")
        })
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn stops_after_max_attempts_and_returns_the_last_answer() {
    let server = RawServer::start(vec![reply(502, &[], b"bad gateway")]).await;
    let s = HttpSettings {
        max_attempts: 3,
        ..HttpSettings::default()
    };
    let (http, waits) = client_with(&s);
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(
        &read_bytes_capped(resp, 100).await.unwrap()[..],
        b"bad gateway"
    );
    assert_eq!(server.hits(), 3);
    assert_eq!(waits.get().len(), 2);
}

#[tokio::test]
async fn stops_when_the_next_wait_would_exceed_the_elapsed_budget() {
    let server = RawServer::start(vec![reply(503, &[], b"")]).await;
    let s = HttpSettings {
        max_attempts: 50,
        max_retry_secs: 3,
        ..HttpSettings::default()
    };
    let (http, waits) = client_with(&s);
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let w = waits.get();
    // Waits of 0.5–1 s, 1–2 s, 2–4 s: one or two fit in 3 s, never three.
    assert!((1..=2).contains(&w.len()), "{w:?}");
    assert!(
        w.iter().sum::<Duration>() <= Duration::from_secs(3),
        "{w:?}"
    );
    assert_eq!(server.hits(), w.len() + 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_a_rate_limited_error() {
    let body = br#"{"message":"maintenance until noon"}"#;
    let server = RawServer::start(vec![reply(503, &[("retry-after", "600")], body), ok()]).await;
    let (http, waits) = client(); // budget 60 s
    let url = server.url("/x");
    let e = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap_err();
    assert!(e.is_rate_limited(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.provider(), Some("test"));
    assert_eq!(e.service_message(), Some("maintenance until noon"));
    assert!(e.to_string().contains("max_retry_secs"), "{e}");
    assert_eq!(server.hits(), 1);
    assert!(waits.get().is_empty());
}

#[tokio::test]
async fn a_failed_last_attempt_keeps_retry_after_for_the_adapter() {
    let server = RawServer::start(vec![reply(429, &[("retry-after", "5")], b"")]).await;
    let s = HttpSettings {
        max_attempts: 2,
        ..HttpSettings::default()
    };
    let (http, waits) = client_with(&s);
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "5");
    assert_eq!(waits.get(), vec![Duration::from_secs(5)]);
}

#[tokio::test]
async fn non_transient_answers_are_not_retried() {
    for status in [400u16, 401, 403, 404, 409, 500] {
        let server = RawServer::start(vec![reply(status, &[], b""), ok()]).await;
        let (http, _) = client();
        let url = server.url("/x");
        let resp = http
            .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
        assert_eq!(server.hits(), 1, "{status}");
    }
}

#[tokio::test]
async fn transport_failures_are_retried_for_safe_requests() {
    let server = RawServer::start(vec![Act::Drop, ok()]).await;
    let (http, waits) = client();
    let url = server.url("/chunk");
    let resp = http
        .send(Call::upload(Repeat::Safe, 3), |c| {
            c.put(url.clone()).body(&b"abc"[..])
        })
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.hits(), 2);
    assert_eq!(waits.get().len(), 1);
}

#[tokio::test]
async fn retry_hook_classifies_by_body_and_hands_the_body_back() {
    let server = RawServer::start(vec![
        reply(403, &[], br#"{"code":"THROTTLED"}"#),
        reply(403, &[("x-kind", "real")], br#"{"code":"FORBIDDEN"}"#),
    ])
    .await;
    let hook = RetryHook::new([403], |a| a.body.windows(9).any(|w| w == b"THROTTLED"));
    let (http, waits) = client();
    let http = http.with_retry_hook(hook);
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-kind"], "real");
    assert_eq!(
        &read_bytes_capped(resp, 100).await.unwrap()[..],
        br#"{"code":"FORBIDDEN"}"#
    );
    assert_eq!(server.hits(), 2);
    assert_eq!(waits.get().len(), 1);

    // A hook covering 503 can also veto the default retry.
    let server = RawServer::start(vec![reply(503, &[], b""), ok()]).await;
    let (http, _) = client();
    let http = http.with_retry_hook(RetryHook::new([503], |_| false));
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn refused_connection_is_retried_and_not_outcome_unknown() {
    let addr = refused_addr().await;
    let s = HttpSettings {
        max_attempts: 2,
        ..HttpSettings::default()
    };
    let (http, waits) = client_with(&s);
    let url = url::Url::parse(&format!("http://{addr}/x")).unwrap();
    let e = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(!e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("could not connect"), "{e}");
    assert_eq!(waits.get().len(), 1);
}
