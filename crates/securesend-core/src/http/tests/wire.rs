//! What goes over the wire and what comes back: failures mid-exchange, caps, redirects,
//! headers, proxy.

use std::time::Duration;

use super::server::{Act, RawServer, client, client_with, reply};
use crate::http::{
    Call, HttpClient, HttpSettings, Repeat, ensure_success, read_bytes_capped, read_json_capped,
};

#[tokio::test]
async fn connection_dropped_after_the_request_is_outcome_unknown() {
    let server = RawServer::start(vec![Act::Drop]).await;
    let (http, _) = client();
    let url = server.url("/send");
    let e = http
        .send(Call::api(Repeat::Never), |c| c.post(url.clone()).body("m"))
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(e.outcome_unknown());
    assert!(e.is_retryable());
    assert!(e.to_string().contains("may have processed"), "{e}");
}

#[tokio::test]
async fn an_answer_that_never_comes_times_out_with_unknown_outcome() {
    let server = RawServer::start(vec![Act::Hang]).await;
    let (http, _) = client();
    let url = server.url("/send");
    let call = Call::api(Repeat::Never).with_timeout(Duration::from_millis(300));
    let e = http
        .send(call, |c| c.post(url.clone()).body("m"))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(e.outcome_unknown());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_truncated_body_is_a_transport_error() {
    let server = RawServer::start(vec![Act::Raw(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ncontent-type: application/json\r\n\r\n{\"id\":"
            .to_vec(),
    )])
    .await;
    let (http, _) = client();
    let url = server.url("/x");
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    let e = read_json_capped::<serde_json::Value>(resp, 1000)
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(e.outcome_unknown(), "{e}");
}

#[tokio::test]
async fn json_bodies_are_capped_with_or_without_a_length() {
    let mut server = mockito::Server::new_async().await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2_000));
    server
        .mock("GET", "/sized")
        .with_body(&big)
        .create_async()
        .await;
    server
        .mock("GET", "/chunked")
        .with_chunked_body({
            let big = big.clone();
            move |w| w.write_all(big.as_bytes())
        })
        .create_async()
        .await;
    server
        .mock("GET", "/small")
        .with_body(r#"{"id":7}"#)
        .create_async()
        .await;
    let (http, _) = client();
    for path in ["/sized", "/chunked"] {
        let url = url::Url::parse(&format!("{}{path}", server.url())).unwrap();
        let resp = http
            .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
            .await
            .unwrap();
        let e = read_json_capped::<serde_json::Value>(resp, 1_000)
            .await
            .unwrap_err();
        assert!(e.is_protocol(), "{path}: {e}");
        assert!(e.to_string().contains("1000 bytes"), "{e}");
    }
    let url = url::Url::parse(&format!("{}/small", server.url())).unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    let v: serde_json::Value = read_json_capped(resp, 1_000).await.unwrap();
    assert_eq!(v["id"], 7);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let mut elsewhere = mockito::Server::new_async().await;
    let never = elsewhere
        .mock("GET", mockito::Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/x")
        .with_status(302)
        .with_header("location", &format!("{}/steal", elsewhere.url()))
        .create_async()
        .await;
    let (http, waits) = client();
    let url = url::Url::parse(&format!("{}/x", server.url())).unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| {
            c.get(url.clone()).bearer_auth("tok")
        })
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    never.assert_async().await;
    assert!(waits.get().is_empty());
    let e = ensure_success("test", "list", resp).await.unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("does not follow"),
        "{e}"
    );
}

#[tokio::test]
async fn user_agent_names_securesend_and_the_suffix() {
    let mut server = mockito::Server::new_async().await;
    let plain = server
        .mock("GET", "/plain")
        .match_header(
            "user-agent",
            format!("securesend/{}", crate::VERSION).as_str(),
        )
        .expect(1)
        .create_async()
        .await;
    let suffixed = server
        .mock("GET", "/suffixed")
        .match_header(
            "user-agent",
            format!("securesend/{} acme/2.1", crate::VERSION).as_str(),
        )
        .expect(1)
        .create_async()
        .await;
    let (http, _) = client();
    let url = url::Url::parse(&format!("{}/plain", server.url())).unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let s = HttpSettings {
        user_agent_suffix: Some("acme/2.1".into()),
        ..HttpSettings::default()
    };
    let (http, _) = client_with(&s);
    let url = url::Url::parse(&format!("{}/suffixed", server.url())).unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    plain.assert_async().await;
    suffixed.assert_async().await;
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy_with_its_credentials() {
    let proxy = RawServer::start(vec![reply(200, &[], b"via proxy")]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("proxy-pw"), "pw123\n").unwrap();
    let s: HttpSettings = toml::from_str(&format!(
        "proxy = \"http://{}\"\nproxy_username = \"ann\"\nproxy_password = {{ file = \"proxy-pw\" }}",
        proxy.addr
    ))
    .unwrap();
    let http = HttpClient::new("test", &s, dir.path()).unwrap();
    let url = url::Url::parse("http://files.example.invalid/api/x").unwrap();
    let resp = http
        .send(Call::api(Repeat::Safe), |c| c.get(url.clone()))
        .await
        .unwrap();
    assert_eq!(
        &read_bytes_capped(resp, 100).await.unwrap()[..],
        b"via proxy"
    );
    let head = proxy.heads().remove(0).to_ascii_lowercase();
    assert!(
        head.starts_with("get http://files.example.invalid/api/x http/1.1"),
        "{head}"
    );
    // base64("ann:pw123")
    assert!(
        head.contains("proxy-authorization: basic yw5uonb3mtiz"),
        "{head}"
    );
}
