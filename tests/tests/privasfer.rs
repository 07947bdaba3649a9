//! The conformance scenarios against the `privasfer` provider and its sandbox.
//!
//! Privasfer documents downloads only: the seeded files are downloaded and compared by
//! SHA-256, bad input is refused without a trace, and sends and uploads (which the round-trip
//! and send scenarios need) are refused as unsupported before any request.

use securesend::config::ProfileConfig;
use securesend::{
    Attachment, DownloadRequest, EntryKind, ErrorKind, InboxQuery, ListRequest, SecureMessage,
    UploadRequest,
};
use securesend_conformance as c;
use securesend_sandbox::privasfer::Privasfer;
use securesend_sandbox::{Sandbox, SandboxOptions, SeedKind, SeededItem};

fn fields(sandbox: &Sandbox) -> securesend::config::Table {
    let mut fields = sandbox.profile().clone();
    fields.remove("provider");
    fields
}

async fn target() -> (Sandbox, c::Target) {
    let sandbox = Sandbox::start(&Privasfer, SandboxOptions::default())
        .await
        .expect("the privasfer sandbox starts");
    let profile = ProfileConfig::new("conformance", "privasfer", fields(&sandbox), ".");
    let target = c::Target {
        provider: securesend::connect(&profile).expect("the sandbox profile connects"),
        observer: Box::new(c::SandboxObserver::new(&sandbox)),
    };
    (sandbox, target)
}

fn files(sandbox: &Sandbox) -> Vec<SeededItem> {
    sandbox
        .seeded()
        .iter()
        .filter(|i| i.kind == SeedKind::File)
        .cloned()
        .collect()
}

#[tokio::test]
async fn seeded_files_download_intact_by_sha256() {
    let (sandbox, t) = target().await;
    let dir = c::TestFiles::new();
    let mut checked = 0;
    for item in files(&sandbox) {
        let id = match item.details["location"].as_str() {
            Some("files") => format!("file:{}", item.id),
            Some("inbox") if item.details["mail_files"] == 1 => {
                format!(
                    "mail:{}/{}",
                    item.details["mail_id"].as_str().unwrap(),
                    item.id
                )
            }
            // Files of a mail with several come together (an archive); files of another
            // account are not the profile's to download.
            _ => continue,
        };
        let out = dir.subdir(&format!("d{checked}"));
        let saved = t
            .provider
            .download(DownloadRequest::new(&id))
            .await
            .unwrap_or_else(|e| panic!("download of {id}: {e}"))
            .save_to(&out)
            .await
            .unwrap_or_else(|e| panic!("saving {id}: {e}"));
        assert_eq!(Some(saved.size), item.size, "{id}");
        assert_eq!(saved.checksums.sha256, item.sha256, "{id}");
        assert_eq!(
            Some(c::sha256_file(&saved.path)),
            item.sha256,
            "bytes on disk of {id}"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 5,
        "three own files and two single-file inbox mails"
    );
}

#[tokio::test]
async fn every_file_the_inbox_lists_downloads() {
    let (sandbox, t) = target().await;
    let dir = c::TestFiles::new();
    let seeded = files(&sandbox);
    let inbox = t
        .provider
        .inbox(InboxQuery::all())
        .await
        .expect("the inbox lists");
    assert_eq!(inbox.len(), 3);
    for (n, message) in inbox.iter().enumerate() {
        for file in &message.files {
            let out = dir.subdir(&format!("m{n}"));
            let saved = t
                .provider
                .download(DownloadRequest::new(&file.id))
                .await
                .unwrap_or_else(|e| panic!("download of listed {}: {e}", file.id))
                .save_to(&out)
                .await
                .unwrap();
            if let Some(size) = file.size {
                // A single file: it is a seeded one, byte for byte.
                assert_eq!(saved.size, size);
                let sha = saved.checksums.sha256.clone();
                assert!(
                    seeded
                        .iter()
                        .any(|s| s.sha256 == sha && s.name == file.name),
                    "{file:?}"
                );
            } else {
                assert!(saved.size > 0 && file.name.ends_with(".zip"), "{file:?}");
            }
        }
    }
}

/// The shared send and round-trip scenarios, gated: Privasfer refuses both before any request.
#[tokio::test]
async fn shared_send_and_round_trip_scenarios_are_refused() {
    let (sandbox, t) = target().await;
    c::send_zero_one_three(&t).await;
    c::round_trips(&t, &c::boundary_sizes(1 << 20)).await;
    assert!(
        sandbox.journal().is_empty(),
        "no request reached the service"
    );
}

#[tokio::test]
async fn send_and_upload_are_unsupported_before_any_request() {
    let (sandbox, t) = target().await;
    let dir = c::TestFiles::new();
    let path = dir.create("one.txt", 1024);
    let before = t.observer.fingerprint().await;
    let message = SecureMessage::builder()
        .to("ada@example.com")
        .subject("conformance")
        .attach(Attachment::from_path(&path))
        .build()
        .unwrap();
    let e = t.provider.send(message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string().starts_with("privasfer send: unsupported:"),
        "{e}"
    );
    let upload = UploadRequest::builder(Attachment::from_path(&path))
        .build()
        .unwrap();
    let e = t.provider.upload(upload).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(!e.to_string().contains('\n'));
    assert_eq!(t.observer.fingerprint().await, before);
    assert!(
        sandbox.journal().is_empty(),
        "no request reached the service"
    );
}

/// Without the send and upload roles, every message option (14) and upload option (5) is
/// refused for the missing role, and creating folders (1) is refused too.
#[tokio::test]
async fn unsupported_options_are_refused_before_any_request() {
    let (sandbox, t) = target().await;
    assert!(!t.provider.capabilities().send && !t.provider.capabilities().upload);
    assert_eq!(c::unsupported_options(&t).await, 20);
    assert!(
        sandbox.journal().is_empty(),
        "a refused option reached the service"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let (sandbox, _t) = target().await;
    let good = c::GoodProfile {
        provider: "privasfer",
        fields: fields(&sandbox),
        secret: Some("token"),
        url: Some("base_url"),
        required: "pin",
    };
    assert_eq!(
        c::bad_config(&good, &c::SandboxObserver::new(&sandbox)).await,
        8
    );
    assert!(sandbox.journal().is_empty());
}

#[tokio::test]
async fn bad_input_leaves_no_trace() {
    let (sandbox, t) = target().await;
    assert!(c::bad_input_matrix(&t).await >= 48);
    let before = sandbox.journal().len();
    for id in [
        "",
        "file:",
        "file:not-a-uuid",
        "mail:../../etc",
        "report.pdf",
    ] {
        let e = t
            .provider
            .download(DownloadRequest::new(id))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{id:?}: {e}");
    }
    assert_eq!(sandbox.journal().len(), before);
    assert!(sandbox.journal().is_empty());
}

/// Privasfer browses read only. The shared scenario has nothing to create or upload there, so
/// the read-only side is checked here too: the three folders come without a request, every
/// listed file id downloads byte for byte, and creating a folder is refused before any request.
#[tokio::test]
async fn browses_read_only() {
    let (sandbox, t) = target().await;
    c::browse(&t, 1, 1).await;
    let before = t.observer.fingerprint().await;
    let top = t.provider.list(ListRequest::top()).await.unwrap();
    let ids: Vec<(&str, EntryKind)> = top.iter().map(|e| (e.id.as_str(), e.kind)).collect();
    assert_eq!(
        ids,
        [
            ("files", EntryKind::Folder),
            ("inbox", EntryKind::Folder),
            ("sent", EntryKind::Folder)
        ]
    );
    for parents in [false, true] {
        let e = t
            .provider
            .create_folder("files/new", parents)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
    assert_eq!(
        before,
        t.observer.fingerprint().await,
        "the top and mkdir made no request"
    );

    let dir = c::TestFiles::new();
    let own: Vec<SeededItem> = files(&sandbox)
        .into_iter()
        .filter(|i| i.details["location"] == "files")
        .collect();
    let listed = t.provider.list(ListRequest::at("files")).await.unwrap();
    assert_eq!(listed.len(), own.len());
    for (n, e) in listed.iter().enumerate() {
        let seeded = own
            .iter()
            .find(|i| format!("file:{}", i.id) == e.id)
            .unwrap_or_else(|| panic!("{} is a seeded file", e.id));
        let saved = t
            .provider
            .download(DownloadRequest::new(&e.id))
            .await
            .unwrap()
            .save_to(&dir.subdir(&format!("l{n}")))
            .await
            .unwrap();
        assert_eq!(Some(c::sha256_file(&saved.path)), seeded.sha256, "{}", e.id);
        assert_eq!(e.size, seeded.size, "{}", e.id);
    }
}
