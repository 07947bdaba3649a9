//! Request shapes: what each call sends, checked against a mock server (mockito), and how the
//! answers the service documents are read.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mockito::{Matcher, Server, ServerGuard};
use securesend_core::config::{ProfileConfig, Table};
use securesend_core::{
    Attachment, Diagnostics, DownloadRequest, Downloader, ErrorKind, SecureMailer, SecureMessage,
    UploadRequest, Uploader,
};
use securesend_kiteworks::{KiteworksProvider, signature_code};

const TOKEN: &str = r#"{"access_token":"tok-1","expires_in":"3600","token_type":"bearer"}"#;

fn fields(server: &ServerGuard, dir: &std::path::Path) -> Table {
    let mut t = Table::new();
    t.insert("base_url".into(), server.url().into());
    t.insert("client_id".into(), "cid".into());
    t.insert("client_secret".into(), "csecret".into());
    t.insert("grant".into(), "password".into());
    t.insert("username".into(), "me@example.com".into());
    t.insert("password".into(), "pw".into());
    t.insert("state_dir".into(), dir.display().to_string().into());
    t.insert("fingerprint_wait_secs".into(), 0.into());
    let mut http = Table::new();
    http.insert("max_attempts".into(), 1.into());
    t.insert("http".into(), http.into());
    t
}

fn provider(t: Table) -> KiteworksProvider {
    KiteworksProvider::from_profile(&ProfileConfig::new("wire", "kiteworks", t, ".")).unwrap()
}

async fn token_mock(server: &mut ServerGuard) -> mockito::Mock {
    server
        .mock("POST", "/oauth/token")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_header("authorization", Matcher::Missing)
        .with_header("content-type", "application/json")
        .with_body(TOKEN)
        .create_async()
        .await
}

fn form(req: &mockito::Request) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(req.body().unwrap())
        .into_owned()
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn password_grant_is_a_form_with_client_credentials() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let token = server
        .mock("POST", "/oauth/token")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "password".into()),
            Matcher::UrlEncoded("username".into(), "me@example.com".into()),
            Matcher::UrlEncoded("password".into(), "pw".into()),
            Matcher::UrlEncoded("client_id".into(), "cid".into()),
            Matcher::UrlEncoded("client_secret".into(), "csecret".into()),
            Matcher::UrlEncoded("scope".into(), "*/files/* */mail/*".into()),
        ]))
        .with_body(TOKEN)
        .create_async()
        .await;
    let me = server
        .mock("GET", "/rest/users/me")
        .match_header("authorization", "Bearer tok-1")
        .match_header("x-accellion-version", "27")
        .with_body(r#"{"id":"u1","email":"me@example.com"}"#)
        .create_async()
        .await;
    let mut t = fields(&server, dir.path());
    t.insert("scope".into(), "*/files/* */mail/*".into());
    t.insert("api_version".into(), 27.into());
    let who = provider(t).authenticate().await.unwrap();
    assert!(who.contains("me@example.com"));
    token.assert_async().await;
    me.assert_async().await;
}

#[tokio::test]
async fn signature_grant_sends_a_fresh_exact_code() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let token = server
        .mock("POST", "/oauth/token")
        .match_request(|req| {
            let f = form(req);
            let code = &f["code"];
            let parts: Vec<&str> = code.split("|@@|").collect();
            let ts: u64 = parts[2].parse().unwrap();
            let nonce: u32 = parts[3].parse().unwrap();
            f["grant_type"] == "authorization_code"
                && f["redirect_uri"] == "https://app.example/cb"
                && parts[0] == STANDARD.encode("cid")
                && parts[1] == STANDARD.encode("boss@example.com")
                && now().abs_diff(ts) < 30
                && (1..=999_999).contains(&nonce)
                && *code == signature_code("cid", "boss@example.com", ts, nonce, "sig-key")
        })
        .with_body(TOKEN)
        .create_async()
        .await;
    server
        .mock("GET", "/rest/users/me")
        .with_body(r#"{"id":"u1","email":"boss@example.com"}"#)
        .create_async()
        .await;
    let mut t = fields(&server, dir.path());
    t.remove("username");
    t.remove("password");
    t.insert("grant".into(), "signature".into());
    t.insert("user".into(), "boss@example.com".into());
    t.insert("signature_key".into(), "sig-key".into());
    t.insert("redirect_uri".into(), "https://app.example/cb".into());
    provider(t).authenticate().await.unwrap();
    token.assert_async().await;
}

#[tokio::test]
async fn jwt_grant_sends_a_signed_assertion_with_every_claim() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    std::fs::write(
        &key_path,
        securesend_sandbox::kiteworks::TEST_JWT_PRIVATE_KEY_PEM,
    )
    .unwrap();
    let public = securesend_sandbox::kiteworks::public_key_der(
        securesend_sandbox::kiteworks::TEST_JWT_PUBLIC_KEY_PEM,
    )
    .unwrap();
    let url = server.url();
    let token = server
        .mock("POST", "/oauth/token")
        .match_request(move |req| {
            let f = form(req);
            if f["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
                return false;
            }
            let parts: Vec<&str> = f["assertion"].split('.').collect();
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            let verified = ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA512,
                &public,
            )
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .is_ok();
            let iat = claims["iat"].as_u64().unwrap();
            verified
                && header["alg"] == "RS512"
                && claims["iss"] == "issuer-x"
                && claims["sub"] == "boss@example.com"
                && claims["aud"] == url.as_str()
                && now().abs_diff(iat) < 30
                && claims["nbf"].as_u64() == Some(iat - 60)
                && claims["exp"].as_u64() == Some(iat + 120)
                && uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok()
        })
        .with_body(TOKEN)
        .create_async()
        .await;
    server
        .mock("GET", "/rest/users/me")
        .with_body(r#"{"id":"u1","email":"boss@example.com"}"#)
        .create_async()
        .await;
    let mut t = fields(&server, dir.path());
    t.remove("username");
    t.remove("password");
    t.insert("grant".into(), "jwt".into());
    t.insert("user".into(), "boss@example.com".into());
    t.insert(
        "jwt_private_key_file".into(),
        key_path.display().to_string().into(),
    );
    t.insert("jwt_algorithm".into(), "RS512".into());
    t.insert("jwt_issuer".into(), "issuer-x".into());
    t.insert("jwt_lifetime_secs".into(), 120.into());
    provider(t).authenticate().await.unwrap();
    token.assert_async().await;
}

#[tokio::test]
async fn upload_sends_initiate_then_ordered_multipart_chunks() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    server
        .mock("GET", "/rest/users/me")
        .with_body(r#"{"id":"u1","email":"me@example.com","mydirId":"d1"}"#)
        .create_async()
        .await;
    server
        .mock("GET", "/rest/uploads/config")
        .with_body(r#"{"active":1,"uploadChunkMax":4}"#)
        .create_async()
        .await;
    let exists = server
        .mock("GET", "/rest/folders/d1/files")
        .match_query(Matcher::UrlEncoded("name".into(), "a.txt".into()))
        .with_body(r#"{"data":[],"metadata":{"total":0}}"#)
        .create_async()
        .await;
    let initiate = server
        .mock("POST", "/rest/folders/d1/actions/initiateUpload")
        // The spec declares no query parameter for it.
        .match_query(Matcher::Missing)
        .match_header("content-type", "application/json")
        .match_body(Matcher::PartialJsonString(
            r#"{"filename":"a.txt","totalSize":5,"totalChunks":2}"#.into(),
        ))
        .with_status(201)
        .with_body(r#"{"id":7,"uri":"up1/rest/uploads/7","totalSize":5,"totalChunks":2,"uploadedChunks":0}"#)
        .create_async()
        .await;
    let part =
        |name: &str, value: &str| Matcher::Regex(format!("name=\"{name}\"\r\n\r\n{value}\r\n"));
    let first = server
        .mock("POST", "/up1/rest/uploads/7")
        .match_query(Matcher::UrlEncoded("returnEntity".into(), "true".into()))
        .match_header(
            "content-type",
            Matcher::Regex("^multipart/form-data; boundary=".into()),
        )
        .match_header("x-accellion-version", "28")
        .match_body(Matcher::AllOf(vec![
            part("compressionMode", "NORMAL"),
            part("compressionSize", "4"),
            part("originalSize", "4"),
            part("index", "1"),
            Matcher::Regex("name=\"content\"; filename=\"a.txt\"".into()),
            Matcher::Regex("\r\n\r\nhell\r\n".into()),
        ]))
        .with_body(r#"{"id":7,"uploadedChunks":1}"#)
        .expect(1)
        .create_async()
        .await;
    let last = server
        .mock("POST", "/up1/rest/uploads/7")
        .match_query(Matcher::Any)
        .match_body(Matcher::AllOf(vec![
            part("compressionSize", "1"),
            part("originalSize", "1"),
            part("index", "2"),
            Matcher::Regex("\r\n\r\no\r\n".into()),
        ]))
        .with_status(201)
        .with_header("X-Kiteworks-Location", "https://kw.example/rest/files/f1")
        .expect(1)
        .create_async()
        .await;
    // MD5 and SHA3-256 of "hello".
    server
        .mock("GET", "/rest/files/f1")
        .with_body(
            r#"{"id":"f1","name":"a.txt","size":5,"fingerprints":[
            {"algo":"md5","hash":"5d41402abc4b2a76b9719d911017c592"},
            {"algo":"sha3-256","hash":"3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392"}]}"#,
        )
        .create_async()
        .await;
    let p = provider(fields(&server, dir.path()));
    let f = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("a.txt", "hello"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(f.id, "f1");
    assert_eq!(
        f.checksums.md5.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    for m in [exists, initiate, first, last] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn send_creates_a_draft_then_puts_it_and_a_refusal_deletes_it() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let draft = server
        .mock("POST", "/rest/mail/actions/sendFile")
        .match_query(Matcher::UrlEncoded("returnEntity".into(), "true".into()))
        .match_body(Matcher::PartialJsonString(
            r#"{"to":["ada@example.com"],"cc":["cc@example.com"],"files":[],"subject":"Hi","body":"text","draft":true}"#.into(),
        ))
        .with_status(201)
        .with_body(r#"{"id":"m1","status":"draft"}"#)
        .expect(2)
        .create_async()
        .await;
    let put = server
        .mock("PUT", "/rest/mail/m1/actions/sendFile")
        .match_query(Matcher::UrlEncoded("returnEntity".into(), "true".into()))
        .match_body(Matcher::PartialJsonString(
            r#"{"to":["ada@example.com"],"files":[],"draft":false,"uploading":false}"#.into(),
        ))
        .with_body(r#"{"id":"m1","status":"sent","recipients":[{"email":"ada@example.com","type":0},{"email":"cc@example.com","type":1}]}"#)
        .expect(1)
        .create_async()
        .await;
    let refused = server
        .mock("PUT", "/rest/mail/m1/actions/sendFile")
        .match_query(Matcher::Any)
        .with_status(403)
        .with_body(r#"{"errors":[{"code":"ERR_PROFILE_SEND_FILE_EXTERNAL_DISABLED","message":"External sending is disabled"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let delete = server
        .mock("DELETE", "/rest/mail/m1")
        .with_status(204)
        .expect(1)
        .create_async()
        .await;
    let p = provider(fields(&server, dir.path()));
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .cc("cc@example.com")
        .subject("Hi")
        .text("text")
        .build()
        .unwrap();
    let receipt = p.send(msg.clone()).await.unwrap();
    assert_eq!(receipt.message_id, "m1");
    assert_eq!(receipt.recipients, ["ada@example.com", "cc@example.com"]);
    let e = p.send(msg).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(
        e.service_code(),
        Some("ERR_PROFILE_SEND_FILE_EXTERNAL_DISABLED")
    );
    for m in [draft, put, refused, delete] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn folder_creation_reads_the_location_header() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let search = server
        .mock("GET", "/rest/search")
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("path".into(), "Top".into()),
            Matcher::UrlEncoded("searchType".into(), "d".into()),
        ]))
        .with_body(r#"{"id":"s","files":[],"folders":[],"emails":[]}"#)
        .create_async()
        .await;
    let create = server
        .mock("POST", "/rest/folders/0/folders")
        .match_query(Matcher::UrlEncoded("returnEntity".into(), "true".into()))
        .match_body(Matcher::Json(serde_json::json!({"name": "Top"})))
        .with_status(201)
        .with_header(
            "X-Accellion-Location",
            "https://kw.example/rest/folders/new-1",
        )
        .create_async()
        .await;
    server
        .mock("GET", "/rest/uploads/config")
        .with_body(r#"{"uploadChunkMax":1024}"#)
        .create_async()
        .await;
    server
        .mock("GET", "/rest/folders/new-1/files")
        .match_query(Matcher::Any)
        .with_body(r#"[]"#)
        .create_async()
        .await;
    let initiate = server
        .mock("POST", "/rest/folders/new-1/actions/initiateUpload")
        .match_query(Matcher::Any)
        .with_status(201)
        .with_body(r#"{"id":9,"uri":"https://evil.example/rest/uploads/9"}"#)
        .create_async()
        .await;
    // A uri that leaves the base URL is not followed: the chunk goes to /rest/uploads/9.
    let chunk = server
        .mock("POST", "/rest/uploads/9")
        .match_query(Matcher::Any)
        .with_status(201)
        .with_body(r#"{"id":"file-9","name":"x.bin","size":1}"#)
        .create_async()
        .await;
    let p = provider(fields(&server, dir.path()));
    let f = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("x.bin", "x"))
                .folder("Top")
                .create_parents(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(f.id, "file-9");
    assert_eq!(f.folder.as_deref(), Some("Top"));
    for m in [search, create, initiate, chunk] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn download_verifies_the_service_fingerprints() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    server
        .mock("GET", "/rest/files/f1")
        .with_body(r#"{"id":"f1","name":"../a.txt","size":5,"fingerprint":"00000000000000000000000000000000"}"#)
        .create_async()
        .await;
    let content = server
        .mock("GET", "/rest/files/f1/content")
        .match_header("authorization", "Bearer tok-1")
        .match_header("range", Matcher::Missing)
        .with_body("hello")
        .create_async()
        .await;
    let p = provider(fields(&server, dir.path()));
    let d = p.download(DownloadRequest::new("f1")).await.unwrap();
    let e = d.save_to(dir.path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    content.assert_async().await;
    let e = p
        .download(DownloadRequest::new("../etc"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn documented_error_answers_map_to_kinds() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let cases = [
        (
            "a1",
            403,
            r#"{"errors":[{"code":"ERR_ACCESS_USER","message":"Insufficient access permissions"}]}"#,
            ErrorKind::NotFound,
        ),
        ("a2", 490, "", ErrorKind::PermissionDenied),
        (
            "a3",
            507,
            r#"{"errors":[{"code":"ERR_INSUFFICIENT_DISK_SPACE","message":"x"}]}"#,
            ErrorKind::Unavailable,
        ),
        ("a4", 403, "", ErrorKind::RateLimited),
        (
            "a5",
            401,
            r#"{"errors":[{"code":"ERR_AUTH_UNAUTHORIZED","message":"Unauthorized"}]}"#,
            ErrorKind::Unauthenticated,
        ),
    ];
    for (id, status, body, _) in &cases {
        server
            .mock("GET", format!("/rest/files/{id}").as_str())
            .with_status(*status)
            .with_body(*body)
            .create_async()
            .await;
    }
    let p = provider(fields(&server, dir.path()));
    for (id, status, _, kind) in cases {
        let e = p.download(DownloadRequest::new(id)).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{id}: {e}");
        assert_eq!(e.status(), Some(status as u16));
    }
}

#[tokio::test]
async fn a_rate_limit_403_is_retried() {
    let mut server = Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let limited = server
        .mock("GET", "/rest/users/me")
        .with_status(403)
        .with_header("retry-after", "0")
        .with_body("<html>Forbidden</html>")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("GET", "/rest/users/me")
        .with_body(r#"{"id":"u1","email":"me@example.com"}"#)
        .expect(1)
        .create_async()
        .await;
    let mut t = fields(&server, dir.path());
    t.remove("http");
    provider(t).authenticate().await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
}
