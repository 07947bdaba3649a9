//! Sending (`POST /mail[/<id>]`) and the compose window (`POST /mail[/<id>]/compose`).
//!
//! Order of work: every check that needs no request, then the identity (a read), then the
//! attachment uploads (one streamed POST each), then the one POST that sends, the point of no
//! return: any failure before it is [`Error::not_sent`], a refusal of it too, and only an
//! answer lost after it left is [`Error::maybe_sent`] (unless the attachments settle it). That
//! POST is never repeated. When its outcome is unknown (the connection broke after the request left),
//! the uploaded attachments tell: EGroupware deletes them only after a successful send.
//! A message with a journal ([`SecureMessage::journal`]) has its point of no return marked
//! there immediately before that POST; a journal that refuses stops the send unsent.

use securesend_core::{
    CheckedFile, Delivery, Error, Priority, RemoteFile, Result, SecureMessage, SendReceipt,
    SendStatus,
};

use tracing::Instrument;

use crate::api::MailBody;
use crate::config::{Edition, LongNames};
use crate::stream::Outgoing;
use crate::token::{UploadToken, shorten, stored_name};
use crate::vfs::VfsPath;
use crate::{EgroupwareProvider, PROVIDER};

/// How EGroupware hands the files of a message to recipients (`attachmentType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachmentType {
    /// Inside the message (`attach`, the server's default).
    Attach,
    /// As a sharing link (`link`); uploaded files are copied into the sender's files first.
    Link,
    /// As a read-only share of the file's current content (`share_ro`); VFS paths only.
    ShareRo,
    /// As a writable share (`share_rw`); VFS paths only, EPL edition only.
    ShareRw,
}

impl AttachmentType {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentType::Attach => "attach",
            AttachmentType::Link => "link",
            AttachmentType::ShareRo => "share_ro",
            AttachmentType::ShareRw => "share_rw",
        }
    }

    fn is_share(self) -> bool {
        self != AttachmentType::Attach
    }
}

/// What an EGroupware message may carry beyond a [`SecureMessage`]; used with
/// [`EgroupwareProvider::send_with`] and [`EgroupwareProvider::compose_with`].
///
/// ```
/// use securesend_egroupware::{AttachmentType, MailOptions, VfsPath};
/// let options = MailOptions::default()
///     .vfs_attachment(VfsPath::new("/home/ralf/reports/q3.pdf")?)
///     .attachment_type(AttachmentType::ShareRo);
/// assert_eq!(options.vfs_attachments.len(), 1);
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct MailOptions {
    /// Files already in EGroupware's VFS, attached by path (the account needs read access).
    pub vfs_attachments: Vec<VfsPath>,
    /// How the files travel; overrides the message's delivery option.
    pub attachment_type: Option<AttachmentType>,
    /// Send as this identity (`ident_id`), before the message's sender and the configuration.
    pub identity: Option<u64>,
}

impl MailOptions {
    /// Adds a VFS path to attach.
    pub fn vfs_attachment(mut self, path: VfsPath) -> Self {
        self.vfs_attachments.push(path);
        self
    }

    /// Chooses how the files travel.
    pub fn attachment_type(mut self, kind: AttachmentType) -> Self {
        self.attachment_type = Some(kind);
        self
    }

    /// Chooses the identity by `ident_id`.
    pub fn identity(mut self, id: u64) -> Self {
        self.identity = Some(id);
        self
    }
}

/// Whether the message is sent or opened in the compose window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Send,
    Compose,
}

impl Mode {
    fn operation(self) -> &'static str {
        match self {
            Mode::Send => "send",
            Mode::Compose => "compose",
        }
    }
}

/// Everything decided before the first request.
struct Plan {
    /// The name each local attachment is uploaded under.
    names: Vec<String>,
    attachment_type: Option<AttachmentType>,
    warnings: Vec<String>,
}

fn invalid(mode: Mode, message: String) -> Error {
    let op = match mode {
        Mode::Send => "send",
        Mode::Compose => "compose",
    };
    Error::invalid_input(message)
        .with_provider(PROVIDER)
        .with_operation(op)
}

impl EgroupwareProvider {
    /// The checks that need no request.
    fn plan(&self, message: &SecureMessage, options: &MailOptions, mode: Mode) -> Result<Plan> {
        let config = &self.config;
        let attachment_type = options
            .attachment_type
            .or(match message.options().delivery {
                Some(Delivery::Attach) => Some(AttachmentType::Attach),
                Some(Delivery::Link) => Some(AttachmentType::Link),
                None => None,
            });
        let local = message.attachments();
        if let Some(kind @ (AttachmentType::ShareRo | AttachmentType::ShareRw)) = attachment_type {
            if !local.is_empty() {
                return Err(invalid(
                    mode,
                    format!(
                        "{} shares files already in EGroupware; upload the files first (securesend upload) and attach their VFS paths",
                        kind.as_str()
                    ),
                ));
            }
        }
        if attachment_type == Some(AttachmentType::ShareRw) && config.edition != Edition::Epl {
            return Err(Error::unsupported(
                "writable shares (share_rw) need EGroupware's EPL edition; set edition = \"epl\" if the server runs it",
            )
            .with_provider(PROVIDER));
        }
        let o = message.options();
        let protects = o.password.is_some() || o.expires.is_some();
        if protects && !attachment_type.is_some_and(AttachmentType::is_share) {
            return Err(invalid(
                mode,
                "a file password or expiry applies to shared links; choose link delivery"
                    .to_owned(),
            ));
        }
        if message.reply_to().len() > 1 {
            return Err(invalid(
                mode,
                "EGroupware takes one reply-to address; give only one".to_owned(),
            ));
        }
        let mut names = Vec::with_capacity(local.len());
        let mut warnings = Vec::new();
        for file in local {
            if file.size > config.max_attachment_size {
                return Err(invalid(
                    mode,
                    format!(
                        "{} is {} bytes, above the {}-byte attachment limit (`max_attachment_size`, the server's upload limit); upload it with WebDAV and send a link, or raise the limit if the server allows",
                        file.name(),
                        file.size,
                        config.max_attachment_size
                    ),
                ));
            }
            let name = stored_name(file.name()).into_owned();
            let max = config.max_attachment_name_bytes;
            match (shorten(&name, max), config.long_attachment_names) {
                (None, _) => names.push(name),
                (Some(_), LongNames::Refuse) => {
                    return Err(invalid(
                        mode,
                        format!(
                            "attachment name {name:?} is longer than the {max} bytes EGroupware can keep; rename the file"
                        ),
                    ));
                }
                (Some(short), LongNames::Shorten) => {
                    tracing::warn!(provider = PROVIDER, from = %name, to = %short, "attachment name shortened");
                    warnings.push(format!(
                        "attachment {name:?} is sent as {short:?}: EGroupware keeps at most {max} bytes of an attachment name"
                    ));
                    names.push(short);
                }
            }
        }
        // EGroupware's answer to the send holds no link, and no request looks one up: say where
        // the recipients' links are rather than print a receipt without any.
        if attachment_type.is_some_and(AttachmentType::is_share)
            && !(local.is_empty() && options.vfs_attachments.is_empty())
        {
            warnings.push(
                "EGroupware writes the share links into the message and does not return them; they are in the sent message"
                    .to_owned(),
            );
        }
        Ok(Plan {
            names,
            attachment_type,
            warnings,
        })
    }

    /// The identity to send as: the options', else the message sender's, else the
    /// configuration's; `None` leaves the choice to the server (its default identity).
    async fn choose_identity(
        &self,
        message: &SecureMessage,
        options: &MailOptions,
        mode: Mode,
    ) -> Result<Option<u64>> {
        let config = &self.config;
        let (id, address, from_config) = match (options.identity, message.from()) {
            (Some(id), _) => (Some(id), None, false),
            (None, Some(from)) => (None, Some(from.email().to_owned()), false),
            (None, None) => (
                config.identity,
                config.from.as_ref().map(|a| a.email().to_owned()),
                true,
            ),
        };
        if id.is_none() && address.is_none() {
            return Ok(None);
        }
        let refuse = |text: String| {
            if from_config {
                Error::config(text).with_provider(PROVIDER)
            } else {
                invalid(mode, text)
            }
        };
        let Some(identities) = self.identities().await? else {
            // Servers before December 2023 cannot list identities: an id goes out unchecked
            // (the server refuses an unknown one), an address cannot be matched.
            return match id {
                Some(id) => Ok(Some(id)),
                None => Err(Error::unsupported(
                    "this EGroupware server cannot list identities, so none can be chosen by address; set `identity` to the ident_id",
                )
                .with_provider(PROVIDER)),
            };
        };
        let available = || {
            let shown: Vec<String> = identities
                .iter()
                .map(|i| format!("{} {}", i.id, i.email.as_deref().unwrap_or("(no address)")))
                .collect();
            if shown.is_empty() {
                "none".to_owned()
            } else {
                shown.join(", ")
            }
        };
        match (id, address) {
            (Some(id), _) => {
                if identities.iter().any(|i| i.id == id) {
                    Ok(Some(id))
                } else {
                    Err(refuse(format!(
                        "identity {id} is not one of {}'s identities (available: {})",
                        self.client.creds.username,
                        available()
                    )))
                }
            }
            (None, Some(address)) => identities
                .iter()
                .find(|i| {
                    i.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(&address))
                })
                .map(|i| Some(i.id))
                .ok_or_else(|| {
                    refuse(format!(
                        "{} has no identity sending as {address} (available: {})",
                        self.client.creds.username,
                        available()
                    ))
                }),
            (None, None) => Ok(None),
        }
    }

    /// Sends or opens `message` (see the module docs for the order of work).
    pub(crate) async fn deliver(
        &self,
        message: SecureMessage,
        options: &MailOptions,
        mode: Mode,
    ) -> Result<SendReceipt> {
        // Everything before the `POST /mail` sends nothing: its failures are `not_sent`.
        let plan = self
            .plan(&message, options, mode)
            .map_err(Error::not_sent)?;
        let identity = message
            .cancel()
            .guard(
                "the send, before anything was uploaded,",
                self.choose_identity(&message, options, mode),
            )
            .await
            .map_err(|e| {
                e.or_provider(PROVIDER)
                    .or_operation(mode.operation())
                    .not_sent()
            })?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let span = tracing::info_span!(
            "egroupware_send",
            provider = PROVIDER,
            %message_id,
            compose = mode == Mode::Compose
        );
        self.hand_over(message, options, mode, plan, identity, message_id)
            .instrument(span)
            .await
    }

    /// Uploads the attachments and posts the message.
    async fn hand_over(
        &self,
        message: SecureMessage,
        options: &MailOptions,
        mode: Mode,
        plan: Plan,
        identity: Option<u64>,
        message_id: String,
    ) -> Result<SendReceipt> {
        let mut warnings = plan.warnings;
        let mut tokens: Vec<UploadToken> = Vec::new();
        let mut files: Vec<RemoteFile> = Vec::new();
        for (index, (file, name)) in message.attachments().iter().zip(&plan.names).enumerate() {
            // An upload that failed, even one that may have been stored, sends nothing.
            let uploaded = message
                .cancel()
                .guard(
                    "the send, before EGroupware was asked to send it,",
                    self.upload_attachment(file, name, &message, index),
                )
                .await;
            let (token, remote) = match uploaded {
                Ok(done) => done,
                Err(e) if e.is_cancelled() => {
                    return Err(stopped(e, mode, tokens.len(), Some(name)));
                }
                Err(e) => return Err(e.not_sent()),
            };
            if remote.name != *name {
                warnings.push(format!(
                    "EGroupware keeps attachment {name:?} as {:?}",
                    remote.name
                ));
            }
            tokens.push(token);
            files.push(remote);
        }
        for path in &options.vfs_attachments {
            files.push(RemoteFile::new(
                PROVIDER,
                path.to_id(),
                path.name().unwrap_or_default(),
            ));
        }

        let mut attachments: Vec<String> = tokens.iter().map(|t| t.location().to_owned()).collect();
        attachments.extend(options.vfs_attachments.iter().map(VfsPath::to_string));
        let has_attachments = !attachments.is_empty();
        let o = message.options();
        let today = time::OffsetDateTime::now_utc().date();
        // Only shares expire; for attached files the plan has refused an expiry already.
        let last_day = o
            .expires
            .filter(|_| has_attachments)
            .map(|e| e.date_from(today));
        let expiry = last_day.map(share_expiration);
        let body = MailBody {
            to: message.to().iter().map(ToString::to_string).collect(),
            cc: message.cc().iter().map(ToString::to_string).collect(),
            bcc: message.bcc().iter().map(ToString::to_string).collect(),
            replyto: message.reply_to().first().map(ToString::to_string),
            subject: message.subject(),
            body: message.text(),
            body_html: message.html(),
            priority: match o.priority {
                Priority::High => Some(1),
                Priority::Normal => None,
                Priority::Low => Some(5),
            },
            attachment_type: plan
                .attachment_type
                .filter(|_| has_attachments)
                .map(AttachmentType::as_str),
            attachments,
            share_expiration: expiry,
            share_password: o.password.as_ref().map(|p| p.expose()),
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| {
            Error::protocol(format!("could not encode the message: {e}")).not_sent()
        })?;
        drop(body);

        // The last safe point: past it, a cancellation waits for EGroupware's answer.
        if let Err(e) = message
            .cancel()
            .check("the send, before EGroupware was asked to send it,")
        {
            return Err(stopped(e, mode, tokens.len(), None));
        }
        // A compose window delivers nothing, so only a send has a point of no return.
        if let (Mode::Send, Some(journal)) = (mode, message.journal()) {
            if let Err(e) = journal.point_of_no_return().await {
                return Err(stopped(e, mode, tokens.len(), None));
            }
        }
        let status = match mode {
            Mode::Send => SendStatus::Sent,
            Mode::Compose => SendStatus::Composing,
        };
        let recipients = message.recipients().map(|a| a.email().to_owned()).collect();
        let mut receipt = SendReceipt::new(PROVIDER, &message_id, status)
            .with_recipients(recipients)
            .with_attachments(files);
        if let Some(day) = last_day {
            receipt = receipt.with_expires(day);
        }
        let posted = self
            .client
            .post_mail(
                identity,
                mode == Mode::Compose,
                bytes.into(),
                &message_id,
                has_attachments,
            )
            .await;
        match posted {
            Ok(posted) => {
                if let Some(w) = posted.warning.filter(|w| !w.trim().is_empty()) {
                    receipt = receipt.with_warning(securesend_core::clean_service_text(&w));
                }
                if posted.unreadable_answer {
                    receipt = receipt.with_warning(
                        "EGroupware answered 200 (done) but the rest of its answer could not be read",
                    );
                }
                for w in warnings {
                    receipt = receipt.with_warning(w);
                }
                tracing::info!(attachments = receipt.attachments.len(), "accepted");
                Ok(receipt)
            }
            // A gateway's 502 or 504 comes from in front of EGroupware, which may have
            // handled the message all the same: as unclear as a broken connection.
            Err(e) if e.outcome_unknown() || matches!(e.status(), Some(502 | 504)) => {
                for w in warnings {
                    receipt = receipt.with_warning(w);
                }
                self.settle(e, &tokens, receipt, mode).await
            }
            // EGroupware answered and refused: the message did not go out.
            Err(e) => Err(e.not_sent()),
        }
    }

    /// Uploads one attachment; returns its token and the file as the receipt shows it.
    async fn upload_attachment(
        &self,
        file: &CheckedFile,
        name: &str,
        message: &SecureMessage,
        index: usize,
    ) -> Result<(UploadToken, RemoteFile)> {
        let content_type = file.attachment.content_type();
        let outgoing = Outgoing::open(file, message.progress(), index).await?;
        let (token, checksums) = self
            .client
            .upload_attachment(name, &content_type, outgoing)
            .await?;
        let remote = RemoteFile::new(PROVIDER, token.location(), token.name())
            .with_size(file.size)
            .with_content_type(content_type)
            .with_checksums(checksums);
        Ok((token, remote))
    }

    /// Decides an ambiguous outcome from what the service can tell: EGroupware deletes the
    /// uploaded attachments after a successful send, so all of them gone means sent.
    async fn settle(
        &self,
        error: Error,
        tokens: &[UploadToken],
        receipt: SendReceipt,
        mode: Mode,
    ) -> Result<SendReceipt> {
        let unknown = |why: &str, error: Error| {
            Error::new(error.kind(), format!("{}; {why}", error.message()))
                .with_provider(PROVIDER)
                .with_operation(if mode == Mode::Send {
                    "send"
                } else {
                    "compose"
                })
                .maybe_sent()
                .with_source(error)
        };
        if mode == Mode::Compose {
            return Err(unknown(
                "a compose window may have opened; look in EGroupware before trying again",
                error,
            ));
        }
        if tokens.is_empty() {
            return Err(unknown(
                "EGroupware cannot be asked whether a message went out: check the Sent folder or with a recipient before sending again",
                error,
            ));
        }
        let mut gone = 0;
        for token in tokens {
            match self.client.attachment_present(token).await {
                Ok(false) => gone += 1,
                Ok(true) => {
                    return Err(unknown(
                        "the uploaded attachments are still on the service, so the message was most likely not sent, but it may still be in progress: check the Sent folder before sending again",
                        error,
                    ));
                }
                Err(probe) => {
                    tracing::debug!(error = %probe, "attachment check failed");
                    return Err(unknown(
                        "whether the message went out could not be checked: check the Sent folder before sending again",
                        error,
                    ));
                }
            }
        }
        tracing::info!(gone, "ambiguous send settled: attachments consumed");
        Ok(receipt.with_warning(
            "the connection broke after the message was handed over; EGroupware has removed the uploaded attachments, which it does only after a successful send",
        ))
    }
}

/// A send stopped before the `POST /mail`, on its cancellation or by its journal: nothing was
/// sent; `uploaded` attachments stay in EGroupware's temporary folder, which has no request to
/// delete them.
fn stopped(e: Error, mode: Mode, uploaded: usize, in_flight: Option<&str>) -> Error {
    // The upload under way may have been stored whole before its answer came back.
    let left = match (uploaded, in_flight) {
        (0, None) => "nothing had been uploaded".to_owned(),
        (0, Some(name)) => format!(
            "nothing had finished uploading, but {name:?}, whose upload was under way, may be stored in EGroupware's temporary folder until its cleaner removes it (EGroupware has no request to delete it; only signed-in users who know its token can reach it)"
        ),
        (n, None) => format!(
            "the {n} attachment(s) already uploaded stay in EGroupware's temporary folder until its cleaner removes them (EGroupware has no request to delete them; only signed-in users who know their tokens can reach them)"
        ),
        (n, Some(name)) => format!(
            "the {n} attachment(s) already uploaded stay in EGroupware's temporary folder, and {name:?}, whose upload was under way, may be stored there too, until its cleaner removes them (EGroupware has no request to delete them; only signed-in users who know their tokens can reach them)"
        ),
    };
    let message = format!("{}; {left}", e.message());
    e.with_message(message)
        .or_provider(PROVIDER)
        .or_operation(mode.operation())
        .not_sent()
}

/// `shareExpiration` for shares available through `last_day`: the day after it, as
/// `yyyy-mm-dd`. EGroupware turns the value into a time with PHP's `strtotime`, which takes
/// a bare date as the start of that day, and a share stops working at that time; sending the
/// last day itself would end the share a day early.
fn share_expiration(last_day: time::Date) -> String {
    let d = last_day.next_day().unwrap_or(last_day);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
