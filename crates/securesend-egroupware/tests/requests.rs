//! Request shapes: what the adapter puts on the wire for each call, and how it reads answers,
//! against mockito.

use mockito::{Matcher, Server, ServerGuard};
use securesend_core::checksum::sha256_hex;
use securesend_core::{
    Attachment, Delivery, ErrorKind, Expiry, Priority, Secret, SecretRef, SecureMessage,
    UploadRequest,
};
use securesend_egroupware::{
    AttachmentType, Edition, EgroupwareConfig, EgroupwareProvider, LongNames, MailOptions, VfsPath,
};
use serde_json::json;

const API: &str = "/egroupware/groupdav.php";
/// `ralf:pw`.
const AUTH: &str = "Basic cmFsZjpwdw==";
const UUID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

fn provider(server: &ServerGuard, tweak: impl FnOnce(&mut EgroupwareConfig)) -> EgroupwareProvider {
    let mut config = EgroupwareConfig::new(
        format!("{}/egroupware/", server.url()),
        "ralf",
        SecretRef::Literal(Secret::new("pw")),
    );
    config.http.max_attempts = 1;
    tweak(&mut config);
    EgroupwareProvider::new(config, std::path::Path::new(".")).unwrap()
}

fn sent() -> String {
    json!({"status": 200, "message": "Mail successful sent"}).to_string()
}

fn to_ada() -> securesend_core::MessageBuilder {
    SecureMessage::builder().to("ada@example.com").subject("Hi")
}

#[tokio::test]
async fn identities_are_listed_with_json_accept_and_basic_auth() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", format!("{API}/mail").as_str())
        .match_header("accept", "application/json")
        .match_header("authorization", AUTH)
        .with_body(r#"{"responses":{"/ralf/mail/52":"Ralf  <rb@example.net>","/mail/1":"Ralf Becker example.org <ralf@example.org>"}}"#)
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server, |_| {});
    let ids = p.identities().await.unwrap().unwrap();
    assert_eq!(ids.iter().map(|i| i.id).collect::<Vec<_>>(), [1, 52]);
    assert_eq!(ids[1].email.as_deref(), Some("rb@example.net"));
    // Read once, then kept.
    p.identities().await.unwrap();
    m.assert_async().await;
}

#[tokio::test]
async fn send_posts_the_documented_fields_once() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", format!("{API}/mail").as_str())
        .match_header("content-type", "application/json")
        .match_header("authorization", AUTH)
        .match_header("x-securesend-message-id", Matcher::Regex(UUID.into()))
        .match_body(Matcher::Json(json!({
            "to": ["\"Ada Lovelace\" <ada@example.com>"],
            "cc": ["grace@example.com"],
            "bcc": ["bob@example.com"],
            "replyto": "reply@example.com",
            "subject": "Quarterly",
            "body": "plain",
            "bodyHtml": "<p>html</p>",
            "priority": 1
        })))
        .with_body(
            json!({"status": 200, "message": "Mail successful sent",
                "warning": "Mail NOT saved to Sent folder, as no user password"})
            .to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let msg = SecureMessage::builder()
        .to("Ada Lovelace <ada@example.com>")
        .cc("grace@example.com")
        .bcc("bob@example.com")
        .reply_to("reply@example.com")
        .subject("Quarterly")
        .text("plain")
        .html("<p>html</p>")
        .priority(Priority::High)
        .build()
        .unwrap();
    let receipt = provider(&server, |_| {})
        .into_provider()
        .send(msg)
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(receipt.provider, "egroupware");
    assert_eq!(receipt.message_id.len(), 36);
    assert_eq!(
        receipt.recipients,
        ["ada@example.com", "grace@example.com", "bob@example.com"]
    );
    assert_eq!(
        receipt.warnings,
        ["Mail NOT saved to Sent folder, as no user password"]
    );
}

#[tokio::test]
async fn attachments_are_streamed_raw_then_sent_by_token() {
    let mut server = Server::new_async().await;
    let upload = server
        .mock("POST", format!("{API}/mail/attachments/figures.csv").as_str())
        .match_header("content-type", "text/csv")
        .match_header("content-length", "12")
        .match_header("transfer-encoding", Matcher::Missing)
        .match_header("x-no-location", Matcher::Missing)
        .match_body("q,total\n3,42")
        .with_status(201)
        .with_header("location", &format!("{}{API}/mail/attachments/figures.csv--a1B2c3", server.url()))
        .with_body(r#"{"status":201,"message":"Attachment stored","location":"/mail/attachments/figures.csv--a1B2c3"}"#)
        .expect(1)
        .create_async()
        .await;
    let send = server
        .mock("POST", format!("{API}/mail").as_str())
        .match_body(Matcher::PartialJson(json!({
            "attachments": ["/mail/attachments/figures.csv--a1B2c3"],
            "attachmentType": "link"
        })))
        .with_body(sent())
        .expect(1)
        .create_async()
        .await;
    let msg = to_ada()
        .attach(Attachment::from_bytes("figures.csv", "q,total\n3,42"))
        .delivery(Delivery::Link)
        .build()
        .unwrap();
    let receipt = provider(&server, |_| {})
        .into_provider()
        .send(msg)
        .await
        .unwrap();
    upload.assert_async().await;
    send.assert_async().await;
    let file = &receipt.attachments[0];
    assert_eq!(file.id, "/mail/attachments/figures.csv--a1B2c3");
    assert_eq!((file.name.as_str(), file.size), ("figures.csv", Some(12)));
    assert_eq!(
        file.checksums.sha256.as_deref(),
        Some(sha256_hex(b"q,total\n3,42").as_str())
    );
}

#[tokio::test]
async fn no_location_and_older_302_answers_are_read_from_the_body() {
    for (status, no_location) in [(200, true), (302, false)] {
        let mut server = Server::new_async().await;
        let upload = server
            .mock("POST", format!("{API}/mail/attachments/a.txt").as_str())
            .match_header(
                "x-no-location",
                if no_location { Matcher::Exact("true".into()) } else { Matcher::Missing },
            )
            .with_status(status)
            .with_body(r#"{"status":200,"message":"Attachment stored","location":"/mail/attachments/a.txt--XyZ123"}"#)
            .expect(1)
            .create_async()
            .await;
        let send = server
            .mock("POST", format!("{API}/mail").as_str())
            .match_body(Matcher::PartialJson(
                json!({"attachments": ["/mail/attachments/a.txt--XyZ123"]}),
            ))
            .with_body(sent())
            .expect(1)
            .create_async()
            .await;
        let msg = to_ada()
            .attach(Attachment::from_bytes("a.txt", "a"))
            .build()
            .unwrap();
        provider(&server, |c| c.no_location = no_location)
            .into_provider()
            .send(msg)
            .await
            .unwrap();
        upload.assert_async().await;
        send.assert_async().await;
    }
}

#[tokio::test]
async fn a_cut_token_stops_before_the_send() {
    let mut server = Server::new_async().await;
    let upload = server
        .mock("POST", Matcher::Regex(format!("^{API}/mail/attachments/")))
        .with_status(201)
        .with_body(r#"{"status":201,"location":"/mail/attachments/averyveryverylongnameXyZ123"}"#)
        .create_async()
        .await;
    let send = server
        .mock("POST", format!("{API}/mail").as_str())
        .expect(0)
        .create_async()
        .await;
    let msg = to_ada()
        .attach(Attachment::from_bytes("a.txt", "a"))
        .build()
        .unwrap();
    let e = provider(&server, |_| {})
        .into_provider()
        .send(msg)
        .await
        .unwrap_err();
    assert!(e.is_protocol(), "{e}");
    assert!(e.to_string().contains("shorten"), "{e}");
    upload.assert_async().await;
    send.assert_async().await;
}

#[tokio::test]
async fn long_names_are_shortened_visibly_or_refused() {
    let long = format!("{}.pdf", "Quarterly report ".repeat(4));
    // 53 bytes: the stem cut at 49, the extension kept.
    let short = "Quarterly report Quarterly report Quarterly repor.pdf";
    let mut server = Server::new_async().await;
    let upload = server
        .mock(
            "POST",
            format!("{API}/mail/attachments/{}", short.replace(' ', "%20")).as_str(),
        )
        .with_status(201)
        .with_body(json!({"location": format!("/mail/attachments/{short}--XyZ123")}).to_string())
        .expect(1)
        .create_async()
        .await;
    server
        .mock("POST", format!("{API}/mail").as_str())
        .with_body(sent())
        .create_async()
        .await;
    let msg = to_ada()
        .attach(Attachment::from_bytes(long.clone(), "x"))
        .build()
        .unwrap();
    let receipt = provider(&server, |_| {})
        .into_provider()
        .send(msg.clone())
        .await
        .unwrap();
    upload.assert_async().await;
    assert_eq!(receipt.attachments[0].name, short);
    assert_eq!(receipt.warnings.len(), 1, "{:?}", receipt.warnings);
    assert!(
        receipt.warnings[0].contains("at most 53 bytes"),
        "{:?}",
        receipt.warnings
    );

    let quiet = Server::new_async().await;
    let e = provider(&quiet, |c| c.long_attachment_names = LongNames::Refuse)
        .into_provider()
        .send(msg)
        .await
        .unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("rename"),
        "{e}"
    );
}

#[tokio::test]
async fn share_options_need_epl_and_link_delivery() {
    let quiet = Server::new_async().await;
    let community = provider(&quiet, |_| {}).into_provider();
    let protected = || {
        to_ada()
            .attach(Attachment::from_bytes("a.txt", "a"))
            .delivery(Delivery::Link)
            .password("s3cret-share")
            .expires(Expiry::On(time::macros::date!(2099 - 12 - 31)))
            .build()
            .unwrap()
    };
    let e = community.send(protected()).await.unwrap_err();
    assert!(e.is_unsupported(), "{e}");

    let mut server = Server::new_async().await;
    server
        .mock("POST", Matcher::Regex(format!("^{API}/mail/attachments/")))
        .with_status(201)
        .with_body(r#"{"location":"/mail/attachments/a.txt--XyZ123"}"#)
        .create_async()
        .await;
    let send = server
        .mock("POST", format!("{API}/mail").as_str())
        .match_body(Matcher::PartialJson(json!({
            "attachmentType": "link",
            "sharePassword": "s3cret-share",
            // The day after the last day: EGroupware ends a share at the start of the date.
            "shareExpiration": "2100-01-01"
        })))
        .with_body(sent())
        .expect(1)
        .create_async()
        .await;
    let epl = provider(&server, |c| c.edition = Edition::Epl).into_provider();
    let receipt = epl.send(protected()).await.unwrap();
    // The receipt says the last day the shares work.
    assert_eq!(receipt.expires, Some(time::macros::date!(2099 - 12 - 31)));
    send.assert_async().await;
    // A password on attached files would be silently ignored: refused before any request.
    let attach = to_ada()
        .attach(Attachment::from_bytes("a.txt", "a"))
        .delivery(Delivery::Attach)
        .password("pw")
        .build()
        .unwrap();
    let e = epl.send(attach).await.unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("link"),
        "{e}"
    );
}

#[tokio::test]
async fn vfs_paths_and_shares_through_send_with() {
    let mut server = Server::new_async().await;
    let send = server
        .mock("POST", format!("{API}/mail/52").as_str())
        .match_body(Matcher::PartialJson(json!({
            "attachments": ["/home/ralf/Q3 report.pdf"],
            "attachmentType": "share_ro"
        })))
        .with_body(sent())
        .expect(1)
        .create_async()
        .await;
    server
        .mock("GET", format!("{API}/mail").as_str())
        .with_body(
            r#"{"responses":{"/mail/1":"R <ralf@example.org>","/mail/52":"R <rb@example.net>"}}"#,
        )
        .create_async()
        .await;
    let p = provider(&server, |_| {});
    let options = MailOptions::default()
        .vfs_attachment(VfsPath::new("/home/ralf/Q3 report.pdf").unwrap())
        .attachment_type(AttachmentType::ShareRo)
        .identity(52);
    let receipt = p
        .send_with(to_ada().build().unwrap(), &options)
        .await
        .unwrap();
    send.assert_async().await;
    assert_eq!(receipt.attachments[0].id, "/home/ralf/Q3%20report.pdf");
    assert_eq!(receipt.attachments[0].name, "Q3 report.pdf");

    // Shares of local files are refused: they must be in the VFS first.
    let local = to_ada()
        .attach(Attachment::from_bytes("a.txt", "a"))
        .build()
        .unwrap();
    let e = p
        .send_with(
            local,
            &MailOptions::default().attachment_type(AttachmentType::ShareRo),
        )
        .await
        .unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    let e = p
        .send_with(
            to_ada().build().unwrap(),
            &options.clone().attachment_type(AttachmentType::ShareRw),
        )
        .await
        .unwrap_err();
    assert!(e.is_unsupported() && e.to_string().contains("EPL"), "{e}");
}

#[tokio::test]
async fn identity_by_configured_id_address_or_sender() {
    let mut server = Server::new_async().await;
    server
        .mock("GET", format!("{API}/mail").as_str())
        .with_body(
            r#"{"responses":{"/mail/1":"R <ralf@example.org>","/mail/52":"R <RB@example.net>"}}"#,
        )
        .create_async()
        .await;
    let by_52 = server
        .mock("POST", format!("{API}/mail/52").as_str())
        .with_body(sent())
        .expect(2)
        .create_async()
        .await;
    let p = provider(&server, |c| {
        c.from = Some("rb@example.net".parse().unwrap())
    })
    .into_provider();
    p.send(to_ada().build().unwrap()).await.unwrap();
    let by_1 = server
        .mock("POST", format!("{API}/mail/1").as_str())
        .with_body(sent())
        .expect(1)
        .create_async()
        .await;
    p.send(to_ada().from("ralf@example.org").build().unwrap())
        .await
        .unwrap();
    let e = p
        .send(to_ada().from("nobody@example.org").build().unwrap())
        .await
        .unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("1 ralf@example.org"),
        "{e}"
    );
    let by_id = provider(&server, |c| c.identity = Some(52)).into_provider();
    by_id.send(to_ada().build().unwrap()).await.unwrap();
    let unknown = provider(&server, |c| c.identity = Some(7)).into_provider();
    let e = unknown.send(to_ada().build().unwrap()).await.unwrap_err();
    assert!(
        e.is_configuration() && e.to_string().contains("identity 7"),
        "{e}"
    );
    by_52.assert_async().await;
    by_1.assert_async().await;
}

#[tokio::test]
async fn user_prefixed_paths() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("POST", format!("{API}/ralf/mail/compose").as_str())
        .with_body(
            json!({"status": 200, "message": "Request to open compose window sent"}).to_string(),
        )
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server, |c| c.user_prefix = true).into_provider();
    let r = p.compose(to_ada().build().unwrap()).await.unwrap();
    assert_eq!(r.status, securesend_core::SendStatus::Composing);
    m.assert_async().await;
}

/// Path, status, body, an extra header, the expected kind and a word of the message.
type ErrorCase = (
    &'static str,
    u16,
    &'static str,
    Option<(&'static str, &'static str)>,
    ErrorKind,
    &'static str,
);

#[tokio::test]
async fn errors_map_by_status_and_raw_code_never_by_reason() {
    let cases: Vec<ErrorCase> = vec![
        (
            "/mail",
            401,
            "Unauthorized, you need to authenticate first!",
            None,
            ErrorKind::Unauthenticated,
            "Authorization header",
        ),
        (
            "/mail",
            401,
            "<html>Authorization failed.</html>",
            None,
            ErrorKind::Unauthenticated,
            "refused",
        ),
        (
            "/mail",
            500,
            r#"{"error":2,"message":"Entry not found!"}"#,
            None,
            ErrorKind::NotFound,
            "no such entry",
        ),
        (
            "/mail",
            500,
            r#"{"error":500,"message":""}"#,
            None,
            ErrorKind::Unavailable,
            "failed",
        ),
        (
            "/mail",
            404,
            r#"{"error":404,"message":"No IMAP account found for user #5"}"#,
            None,
            ErrorKind::NotFound,
            "IMAP",
        ),
        (
            "/mail",
            422,
            r#"{"error":422,"message":"Error decoding JSON: Syntax error"}"#,
            None,
            ErrorKind::InvalidInput,
            "could not read",
        ),
        (
            "/mail",
            403,
            "",
            None,
            ErrorKind::PermissionDenied,
            "mail API",
        ),
        (
            "/mail",
            501,
            "",
            Some(("content-type", "text/plain")),
            ErrorKind::Unsupported,
            "older",
        ),
        (
            "/mail/compose",
            404,
            r#"{"error":404,"message":"User 'ralf' (#5) is NOT online"}"#,
            None,
            ErrorKind::NotFound,
            "not online",
        ),
    ];
    for (path, status, body, header, kind, needle) in cases {
        let mut server = Server::new_async().await;
        let mut m = server
            .mock("POST", format!("{API}{path}").as_str())
            .with_status(status as usize)
            .with_body(body);
        if status == 401 {
            m = m.with_header(
                "www-authenticate",
                "Basic realm=\"EGroupware CalDAV/CardDAV/GroupDAV server\"",
            );
        }
        if let Some((k, v)) = header {
            m = m.with_header(k, v);
        }
        let m = m.expect(1).create_async().await;
        let p = provider(&server, |_| {}).into_provider();
        let msg = to_ada().build().unwrap();
        let e = if path.ends_with("compose") {
            p.compose(msg).await.unwrap_err()
        } else {
            p.send(msg).await.unwrap_err()
        };
        m.assert_async().await;
        assert_eq!(e.kind(), kind, "{path} {status}: {e}");
        assert!(e.to_string().contains(needle), "{path} {status}: {e}");
        assert_eq!(e.status(), Some(status));
        assert!(!e.outcome_unknown(), "a definite answer is not ambiguous");
    }
}

#[tokio::test]
async fn a_used_up_token_reads_as_not_found() {
    let mut server = Server::new_async().await;
    server
        .mock("POST", Matcher::Regex(format!("^{API}/mail/attachments/")))
        .with_status(201)
        .with_body(r#"{"location":"/mail/attachments/a.txt--XyZ123"}"#)
        .create_async()
        .await;
    server
        .mock("POST", format!("{API}/mail").as_str())
        .with_status(400)
        .with_body(
            r#"{"error":400,"message":"Attachment /mail/attachments/a.txt--XyZ123 NOT found"}"#,
        )
        .create_async()
        .await;
    let msg = to_ada()
        .attach(Attachment::from_bytes("a.txt", "a"))
        .build()
        .unwrap();
    let e = provider(&server, |_| {})
        .into_provider()
        .send(msg)
        .await
        .unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("upload token"),
        "{e}"
    );
    assert_eq!(
        e.service_message(),
        Some("Attachment /mail/attachments/a.txt--XyZ123 NOT found")
    );
}

#[tokio::test]
async fn webdav_put_sends_a_length_and_creates_folders_when_asked() {
    let mut server = Server::new_async().await;
    let dav = "/egroupware/webdav.php/home/ralf";
    let mkcols = [
        server
            .mock("MKCOL", format!("{dav}/reports").as_str())
            .with_status(405)
            .expect(1)
            .create_async()
            .await,
        server
            .mock("MKCOL", format!("{dav}/reports/2026").as_str())
            .with_status(201)
            .expect(1)
            .create_async()
            .await,
    ];
    // 405: something is there already, which must be a folder.
    let is_folder = server
        .mock("PROPFIND", format!("{dav}/reports").as_str())
        .match_header("depth", "0")
        .with_status(207)
        .with_body(concat!(
            r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/egroupware/webdav.php/home/ralf/reports/</D:href>"#,
            r#"<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop>"#,
            r#"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#
        ))
        .expect(1)
        .create_async()
        .await;
    let head = server
        .mock(
            "HEAD",
            format!("{dav}/reports/2026/r%C3%A9sum%C3%A9%201.txt").as_str(),
        )
        .with_status(404)
        .expect(1)
        .create_async()
        .await;
    let put = server
        .mock(
            "PUT",
            format!("{dav}/reports/2026/r%C3%A9sum%C3%A9%201.txt").as_str(),
        )
        .match_header("authorization", AUTH)
        .match_header("content-length", "5")
        .match_header("if-none-match", "*")
        .match_header("transfer-encoding", Matcher::Missing)
        .match_body("hello")
        .with_status(201)
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server, |_| {}).into_provider();
    let req = UploadRequest::builder(Attachment::from_bytes("résumé 1.txt", "hello"))
        .folder("reports/2026")
        .create_parents(true)
        .build()
        .unwrap();
    let file = p.upload(req).await.unwrap();
    for m in mkcols {
        m.assert_async().await;
    }
    is_folder.assert_async().await;
    head.assert_async().await;
    put.assert_async().await;
    assert_eq!(file.id, "/home/ralf/reports/2026/résumé%201.txt");
    assert_eq!(file.folder.as_deref(), Some("/home/ralf/reports/2026"));
    assert_eq!(
        file.checksums.sha256.as_deref(),
        Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );

    // Without `create_parents`, a missing folder is a clear not-found; an existing file is
    // a conflict found by HEAD before any byte is sent.
    server
        .mock("HEAD", format!("{dav}/new/a.txt").as_str())
        .with_status(404)
        .create_async()
        .await;
    server
        .mock("PUT", format!("{dav}/new/a.txt").as_str())
        .with_status(409)
        .create_async()
        .await;
    let req = UploadRequest::builder(Attachment::from_bytes("a.txt", "x"))
        .folder("new")
        .build()
        .unwrap();
    let e = p.upload(req).await.unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("does not exist"),
        "{e}"
    );
    server
        .mock("HEAD", format!("{dav}/b.txt").as_str())
        .with_status(200)
        .with_header("content-length", "3")
        .create_async()
        .await;
    let never = server
        .mock("PUT", format!("{dav}/b.txt").as_str())
        .expect(0)
        .create_async()
        .await;
    let req = UploadRequest::builder(Attachment::from_bytes("b.txt", "x"))
        .build()
        .unwrap();
    assert!(p.upload(req).await.unwrap_err().is_conflict());
    never.assert_async().await;
    for (status, kind) in [
        (413, ErrorKind::InvalidInput),
        (423, ErrorKind::Conflict),
        (403, ErrorKind::PermissionDenied),
    ] {
        let mut s = Server::new_async().await;
        s.mock("PUT", format!("{dav}/c.txt").as_str())
            .with_status(status)
            .create_async()
            .await;
        let p = provider(&s, |_| {}).into_provider();
        let req = UploadRequest::builder(Attachment::from_bytes("c.txt", "x"))
            .overwrite(true)
            .build()
            .unwrap();
        assert_eq!(p.upload(req).await.unwrap_err().kind(), kind, "{status}");
    }
}

#[tokio::test]
async fn download_reads_metadata_and_resolves_relative_ids() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("GET", "/egroupware/webdav.php/home/ralf/docs/a%20b.txt")
        .match_header("authorization", AUTH)
        .match_header("range", Matcher::Missing)
        .with_header("content-type", "text/plain")
        .with_header("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")
        .with_body("hello")
        .expect(1)
        .create_async()
        .await;
    let p = provider(&server, |_| {}).into_provider();
    let d = p
        .download(securesend_core::DownloadRequest::new("docs/a%20b.txt"))
        .await
        .unwrap();
    assert_eq!(d.file().id, "/home/ralf/docs/a%20b.txt");
    assert_eq!(d.file().name, "a b.txt");
    assert_eq!(d.file().size, Some(5));
    assert_eq!(d.file().content_type.as_deref(), Some("text/plain"));
    assert_eq!(d.into_bytes(100).await.unwrap().as_ref(), b"hello");
    m.assert_async().await;
}
