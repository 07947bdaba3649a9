//! Sending a message: draft → attachments → send.
//!
//! 1. `POST /rest/mail/actions/sendFile` with `draft = true` creates the draft.
//! 2. Each attachment is uploaded onto it (`POST /rest/mail/{id}/actions/initiateUpload` and
//!    chunks), several files at once up to `attachment_concurrency`, each file's chunks in order.
//! 3. `PUT /rest/mail/{id}/actions/sendFile` with every file id sends it (200).
//!
//! Step 3 is the point of no return. Anything failing before it, or the message's `Cancel`
//! firing, deletes the draft (and its unfinished upload sessions) and is reported as not sent.
//! Step 3 is never repeated blindly: when its outcome is unknown (the connection broke, the
//! service failed), `GET /rest/mail/{id}` says whether the message left; only a message still a
//! draft is sent again, and one whose state cannot be learnt is reported as may have been sent.
//!
//! A message with a [`SendJournal`](securesend_core::SendJournal) records its draft and each
//! stored attachment there, and marks the point of no return just before step 3, so that
//! another process can take the send over (`checkpoint.rs`, `reconcile.rs`).

use futures::StreamExt;
use time::OffsetDateTime;

use securesend_core::chunk::ChunkPlan;
use securesend_core::{
    CheckedFile, Error, ErrorKind, FileProgress, Link, Progress, RemoteFile, Result, SecureMessage,
    SendReceipt, SendStatus,
};

use crate::api::{Mail, SendMail};
use crate::checkpoint::{Checkpoint, Recorder};
use crate::client::{UploadTarget, valid_id};
use crate::config::Acl;
use crate::reconcile::Start;
use crate::upload::{Outgoing, Session, service_checksums};
use crate::{Inner, PROVIDER};

/// Kiteworks options of one message, beyond what [`SecureMessage`] carries. Unset fields take
/// the profile's values (`acl`, `secure_body`, `self_copy`, `include_fingerprint`).
///
/// ```
/// use securesend_kiteworks::{Acl, MailOptions};
/// let opts = MailOptions::default()
///     .acl(Acl::Internal)
///     .include_fingerprint(true)
///     .file_id("2b6a0c4e-0d9b-4d6e-9b7e-1f2a3b4c5d6e");
/// assert_eq!(opts.acl.map(|a| a.as_str()), Some("internal"));
/// assert_eq!(opts.file_ids.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailOptions {
    /// Who may open the files.
    pub acl: Option<Acl>,
    /// Hide the body from the notification e-mail.
    pub secure_body: Option<bool>,
    /// Send the sender a copy.
    pub self_copy: Option<bool>,
    /// Put each file's fingerprint into the notification.
    pub include_fingerprint: Option<bool>,
    /// Files already on the service to send along, by id.
    pub file_ids: Vec<String>,
}

impl MailOptions {
    /// Sets who may open the files.
    pub fn acl(mut self, acl: Acl) -> Self {
        self.acl = Some(acl);
        self
    }
    /// Hides the body from the notification e-mail, or shows it.
    pub fn secure_body(mut self, on: bool) -> Self {
        self.secure_body = Some(on);
        self
    }
    /// Sends the sender a copy, or not.
    pub fn self_copy(mut self, on: bool) -> Self {
        self.self_copy = Some(on);
        self
    }
    /// Puts each file's fingerprint into the notification, or not.
    pub fn include_fingerprint(mut self, on: bool) -> Self {
        self.include_fingerprint = Some(on);
        self
    }
    /// Sends a file already on the service along, by its id.
    pub fn file_id(mut self, id: impl Into<String>) -> Self {
        self.file_ids.push(id.into());
        self
    }
}

/// The longest message body sent, in bytes of UTF-8. Neither the v28 specification nor the
/// documentation gives the service's limit; bodies past this are refused before any request
/// rather than left to an answer that does not say what is wrong. The sandbox enforces the same.
pub(crate) const MAX_BODY_BYTES: usize = 64 << 10;

/// A download link from the service, if it is a web address fit to show: `http(s)`, no
/// credentials, a host.
fn shown_link(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    let fine = matches!(url.scheme(), "https" | "http")
        && url.username().is_empty()
        && url.password().is_none()
        && url.host_str().is_some();
    fine.then(|| url.to_string())
}

/// What a cancelled send's errors name.
const SENDING: &str = "the send";

/// A cancellation before the point of no return, saying what was done about it; other errors
/// pass unchanged.
fn interrupted(e: Error, done: String) -> Error {
    if !e.is_cancelled() {
        return e;
    }
    e.with_message(format!(
        "the send was interrupted before the message was sent; {done}"
    ))
    .or_provider(PROVIDER)
    .or_operation("send")
}

/// The message of the error a file stops with because another one failed.
const STOPPED: &str = "stopped because another attachment failed";

/// What stops the attachments of one message: its cancel, or one of them failing.
struct Batch<'a> {
    cancel: &'a securesend_core::Cancel,
    failed: securesend_core::Cancel,
}

impl Batch<'_> {
    fn check(&self) -> Result<()> {
        self.cancel.check(SENDING)?;
        if self.failed.is_cancelled() {
            return Err(Error::cancelled(STOPPED));
        }
        Ok(())
    }

    /// `work`, cut off when the cancel fires or another file fails.
    async fn guard<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.check()?;
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Error::cancelled(format!("{SENDING} was interrupted"))),
            () = self.failed.cancelled() => Err(Error::cancelled(STOPPED)),
            r = work => r,
        }
    }
}

/// Upload sessions opened on a draft and not finished, to discard when the send is given up.
#[derive(Default)]
struct OpenSessions(std::sync::Mutex<Vec<String>>);

impl OpenSessions {
    fn opened(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.to_owned());
    }
    fn finished(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|o| o != id);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn fail(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message.into())
        .with_provider(PROVIDER)
        .with_operation("send")
}

/// The answer to a send was lost and the message's state cannot be read.
fn lost_answer(draft: &str, failure: &Error) -> Error {
    fail(
        failure.kind(),
        format!(
            "the answer to the send of message {draft} was lost ({}) and the service could not be asked whether it left; look for it among the sent messages in Kiteworks before sending again",
            failure.message()
        ),
    )
    .maybe_sent()
}

/// Whether an error answer says the service did not take a request at all: 503, 429 or its
/// rate limit, and an answer rather than a lost connection.
fn not_taken(e: &Error) -> bool {
    !e.outcome_unknown()
        && (e.is_rate_limited() || (e.is_unavailable() && matches!(e.status(), Some(503 | 429))))
}

/// The addresses of a recipient list, as the service takes them.
fn addr(list: &[securesend_core::Address]) -> Vec<String> {
    list.iter().map(|a| a.email().to_owned()).collect()
}

/// Where a message stands by the service's status.
pub(crate) fn status_of(mail: &Mail) -> Option<SendStatus> {
    match mail
        .status
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("sent" | "self_send") => Some(SendStatus::Sent),
        Some("queued" | "pending_review") => Some(SendStatus::Queued),
        _ => None,
    }
}

impl Inner {
    /// The request bodies (draft and send), built and checked before anything is sent.
    async fn mail_body(&self, msg: &SecureMessage, opts: &MailOptions) -> Result<SendMail> {
        if let Some(text) = msg.text() {
            if text.len() > MAX_BODY_BYTES {
                return Err(Error::invalid_input(format!(
                    "the message body has {} bytes; Kiteworks messages take at most {MAX_BODY_BYTES} bytes (64 KiB): shorten it or send the text as an attachment",
                    text.len()
                ))
                .with_provider(PROVIDER)
                .with_operation("send"));
            }
        }
        let s = &self.settings;
        let o = msg.options();
        let mut acl = opts.acl.or(s.acl);
        if o.require_login {
            match acl {
                Some(Acl::NoAuth) => {
                    return Err(Error::invalid_input(
                        "require-login contradicts acl = no_auth; drop one of them",
                    )
                    .with_provider(PROVIDER)
                    .with_operation("send"));
                }
                None => acl = Some(Acl::VerifyRecipient),
                Some(_) => {}
            }
        }
        let secure_body = opts.secure_body.or(s.secure_body);
        if secure_body == Some(true) && acl == Some(Acl::NoAuth) {
            return Err(Error::invalid_input(
                "a secure body needs recipients to sign in, but acl = no_auth; drop one of them",
            )
            .with_provider(PROVIDER)
            .with_operation("send"));
        }
        for id in &opts.file_ids {
            if !valid_id(id) {
                let shown: String = id.escape_debug().take(60).collect();
                return Err(Error::invalid_input(format!(
                    "file id \"{shown}\" is not a Kiteworks id"
                ))
                .with_provider(PROVIDER)
                .with_operation("send"));
            }
        }
        let expire = o.expires.map(|e| {
            let date = e.date_from(OffsetDateTime::now_utc().date());
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        });
        let return_receipts = if o.download_receipt {
            let me = self.me().await?;
            match &me.email {
                Some(e) => vec![e.clone()],
                None => {
                    return Err(fail(
                        ErrorKind::Protocol,
                        "the service did not say the account's address, needed for download receipts",
                    ));
                }
            }
        } else {
            Vec::new()
        };
        Ok(SendMail {
            to: addr(msg.to()),
            cc: addr(msg.cc()),
            bcc: addr(msg.bcc()),
            files: opts.file_ids.clone(),
            subject: msg.subject().to_owned(),
            body: msg.text().map(str::to_owned),
            draft: true,
            uploading: None,
            expire,
            acl: acl.map(Acl::as_str),
            secure_body,
            self_copy: opts.self_copy.or(s.self_copy),
            include_fingerprint: opts.include_fingerprint.or(s.include_fingerprint),
            return_receipts,
        })
    }

    pub(crate) async fn send_message(
        &self,
        msg: SecureMessage,
        opts: MailOptions,
    ) -> Result<SendReceipt> {
        let start = match msg.journal() {
            Some(j) => self.start_of(j.as_ref()).await?,
            None => Start::Afresh,
        };
        let (resume, committed) = match start {
            Start::Afresh => (None, false),
            Start::Continue {
                checkpoint,
                committed,
            } => (Some(checkpoint), committed),
            Start::Sent { checkpoint, mail } => {
                // Listed as the earlier attempt stored them; files sent by id are asked for
                // only to name them, and the message counts as sent whatever that answers.
                let mut attachments = self.files_by_id(&opts).await.unwrap_or_else(|e| {
                    tracing::warn!(provider = PROVIDER, error = %e, "the files sent by id are left out of the receipt");
                    Vec::new()
                });
                attachments.extend(checkpoint.remote_files());
                return Ok(self.receipt(&msg, checkpoint.draft, mail, attachments));
            }
        };
        let recorder = Recorder::new(msg.journal().cloned());
        // Up to the PUT sendFile no recipient can have the message, whatever failed.
        let (draft, body, attachments) = self
            .prepare(&msg, &opts, resume, &recorder)
            .await
            .map_err(Error::not_sent)?;
        // After a take-over of a send that reached this point, an earlier PUT may have sent
        // the message since it was seen as a draft.
        let mail = self.deliver(&draft, &body, committed).await?;
        Ok(self.receipt(&msg, draft, mail, attachments))
    }

    /// The receipt of message `draft`, sent, as `mail` shows it.
    fn receipt(
        &self,
        msg: &SecureMessage,
        draft: String,
        mail: Mail,
        attachments: Vec<RemoteFile>,
    ) -> SendReceipt {
        let status = status_of(&mail).unwrap_or(SendStatus::Sent);
        let mut recipients = mail.recipient_emails();
        if recipients.is_empty() {
            recipients = msg.recipients().map(|a| a.email().to_owned()).collect();
        }
        let mut receipt = SendReceipt::new(PROVIDER, draft, status)
            .with_recipients(recipients)
            .with_roles(addr(msg.to()), addr(msg.cc()), addr(msg.bcc()))
            .with_attachments(attachments);
        // The service's day when it says one, else the one asked for.
        let expires = mail.expiration_date.or_else(|| {
            msg.options()
                .expires
                .map(|e| e.date_from(OffsetDateTime::now_utc().date()))
        });
        if let Some(day) = expires {
            receipt = receipt.with_expires(day);
        }
        match mail.download_link().and_then(shown_link) {
            Some(url) => {
                // One link leads to all the message's files; the receipt's day says until when.
                receipt = receipt.with_link(Link {
                    url,
                    file: None,
                    expires: None,
                });
            }
            None if mail.download_link().is_some() => {
                tracing::warn!(
                    provider = PROVIDER,
                    "the service's download link is not a web address; left out"
                );
            }
            None => {}
        }
        if mail.status.as_deref() == Some("pending_review") {
            receipt = receipt.with_warning("the service holds the message for review");
        }
        receipt
    }

    /// Everything before the point of no return: the draft with its attachments, the body
    /// that sends it, and the files as stored. A failure deletes the draft; so does the
    /// message's [`Cancel`](securesend_core::Cancel) firing, which stops the work at its next
    /// safe point (the draft's creation is let finish, so that its id is known).
    ///
    /// `resume` is an earlier attempt's checkpoint whose draft is still a draft: that draft is
    /// used and the attachments it lists are not uploaded again. The journal's checkpoint is
    /// saved once the draft is known and after each attachment, and its point of no return
    /// marked last; when either fails the send stops here, like any failure before the send.
    ///
    /// Deleting the draft on every failure (retryable ones too) means a send given up for good
    /// leaves nothing behind; the attempt that retries it finds its checkpoint's draft gone and
    /// starts afresh.
    async fn prepare(
        &self,
        msg: &SecureMessage,
        opts: &MailOptions,
        resume: Option<Checkpoint>,
        recorder: &Recorder,
    ) -> Result<(String, SendMail, Vec<RemoteFile>)> {
        let cancel = msg.cancel();
        let nothing_made =
            |e: Error| interrupted(e, "nothing was created on the service".to_owned());
        let mut body = cancel
            .guard(SENDING, self.mail_body(msg, opts))
            .await
            .map_err(nothing_made)?;
        // Files sent by id must exist before anything is created.
        let by_id = cancel
            .guard(SENDING, self.files_by_id(opts))
            .await
            .map_err(nothing_made)?;
        cancel.check(SENDING).map_err(nothing_made)?;
        // The upload configuration (first send only; it is kept) and the draft do not depend
        // on each other: asking both at once saves a round trip.
        // The configuration's request may be cut by a cancel (nothing comes of it); the draft's
        // creation only between its tries, when nothing exists.
        let chunk = cancel.guard(SENDING, async {
            if msg.attachments().is_empty() {
                Ok(0)
            } else {
                self.chunk_size().await
            }
        });
        let (chunk, draft) = match &resume {
            Some(cp) => (chunk.await, Ok(cp.draft.clone())),
            None => futures::join!(chunk, self.create_draft(&body, cancel)),
        };
        let draft = draft.map_err(nothing_made)?;
        // What the checkpoint lists of this very message (a file changed since is not).
        let kept: Vec<_> = msg
            .attachments()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| resume.as_ref()?.stored(i, f).cloned())
            .collect();
        let open = OpenSessions::default();
        // Not dropped on a cancel: each file stops at its own safe points, so that a session
        // being opened is recorded (and discarded) rather than left behind.
        let work = async {
            recorder.draft(&draft, kept).await?;
            let files = self
                .attach_all(&draft, msg, chunk?, &open, resume.as_ref(), recorder)
                .await?;
            // The last safe point is after the attachments, just before the send.
            cancel.check(SENDING)?;
            recorder.point_of_no_return().await?;
            Ok::<_, Error>(files)
        };
        let uploaded = match work.await {
            Ok(files) => files,
            Err(e) => {
                let deleted = self.abandon(&draft, &open).await;
                if !e.is_cancelled() {
                    return Err(e);
                }
                let done = if deleted {
                    "its draft was deleted".to_owned()
                } else {
                    format!(
                        "its draft {draft} could not be deleted; delete it among the drafts in Kiteworks"
                    )
                };
                return Err(interrupted(e, done));
            }
        };
        body.files.extend(uploaded.iter().map(|f| f.id.clone()));
        body.draft = false;
        body.uploading = Some(false);
        let mut attachments = by_id;
        attachments.extend(uploaded);
        Ok((draft, body, attachments))
    }

    /// The files sent along by id, as the service has them.
    async fn files_by_id(&self, opts: &MailOptions) -> Result<Vec<RemoteFile>> {
        let mut by_id = Vec::new();
        for id in &opts.file_ids {
            let f = self.api.file(id).await?;
            let mut r = RemoteFile::new(PROVIDER, f.id.clone(), f.name.clone().unwrap_or_default())
                .with_checksums(service_checksums(&f));
            if let Some(size) = f.size {
                r = r.with_size(size);
            }
            by_id.push(r);
        }
        Ok(by_id)
    }

    /// Gives up a draft: its unfinished upload sessions, then the draft (with the files
    /// uploaded onto it). Whether the draft is gone.
    async fn abandon(&self, draft: &str, open: &OpenSessions) -> bool {
        for id in open.take() {
            if let Err(e) = self.api.delete_upload(&id).await {
                tracing::debug!(provider = PROVIDER, error = %e, "upload session {id} not discarded");
            }
        }
        self.discard_draft(draft).await
    }

    /// Creates the draft. The call is never repeated blindly (a second draft would be an
    /// orphan), but an answer saying the service did not take it (503, 429, its rate limit)
    /// is: nothing was created. Other 5xx answers (500, 502, …) may come after the draft was
    /// made, so they are not. A cancel during the pause between tries stops there.
    async fn create_draft(
        &self,
        body: &SendMail,
        cancel: &securesend_core::Cancel,
    ) -> Result<String> {
        let max_attempts = self.settings.http.max_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.api.create_draft(body).await {
                Err(e) if attempt < max_attempts && not_taken(&e) => {
                    tracing::debug!(provider = PROVIDER, error = %e, "the draft was not taken; asking again");
                    let pause = e.retry_after().unwrap_or_else(|| {
                        std::time::Duration::from_millis(250u64 << attempt.min(6))
                    });
                    let pause = tokio::time::sleep(pause.min(std::time::Duration::from_secs(30)));
                    cancel
                        .guard(SENDING, async {
                            pause.await;
                            Ok(())
                        })
                        .await?;
                }
                other => return other,
            }
        }
    }

    /// Uploads every attachment onto the draft, `attachment_concurrency` at a time. When one
    /// fails, or the message's cancel fires, the others stop at their next safe point; the
    /// error is the first file's own failure, not the stops it caused.
    async fn attach_all(
        &self,
        draft: &str,
        msg: &SecureMessage,
        chunk: u64,
        open: &OpenSessions,
        resume: Option<&Checkpoint>,
        recorder: &Recorder,
    ) -> Result<Vec<RemoteFile>> {
        let target = UploadTarget::Mail(draft.to_owned());
        let batch = Batch {
            cancel: msg.cancel(),
            failed: securesend_core::Cancel::new(),
        };
        // Futures made up front (they start when polled): `buffered` then runs at most
        // `attachment_concurrency` of them at once, in order. Every one is run to its end
        // (stopping early once told), never dropped halfway.
        let uploads: Vec<_> = msg
            .attachments()
            .iter()
            .enumerate()
            .map(|(index, file)| {
                let (target, batch) = (&target, &batch);
                let stored = resume.and_then(|cp| cp.stored(index, file));
                async move {
                    if let Some(saved) = stored {
                        // On the draft already: shown as done, not sent again.
                        let mut p = FileProgress::start(
                            msg.progress(),
                            index,
                            file.name(),
                            Some(file.size),
                        );
                        p.set(file.size);
                        p.finish();
                        return Ok(saved.remote());
                    }
                    let r = match self
                        .attach_one(target, file, index, msg.progress(), chunk, open, batch)
                        .await
                    {
                        Ok(f) => recorder.file(index, file, &f).await.map(|()| f),
                        Err(e) => Err(e),
                    };
                    if r.is_err() {
                        batch.failed.cancel();
                    }
                    r
                }
            })
            .collect();
        let results: Vec<Result<RemoteFile>> = futures::stream::iter(uploads)
            .buffered(self.settings.attachment_concurrency)
            .collect()
            .await;
        let mut files = Vec::with_capacity(results.len());
        let mut stopped = None;
        for r in results {
            match r {
                Ok(f) => files.push(f),
                Err(e) if e.message() == STOPPED => stopped = stopped.or(Some(e)),
                Err(e) => return Err(e),
            }
        }
        match stopped {
            Some(e) => Err(e),
            None => Ok(files),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attach_one(
        &self,
        target: &UploadTarget,
        file: &CheckedFile,
        index: usize,
        progress: Option<&Progress>,
        chunk: u64,
        open: &OpenSessions,
        batch: &Batch<'_>,
    ) -> Result<RemoteFile> {
        let plan = ChunkPlan::new(file.size, chunk)?;
        batch.check()?;
        // Let finish even when cancelled: a session opened unseen would be left behind.
        let upload = self.start_session(target, file, plan).await?;
        open.opened(&upload.id);
        batch.check()?;
        let out = Outgoing {
            file,
            index,
            progress,
        };
        let session = Session {
            upload,
            first_chunk: 0,
        };
        let done = batch
            .guard(self.send_chunks(target, &out, plan, &session))
            .await?;
        // The last chunk completed the session: nothing of it is left to discard.
        open.finished(&session.upload.id);
        Ok(self.remote_file(&done, file, None))
    }

    /// Sends the draft. After an ambiguous failure the service's state decides: a message that
    /// left is a success, a draft is sent again (a bounded number of times), and a message whose
    /// state cannot be learnt is reported with its id and never deleted.
    ///
    /// "Not sent" is said only when the draft was deleted afterwards: the service refuses to
    /// delete a sent message, so a delete that worked proves nothing went, and one that failed
    /// leaves the doubt (an earlier try may still be under way on the service).
    ///
    /// `in_doubt` says an earlier attempt's send may be under way (a send taken over after its
    /// point of no return): a refusal because the message is no longer a draft then means it
    /// left.
    async fn deliver(&self, draft: &str, body: &SendMail, in_doubt: bool) -> Result<Mail> {
        let max_attempts = self.settings.http.max_attempts.max(1);
        let mut attempt = 0;
        // Whether an earlier try's outcome is unknown: it may have sent the message since.
        let mut in_doubt = in_doubt;
        loop {
            attempt += 1;
            let failure = match self.api.send_draft(draft, body).await {
                Ok(Some(mail)) => return Ok(mail),
                Ok(None) => {
                    return self.api.mail(draft).await.or_else(|_| {
                        Ok(Mail {
                            id: draft.to_owned(),
                            ..Mail::default()
                        })
                    });
                }
                Err(e) => e,
            };
            let ambiguous = failure.outcome_unknown()
                || failure.is_unavailable()
                || failure.is_timeout()
                || failure.is_rate_limited();
            if !ambiguous {
                if in_doubt && failure.kind() == ErrorKind::Conflict {
                    // "Not a draft" after a try whose outcome was unknown: that try sent it.
                    return self.sent_after_all(draft, &failure).await;
                }
                // The service refused the send: the message is still a draft, unless it
                // refuses the delete too.
                return Err(self.given_up(draft, failure).await);
            }
            in_doubt = true;
            let state = match self.api.mail(draft).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(provider = PROVIDER, error = %e, "cannot learn whether message {draft} was sent");
                    return Err(lost_answer(draft, &failure));
                }
            };
            if status_of(&state).is_some() {
                tracing::debug!(
                    provider = PROVIDER,
                    "the send went through although its answer was lost"
                );
                return Ok(state);
            }
            let is_draft = state
                .status
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("draft"));
            if !is_draft {
                let shown = state
                    .status
                    .as_deref()
                    .map(securesend_core::clean_service_text)
                    .unwrap_or_default();
                let why = state
                    .error
                    .as_deref()
                    .map(securesend_core::clean_service_text)
                    .filter(|w| !w.is_empty())
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                // No state says that nothing went: the specification does not promise it even
                // of "error" (some recipients may have been notified before it).
                return Err(fail(
                    ErrorKind::Protocol,
                    format!("message {draft} is in state \"{shown}\"{why} after the send"),
                )
                .maybe_sent());
            }
            if attempt >= max_attempts {
                // Still a draft after every try: it is deleted, and only a deleted draft proves
                // the message never left.
                return Err(self.given_up(draft, failure).await);
            }
            tokio::time::sleep(std::time::Duration::from_millis(250u64 << attempt.min(6))).await;
        }
    }

    /// The send is given up: the draft is deleted, and the error says "not sent" only if
    /// that worked (the service cannot delete a sent message).
    async fn given_up(&self, draft: &str, failure: Error) -> Error {
        if self.discard_draft(draft).await {
            return failure.not_sent();
        }
        let message = format!(
            "{}; message {draft} could not be deleted afterwards, so it may have been sent: look for it among the sent messages in Kiteworks before sending again",
            failure.message()
        );
        failure.with_message(message).maybe_sent()
    }

    /// The service says the message is no longer a draft after a try whose answer was lost:
    /// its state says whether it left; when that cannot be learnt, it may have.
    async fn sent_after_all(&self, draft: &str, failure: &Error) -> Result<Mail> {
        match self.api.mail(draft).await {
            Ok(state) if status_of(&state).is_some() => {
                tracing::debug!(
                    provider = PROVIDER,
                    "an earlier try of the send went through although its answer was lost"
                );
                Ok(state)
            }
            Ok(state) => {
                let shown = state
                    .status
                    .as_deref()
                    .map(securesend_core::clean_service_text)
                    .unwrap_or_default();
                Err(fail(
                    failure.kind(),
                    format!(
                        "message {draft} is in state \"{shown}\" after the send; look for it among the sent messages in Kiteworks before sending again"
                    ),
                )
                .maybe_sent())
            }
            Err(_) => Err(lost_answer(draft, failure)),
        }
    }

    /// Deletes a draft after a failure; the service refuses to delete a sent message, so this
    /// can never withdraw one.
    pub(crate) async fn discard_draft(&self, draft: &str) -> bool {
        match self.api.delete_mail(draft).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(provider = PROVIDER, error = %e, "could not delete draft {draft}");
                false
            }
        }
    }
}
