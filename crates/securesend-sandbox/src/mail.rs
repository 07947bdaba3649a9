//! Delivered messages: what the emulated services "sent" on the client's behalf.
//!
//! A service module records a [`Mail`] in the [`Outbox`] at the moment the real service would
//! hand it to its mail system. Tests then assert on outcomes: exactly one message, these
//! recipients, this attachment with this sha256. Service modules that emulate an inbox (mails
//! the account *received*) can keep their seeded mails as [`Mail`] values too.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::store::StoredFile;

/// A file attached to (or linked from) a message, by reference to the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailAttachment {
    /// The [`StoredFile`] id.
    pub file_id: String,
    /// The name the recipient sees.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
}

impl From<&StoredFile> for MailAttachment {
    fn from(f: &StoredFile) -> Self {
        MailAttachment {
            file_id: f.id.clone(),
            name: f.name.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
        }
    }
}

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mail {
    /// Id; [`Outbox::deliver`] assigns a UUID when empty.
    pub id: String,
    /// The service key (`"kiteworks"`, …).
    pub service: String,
    /// Sender address.
    pub from: String,
    /// To recipients.
    pub to: Vec<String>,
    /// Cc recipients.
    pub cc: Vec<String>,
    /// Bcc recipients.
    pub bcc: Vec<String>,
    /// Reply-to address.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text_body: Option<String>,
    /// HTML body.
    pub html_body: Option<String>,
    /// Attached or linked files.
    pub attachments: Vec<MailAttachment>,
    /// Service-specific facts worth asserting on (link expiry, require-login flag, …).
    pub details: serde_json::Map<String, serde_json::Value>,
    /// When it was delivered (sandbox clock); set by [`Outbox::deliver`].
    pub delivered_at: Option<SystemTime>,
}

impl Mail {
    /// An empty message from `from` for `service`; fill in the public fields.
    pub fn new(service: &str, from: &str, subject: &str) -> Mail {
        Mail {
            id: String::new(),
            service: service.to_owned(),
            from: from.to_owned(),
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: None,
            subject: subject.to_owned(),
            text_body: None,
            html_body: None,
            attachments: Vec::new(),
            details: serde_json::Map::new(),
            delivered_at: None,
        }
    }

    /// Every recipient: to, then cc, then bcc.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.bcc)
            .map(String::as_str)
    }
}

/// The messages a sandbox delivered; a cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct Outbox {
    inner: Arc<OutboxInner>,
}

#[derive(Debug)]
struct OutboxInner {
    clock: Clock,
    mails: Mutex<Vec<Mail>>,
    delivered: watch::Sender<u64>,
}

impl Outbox {
    pub(crate) fn new(clock: Clock) -> Outbox {
        Outbox {
            inner: Arc::new(OutboxInner {
                clock,
                mails: Mutex::new(Vec::new()),
                delivered: watch::channel(0).0,
            }),
        }
    }

    fn mails(&self) -> MutexGuard<'_, Vec<Mail>> {
        // Plain data, never left half-updated.
        self.inner.mails.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a delivery, stamping the time and assigning an id if it has none; returns the
    /// message as recorded.
    pub fn deliver(&self, mut mail: Mail) -> Mail {
        if mail.id.is_empty() {
            mail.id = uuid::Uuid::new_v4().to_string();
        }
        mail.delivered_at = Some(self.inner.clock.now());
        self.mails().push(mail.clone());
        self.inner.delivered.send_modify(|n| *n += 1);
        mail
    }

    /// Messages currently recorded.
    pub fn count(&self) -> usize {
        self.mails().len()
    }

    /// Deliveries since the sandbox started, including cleared ones. A test that clears the
    /// outbox can still prove that nothing more was sent.
    pub fn delivered_total(&self) -> u64 {
        *self.inner.delivered.borrow()
    }

    /// Every recorded message, in delivery order.
    pub fn messages(&self) -> Vec<Mail> {
        self.mails().clone()
    }

    /// A message by id.
    pub fn get(&self, id: &str) -> Option<Mail> {
        self.mails().iter().find(|m| m.id == id).cloned()
    }

    /// Messages with this exact subject.
    pub fn with_subject(&self, subject: &str) -> Vec<Mail> {
        self.mails()
            .iter()
            .filter(|m| m.subject == subject)
            .cloned()
            .collect()
    }

    /// Messages addressed (to, cc or bcc) to this address, compared case-insensitively.
    pub fn to_recipient(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .iter()
            .filter(|m| m.recipients().any(|r| r.eq_ignore_ascii_case(address)))
            .cloned()
            .collect()
    }

    /// Forgets recorded messages ([`Outbox::delivered_total`] keeps counting).
    pub fn clear(&self) {
        self.mails().clear();
    }

    /// Waits until the total number of deliveries reaches `n`.
    pub async fn wait_for_total(&self, n: u64) {
        let mut rx = self.inner.delivered.subscribe();
        let _ = rx.wait_for(|d| *d >= n).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn deliver_and_inspect() {
        let clock = ManualClock::new();
        let outbox = Outbox::new(clock.clock());
        let mut m = Mail::new("demo", "me@example.com", "Report");
        m.to.push("A@Example.com".into());
        m.bcc.push("b@example.com".into());
        let sent = outbox.deliver(m);
        assert!(!sent.id.is_empty());
        assert_eq!(sent.delivered_at, Some(clock.clock().now()));
        assert_eq!(outbox.count(), 1);
        assert_eq!(outbox.get(&sent.id), Some(sent.clone()));
        assert_eq!(outbox.with_subject("Report").len(), 1);
        assert_eq!(outbox.to_recipient("a@example.com").len(), 1);
        assert_eq!(outbox.to_recipient("b@example.com").len(), 1);
        assert!(outbox.to_recipient("c@example.com").is_empty());
        outbox.clear();
        assert_eq!(outbox.count(), 0);
        assert_eq!(outbox.delivered_total(), 1);
    }
}
