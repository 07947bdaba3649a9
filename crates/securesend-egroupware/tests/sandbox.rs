//! Flows against the EGroupware sandbox: sends with 0, 1 and 3 attachments as attachments and
//! as links, WebDAV round trips compared by SHA-256, resumed downloads, credentials, single-use
//! tokens, the compose window, identities and faults.

use std::sync::{Arc, Mutex};

use securesend_core::checksum::sha256_hex;
use securesend_core::config::{ProfileConfig, Table};
use securesend_core::{
    Attachment, Delivery, DownloadRequest, ErrorKind, Progress, ProgressEvent, Provider,
    SecureMessage, SendStatus, UploadRequest,
};
use securesend_egroupware::EgroupwareProvider;
use securesend_sandbox::egroupware::{Egroupware, EgroupwareControl};
use securesend_sandbox::{FaultAction, FaultRule, Route, Sandbox, SandboxOptions};

struct Env {
    sb: Sandbox,
    control: EgroupwareControl,
}

async fn start() -> Env {
    let egw = Egroupware::new();
    let control = egw.control();
    let mut options = SandboxOptions::default();
    // Resumed downloads are checked for their `If-Range`.
    options
        .journal_headers
        .push(http::HeaderName::from_static("if-range"));
    let sb = Sandbox::start(&egw, options).await.unwrap();
    Env { sb, control }
}

impl Env {
    /// The sandbox's generated profile, changed by `tweak`.
    fn profile(&self, tweak: impl FnOnce(&mut Table)) -> ProfileConfig {
        let mut fields = self.sb.profile().clone();
        fields.remove("provider");
        tweak(&mut fields);
        ProfileConfig::new("sandbox", "egroupware", fields, ".")
    }

    fn provider(&self) -> Provider {
        securesend_egroupware::connect(&self.profile(|_| {})).unwrap()
    }

    fn provider_with(&self, tweak: impl FnOnce(&mut Table)) -> Provider {
        securesend_egroupware::connect(&self.profile(tweak)).unwrap()
    }

    fn cred(&self, key: &str) -> String {
        self.sb.credentials().get(key).unwrap().to_owned()
    }

    fn count(&self, method: &str, pattern: &str) -> usize {
        self.sb
            .journal()
            .count(&Route::new(method, pattern).unwrap())
    }
}

/// Deterministic content.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn sends_zero_one_three_attachments_as_attach_and_as_link() {
    let env = start().await;
    let provider = env.provider();
    let sets: [&[(&str, usize)]; 3] = [
        &[],
        &[("one.txt", 1024)],
        &[
            ("tiny.bin", 1),
            ("chunks.bin", (256 << 10) * 2 + 17),
            ("Übersicht – 日本.pdf", 4097),
        ],
    ];
    for delivery in [Delivery::Attach, Delivery::Link] {
        for files in sets {
            let mut b = SecureMessage::builder()
                .to("Ada Lovelace <ada@example.com>")
                .cc("grace@example.com")
                .subject(format!("{delivery:?} {}", files.len()))
                .text("see attached")
                .delivery(delivery);
            for (i, (name, len)) in files.iter().enumerate() {
                b = b.attach(Attachment::from_bytes(*name, data(*len, i as u8)));
            }
            let receipt = provider.send(b.build().unwrap()).await.unwrap();
            assert_eq!(receipt.status, SendStatus::Sent);
            let mail = env
                .sb
                .outbox()
                .get(&receipt.message_id)
                .expect("delivered under the receipt's id");
            assert_eq!(mail.to, ["ada@example.com"]);
            assert_eq!(mail.cc, ["grace@example.com"]);
            assert_eq!(mail.attachments.len(), files.len());
            for (i, (name, len)) in files.iter().enumerate() {
                let expected = sha256_hex(&data(*len, i as u8));
                let got = &mail.attachments[i];
                assert_eq!((got.name.as_str(), got.size), (*name, *len as u64));
                assert_eq!(got.sha256, expected);
                let r = &receipt.attachments[i];
                assert_eq!(r.checksums.sha256.as_deref(), Some(expected.as_str()));
                assert_eq!(r.name, *name);
            }
            let kind = if files.is_empty() {
                None
            } else if delivery == Delivery::Link {
                Some("link")
            } else {
                Some("attach")
            };
            assert_eq!(
                mail.details.get("attachmentType").and_then(|v| v.as_str()),
                kind
            );
        }
    }
    assert_eq!(
        env.count("POST", "/egroupware/groupdav.php/mail/attachments/*"),
        8
    );
    assert_eq!(env.count("POST", "/egroupware/groupdav.php/mail"), 6);
}

#[tokio::test]
async fn attachment_upload_streams_with_progress_and_exact_length() {
    let env = start().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let progress = Progress::new(move |e: &ProgressEvent| seen.lock().unwrap().push(e.clone()));
    let len = (256 << 10) * 3 + 5;
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("big.bin", data(len, 9)))
        .progress(progress)
        .build()
        .unwrap();
    env.provider().send(msg).await.unwrap();
    let events = events.lock().unwrap();
    assert!(
        matches!(events.first(), Some(ProgressEvent::Started { index: 0, total: Some(t), .. }) if *t == len as u64)
    );
    assert!(
        matches!(events.last(), Some(ProgressEvent::Finished { index: 0, bytes }) if *bytes == len as u64)
    );
    let advanced = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Advanced { .. }))
        .count();
    assert_eq!(advanced, 4, "one event per 256 KiB chunk");
    let upload = env
        .sb
        .journal()
        .matching(&Route::new("POST", "/egroupware/groupdav.php/mail/attachments/*").unwrap())
        .remove(0);
    assert_eq!(
        upload.header("content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(upload.header("transfer-encoding"), None);
    assert_eq!(
        upload.body.unwrap().sha256.unwrap(),
        sha256_hex(&data(len, 9))
    );
}

#[tokio::test]
async fn webdav_round_trips_compare_by_sha256() {
    let env = start().await;
    let provider = env.provider();
    let dir = tempfile::tempdir().unwrap();
    for (i, len) in [1usize, (256 << 10) + 1, 1 << 20].into_iter().enumerate() {
        let content = data(len, i as u8);
        let req = UploadRequest::builder(Attachment::from_bytes(
            format!("file {i}.bin"),
            content.clone(),
        ))
        .folder("round/trip")
        .create_parents(true)
        .build()
        .unwrap();
        let remote = provider.upload(req).await.unwrap();
        assert_eq!(remote.id, format!("/home/ralf/round/trip/file%20{i}.bin"));
        assert_eq!(
            remote.checksums.sha256.as_deref(),
            Some(sha256_hex(&content).as_str())
        );
        let saved = provider
            .download(DownloadRequest::new(&remote.id))
            .await
            .unwrap()
            .save_to(dir.path())
            .await
            .unwrap();
        assert_eq!(saved.path, dir.path().join(format!("file {i}.bin")));
        assert_eq!(saved.checksums.sha256, remote.checksums.sha256);
        assert_eq!(std::fs::read(&saved.path).unwrap(), content);
    }
    // The seeded file, by an id relative to the home folder.
    let welcome = provider
        .download(DownloadRequest::new("welcome.txt"))
        .await
        .unwrap()
        .into_bytes(1024)
        .await
        .unwrap();
    assert_eq!(welcome.as_ref(), b"Welcome to the EGroupware sandbox.\n");

    let again =
        || UploadRequest::builder(Attachment::from_bytes("file 0.bin", "new")).folder("round/trip");
    let e = provider.upload(again().build().unwrap()).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    provider
        .upload(again().overwrite(true).build().unwrap())
        .await
        .unwrap();
    let e = provider
        .upload(
            UploadRequest::builder(Attachment::from_bytes("x.bin", "x"))
                .folder("no/such")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("create it first"),
        "{e}"
    );
    let e = provider
        .download(DownloadRequest::new("missing.bin"))
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let e = provider
        .download(DownloadRequest::new("/home/anna/x.bin"))
        .await
        .unwrap_err();
    assert!(e.is_permission_denied(), "{e}");
}

#[tokio::test]
async fn download_resumes_with_range_after_a_broken_connection() {
    let env = start().await;
    let provider = env.provider();
    let content = data(300_000, 3);
    let req = UploadRequest::builder(Attachment::from_bytes("resume.bin", content.clone()))
        .build()
        .unwrap();
    let remote = provider.upload(req).await.unwrap();
    env.sb.faults().add(
        FaultRule::new(
            Route::new("GET", "/egroupware/webdav.php/home/ralf/resume.bin").unwrap(),
            FaultAction::Truncate {
                keep: Some(100_000),
            },
        )
        .first(1),
    );
    let bytes = provider
        .download(DownloadRequest::new(&remote.id))
        .await
        .unwrap()
        .into_bytes(1 << 20)
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), content.as_slice());
    let gets = env
        .sb
        .journal()
        .matching(&Route::new("GET", "/egroupware/webdav.php/home/ralf/resume.bin").unwrap());
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[1].header("range"), Some("bytes=100000-"));
    assert!(gets[1].header("if-range").is_some());
    assert_eq!(gets[1].status, Some(206));
}

#[tokio::test]
async fn a_file_replaced_during_a_download_is_not_stitched() {
    let env = start().await;
    let provider = env.provider();
    let upload = |seed| {
        UploadRequest::builder(Attachment::from_bytes("moving.bin", data(200_000, seed)))
            .overwrite(true)
            .build()
            .unwrap()
    };
    let remote = provider.upload(upload(1)).await.unwrap();
    env.sb.faults().add(
        FaultRule::new(
            Route::new("GET", "/egroupware/webdav.php/home/ralf/moving.bin").unwrap(),
            FaultAction::Truncate { keep: Some(50_000) },
        )
        .first(1),
    );
    let download = provider
        .download(DownloadRequest::new(&remote.id))
        .await
        .unwrap();
    provider.upload(upload(2)).await.unwrap();
    let e = download.into_bytes(1 << 20).await.unwrap_err();
    assert!(e.is_integrity() && e.to_string().contains("changed"), "{e}");
}

#[tokio::test]
async fn credentials_both_kinds_and_refusals() {
    let env = start().await;
    let msg = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .build()
            .unwrap()
    };
    let by_token = env.provider_with(|t| {
        t.remove("password");
        t.insert("app_password".into(), env.cred("app_password").into());
    });
    let receipt = by_token.send(msg()).await.unwrap();
    assert_eq!(
        receipt.warnings,
        ["Mail NOT saved to Sent folder, as no user password"]
    );
    let anna = env.provider_with(|t| {
        t.remove("password");
        t.insert("username".into(), "anna".into());
        t.insert(
            "app_password".into(),
            env.cred("app_password_all_users").into(),
        );
    });
    let r = anna.send(msg()).await.unwrap();
    assert_eq!(
        env.sb.outbox().get(&r.message_id).unwrap().from,
        "anna@example.org"
    );

    for (field, value) in [
        ("password", "wrong-password".to_owned()),
        ("app_password", env.cred("app_password_expired")),
        ("app_password", env.cred("app_password_revoked")),
        ("app_password", env.cred("app_password_anna")),
    ] {
        let p = env.provider_with(|t| {
            t.remove("password");
            t.insert(field.into(), value.clone().into());
        });
        let e = p.send(msg()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{field}: {e}");
        assert!(e.to_string().contains("refused"), "{e}");
        assert!(!e.to_string().contains(&value) && !format!("{e:?}").contains(&value));
    }
    let files_only = env.provider_with(|t| {
        t.remove("password");
        t.insert(
            "app_password".into(),
            env.cred("app_password_files_only").into(),
        );
    });
    let e = files_only.send(msg()).await.unwrap_err();
    assert!(e.is_unauthenticated(), "{e}");
    assert!(e.service_message().unwrap().contains("groupdav"), "{e}");
    // The same token may still use WebDAV.
    files_only
        .download(DownloadRequest::new("welcome.txt"))
        .await
        .unwrap();
    assert_eq!(env.sb.outbox().count(), 2);
}

#[tokio::test]
async fn tokens_are_single_use_so_each_send_uploads_again() {
    let env = start().await;
    let provider = env.provider();
    let msg = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .attach(Attachment::from_bytes("same.txt", "same bytes"))
            .build()
            .unwrap()
    };
    let first = provider.send(msg()).await.unwrap();
    let second = provider.send(msg()).await.unwrap();
    assert_ne!(first.attachments[0].id, second.attachments[0].id);
    assert_eq!(
        env.count("POST", "/egroupware/groupdav.php/mail/attachments/*"),
        2
    );
    assert_eq!(env.sb.outbox().count(), 2);
    // The first token was consumed by its send.
    let http = reqwest::Client::new();
    let gone = http
        .get(format!(
            "{}/egroupware/groupdav.php{}",
            env.sb.base_url(),
            first.attachments[0].id
        ))
        .basic_auth("ralf", Some(env.cred("password")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn compose_window_and_an_offline_user() {
    let env = start().await;
    let provider = env.provider();
    let msg = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .subject("draft")
            .attach(Attachment::from_bytes("c.txt", "compose me"))
            .build()
            .unwrap()
    };
    let receipt = provider.compose(msg()).await.unwrap();
    assert_eq!(receipt.status, SendStatus::Composing);
    let windows = env.control.windows();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].request["subject"], "draft");
    assert_eq!(
        windows[0].request["attachments"][0],
        receipt.attachments[0].id.as_str()
    );
    env.control.set_online("ralf", false);
    let e = provider.compose(msg()).await.unwrap_err();
    assert!(
        e.is_not_found() && e.to_string().contains("not online"),
        "{e}"
    );
    assert_eq!(e.status(), Some(404));
    assert_eq!(env.sb.outbox().count(), 0, "a compose window sends nothing");
}

/// A compose window delivers nothing, so it has no point of no return: a journal attached to
/// it is not marked, and the window opens.
#[tokio::test]
async fn a_compose_window_is_no_point_of_no_return() {
    let env = start().await;
    let journal = Arc::new(securesend_core::journal::MemoryJournal::default());
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("draft")
        .build()
        .unwrap()
        .with_journal(journal.clone());
    let receipt = env.provider().compose(msg).await.unwrap();
    assert_eq!(receipt.status, SendStatus::Composing);
    assert_eq!(env.control.windows().len(), 1);
    assert!(!journal.passed_point_of_no_return());
    assert_eq!(env.sb.outbox().count(), 0);
}

#[tokio::test]
async fn identities_by_sender_address_and_configuration() {
    let env = start().await;
    let provider = env.provider();
    let r = provider
        .send(
            SecureMessage::builder()
                .from("RB@mail.example.net")
                .to("ada@example.com")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        env.sb.outbox().get(&r.message_id).unwrap().from,
        "rb@mail.example.net"
    );
    let foreign = env.provider_with(|t| {
        t.insert("identity".into(), 85.into());
    });
    let e = foreign
        .send(
            SecureMessage::builder()
                .to("ada@example.com")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        e.is_configuration()
            && e.to_string()
                .contains("1 ralf@example.org, 52 rb@mail.example.net"),
        "{e}"
    );
    let smtp_only = env.provider_with(|t| {
        t.insert("username".into(), "smtponly".into());
        t.insert("password".into(), env.cred("password_smtponly").into());
    });
    let e = smtp_only
        .send(
            SecureMessage::builder()
                .to("ada@example.com")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(e.is_not_found() && e.to_string().contains("IMAP"), "{e}");
    assert_eq!(env.sb.outbox().count(), 1);
}

#[tokio::test]
async fn a_send_lost_on_the_way_is_never_repeated() {
    let env = start().await;
    env.sb.faults().add(FaultRule::new(
        Route::new("POST", "/egroupware/groupdav.php/mail").unwrap(),
        FaultAction::DropAfterBody { bytes: 1 << 20 },
    ));
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .attach(Attachment::from_bytes("kept.txt", "kept"))
        .build()
        .unwrap();
    let e = env.provider().send(msg).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("still on the service"), "{e}");
    assert_eq!(
        env.count("POST", "/egroupware/groupdav.php/mail"),
        1,
        "sent once"
    );
    assert_eq!(
        env.count("GET", "/egroupware/groupdav.php/mail/attachments/*"),
        1,
        "then asked"
    );
    assert_eq!(env.sb.outbox().count(), 0);
}

#[tokio::test]
async fn quota_lock_and_chunked_rules_surface_as_kinds() {
    let env = start().await;
    let provider = env.provider();
    env.control.set_quota("ralf", Some(100));
    let big = UploadRequest::builder(Attachment::from_bytes("big.bin", data(200, 1)))
        .build()
        .unwrap();
    let e = provider.upload(big).await.unwrap_err();
    assert!(
        e.is_invalid_input() && e.to_string().contains("quota"),
        "{e}"
    );
    env.control.set_quota("ralf", None);
    env.control.set_locked("/home/ralf/welcome.txt", true);
    let locked = UploadRequest::builder(Attachment::from_bytes("welcome.txt", "x"))
        .overwrite(true)
        .build()
        .unwrap();
    assert!(provider.upload(locked).await.unwrap_err().is_conflict());
}

#[tokio::test]
async fn doctor_checks_reach_and_identities() {
    let env = start().await;
    let provider = env.provider();
    let reached = provider.reach().await.unwrap();
    assert!(reached.contains("EGroupware answered"), "{reached}");
    let who = provider.authenticate().await.unwrap();
    assert!(
        who.contains("signed in as ralf (password)") && who.contains("52 Ralf Becker"),
        "{who}"
    );
    let direct = EgroupwareProvider::from_profile(&env.profile(|_| {})).unwrap();
    let ids = direct.identities().await.unwrap().unwrap();
    assert_eq!(ids.iter().map(|i| i.id).collect::<Vec<_>>(), [1, 52]);
}

#[tokio::test]
async fn link_sends_carry_share_password_and_expiry_and_the_shares_enforce_them() {
    let egw = Egroupware::epl();
    let sb = Sandbox::start(&egw, SandboxOptions::default())
        .await
        .unwrap();
    // The generated profile follows the server's edition.
    assert_eq!(sb.profile()["edition"].as_str(), Some("epl"));
    let mut fields = sb.profile().clone();
    fields.remove("provider");
    let provider =
        securesend_egroupware::connect(&ProfileConfig::new("sandbox", "egroupware", fields, "."))
            .unwrap();
    let message = SecureMessage::builder()
        .to("ada@example.com")
        .subject("Contract")
        .attach(Attachment::from_bytes("contract.pdf", "the contract"))
        .delivery(Delivery::Link)
        .password("correct-horse-battery")
        .expires(securesend_core::Expiry::Days(7))
        .build()
        .unwrap();
    // Expiry days are UTC calendar days: taken before the send and accepted as that day or
    // the next, so a send across midnight UTC passes.
    let before = time::OffsetDateTime::now_utc().date();
    let receipt = provider.send(message).await.unwrap();
    let last_day = receipt
        .expires
        .expect("a link send with an expiry says when");
    assert!(
        [
            before + time::Duration::days(7),
            before + time::Duration::days(8)
        ]
        .contains(&last_day),
        "{last_day} is 7 days after {before}, or after the next day"
    );
    // The answer holds no link; the receipt says where the recipients' links are.
    assert!(receipt.links.is_empty());
    assert!(
        receipt
            .warnings
            .iter()
            .any(|w| w.contains("share links") && w.contains("sent message")),
        "{:?}",
        receipt.warnings
    );

    let mail = sb.outbox().get(&receipt.message_id).unwrap();
    assert_eq!(mail.details["attachmentType"], "link");
    assert_eq!(mail.details["sharePassword"], "correct-horse-battery");
    let next = last_day.next_day().unwrap();
    assert_eq!(
        mail.details["shareExpiration"],
        format!(
            "{:04}-{:02}-{:02}",
            next.year(),
            u8::from(next.month()),
            next.day()
        )
    );
    let link = mail.details["links"][0].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let refused = http.get(&link).send().await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "a share download without its password"
    );
    let allowed = http
        .get(&link)
        .basic_auth("share", Some("correct-horse-battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.bytes().await.unwrap().as_ref(), b"the contract");
}

#[tokio::test]
async fn a_failure_before_the_mail_post_is_not_sent_and_one_of_it_may_have_sent() {
    let msg = || {
        SecureMessage::builder()
            .to("ada@example.com")
            .subject("s")
            .attach(Attachment::from_bytes("a.txt", "a"))
            .build()
            .unwrap()
    };
    // The attachment upload fails: nothing was posted, nothing delivered.
    let env = start().await;
    env.sb.faults().add(FaultRule::new(
        Route::new("POST", "/egroupware/groupdav.php/mail/attachments/*").unwrap(),
        FaultAction::status(503),
    ));
    let e = env.provider().send(msg()).await.unwrap_err();
    assert!(e.is_not_sent(), "{e}");
    assert!(!e.outcome_unknown(), "{e}");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(env.sb.outbox().count(), 0);
    assert_eq!(env.count("POST", "/egroupware/groupdav.php/mail"), 0);

    // The `POST /mail` is cut off after it left (a dropped connection): the attachments are
    // still there, which EGroupware would have removed after sending, yet the send may still
    // be under way, so the error says it may have been sent; the POST is not repeated.
    let env = start().await;
    env.sb.faults().add(FaultRule::new(
        Route::new("POST", "/egroupware/groupdav.php/mail").unwrap(),
        FaultAction::DropAfterBody { bytes: 1 << 20 },
    ));
    let e = env.provider().send(msg()).await.unwrap_err();
    assert!(!e.is_not_sent(), "{e}");
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("may have been sent"), "{e}");
    assert_eq!(env.count("POST", "/egroupware/groupdav.php/mail"), 1);

    // A gateway's 504 is as unclear; a 503 from EGroupware is its word that it did nothing.
    for (status, unclear) in [(504, true), (503, false)] {
        let env = start().await;
        env.sb.faults().add(FaultRule::new(
            Route::new("POST", "/egroupware/groupdav.php/mail").unwrap(),
            FaultAction::status(status),
        ));
        let e = env.provider().send(msg()).await.unwrap_err();
        assert_eq!(e.outcome_unknown(), unclear, "{status}: {e}");
        assert_eq!(e.is_not_sent(), !unclear, "{status}: {e}");
        assert_eq!(env.count("POST", "/egroupware/groupdav.php/mail"), 1);
        assert_eq!(env.sb.outbox().count(), 0);
    }
}

#[tokio::test]
async fn doctor_reaches_only_egroupware_and_checks_the_password_afresh() {
    // Any HTTP server answering is not enough to pass "reach".
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", mockito::Matcher::Any)
        .with_body("hello")
        .create_async()
        .await;
    let mut fields = Table::new();
    fields.insert(
        "base_url".into(),
        format!("{}/egroupware/", server.url()).into(),
    );
    fields.insert("username".into(), "ralf".into());
    fields.insert("password".into(), "pw".into());
    let plain =
        securesend_egroupware::connect(&ProfileConfig::new("plain", "egroupware", fields, "."))
            .unwrap();
    let e = plain.reach().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("does not look like an EGroupware server"),
        "{e}"
    );

    let env = start().await;
    let direct = EgroupwareProvider::from_profile(&env.profile(|_| {})).unwrap();
    // Identities read earlier are no answer about the credentials: a new request is made.
    direct.identities().await.unwrap();
    let before = env.count("GET", "/egroupware/groupdav.php/mail");
    let good = direct.into_provider();
    good.reach().await.unwrap();
    good.authenticate().await.unwrap();
    assert_eq!(
        env.count("GET", "/egroupware/groupdav.php/mail"),
        before + 2,
        "reach and authenticate each asked"
    );
    let wrong = env.provider_with(|t| {
        t.insert("password".into(), "not-the-password".into());
    });
    wrong.reach().await.unwrap();
    let e = wrong.authenticate().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
}

#[tokio::test]
async fn a_cancelled_send_stops_before_the_mail_post_and_says_what_stays() {
    let env = start().await;
    let uploads = "/egroupware/groupdav.php/mail/attachments/*";
    env.sb.faults().add(
        FaultRule::new(
            Route::new("POST", uploads).unwrap(),
            FaultAction::Delay(std::time::Duration::from_secs(3600)),
        )
        .nth(2),
    );
    let cancel = securesend_core::Cancel::new();
    let msg = SecureMessage::builder()
        .to("ada@example.com")
        .subject("s")
        .attach(Attachment::from_bytes("one.txt", "1"))
        .attach(Attachment::from_bytes("two.txt", "2"))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = env.provider();
    let send = tokio::spawn(async move { p.send(msg).await });
    while env.count("POST", uploads) < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    cancel.cancel();
    // Bounded: without the signal honoured, the held upload would keep the send for an hour.
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), send)
        .await
        .expect("the send stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(e.is_not_sent(), "{e}");
    assert!(
        e.to_string()
            .contains("1 attachment(s) already uploaded stay"),
        "{e}"
    );
    // The held upload may have been stored too: it is named, not left out.
    assert!(
        e.to_string()
            .contains("\"two.txt\", whose upload was under way, may be stored there too"),
        "{e}"
    );
    assert_eq!(env.count("POST", "/egroupware/groupdav.php/mail"), 0);
    assert_eq!(env.sb.outbox().count(), 0);
}

#[tokio::test]
async fn a_cancelled_upload_leaves_no_file() {
    let env = start().await;
    let put = "/egroupware/webdav.php/home/ralf/big.bin";
    env.sb.faults().add(FaultRule::new(
        Route::new("PUT", put).unwrap(),
        FaultAction::Delay(std::time::Duration::from_secs(3600)),
    ));
    let cancel = securesend_core::Cancel::new();
    let req = UploadRequest::builder(Attachment::from_bytes("big.bin", data(300_000, 9)))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = env.provider();
    let upload = tokio::spawn(async move { p.upload(req).await });
    // The HEAD that checks for an existing file comes first; then the PUT is under way.
    while env.count("HEAD", put) < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    cancel.cancel();
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), upload)
        .await
        .expect("the upload stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(e.to_string().contains("nothing is left at"), "{e}");
    // Looked at again after the interruption; nothing there, so nothing to delete.
    assert_eq!(env.count("HEAD", put), 2);
    assert_eq!(env.count("DELETE", put), 0);
    let e = env
        .provider()
        .download(DownloadRequest::new("big.bin"))
        .await;
    assert!(e.map(|_| ()).unwrap_err().is_not_found());
}

/// Starts an upload of 300 000 bytes to `big.bin` whose PUT is held, lets another client
/// store `theirs` there meanwhile, then cancels ours: the error and the bytes at the path.
async fn cancel_while_another_client_uploads(env: &Env, theirs: Vec<u8>) -> securesend_core::Error {
    let put = "/egroupware/webdav.php/home/ralf/big.bin";
    env.sb.faults().add(
        FaultRule::new(
            Route::new("PUT", put).unwrap(),
            FaultAction::Delay(std::time::Duration::from_secs(3600)),
        )
        .nth(1),
    );
    let cancel = securesend_core::Cancel::new();
    let req = UploadRequest::builder(Attachment::from_bytes("big.bin", data(300_000, 9)))
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = env.provider();
    let upload = tokio::spawn(async move { p.upload(req).await });
    env.sb
        .journal()
        .wait_until(|j| j.iter().any(|r| r.method == "PUT"))
        .await;
    let other = UploadRequest::builder(Attachment::from_bytes("big.bin", theirs))
        .build()
        .unwrap();
    env.provider().upload(other).await.unwrap();
    cancel.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(30), upload)
        .await
        .expect("the upload stopped on the signal")
        .unwrap()
        .unwrap_err()
}

#[tokio::test]
async fn a_cancelled_upload_does_not_delete_a_larger_file_another_client_stored_meanwhile() {
    let env = start().await;
    let put = "/egroupware/webdav.php/home/ralf/big.bin";
    let theirs = data(500_000, 3);
    let e = cancel_while_another_client_uploads(&env, theirs.clone()).await;
    assert!(e.is_cancelled(), "{e}");
    assert!(e.to_string().contains("may hold part of the file"), "{e}");
    assert_eq!(env.count("DELETE", put), 0);
    let got = env
        .provider()
        .download(DownloadRequest::new("big.bin"))
        .await
        .unwrap()
        .into_bytes(1 << 20)
        .await
        .unwrap();
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&theirs),
        "their file is intact"
    );
}

#[tokio::test]
async fn a_cancelled_upload_removes_what_can_be_its_own_part() {
    let env = start().await;
    let put = "/egroupware/webdav.php/home/ralf/big.bin";
    // No larger than what left of ours: it may be the part the server kept, so it goes.
    let e = cancel_while_another_client_uploads(&env, data(10, 3)).await;
    assert!(e.to_string().contains("nothing is left at"), "{e}");
    assert_eq!(env.count("DELETE", put), 1);
}

#[tokio::test]
async fn a_cancelled_upload_names_the_folders_parents_created() {
    let env = start().await;
    let put = "/egroupware/webdav.php/home/ralf/new/deeper/held.bin";
    env.sb.faults().add(FaultRule::new(
        Route::new("PUT", put).unwrap(),
        FaultAction::Delay(std::time::Duration::from_secs(3600)),
    ));
    let cancel = securesend_core::Cancel::new();
    let req = UploadRequest::builder(Attachment::from_bytes("held.bin", data(1000, 2)))
        .folder("new/deeper")
        .create_parents(true)
        .cancel_on(cancel.clone())
        .build()
        .unwrap();
    let p = env.provider();
    let upload = tokio::spawn(async move { p.upload(req).await });
    env.sb
        .journal()
        .wait_until(|j| j.iter().any(|r| r.method == "PUT"))
        .await;
    cancel.cancel();
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), upload)
        .await
        .expect("the upload stopped on the signal")
        .unwrap()
        .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(
        e.to_string()
            .contains("the folder(s) created for it stay: /home/ralf/new, /home/ralf/new/deeper"),
        "{e}"
    );
}
