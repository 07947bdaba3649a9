//! Sending: the checks the service would make silently, uploads into a folder of the message's
//! own, the preparation step, `file_send` exactly once, and cleanup when the send fails.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use securesend_core::{
    Delivery, Error, ErrorKind, Expiry, Link, RemoteFile, Result, SecureMessage, SendReceipt,
    SendStatus,
};

use crate::client::UploadSpec;
use crate::{PROVIDER, TuyuProvider};

/// Fields that identify the caller, not the message, and stay out of [`message_id`].
const NOT_IN_ID: [&str; 3] = ["api_key", "auth_code", "signature"];

/// The id a receipt carries for a `file_send`, whose success answer is not documented: `tuyu-`
/// and 24 hex digits of the SHA-256 over the request's fields (`timestamp` included; `api_key`,
/// `auth_code` and `signature` left out), each as `name=value\n`, sorted. The sandbox computes
/// the same from the request it receives, so a message can be found by its receipt.
///
/// ```
/// let id = securesend_tuyu::message_id(&[
///     ("file_id", "7,8".to_owned()),
///     ("timestamp", "1700000000".to_owned()),
///     ("signature", "ignored".to_owned()),
/// ]);
/// assert_eq!(id, "tuyu-2abb27c60bb473825cc03652");
/// ```
pub fn message_id(fields: &[(&str, String)]) -> String {
    let mut lines: Vec<String> = fields
        .iter()
        .filter(|(k, _)| !NOT_IN_ID.contains(k))
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    lines.sort();
    let digest = Sha256::digest(lines.concat().as_bytes());
    format!("tuyu-{}", &hex::encode(digest)[..24])
}

/// What a message becomes, decided before any request.
struct Plan {
    /// The folder whose users and permissions count: where the files are.
    location: String,
    /// `link_expiration`, when one is sent.
    days: Option<u32>,
    /// Every recipient hidden from the others.
    bcc: bool,
    /// Recipient addresses in order, each once.
    recipients: Vec<String>,
}

/// What a send created on the service, to remove if it fails.
#[derive(Default)]
struct Made {
    folder: Option<(String, String)>,
    files: Vec<String>,
    /// The attachment whose upload had not answered yet: without a folder of the message's
    /// own, nothing names it to remove, should the service have stored it.
    uploading: Option<String>,
}

/// The workspace of a folder path: its first component.
fn workspace_of(path: &str) -> Option<&str> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|w| !w.is_empty())
}

fn invalid(message: String) -> Error {
    Error::invalid_input(message)
        .with_provider(PROVIDER)
        .with_operation("send")
}

/// The same error with `note` added to its message; all context kept.
pub(crate) fn with_note(e: Error, note: &str) -> Error {
    let message = format!("{}; {note}", e.message());
    e.with_message(message)
}

impl TuyuProvider {
    fn plan(&self, msg: &SecureMessage, existing: &[RemoteFile]) -> Result<Plan> {
        if msg.attachments().is_empty() && existing.is_empty() {
            return Err(invalid(
                "Tuyu sends files, and this message has none; attach at least one file".into(),
            ));
        }
        if !msg.bcc().is_empty() && !msg.to().is_empty() {
            return Err(invalid(
                "Tuyu hides either every recipient or none (its bcc flag); put all recipients in bcc, or none".into(),
            ));
        }
        let workspace_path = &self.settings.workspace_path;
        let mut workspaces: Vec<&str> = Vec::new();
        if !msg.attachments().is_empty() {
            workspaces.extend(workspace_of(workspace_path));
        }
        for f in existing {
            if f.provider != PROVIDER {
                return Err(invalid(format!(
                    "{} is a file of provider {}, not of tuyu",
                    f.name, f.provider
                )));
            }
            let folder = f.folder.as_deref().and_then(workspace_of).ok_or_else(|| {
                invalid(format!(
                    "{} (id {}) has no folder, so its workspace is unknown; use the file as upload returned it",
                    f.name, f.id
                ))
            })?;
            if !workspaces.contains(&folder) {
                workspaces.push(folder);
            }
        }
        if workspaces.len() > 1 {
            return Err(invalid(format!(
                "the files are in several workspaces ({}); Tuyu sends files of one workspace at a time",
                workspaces.join(", ")
            )));
        }
        let location = if msg.attachments().is_empty() {
            format!("/{}/", workspaces[0])
        } else {
            workspace_path.clone()
        };
        let days = match msg.options().expires {
            Some(Expiry::Days(d)) => Some(d),
            Some(e @ Expiry::On(_)) => Some(e.days_from(OffsetDateTime::now_utc().date())),
            None => self.settings.config.link_expiration_days,
        };
        if let Some(d) = days {
            if msg.options().expires.is_some()
                && !(1..=crate::MAX_LINK_EXPIRATION_DAYS).contains(&d)
            {
                return Err(invalid(format!(
                    "the expiry is {d} days; Tuyu links last 1 to {} days",
                    crate::MAX_LINK_EXPIRATION_DAYS
                )));
            }
        }
        let mut recipients: Vec<String> = Vec::new();
        for a in msg.recipients() {
            if !recipients.iter().any(|r| r.eq_ignore_ascii_case(a.email())) {
                recipients.push(a.email().to_owned());
            }
        }
        Ok(Plan {
            location,
            days,
            bcc: !msg.bcc().is_empty(),
            recipients,
        })
    }

    /// Sends `msg`. Its point of no return is `file_send`: every failure before it (checks,
    /// reads, the message folder, uploads, preparation) is [`Error::not_sent`], whatever the
    /// failed request did, and what was uploaded is removed; a failure of `file_send` whose
    /// request may have been carried out is [`Error::maybe_sent`] and keeps the files. A
    /// message's journal has the point of no return marked immediately before `file_send`.
    pub(crate) async fn send_message(
        &self,
        msg: SecureMessage,
        existing: &[RemoteFile],
    ) -> Result<SendReceipt> {
        self.prepare_and_send(msg, existing)
            .await
            .map_err(|e| if e.outcome_unknown() { e } else { e.not_sent() })
    }

    async fn prepare_and_send(
        &self,
        msg: SecureMessage,
        existing: &[RemoteFile],
    ) -> Result<SendReceipt> {
        msg.cancel()
            .check("the send, before any request,")
            .map_err(|e| e.with_provider(PROVIDER).with_operation("send"))?;
        if existing.is_empty() {
            self.capabilities.check_message(PROVIDER, &msg)?;
        } else {
            // Files already on the site count as the message's files.
            let mut caps = self.capabilities.clone();
            caps.requires_attachments = false;
            caps.check_message(PROVIDER, &msg)?;
        }
        let plan = self.plan(&msg, existing)?;

        // Who is a user of the site, and what may the account do there (reads only).
        let cancel = msg.cancel();
        let users = cancel
            .guard(
                "the send, before anything was uploaded,",
                self.client.users_location_access(&plan.location),
            )
            .await
            // A read that failed sends nothing, however far it got.
            .map_err(Error::not_sent)?;
        let by_email: HashMap<String, &str> = users
            .iter()
            .filter(|u| u.is_user())
            .filter_map(|u| Some((u.email.as_deref()?.to_ascii_lowercase(), u.id.as_str())))
            .collect();
        let mut user_ids: Vec<&str> = Vec::new();
        let mut non_users: Vec<&str> = Vec::new();
        for r in &plan.recipients {
            match by_email.get(&r.to_ascii_lowercase()) {
                Some(id) if !user_ids.contains(id) => user_ids.push(id),
                Some(_) => {}
                None => non_users.push(r),
            }
        }
        if msg.options().require_login && !non_users.is_empty() {
            return Err(invalid(format!(
                "with require-login, Tuyu drops recipients who are not users of the site without a word: {}; leave require-login off or send them separately",
                non_users.join(", ")
            )));
        }
        let listing = cancel
            .guard(
                "the send, before anything was uploaded,",
                self.client.file_list(&plan.location, 1),
            )
            .await
            .map_err(Error::not_sent)?;
        let refuse = |what: &str| {
            Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("the account may not {what} at {}", plan.location),
            )
            .with_provider(PROVIDER)
            .with_operation("send"))
        };
        if listing.permission("sendFiles") == Some(false) {
            return refuse("send files");
        }
        if !msg.attachments().is_empty() && listing.permission("uploadFiles") == Some(false) {
            return refuse("upload files");
        }
        if !non_users.is_empty() && listing.permission("sendFilesNonUser") == Some(false) {
            return refuse(&format!(
                "send to people outside the site, so Tuyu would drop {} silently",
                non_users.join(", ")
            ));
        }

        let mut made = Made::default();
        let outcome = self
            .deliver(&msg, existing, &plan, &user_ids, &non_users, &mut made)
            .await;
        match outcome {
            Ok(receipt) => Ok(receipt),
            Err((e, true)) => Err(with_note(e, "its files stay on the site").maybe_sent()),
            // Before `file_send`, or refused by it: nothing went out, whatever the failed
            // request did (an upload that may have landed is removed with the folder).
            Err((e, false)) => {
                let cancelled = e.is_cancelled();
                // An upload cut off or unanswered may have been stored, but without its id
                // only a folder of the message's own (removed whole) would take it along.
                let unnamed = match &made.uploading {
                    Some(name) if made.folder.is_none() && (cancelled || e.outcome_unknown()) => {
                        Some(format!(
                            "{name}, whose upload had not been answered, may be stored in {} and was not removed (Tuyu did not say its id); delete it there if it is",
                            self.settings.workspace_path
                        ))
                    }
                    _ => None,
                };
                let (e, all_removed) = self.clean_up(e.not_sent(), &made).await;
                // An interruption says what became of the uploads (a failure to remove them
                // is in the note `clean_up` added).
                let e = match (cancelled, all_removed) {
                    (true, true) if made.folder.is_some() => {
                        with_note(e, "what it had uploaded was removed")
                    }
                    (true, true) if !made.files.is_empty() => {
                        with_note(e, "the files it had finished uploading were removed")
                    }
                    (true, true) if unnamed.is_none() => with_note(e, "nothing had been uploaded"),
                    _ => e,
                };
                Err(match unnamed {
                    Some(note) => with_note(e, &note),
                    None => e,
                })
            }
        }
    }

    /// Uploads, prepares and sends. The flag on an error says whether `file_send` may have
    /// been carried out.
    async fn deliver(
        &self,
        msg: &SecureMessage,
        existing: &[RemoteFile],
        plan: &Plan,
        user_ids: &[&str],
        non_users: &[&str],
        made: &mut Made,
    ) -> std::result::Result<SendReceipt, (Error, bool)> {
        let settled = |e: Error| (e.or_provider(PROVIDER).or_operation("send"), false);
        // Every step before `file_send` may be abandoned on a cancellation: the send then
        // removes what it made. `file_send` itself is never abandoned.
        let cancel = msg.cancel();
        let before_send = "the send, before Tuyu was asked to send it,";
        let workspace_path = &self.settings.workspace_path;
        let mut folder = workspace_path.clone();
        if !msg.attachments().is_empty() && self.settings.config.message_folders {
            let name = folder_name();
            let created = cancel
                .guard(
                    before_send,
                    self.client.create_folder(&name, workspace_path),
                )
                .await
                .map_err(settled)?;
            folder = format!("{workspace_path}{name}/");
            made.folder = Some((created.folder_id, folder.clone()));
        }
        let mut files: Vec<RemoteFile> = Vec::new();
        for (index, file) in msg.attachments().iter().enumerate() {
            let spec = UploadSpec {
                path: &folder,
                file,
                overwrite: false,
                comment: None,
                file_id_tag: None,
                progress: msg.progress(),
                index,
            };
            made.uploading = Some(file.name().to_owned());
            let (info, sums) = cancel
                .guard(before_send, self.client.file_upload(&spec))
                .await
                .map_err(settled)?;
            made.uploading = None;
            made.files.push(info.file_id.clone());
            files.push(crate::upload::remote_file(&info, file, &folder, sums).map_err(settled)?);
        }
        files.extend(existing.iter().cloned());
        let file_ids = files
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>()
            .join(",");

        let mut fields: Vec<(&str, String)> = vec![("file_id", file_ids.clone())];
        if !user_ids.is_empty() {
            fields.push(("user_ids", user_ids.join(",")));
        }
        if !non_users.is_empty() {
            fields.push(("non_users", non_users.join(",")));
        }
        if !msg.subject().is_empty() {
            fields.push(("subject", msg.subject().to_owned()));
        }
        if let Some(text) = msg.text() {
            fields.push(("message", text.to_owned()));
        }
        // Sent explicitly: a site whose defaults differ must not change who can download.
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        fields.push(("download_receipt", flag(msg.options().download_receipt)));
        fields.push(("require_login", flag(msg.options().require_login)));
        if let Some(d) = plan.days {
            fields.push(("link_expiration", d.to_string()));
        }
        if plan.bcc {
            fields.push(("bcc", "1".to_owned()));
        }
        // Only files go out (no folders), so the rule is: two or more files, three or more
        // non-users.
        if files.len() >= 2 && non_users.len() >= 3 {
            let prep = cancel
                .guard(before_send, self.client.send_files_prep(&file_ids))
                .await
                .map_err(settled)?;
            fields.push(("file_preparation_id", prep));
        }

        // The last safe point: past it, a cancellation waits for the service's answer.
        cancel.check(before_send).map_err(settled)?;
        // A journal that refuses (another worker took the send over) stops it like any failure
        // before `file_send`: the uploads are removed.
        if let Some(journal) = msg.journal() {
            journal.point_of_no_return().await.map_err(settled)?;
        }
        let sent_at = AtomicI64::new(0);
        self.client
            .file_send(&fields, &sent_at)
            .await
            .map_err(|e| {
                // Whether the request may have been handled is the client's one rule
                // (`read_value`: a lost answer, a 502 or 504 may follow a handled request, a
                // 503 may not); see the guide's "503" section for why.
                let maybe = e.outcome_unknown();
                (e, maybe)
            })?;
        fields.push((
            "timestamp",
            sent_at
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        ));
        let id = message_id(&fields);

        let mut receipt = SendReceipt::new(PROVIDER, id, SendStatus::Sent)
            .with_recipients(plan.recipients.clone())
            .with_location(folder);
        if msg.options().delivery == Some(Delivery::Link) {
            for f in &files {
                match self.file_link(&f.id, plan.days).await {
                    Ok(link) => {
                        receipt = receipt.with_link(Link {
                            file: Some(f.name.clone()),
                            ..link
                        })
                    }
                    Err(e) => {
                        receipt = receipt.with_warning(format!(
                            "the message was sent, but no public link could be made for {}: {e}",
                            f.name
                        ))
                    }
                }
            }
        }
        Ok(receipt.with_attachments(files))
    }

    /// Removes what a failed send created: the error, with a note naming what could not be
    /// removed, and whether everything was.
    async fn clean_up(&self, e: Error, made: &Made) -> (Error, bool) {
        let ids: Vec<String> = match &made.folder {
            Some((id, _)) => vec![id.clone()],
            None => made.files.clone(),
        };
        let mut left = Vec::new();
        for id in ids {
            if let Err(err) = self.client.file_delete(&id).await {
                tracing::warn!(error = %err, "could not remove what a failed send uploaded");
                left.push(id);
            }
        }
        if left.is_empty() {
            return (e, true);
        }
        let place = made
            .folder
            .as_ref()
            .map(|(_, path)| path.clone())
            .unwrap_or_else(|| self.settings.workspace_path.clone());
        let note = format!(
            "what it uploaded to {place} could not be removed (ids {})",
            left.join(", ")
        );
        (with_note(e, &note), false)
    }

    pub(crate) async fn file_link(&self, file_id: &str, days: Option<u32>) -> Result<Link> {
        if let Some(d) = days {
            if !(d <= 15 || matches!(d, 30 | 60 | 90)) {
                return Err(Error::invalid_input(format!(
                    "a link lasts 1 to 15, 30, 60 or 90 days (or 0 = never), not {d}"
                ))
                .with_provider(PROVIDER)
                .with_operation("create link"));
            }
        }
        let link = self.client.create_file_link(file_id, days).await?;
        let lasts = days.unwrap_or(crate::MAX_LINK_EXPIRATION_DAYS);
        Ok(Link {
            url: link.download_link,
            file: link.file_name,
            expires: (lasts > 0)
                .then(|| OffsetDateTime::now_utc() + time::Duration::days(i64::from(lasts))),
        })
    }
}

/// A folder name of the message's own: time and randomness, so two messages never share one.
fn folder_name() -> String {
    let now = OffsetDateTime::now_utc();
    let suffix: u32 = rand::random();
    format!(
        "securesend-{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:08x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_ignores_credentials_and_order() {
        let a = message_id(&[
            ("file_id", "7".into()),
            ("timestamp", "1".into()),
            ("api_key", "k".into()),
            ("signature", "s".into()),
        ]);
        let b = message_id(&[("timestamp", "1".into()), ("file_id", "7".into())]);
        assert_eq!(a, b);
        assert!(a.starts_with("tuyu-") && a.len() == 29, "{a}");
        assert_ne!(
            a,
            message_id(&[("timestamp", "2".into()), ("file_id", "7".into())])
        );
    }

    #[test]
    fn workspace_is_the_first_component() {
        assert_eq!(workspace_of("/W_workspace/a/b/"), Some("W_workspace"));
        assert_eq!(workspace_of("/"), None);
    }

    #[test]
    fn folder_names_are_unique_and_valid() {
        let (a, b) = (folder_name(), folder_name());
        assert_ne!(a, b);
        securesend_core::names::validate_file_name(&a).unwrap();
    }
}
