//! Sending scenarios.

use std::path::PathBuf;

use securesend::{Attachment, SecureMessage};

use crate::{DeliveredFile, Target, TestFiles, sha256_file};

/// Sends one message carrying files of the given names and sizes, and checks that the
/// receipt and what the recipients received match the files byte for byte.
pub async fn send_files(target: &Target, files: &[(&str, u64)]) {
    let caps = target.provider.capabilities().clone();
    let dir = TestFiles::new();
    let paths: Vec<PathBuf> = files.iter().map(|(n, s)| dir.create(n, *s)).collect();
    let mut b = SecureMessage::builder()
        .to("Ada Lovelace <ada@example.com>")
        .subject(format!("conformance: {} files", files.len()))
        .text("Files attached by the conformance suite.");
    if caps.cc {
        b = b.cc("grace@example.com");
    }
    for p in &paths {
        b = b.attach(Attachment::from_path(p));
    }
    let receipt = target
        .provider
        .send(b.build().expect("a valid message"))
        .await
        .unwrap_or_else(|e| panic!("{} send of {files:?}: {e}", target.provider.name()));

    assert!(!receipt.message_id.is_empty(), "receipt has a message id");
    assert_eq!(receipt.provider, target.provider.name());
    assert!(
        receipt.recipients.iter().any(|r| r == "ada@example.com"),
        "{:?}",
        receipt.recipients
    );
    if caps.cc {
        assert!(receipt.recipients.iter().any(|r| r == "grace@example.com"));
    }

    let mut expected: Vec<DeliveredFile> = files
        .iter()
        .zip(&paths)
        .map(|((name, size), path)| DeliveredFile {
            name: (*name).to_owned(),
            size: *size,
            sha256: sha256_file(path),
        })
        .collect();
    expected.sort();

    let mut in_receipt: Vec<DeliveredFile> = receipt
        .attachments
        .iter()
        .map(|f| DeliveredFile {
            name: f.name.clone(),
            size: f.size.expect("the receipt gives each attachment's size"),
            sha256: f
                .checksums
                .sha256
                .clone()
                .expect("the receipt gives each attachment's sha256"),
        })
        .collect();
    in_receipt.sort();
    assert_eq!(in_receipt, expected, "receipt attachments");
    assert!(
        receipt.attachments.iter().all(|f| !f.id.is_empty()),
        "every attachment has an id"
    );

    let delivered = target.observer.delivered(&receipt).await;
    assert_eq!(delivered, expected, "what the recipients received");
}

/// Sends with no attachment, with one, and with three: one of 0 bytes (where the provider
/// takes empty files), one of 20 MiB and one small.
pub async fn send_zero_one_three(target: &Target) {
    if !target.provider.capabilities().send {
        // Gated: a provider that cannot send refuses the message before any request.
        let dir = TestFiles::new();
        let msg = SecureMessage::builder()
            .to("ada@example.com")
            .attach(Attachment::from_path(dir.create("one.txt", 1024)))
            .build()
            .expect("a valid message");
        let before = target.observer.fingerprint().await;
        let err = target.provider.send(msg).await.unwrap_err();
        assert_eq!(err.kind(), securesend::ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains(target.provider.name()), "{err}");
        assert_eq!(
            before,
            target.observer.fingerprint().await,
            "a request was made"
        );
        return;
    }
    if target.provider.capabilities().requires_attachments {
        // A provider that sends files refuses a message without any, before any request.
        let before = target.observer.fingerprint().await;
        let msg = SecureMessage::builder()
            .to("ada@example.com")
            .subject("nothing attached")
            .build()
            .expect("a valid message");
        let err = target.provider.send(msg).await.unwrap_err();
        assert!(err.is_invalid_input(), "{}: {err}", target.provider.name());
        assert_eq!(
            before,
            target.observer.fingerprint().await,
            "a request was made"
        );
    } else {
        send_files(target, &[]).await;
    }
    send_files(target, &[("one.txt", 1024)]).await;
    let empty = if target.provider.capabilities().empty_files {
        0
    } else {
        1
    };
    send_files(
        target,
        &[
            ("empty.bin", empty),
            ("twenty-mib.bin", 20 << 20),
            ("Übersicht – 日本.pdf", 4097),
        ],
    )
    .await;
}
