//! File storage for the emulators: bodies streamed to a directory chunk by chunk, hashed with
//! sha256 on the way, never held whole in memory.
//!
//! Two ways in: [`FileStore::write_stream`] for a one-shot body (EGroupware attachment upload,
//! WebDAV PUT, Tuyu `file_upload`) and the upload sessions [`FileStore::begin_upload`] →
//! [`FileStore::append`]… → [`FileStore::finish_upload`] for chunked uploads (Kiteworks). A
//! failed append is rolled back to the previous length and hash state, so a client that retries
//! the same chunk after a dropped connection continues from a consistent point.
//!
//! One way out: [`FileStore::respond`] answers a download with 200/206/416 from the file on disk,
//! streamed. Names are metadata only; files are stored under random ids, so a hostile name can
//! never reach the file system.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{self, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::clock::Clock;
use crate::range::RangeOutcome;

mod fingerprint;
use fingerprint::{Fingerprinter, PartFeed};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Write buffer per file being written. Bounded, so memory use does not grow with body size,
/// and large enough that a gigabyte upload is a few thousand disk writes, not a million.
const WRITE_BUFFER: usize = 256 * 1024;
/// Chunks queued between the network side and the writer thread. Enough to keep both busy,
/// small enough that memory stays a few chunks whatever the body size.
const PIPELINE_DEPTH: usize = 1;
/// Read chunk for downloads.
const READ_CHUNK: usize = 64 * 1024;

/// A file held by the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredFile {
    /// Random id (UUID v4); service modules map their own ids onto it.
    pub id: String,
    /// The name the client gave (metadata only).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the content.
    pub sha256: String,
    /// Where the content is on disk.
    pub path: PathBuf,
    /// When it was stored (sandbox clock).
    pub stored_at: SystemTime,
    /// MD5 and SHA3-256, for uploads begun with [`FileStore::begin_upload_fingerprinted`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprints: Option<Fingerprints>,
}

/// Digests beyond SHA-256 that some services report (Kiteworks' fingerprints), computed while
/// the content streams in rather than by reading the whole file again afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fingerprints {
    /// Lowercase hex MD5.
    pub md5: String,
    /// Lowercase hex SHA3-256.
    pub sha3_256: String,
}

/// The state of an unfinished chunked upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadProgress {
    /// The upload session id.
    pub upload_id: String,
    /// The file name it will get.
    pub name: String,
    /// Bytes received so far.
    pub size: u64,
    /// Parts appended so far.
    pub parts: u64,
    /// The total announced at the start, if any.
    pub expected_size: Option<u64>,
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file would exceed a size cap (the store's, or the upload's announced total).
    #[error("file exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// One part of a chunked upload exceeds the per-part cap.
    #[error("part exceeds the size limit of {limit} bytes")]
    PartTooLarge {
        /// The cap.
        limit: u64,
    },
    /// An upload finished with a size other than the one announced.
    #[error("upload has {actual} bytes, {expected} were announced")]
    SizeMismatch {
        /// Announced.
        expected: u64,
        /// Received.
        actual: u64,
    },
    /// No such upload session.
    #[error("no upload session `{0}`")]
    UnknownUpload(String),
    /// Another request is appending to this upload right now.
    #[error("upload session `{0}` is busy with another part")]
    UploadBusy(String),
    /// The request body failed (client went away, connection dropped).
    #[error("request body failed: {0}")]
    Body(BoxError),
    /// Disk trouble.
    #[error("store I/O: {0}")]
    Io(#[from] io::Error),
}

/// Streamed, hashed file storage in a directory; a cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct FileStore {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    dir: PathBuf,
    // Held so the directory lives exactly as long as the store.
    _temp: Option<tempfile::TempDir>,
    clock: Clock,
    max_file_bytes: Option<u64>,
    files: Mutex<HashMap<String, StoredFile>>,
    uploads: Mutex<HashMap<String, Slot>>,
}

#[derive(Debug)]
enum Slot {
    // Boxed: the digest states make an upload a few hundred bytes.
    Idle(Box<PendingUpload>),
    // Taken out by an append in progress; a second concurrent append is refused.
    Busy,
}

struct PendingUpload {
    name: String,
    path: PathBuf,
    size: u64,
    parts: u64,
    sha256: Sha256,
    fingerprints: Option<Fingerprinter>,
    expected_size: Option<u64>,
}

impl fmt::Debug for PendingUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingUpload")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("size", &self.size)
            .field("parts", &self.parts)
            .field("fingerprints", &self.fingerprints.is_some())
            .field("expected_size", &self.expected_size)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps hold plain data and are never left half-updated across a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FileStore {
    /// A store in `dir` (created if missing), or in a fresh temporary directory that is
    /// removed when the last handle is dropped.
    pub fn open(
        dir: Option<&Path>,
        clock: Clock,
        max_file_bytes: Option<u64>,
    ) -> io::Result<FileStore> {
        let (dir, temp) = match dir {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("securesend-sandbox-")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(dir.join("files"))?;
        std::fs::create_dir_all(dir.join("uploads"))?;
        Ok(FileStore {
            inner: Arc::new(StoreInner {
                dir,
                _temp: temp,
                clock,
                max_file_bytes,
                files: Mutex::new(HashMap::new()),
                uploads: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The store-wide size cap per file.
    pub fn max_file_bytes(&self) -> Option<u64> {
        self.inner.max_file_bytes
    }

    fn new_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn cap(&self, limit: Option<u64>) -> Option<u64> {
        match (limit, self.inner.max_file_bytes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Stores a body as a new file, writing each chunk as it arrives. `limit` caps the size
    /// (on top of the store's own cap); over it, the partial file is removed and
    /// [`StoreError::TooLarge`] returned.
    ///
    /// The work runs in its own task, so it completes (and cleans up after a failed body)
    /// even if the caller is cancelled, for example when a client disconnects.
    pub async fn write_stream<S, E>(
        &self,
        name: &str,
        body: S,
        limit: Option<u64>,
    ) -> Result<StoredFile, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let store = self.clone();
        let name = name.to_owned();
        detached(async move { store.write_stream_now(name, body, limit).await }).await
    }

    async fn write_stream_now<S, E>(
        &self,
        name: String,
        body: S,
        limit: Option<u64>,
    ) -> Result<StoredFile, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        let id = FileStore::new_id();
        let path = self.inner.dir.join("files").join(&id);
        let file = std::fs::File::create(&path)?;
        let limits = Limits {
            total: self.cap(limit),
            part: None,
        };
        let (size, sha256) = match copy(file, body, Sha256::new(), None, 0, limits).await {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
        };
        let stored = StoredFile {
            id: id.clone(),
            name,
            size,
            sha256: hex::encode(sha256.finalize()),
            path,
            stored_at: self.inner.clock.now(),
            fingerprints: None,
        };
        lock(&self.inner.files).insert(id, stored.clone());
        Ok(stored)
    }

    /// Stores an axum request body as a new file (see [`FileStore::write_stream`]).
    pub async fn write_body(
        &self,
        name: &str,
        body: Body,
        limit: Option<u64>,
    ) -> Result<StoredFile, StoreError> {
        self.write_stream(name, body.into_data_stream(), limit)
            .await
    }

    /// Stores bytes already in memory, for seeding.
    pub async fn put_bytes(
        &self,
        name: &str,
        content: impl Into<Bytes>,
    ) -> Result<StoredFile, StoreError> {
        let chunk: Result<Bytes, io::Error> = Ok(content.into());
        self.write_stream(name, futures::stream::iter([chunk]), None)
            .await
    }

    /// Starts a chunked upload; `expected_size`, when given, caps the total and is checked by
    /// [`FileStore::finish_upload`].
    pub async fn begin_upload(
        &self,
        name: &str,
        expected_size: Option<u64>,
    ) -> Result<UploadProgress, StoreError> {
        self.begin(name, expected_size, false).await
    }

    /// Like [`FileStore::begin_upload`], also computing MD5 and SHA3-256 as parts arrive (the
    /// stored file's [`StoredFile::fingerprints`]).
    pub async fn begin_upload_fingerprinted(
        &self,
        name: &str,
        expected_size: Option<u64>,
    ) -> Result<UploadProgress, StoreError> {
        self.begin(name, expected_size, true).await
    }

    async fn begin(
        &self,
        name: &str,
        expected_size: Option<u64>,
        fingerprints: bool,
    ) -> Result<UploadProgress, StoreError> {
        if let (Some(e), Some(max)) = (expected_size, self.inner.max_file_bytes) {
            if e > max {
                return Err(StoreError::TooLarge { limit: max });
            }
        }
        let upload_id = FileStore::new_id();
        let path = self.inner.dir.join("uploads").join(&upload_id);
        tokio::fs::File::create(&path).await?;
        let pending = PendingUpload {
            name: name.to_owned(),
            path,
            size: 0,
            parts: 0,
            sha256: Sha256::new(),
            fingerprints: fingerprints.then(Fingerprinter::new),
            expected_size,
        };
        let progress = pending.progress(&upload_id);
        lock(&self.inner.uploads).insert(upload_id, Slot::Idle(Box::new(pending)));
        Ok(progress)
    }

    /// Appends one part to an upload, streaming it to disk. `max_part` caps this part. On any
    /// failure the upload is rolled back to where it was before this call.
    ///
    /// The work runs in its own task, so a cancelled caller never leaves the session half
    /// written or stuck as busy.
    pub async fn append<S, E>(
        &self,
        upload_id: &str,
        part: S,
        max_part: Option<u64>,
    ) -> Result<UploadProgress, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let mut pending = self.take_upload(upload_id)?;
        let store = self.clone();
        let upload_id = upload_id.to_owned();
        detached(async move {
            let result = pending
                .append(part, max_part, store.inner.max_file_bytes)
                .await;
            let progress = pending.progress(&upload_id);
            store.put_back(&upload_id, pending);
            result.map(|()| progress)
        })
        .await
    }

    /// Appends an axum request body as one part (see [`FileStore::append`]).
    pub async fn append_body(
        &self,
        upload_id: &str,
        body: Body,
        max_part: Option<u64>,
    ) -> Result<UploadProgress, StoreError> {
        self.append(upload_id, body.into_data_stream(), max_part)
            .await
    }

    fn take_upload(&self, upload_id: &str) -> Result<PendingUpload, StoreError> {
        let mut uploads = lock(&self.inner.uploads);
        match uploads.get_mut(upload_id) {
            None => Err(StoreError::UnknownUpload(upload_id.to_owned())),
            Some(slot) => match std::mem::replace(slot, Slot::Busy) {
                Slot::Idle(p) => Ok(*p),
                Slot::Busy => Err(StoreError::UploadBusy(upload_id.to_owned())),
            },
        }
    }

    /// Returns an upload taken by [`FileStore::take_upload`], ready for its next part.
    fn put_back(&self, upload_id: &str, pending: PendingUpload) {
        lock(&self.inner.uploads).insert(upload_id.to_owned(), Slot::Idle(Box::new(pending)));
    }

    /// The progress of an unfinished upload.
    pub fn upload_progress(&self, upload_id: &str) -> Option<UploadProgress> {
        match lock(&self.inner.uploads).get(upload_id) {
            Some(Slot::Idle(p)) => Some(p.progress(upload_id)),
            _ => None,
        }
    }

    /// Completes an upload into a stored file. A size other than the announced one is
    /// refused and the upload stays open.
    pub async fn finish_upload(&self, upload_id: &str) -> Result<StoredFile, StoreError> {
        let mut pending = self.take_upload(upload_id)?;
        if let Some(expected) = pending.expected_size {
            if expected != pending.size {
                let err = StoreError::SizeMismatch {
                    expected,
                    actual: pending.size,
                };
                self.put_back(upload_id, pending);
                return Err(err);
            }
        }
        // The last parts' fingerprints may still be being computed.
        let fingerprints = match pending.fingerprints.as_mut() {
            Some(f) => match f.settle().await {
                Ok(f) => Some(f),
                Err(e) => {
                    self.put_back(upload_id, pending);
                    return Err(e.into());
                }
            },
            None => None,
        };
        let id = FileStore::new_id();
        let path = self.inner.dir.join("files").join(&id);
        if let Err(e) = tokio::fs::rename(&pending.path, &path).await {
            self.put_back(upload_id, pending);
            return Err(e.into());
        }
        lock(&self.inner.uploads).remove(upload_id);
        let stored = StoredFile {
            id: id.clone(),
            name: pending.name,
            size: pending.size,
            sha256: hex::encode(pending.sha256.finalize()),
            path,
            stored_at: self.inner.clock.now(),
            fingerprints,
        };
        lock(&self.inner.files).insert(id, stored.clone());
        Ok(stored)
    }

    /// Discards an unfinished upload; false if there was none (or it is busy).
    pub async fn abort_upload(&self, upload_id: &str) -> bool {
        let Ok(pending) = self.take_upload(upload_id) else {
            return false;
        };
        lock(&self.inner.uploads).remove(upload_id);
        let _ = tokio::fs::remove_file(&pending.path).await;
        true
    }

    /// A stored file by id.
    pub fn get(&self, id: &str) -> Option<StoredFile> {
        lock(&self.inner.files).get(id).cloned()
    }

    /// Every stored file, oldest first.
    pub fn list(&self) -> Vec<StoredFile> {
        let mut files: Vec<_> = lock(&self.inner.files).values().cloned().collect();
        files.sort_by(|a, b| a.stored_at.cmp(&b.stored_at).then(a.id.cmp(&b.id)));
        files
    }

    /// Stored files with this sha256; tests use it to prove a file arrived exactly once.
    pub fn find_by_sha256(&self, sha256: &str) -> Vec<StoredFile> {
        self.list()
            .into_iter()
            .filter(|f| f.sha256.eq_ignore_ascii_case(sha256))
            .collect()
    }

    /// How many files are stored.
    pub fn len(&self) -> usize {
        lock(&self.inner.files).len()
    }

    /// Whether no file is stored.
    pub fn is_empty(&self) -> bool {
        lock(&self.inner.files).is_empty()
    }

    /// Deletes a stored file; false if there was none.
    pub async fn remove(&self, id: &str) -> bool {
        let Some(file) = lock(&self.inner.files).remove(id) else {
            return false;
        };
        let _ = tokio::fs::remove_file(&file.path).await;
        true
    }

    /// MD5 and SHA3-256 of a stored file: those computed as it arrived, or else read from disk.
    pub async fn fingerprints(&self, file: &StoredFile) -> io::Result<Fingerprints> {
        if let Some(f) = &file.fingerprints {
            return Ok(f.clone());
        }
        let path = file.path.clone();
        tokio::task::spawn_blocking(move || fingerprint::of_reader(std::fs::File::open(path)?))
            .await
            .map_err(io::Error::other)?
    }

    /// Reads a whole stored file into memory. For tests and small files only.
    pub async fn read(&self, id: &str) -> io::Result<Vec<u8>> {
        let file = self
            .get(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no file `{id}`")))?;
        tokio::fs::read(&file.path).await
    }

    /// Streams `len` bytes of a stored file from `start`.
    pub async fn read_range(
        &self,
        file: &StoredFile,
        start: u64,
        len: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
        let mut f = tokio::fs::File::open(&file.path).await?;
        f.seek(SeekFrom::Start(start)).await?;
        Ok(ReaderStream::with_capacity(f.take(len), READ_CHUNK))
    }

    /// Answers a download of `file` honouring the request's `Range` header: 200 with the whole
    /// file, 206 with `Content-Range` for a single range, 416 for an unsatisfiable one. The body
    /// is streamed from disk and always carries `Content-Length` and `Accept-Ranges: bytes`.
    pub async fn respond(
        &self,
        file: &StoredFile,
        request_headers: &HeaderMap,
        content_type: &str,
    ) -> io::Result<Response> {
        let outcome = RangeOutcome::from_header(request_headers.get(header::RANGE), file.size);
        let content_type = HeaderValue::from_str(content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        let builder = Response::builder()
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CONTENT_TYPE, content_type);
        let response = match outcome {
            RangeOutcome::Unsatisfiable => builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", file.size))
                .body(Body::empty()),
            RangeOutcome::Full => {
                let stream = self.read_range(file, 0, file.size).await?;
                builder
                    .status(StatusCode::OK)
                    .header(header::CONTENT_LENGTH, file.size)
                    .body(Body::from_stream(stream))
            }
            RangeOutcome::Partial { start, end } => {
                let len = end - start + 1;
                let stream = self.read_range(file, start, len).await?;
                builder
                    .status(StatusCode::PARTIAL_CONTENT)
                    .header(
                        header::CONTENT_RANGE,
                        format!("bytes {start}-{end}/{}", file.size),
                    )
                    .header(header::CONTENT_LENGTH, len)
                    .body(Body::from_stream(stream))
            }
        };
        response.map_err(io::Error::other)
    }
}

impl PendingUpload {
    fn progress(&self, upload_id: &str) -> UploadProgress {
        UploadProgress {
            upload_id: upload_id.to_owned(),
            name: self.name.clone(),
            size: self.size,
            parts: self.parts,
            expected_size: self.expected_size,
        }
    }

    async fn append<S, E>(
        &mut self,
        part: S,
        max_part: Option<u64>,
        max_file: Option<u64>,
    ) -> Result<(), StoreError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        let total = match (self.expected_size, max_file) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        let limits = Limits {
            total,
            part: max_part,
        };
        let feed = self.fingerprints.as_mut().map(Fingerprinter::begin_part);
        match copy(file, part, self.sha256.clone(), feed, self.size, limits).await {
            Ok((n, sha256)) => {
                self.size += n;
                self.parts += 1;
                self.sha256 = sha256;
                Ok(())
            }
            Err(e) => {
                // Discard what this part wrote; the writer thread has finished, so nothing
                // can land after the truncation.
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.path)?
                    .set_len(self.size)?;
                Err(e)
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Limits {
    total: Option<u64>,
    part: Option<u64>,
}

/// Runs `work` in its own task and waits for it, so that dropping the caller's future does
/// not abandon the work half-way.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(io::Error::other(e))))
}

/// Writes `body` to `file` chunk by chunk, hashing as it goes; `already` bytes are in the file
/// before. Returns the bytes written by this call and the updated SHA-256. The part's bytes also
/// go to `fingerprints`, which is told at the end whether the part counts.
///
/// Hashing and disk writes run on a blocking thread fed through a bounded channel: they then
/// overlap with reading the network instead of adding to it, and at most
/// [`PIPELINE_DEPTH`] + 2 chunks are alive at once (one being read, the queued ones, one being
/// written) plus the write buffer, whatever the body size.
async fn copy<S, E>(
    file: std::fs::File,
    body: S,
    sha256: Sha256,
    fingerprints: Option<PartFeed>,
    already: u64,
    limits: Limits,
) -> Result<(u64, Sha256), StoreError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(PIPELINE_DEPTH);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<Sha256> {
        let mut sha256 = sha256;
        let mut out = io::BufWriter::with_capacity(WRITE_BUFFER, file);
        while let Some(chunk) = rx.blocking_recv() {
            sha256.update(&chunk);
            out.write_all(&chunk)?;
        }
        out.flush()?;
        Ok(sha256)
    });
    let read = async {
        let mut body = std::pin::pin!(body);
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.into()))?;
            let n = chunk.len() as u64;
            if let Some(limit) = limits.part {
                if written + n > limit {
                    return Err(StoreError::PartTooLarge { limit });
                }
            }
            if let Some(limit) = limits.total {
                if already + written + n > limit {
                    return Err(StoreError::TooLarge { limit });
                }
            }
            if let Some(feed) = &fingerprints {
                feed.piece(&chunk).await;
            }
            if tx.send(chunk).await.is_err() {
                // The writer stopped on an I/O error, reported below.
                break;
            }
            written += n;
        }
        Ok(written)
    };
    let read = read.await;
    // Closing the channel lets the writer finish.
    drop(tx);
    let sha256 = writer.await.map_err(io::Error::other)?;
    let outcome = match (read, sha256) {
        (Ok(written), Ok(sha256)) => Ok((written, sha256)),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
    };
    if let Some(feed) = fingerprints {
        feed.end(outcome.is_ok());
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> FileStore {
        FileStore::open(None, Clock::system(), None).unwrap()
    }

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn parts(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> {
        futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn write_stream_hashes_and_stores() {
        let s = store();
        let f = s
            .write_stream("a.txt", parts(&[b"hello ", b"world"]), None)
            .await
            .unwrap();
        assert_eq!(f.size, 11);
        assert_eq!(f.sha256, sha(b"hello world"));
        assert_eq!(s.read(&f.id).await.unwrap(), b"hello world");
        assert_eq!(s.find_by_sha256(&f.sha256).len(), 1);
        let empty = s.put_bytes("empty", Bytes::new()).await.unwrap();
        assert_eq!((empty.size, empty.sha256), (0, sha(b"")));
    }

    #[tokio::test]
    async fn write_stream_over_limit_leaves_nothing() {
        let s = store();
        let err = s
            .write_stream("big", parts(&[b"12345", b"6789"]), Some(8))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { limit: 8 }), "{err}");
        assert!(s.is_empty());
        let leftovers = std::fs::read_dir(s.dir().join("files")).unwrap().count();
        assert_eq!(leftovers, 0);
    }

    #[tokio::test]
    async fn body_error_removes_partial_file() {
        let s = store();
        let body = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone")),
        ]);
        let err = s.write_stream("x", body, None).await.unwrap_err();
        assert!(matches!(err, StoreError::Body(_)), "{err}");
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn chunked_upload_with_rollback() {
        let s = store();
        // Fingerprinted, so the rolled-back parts are shown to leave those digests alone too.
        let up = s
            .begin_upload_fingerprinted("c.bin", Some(9))
            .await
            .unwrap();
        let id = up.upload_id;
        s.append(&id, parts(&[b"abc"]), Some(4)).await.unwrap();
        // A part over the per-part cap is refused and leaves no trace.
        let err = s
            .append(&id, parts(&[b"de", b"fgh"]), Some(4))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::PartTooLarge { limit: 4 }),
            "{err}"
        );
        // A part that fails mid-body (dropped connection) is rolled back too.
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"de")),
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut")),
        ]);
        assert!(s.append(&id, failing, Some(4)).await.is_err());
        let p = s.upload_progress(&id).unwrap();
        assert_eq!((p.size, p.parts), (3, 1));
        // Finishing early is refused: 3 of 9 announced bytes.
        let err = s.finish_upload(&id).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::SizeMismatch {
                expected: 9,
                actual: 3
            }
        ));
        s.append(&id, parts(&[b"def"]), Some(4)).await.unwrap();
        // Going past the announced total is refused.
        let err = s.append(&id, parts(&[b"ghij"]), Some(4)).await.unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { limit: 9 }), "{err}");
        let p = s.append(&id, parts(&[b"ghi"]), Some(4)).await.unwrap();
        assert_eq!((p.size, p.parts), (9, 3));
        let f = s.finish_upload(&id).await.unwrap();
        assert_eq!(f.sha256, sha(b"abcdefghi"));
        assert_eq!(
            f.fingerprints,
            Some(Fingerprints {
                md5: hex::encode(md5::Md5::digest(b"abcdefghi")),
                sha3_256: hex::encode(sha3::Sha3_256::digest(b"abcdefghi")),
            })
        );
        assert_eq!(s.read(&f.id).await.unwrap(), b"abcdefghi");
        assert!(s.upload_progress(&id).is_none());
        assert!(matches!(
            s.append(&id, parts(&[b"x"]), None).await,
            Err(StoreError::UnknownUpload(_))
        ));
    }

    #[tokio::test]
    async fn store_cap_applies_to_uploads() {
        let s = FileStore::open(None, Clock::system(), Some(4)).unwrap();
        assert!(matches!(
            s.begin_upload("x", Some(5)).await,
            Err(StoreError::TooLarge { limit: 4 })
        ));
        let up = s.begin_upload("x", None).await.unwrap();
        s.append(&up.upload_id, parts(&[b"abcd"]), None)
            .await
            .unwrap();
        assert!(matches!(
            s.append(&up.upload_id, parts(&[b"e"]), None).await,
            Err(StoreError::TooLarge { limit: 4 })
        ));
        assert!(s.abort_upload(&up.upload_id).await);
        assert!(!s.abort_upload(&up.upload_id).await);
    }

    #[tokio::test]
    async fn respond_serves_ranges() {
        use http_body_util::BodyExt;
        let s = store();
        let f = s.put_bytes("r", &b"0123456789"[..]).await.unwrap();
        let mut headers = HeaderMap::new();
        let full = s.respond(&f, &headers, "text/plain").await.unwrap();
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers()[header::CONTENT_LENGTH], "10");
        let body = full.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"0123456789");

        headers.insert(header::RANGE, HeaderValue::from_static("bytes=3-5"));
        let part = s.respond(&f, &headers, "text/plain").await.unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 3-5/10");
        let body = part.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"345");

        headers.insert(header::RANGE, HeaderValue::from_static("bytes=10-"));
        let none = s.respond(&f, &headers, "text/plain").await.unwrap();
        assert_eq!(none.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(none.headers()[header::CONTENT_RANGE], "bytes */10");
    }
}
