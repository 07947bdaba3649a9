//! Flows against the Kiteworks sandbox: sends, uploads, downloads, resumption, token expiry,
//! cleanup after failures, and the one-mail guarantee when the send's answer is lost.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{CHUNK, Kit, file, kit, sha256};
use securesend_core::{
    Attachment, DownloadRequest, Downloader, ErrorKind, Expiry, Progress, ProgressEvent,
    SecureMailer, SecureMessage, SendStatus, UploadRequest, Uploader,
};
use securesend_kiteworks::{Acl, MailOptions};
use securesend_sandbox::fault::{FaultAction, FaultRule};
use securesend_sandbox::route::Route;

fn rule(route: &str, action: FaultAction) -> FaultRule {
    FaultRule::new(Route::parse(route).unwrap(), action)
}

const CHUNK_ROUTE: &str = "POST /kwupload1/rest/uploads/*";

/// The first `PUT …/sendFile` is processed, but its answer is cut before any byte.
fn lose_the_first_send_answer(k: &Kit) {
    k.sandbox.faults().add(
        rule(
            "PUT /rest/mail/*/actions/sendFile",
            FaultAction::Truncate { keep: Some(0) },
        )
        .nth(1),
    );
}

/// The first `GET /rest/mail/{id}` answers `body` instead of the message's real state.
fn show_the_message_once_as(k: &Kit, body: &'static str) {
    k.sandbox.faults().add(
        rule(
            "GET /rest/mail/*",
            FaultAction::status(200).with_body("application/json", body),
        )
        .nth(1),
    );
}

#[tokio::test]
async fn sends_zero_one_and_three_attachments_byte_for_byte() {
    let k = kit().await;
    let p = k.provider();
    let dir = tempfile::tempdir().unwrap();
    let empty = file(dir.path(), "empty.bin", 0);
    let one = file(dir.path(), "one.bin", 1);
    let big = file(dir.path(), "big.bin", (3 * CHUNK + 1) as usize);
    let cases: Vec<Vec<&std::path::Path>> = vec![vec![], vec![&one], vec![&empty, &one, &big]];
    for files in cases {
        let mut b = SecureMessage::builder()
            .to("ada@example.com")
            .cc("grace@example.com")
            .subject(format!("{} files", files.len()))
            .text("see attached");
        for f in &files {
            b = b.attach(Attachment::from_path(f));
        }
        let receipt = p.send(b.build().unwrap()).await.unwrap();
        assert_eq!(receipt.status, SendStatus::Sent);
        assert_eq!(receipt.recipients, ["ada@example.com", "grace@example.com"]);
        let mail = k
            .sandbox
            .outbox()
            .get(&receipt.message_id)
            .expect("delivered under the receipt's id");
        assert_eq!(mail.cc, ["grace@example.com"]);
        assert_eq!(mail.text_body.as_deref(), Some("see attached"));
        let mut got: Vec<(String, u64, String)> = mail
            .attachments
            .iter()
            .map(|a| (a.name.clone(), a.size, a.sha256.clone()))
            .collect();
        got.sort();
        let mut want: Vec<(String, u64, String)> = files
            .iter()
            .map(|f| {
                let data = std::fs::read(f).unwrap();
                (
                    f.file_name().unwrap().to_str().unwrap().to_owned(),
                    data.len() as u64,
                    sha256(&data),
                )
            })
            .collect();
        want.sort();
        assert_eq!(got, want);
        for a in &receipt.attachments {
            let local = want.iter().find(|w| w.0 == a.name).unwrap();
            assert_eq!(a.checksums.sha256.as_deref(), Some(local.2.as_str()));
            assert!(a.checksums.md5.is_some() && a.checksums.sha3_256.is_some());
        }
    }
    // The big file went as four chunks; no draft or session is left over.
    assert_eq!(k.sandbox.outbox().count(), 3);
    assert!(k.inspect.drafts().is_empty());
    assert_eq!(k.inspect.open_uploads(), 0);
    assert_eq!(k.count("POST", "/kwupload1/rest/uploads/"), 1 + 1 + 1 + 4);
    // Every REST call carried the version header.
    for e in k.sandbox.journal().snapshot() {
        if e.path.contains("/rest/") {
            assert_eq!(
                e.header("x-accellion-version"),
                Some("28"),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
}

#[tokio::test]
async fn upload_then_download_round_trip_by_sha256() {
    let k = kit().await;
    let p = k.provider();
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "report.bin", (3 * CHUNK + 1) as usize);
    let data = std::fs::read(&path).unwrap();
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .folder("My Folder/reports/2026")
        .create_parents(true)
        .build()
        .unwrap();
    let remote = p.upload(req).await.unwrap();
    assert_eq!(remote.size, Some(data.len() as u64));
    assert_eq!(
        remote.checksums.sha256.as_deref(),
        Some(sha256(&data).as_str())
    );
    assert!(k.inspect.folder_exists("My Folder/reports/2026"));
    assert_eq!(k.sandbox.store().find_by_sha256(&sha256(&data)).len(), 1);

    let out = dir.path().join("down");
    std::fs::create_dir(&out).unwrap();
    let saved = p
        .download(DownloadRequest::new(&remote.id))
        .await
        .unwrap()
        .save_to(&out)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&saved.path).unwrap(), data);
    assert_eq!(saved.path, out.join("report.bin"));

    // Without creating parents a missing folder is an error before any upload starts.
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .folder("My Folder/nowhere")
        .build()
        .unwrap();
    let before = k.count("POST", "initiateUpload");
    assert_eq!(p.upload(req).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(k.count("POST", "initiateUpload"), before);
}

#[tokio::test]
async fn integrity_checks_off_skip_the_digests_and_their_comparisons() {
    let k = kit().await;
    k.inspect.corrupt_fingerprints(true);
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "bulk.bin", (2 * CHUNK + 7) as usize);
    let data = std::fs::read(&path).unwrap();
    let upload = |name: &str| {
        UploadRequest::builder(Attachment::from_path(&path).with_name(name))
            .build()
            .unwrap()
    };
    let mut fields = k.fields();
    fields.insert("verify".into(), false.into());
    let p = k.provider_with(fields);
    let remote = p.upload(upload("bulk.bin")).await.unwrap();
    assert_eq!(remote.size, Some(data.len() as u64));
    assert!(remote.checksums.is_empty(), "{:?}", remote.checksums);
    assert_eq!(k.sandbox.store().find_by_sha256(&sha256(&data)).len(), 1);

    let download = p.download(DownloadRequest::new(&remote.id)).await.unwrap();
    assert!(download.file().checksums.is_empty());
    let saved = download
        .save_to(dir.path().join("saved.bin"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&saved.path).unwrap(), data);
    assert_eq!(saved.size, data.len() as u64);
    assert!(saved.checksums.is_empty(), "{:?}", saved.checksums);

    // With the checks on, the same service's (corrupted) fingerprints are compared and refused.
    let e = k
        .provider()
        .upload(upload("checked.bin"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
}

#[tokio::test]
async fn zero_byte_upload_and_same_name_needs_overwrite() {
    let k = kit().await;
    let p = k.provider();
    let up = |bytes: &'static [u8], overwrite: bool| {
        UploadRequest::builder(Attachment::from_bytes("same.txt", bytes))
            .overwrite(overwrite)
            .build()
            .unwrap()
    };
    let first = p.upload(up(b"", false)).await.unwrap();
    assert_eq!(first.size, Some(0));
    let e = p.upload(up(b"x", false)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let second = p.upload(up(b"new", true)).await.unwrap();
    assert_eq!(second.id, first.id, "a new version of the same file");
    let files = k.inspect.files_in("My Folder");
    assert_eq!(files.iter().filter(|f| f.1 == "same.txt").count(), 1);
}

#[tokio::test]
async fn token_expiry_mid_upload_refreshes_once_without_resending_chunks() {
    // The service's clock jumps past the access token's life after chunk 2; the refresh token
    // lives on.
    let clock = securesend_sandbox::ManualClock::new();
    let o = securesend_sandbox::kiteworks::KiteworksOptions {
        fingerprint_delay: std::time::Duration::ZERO,
        ..Default::default()
    };
    let k = common::start(
        o,
        securesend_sandbox::SandboxOptions::default()
            .chunk_max(CHUNK)
            .clock(clock.clock())
            .rate_limit(securesend_sandbox::RateLimitSetting::Off),
    )
    .await;
    let p = k.provider();
    let fired = Arc::new(AtomicBool::new(false));
    let f2 = fired.clone();
    let progress = Progress::new(move |e: &ProgressEvent| {
        if let ProgressEvent::Advanced { done, .. } = e {
            if *done == 2 * CHUNK && !f2.swap(true, Ordering::SeqCst) {
                clock.advance(std::time::Duration::from_secs(3601));
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "long.bin", (3 * CHUNK + 1) as usize);
    let req = UploadRequest::builder(Attachment::from_path(&path))
        .progress(progress)
        .build()
        .unwrap();
    let remote = p.upload(req).await.unwrap();
    assert!(fired.load(Ordering::SeqCst));
    let chunks: Vec<_> = k
        .sandbox
        .journal()
        .snapshot()
        .into_iter()
        .filter(|e| e.method == "POST" && e.path.starts_with("/kwupload1/"))
        .collect();
    let statuses: Vec<u16> = chunks.iter().map(|e| e.status.unwrap()).collect();
    // Chunk 3 was refused once (401) and sent again with a refreshed token; 1, 2 and 4 once.
    assert_eq!(statuses, [200, 200, 401, 200, 201]);
    let token_calls = k.count("POST", "/oauth/token");
    assert_eq!(token_calls, 2, "one sign-in, one refresh");
    let stored = k.inspect.file(&remote.id).unwrap();
    let data = k.sandbox.store().read(&stored.0).await.unwrap();
    assert_eq!(data, std::fs::read(&path).unwrap());
}

#[tokio::test]
async fn dropped_connection_resends_only_the_missing_chunk() {
    let k = kit().await;
    let p = k.provider();
    // Chunk 2's connection drops while its body is sent; chunk 3's answer is cut short after
    // the service stored it.
    k.sandbox
        .faults()
        .add(rule(CHUNK_ROUTE, FaultAction::DropAfterBody { bytes: 1000 }).nth(2));
    k.sandbox
        .faults()
        .add(rule(CHUNK_ROUTE, FaultAction::Truncate { keep: Some(3) }).nth(4));
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "flaky.bin", (3 * CHUNK + 1) as usize);
    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_path(&path))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    // 4 chunks + the dropped one sent again; the truncated one had landed and was not resent.
    assert_eq!(k.count("POST", "/kwupload1/rest/uploads/"), 5);
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(
        k.sandbox.store().read(&stored.0).await.unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[tokio::test]
async fn interrupted_upload_resumes_in_a_new_instance_from_uploaded_chunks() {
    let k = kit().await;
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "resume.bin", (5 * CHUNK + 1) as usize);
    // First run: retries exhausted at once, the third chunk's connection drops.
    let mut fields = k.fields();
    let mut http = securesend_core::config::Table::new();
    http.insert("max_attempts".into(), 1.into());
    fields.insert("http".into(), http.into());
    k.sandbox
        .faults()
        .add(rule(CHUNK_ROUTE, FaultAction::DropAfterBody { bytes: 100 }).nth(3));
    let first = k.provider_with(fields);
    let e = first
        .upload(
            UploadRequest::builder(Attachment::from_path(&path))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_unavailable() || e.outcome_unknown(), "{e}");
    assert_eq!(
        k.inspect.open_uploads(),
        1,
        "the session is kept for resuming"
    );
    let saved = std::fs::read_dir(k.dir.path().join("state/uploads"))
        .unwrap()
        .count();
    assert_eq!(saved, 1, "the session is saved beside the token");
    let sent_before = k.count("POST", "/kwupload1/rest/uploads/");
    assert_eq!(sent_before, 3);

    // Second run, a fresh provider: only chunks 3 to 6 go out.
    let second = k.provider();
    let remote = second
        .upload(
            UploadRequest::builder(Attachment::from_path(&path))
                .resume(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(k.count("POST", "/kwupload1/rest/uploads/") - sent_before, 4);
    assert_eq!(
        k.count("POST", "initiateUpload"),
        1,
        "the session was continued"
    );
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(
        k.sandbox.store().read(&stored.0).await.unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert_eq!(
        remote.checksums.sha256.as_deref(),
        Some(sha256(&std::fs::read(&path).unwrap()).as_str()),
        "the checksum covers the whole file, skipped chunks included"
    );
    assert_eq!(
        std::fs::read_dir(k.dir.path().join("state/uploads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(k.inspect.open_uploads(), 0);
}

#[tokio::test]
async fn fingerprint_mismatch_is_an_integrity_error_and_the_draft_is_deleted() {
    let k = kit().await;
    let p = k.provider();
    k.inspect.corrupt_fingerprints(true);
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .attach(Attachment::from_bytes("b.txt", "world"))
        .build()
        .unwrap();
    let e = p.send(msg).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
    assert!(k.inspect.drafts().is_empty(), "the draft was deleted");
    assert_eq!(k.inspect.mail_count(), 0);
    assert_eq!(k.sandbox.outbox().delivered_total(), 0);
    assert_eq!(k.count("DELETE", "/rest/mail/"), 1);
    assert_eq!(k.count("PUT", "/rest/mail/"), 0);
}

#[tokio::test]
async fn a_refused_attachment_deletes_the_draft() {
    let k = kit().await;
    let p = k.provider();
    k.sandbox.faults().add(
        rule(
            "POST /rest/mail/*/actions/initiateUpload",
            FaultAction::status(413),
        )
        .with_body(),
    );
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .build()
        .unwrap();
    assert!(p.send(msg).await.is_err());
    assert!(k.inspect.drafts().is_empty());
    assert_eq!(k.sandbox.outbox().delivered_total(), 0);
}

trait WithBody {
    fn with_body(self) -> Self;
}
impl WithBody for FaultRule {
    fn with_body(mut self) -> Self {
        self.action = self.action.with_body(
            "application/json",
            r#"{"errors":[{"code":"ERR_SYSTEM_NO_STORAGE_AVAILABLE","message":"No storage available"}]}"#,
        );
        self
    }
}

#[tokio::test]
async fn exactly_one_mail_when_the_send_answer_is_lost() {
    let k = kit().await;
    let p = k.provider();
    // The PUT is processed but its answer is cut short.
    k.sandbox.faults().add(
        rule(
            "PUT /rest/mail/*/actions/sendFile",
            FaultAction::Truncate { keep: Some(5) },
        )
        .nth(1),
    );
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("once")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .build()
        .unwrap();
    let receipt = p.send(msg.clone()).await.unwrap();
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    assert_eq!(
        k.count("PUT", "/rest/mail/"),
        1,
        "the send was not repeated"
    );
    assert!(k.sandbox.outbox().get(&receipt.message_id).is_some());

    // The PUT's connection drops before the service sees it: the draft is sent again, once.
    // (A rule counts matches from when it is added.)
    k.sandbox
        .faults()
        .add(rule("PUT /rest/mail/*/actions/sendFile", FaultAction::Drop).nth(1));
    let receipt = p.send(msg).await.unwrap();
    assert_eq!(k.sandbox.outbox().delivered_total(), 2);
    assert_eq!(k.count("PUT", "/rest/mail/"), 3);
    assert!(k.sandbox.outbox().get(&receipt.message_id).is_some());
    assert!(k.inspect.drafts().is_empty());
}

#[tokio::test]
async fn download_continues_with_a_range_after_a_cut() {
    let k = kit().await;
    let p = k.provider();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("cut.bin", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    k.sandbox.faults().add(
        rule(
            "GET /rest/files/*/content",
            FaultAction::Truncate { keep: Some(70_000) },
        )
        .nth(1),
    );
    let got = p
        .download(DownloadRequest::new(&remote.id))
        .await
        .unwrap()
        .into_bytes(1 << 20)
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    let ranged: Vec<_> = k
        .sandbox
        .journal()
        .snapshot()
        .into_iter()
        .filter(|e| e.path.ends_with("/content"))
        .collect();
    assert_eq!(ranged.len(), 2);
    assert_eq!(ranged[0].header("range"), None);
    let range = ranged[1].header("range").unwrap();
    assert!(
        range.starts_with("bytes=") && range != "bytes=0-",
        "{range}"
    );
    assert_eq!(ranged[1].status, Some(206));

    let e = p
        .download(DownloadRequest::new("00000000-0000-0000-0000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.service_code(), Some("ERR_ACCESS_USER"));
}

#[tokio::test]
async fn options_map_to_the_service_fields_and_files_go_by_id() {
    let k = kit().await;
    let p = k.provider();
    let stored = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("kept.txt", "already there"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .bcc("eve@example.com")
        .expires(Expiry::Days(7))
        .require_login(true)
        .download_receipt(true)
        .attach(Attachment::from_bytes("new.txt", "fresh"))
        .build()
        .unwrap();
    let opts = MailOptions::default()
        .file_id(stored.id.clone())
        .include_fingerprint(true)
        .self_copy(true);
    let receipt = p.send_with(msg, opts).await.unwrap();
    let mail = k.sandbox.outbox().get(&receipt.message_id).unwrap();
    assert_eq!(mail.bcc, ["eve@example.com"]);
    let d = &mail.details;
    assert_eq!(d["acl"], "verify_recipient");
    assert_eq!(d["includeFingerprint"], true);
    assert_eq!(d["selfCopy"], true);
    assert_eq!(d["returnReceipts"][0], k.inspect.user_email());
    let expire = time::OffsetDateTime::now_utc().date() + time::Duration::days(7);
    assert_eq!(d["expire"], expire.to_string());
    let mut names: Vec<&str> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["kept.txt", "new.txt"]);
    assert_eq!(receipt.attachments.len(), 2);

    // A profile acl that lets anyone in contradicts require-login: refused before any request.
    let mut fields = k.fields();
    fields.insert("acl".into(), "no_auth".into());
    let strict = k.provider_with(fields);
    let before = k.sandbox.journal().len();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .require_login(true)
        .build()
        .unwrap();
    let opts = MailOptions::default().acl(Acl::NoAuth);
    assert!(
        strict
            .send_with(msg, opts)
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    assert_eq!(k.sandbox.journal().len(), before);
}

#[tokio::test]
async fn completion_is_read_from_the_location_header_when_no_entity_comes() {
    let o = securesend_sandbox::kiteworks::KiteworksOptions {
        return_entities: false,
        location_header: securesend_sandbox::kiteworks::LocationHeader::Kiteworks,
        fingerprint_delay: std::time::Duration::ZERO,
        ..Default::default()
    };
    let k = common::start(
        o,
        securesend_sandbox::SandboxOptions::default()
            .chunk_max(CHUNK)
            .rate_limit(securesend_sandbox::RateLimitSetting::Off),
    )
    .await;
    let p = k.provider();
    let data: Vec<u8> = (0..(2 * CHUNK + 5)).map(|i| (i % 241) as u8).collect();
    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("loc.bin", data.clone()))
                .folder("Fresh/Sub")
                .create_parents(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(k.sandbox.store().read(&stored.0).await.unwrap(), data);
    let receipt = p
        .send(
            SecureMessage::builder()
                .to("ada@example.com")
                .attach(Attachment::from_bytes("a.txt", "x"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let mail = k.sandbox.outbox().get(&receipt.message_id).unwrap();
    assert_eq!(mail.attachments.len(), 1);
    assert!(k.inspect.folder_exists("Fresh/Sub"));
}

#[tokio::test]
async fn a_refused_chunk_deletes_the_upload_session() {
    let k = kit().await;
    let p = k.provider();
    k.sandbox.faults().add(
        rule(
            CHUNK_ROUTE,
            FaultAction::status(422).with_body(
                "application/json",
                r#"{"errors":[{"code":"ERR_ENTITY_RESTRICTED_TYPE","message":"Restricted"}]}"#,
            ),
        )
        .nth(2),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "refused.bin", (3 * CHUNK) as usize);
    let e = p
        .upload(
            UploadRequest::builder(Attachment::from_path(&path))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(k.count("DELETE", "/rest/uploads/"), 1);
    assert_eq!(k.inspect.open_uploads(), 0);
    let saved = k.dir.path().join("state/uploads");
    assert_eq!(std::fs::read_dir(saved).map(|d| d.count()).unwrap_or(0), 0);
    assert_eq!(
        k.count("POST", "/kwupload1/rest/uploads/"),
        2,
        "no chunk after the refusal"
    );
}

#[tokio::test]
async fn chunks_can_go_to_rest_uploads_as_the_samples_do() {
    let k = kit().await;
    let mut fields = k.fields();
    fields.insert("chunk_endpoint".into(), "rest".into());
    let p = k.provider_with(fields);
    let data: Vec<u8> = (0..(CHUNK + 3)).map(|i| (i % 7) as u8).collect();
    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("rest.bin", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(k.count("POST", "/kwupload1/"), 0);
    let to_rest = k
        .sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "POST" && e.path.starts_with("/rest/uploads/"))
        .count();
    assert_eq!(to_rest, 2);
    let stored = k.inspect.file(&remote.id).unwrap();
    assert_eq!(k.sandbox.store().read(&stored.0).await.unwrap(), data);
}

#[tokio::test]
async fn a_503_before_the_send_is_not_sent_retryable_and_a_retry_sends_once() {
    let k = kit().await;
    let p = k.provider();
    let msg = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .subject("before the point of no return")
            .attach(Attachment::from_bytes("a.txt", "hello"))
            .build()
            .unwrap()
    };
    // The draft is refused once with 503: nothing was created, so it is asked for again.
    k.sandbox
        .faults()
        .add(rule("POST /rest/mail/actions/sendFile", FaultAction::status(503)).nth(1));
    let receipt = p.send(msg()).await.unwrap();
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 2);
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    assert!(k.sandbox.outbox().get(&receipt.message_id).is_some());
    k.sandbox.faults().clear();

    // The attachment's upload is refused with 503 on every try: a clean failure, the draft
    // goes, nothing is sent, and the error says so and may be retried.
    k.sandbox.faults().add(rule(
        "POST /rest/mail/*/actions/initiateUpload",
        FaultAction::status(503),
    ));
    let e = p.send(msg()).await.unwrap_err();
    assert!(e.is_not_sent(), "{e}");
    assert!(!e.outcome_unknown(), "{e}");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("the message was not sent"), "{e}");
    assert!(k.inspect.drafts().is_empty(), "the draft was deleted");
    assert_eq!(k.count("PUT", "/rest/mail/"), 1, "only the first send's");
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);

    // Sending again once the service is back delivers exactly one more.
    k.sandbox.faults().clear();
    let again = p.send(msg()).await.unwrap();
    assert_eq!(k.sandbox.outbox().delivered_total(), 2);
    assert!(k.sandbox.outbox().get(&again.message_id).is_some());
    assert!(k.inspect.drafts().is_empty());
    assert_eq!(k.inspect.open_uploads(), 0);
}

#[tokio::test]
async fn an_answer_cut_while_read_before_the_send_is_asked_again() {
    let k = kit().await;
    let p = k.provider();
    // The upload settings arrive cut short: a read, so asked again rather than given up.
    k.sandbox.faults().add(
        rule(
            "GET /rest/uploads/config",
            FaultAction::Truncate { keep: Some(3) },
        )
        .nth(1),
    );
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .build()
        .unwrap();
    p.send(msg).await.unwrap();
    assert_eq!(k.count("GET", "/rest/uploads/config"), 2);
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
}

#[tokio::test]
async fn a_lost_answer_to_the_send_that_cannot_be_checked_is_maybe_sent() {
    let k = kit().await;
    let p = k.provider();
    // The PUT is processed but its answer is cut, and the message's state cannot be read.
    lose_the_first_send_answer(&k);
    k.sandbox
        .faults()
        .add(rule("GET /rest/mail/*", FaultAction::status(503)));
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("in doubt")
        .build()
        .unwrap();
    let e = p.send(msg).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert!(!e.is_not_sent(), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("may have been sent"), "{shown}");
    assert!(shown.contains("before sending again"), "{shown}");
    // It did go: the doubt was real, and the message was neither deleted nor sent twice.
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    assert_eq!(k.count("PUT", "/rest/mail/"), 1);
    assert_eq!(k.count("DELETE", "/rest/mail/"), 0);
}

#[tokio::test]
async fn the_receipt_lists_the_link_roles_and_expiry_and_a_long_body_is_refused_first() {
    let k = kit().await;
    let p = k.provider();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .cc("grace@example.com")
        .bcc("eve@example.com")
        .expires(Expiry::Days(7))
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .attach(Attachment::from_bytes("b.txt", "world"))
        .build()
        .unwrap();
    let receipt = p.send(msg).await.unwrap();
    let mail = k.sandbox.outbox().get(&receipt.message_id).unwrap();
    // The one link the service made for the message's files, as it gave it.
    assert_eq!(receipt.links.len(), 1, "{:?}", receipt.links);
    assert_eq!(receipt.links[0].url, mail.details["downloadLink"]);
    assert!(receipt.links[0].url.starts_with(k.sandbox.base_url()));
    let last_day = time::OffsetDateTime::now_utc().date() + time::Duration::days(7);
    assert_eq!(receipt.expires, Some(last_day));
    assert_eq!(receipt.to, ["ada@example.com"]);
    assert_eq!(receipt.cc, ["grace@example.com"]);
    assert_eq!(receipt.bcc, ["eve@example.com"]);

    // A body of exactly the limit goes; the sandbox holds the service to the same limit.
    let limit = 64 << 10;
    let at_limit = SecureMessage::builder()
        .to("ada@example.com")
        .text("x".repeat(limit))
        .build()
        .unwrap();
    let sent = p.send(at_limit).await.unwrap();
    let mail = k.sandbox.outbox().get(&sent.message_id).unwrap();
    assert_eq!(mail.text_body.map(|b| b.len()), Some(limit));

    // One byte more is refused before any request, naming the limit.
    let before = k.sandbox.journal().len();
    let over = SecureMessage::builder()
        .to("ada@example.com")
        .text("x".repeat(limit + 1))
        .build()
        .unwrap();
    let e = p.send(over).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("65536 bytes"), "{e}");
    assert!(!e.to_string().contains("ERR_"), "{e}");
    assert_eq!(k.sandbox.journal().len(), before, "no request was made");
}

#[tokio::test]
async fn a_200_to_the_send_with_an_unexpected_shape_is_a_success_once() {
    let k = kit().await;
    let p = k.provider();
    // `variables` as the v28 specification gives them (strings), not as servers send them.
    k.inspect.string_variables(true);
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("odd answer")
        .attach(Attachment::from_bytes("a.txt", "hello"))
        .build()
        .unwrap();
    let receipt = p.send(msg).await.unwrap();
    assert_eq!(receipt.status, SendStatus::Sent);
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    let mail = k.sandbox.outbox().get(&receipt.message_id).unwrap();
    assert_eq!(
        k.count("PUT", "/rest/mail/"),
        1,
        "the send was not repeated"
    );
    assert_eq!(k.count("DELETE", "/rest/mail/"), 0, "no delete was tried");
    // The package's link is still read; the junk beside it is ignored.
    assert_eq!(receipt.links.len(), 1, "{:?}", receipt.links);
    assert_eq!(receipt.links[0].url, mail.details["downloadLink"]);
}

#[tokio::test]
async fn not_a_draft_after_a_lost_answer_is_checked_and_a_refusal_that_cannot_delete_is_in_doubt() {
    let k = kit().await;
    let p = k.provider();
    // The first PUT is processed but its answer is cut; the check right after still sees a
    // draft (the service is slow to update it), so the send is tried again and the service
    // answers "not a draft": the first try sent it.
    lose_the_first_send_answer(&k);
    show_the_message_once_as(&k, r#"{"id":"stale-view","status":"draft"}"#);
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("raced")
        .build()
        .unwrap();
    let receipt = p.send(msg.clone()).await.unwrap();
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
    assert!(k.sandbox.outbox().get(&receipt.message_id).is_some());
    assert_eq!(k.count("PUT", "/rest/mail/"), 2);
    assert_eq!(k.count("DELETE", "/rest/mail/"), 0);

    // A refusal whose draft cannot be deleted afterwards is not known to have sent nothing.
    k.sandbox.faults().add(
        rule(
            "PUT /rest/mail/*/actions/sendFile",
            FaultAction::status(403).with_body(
                "application/json",
                r#"{"errors":[{"code":"ERR_ENTITY_EMAIL_NOT_DRAFT","message":"The email is not a draft"}]}"#,
            ),
        )
        .nth(1),
    );
    k.sandbox
        .faults()
        .add(rule("DELETE /rest/mail/*", FaultAction::status(503)));
    let e = p.send(msg).await.unwrap_err();
    assert!(!e.is_not_sent(), "{e}");
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("could not be deleted"), "{e}");
}

#[tokio::test]
async fn a_500_to_the_draft_is_not_asked_again_but_a_503_is() {
    let k = kit().await;
    let p = k.provider();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("draft")
        .build()
        .unwrap();
    // A 500 may come after the draft was made: asking again could leave an orphan draft.
    k.sandbox
        .faults()
        .add(rule("POST /rest/mail/actions/sendFile", FaultAction::status(500)).nth(1));
    let e = p.send(msg.clone()).await.unwrap_err();
    assert!(e.is_not_sent(), "{e}");
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 1);
    assert_eq!(k.sandbox.outbox().delivered_total(), 0);
    // A 503 says the service did not take it: asked again, and the send goes once.
    k.sandbox
        .faults()
        .add(rule("POST /rest/mail/actions/sendFile", FaultAction::status(503)).nth(1));
    p.send(msg).await.unwrap();
    assert_eq!(k.count("POST", "/rest/mail/actions/sendFile"), 3);
    assert_eq!(k.sandbox.outbox().delivered_total(), 1);
}

#[tokio::test]
async fn a_cut_answer_to_a_creating_call_is_not_sent_again() {
    let k = kit().await;
    let p = k.provider();
    // The folder is made, but the answer saying so is cut while read.
    k.sandbox.faults().add(
        rule(
            "POST /rest/folders/*/folders",
            FaultAction::Truncate { keep: Some(3) },
        )
        .nth(1),
    );
    let req = UploadRequest::builder(Attachment::from_bytes("a.txt", "hello"))
        .folder("My Folder/new")
        .create_parents(true)
        .build()
        .unwrap();
    let _ = p.upload(req).await;
    // One creating request, whatever came of it: a second would make a second folder or fail.
    let creating = k
        .sandbox
        .journal()
        .snapshot()
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/folders"))
        .count();
    assert_eq!(creating, 1);
    assert!(k.inspect.folder_exists("My Folder/new"));
}

#[tokio::test]
async fn a_message_in_state_error_after_a_lost_answer_may_have_been_sent() {
    let k = kit().await;
    let p = k.provider();
    lose_the_first_send_answer(&k);
    show_the_message_once_as(
        &k,
        r#"{"id":"any","status":"error","error":"relay refused two recipients"}"#,
    );
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("error state")
        .build()
        .unwrap();
    let e = p.send(msg).await.unwrap_err();
    assert!(!e.is_not_sent(), "{e}");
    assert!(e.outcome_unknown(), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("\"error\""), "{shown}");
    assert!(shown.contains("relay refused two recipients"), "{shown}");
    assert!(shown.contains("may have been sent"), "{shown}");
    assert_eq!(k.count("DELETE", "/rest/mail/"), 0);
}
