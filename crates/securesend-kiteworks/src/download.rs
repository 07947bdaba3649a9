//! Downloads: metadata from `GET /rest/files/{id}`, bytes streamed from
//! `GET /rest/files/{id}/content`, continued with `Range: bytes=<received>-` after a dropped
//! connection. The service's fingerprints (SHA3-256, MD5) ride along in the [`RemoteFile`], so
//! [`Download::save_to`] verifies them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use securesend_core::{
    Download, DownloadRequest, Error, ErrorKind, RemoteFile, Result, clean_service_text,
};

use crate::client::valid_id;
use crate::upload::service_checksums;
use crate::{Inner, PROVIDER, error};

/// The state of a resumable byte stream.
struct Resumable {
    inner: Arc<Inner>,
    id: String,
    response: Option<reqwest::Response>,
    received: u64,
    size: Option<u64>,
    /// Bytes of a 200 answer to skip (a server that ignored the Range header).
    skip: u64,
    failures: u32,
    done: bool,
}

fn broken(message: String) -> Error {
    Error::new(ErrorKind::Unavailable, message)
        .with_provider(PROVIDER)
        .with_operation("download")
}

impl Resumable {
    /// Opens the content from `received` on, checking that a partial answer starts there.
    async fn reopen(&mut self) -> Result<()> {
        let resp = self.inner.api.content(&self.id, self.received).await?;
        self.skip = 0;
        if self.received > 0 {
            match resp.status().as_u16() {
                206 => {
                    let start = resp
                        .headers()
                        .get(http::header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    if start != Some(self.received) {
                        return Err(error::protocol(
                            "download",
                            "the service resumed the download at the wrong position",
                        ));
                    }
                }
                // The whole file again: drop what we already have.
                200 => self.skip = self.received,
                other => {
                    return Err(error::protocol(
                        "download",
                        format!("the service answered HTTP {other} to a resumed download"),
                    ));
                }
            }
        }
        self.response = Some(resp);
        Ok(())
    }

    async fn next(&mut self) -> Option<Result<Bytes>> {
        let max_failures = self.inner.settings.http.max_attempts.max(1);
        loop {
            if self.done {
                return None;
            }
            if self.response.is_none() {
                if let Err(e) = self.reopen().await {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            let resp = self.response.as_mut()?;
            let failure = match resp.chunk().await {
                Ok(Some(mut bytes)) => {
                    if self.skip > 0 {
                        let cut = self.skip.min(bytes.len() as u64) as usize;
                        self.skip -= cut as u64;
                        bytes = bytes.slice(cut..);
                        if bytes.is_empty() {
                            continue;
                        }
                    }
                    self.received += bytes.len() as u64;
                    self.failures = 0;
                    return Some(Ok(bytes));
                }
                Ok(None) => match self.size {
                    Some(size) if self.received < size => {
                        format!("the answer ended after {} of {size} bytes", self.received)
                    }
                    _ => {
                        self.done = true;
                        return None;
                    }
                },
                Err(e) => {
                    let shown = e.without_url().to_string();
                    format!(
                        "the connection broke while downloading ({})",
                        clean_service_text(&shown)
                    )
                }
            };
            self.response = None;
            self.failures += 1;
            if self.failures >= max_failures {
                self.done = true;
                return Some(Err(broken(failure)));
            }
            tracing::debug!(
                provider = PROVIDER,
                received = self.received,
                "{failure}; continuing with a range request"
            );
            tokio::time::sleep(Duration::from_millis(200u64 << self.failures.min(6))).await;
        }
    }
}

impl Inner {
    pub(crate) async fn download_file(self: &Arc<Self>, req: DownloadRequest) -> Result<Download> {
        let id = req.id();
        if !valid_id(id) {
            let shown: String = id.escape_debug().take(60).collect();
            return Err(Error::invalid_input(format!(
                "\"{shown}\" is not a Kiteworks file id (letters, digits and dashes)"
            ))
            .with_provider(PROVIDER)
            .with_operation("download"));
        }
        let meta = self.api.file(id).await?;
        let name = meta.name.clone().unwrap_or_else(|| id.to_owned());
        let mut file = RemoteFile::new(PROVIDER, meta.id.clone(), name);
        // Saving verifies every checksum the file carries; without integrity checks it
        // carries none, so only the size is checked.
        if self.settings.verify {
            file = file.with_checksums(service_checksums(&meta));
        }
        if let Some(size) = meta.size {
            file = file.with_size(size);
        }
        if let Some(mime) = meta.mime.clone() {
            file = file.with_content_type(mime);
        }
        let mut state = Resumable {
            inner: self.clone(),
            id: id.to_owned(),
            response: None,
            received: 0,
            size: meta.size,
            skip: 0,
            failures: 0,
            done: false,
        };
        // The first answer is awaited here, so a refused download fails now, not mid-stream.
        state.reopen().await?;
        let stream = futures::stream::unfold(state, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        });
        let download = Download::new(file, Box::pin(stream));
        Ok(if self.settings.verify {
            download
        } else {
            download.without_digests()
        })
    }
}
