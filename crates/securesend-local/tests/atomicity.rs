//! Messages and files appear whole or not at all.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use securesend_core::{Attachment, SecureMessage};
use securesend_local::{LocalConfig, LocalProvider};

/// Every visible message directory holds a complete message and its receipt.
fn check_visible(outbox: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(outbox) else {
        return 0;
    };
    let mut complete = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let eml =
            std::fs::read(e.path().join("message.eml")).expect("a visible message has message.eml");
        let receipt = std::fs::read(e.path().join("receipt.json"))
            .expect("a visible message has receipt.json");
        let tail = String::from_utf8_lossy(&eml[eml.len().saturating_sub(64)..]).into_owned();
        assert!(
            tail.trim_end().ends_with("--"),
            "{name}: message.eml is cut short"
        );
        serde_json::from_slice::<serde_json::Value>(&receipt).expect("a complete receipt");
        complete += 1;
    }
    complete
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_are_never_seen_partial() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let provider = LocalProvider::new(LocalConfig::new(&root)).into_provider();
    let outbox = root.join("outbox");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let outbox = outbox.clone();
        std::thread::spawn(move || {
            let mut looks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                check_visible(&outbox);
                looks += 1;
            }
            looks
        })
    };
    let mut sends = Vec::new();
    for i in 0..8u8 {
        let p = provider.clone();
        sends.push(tokio::spawn(async move {
            let msg = SecureMessage::builder()
                .to("a@example.com")
                .subject(format!("send {i}"))
                .attach(Attachment::from_bytes(
                    format!("f{i}.bin"),
                    vec![i; 2 << 20],
                ))
                .build()
                .unwrap();
            p.send(msg).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for s in sends {
        ids.push(s.await.unwrap().message_id);
    }
    stop.store(true, Ordering::Relaxed);
    let looks = watcher.join().expect("no partial message was seen");
    assert!(looks > 0);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "unique ids");
    assert_eq!(check_visible(&outbox), 8);
}

#[tokio::test]
async fn a_failed_send_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let provider = LocalProvider::new(LocalConfig::new(&root)).into_provider();
    // Declares 1000 bytes but delivers 600: the send fails after writing part of the message.
    let short_reader = std::io::Cursor::new(vec![7u8; 600]);
    let msg = SecureMessage::builder()
        .to("a@example.com")
        .attach(Attachment::from_bytes("first.bin", vec![1u8; 70_000]))
        .attach(Attachment::from_reader("second.bin", short_reader, 1000))
        .build()
        .unwrap();
    let err = provider.send(msg).await.unwrap_err();
    assert!(err.to_string().contains("shrank"), "{err}");

    let outbox: Vec<_> = std::fs::read_dir(root.join("outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        outbox.is_empty(),
        "outbox keeps {:?}",
        outbox.iter().map(|e| e.file_name()).collect::<Vec<_>>()
    );
    let entries = root.join("files").join("entries");
    let stored: Vec<_> = walk(&entries);
    assert!(
        stored.iter().all(|p| p.is_dir()),
        "entries left: {stored:?}"
    );
    let blobs = walk(&root.join("files").join("blobs"));
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    let tmp = walk(&root.join("files").join(".tmp"));
    assert!(tmp.is_empty(), "staging left: {tmp:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.path());
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

#[tokio::test]
async fn upload_conflicts_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let provider = LocalProvider::new(LocalConfig::new(dir.path())).into_provider();
    let up = |data: &'static str, overwrite: bool| {
        securesend_core::UploadRequest::builder(Attachment::from_bytes("a.txt", data))
            .folder("docs/2026")
            .create_parents(true)
            .overwrite(overwrite)
            .build()
            .unwrap()
    };
    let first = provider.upload(up("one", false)).await.unwrap();
    assert_eq!(first.id, "docs/2026/a.txt");
    assert!(
        provider
            .upload(up("two", false))
            .await
            .unwrap_err()
            .is_conflict()
    );
    provider.upload(up("three", true)).await.unwrap();
    let got = provider
        .download(securesend_core::DownloadRequest::new("docs/2026/a.txt"))
        .await
        .unwrap()
        .into_bytes(100)
        .await
        .unwrap();
    assert_eq!(&got[..], b"three");
    let missing = securesend_core::UploadRequest::builder(Attachment::from_bytes("b.txt", "x"))
        .folder("nope")
        .build()
        .unwrap();
    assert!(provider.upload(missing).await.unwrap_err().is_not_found());
    for bad in [
        "../etc/passwd",
        "/etc/passwd",
        "docs",
        "docs/2026/missing.txt",
    ] {
        let e = provider
            .download(securesend_core::DownloadRequest::new(bad))
            .await
            .unwrap_err();
        assert!(e.is_invalid_input() || e.is_not_found(), "{bad}: {e}");
    }
}
