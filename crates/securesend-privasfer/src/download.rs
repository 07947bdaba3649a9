//! The Downloader role: the download ids, the flow, and the byte stream.
//!
//! Flow for one request: read what will be downloaded (the file, or the inbox mail with its
//! download and files) → lease a temporary key → get a download id (the mail's, or a new
//! manual download of one file, created right before it is used) → public download key →
//! GET the byte URL. A manual download is single-use and lives one minute, so every attempt
//! creates a new one; an attempt refused as expired (404) or throttled starts over with a new
//! download. The key lease ends when the byte stream ends, fails or is dropped.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use securesend_core::{Download, DownloadRequest, Error, ErrorKind, RemoteFile, Result};

use crate::api::{self, uuid};
use crate::auth::KeyLease;
use crate::error::{is_pin_key_refused, scrub};
use crate::{PROVIDER, PrivasferProvider};

/// Attempts at a download (each with a new manual download where one is used).
const MAX_ATTEMPTS: u32 = 3;

/// The most bytes accepted for a mail whose files the service did not list (it documents
/// `include=download.files`, so this is a fallback): a bound against an endless answer.
const UNLISTED_CAP: u64 = 64 << 30;

/// What a download id names. Written as:
///
/// | form | what |
/// |---|---|
/// | `file:<file uuid>` | one of the account's own files (`GET /api/files`), through a new single-use download |
/// | `mail:<mail uuid>` | the files of an inbox mail: its one file, or all of them as one archive |
/// | `mail:<mail uuid>/<file uuid>` | the one file of an inbox mail (as `securesend inbox` lists it) |
///
/// ```
/// use securesend_privasfer::DownloadId;
/// let id = DownloadId::parse("mail:4F1C0CBE-6A9C-4F7E-8A8E-3F2C1E1B2A3D")?;
/// assert_eq!(id.to_string(), "mail:4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d");
/// assert!(DownloadId::parse("4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d").is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownloadId {
    /// One of the account's files.
    File(String),
    /// All files of an inbox mail.
    Mail(String),
    /// One file of an inbox mail.
    MailFile {
        /// The inbox mail.
        mail: String,
        /// The file.
        file: String,
    },
}

impl fmt::Display for DownloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadId::File(id) => write!(f, "file:{id}"),
            DownloadId::Mail(id) => write!(f, "mail:{id}"),
            DownloadId::MailFile { mail, file } => write!(f, "mail:{mail}/{file}"),
        }
    }
}

impl DownloadId {
    /// Parses an id; UUIDs are accepted in any case and kept lowercase.
    pub fn parse(id: &str) -> Result<DownloadId> {
        let bad = || {
            let shown: String = id.escape_debug().take(80).collect();
            Error::invalid_input(format!(
                "\"{shown}\" is not a Privasfer download id; use file:<uuid> (your files), mail:<uuid> (an inbox mail's files) or mail:<uuid>/<file uuid> (as `securesend inbox` lists them)"
            ))
            .with_provider(PROVIDER)
            .with_operation("download")
        };
        if let Some(rest) = id.strip_prefix("file:") {
            return uuid(rest).map(DownloadId::File).ok_or_else(bad);
        }
        let rest = id.strip_prefix("mail:").ok_or_else(bad)?;
        match rest.split_once('/') {
            None => uuid(rest).map(DownloadId::Mail).ok_or_else(bad),
            Some((mail, file)) => Ok(DownloadId::MailFile {
                mail: uuid(mail).ok_or_else(bad)?,
                file: uuid(file).ok_or_else(bad)?,
            }),
        }
    }
}

/// What will be downloaded, read before any key is made.
enum Plan {
    /// One own file (by our checked id), through a new manual download per attempt.
    Own { id: String, file: api::File },
    /// An inbox mail's download.
    Mail {
        mail: String,
        download: String,
        identifier: Option<String>,
        /// Its one file; `None` when it has several (an archive arrives).
        single: Option<api::File>,
        /// The most bytes the answer may have: the files plus archive headers, or
        /// [`UNLISTED_CAP`] when the service did not list the files.
        cap: u64,
    },
}

/// Which step of an attempt failed: only a download that expired or a throttled request is
/// worth another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    CreateDownload,
    PublicKey,
    Fetch,
}

fn context(e: Error) -> Error {
    e.or_provider(PROVIDER).or_operation("download")
}

/// A media type worth keeping from the answer (server text is untrusted).
pub(crate) fn clean_mime(raw: &str) -> Option<String> {
    let t = raw.split(';').next()?.trim();
    let ok = t.len() <= 127
        && t.matches('/').count() == 1
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-/".contains(&b));
    ok.then(|| t.to_ascii_lowercase())
}

impl PrivasferProvider {
    async fn plan(&self, id: &DownloadId) -> Result<Plan> {
        let api = &self.inner.api;
        let (mail_id, wanted) = match id {
            DownloadId::File(f) => {
                let file = api.file(f).await?;
                return Ok(Plan::Own {
                    id: f.clone(),
                    file,
                });
            }
            DownloadId::Mail(m) => (m, None),
            DownloadId::MailFile { mail, file } => (mail, Some(file)),
        };
        let mail = api.inbox_mail(mail_id).await?;
        let dl = mail.download.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("inbox mail {mail_id} has no download"),
            )
        })?;
        let download =
            uuid(&dl.id).ok_or_else(|| Error::protocol("the mail's download id is not a UUID"))?;
        let listed = dl.files.is_some();
        let files = dl.files.unwrap_or_default();
        if let Some(want) = wanted {
            if !files
                .iter()
                .any(|f| uuid(&f.id).as_deref() == Some(want.as_str()))
            {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("inbox mail {mail_id} has no file {want}"),
                ));
            }
            if files.len() > 1 {
                return Err(Error::unsupported(format!(
                    "file {want} is one of {} files Privasfer serves together; download mail:{mail_id} to get them as one archive",
                    files.len()
                )));
            }
        }
        if files.is_empty() && listed {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("inbox mail {mail_id} carries no files"),
            ));
        }
        let cap = if listed {
            // An archive of the files is the files plus headers: never much more.
            let total: u64 = files.iter().map(|f| f.size).sum();
            total + (1 << 20) + files.len() as u64 * (64 << 10)
        } else {
            UNLISTED_CAP
        };
        let single = if files.len() == 1 {
            files.into_iter().next()
        } else {
            None
        };
        Ok(Plan::Mail {
            mail: mail_id.clone(),
            download,
            identifier: mail.identifier,
            single,
            cap,
        })
    }

    /// One attempt: download id → public key → the byte URL's answer.
    async fn attempt(
        &self,
        plan: &Plan,
        lease: &KeyLease,
    ) -> std::result::Result<reqwest::Response, (Step, Error)> {
        let api = &self.inner.api;
        let download = match plan {
            Plan::Own { id, .. } => api
                .create_download(&[id])
                .await
                .map_err(|e| (Step::CreateDownload, e))?,
            Plan::Mail { download, .. } => download.clone(),
        };
        let key = api
            .create_public_key(&download, lease.key())
            .await
            .map_err(|e| (Step::PublicKey, e))?;
        let template = self.inner.config.download_url();
        let url = template
            .build(api.base(), &download, &key)
            .map_err(|e| (Step::Fetch, e))?;
        api.fetch(&url, template.key_placement(), &key)
            .await
            .map_err(|e| (Step::Fetch, scrub(e, &[lease.key()])))
    }

    /// Attempts until the bytes start coming, replacing a refused key once and an expired
    /// download (or a throttled attempt) up to [`MAX_ATTEMPTS`] times.
    async fn open(
        &self,
        id: &DownloadId,
        plan: &mut Plan,
        lease: &mut KeyLease,
    ) -> Result<reqwest::Response> {
        let budget = self.inner.config.http().retry_budget();
        let started = Instant::now();
        let mut attempts = 0;
        let mut key_replaced = false;
        let mut mail_reread = false;
        loop {
            attempts += 1;
            let (step, err) = match self.attempt(plan, lease).await {
                Ok(resp) => return Ok(resp),
                Err(failed) => failed,
            };
            if step == Step::PublicKey && is_pin_key_refused(&err) && !key_replaced {
                // Expired or revoked on the service's side while we still trusted it.
                key_replaced = true;
                self.inner.keys.forget(lease);
                let fresh = self.inner.keys.acquire().await?;
                std::mem::replace(lease, fresh).release().await;
                attempts -= 1;
                continue;
            }
            if attempts >= MAX_ATTEMPTS {
                return Err(err);
            }
            let expired = err.is_not_found() && step != Step::CreateDownload;
            match plan {
                Plan::Own { .. } if expired => {
                    tracing::debug!(
                        provider = PROVIDER,
                        ?step,
                        "download expired; creating a new one"
                    );
                }
                Plan::Mail { download, .. } if expired && !mail_reread => {
                    // The mail's download may have been replaced: read the mail again.
                    mail_reread = true;
                    let before = download.clone();
                    *plan = self.plan(id).await?;
                    if matches!(plan, Plan::Mail { download, .. } if *download == before) {
                        return Err(err);
                    }
                }
                _ if err.is_retryable() => {
                    let wait = err
                        .retry_after()
                        .unwrap_or(Duration::from_secs(1 << attempts.min(5)));
                    if started.elapsed() + wait > budget {
                        return Err(err);
                    }
                    tracing::info!(
                        provider = PROVIDER,
                        wait_ms = wait.as_millis() as u64,
                        ?step,
                        "download refused for now; waiting, then starting over"
                    );
                    self.inner.sleeper.sleep(wait).await;
                }
                _ => return Err(err),
            }
        }
    }

    pub(crate) async fn download_file(&self, req: DownloadRequest) -> Result<Download> {
        let id = DownloadId::parse(req.id())?;
        let mut plan = self.plan(&id).await.map_err(context)?;
        let mut lease = self.inner.keys.acquire().await.map_err(context)?;
        let resp = match self.open(&id, &mut plan, &mut lease).await {
            Ok(r) => r,
            Err(e) => {
                lease.release().await;
                return Err(context(e));
            }
        };
        let content_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(clean_mime);
        let (file, cap) = match &plan {
            Plan::Own { file: f, .. } => (self.remote(&id, f), f.size),
            Plan::Mail {
                single: Some(f), ..
            } => (self.remote(&id, f), f.size),
            Plan::Mail {
                mail,
                identifier,
                cap,
                ..
            } => {
                let stem = identifier
                    .as_deref()
                    .filter(|i| {
                        (1..=16).contains(&i.len()) && i.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                    .unwrap_or(mail);
                let is_zip = content_type.as_deref().is_none_or(|t| t.contains("zip"));
                let name = format!("privasfer-{stem}{}", if is_zip { ".zip" } else { ".bin" });
                let mut remote = RemoteFile::new(PROVIDER, id.to_string(), name);
                if let Some(t) = &content_type {
                    remote = remote.with_content_type(t.clone());
                }
                (remote, *cap)
            }
        };
        if let (Some(size), Some(announced)) = (file.size, resp.content_length()) {
            if size != announced {
                lease.release().await;
                return Err(context(Error::integrity(format!(
                    "{}: the service announced {announced} bytes for a file of {size}",
                    file.name
                ))));
            }
        }
        Ok(Download::new(file, body(resp, lease, cap)))
    }

    fn remote(&self, id: &DownloadId, f: &api::File) -> RemoteFile {
        let mut remote = RemoteFile::new(PROVIDER, id.to_string(), f.name()).with_size(f.size);
        if let Some(t) = f.mime.as_deref().and_then(clean_mime) {
            remote = remote.with_content_type(t);
        }
        remote
    }
}

struct Body {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    lease: Option<KeyLease>,
    cap: u64,
    seen: u64,
    done: bool,
}

impl Body {
    async fn finish(&mut self) {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
    }
}

/// The answer's bytes, at most `cap` of them; the key lease ends with the stream.
fn body(resp: reqwest::Response, lease: KeyLease, cap: u64) -> securesend_core::ByteStream {
    let state = Body {
        inner: Box::pin(resp.bytes_stream()),
        lease: Some(lease),
        cap,
        seen: 0,
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        match s.inner.next().await {
            Some(Ok(chunk)) => {
                s.seen += chunk.len() as u64;
                if s.seen > s.cap {
                    s.finish().await;
                    let e = Error::protocol(format!(
                        "the service sent more than the {} bytes expected",
                        s.cap
                    ));
                    return Some((Err(context(e)), s));
                }
                Some((Ok(chunk), s))
            }
            Some(Err(e)) => {
                s.finish().await;
                let e = e.without_url();
                let kind = if e.is_timeout() {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Unavailable
                };
                let err = Error::new(kind, format!("the download broke off ({e})"))
                    .with_outcome_unknown();
                Some((Err(context(err)), s))
            }
            None => {
                s.finish().await;
                None
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "4f1c0cbe-6a9c-4f7e-8a8e-3f2c1e1b2a3d";

    #[test]
    fn id_forms() {
        assert_eq!(
            DownloadId::parse(&format!("file:{U}")).unwrap(),
            DownloadId::File(U.into())
        );
        let both = DownloadId::parse(&format!("mail:{U}/{}", U.to_uppercase())).unwrap();
        assert_eq!(both.to_string(), format!("mail:{U}/{U}"));
        for bad in [
            U.to_owned(),
            format!("file:{U}/{U}"),
            format!("mail:{U}/"),
            format!("mail:{U}/../x"),
            format!("folder:{U}"),
            "file:".to_owned(),
        ] {
            let e = DownloadId::parse(&bad).unwrap_err();
            assert!(e.is_invalid_input(), "{bad}");
            assert!(e.to_string().contains("file:<uuid>"), "{e}");
        }
    }

    #[test]
    fn media_types_are_checked() {
        assert_eq!(
            clean_mime("Application/PDF; charset=x").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(clean_mime("text/html\r\nX: y"), None);
        assert_eq!(clean_mime("nonsense"), None);
    }
}
