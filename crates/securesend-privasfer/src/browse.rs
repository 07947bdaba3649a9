//! Browsing, read only: three virtual folders over the documented lists.
//!
//! | folder | entries |
//! |---|---|
//! | top | the folders `files`, `inbox` and `sent` (no request) |
//! | `files` | the account's files (`GET /api/files`), ids `file:<uuid>`; files in the trash are left out |
//! | `inbox` | one entry per received mail with files (`GET /api/inbox`), as `securesend inbox` shows them: `mail:<uuid>/<file uuid>` for a mail's one file, `mail:<uuid>` for the archive of several |
//! | `sent` | one folder per sent mail (`GET /api/mails`), id `sent/<uuid>` |
//! | `sent/<uuid>` | that mail's files (`GET /api/mails/<uuid>`), ids `file:<uuid>` |
//!
//! Sent mails are folders because the service keeps one record per recipient: a file sent to
//! three people is in three mails, and a flat list would show it three times.
//!
//! Whether the lists are paginated is not documented. When an answer carries `links.next`,
//! the listing pages with it (the cursor is that link, accepted only for the same list on the
//! configured origin); otherwise a list is one page. A requested page size is ignored.
//! Creating folders is refused before any request: the service documents none.

use securesend_core::{
    Browser, Entry, EntryKind, Error, ErrorKind, ListRequest, Page, Result, async_trait,
};

use crate::api::{self, MAX_TEXT, printable, uuid};
use crate::client::MAIL_INCLUDE;
use crate::download::DownloadId;
use crate::list::{PrivasferFile, received_message};
use crate::{PROVIDER, PrivasferProvider};

/// Why creating folders is refused.
const NO_FOLDERS: &str = "privasfer cannot create folders: its folders are the fixed views files, inbox and sent, and the API documents no folder request";

/// The folders a listing can name.
#[derive(Debug, PartialEq, Eq)]
enum Folder {
    Top,
    Files,
    Inbox,
    Sent,
    SentMail(String),
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
        .with_provider(PROVIDER)
        .with_operation("list")
}

impl Folder {
    fn parse(location: Option<&str>) -> Result<Folder> {
        let Some(location) = location else {
            return Ok(Folder::Top);
        };
        Ok(match location.trim_matches('/') {
            "" => Folder::Top,
            "files" => Folder::Files,
            "inbox" => Folder::Inbox,
            "sent" => Folder::Sent,
            other => match other.strip_prefix("sent/").and_then(uuid) {
                Some(id) => Folder::SentMail(id),
                None => {
                    return Err(invalid(format!(
                        "privasfer has the folders files, inbox, sent and sent/<mail id>, not {:?}",
                        other.escape_debug().take(80).collect::<String>()
                    )));
                }
            },
        })
    }
}

fn folder_entry(id: &str, name: &str) -> Entry {
    Entry::new(id, name, EntryKind::Folder).with_path(id)
}

/// A file that downloads on its own, as an entry.
fn file_entry(f: PrivasferFile) -> Option<Entry> {
    let id = f.download_id?;
    let mut e = Entry::new(id, f.name, EntryKind::File).with_size(f.size);
    if let Some(t) = f.created_at {
        e = e.with_modified(t);
    }
    Some(e)
}

impl PrivasferProvider {
    /// The account's files: one page of `GET /api/files`.
    async fn files_page(&self, after: Option<&str>) -> Result<Page> {
        let (files, next) = self
            .inner
            .api
            .page::<api::File>("list files", "files", &[], after)
            .await?;
        let entries = files
            .into_iter()
            // A file in the trash cannot be given to a download.
            .filter(|f| f.trashed != Some(true))
            .filter_map(|f| {
                let d = uuid(&f.id).map(|id| DownloadId::File(id).to_string());
                file_entry(self.file_view(f, d))
            })
            .collect();
        Ok(Page { entries, next })
    }

    /// Received mails' files: one page of `GET /api/inbox`.
    async fn inbox_page(&self, after: Option<&str>) -> Result<Page> {
        let query = [("include", MAIL_INCLUDE.to_owned())];
        let (mails, next) = self
            .inner
            .api
            .page::<api::InboxMail>("list inbox", "inbox", &query, after)
            .await?;
        let mut entries = Vec::new();
        for mail in mails.into_iter().filter_map(|m| self.inbox_view(m)) {
            let received = mail.received_at;
            for file in received_message(mail).files {
                let mut e = Entry::new(file.id, file.name, EntryKind::File);
                if let Some(size) = file.size {
                    e = e.with_size(size);
                }
                if let Some(t) = received {
                    e = e.with_modified(t);
                }
                entries.push(e);
            }
        }
        Ok(Page { entries, next })
    }

    /// Sent mails as folders: one page of `GET /api/mails`.
    async fn sent_page(&self, after: Option<&str>) -> Result<Page> {
        let query = [("include", MAIL_INCLUDE.to_owned())];
        let (mails, next) = self
            .inner
            .api
            .page::<api::SentMail>("list sent mails", "mails", &query, after)
            .await?;
        let entries = mails
            .into_iter()
            .filter_map(|m| {
                let id = uuid(&m.id)?;
                let mail = self.sent_view(m);
                let to = mail
                    .recipient_email
                    .clone()
                    .or_else(|| mail.recipient.as_ref().map(ToString::to_string));
                let parts: Vec<String> = [
                    mail.identifier.clone(),
                    mail.subject.clone(),
                    to.map(|t| format!("→ {t}")),
                ]
                .into_iter()
                .flatten()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
                let name = if parts.is_empty() {
                    id.clone()
                } else {
                    printable(&parts.join(" "), MAX_TEXT)
                };
                let e = folder_entry(&format!("sent/{id}"), &name);
                Some(match mail.sent_at.or(mail.created_at) {
                    Some(t) => e.with_modified(t),
                    None => e,
                })
            })
            .collect();
        Ok(Page { entries, next })
    }

    /// One sent mail's files (`GET /api/mails/<uuid>`).
    async fn sent_mail_files(&self, id: &str) -> Result<Page> {
        let mail = self.sent_view(self.inner.api.sent_mail(id).await?);
        Ok(Page {
            entries: mail.files.into_iter().filter_map(file_entry).collect(),
            next: None,
        })
    }
}

#[async_trait]
impl Browser for PrivasferProvider {
    async fn list(&self, req: ListRequest) -> Result<Page> {
        self.inner.capabilities.check_list(PROVIDER, &req)?;
        let folder = Folder::parse(req.location())?;
        let after = req.cursor();
        if after.is_some() && matches!(folder, Folder::Top | Folder::SentMail(_)) {
            return Err(invalid(
                "this privasfer folder is a single page; leave the cursor out".to_owned(),
            ));
        }
        let page = match folder {
            Folder::Top => Page {
                entries: vec![
                    folder_entry("files", "files"),
                    folder_entry("inbox", "inbox"),
                    folder_entry("sent", "sent"),
                ],
                next: None,
            },
            Folder::Files => self.files_page(after).await?,
            Folder::Inbox => self.inbox_page(after).await?,
            Folder::Sent => self.sent_page(after).await?,
            Folder::SentMail(id) => self.sent_mail_files(&id).await?,
        };
        Ok(page)
    }

    /// Refused before any request, saying why.
    async fn create_folder(&self, _path: &str, _parents: bool) -> Result<Entry> {
        Err(Error::unsupported(NO_FOLDERS)
            .with_provider(PROVIDER)
            .with_operation("create folder"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_the_fixed_views() {
        assert_eq!(Folder::parse(None).unwrap(), Folder::Top);
        assert_eq!(Folder::parse(Some("/files/")).unwrap(), Folder::Files);
        assert_eq!(Folder::parse(Some("inbox")).unwrap(), Folder::Inbox);
        assert_eq!(
            Folder::parse(Some("sent/4F1C0CBE-6A9C-4F7E-8A8E-3F2C1E1B2A3D")).unwrap(),
            Folder::SentMail("4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d".into())
        );
        for bad in [
            "sent/x",
            "outbox",
            "files/x",
            "inbox/4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d",
        ] {
            assert!(
                Folder::parse(Some(bad)).unwrap_err().is_invalid_input(),
                "{bad}"
            );
        }
    }
}
