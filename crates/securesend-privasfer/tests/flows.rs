//! The adapter against the Privasfer sandbox: inbox and manual downloads compared by SHA-256,
//! expiry, wrong PIN, refused keys, rate limits, key revocation, and refusals before any request.

mod support;

use std::time::Duration;

use securesend_core::{
    Attachment, DownloadRequest, InboxQuery, Provider, SavedFile, SecureMailer, SecureMessage,
    UploadRequest, Uploader,
};
use securesend_privasfer::ListQuery;
use securesend_sandbox::privasfer::TEMPORARY_KEY_KIND;
use securesend_sandbox::{
    FaultAction, FaultRule, ManualClock, RateLimit, RateLimitSetting, Route, SandboxOptions,
};
use support::*;

fn no_waits() -> securesend_core::http::Sleeper {
    Waits::default().sleeper(None)
}

async fn save(p: &Provider, id: &str, dir: &std::path::Path) -> securesend_core::Result<SavedFile> {
    p.download(DownloadRequest::new(id))
        .await?
        .save_to(dir)
        .await
}

fn count(calls: &[String], call: &str) -> usize {
    calls.iter().filter(|c| c.as_str() == call).count()
}

#[tokio::test]
async fn inbox_lists_every_seeded_mail_and_each_listed_file_downloads_by_sha256() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let seeded = seeded_files(&sb);
    let mails = seeded_mails(&sb, "inbox");
    let dir = tempfile::tempdir().unwrap();

    let inbox = p
        .inbox(InboxQuery::all().sorted_by("received_at", false))
        .await
        .unwrap();
    let subjects: Vec<_> = inbox.iter().map(|m| m.subject.clone().unwrap()).collect();
    assert_eq!(
        subjects,
        ["Contract for signature", "Holiday photos", "Q3 report"]
    );
    for message in &inbox {
        let seed = &mails[message.subject.as_deref().unwrap()];
        assert_eq!(message.id, format!("mail:{}", seed.id));
        assert_eq!(
            message.from.as_deref(),
            Some("Grace Hopper <grace@example.com>")
        );
        assert!(message.received.is_some());
        assert_eq!(message.files.len(), 1, "{message:?}");
        let listed = &message.files[0];
        let saved = save(&p, &listed.id, dir.path())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", listed.id));
        assert!(
            saved.path.starts_with(dir.path()),
            "{}",
            saved.path.display()
        );
        let files = seed.details["files"].as_array().unwrap();
        if files.len() == 1 {
            // One file: its own name (sanitised) and bytes.
            let item = seeded.values().find(|f| f.id == files[0]).unwrap();
            assert_eq!(listed.id, format!("mail:{}/{}", seed.id, item.id));
            assert_eq!(listed.size, item.size);
            assert_eq!(Some(sha256_file(&saved.path)), item.sha256);
            assert_eq!(
                saved.path.file_name().unwrap().to_str().unwrap(),
                securesend_core::names::sanitize_file_name(&item.name)
            );
        } else {
            // Several: one archive holding each file byte for byte.
            assert_eq!(listed.id, format!("mail:{}", seed.id));
            let identifier = seed.details["identifier"].as_str().unwrap();
            assert_eq!(
                saved.path,
                dir.path().join(format!("privasfer-{identifier}.zip"))
            );
            let mut members = zip_members(&std::fs::read(&saved.path).unwrap());
            members.sort();
            let mut expected: Vec<_> = files
                .iter()
                .map(|id| {
                    let item = seeded.values().find(|f| f.id == *id).unwrap();
                    (item.name.clone(), item.sha256.clone().unwrap())
                })
                .collect();
            expected.sort();
            assert_eq!(members, expected);
        }
    }
    // The hostile name stayed inside the directory.
    assert!(dir.path().join("_._Q3 report_final_.pdf").is_file());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    // Inbox downloads use the mail's download (no manual one); every key was revoked.
    let calls = calls(&sb);
    assert_eq!(count(&calls, "POST /api/downloads 201"), 0, "{calls:#?}");
    assert_eq!(count(&calls, "POST /api/keys 201"), 3, "{calls:#?}");
    assert_eq!(count(&calls, "DELETE /api/keys/{key} 204"), 3, "{calls:#?}");
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn manual_download_of_an_own_file_follows_the_documented_steps() {
    let sb = sandbox(SandboxOptions::default()).await;
    let pv = provider(&sb, &[], no_waits());
    let p = pv.clone().into_provider();
    let report = &seeded_files(&sb)["report.pdf"];
    let files = pv.files(&ListQuery::all()).await.unwrap();
    let listed = files.iter().find(|f| f.name == "report.pdf").unwrap();
    assert_eq!(
        listed.download_id.as_deref(),
        Some(format!("file:{}", report.id).as_str())
    );
    sb.journal().clear();

    let dir = tempfile::tempdir().unwrap();
    let saved = save(&p, &format!("file:{}", report.id), dir.path())
        .await
        .unwrap();
    assert_eq!(saved.path, dir.path().join("report.pdf"));
    assert_eq!(Some(saved.checksums.sha256.clone().unwrap()), report.sha256);
    assert_eq!(Some(sha256_file(&saved.path)), report.sha256);

    assert_eq!(
        calls(&sb),
        [
            "GET /api/files/{id} 200",
            "POST /api/keys 201",
            "POST /api/downloads 201",
            "POST /api/downloads/{id}/keys 201",
            "GET /api/downloads/{id} 200",
            "DELETE /api/keys/{key} 204",
        ]
    );
    let journal = sb.journal().snapshot();
    let token = sb.credentials().get("token").unwrap();
    for e in &journal[..4] {
        assert_eq!(
            e.header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
        assert_eq!(e.header("accept"), Some("application/json"));
    }
    // The request bodies, byte for byte.
    let pin = sb.credentials().get("pin").unwrap();
    let body = |i: usize| journal[i].body.as_ref().unwrap().sha256.clone().unwrap();
    assert_eq!(
        body(1),
        sha256_hex(format!(r#"{{"pin":"{pin}"}}"#).as_bytes())
    );
    assert_eq!(journal[1].header("content-type"), Some("application/json"));
    assert_eq!(
        body(2),
        sha256_hex(format!(r#"{{"files":["{}"]}}"#, report.id).as_bytes())
    );
    let temp_key = journal[5].path.rsplit('/').next().unwrap();
    assert_eq!(
        body(3),
        sha256_hex(format!(r#"{{"pinKey":"{temp_key}"}}"#).as_bytes())
    );
    assert!(journal[4].query.as_deref().unwrap().starts_with("key="));
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn an_expired_download_is_refused_and_replaced_by_a_new_one() {
    let clock = ManualClock::new();
    // The first public-key request waits 61 s of sandbox time: the download it names expires.
    let delay = FaultRule::new(
        Route::parse("POST /api/downloads/*/keys").unwrap(),
        FaultAction::Delay(Duration::from_secs(61)),
    )
    .first(1);
    let sb = sandbox(SandboxOptions::default().clock(clock.clock()).fault(delay)).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let report = seeded_files(&sb)["report.pdf"].clone();
    let dir = tempfile::tempdir().unwrap();
    let task = {
        let (p, id, dir) = (
            p.clone(),
            format!("file:{}", report.id),
            dir.path().to_owned(),
        );
        tokio::spawn(async move { save(&p, &id, &dir).await })
    };
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(61));
    let saved = task.await.unwrap().unwrap();
    assert_eq!(Some(sha256_file(&saved.path)), report.sha256);
    let calls = calls(&sb);
    assert_eq!(
        calls,
        [
            "GET /api/files/{id} 200",
            "POST /api/keys 201",
            "POST /api/downloads 201",
            "POST /api/downloads/{id}/keys 404",
            "POST /api/downloads 201",
            "POST /api/downloads/{id}/keys 201",
            "GET /api/downloads/{id} 200",
            "DELETE /api/keys/{key} 204",
        ]
    );
    // Two different downloads: the expired one was not reused.
    let j = sb.journal().snapshot();
    assert_ne!(j[3].path, j[5].path);
}

#[tokio::test]
async fn a_used_manual_download_is_never_fetched_twice() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let figures = seeded_files(&sb)["figures.csv"].clone();
    let dir = tempfile::tempdir().unwrap();
    let id = format!("file:{}", figures.id);
    save(&p, &id, dir.path()).await.unwrap();
    let again = tempfile::tempdir().unwrap();
    save(&p, &id, again.path()).await.unwrap();
    let j = sb.journal().snapshot();
    let fetched: Vec<_> = j
        .iter()
        .filter(|e| e.method == "GET" && e.route.as_deref() == Some("/api/downloads/{id}"))
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(fetched.len(), 2);
    assert_ne!(
        fetched[0], fetched[1],
        "each download is created for one fetch"
    );
}

#[tokio::test]
async fn a_wrong_pin_is_refused_naming_the_field_before_any_download_exists() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[("pin", "wrong1".into())], no_waits()).into_provider();
    let report = &seeded_files(&sb)["report.pdf"];
    let dir = tempfile::tempdir().unwrap();
    let e = save(&p, &format!("file:{}", report.id), dir.path())
        .await
        .unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert_eq!(e.status(), Some(422));
    assert_eq!(e.service_code(), Some("pin"));
    assert_eq!(e.service_message(), Some("Invalid PIN."));
    let line = e.to_string();
    assert!(
        line.starts_with("privasfer create temporary key: unauthenticated:"),
        "{line}"
    );
    assert!(line.contains("`pin`") && !line.contains("wrong1"), "{line}");
    assert_eq!(
        calls(&sb),
        ["GET /api/files/{id} 200", "POST /api/keys 422"]
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // The doctor says the same.
    let e = p.authenticate().await.unwrap_err();
    assert!(
        e.is_unauthenticated() && e.service_code() == Some("pin"),
        "{e}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthenticated() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[("token", "x".repeat(60).into())], no_waits()).into_provider();
    let e = p.inbox(InboxQuery::all()).await.unwrap_err();
    assert!(e.is_unauthenticated() && e.status() == Some(401), "{e}");
    assert_eq!(e.service_message(), Some("Unauthenticated."));
    assert!(e.to_string().contains("`token`"), "{e}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_on_every_step() {
    let clock = ManualClock::new();
    let options = SandboxOptions::default()
        .clock(clock.clock())
        .rate_limit(RateLimitSetting::Limit(RateLimit::per_minute(3)));
    let sb = sandbox(options).await;
    let waits = Waits::default();
    // Privasfer's window is a minute, so `Retry-After` may be 60 s: more than the default
    // retry budget (60 s, time spent included) allows.
    let mut http = toml::Table::new();
    http.insert("max_retry_secs".into(), 120.into());
    let p = provider(
        &sb,
        &[("http", http.into())],
        waits.sleeper(Some(clock.clone())),
    )
    .into_provider();
    let contract = &seeded_mails(&sb, "inbox")["Contract for signature"];
    let file = contract.details["files"][0].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Mail, key, public key fill the window; the byte fetch (sent once per attempt) is
    // refused, waited out, and the attempt starts over.
    let saved = save(&p, &format!("mail:{}/{file}", contract.id), dir.path())
        .await
        .unwrap();
    let item = seeded_files(&sb)
        .into_values()
        .find(|f| f.id == file)
        .unwrap();
    assert_eq!(Some(sha256_file(&saved.path)), item.sha256);
    assert_eq!(waits.get(), [Duration::from_secs(60)]);
    assert_eq!(
        calls(&sb),
        [
            "GET /api/inbox/{id} 200",
            "POST /api/keys 201",
            "POST /api/downloads/{id}/keys 201",
            "GET /api/downloads/{id} 429",
            "POST /api/downloads/{id}/keys 201",
            "GET /api/downloads/{id} 200",
            "DELETE /api/keys/{key} 204",
        ]
    );
    let refused = &sb.journal().snapshot()[3];
    assert_eq!(refused.status, Some(429));
    // The window is full again (public key, bytes, revocation): a listing is refused, and
    // the HTTP layer retries it after `Retry-After`.
    p.inbox(InboxQuery::all()).await.unwrap();
    assert_eq!(waits.get().len(), 2, "{:?}", waits.get());
    let tail = calls(&sb).split_off(7);
    assert_eq!(tail, ["GET /api/inbox 429", "GET /api/inbox 200"]);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_retry_budget_is_reported_with_its_wait() {
    let clock = ManualClock::new();
    let options = SandboxOptions::default()
        .clock(clock.clock())
        .rate_limit(RateLimitSetting::Limit(RateLimit::per_minute(1)));
    let sb = sandbox(options).await;
    let mut http = toml::Table::new();
    http.insert("max_retry_secs".into(), 10.into());
    let waits = Waits::default();
    let p = provider(
        &sb,
        &[("http", http.into())],
        waits.sleeper(Some(clock.clone())),
    )
    .into_provider();
    p.inbox(InboxQuery::all()).await.unwrap();
    let e = p.inbox(InboxQuery::all()).await.unwrap_err();
    assert!(e.is_rate_limited(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    assert!(waits.get().is_empty(), "no wait past the budget");
}

#[tokio::test]
async fn the_temporary_key_is_revoked_when_a_download_fails() {
    let sb = sandbox(SandboxOptions::default().fault(FaultRule::new(
        Route::parse("GET /api/downloads/*").unwrap(),
        FaultAction::status(500),
    )))
    .await;
    let waits = Waits::default();
    let p = provider(&sb, &[], waits.sleeper(None)).into_provider();
    let report = &seeded_files(&sb)["report.pdf"];
    let dir = tempfile::tempdir().unwrap();
    let e = save(&p, &format!("file:{}", report.id), dir.path())
        .await
        .unwrap_err();
    assert!(e.is_unavailable() && e.status() == Some(500), "{e}");
    let calls = calls(&sb);
    // Three attempts, each with its own download; then the key goes.
    assert_eq!(count(&calls, "POST /api/downloads 201"), 3, "{calls:#?}");
    assert_eq!(calls.last().unwrap(), "DELETE /api/keys/{key} 204");
    assert_eq!(waits.get().len(), 2);
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn an_abandoned_download_still_revokes_its_key() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let report = &seeded_files(&sb)["report.pdf"];
    let download = p
        .download(DownloadRequest::new(format!("file:{}", report.id)))
        .await
        .unwrap();
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 1);
    drop(download);
    sb.journal()
        .wait_until(|j| {
            j.iter()
                .any(|e| e.method == "DELETE" && e.status == Some(204))
        })
        .await;
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn a_kept_key_serves_several_downloads_and_close_revokes_it() {
    let sb = sandbox(SandboxOptions::default()).await;
    let pv = provider(&sb, &[("reuse_temporary_key", true.into())], no_waits());
    let p = pv.clone().into_provider();
    let dir = tempfile::tempdir().unwrap();
    for name in ["report.pdf", "figures.csv"] {
        let f = &seeded_files(&sb)[name];
        save(&p, &format!("file:{}", f.id), dir.path())
            .await
            .unwrap();
    }
    let calls1 = calls(&sb);
    assert_eq!(count(&calls1, "POST /api/keys 201"), 1, "{calls1:#?}");
    assert_eq!(count(&calls1, "DELETE /api/keys/{key} 204"), 0);
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 1);
    pv.close().await.unwrap();
    assert_eq!(calls(&sb).last().unwrap(), "DELETE /api/keys/{key} 204");
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn a_key_the_service_no_longer_knows_is_replaced_once() {
    let clock = ManualClock::new();
    let sb = sandbox(SandboxOptions::default().clock(clock.clock())).await;
    let pv = provider(&sb, &[("reuse_temporary_key", true.into())], no_waits());
    let p = pv.clone().into_provider();
    let dir = tempfile::tempdir().unwrap();
    let f = seeded_files(&sb)["report.pdf"].clone();
    save(&p, &format!("file:{}", f.id), dir.path())
        .await
        .unwrap();
    // The service's hour passes while this client still trusts its key.
    clock.advance(Duration::from_secs(3600));
    let again = tempfile::tempdir().unwrap();
    let saved = save(&p, &format!("file:{}", f.id), again.path())
        .await
        .unwrap();
    assert_eq!(Some(sha256_file(&saved.path)), f.sha256);
    let calls = calls(&sb);
    assert_eq!(count(&calls, "POST /api/keys 201"), 2, "{calls:#?}");
    assert_eq!(
        count(&calls, "POST /api/downloads/{id}/keys 422"),
        1,
        "{calls:#?}"
    );
    pv.close().await.unwrap();
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn concurrent_downloads_share_one_key() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let files = seeded_files(&sb);
    let dir = tempfile::tempdir().unwrap();
    let (ida, idb) = (
        format!("file:{}", files["report.pdf"].id),
        format!("file:{}", files["figures.csv"].id),
    );
    let (a, b) = tokio::join!(save(&p, &ida, dir.path()), save(&p, &idb, dir.path()));
    assert_eq!(
        Some(sha256_file(&a.unwrap().path)),
        files["report.pdf"].sha256
    );
    assert_eq!(
        Some(sha256_file(&b.unwrap().path)),
        files["figures.csv"].sha256
    );
    let calls = calls(&sb);
    assert_eq!(count(&calls, "POST /api/keys 201"), 1, "{calls:#?}");
    assert_eq!(count(&calls, "DELETE /api/keys/{key} 204"), 1, "{calls:#?}");
}

#[tokio::test]
async fn other_accounts_files_and_shared_mail_files_are_refused_without_a_key() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let dir = tempfile::tempdir().unwrap();
    let private = &seeded_files(&sb)["private.txt"];
    let e = save(&p, &format!("file:{}", private.id), dir.path())
        .await
        .unwrap_err();
    assert!(e.is_not_found() && e.status() == Some(404), "{e}");
    let photos = &seeded_mails(&sb, "inbox")["Holiday photos"];
    let one = photos.details["files"][0].as_str().unwrap();
    let e = save(&p, &format!("mail:{}/{one}", photos.id), dir.path())
        .await
        .unwrap_err();
    assert!(e.is_unsupported(), "{e}");
    assert!(
        e.to_string().contains(&format!("mail:{}", photos.id)),
        "{e}"
    );
    let e = save(&p, "file:../../etc/passwd", dir.path())
        .await
        .unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    assert_eq!(
        calls(&sb),
        ["GET /api/files/{id} 404", "GET /api/inbox/{id} 200"]
    );
    assert_eq!(sb.tokens().live(TEMPORARY_KEY_KIND), 0);
}

#[tokio::test]
async fn send_and_upload_are_refused_before_any_request_saying_why() {
    let sb = sandbox(SandboxOptions::default()).await;
    let pv = provider(&sb, &[], no_waits());
    let p = pv.clone().into_provider();
    let message = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .attach(Attachment::from_bytes("a.txt", "a"))
            .build()
            .unwrap()
    };
    let upload = || {
        UploadRequest::builder(Attachment::from_bytes("a.txt", "a"))
            .build()
            .unwrap()
    };
    let e = p.send(message()).await.unwrap_err();
    assert!(
        e.is_unsupported() && e.to_string().contains("privasfer"),
        "{e}"
    );
    assert!(p.upload(upload()).await.unwrap_err().is_unsupported());
    let e = SecureMailer::send(&pv, message()).await.unwrap_err();
    assert!(
        e.is_unsupported() && e.to_string().contains("documents no send request"),
        "{e}"
    );
    let e = Uploader::upload(&pv, upload()).await.unwrap_err();
    assert!(
        e.is_unsupported() && e.to_string().contains("documents no upload request"),
        "{e}"
    );
    let caps = p.capabilities();
    assert!(caps.download && caps.inbox && !caps.send && !caps.upload);
    assert!(sb.journal().is_empty());
}

#[tokio::test]
async fn sent_mails_and_files_are_listed_with_sort_and_keyword() {
    let sb = sandbox(SandboxOptions::default()).await;
    let pv = provider(&sb, &[], no_waits());
    let sent = pv
        .sent_mails(&ListQuery::all().sorted_by("sent_at", true))
        .await
        .unwrap();
    let subjects: Vec<_> = sent.iter().map(|m| m.subject.clone().unwrap()).collect();
    assert_eq!(subjects, ["Overview", "Figures for Q3"]);
    assert_eq!(
        sent[0].opened_at, None,
        "\"opened_at\": \"\" means not opened"
    );
    assert!(sent[1].opened_at.unwrap() > sent[1].sent_at.unwrap());
    assert_eq!(
        sent[0].recipient_email.as_deref(),
        Some("grace@example.com")
    );
    let overview = &seeded_files(&sb)["Übersicht 2026.txt"];
    assert_eq!(
        sent[0].files[0].download_id.as_deref(),
        Some(format!("file:{}", overview.id).as_str())
    );

    let by_size = pv
        .files(&ListQuery::all().sorted_by("size", true))
        .await
        .unwrap();
    let names: Vec<_> = by_size.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["report.pdf", "Übersicht 2026.txt", "figures.csv"]);
    assert_eq!(by_size[0].encrypted_size, Some(78_508));
    let found = pv
        .files(&ListQuery::all().with_keyword("ÜBERSICHT"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let inbox = pv
        .inbox_mails(&ListQuery::all().with_keyword("photos"))
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].files.len(), 2);
    assert!(inbox[0].files.iter().all(|f| f.download_id.is_none()));
    let queries: Vec<_> = sb
        .journal()
        .snapshot()
        .iter()
        .map(|e| e.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        [
            "include=download%2Cdownload.files&sort=-sent_at",
            "sort=-size",
            "keyword=%C3%9CBERSICHT",
            "include=download%2Cdownload.files&keyword=photos",
        ]
    );
    // A sort field the list does not have is refused before any request.
    let before = sb.journal().len();
    let e = pv
        .files(&ListQuery::all().sorted_by("received_at", false))
        .await
        .unwrap_err();
    assert!(e.is_invalid_input(), "{e}");
    assert_eq!(sb.journal().len(), before);
}

#[tokio::test]
async fn a_gone_inbox_download_rereads_the_mail_once_then_says_what_to_check() {
    let gone = FaultRule::new(
        Route::parse("GET /api/downloads/*").unwrap(),
        FaultAction::status(404).with_body("application/json", r#"{"message":"Not Found"}"#),
    );
    let sb = sandbox(SandboxOptions::default().fault(gone)).await;
    let p = provider(&sb, &[], no_waits()).into_provider();
    let contract = &seeded_mails(&sb, "inbox")["Contract for signature"];
    let dir = tempfile::tempdir().unwrap();
    let e = save(&p, &format!("mail:{}", contract.id), dir.path())
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("`download_url`"), "{e}");
    let mut calls = calls(&sb);
    // An injected answer has no route: the path stands in for it.
    let fetch = calls.remove(3);
    assert!(
        fetch.starts_with("GET /api/downloads/") && fetch.ends_with(" 404"),
        "{fetch}"
    );
    assert_eq!(
        calls,
        [
            "GET /api/inbox/{id} 200",
            "POST /api/keys 201",
            "POST /api/downloads/{id}/keys 201",
            "GET /api/inbox/{id} 200",
            "DELETE /api/keys/{key} 204",
        ]
    );
}

#[tokio::test]
async fn a_send_is_refused_before_any_request_as_not_sent() {
    let sb = sandbox(SandboxOptions::default()).await;
    let p = provider(&sb, &[], no_waits());
    let message = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("a.txt", "a"))
        .build()
        .unwrap();
    let e = p.send(message).await.unwrap_err();
    // Privasfer has no send request, so no step can leave the message in doubt.
    assert!(e.is_unsupported(), "{e}");
    assert!(e.is_not_sent(), "{e}");
    assert!(!e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("not sent"), "{e}");
    assert!(calls(&sb).is_empty(), "{:?}", calls(&sb));
    assert_eq!(sb.outbox().count(), 0);
}

#[tokio::test]
async fn doctor_reaches_only_privasfer_and_checks_the_pin_afresh() {
    // Any HTTP server answering is not enough to pass "reach".
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", mockito::Matcher::Any)
        .with_body("hello")
        .create_async()
        .await;
    let sb = sandbox(SandboxOptions::default()).await;
    let plain = provider(
        &sb,
        &[("base_url", format!("{}/api", server.url()).into())],
        no_waits(),
    )
    .into_provider();
    let e = plain.reach().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("does not look like a Privasfer server"),
        "{e}"
    );

    // A key kept from a download is no answer about the PIN: the doctor asks for one of its
    // own and revokes it, leaving the kept key alone.
    let pv = provider(&sb, &[("reuse_temporary_key", true.into())], no_waits());
    let p = pv.clone().into_provider();
    let dir = tempfile::tempdir().unwrap();
    let f = &seeded_files(&sb)["report.pdf"];
    save(&p, &format!("file:{}", f.id), dir.path())
        .await
        .unwrap();
    assert_eq!(count(&calls(&sb), "POST /api/keys 201"), 1);
    p.reach().await.unwrap();
    p.authenticate().await.unwrap();
    let after = calls(&sb);
    assert_eq!(count(&after, "POST /api/keys 201"), 2, "{after:#?}");
    assert_eq!(
        sb.tokens().live(TEMPORARY_KEY_KIND),
        1,
        "the kept key stays"
    );
    pv.close().await.unwrap();

    let wrong = provider(&sb, &[("pin", "0000000".into())], no_waits()).into_provider();
    let e = wrong.authenticate().await.unwrap_err();
    assert_eq!(e.kind(), securesend_core::ErrorKind::Unauthenticated, "{e}");
}
