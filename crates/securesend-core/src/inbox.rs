//! Received messages, for providers that keep an inbox.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::remote::RemoteFile;

/// What to list from an inbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxQuery {
    /// Only messages matching this text (the service decides which fields it searches).
    pub keyword: Option<String>,
    /// Sort by this field (provider-specific names, such as `received_at`).
    pub sort: Option<String>,
    /// Newest or largest first when sorting.
    pub descending: bool,
    /// At most this many messages.
    pub limit: Option<usize>,
}

impl InboxQuery {
    /// Everything, in the service's order.
    pub fn all() -> Self {
        InboxQuery::default()
    }
    /// Only messages matching `keyword`.
    pub fn with_keyword(mut self, keyword: impl Into<String>) -> Self {
        self.keyword = Some(keyword.into());
        self
    }
    /// Sorted by `field`.
    pub fn sorted_by(mut self, field: impl Into<String>, descending: bool) -> Self {
        self.sort = Some(field.into());
        self.descending = descending;
        self
    }
    /// At most `limit` messages.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// A message the account received, with the files it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReceivedMessage {
    /// The service's id of the message.
    pub id: String,
    /// The sender, as the service shows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    /// The subject.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<String>,
    /// When it arrived.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "time::serde::rfc3339::option"
    )]
    pub received: Option<OffsetDateTime>,
    /// Whether it was opened, when the service says.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub opened: Option<bool>,
    /// The files, with the ids [`Downloader`](crate::Downloader) accepts.
    pub files: Vec<RemoteFile>,
}

impl ReceivedMessage {
    /// A message with an id; set the rest with the `with_*` methods.
    pub fn new(id: impl Into<String>) -> Self {
        ReceivedMessage {
            id: id.into(),
            from: None,
            subject: None,
            received: None,
            opened: None,
            files: Vec::new(),
        }
    }
    /// Sets the sender.
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }
    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Sets the arrival time.
    pub fn with_received(mut self, received: OffsetDateTime) -> Self {
        self.received = Some(received);
        self
    }
    /// Sets whether it was opened.
    pub fn with_opened(mut self, opened: bool) -> Self {
        self.opened = Some(opened);
        self
    }
    /// Sets the files.
    pub fn with_files(mut self, files: Vec<RemoteFile>) -> Self {
        self.files = files;
        self
    }
}
