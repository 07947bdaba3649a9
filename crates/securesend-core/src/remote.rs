//! What providers return: files on the service and receipts of sent messages.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::checksum::Checksums;

/// A file as the service knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemoteFile {
    /// The provider key (`kiteworks`, `local`, …).
    pub provider: String,
    /// The id to download it with.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its size in bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// Its content type, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    /// Checksums: our own (computed while streaming) merged with the service's.
    #[serde(default)]
    pub checksums: Checksums,
    /// The folder it is in, when it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub folder: Option<String>,
    /// When it was last modified, when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "time::serde::rfc3339::option"
    )]
    pub modified: Option<OffsetDateTime>,
}

impl RemoteFile {
    /// A file with the fields every provider knows; set the others with the `with_*` methods.
    ///
    /// The name is shown to people, so its invisible format characters are removed
    /// ([`strip_invisible`](crate::names::strip_invisible)): a service's
    /// `inv\u{202E}fdp.exe` is reported as the `invfdp.exe` it is, not as "invexe.pdf".
    pub fn new(
        provider: impl Into<String>,
        id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        RemoteFile {
            provider: provider.into(),
            id: id.into(),
            name: crate::names::strip_invisible(&name.into()),
            size: None,
            content_type: None,
            checksums: Checksums::default(),
            folder: None,
            modified: None,
        }
    }

    /// Sets the size.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
    /// Sets the checksums.
    pub fn with_checksums(mut self, checksums: Checksums) -> Self {
        self.checksums = checksums;
        self
    }
    /// Sets the folder.
    pub fn with_folder(mut self, folder: impl Into<String>) -> Self {
        self.folder = Some(folder.into());
        self
    }
    /// Sets the modification time.
    pub fn with_modified(mut self, modified: OffsetDateTime) -> Self {
        self.modified = Some(modified);
        self
    }
}

/// Where a sent message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SendStatus {
    /// The service delivered (or handed off) the message.
    Sent,
    /// The service accepted the message and will deliver it later.
    Queued,
    /// The message was written to a local outbox (the `local` provider).
    Stored,
    /// The message was opened in a compose window; a person sends it.
    Composing,
}

/// A download link the service created for a recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    pub url: String,
    /// The file it leads to, when it leads to one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// When it stops working, when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "time::serde::rfc3339::option"
    )]
    pub expires: Option<OffsetDateTime>,
}

/// What a successful send returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SendReceipt {
    /// The provider key.
    pub provider: String,
    /// The service's id for the message.
    pub message_id: String,
    /// Where the message stands.
    pub status: SendStatus,
    /// Every recipient address the service accepted.
    pub recipients: Vec<String>,
    /// The `To` recipients as sent.
    #[serde(default)]
    pub to: Vec<String>,
    /// The `Cc` recipients as sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// The `Bcc` recipients as sent (shown to the sender only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    /// The last day (UTC) the files stay available: the service's own date when it gives one,
    /// else the expiry the message asked for.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "iso_date::option"
    )]
    pub expires: Option<Date>,
    /// The attachments as stored by the service, with our SHA-256.
    pub attachments: Vec<RemoteFile>,
    /// Warnings the service gave (the send still succeeded).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Links created for recipients.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Where the message can be seen: a URL, or a path for the local provider.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
}

impl SendReceipt {
    /// A receipt; set the rest with the `with_*` methods.
    pub fn new(
        provider: impl Into<String>,
        message_id: impl Into<String>,
        status: SendStatus,
    ) -> Self {
        SendReceipt {
            provider: provider.into(),
            message_id: message_id.into(),
            status,
            recipients: Vec::new(),
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            expires: None,
            attachments: Vec::new(),
            warnings: Vec::new(),
            links: Vec::new(),
            location: None,
        }
    }

    /// Sets the recipients.
    pub fn with_recipients(mut self, recipients: Vec<String>) -> Self {
        self.recipients = recipients;
        self
    }
    /// Sets the recipients by role.
    pub fn with_roles(mut self, to: Vec<String>, cc: Vec<String>, bcc: Vec<String>) -> Self {
        self.to = to;
        self.cc = cc;
        self.bcc = bcc;
        self
    }
    /// Sets the last day the files stay available.
    pub fn with_expires(mut self, last_day: Date) -> Self {
        self.expires = Some(last_day);
        self
    }
    /// Sets the attachments.
    pub fn with_attachments(mut self, attachments: Vec<RemoteFile>) -> Self {
        self.attachments = attachments;
        self
    }
    /// Adds a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
    /// Adds a link.
    pub fn with_link(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }
    /// Sets the location.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");
