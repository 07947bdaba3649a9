//! What a job sends: a [`SecureMessage`] written down as JSON, with its files staged.
//!
//! Everything the message carries is kept but its secrets: a message with a file password is
//! refused at enqueue (the queue would have to store the password), and so are progress and
//! cancel handles, which belong to a process.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use securesend_core::{
    Address, Delivery, Error, Expiry, Priority, Result, SecureMessage, SendOptions,
};

use crate::blobs::{BlobStore, StagedFile};

/// The version of the JSON shape below; a worker refuses a job written in a newer one.
const VERSION: u32 = 1;

/// A queued message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// The shape's version.
    pub v: u32,
    /// The directory name its copies are staged under.
    pub stage_id: String,
    /// The sender, when the message chooses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// To.
    #[serde(default)]
    pub to: Vec<Address>,
    /// Cc.
    #[serde(default)]
    pub cc: Vec<Address>,
    /// Bcc.
    #[serde(default)]
    pub bcc: Vec<Address>,
    /// Reply-To.
    #[serde(default)]
    pub reply_to: Vec<Address>,
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The files, as staged.
    #[serde(default)]
    pub files: Vec<StagedFile>,
    /// The expiry: a number of days from sending, or a last day (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Attach or link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// A receipt when a recipient downloads.
    #[serde(default)]
    pub download_receipt: bool,
    /// Recipients must log in.
    #[serde(default)]
    pub require_login: bool,
    /// The message's priority.
    #[serde(default)]
    pub priority: Priority,
}

impl MessageSpec {
    /// Writes `message` down with its already staged `files`.
    pub fn of(message: &SecureMessage, stage_id: &str, files: Vec<StagedFile>) -> Result<Self> {
        let options = message.options();
        if options.password.is_some() {
            return Err(Error::unsupported(
                "the delivery queue cannot keep a file password; send this message directly with `securesend send`",
            ));
        }
        Ok(MessageSpec {
            v: VERSION,
            stage_id: stage_id.to_owned(),
            from: message.from().cloned(),
            to: message.to().to_vec(),
            cc: message.cc().to_vec(),
            bcc: message.bcc().to_vec(),
            reply_to: message.reply_to().to_vec(),
            subject: message.subject().to_owned(),
            text: message.text().map(str::to_owned),
            html: message.html().map(str::to_owned),
            files,
            expires: options.expires.map(|e| match e {
                Expiry::Days(d) => format!("{d}d"),
                Expiry::On(day) => day.to_string(),
            }),
            delivery: options.delivery,
            download_receipt: options.download_receipt,
            require_login: options.require_login,
            priority: options.priority,
        })
    }

    /// The JSON stored with the job.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a message spec is plain data")
    }

    /// Reads a job's JSON back.
    pub fn from_value(value: &Value) -> Result<Self> {
        let v = value.get("v").and_then(Value::as_u64).unwrap_or(0);
        if v != u64::from(VERSION) {
            return Err(Error::unsupported(format!(
                "the job was queued in format version {v}; this securesend reads version {VERSION}: run a matching worker"
            )));
        }
        serde_json::from_value(value.clone()).map_err(|e| {
            Error::protocol(format!(
                "the queue holds a job this securesend cannot read: {e}"
            ))
        })
    }

    /// The message again, its files checked against what was staged (see
    /// [`BlobStore::attachment`]). It is checked as `send` checks it; an expiry date that has
    /// passed while the job waited fails here, for good.
    pub async fn message(&self, blobs: &BlobStore) -> Result<SecureMessage> {
        let mut b = SecureMessage::builder().subject(self.subject.clone());
        if let Some(from) = &self.from {
            b = b.from(from.clone());
        }
        for a in &self.to {
            b = b.to(a.clone());
        }
        for a in &self.cc {
            b = b.cc(a.clone());
        }
        for a in &self.bcc {
            b = b.bcc(a.clone());
        }
        for a in &self.reply_to {
            b = b.reply_to(a.clone());
        }
        if let Some(t) = &self.text {
            b = b.text(t.clone());
        }
        if let Some(h) = &self.html {
            b = b.html(h.clone());
        }
        for f in &self.files {
            b = b.attach(blobs.attachment(f).await?);
        }
        let mut options = SendOptions::default();
        options.expires = self.expires.as_deref().map(Expiry::parse).transpose()?;
        options.delivery = self.delivery;
        options.download_receipt = self.download_receipt;
        options.require_login = self.require_login;
        options.priority = self.priority;
        b.options(options).build()
    }
}

#[cfg(test)]
mod tests {
    use securesend_core::Attachment;

    use super::*;
    use crate::blobs::Stage;

    #[tokio::test]
    async fn a_message_comes_back_as_it_went_in() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(dir.path().join("blobs"));
        let mut options = SendOptions::default();
        options.expires = Some(Expiry::Days(7));
        options.delivery = Some(Delivery::Link);
        options.download_receipt = true;
        let message = SecureMessage::builder()
            .from("Sender <s@example.com>")
            .to("Ada <ada@example.com>")
            .cc("grace@example.com")
            .bcc("hidden@example.com")
            .reply_to("desk@example.com")
            .subject("Invoice 7")
            .text("Attached.")
            .attach(Attachment::from_bytes("invoice.pdf", "%PDF-1.7 …"))
            .options(options)
            .build()
            .unwrap();
        let id = uuid::Uuid::now_v7().to_string();
        let files = blobs
            .stage(&id, message.attachments(), Stage::Copy)
            .await
            .unwrap();
        let spec = MessageSpec::of(&message, &id, files).unwrap();
        let back = MessageSpec::from_value(&spec.to_value()).unwrap();
        assert_eq!(back, spec);
        let again = back.message(&blobs).await.unwrap();
        assert_eq!(again.to()[0].to_string(), message.to()[0].to_string());
        assert_eq!(again.cc()[0].email(), "grace@example.com");
        assert_eq!(again.bcc()[0].email(), "hidden@example.com");
        assert_eq!(again.reply_to()[0].email(), "desk@example.com");
        assert_eq!(again.from().unwrap().name(), Some("Sender"));
        assert_eq!(again.subject(), "Invoice 7");
        assert_eq!(again.options().expires, Some(Expiry::Days(7)));
        assert_eq!(again.options().delivery, Some(Delivery::Link));
        assert!(again.options().download_receipt);
        assert_eq!(again.attachments()[0].name(), "invoice.pdf");
        assert_eq!(again.attachments()[0].size, "%PDF-1.7 …".len() as u64);
    }

    #[tokio::test]
    async fn a_password_is_not_queued() {
        let message = SecureMessage::builder()
            .to("ada@example.com")
            .password("hunter2")
            .build()
            .unwrap();
        let err = MessageSpec::of(&message, "0a", Vec::new()).unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn a_newer_format_is_refused_by_name() {
        let err = MessageSpec::from_value(&serde_json::json!({"v": 2})).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
    }
}
