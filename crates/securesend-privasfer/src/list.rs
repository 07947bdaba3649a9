//! Listing: the inbox (also as the [`Inbox`](securesend_core::Inbox) role), sent mails and
//! the account's files, so a user can find what to download.

use serde::Serialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use securesend_core::{Error, InboxQuery, ReceivedMessage, RemoteFile, Result};

use crate::api::{self, MAX_TEXT, printable, uuid};
use crate::download::DownloadId;
use crate::{PROVIDER, PrivasferProvider};

/// Fields `GET /api/files` sorts by (documented).
pub const FILE_SORT_FIELDS: &[&str] =
    &["filename_original", "size", "encrypted_size", "created_at"];
/// Fields `GET /api/inbox` sorts by (documented).
pub const INBOX_SORT_FIELDS: &[&str] = &["subject", "created_by_email", "received_at"];
/// Fields `GET /api/mails` (sent mails) sorts by (documented).
pub const SENT_SORT_FIELDS: &[&str] = &["subject", "recipient_email", "created_at", "sent_at"];

/// What to list: a free-text `keyword` (the service decides which fields it searches) and a
/// sort field from the list's documented set.
///
/// ```
/// use securesend_privasfer::ListQuery;
/// let q = ListQuery::all().with_keyword("contract").sorted_by("received_at", true);
/// assert_eq!(q.sort.as_deref(), Some("received_at"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only items matching this text.
    pub keyword: Option<String>,
    /// Sort by this field.
    pub sort: Option<String>,
    /// Descending (the service's `-field`).
    pub descending: bool,
}

impl ListQuery {
    /// Everything, in the service's order.
    pub fn all() -> ListQuery {
        ListQuery::default()
    }
    /// Only items matching `keyword`.
    pub fn with_keyword(mut self, keyword: impl Into<String>) -> ListQuery {
        self.keyword = Some(keyword.into());
        self
    }
    /// Sorted by `field`.
    pub fn sorted_by(mut self, field: impl Into<String>, descending: bool) -> ListQuery {
        self.sort = Some(field.into());
        self.descending = descending;
        self
    }

    /// The query parameters, after checking them against `fields`; bad input fails here,
    /// before any request.
    fn params(&self, what: &str, fields: &[&str]) -> Result<Vec<(&'static str, String)>> {
        let mut out = Vec::new();
        if let Some(sort) = &self.sort {
            if !fields.contains(&sort.as_str()) {
                let shown: String = sort.escape_debug().take(40).collect();
                return Err(Error::invalid_input(format!(
                    "{what} cannot be sorted by \"{shown}\"; use one of {}",
                    fields.join(", ")
                ))
                .with_provider(PROVIDER));
            }
            let sign = if self.descending { "-" } else { "" };
            out.push(("sort", format!("{sign}{sort}")));
        }
        if let Some(k) = self
            .keyword
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            if k.chars().count() > 200 || k.chars().any(char::is_control) {
                return Err(Error::invalid_input(
                    "the keyword must be at most 200 characters without control characters",
                )
                .with_provider(PROVIDER));
            }
            out.push(("keyword", k.to_owned()));
        }
        Ok(out)
    }
}

/// A person as the service shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Person {
    /// Display name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, &self.email) {
            (Some(n), Some(e)) => write!(f, "{n} <{e}>"),
            (None, Some(e)) => f.write_str(e),
            (Some(n), None) => f.write_str(n),
            (None, None) => f.write_str("-"),
        }
    }
}

impl From<api::Person> for Person {
    fn from(p: api::Person) -> Self {
        Person {
            name: text(p.name),
            email: text(p.email),
        }
    }
}

/// Server text as it is shown to people (see [`printable`]).
fn text(t: Option<String>) -> Option<String> {
    t.map(|t| printable(&t, MAX_TEXT))
}

/// A file on Privasfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PrivasferFile {
    /// The service's id (a UUID).
    pub id: String,
    /// The id to give [`Downloader`](securesend_core::Downloader), when this file can be
    /// downloaded on its own (see [`DownloadId`]).
    pub download_id: Option<String>,
    /// Its name (`full_filename`).
    pub name: String,
    /// Its MIME type.
    pub content_type: Option<String>,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Stored (encrypted) size in bytes.
    pub encrypted_size: Option<u64>,
    /// Who uploaded it.
    pub created_by: Option<Person>,
    /// When it was uploaded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// Whether it is in the trash.
    pub trashed: bool,
}

/// A mail the account received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InboxMail {
    /// The service's id.
    pub id: String,
    /// The id downloading all its files: `mail:<id>`.
    pub download_id: String,
    /// The four-character code.
    pub identifier: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Body (HTML, as the service sent it; untrusted).
    pub body: Option<String>,
    /// Sender.
    pub sender: Option<Person>,
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339::option")]
    pub received_at: Option<OffsetDateTime>,
    /// Whether it was opened.
    pub opened: Option<bool>,
    /// Its files.
    pub files: Vec<PrivasferFile>,
}

/// A mail the account sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SentMail {
    /// The service's id.
    pub id: String,
    /// The four-character code.
    pub identifier: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Body (HTML; untrusted).
    pub body: Option<String>,
    /// Recipient.
    pub recipient: Option<Person>,
    /// Recipient's address.
    pub recipient_email: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// Sent.
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    /// The service's status (`success` is the one documented value).
    pub status: Option<String>,
    /// When the recipient opened it; `None` while unopened (the service sends `""`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub opened_at: Option<OffsetDateTime>,
    /// Its files (the account's own, so each downloads as `file:<uuid>`).
    pub files: Vec<PrivasferFile>,
}

/// `YYYY-MM-DD HH:MM:SS` in the configured zone; empty or malformed is `None` (server text
/// is untrusted and a bad timestamp is no reason to fail a listing).
pub(crate) fn parse_time(raw: Option<&str>, offset: UtcOffset) -> Option<OffsetDateTime> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(raw, format)
        .ok()
        .map(|t| t.assume_offset(offset))
}

impl PrivasferProvider {
    fn offset(&self) -> UtcOffset {
        self.inner.config.timestamp_offset()
    }

    pub(crate) fn file_view(&self, f: api::File, download_id: Option<String>) -> PrivasferFile {
        PrivasferFile {
            name: f.name(),
            id: f.id,
            download_id,
            content_type: f.mime.as_deref().and_then(crate::download::clean_mime),
            size: f.size,
            encrypted_size: f.encrypted_size,
            created_by: f.created_by.map(Person::from),
            created_at: parse_time(f.created_at.as_deref(), self.offset()),
            trashed: f.trashed.unwrap_or(false),
        }
    }

    /// The account's uploaded files (`GET /api/files`); sort by one of [`FILE_SORT_FIELDS`].
    pub async fn files(&self, query: &ListQuery) -> Result<Vec<PrivasferFile>> {
        let params = query.params("files", FILE_SORT_FIELDS)?;
        let files = self.inner.api.files(&params).await?;
        Ok(files
            .into_iter()
            .map(|f| {
                let d = uuid(&f.id).map(|id| DownloadId::File(id).to_string());
                self.file_view(f, d)
            })
            .collect())
    }

    /// Mails the account received (`GET /api/inbox`), with their files; sort by one of
    /// [`INBOX_SORT_FIELDS`].
    pub async fn inbox_mails(&self, query: &ListQuery) -> Result<Vec<InboxMail>> {
        let params = query.params("the inbox", INBOX_SORT_FIELDS)?;
        let mails = self.inner.api.inbox(&params).await?;
        Ok(mails
            .into_iter()
            .filter_map(|m| self.inbox_view(m))
            .collect())
    }

    /// A received mail as shown; `None` for one without a UUID, which could not be
    /// downloaded either (its id could not go into a URL).
    pub(crate) fn inbox_view(&self, m: api::InboxMail) -> Option<InboxMail> {
        let Some(mail_id) = uuid(&m.id) else {
            tracing::debug!(provider = PROVIDER, "skipping an inbox mail without a UUID");
            return None;
        };
        let files = m.download.and_then(|d| d.files).unwrap_or_default();
        let single = files.len() == 1;
        let files = files
            .into_iter()
            .map(|f| {
                let d = uuid(&f.id).filter(|_| single).map(|file| {
                    DownloadId::MailFile {
                        mail: mail_id.clone(),
                        file,
                    }
                    .to_string()
                });
                self.file_view(f, d)
            })
            .collect();
        Some(InboxMail {
            download_id: DownloadId::Mail(mail_id.clone()).to_string(),
            id: mail_id,
            identifier: text(m.identifier),
            subject: text(m.subject),
            body: m.body,
            sender: m.sender.map(Person::from),
            received_at: parse_time(m.received_at.as_deref(), self.offset()),
            opened: m.opened,
            files,
        })
    }

    /// Mails the account sent (`GET /api/mails`), with their files; sort by one of
    /// [`SENT_SORT_FIELDS`].
    pub async fn sent_mails(&self, query: &ListQuery) -> Result<Vec<SentMail>> {
        let params = query.params("sent mails", SENT_SORT_FIELDS)?;
        let mails = self.inner.api.sent(&params).await?;
        Ok(mails.into_iter().map(|m| self.sent_view(m)).collect())
    }

    /// A sent mail as shown; its files are the account's own (`file:<uuid>`).
    pub(crate) fn sent_view(&self, m: api::SentMail) -> SentMail {
        let offset = self.offset();
        let files = m
            .download
            .and_then(|d| d.files)
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                let d = uuid(&f.id).map(|id| DownloadId::File(id).to_string());
                self.file_view(f, d)
            })
            .collect();
        SentMail {
            id: m.id,
            identifier: text(m.identifier),
            subject: text(m.subject),
            body: m.body,
            recipient: m.recipient.map(Person::from),
            recipient_email: text(m.recipient_email),
            created_at: parse_time(m.created_at.as_deref(), offset),
            sent_at: parse_time(m.sent_at.as_deref(), offset),
            status: text(m.status),
            opened_at: parse_time(m.opened_at.as_deref(), offset),
            files,
        }
    }

    /// The [`Inbox`](securesend_core::Inbox) role: each mail's id is `mail:<uuid>`; a mail
    /// with one file lists it as `mail:<uuid>/<file uuid>`, a mail with several lists one
    /// archive, `mail:<uuid>`, named `privasfer-<identifier>.zip` (the service serves them
    /// together).
    pub(crate) async fn received(&self, query: InboxQuery) -> Result<Vec<ReceivedMessage>> {
        let mut q = ListQuery {
            keyword: query.keyword.clone(),
            sort: query.sort.clone(),
            descending: query.descending,
        };
        if q.sort.is_none() && query.descending {
            q.sort = Some("received_at".to_owned());
        }
        let mut mails = self.inbox_mails(&q).await?;
        if let Some(limit) = query.limit {
            mails.truncate(limit);
        }
        Ok(mails.into_iter().map(received_message).collect())
    }
}

pub(crate) fn received_message(m: InboxMail) -> ReceivedMessage {
    let files: Vec<RemoteFile> = match m.files.as_slice() {
        [] => Vec::new(),
        [one] => {
            let mut f = RemoteFile::new(
                PROVIDER,
                one.download_id
                    .clone()
                    .unwrap_or_else(|| m.download_id.clone()),
                one.name.clone(),
            )
            .with_size(one.size);
            if let Some(t) = &one.content_type {
                f = f.with_content_type(t.clone());
            }
            vec![f]
        }
        _ => {
            let stem = m
                .identifier
                .as_deref()
                .filter(|i| {
                    (1..=16).contains(&i.len()) && i.bytes().all(|b| b.is_ascii_alphanumeric())
                })
                .unwrap_or(&m.id);
            vec![
                RemoteFile::new(
                    PROVIDER,
                    m.download_id.clone(),
                    format!("privasfer-{stem}.zip"),
                )
                .with_content_type("application/zip"),
            ]
        }
    };
    let mut r = ReceivedMessage::new(m.download_id).with_files(files);
    if let Some(s) = m.sender {
        r = r.with_from(s.to_string());
    }
    if let Some(s) = m.subject {
        r = r.with_subject(s);
    }
    if let Some(t) = m.received_at {
        r = r.with_received(t);
    }
    if let Some(o) = m.opened {
        r = r.with_opened(o);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked_before_any_request() {
        let q = ListQuery::all()
            .sorted_by("size", true)
            .with_keyword(" rep ");
        assert_eq!(
            q.params("files", FILE_SORT_FIELDS).unwrap(),
            vec![("sort", "-size".to_owned()), ("keyword", "rep".to_owned())]
        );
        let e = ListQuery::all()
            .sorted_by("received_at", false)
            .params("files", FILE_SORT_FIELDS)
            .unwrap_err();
        assert!(
            e.is_invalid_input() && e.to_string().contains("filename_original"),
            "{e}"
        );
        let e = ListQuery::all()
            .with_keyword("a\nb")
            .params("the inbox", INBOX_SORT_FIELDS)
            .unwrap_err();
        assert!(e.is_invalid_input());
    }

    #[test]
    fn timestamps_take_the_configured_zone() {
        let plus2 = UtcOffset::from_hms(2, 0, 0).unwrap();
        let t = parse_time(Some("2019-07-08 10:00:00"), plus2).unwrap();
        assert_eq!(t.unix_timestamp(), 1_562_572_800);
        assert_eq!(parse_time(Some(""), plus2), None);
        assert_eq!(parse_time(Some("yesterday"), plus2), None);
    }
}
