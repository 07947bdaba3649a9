//! The observer of the `local` provider: it reads the directory the provider writes.

use std::path::PathBuf;

use base64::Engine;
use mail_parser::MimeHeaders;
use sha2::Digest;

use securesend::SendReceipt;

use crate::{DeliveredFile, Observer};

/// Reads a local provider's root directory.
#[derive(Debug, Clone)]
pub struct LocalObserver {
    root: PathBuf,
}

impl LocalObserver {
    /// Observes the provider keeping its data in `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalObserver { root: root.into() }
    }
}

#[async_trait::async_trait]
impl Observer for LocalObserver {
    async fn fingerprint(&self) -> String {
        if !self.root.exists() {
            return "absent".to_owned();
        }
        let mut lines: Vec<String> = walkdir::WalkDir::new(&self.root)
            .into_iter()
            .map(|e| e.expect("walk the local root"))
            .map(|e| {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                let kind = if e.file_type().is_dir() { "d" } else { "f" };
                format!("{kind} {} {len}", e.path().display())
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }

    async fn delivered(&self, receipt: &SendReceipt) -> Vec<DeliveredFile> {
        let eml = self
            .root
            .join("outbox")
            .join(&receipt.message_id)
            .join("message.eml");
        let bytes = std::fs::read(&eml).unwrap_or_else(|e| panic!("read {}: {e}", eml.display()));
        let message = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("the stored message parses");
        let mut files: Vec<DeliveredFile> = message
            .attachments()
            .map(|part| {
                // The parser turns text parts into UTF-8; a recipient saving the attachment
                // gets the transferred bytes, so decode the raw base64 body instead.
                assert_eq!(
                    part.content_transfer_encoding(),
                    Some("base64"),
                    "attachments travel as base64"
                );
                let raw = &bytes[part.raw_body_offset() as usize..part.raw_end_offset() as usize];
                let text: Vec<u8> = raw
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let body = base64::engine::general_purpose::STANDARD
                    .decode(&text)
                    .expect("valid base64");
                DeliveredFile {
                    name: part.attachment_name().unwrap_or_default().to_owned(),
                    size: body.len() as u64,
                    sha256: hex::encode(sha2::Sha256::digest(&body)),
                }
            })
            .collect();
        files.sort();
        files
    }

    async fn recipients(&self, receipt: &SendReceipt) -> Vec<String> {
        // The provider's delivery record: the envelope of the stored message (bcc included,
        // which the message itself never shows).
        let path = self
            .root
            .join("outbox")
            .join(&receipt.message_id)
            .join("receipt.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let stored: SendReceipt = serde_json::from_slice(&bytes).expect("receipt.json parses");
        stored.recipients
    }

    async fn deliveries(&self) -> u64 {
        // A message is delivered once its directory has its final name; `.tmp-<id>` is one
        // being written.
        let Ok(outbox) = std::fs::read_dir(self.root.join("outbox")) else {
            return 0;
        };
        outbox
            .map(|e| e.expect("read the outbox"))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count() as u64
    }
}
