//! Request shapes, one call at a time, against mockito: method, path, query, headers and JSON
//! body of each documented call, and how each answer is read.

mod support;

use std::time::Duration;

use mockito::{Matcher, Server};
use securesend_core::{Diagnostics, DownloadRequest, Downloader, Inbox, InboxQuery};
use securesend_privasfer::{ListQuery, PrivasferConfig, PrivasferProvider};
use serde_json::json;
use support::Waits;

const TOKEN: &str = "tokentokentokentokentokentokentokentokentokentokentokentoke";
const PIN: &str = "1a2s3d";
const FILE: &str = "4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d";
const DOWNLOAD: &str = "9b2d7c1e-1111-4abc-8def-0123456789ab";
const TEMP: &str = "TempKeyTempKeyTempKeyTempKey1234";
const PUBLIC: &str = "PublicKeyPublicKeyPublicKey12345";

fn provider(server: &Server, waits: &Waits) -> PrivasferProvider {
    provider_with(server, waits, |c| c)
}

fn provider_with(
    server: &Server,
    waits: &Waits,
    f: impl FnOnce(PrivasferConfig) -> PrivasferConfig,
) -> PrivasferProvider {
    let config = PrivasferConfig::new(&format!("{}/api", server.url()), TOKEN, PIN).unwrap();
    PrivasferProvider::with_sleeper(f(config), waits.sleeper(None)).unwrap()
}

fn authorized(m: mockito::Mock) -> mockito::Mock {
    m.match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("accept", "application/json")
}

fn file_json() -> serde_json::Value {
    json!({
        "id": FILE, "filename": "report", "type": "application/pdf", "extension": "pdf",
        "full_filename": "report.pdf", "size": 5, "formatted_size": "5 B",
        "encrypted_size": 10, "formatted_encrypted_size": "10 B",
        "created_by": {"name": "Ada Lovelace", "initials": "Ada L.", "email": "ada@example.com",
                       "photo_url": "x", "timezone": "Europe/Vilnius"},
        "created_at": "2019-07-08 10:00:00", "disk": "local-spaces", "trashed": false
    })
}

#[tokio::test]
async fn list_files_sends_the_token_accept_sort_and_keyword() {
    let mut server = Server::new_async().await;
    let m = authorized(server.mock("GET", "/api/files"))
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("sort".into(), "-size".into()),
            Matcher::UrlEncoded("keyword".into(), "rep ort".into()),
        ]))
        .with_header("content-type", "application/json")
        .with_body(json!({ "data": [file_json()] }).to_string())
        .create_async()
        .await;
    let p = provider(&server, &Waits::default());
    let files = p
        .files(
            &ListQuery::all()
                .sorted_by("size", true)
                .with_keyword("rep ort"),
        )
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "report.pdf");
    assert_eq!(
        files[0].download_id.as_deref(),
        Some(format!("file:{FILE}").as_str())
    );
    assert_eq!(files[0].created_at.unwrap().unix_timestamp(), 1_562_580_000);
    assert_eq!(
        files[0].created_by.as_ref().unwrap().to_string(),
        "Ada Lovelace <ada@example.com>"
    );
}

#[tokio::test]
async fn pages_are_followed_on_the_same_origin_only() {
    let mut server = Server::new_async().await;
    let mail = |id: &str| {
        json!({ "id": id, "identifier": "awGj", "subject": id,
        "sender": {"name": "Grace", "email": "grace@example.com"}, "received_at": "2019-07-08 10:00:00",
        "opened": false, "download": {"id": DOWNLOAD, "created_at": "2019-07-08 10:00:00",
        "files": [file_json()]}})
    };
    let first = authorized(server.mock("GET", "/api/inbox"))
        .match_query(Matcher::UrlEncoded(
            "include".into(),
            "download,download.files".into(),
        ))
        .with_body(
            json!({ "data": [mail("11111111-1111-4111-8111-111111111111")],
                    "links": { "next": format!("{}/api/inbox?page=2", server.url()) } })
            .to_string(),
        )
        .create_async()
        .await;
    let second = authorized(server.mock("GET", "/api/inbox"))
        .match_query(Matcher::UrlEncoded("page".into(), "2".into()))
        .with_body(
            json!({ "data": [mail("22222222-2222-4222-8222-222222222222")], "links": { "next": null } })
                .to_string(),
        )
        .create_async()
        .await;
    let p = provider(&server, &Waits::default());
    let inbox = Inbox::inbox(&p, InboxQuery::all()).await.unwrap();
    first.assert_async().await;
    second.assert_async().await;
    assert_eq!(inbox.len(), 2);
    assert_eq!(inbox[0].id, "mail:11111111-1111-4111-8111-111111111111");
    assert_eq!(
        inbox[0].files[0].id,
        format!("mail:11111111-1111-4111-8111-111111111111/{FILE}")
    );
    assert_eq!(inbox[0].files[0].size, Some(5));

    let mut elsewhere = Server::new_async().await;
    elsewhere
        .mock("GET", "/api/inbox")
        .match_query(Matcher::Any)
        .with_body(
            json!({ "data": [], "links": { "next": "https://evil.example/api/inbox?page=2" } })
                .to_string(),
        )
        .create_async()
        .await;
    let e = Inbox::inbox(&provider(&elsewhere, &Waits::default()), InboxQuery::all())
        .await
        .unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("another host"),
        "{e}"
    );
}

#[tokio::test]
async fn doctor_checks_the_token_then_creates_and_revokes_a_key_with_the_pin() {
    let mut server = Server::new_async().await;
    let list = authorized(server.mock("GET", "/api/inbox"))
        .match_query(Matcher::Any)
        .with_body(r#"{"data":[]}"#)
        .create_async()
        .await;
    let key = authorized(server.mock("POST", "/api/keys"))
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({ "pin": PIN })))
        .with_status(201)
        .with_body(
            json!({ "data": { "key": TEMP, "expires_at": "2019-07-08 11:00:00" } }).to_string(),
        )
        .create_async()
        .await;
    let revoke = authorized(server.mock("DELETE", format!("/api/keys/{TEMP}").as_str()))
        .with_status(204)
        .create_async()
        .await;
    let p = provider(&server, &Waits::default());
    let said = p.authenticate().await.unwrap();
    assert!(said.contains("PIN"), "{said}");
    list.assert_async().await;
    key.assert_async().await;
    revoke.assert_async().await;

    let unauth = server
        .mock("GET", "/api/inbox")
        .match_header("authorization", Matcher::Missing)
        .with_status(401)
        .with_body(r#"{"message":"Unauthenticated."}"#)
        .create_async()
        .await;
    let reached = p.reach().await.unwrap();
    unauth.assert_async().await;
    assert!(reached.contains("401"), "{reached}");
}

#[tokio::test]
async fn a_download_makes_each_documented_call_in_order() {
    let mut server = Server::new_async().await;
    let meta = authorized(server.mock("GET", format!("/api/files/{FILE}").as_str()))
        .with_body(json!({ "data": file_json() }).to_string())
        .create_async()
        .await;
    let key = authorized(server.mock("POST", "/api/keys"))
        .match_body(Matcher::Json(json!({ "pin": PIN })))
        .with_status(201)
        .with_body(
            json!({ "data": { "key": TEMP, "expires_at": "2019-07-08 11:00:00" } }).to_string(),
        )
        .create_async()
        .await;
    let create = authorized(server.mock("POST", "/api/downloads"))
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({ "files": [FILE] })))
        .with_status(201)
        .with_body(
            json!({ "data": { "id": DOWNLOAD, "created_at": "2019-07-08 10:00:00" } }).to_string(),
        )
        .create_async()
        .await;
    let public =
        authorized(server.mock("POST", format!("/api/downloads/{DOWNLOAD}/keys").as_str()))
            .match_body(Matcher::Json(json!({ "pinKey": TEMP })))
            .with_body(json!({ "data": { "key": PUBLIC } }).to_string())
            .create_async()
            .await;
    let bytes = server
        .mock("GET", format!("/api/downloads/{DOWNLOAD}").as_str())
        .match_query(Matcher::UrlEncoded("key".into(), PUBLIC.into()))
        .with_header("content-type", "application/pdf")
        .with_body("hello")
        .create_async()
        .await;
    let revoke = authorized(server.mock("DELETE", format!("/api/keys/{TEMP}").as_str()))
        .with_status(204)
        .create_async()
        .await;
    let p = provider(&server, &Waits::default());
    let d = p
        .download(DownloadRequest::new(format!("file:{FILE}")))
        .await
        .unwrap();
    assert_eq!(d.file().name, "report.pdf");
    assert_eq!(d.file().size, Some(5));
    assert_eq!(d.file().content_type.as_deref(), Some("application/pdf"));
    let got = d.into_bytes(1 << 20).await.unwrap();
    assert_eq!(&got[..], b"hello");
    for m in [meta, key, create, public, bytes, revoke] {
        m.assert_async().await;
    }
}

/// Downloads `file:FILE` against `server`, which serves everything up to the bytes.
async fn serve_until_bytes(server: &mut Server, public_key: &str, download_id: &str) {
    server
        .mock("GET", format!("/api/files/{FILE}").as_str())
        .with_body(json!({ "data": file_json() }).to_string())
        .create_async()
        .await;
    server
        .mock("POST", "/api/keys")
        .with_status(201)
        .with_body(json!({ "data": { "key": TEMP } }).to_string())
        .create_async()
        .await;
    server
        .mock("POST", "/api/downloads")
        .with_status(201)
        .with_body(json!({ "data": { "id": download_id } }).to_string())
        .create_async()
        .await;
    server
        .mock("POST", Matcher::Regex("^/api/downloads/.*/keys$".into()))
        .with_body(json!({ "data": { "key": public_key } }).to_string())
        .create_async()
        .await;
    server
        .mock("DELETE", Matcher::Regex("^/api/keys/".into()))
        .with_status(204)
        .create_async()
        .await;
}

#[tokio::test]
async fn hostile_ids_and_keys_never_reach_a_url() {
    let mut server = Server::new_async().await;
    serve_until_bytes(&mut server, PUBLIC, "../../files/x").await;
    let p = provider(&server, &Waits::default());
    let e = p
        .download(DownloadRequest::new(format!("file:{FILE}")))
        .await
        .unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("not a UUID"),
        "{e}"
    );

    let mut server = Server::new_async().await;
    serve_until_bytes(&mut server, "a/../../b?x=1", DOWNLOAD).await;
    let e = provider(&server, &Waits::default())
        .download(DownloadRequest::new(format!("file:{FILE}")))
        .await
        .unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("URL cannot carry"),
        "{e}"
    );
}

#[tokio::test]
async fn a_key_in_the_path_stays_out_of_errors_and_more_bytes_than_announced_fail() {
    let mut server = Server::new_async().await;
    serve_until_bytes(&mut server, PUBLIC, DOWNLOAD).await;
    server
        .mock("GET", format!("/download/{PUBLIC}").as_str())
        .with_status(500)
        .with_header("content-type", "application/json")
        .with_body(
            json!({ "message": format!("no such key {PUBLIC} for {TEMP} of {TOKEN}") }).to_string(),
        )
        .create_async()
        .await;
    let template = format!("{}/download/{{key}}", server.url());
    let waits = Waits::default();
    let p = provider_with(&server, &waits, |c| c.with_download_url(&template).unwrap());
    let e = p
        .download(DownloadRequest::new(format!("file:{FILE}")))
        .await
        .unwrap_err();
    assert!(e.is_unavailable() && e.status() == Some(500), "{e}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(PUBLIC) && !shown.contains(TEMP) && !shown.contains(TOKEN),
        "{shown}"
    );
    assert!(shown.contains("no such key [redacted]"), "{shown}");
    assert_eq!(waits.get().len(), 2, "three attempts in all");

    let mut server = Server::new_async().await;
    serve_until_bytes(&mut server, PUBLIC, DOWNLOAD).await;
    server
        .mock("GET", format!("/api/downloads/{DOWNLOAD}").as_str())
        .match_query(Matcher::Any)
        .with_body("hello, and more")
        .create_async()
        .await;
    let e = provider(&server, &Waits::default())
        .download(DownloadRequest::new(format!("file:{FILE}")))
        .await
        .unwrap_err();
    assert!(e.is_integrity(), "{e}");
}

#[tokio::test]
async fn a_throttled_call_is_retried_after_retry_after_then_reported() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/api/files")
        .with_status(429)
        .with_header("retry-after", "1")
        .with_header("x-ratelimit-limit", "300")
        .with_header("x-ratelimit-remaining", "0")
        .with_body(r#"{"message":"Too Many Attempts."}"#)
        .expect(4)
        .create_async()
        .await;
    let waits = Waits::default();
    let e = provider(&server, &waits)
        .files(&ListQuery::all())
        .await
        .unwrap_err();
    m.assert_async().await;
    assert!(e.is_rate_limited(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(e.service_message(), Some("Too Many Attempts."));
    assert_eq!(waits.get(), [Duration::from_secs(1); 3]);
}

#[tokio::test]
async fn answers_that_are_not_the_documented_json_are_protocol_errors() {
    let mut server = Server::new_async().await;
    server
        .mock("GET", "/api/files")
        .with_body("<html>maintenance</html>")
        .create_async()
        .await;
    let e = provider(&server, &Waits::default())
        .files(&ListQuery::all())
        .await
        .unwrap_err();
    assert!(e.is_protocol(), "{e}");
    server
        .mock("GET", "/api/mails")
        .match_query(Matcher::Any)
        .with_status(302)
        .with_header("location", "/login")
        .create_async()
        .await;
    let e = provider(&server, &Waits::default())
        .sent_mails(&ListQuery::all())
        .await
        .unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("redirected"),
        "{e}"
    );
}
