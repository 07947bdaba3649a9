//! The adapter against the sandbox's Tuyu module: real HTTP, real signatures, outcomes read
//! from what the service recorded (outbox, store, journal, site).

use std::time::{Duration, SystemTime};

use securesend_core::checksum::sha256_hex;
use securesend_core::config::{ProfileConfig, Table};
use securesend_core::{
    Attachment, Delivery, DownloadRequest, ErrorKind, Expiry, Provider, SecureMessage,
    UploadRequest,
};
use securesend_sandbox::clock::ManualClock;
use securesend_sandbox::fault::{FaultAction, FaultRule};
use securesend_sandbox::route::Route;
use securesend_sandbox::tuyu::{
    ErrorStatus, OTHER_SITE_USER, SITE_USER, Tuyu, TuyuOptions, WORKSPACE,
};
use securesend_sandbox::{Sandbox, SandboxOptions};
use securesend_tuyu::TuyuProvider;

fn profile(sandbox: &Sandbox, edit: impl FnOnce(&mut Table)) -> ProfileConfig {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    edit(&mut fields);
    ProfileConfig::new("sandbox", "tuyu", fields, ".")
}

fn provider(sandbox: &Sandbox) -> Provider {
    securesend_tuyu::connect(&profile(sandbox, |_| {})).expect("the generated profile connects")
}

async fn start(options: TuyuOptions) -> (Sandbox, Tuyu) {
    let tuyu = Tuyu::new(options);
    let sandbox = Sandbox::start(&tuyu, SandboxOptions::default())
        .await
        .unwrap();
    (sandbox, tuyu)
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn count(sandbox: &Sandbox, method: &str, path: &str) -> usize {
    sandbox.journal().count(&Route::new(method, path).unwrap())
}

#[tokio::test]
async fn one_file_to_one_site_user() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let data = bytes(5000, 1);
    let receipt = provider(&sandbox)
        .send(
            SecureMessage::builder()
                .to(SITE_USER)
                .subject("Drawings")
                .text("Here they are.")
                .download_receipt(true)
                .expires(Expiry::Days(3))
                .attach(Attachment::from_bytes("drawing.pdf", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let mail = sandbox
        .outbox()
        .get(&receipt.message_id)
        .expect("delivered under the receipt's id");
    assert_eq!(sandbox.outbox().count(), 1);
    assert_eq!(mail.to, [SITE_USER]);
    assert_eq!(mail.subject, "Drawings");
    assert_eq!(mail.text_body.as_deref(), Some("Here they are."));
    assert_eq!(mail.details["user_ids"], "102");
    assert_eq!(mail.details["non_users"], "");
    assert_eq!(mail.details["link_expiration"], 3);
    assert_eq!(mail.details["download_receipt"], true);
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].name, "drawing.pdf");
    assert_eq!(mail.attachments[0].sha256, sha256_hex(&data));
    assert_eq!(
        receipt.attachments[0].checksums.sha256.as_deref(),
        Some(sha256_hex(&data).as_str())
    );
    assert_eq!(receipt.recipients, [SITE_USER]);
    // Uploaded into a folder of the message's own, under the workspace.
    let folder = receipt.location.clone().unwrap();
    assert!(
        folder.starts_with(&format!("{WORKSPACE}securesend-")),
        "{folder}"
    );
    assert_eq!(
        receipt.attachments[0].folder.as_deref(),
        Some(folder.as_str())
    );
    // One file, one user: no preparation step; file_send exactly once.
    assert_eq!(count(&sandbox, "POST", "/api/send_files_prep"), 0);
    assert_eq!(count(&sandbox, "POST", "/api/file_send"), 1);
}

#[tokio::test]
async fn three_files_to_four_non_users_use_send_files_prep() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let files: Vec<Vec<u8>> = (0..3).map(|i| bytes(1000 + i * 700, i as u8)).collect();
    let mut b = SecureMessage::builder().subject("Quarter");
    for r in [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ] {
        b = b.to(r);
    }
    for (i, f) in files.iter().enumerate() {
        b = b.attach(Attachment::from_bytes(format!("part-{i}.bin"), f.clone()));
    }
    let receipt = provider(&sandbox).send(b.build().unwrap()).await.unwrap();
    assert_eq!(count(&sandbox, "POST", "/api/send_files_prep"), 1);
    let mail = sandbox.outbox().get(&receipt.message_id).unwrap();
    assert!(mail.details.contains_key("file_preparation_id"));
    assert_eq!(mail.to.len(), 4);
    let mut got: Vec<&str> = mail.attachments.iter().map(|a| a.sha256.as_str()).collect();
    let mut want: Vec<String> = files.iter().map(|f| sha256_hex(f)).collect();
    got.sort_unstable();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn link_delivery_gives_working_public_links() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let data = bytes(3000, 9);
    let receipt = provider(&sandbox)
        .send(
            SecureMessage::builder()
                .to("outside@example.org")
                .delivery(Delivery::Link)
                .expires(Expiry::Days(2))
                .attach(Attachment::from_bytes("link.bin", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);
    assert_eq!(receipt.links.len(), 1);
    let link = &receipt.links[0];
    assert_eq!(link.file.as_deref(), Some("link.bin"));
    assert!(link.expires.is_some());
    assert!(
        link.url
            .starts_with(&format!("{}/downloadPublic/", sandbox.base_url()))
    );
    let body = reqwest::get(&link.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&data));
    assert_eq!(tuyu.site().links(), 1);
}

#[tokio::test]
async fn upload_and_download_round_trip_by_sha256() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let p = provider(&sandbox);
    let data = bytes(700_000, 3);
    let remote = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("Übersicht 2026.bin", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(remote.folder.as_deref(), Some(WORKSPACE));
    assert_eq!(remote.name, "Übersicht 2026.bin");
    let stored = sandbox.store().find_by_sha256(&sha256_hex(&data));
    assert_eq!(stored.len(), 1, "stored once, byte for byte");
    let dir = tempfile::tempdir().unwrap();
    let saved = p
        .download(DownloadRequest::new(&remote.id))
        .await
        .unwrap()
        .save_to(dir.path())
        .await
        .unwrap();
    assert_eq!(saved.path, dir.path().join("Übersicht 2026.bin"));
    assert_eq!(saved.checksums.sha256, Some(sha256_hex(&data)));
    assert_eq!(std::fs::read(&saved.path).unwrap(), data);

    // Same name again: a conflict unless overwriting is asked for.
    let again = || UploadRequest::builder(Attachment::from_bytes("Übersicht 2026.bin", "v2"));
    let e = p.upload(again().build().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let replaced = p
        .upload(again().overwrite(true).build().unwrap())
        .await
        .unwrap();
    assert_eq!(replaced.size, Some(2));
    // An unknown id is refused by the access envelope, and reported as not found.
    let e = p
        .download(DownloadRequest::new("999999"))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn bad_signature_is_unauthenticated_and_nothing_happens() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let p = securesend_tuyu::connect(&profile(&sandbox, |t| {
        t.insert("api_secret".into(), "not-the-secret".into());
    }))
    .unwrap();
    let entries = tuyu.site().entries().len();
    let e = p
        .send(
            SecureMessage::builder()
                .to(SITE_USER)
                .attach(Attachment::from_bytes("a.txt", "a"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert!(!e.to_string().contains("not-the-secret"));
    assert_eq!(sandbox.outbox().delivered_total(), 0);
    assert_eq!(tuyu.site().entries().len(), entries);
    let e = p
        .upload(
            UploadRequest::builder(Attachment::from_bytes("b.txt", "b"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert_eq!(tuyu.site().entries().len(), entries);
}

#[tokio::test]
async fn error_envelopes_are_read_whatever_the_status() {
    let (sandbox, _) = start(TuyuOptions {
        error_status: ErrorStatus::Mapped,
        ..TuyuOptions::default()
    })
    .await;
    let p = securesend_tuyu::connect(&profile(&sandbox, |t| {
        t.insert("api_secret".into(), "wrong".into());
    }))
    .unwrap();
    let e = p.download(DownloadRequest::new("1001")).await.unwrap_err();
    assert!(e.is_unauthenticated() && e.status() == Some(401), "{e}");
    assert_eq!(e.service_code(), Some("Authentication Failed"));
}

#[tokio::test]
async fn clock_skew_is_reported_or_corrected() {
    // The service's clock stands at 2023-11-14; ours is years later.
    let manual = ManualClock::new();
    let tuyu = Tuyu::default();
    let sandbox = Sandbox::start(&tuyu, SandboxOptions::default().clock(manual.clock()))
        .await
        .unwrap();
    let strict = securesend_tuyu::connect(&profile(&sandbox, |t| {
        let mut clock = Table::new();
        clock.insert("sync_from_server".into(), false.into());
        t.insert("clock".into(), clock.into());
    }))
    .unwrap();
    let req = || {
        UploadRequest::builder(Attachment::from_bytes("t.txt", "time"))
            .build()
            .unwrap()
    };
    let e = strict.upload(req()).await.unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert!(e.to_string().contains("clock"), "{e}");
    assert!(
        sandbox
            .store()
            .find_by_sha256(&sha256_hex(b"time"))
            .is_empty()
    );

    // By default the adapter adopts the service's time from its Date header and tries once more.
    let before = sandbox.journal().len();
    let remote = provider(&sandbox).upload(req()).await.unwrap();
    assert_eq!(remote.size, Some(4));
    let entries = &sandbox.journal().snapshot()[before..];
    assert_eq!(entries.len(), 2, "one refused, one accepted");
    let refused = entries[0].note.as_deref().unwrap_or_default();
    assert!(
        refused.contains("timestamp"),
        "refused for its time: {refused}"
    );
    assert_eq!(entries[1].note, None);
    assert_eq!(entries[1].status, Some(200));
    // The sandbox clock did not move: the client followed it.
    let now = manual
        .clock()
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(now, Duration::from_secs(1_700_000_000));
}

#[tokio::test]
async fn silent_drops_are_refused_before_anything_is_sent() {
    let (sandbox, tuyu) = start(TuyuOptions {
        non_user_sends: false,
        ..TuyuOptions::default()
    })
    .await;
    let p = provider(&sandbox);
    let entries = tuyu.site().entries().len();
    // Require-login would drop the non-user silently.
    let e = p
        .send(
            SecureMessage::builder()
                .to(SITE_USER)
                .to("outsider@example.org")
                .require_login(true)
                .attach(Attachment::from_bytes("a.txt", "a"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("outsider@example.org"),
        "{e}"
    );
    // The account may not send to non-users here.
    let e = p
        .send(
            SecureMessage::builder()
                .to("outsider@example.org")
                .attach(Attachment::from_bytes("a.txt", "a"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_permission_denied(), "{e}");
    assert_eq!(count(&sandbox, "POST", "/**"), 0, "only reads happened");
    assert_eq!(tuyu.site().entries().len(), entries);
    assert_eq!(sandbox.outbox().delivered_total(), 0);
    // Site users alone still go through.
    p.send(
        SecureMessage::builder()
            .to(SITE_USER)
            .to(OTHER_SITE_USER)
            .require_login(true)
            .attach(Attachment::from_bytes("a.txt", "a"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        sandbox.outbox().messages()[0].to,
        [SITE_USER, OTHER_SITE_USER]
    );
}

#[tokio::test]
async fn files_of_two_workspaces_are_refused_without_a_request() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let p = TuyuProvider::from_profile(&profile(&sandbox, |_| {})).unwrap();
    let ledger = tuyu
        .site()
        .entries()
        .into_iter()
        .find(|e| e.name == "ledger.csv")
        .unwrap();
    let existing = securesend_core::RemoteFile::new("tuyu", ledger.id.to_string(), "ledger.csv")
        .with_folder(ledger.folder.clone());
    let before = sandbox.journal().len();
    let e = p
        .send_existing(
            SecureMessage::builder()
                .to(SITE_USER)
                .attach(Attachment::from_bytes("a.txt", "a"))
                .build()
                .unwrap(),
            std::slice::from_ref(&existing),
        )
        .await
        .unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("workspaces"),
        "{e}"
    );
    assert_eq!(sandbox.journal().len(), before);
    // The existing file alone goes to a user of its workspace.
    let r = p
        .send_existing(
            SecureMessage::builder()
                .to(OTHER_SITE_USER)
                .build()
                .unwrap(),
            &[existing],
        )
        .await
        .unwrap();
    let mail = sandbox.outbox().get(&r.message_id).unwrap();
    assert_eq!(mail.attachments[0].name, "ledger.csv");
}

#[tokio::test]
async fn a_refused_send_removes_its_uploads_and_an_ambiguous_one_keeps_them() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let p = provider(&sandbox);
    let entries = tuyu.site().entries().len();
    let msg = || {
        SecureMessage::builder()
            .to(SITE_USER)
            .attach(Attachment::from_bytes("x.txt", "x"))
            .build()
            .unwrap()
    };
    let envelope = r#"{"error":{"title":"Send Failed","message":"Please try again or contact customer support."}}"#;
    sandbox.faults().add(
        FaultRule::new(
            Route::new("POST", "/api/file_send").unwrap(),
            FaultAction::status(200).with_body("application/json", envelope),
        )
        .first(1),
    );
    let e = p.send(msg()).await.unwrap_err();
    assert!(!e.outcome_unknown(), "{e}");
    assert_eq!(e.service_code(), Some("Send Failed"));
    assert_eq!(
        tuyu.site().entries().len(),
        entries,
        "the message folder was removed"
    );
    assert_eq!(count(&sandbox, "POST", "/api/file_delete"), 1);

    // The connection breaks after the send went out: no second file_send, files kept.
    sandbox.faults().add(
        FaultRule::new(
            Route::new("POST", "/api/file_send").unwrap(),
            FaultAction::DropAfterBody { bytes: 1 << 20 },
        )
        .first(1),
    );
    let e = p.send(msg()).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("may have been sent"), "{e}");
    assert_eq!(
        count(&sandbox, "POST", "/api/file_send"),
        2,
        "never repeated"
    );
    assert_eq!(
        count(&sandbox, "POST", "/api/file_delete"),
        1,
        "nothing removed"
    );
    assert_eq!(
        tuyu.site().entries().len(),
        entries + 2,
        "folder and file kept"
    );
}

#[tokio::test]
async fn acting_for_a_user_with_user_auth_renews_the_code() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let creds = sandbox.credentials().clone();
    let p = securesend_tuyu::connect(&profile(&sandbox, |t| {
        let mut act = Table::new();
        act.insert(
            "username".into(),
            creds.get("act_as_username").unwrap().into(),
        );
        act.insert(
            "password".into(),
            creds.get("act_as_password").unwrap().into(),
        );
        t.insert("act_as".into(), act.into());
    }))
    .unwrap();
    let msg = || {
        SecureMessage::builder()
            .to(SITE_USER)
            .attach(Attachment::from_bytes("ann.txt", "from ann"))
            .build()
            .unwrap()
    };
    let r = p.send(msg()).await.unwrap();
    assert_eq!(
        sandbox.outbox().get(&r.message_id).unwrap().from,
        "ann@example.com"
    );
    assert_eq!(count(&sandbox, "POST", "/api/user_auth"), 1);
    // Codes expire; the refused call is repeated once with a new code.
    sandbox.tokens().expire_all();
    let r = p.send(msg()).await.unwrap();
    assert_eq!(
        sandbox.outbox().get(&r.message_id).unwrap().from,
        "ann@example.com"
    );
    assert_eq!(count(&sandbox, "POST", "/api/user_auth"), 2);
}

#[tokio::test]
async fn xml_answers_work_end_to_end() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let p = securesend_tuyu::connect(&profile(&sandbox, |t| {
        t.insert("format".into(), "xml".into());
    }))
    .unwrap();
    let data = bytes(2048, 5);
    let r = p
        .send(
            SecureMessage::builder()
                .to(SITE_USER)
                .delivery(Delivery::Link)
                .attach(Attachment::from_bytes("x.bin", data.clone()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.links.len(), 1);
    assert_eq!(
        sandbox.outbox().get(&r.message_id).unwrap().attachments[0].sha256,
        sha256_hex(&data)
    );
    assert!(
        sandbox
            .journal()
            .snapshot()
            .iter()
            .all(|e| e.path.ends_with(".xml"))
    );
}

#[tokio::test]
async fn signing_base_url_matches_the_fact_sheet_host() {
    // The site signs https://acme.filetransfers.net/… while we reach it on loopback.
    let (sandbox, _) = start(TuyuOptions {
        signed_base_url: Some("https://acme.filetransfers.net".into()),
        ..TuyuOptions::default()
    })
    .await;
    let p = provider(&sandbox);
    p.upload(
        UploadRequest::builder(Attachment::from_bytes("s.txt", "s"))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    // Without the setting, the signature covers the loopback URL and is refused.
    let wrong = securesend_tuyu::connect(&profile(&sandbox, |t| {
        t.remove("signing");
    }))
    .unwrap();
    let e = wrong
        .upload(
            UploadRequest::builder(Attachment::from_bytes("t.txt", "t"))
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
}

#[tokio::test]
async fn a_failure_before_file_send_is_not_sent_and_one_of_file_send_may_have_sent() {
    let msg = || {
        SecureMessage::builder()
            .to(SITE_USER)
            .attach(Attachment::from_bytes("x.txt", "x"))
            .build()
            .unwrap()
    };
    for step in ["/api/create_folder", "/api/file_upload"] {
        let (sandbox, tuyu) = start(TuyuOptions::default()).await;
        let entries = tuyu.site().entries().len();
        sandbox.faults().add(FaultRule::new(
            Route::new("POST", step).unwrap(),
            FaultAction::status(503),
        ));
        let e = provider(&sandbox).send(msg()).await.unwrap_err();
        assert!(e.is_not_sent(), "{step}: {e}");
        assert!(!e.outcome_unknown(), "{step}: {e}");
        assert!(e.is_retryable(), "{step}: a 503 is worth another try: {e}");
        assert!(e.to_string().contains("not sent"), "{step}: {e}");
        assert_eq!(sandbox.outbox().count(), 0, "{step}");
        assert_eq!(count(&sandbox, "POST", "/api/file_send"), 0, "{step}");
        assert_eq!(
            tuyu.site().entries().len(),
            entries,
            "{step}: what the send made is removed"
        );
    }

    // On `file_send` itself: a 504 (or a lost answer) may follow a handled request; a 503
    // turns it away unhandled, and the send is cleaned up and worth another try.
    for (status, unclear) in [(504, true), (503, false)] {
        let (sandbox, tuyu) = start(TuyuOptions::default()).await;
        let entries = tuyu.site().entries().len();
        sandbox.faults().add(FaultRule::new(
            Route::new("POST", "/api/file_send").unwrap(),
            FaultAction::status(status),
        ));
        let e = provider(&sandbox).send(msg()).await.unwrap_err();
        assert_eq!(e.is_not_sent(), !unclear, "{status}: {e}");
        assert_eq!(e.outcome_unknown(), unclear, "{status}: {e}");
        if unclear {
            assert!(e.to_string().contains("may have been sent"), "{e}");
            assert_eq!(tuyu.site().entries().len(), entries + 2, "files kept");
        } else {
            assert!(e.is_retryable(), "{e}");
            assert_eq!(tuyu.site().entries().len(), entries, "cleaned up");
        }
        assert_eq!(
            count(&sandbox, "POST", "/api/file_send"),
            1,
            "never repeated"
        );
    }
}

#[tokio::test]
async fn a_cancelled_send_stops_before_file_send_and_removes_its_uploads() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let entries = tuyu.site().entries().len();
    // The second upload hangs, so the signal arrives with the first file on the site.
    sandbox.faults().add(
        FaultRule::new(
            Route::new("POST", "/api/file_upload").unwrap(),
            FaultAction::Delay(Duration::from_secs(3600)),
        )
        .nth(2),
    );
    let cancel = securesend_core::Cancel::new();
    let msg = SecureMessage::builder()
        .to(SITE_USER)
        .attach(Attachment::from_bytes("one.txt", "1"))
        .attach(Attachment::from_bytes("two.txt", "2"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = provider(&sandbox);
    let send = tokio::spawn(async move { p.send(msg).await });
    while count(&sandbox, "POST", "/api/file_upload") < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel.cancel();
    // Bounded: without the signal honoured, the held upload would keep the send for an hour.
    let e = tokio::time::timeout(Duration::from_secs(30), send)
        .await
        .expect("the send stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(e.is_not_sent(), "{e}");
    assert!(e.to_string().contains("was removed"), "{e}");
    assert_eq!(count(&sandbox, "POST", "/api/file_send"), 0);
    assert_eq!(sandbox.outbox().count(), 0);
    assert_eq!(
        tuyu.site().entries().len(),
        entries,
        "the message folder and its file are gone"
    );

    // A signal that fired before the send: no request at all.
    let before = sandbox.journal().snapshot().len();
    let cancel = securesend_core::Cancel::new();
    cancel.cancel();
    let msg = SecureMessage::builder()
        .to(SITE_USER)
        .attach(Attachment::from_bytes("three.txt", "3"))
        .cancel_on(cancel)
        .build()
        .unwrap();
    let e = provider(&sandbox).send(msg).await.unwrap_err();
    assert!(e.is_cancelled() && e.is_not_sent(), "{e}");
    assert_eq!(sandbox.journal().snapshot().len(), before);
}

#[tokio::test]
async fn a_503_on_an_upload_is_a_clean_failure_and_a_502_leaves_it_in_doubt() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let entries = tuyu.site().entries().len();
    let upload = || {
        UploadRequest::builder(Attachment::from_bytes("u.txt", "u"))
            .build()
            .unwrap()
    };
    for (status, unclear) in [(503, false), (502, true)] {
        sandbox.faults().clear();
        sandbox.faults().add(FaultRule::new(
            Route::new("POST", "/api/file_upload").unwrap(),
            FaultAction::status(status),
        ));
        let e = provider(&sandbox).upload(upload()).await.unwrap_err();
        assert_eq!(e.outcome_unknown(), unclear, "{status}: {e}");
        assert!(e.is_retryable(), "{status}: {e}");
    }
    assert_eq!(tuyu.site().entries().len(), entries, "nothing was stored");
}

#[tokio::test]
async fn a_cancelled_upload_stops_and_says_where_the_file_could_be() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let entries = tuyu.site().entries().len();
    sandbox.faults().add(FaultRule::new(
        Route::new("POST", "/api/file_upload").unwrap(),
        FaultAction::Delay(Duration::from_secs(3600)),
    ));
    let cancel = securesend_core::Cancel::new();
    let req = UploadRequest::builder(Attachment::from_bytes("held.bin", bytes(100_000, 4)))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = provider(&sandbox);
    let upload = tokio::spawn(async move { p.upload(req).await });
    // Cancelled once the upload is at the service, however slow the machine.
    let uploads = Route::new("POST", "/api/file_upload").unwrap();
    sandbox
        .journal()
        .wait_until(|j| j.iter().any(|r| r.matches(&uploads)))
        .await;
    cancel.cancel();
    let e = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("the upload stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(
        e.to_string()
            .contains("the upload of held.bin was interrupted"),
        "{e}"
    );
    assert!(e.to_string().contains(WORKSPACE), "names the folder: {e}");
    assert_eq!(tuyu.site().entries().len(), entries, "nothing was stored");
}

#[tokio::test]
async fn a_cancelled_send_without_message_folders_names_the_upload_it_could_not_remove() {
    let (sandbox, tuyu) = start(TuyuOptions::default()).await;
    let uploads = Route::new("POST", "/api/file_upload").unwrap();
    // The second upload is held: the signal comes while its answer is awaited.
    sandbox.faults().add(
        FaultRule::new(
            uploads.clone(),
            FaultAction::Delay(Duration::from_secs(3600)),
        )
        .nth(2),
    );
    let cancel = securesend_core::Cancel::new();
    let msg = SecureMessage::builder()
        .to(SITE_USER)
        .attach(Attachment::from_bytes("one.txt", "1"))
        .attach(Attachment::from_bytes("two.txt", "2"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = securesend_tuyu::connect(&profile(&sandbox, |t| {
        t.insert("message_folders".into(), false.into());
    }))
    .unwrap();
    let entries = tuyu.site().entries().len();
    let send = tokio::spawn(async move { p.send(msg).await });
    sandbox
        .journal()
        .wait_until(|j| j.iter().filter(|r| r.matches(&uploads)).count() >= 2)
        .await;
    cancel.cancel();
    let e = tokio::time::timeout(Duration::from_secs(30), send)
        .await
        .expect("the send stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled() && e.is_not_sent(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("the files it had finished uploading were removed"),
        "{e}"
    );
    assert!(
        text.contains("two.txt, whose upload had not been answered, may be stored in")
            && text.contains("was not removed"),
        "{e}"
    );
    assert_eq!(tuyu.site().entries().len(), entries, "one.txt is gone");
}

#[tokio::test]
async fn a_cancelled_upload_names_the_folders_parents_created() {
    let (sandbox, _) = start(TuyuOptions::default()).await;
    let uploads = Route::new("POST", "/api/file_upload").unwrap();
    sandbox.faults().add(FaultRule::new(
        uploads.clone(),
        FaultAction::Delay(Duration::from_secs(3600)),
    ));
    let cancel = securesend_core::Cancel::new();
    let req = UploadRequest::builder(Attachment::from_bytes("held.bin", bytes(1000, 4)))
        .folder("new/deeper")
        .create_parents(true)
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = provider(&sandbox);
    let upload = tokio::spawn(async move { p.upload(req).await });
    sandbox
        .journal()
        .wait_until(|j| j.iter().any(|r| r.matches(&uploads)))
        .await;
    cancel.cancel();
    let e = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("the upload stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(
        e.to_string().contains(&format!(
            "the folder(s) created for it stay: {WORKSPACE}new/, {WORKSPACE}new/deeper/"
        )),
        "{e}"
    );
}
