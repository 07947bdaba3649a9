//! Request shapes, checked with mockito against the fact sheet's vectors: the client calls a
//! loopback server but signs for `https://acme.filetransfers.net`, at the vectors' timestamp.

use std::time::{Duration, UNIX_EPOCH};

use mockito::Matcher;

use super::*;
use crate::config::TuyuConfig;

fn vector_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn client(server: &mockito::ServerGuard, extra: &str) -> TuyuClient {
    let text = format!(
        "base_url = \"{}\"\napi_key = \"demo_key_123\"\napi_secret = \"demo_secret_456\"\nworkspace_path = \"/Designers_workspace/\"\n{extra}\n[signing]\nbase_url = \"https://acme.filetransfers.net\"\n",
        server.url()
    );
    let config: TuyuConfig = toml::from_str(&text).unwrap();
    let resolved = config.resolve(std::path::Path::new(".")).unwrap();
    TuyuClient::with_clock(&resolved, vector_time)
}

#[tokio::test]
async fn users_location_access_is_the_signed_vector() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/api/users_location_access")
        .match_query(Matcher::Exact(
            "api_key=demo_key_123&auth_code=abc123&path=%2FDesigners_workspace%2F&timestamp=1700000000&type=all&signature=27e7c65ee909fef78cbdf1398b44dfdd87016e807ee42277803532fe190f93b8".into(),
        ))
        .with_body(r#"{"usersLocationAccess":[{"id":102,"username":"grace","email":"grace@example.com","uType":1},{"id":"201","uType":0}]}"#)
        .create_async()
        .await;
    let c = client(&server, "auth_code = \"abc123\"");
    let users = c
        .users_location_access("/Designers_workspace/")
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].email.as_deref(), Some("grace@example.com"));
    assert!(!users[1].is_user());
}

#[tokio::test]
async fn writes_sign_the_bare_method_url_in_the_body() {
    let mut server = mockito::Server::new_async().await;
    let send = server
        .mock("POST", "/api/file_send")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("file_id".into(), "7,8".into()),
            Matcher::UrlEncoded("non_users".into(), "a@example.org".into()),
            Matcher::UrlEncoded("subject".into(), "Hello there".into()),
            Matcher::UrlEncoded("api_key".into(), "demo_key_123".into()),
            Matcher::UrlEncoded("timestamp".into(), "1700000000".into()),
            Matcher::UrlEncoded(
                "signature".into(),
                "441810069683be576ab08f6cb78e0c16cad4e402b89f9c7dd6ef0744afeb4e5e".into(),
            ),
        ]))
        .with_body(r#"{"fileSend":{"fileId":"7,8"}}"#)
        .create_async()
        .await;
    let prep = server
        .mock("POST", "/api/send_files_prep")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("file_id".into(), "7,8".into()),
            Matcher::UrlEncoded(
                "signature".into(),
                "dc79e9999c07c90d2794948a1f801deb9fa65dfad6a89c3170c24d43a5f98b21".into(),
            ),
        ]))
        .with_body(r#"{"sendFilesPrep":{"filePreparationId":"p-1"}}"#)
        .create_async()
        .await;
    let c = client(&server, "");
    assert_eq!(c.send_files_prep("7,8").await.unwrap(), "p-1");
    let at = AtomicI64::new(0);
    c.file_send(
        &[
            ("file_id", "7,8".into()),
            ("non_users", "a@example.org".into()),
            ("subject", "Hello there".into()),
        ],
        &at,
    )
    .await
    .unwrap();
    send.assert_async().await;
    prep.assert_async().await;
    assert_eq!(at.load(Ordering::Relaxed), 1_700_000_000);
}

#[tokio::test]
async fn upload_is_multipart_with_encoded_path_and_signature() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("POST", "/api/file_upload")
        .match_header("content-type", Matcher::Regex("^multipart/form-data; boundary=".into()))
        .match_body(Matcher::AllOf(vec![
            Matcher::Regex("name=\"path\"\r\n\r\n%2FDesigners_workspace%2Fa\\+b%2F\r\n".into()),
            Matcher::Regex("name=\"overwrite\"\r\n\r\n0\r\n".into()),
            Matcher::Regex("name=\"comment\"\r\n\r\nsigned copy\r\n".into()),
            Matcher::Regex(
                "name=\"signature\"\r\n\r\n93e56e571a474e252e6b2d5589a6b557bf3e1ae55db62132557804551b862fc9\r\n".into(),
            ),
            Matcher::Regex(
                "name=\"file\"; filename=\"Übersicht.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n".into(),
            ),
        ]))
        .with_body(r#"{"fileInfo":{"fileId":77,"path":"\/Designers_workspace\/a b\/","fileName":"Übersicht.txt","fileSize":5}}"#)
        .create_async()
        .await;
    let c = client(&server, "");
    let file = CheckedFile::check(securesend_core::Attachment::from_bytes(
        "Übersicht.txt",
        "hello",
    ))
    .unwrap();
    let (info, sums) = c
        .file_upload(&UploadSpec {
            path: "/Designers_workspace/a b/",
            file: &file,
            overwrite: false,
            comment: Some("signed copy"),
            file_id_tag: None,
            progress: None,
            index: 0,
        })
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(info.file_id, "77");
    assert_eq!(
        sums.sha256.as_deref(),
        Some(securesend_core::checksum::sha256_hex(b"hello").as_str())
    );
}

#[tokio::test]
async fn xml_suffix_is_called_and_signed_and_answers_parsed() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/api/file_list.xml")
        .match_query(Matcher::Regex("^api_key=demo_key_123&current_page=1&path=%2FDesigners_workspace%2F&timestamp=1700000000&signature=[0-9a-f]{64}$".into()))
        .with_body("<?xml version=\"1.0\"?><fileList><path>/Designers_workspace/</path><totalFiles>1</totalFiles><files><file><id>5</id><name>a.txt</name><type>file</type><size>3</size></file></files><userSettings><sendFiles>1</sendFiles></userSettings></fileList>")
        .create_async()
        .await;
    let c = client(&server, "format = \"xml\"");
    let list = c.file_list("/Designers_workspace/", 1).await.unwrap();
    m.assert_async().await;
    assert_eq!(list.files[0].id, "5");
    assert_eq!(list.permission("sendFiles"), Some(true));
}

#[tokio::test]
async fn an_error_envelope_is_an_error_even_with_200_and_is_not_repeated() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("POST", "/api/create_file_link")
        .with_status(200)
        .with_body(r#"{"error":{"title":"You do not have access privileges for this location","message":"Please try a different location or speak to an administrator."}}"#)
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, "");
    let e = c.create_file_link("5", Some(3)).await.unwrap_err();
    m.assert_async().await;
    assert!(e.is_permission_denied(), "{e}");
    assert_eq!(e.operation(), Some("create link"));

    let auth = server
        .mock("GET", "/api/file_list")
        .match_query(Matcher::Any)
        .with_status(401)
        .with_header("content-type", "application/xml")
        .with_body("<error><title>Authentication Failed</title><message>Authentication parameters missing or invalid.</message></error>")
        // mockito's `Date` is years after the fixed clock: the client adopts the service's
        // time and tries exactly once more.
        .expect(2)
        .create_async()
        .await;
    let e = c.file_list("/Designers_workspace/", 1).await.unwrap_err();
    auth.assert_async().await;
    assert!(e.is_unauthenticated() && e.status() == Some(401), "{e}");
}

#[tokio::test]
async fn a_file_send_answered_with_a_web_page_may_have_been_sent() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/api/file_send")
        .with_body("<!DOCTYPE html><html>login</html>")
        .create_async()
        .await;
    let c = client(&server, "");
    let e = c
        .file_send(&[("file_id", "1".into())], &AtomicI64::new(0))
        .await
        .unwrap_err();
    assert!(e.is_protocol() && e.outcome_unknown(), "{e}");
}

#[tokio::test]
async fn download_names_the_file_from_its_headers() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/api/file_download")
        .match_query(Matcher::UrlEncoded("file_id".into(), "5".into()))
        .with_header("content-disposition", "attachment; filename=\"r.pdf\"")
        .with_body("PDF!")
        .create_async()
        .await;
    let c = client(&server, "");
    let resp = c.file_download("5").await.unwrap();
    assert_eq!(
        crate::download::file_name(resp.headers()).as_deref(),
        Some("r.pdf")
    );
    assert_eq!(&resp.bytes().await.unwrap()[..], b"PDF!");

    server
        .mock("GET", "/api/file_download")
        .match_query(Matcher::UrlEncoded("file_id".into(), "6".into()))
        .with_body("PDF without a name")
        .create_async()
        .await;
    let e = c.file_download("6").await.unwrap_err();
    assert!(e.is_protocol(), "{e}");
}
