//! The observer of providers served by `securesend-sandbox`: it reads the emulator's journal,
//! file store and outbox.

use securesend::SendReceipt;
use securesend_sandbox::{Sandbox, journal::Journal, mail::Outbox, store::FileStore};

use crate::{DeliveredFile, Observer};

/// Reads what a sandboxed service received. Service modules record each delivered message
/// under the id the service returns, which is the receipt's `message_id`.
#[derive(Debug, Clone)]
pub struct SandboxObserver {
    journal: Journal,
    store: FileStore,
    outbox: Outbox,
}

impl SandboxObserver {
    /// Observes `sandbox`.
    pub fn new(sandbox: &Sandbox) -> Self {
        SandboxObserver {
            journal: sandbox.journal().clone(),
            store: sandbox.store().clone(),
            outbox: sandbox.outbox().clone(),
        }
    }
}

#[async_trait::async_trait]
impl Observer for SandboxObserver {
    async fn fingerprint(&self) -> String {
        format!(
            "requests={} files={} messages={}",
            self.journal.len(),
            self.store.len(),
            self.outbox.delivered_total()
        )
    }

    async fn delivered(&self, receipt: &SendReceipt) -> Vec<DeliveredFile> {
        let mail = self.outbox.get(&receipt.message_id).unwrap_or_else(|| {
            panic!(
                "the sandbox delivered no message with id {} (it has {:?})",
                receipt.message_id,
                self.outbox
                    .messages()
                    .iter()
                    .map(|m| &m.id)
                    .collect::<Vec<_>>()
            )
        });
        let mut files: Vec<DeliveredFile> = mail
            .attachments
            .iter()
            .map(|a| DeliveredFile {
                name: a.name.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
            })
            .collect();
        files.sort();
        files
    }

    async fn recipients(&self, receipt: &SendReceipt) -> Vec<String> {
        let mail = self.outbox.get(&receipt.message_id).unwrap_or_else(|| {
            panic!(
                "the sandbox delivered no message with id {}",
                receipt.message_id
            )
        });
        mail.recipients().map(str::to_owned).collect()
    }

    async fn deliveries(&self) -> u64 {
        self.outbox.delivered_total()
    }
}
