//! What a provider can do, and the checks that refuse a request it cannot serve before any I/O.

use serde::Serialize;

use crate::browse::ListRequest;
use crate::error::{Error, Result};
use crate::file::CheckedFile;
use crate::message::{Delivery, Priority, SecureMessage};
use crate::request::{DownloadRequest, UploadRequest};

/// What a provider can do. Adapters start from [`Capabilities::default`] (nothing) and switch on
/// what their service documents.
///
/// ```
/// use securesend_core::Capabilities;
///
/// let mut caps = Capabilities::default();
/// caps.send = true;
/// caps.attachments = true;
/// caps.max_file_size = Some(10);
/// assert!(caps.rows().iter().any(|(k, v)| *k == "max file size" && v == "10 B"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Sends messages ([`SecureMailer`](crate::SecureMailer)).
    pub send: bool,
    /// Uploads files ([`Uploader`](crate::Uploader)).
    pub upload: bool,
    /// Downloads files ([`Downloader`](crate::Downloader)).
    pub download: bool,
    /// Interactive sign-in ([`Login`](crate::Login)).
    pub login: bool,
    /// Lists received messages ([`Inbox`](crate::Inbox)).
    pub inbox: bool,
    /// Opens messages in the service's compose window ([`Composer`](crate::Composer)).
    pub compose: bool,
    /// Lists folders ([`Browser`](crate::Browser)); creating them needs `create_folders`.
    pub browse: bool,

    /// Messages may choose their sender.
    pub choose_sender: bool,
    /// `Cc` recipients.
    pub cc: bool,
    /// `Bcc` recipients.
    pub bcc: bool,
    /// `Reply-To`.
    pub reply_to: bool,
    /// An HTML body.
    pub html_body: bool,
    /// Messages may carry files.
    pub attachments: bool,
    /// At most this many files per message.
    pub max_attachments: Option<usize>,
    /// A message must carry at least one file (the service sends files, not text).
    pub requires_attachments: bool,
    /// Files inside the message ([`Delivery::Attach`]).
    pub attach_delivery: bool,
    /// Files as links ([`Delivery::Link`]).
    pub link_delivery: bool,
    /// An expiry for the files.
    pub expiry: bool,
    /// The longest expiry in days.
    pub max_expiry_days: Option<u32>,
    /// A password on the files.
    pub password: bool,
    /// A receipt when a recipient downloads.
    pub download_receipt: bool,
    /// Recipients must log in to download.
    pub require_login: bool,
    /// Message priority.
    pub priority: bool,

    /// Files of zero bytes are accepted.
    pub empty_files: bool,
    /// Largest file in bytes.
    pub max_file_size: Option<u64>,
    /// Largest upload chunk in bytes, when the service uploads in chunks.
    pub max_chunk_size: Option<u64>,
    /// An interrupted upload continues where it stopped.
    pub resumable_upload: bool,
    /// An interrupted download continues where it stopped.
    pub resumable_download: bool,
    /// Uploads may go into a named folder.
    pub upload_to_folder: bool,
    /// Missing folders can be created on upload.
    pub create_folders: bool,
    /// Uploads may replace an existing file.
    pub overwrite: bool,

    /// Sends record their checkpoints and mark their point of no return in the message's
    /// [`SendJournal`](crate::SendJournal).
    pub journal: bool,
    /// A send whose attempt died after its point of no return can be settled by asking the
    /// service (see [`SendJournal::committed_before`](crate::SendJournal::committed_before));
    /// without it such a send is left in doubt.
    pub reconcile: bool,
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn limit<T: std::fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map(|v| format!("{v}{unit}"))
        .unwrap_or_else(|| "no limit".to_owned())
}

impl Capabilities {
    /// Every capability as (label, value) rows, for tables.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("send", yes(self.send)),
            ("upload", yes(self.upload)),
            ("download", yes(self.download)),
            ("login", yes(self.login)),
            ("inbox", yes(self.inbox)),
            ("compose window", yes(self.compose)),
            ("browse", yes(self.browse)),
            ("choose sender", yes(self.choose_sender)),
            ("cc", yes(self.cc)),
            ("bcc", yes(self.bcc)),
            ("reply-to", yes(self.reply_to)),
            ("html body", yes(self.html_body)),
            ("attachments", yes(self.attachments)),
            ("max attachments", limit(self.max_attachments, "")),
            ("requires attachments", yes(self.requires_attachments)),
            ("attach delivery", yes(self.attach_delivery)),
            ("link delivery", yes(self.link_delivery)),
            ("expiry", yes(self.expiry)),
            ("max expiry", limit(self.max_expiry_days, " days")),
            ("password", yes(self.password)),
            ("download receipt", yes(self.download_receipt)),
            ("require login", yes(self.require_login)),
            ("priority", yes(self.priority)),
            ("empty files", yes(self.empty_files)),
            ("max file size", limit(self.max_file_size, " B")),
            ("max chunk size", limit(self.max_chunk_size, " B")),
            ("resumable upload", yes(self.resumable_upload)),
            ("resumable download", yes(self.resumable_download)),
            ("upload to folder", yes(self.upload_to_folder)),
            ("create folders", yes(self.create_folders)),
            ("overwrite", yes(self.overwrite)),
            ("journal", yes(self.journal)),
            ("reconcile", yes(self.reconcile)),
        ]
    }

    /// Refuses a message that asks for something this provider cannot do, naming the
    /// provider and the option. Pure: no I/O.
    pub fn check_message(&self, provider: &str, msg: &SecureMessage) -> Result<()> {
        if !self.send {
            return Err(Error::unsupported(format!(
                "{provider} cannot send messages; use a provider that can send"
            ))
            .with_provider(provider.to_owned())
            .with_operation("send"));
        }
        self.check_message_fields(provider, "send", msg)
    }

    /// Refuses a message for the compose window that asks for something this provider cannot
    /// do. Pure: no I/O.
    pub fn check_compose(&self, provider: &str, msg: &SecureMessage) -> Result<()> {
        if !self.compose {
            return Err(Error::unsupported(format!(
                "{provider} has no compose window; send the message instead"
            ))
            .with_provider(provider.to_owned())
            .with_operation("compose"));
        }
        self.check_message_fields(provider, "compose", msg)
    }

    fn check_message_fields(
        &self,
        provider: &str,
        op: &'static str,
        msg: &SecureMessage,
    ) -> Result<()> {
        let refuse = |option: &str, fix: &str| {
            Err(
                Error::unsupported(format!("{provider} cannot send {option}; {fix}"))
                    .with_provider(provider.to_owned())
                    .with_operation(op),
            )
        };
        let o = msg.options();
        let checks = [
            (
                msg.from().is_some() && !self.choose_sender,
                "with a chosen sender (from)",
                "leave `from` out to send as the account",
            ),
            (
                !msg.cc().is_empty() && !self.cc,
                "with cc recipients",
                "move them to `to`",
            ),
            (
                !msg.bcc().is_empty() && !self.bcc,
                "with bcc recipients",
                "send them a separate message",
            ),
            (
                !msg.reply_to().is_empty() && !self.reply_to,
                "with reply-to",
                "leave reply-to out",
            ),
            (
                msg.html().is_some() && !self.html_body,
                "an HTML body",
                "send a text body",
            ),
            (
                !msg.attachments().is_empty() && !self.attachments,
                "attachments",
                "upload the files instead",
            ),
            (
                o.delivery == Some(Delivery::Attach) && !self.attach_delivery,
                "files as attachments",
                "use link delivery",
            ),
            (
                o.delivery == Some(Delivery::Link) && !self.link_delivery,
                "files as links",
                "use attach delivery",
            ),
            (
                o.expires.is_some() && !self.expiry,
                "with an expiry",
                "leave the expiry out",
            ),
            (
                o.password.is_some() && !self.password,
                "with a file password",
                "leave the password out",
            ),
            (
                o.download_receipt && !self.download_receipt,
                "with download receipts",
                "leave download receipts off",
            ),
            (
                o.require_login && !self.require_login,
                "with require-login",
                "leave require-login off",
            ),
            (
                o.priority != Priority::Normal && !self.priority,
                "with a priority",
                "leave the priority at normal",
            ),
        ];
        for (asked, option, fix) in checks {
            if asked {
                return refuse(option, fix);
            }
        }
        if let (Some(max), Some(expiry)) = (self.max_expiry_days, o.expires) {
            let days = expiry.days_from(time::OffsetDateTime::now_utc().date());
            if days > max {
                return Err(Error::invalid_input(format!(
                    "{provider} keeps files at most {max} days but the expiry is {days} days; shorten it"
                ))
                .with_provider(provider.to_owned())
                .with_operation(op));
            }
        }
        if self.requires_attachments && msg.attachments().is_empty() {
            return Err(Error::invalid_input(format!(
                "{provider} sends files and this message has none; attach at least one file"
            ))
            .with_provider(provider.to_owned())
            .with_operation(op));
        }
        if let Some(max) = self.max_attachments {
            if msg.attachments().len() > max {
                return Err(Error::invalid_input(format!(
                    "{provider} takes at most {max} attachments per message, this one has {}",
                    msg.attachments().len()
                ))
                .with_provider(provider.to_owned())
                .with_operation(op));
            }
        }
        for file in msg.attachments() {
            self.check_file(provider, op, file)?;
        }
        Ok(())
    }

    /// Refuses an upload this provider cannot do. Pure: no I/O.
    pub fn check_upload(&self, provider: &str, req: &UploadRequest) -> Result<()> {
        let refuse = |option: &str, fix: &str| {
            Err(
                Error::unsupported(format!("{provider} cannot upload {option}; {fix}"))
                    .with_provider(provider.to_owned())
                    .with_operation("upload"),
            )
        };
        if !self.upload {
            return refuse("files", "use a provider that can upload");
        }
        if req.folder().is_some() && !self.upload_to_folder {
            return refuse("into a named folder", "leave the folder out");
        }
        if req.create_parents() && !self.create_folders {
            return refuse("creating folders", "create the folder first");
        }
        if req.overwrite() && !self.overwrite {
            return refuse("over an existing file", "upload under another name");
        }
        if req.resume() && !self.resumable_upload {
            return refuse("by resuming an interrupted upload", "upload the file again");
        }
        self.check_file(provider, "upload", req.file())
    }

    /// Refuses a listing this provider cannot do. Pure: no I/O.
    pub fn check_list(&self, provider: &str, req: &ListRequest) -> Result<()> {
        if !self.browse {
            return Err(Error::unsupported(format!(
                "{provider} cannot list folders; its service documents no listing"
            ))
            .with_provider(provider.to_owned())
            .with_operation("list"));
        }
        req.validate()
            .map_err(|e| e.with_provider(provider.to_owned()).with_operation("list"))
    }

    /// Refuses a folder creation this provider cannot do, or a bad path. Pure: no I/O.
    pub fn check_create_folder(&self, provider: &str, path: &str) -> Result<String> {
        let ctx = |e: Error| {
            e.with_provider(provider.to_owned())
                .with_operation("create folder")
        };
        if !self.browse || !self.create_folders {
            return Err(ctx(Error::unsupported(format!(
                "{provider} cannot create folders"
            ))));
        }
        let clean = crate::request::normalize_folder(path).map_err(ctx)?;
        if clean.is_empty() {
            return Err(ctx(Error::invalid_input(
                "the folder path is empty; give the folder to create",
            )));
        }
        Ok(clean)
    }

    /// Refuses a download this provider cannot do. Pure: no I/O.
    pub fn check_download(&self, provider: &str, req: &DownloadRequest) -> Result<()> {
        if !self.download {
            return Err(Error::unsupported(format!(
                "{provider} cannot download files; use a provider that can"
            ))
            .with_provider(provider.to_owned())
            .with_operation("download"));
        }
        req.validate().map_err(|e| {
            e.with_provider(provider.to_owned())
                .with_operation("download")
        })
    }

    fn check_file(&self, provider: &str, op: &'static str, file: &CheckedFile) -> Result<()> {
        let name = file.name();
        if file.size == 0 && !self.empty_files {
            return Err(Error::invalid_input(format!(
                "{name} is empty (0 bytes) and {provider} does not accept empty files; leave it out"
            ))
            .with_provider(provider.to_owned())
            .with_operation(op));
        }
        if let Some(max) = self.max_file_size {
            if file.size > max {
                return Err(Error::invalid_input(format!(
                    "{name} is {} bytes, larger than the {max}-byte limit of {provider}; split or compress it",
                    file.size
                ))
                .with_provider(provider.to_owned())
                .with_operation(op));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attachment;
    use crate::message::Expiry;

    fn caps() -> Capabilities {
        Capabilities {
            send: true,
            attachments: true,
            expiry: true,
            max_expiry_days: Some(15),
            max_file_size: Some(4),
            ..Capabilities::default()
        }
    }

    #[test]
    fn names_provider_and_option() {
        let msg = SecureMessage::builder()
            .to("a@example.com")
            .cc("b@example.com")
            .build()
            .unwrap();
        let err = caps().check_message("tuyu", &msg).unwrap_err();
        assert!(err.is_unsupported());
        assert_eq!(err.provider(), Some("tuyu"));
        assert!(err.to_string().contains("cc"), "{err}");
    }

    #[test]
    fn limits_are_input_errors() {
        let big = SecureMessage::builder()
            .to("a@example.com")
            .attach(Attachment::from_bytes("big.bin", "12345"))
            .build()
            .unwrap();
        let err = caps().check_message("tuyu", &big).unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("big.bin"),
            "{err}"
        );
        let empty = SecureMessage::builder()
            .to("a@example.com")
            .attach(Attachment::from_bytes("empty.txt", ""))
            .build()
            .unwrap();
        assert!(
            caps()
                .check_message("tuyu", &empty)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let long = SecureMessage::builder()
            .to("a@example.com")
            .expires(Expiry::Days(30))
            .build()
            .unwrap();
        assert!(
            caps()
                .check_message("tuyu", &long)
                .unwrap_err()
                .to_string()
                .contains("15 days")
        );
    }

    #[test]
    fn roles_absent_are_unsupported() {
        let none = Capabilities::default();
        let req = UploadRequest::builder(Attachment::from_bytes("a", "b"))
            .build()
            .unwrap();
        assert!(none.check_upload("x", &req).unwrap_err().is_unsupported());
        assert!(
            none.check_download("x", &DownloadRequest::new("1"))
                .unwrap_err()
                .is_unsupported()
        );
    }
}
