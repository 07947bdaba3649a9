//! Downloads over WebDAV: a streamed `GET` that continues with `Range` when the connection
//! breaks, guarded by `If-Range` so a file that changed meanwhile is never stitched together.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{StatusCode, header};
use securesend_core::{
    ByteStream, Download, DownloadRequest, Error, ErrorKind, RemoteFile, Result,
};

use crate::client::Client;
use crate::vfs::VfsPath;
use crate::webdav::{Meta, Resume};
use crate::{EgroupwareProvider, PROVIDER};

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

impl EgroupwareProvider {
    /// Starts downloading the file an id names (a VFS path, relative ones from the home
    /// folder).
    pub(crate) async fn download_file(&self, request: DownloadRequest) -> Result<Download> {
        let path = VfsPath::from_id(request.id(), &self.home)?;
        let resp = self.client.get(&path, None).await?;
        if resp.status() != StatusCode::OK {
            return Err(fail(
                ErrorKind::Protocol,
                format!("EGroupware answered a plain download of {path} with a partial answer"),
            ));
        }
        let meta = Meta::from_headers(resp.headers());
        let mut file = RemoteFile::new(PROVIDER, path.to_id(), path.name().unwrap_or_default());
        if let Some(size) = meta.size {
            file = file.with_size(size);
        }
        if let Some(t) = &meta.content_type {
            file = file.with_content_type(t.clone());
        }
        if let Some(m) = meta.modified {
            file = file.with_modified(m);
        }
        if let Some(parent) = path.parent() {
            file = file.with_folder(parent.to_string());
        }
        let state = Resuming {
            client: self.client.clone(),
            path,
            body: Box::pin(resp.bytes_stream()),
            offset: 0,
            skip: 0,
            meta,
            resumes_left: self.max_resumes,
        };
        // Progress is reported also when the role is called without a `Provider`.
        Ok(Download::new(file, stream(state)).with_progress(request.progress().cloned()))
    }
}

fn fail(kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation("download")
}

/// The state of a download that may continue after a broken connection.
struct Resuming {
    client: Client,
    path: VfsPath,
    body: Body,
    /// Bytes handed out so far.
    offset: u64,
    /// Bytes of the current answer to drop (a server that answered a resume with the whole
    /// file).
    skip: u64,
    meta: Meta,
    resumes_left: u32,
}

impl Resuming {
    /// Asks for the rest of the file, from `offset`.
    async fn reopen(&mut self) -> Result<()> {
        let resume = Resume {
            offset: self.offset,
            validator: self.meta.validator.clone(),
        };
        let resp = self.client.get(&self.path, Some(&resume)).await?;
        let now = Meta::from_headers(resp.headers());
        // Whether or not the server honours `If-Range`, a changed validator means the bytes
        // that follow belong to another version of the file.
        if now.validator.is_some() && now.validator != self.meta.validator {
            return Err(changed(&self.path));
        }
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = resp
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range);
                let fits = range.is_some_and(|(start, total)| {
                    start == self.offset && (self.meta.size.is_none() || total == self.meta.size)
                });
                if !fits {
                    return Err(fail(
                        ErrorKind::Protocol,
                        format!(
                            "EGroupware resumed {} at another position than asked",
                            self.path
                        ),
                    ));
                }
                self.skip = 0;
            }
            _ => {
                // 200: the whole file again. Fine when it is the same file; `If-Range` makes a
                // changed file come back whole, which its validator then reveals.
                let other_version = now.validator != self.meta.validator
                    || (self.meta.size.is_some() && now.size != self.meta.size);
                if other_version {
                    return Err(changed(&self.path));
                }
                self.skip = self.offset;
            }
        }
        self.body = Box::pin(resp.bytes_stream());
        Ok(())
    }
}

fn changed(path: &VfsPath) -> Error {
    fail(
        ErrorKind::Integrity,
        format!("{path} changed on the service while it was downloaded; download it again"),
    )
}

/// `bytes <start>-<end>/<total|*>` → (start, total).
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

fn stream(state: Resuming) -> ByteStream {
    let s = futures::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        loop {
            let failure = match st.body.next().await {
                Some(Ok(mut bytes)) => {
                    if st.skip > 0 {
                        let drop = st.skip.min(bytes.len() as u64);
                        st.skip -= drop;
                        bytes = bytes.slice(drop as usize..);
                        if bytes.is_empty() {
                            continue;
                        }
                    }
                    st.offset += bytes.len() as u64;
                    return Some((Ok(bytes), Some(st)));
                }
                Some(Err(e)) => {
                    let kind = if e.is_timeout() {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Unavailable
                    };
                    fail(
                        kind,
                        format!("the connection broke while {} was downloaded", st.path),
                    )
                    .with_source(e.without_url())
                }
                None => match st.meta.size {
                    Some(size) if st.offset < size => fail(
                        ErrorKind::Unavailable,
                        format!(
                            "the answer for {} ended after {} of {size} bytes",
                            st.path, st.offset
                        ),
                    ),
                    _ => return None,
                },
            };
            if st.resumes_left == 0 {
                return Some((Err(failure), None));
            }
            st.resumes_left -= 1;
            tracing::info!(provider = PROVIDER, path = %st.path, offset = st.offset, error = %failure, "resuming download");
            if let Err(e) = st.reopen().await {
                return Some((Err(e), None));
            }
        }
    });
    Box::pin(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 5-9/10"), Some((5, Some(10))));
        assert_eq!(content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(content_range("bytes */10"), None);
        assert_eq!(content_range("items 0-1/2"), None);
    }
}
