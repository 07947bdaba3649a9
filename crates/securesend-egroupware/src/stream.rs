//! A file as a streamed request body, hashed while it is read.
//!
//! Attachment uploads and WebDAV PUTs send the file as one raw body. The core chunker reads
//! the next 256 KiB (and hashes it) while the current one is on the wire, so at most two
//! chunks of the file are in memory. Such a body is read once: these requests are sent with
//! `Repeat::Never`, and an operation that must try again opens the file again.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use securesend_core::checksum::DigestSet;
use securesend_core::chunk::{ChunkPlan, Chunker};
use securesend_core::{CheckedFile, Checksums, Error, FileProgress, Progress, Result};

/// Bytes read ahead per step.
const CHUNK: u64 = 256 << 10;

#[derive(Default)]
struct Outcome {
    checksums: Option<Checksums>,
    failure: Option<Error>,
}

fn lock(m: &Mutex<Outcome>) -> MutexGuard<'_, Outcome> {
    // Plain data, never left half-updated.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request body streaming one file, and what reading it found out.
pub(crate) struct Outgoing {
    body: Option<reqwest::Body>,
    len: u64,
    outcome: Arc<Mutex<Outcome>>,
    handed: Arc<AtomicU64>,
}

/// The bytes of a body handed to the connection so far: at least what the server received,
/// readable after the request was abandoned.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handed(Arc<AtomicU64>);

impl Handed {
    /// Bytes handed over so far.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Outgoing {
    /// Opens `file` (the reader fails if its size changed since it was checked). Progress is
    /// reported as file `index`.
    pub(crate) async fn open(
        file: &CheckedFile,
        progress: Option<&Progress>,
        index: usize,
    ) -> Result<Outgoing> {
        let plan = ChunkPlan::new(file.size, CHUNK)?;
        let chunker = Chunker::of_file(file, plan, DigestSet::SHA256, 0).await?;
        let progress = FileProgress::start(progress, index, file.name(), Some(file.size));
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let handed = Arc::new(AtomicU64::new(0));
        let state = Some((chunker, Some(progress), outcome.clone(), handed.clone()));
        let stream = futures::stream::unfold(state, |state| async move {
            let (mut chunker, mut progress, outcome, handed) = state?;
            match chunker.next_chunk().await {
                Ok(Some(chunk)) => {
                    handed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if let Some(p) = progress.as_mut() {
                        p.advance(chunk.len() as u64);
                    }
                    if chunk.is_last {
                        // The digests end the chunker's stream; the body may not be polled
                        // past its length, so they are collected before its last bytes go.
                        match chunker.next_chunk().await {
                            Ok(None) => lock(&outcome).checksums = chunker.checksums().cloned(),
                            Ok(Some(_)) => {}
                            Err(e) => {
                                let io = io::Error::other(e.message().to_owned());
                                lock(&outcome).failure = Some(e);
                                return Some((Err::<Bytes, io::Error>(io), None));
                            }
                        }
                        if let Some(p) = progress.take() {
                            p.finish();
                        }
                    }
                    Some((Ok(chunk.data), Some((chunker, progress, outcome, handed))))
                }
                Ok(None) => None,
                Err(e) => {
                    let io = io::Error::other(e.message().to_owned());
                    lock(&outcome).failure = Some(e);
                    Some((Err::<Bytes, io::Error>(io), None))
                }
            }
        });
        Ok(Outgoing {
            body: Some(reqwest::Body::wrap_stream(stream)),
            len: file.size,
            outcome,
            handed,
        })
    }

    /// A counter of the bytes handed to the connection, which outlives the request.
    pub(crate) fn handed(&self) -> Handed {
        Handed(self.handed.clone())
    }

    /// The number of bytes the body carries, for `Content-Length`.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The body. The request is sent once, so the body is taken once; a second call gives an
    /// empty body, which the server sees as short against `Content-Length`.
    pub(crate) fn take_body(&mut self) -> reqwest::Body {
        self.body
            .take()
            .unwrap_or_else(|| reqwest::Body::from(Vec::new()))
    }

    /// The local failure that stopped the body (the file changed while it was read), which
    /// explains a failed request better than the transport error it caused.
    pub(crate) fn failure(&self) -> Option<Error> {
        lock(&self.outcome).failure.take()
    }

    /// The file's checksums once the whole body was sent; an error when it was not.
    pub(crate) fn finish(&self) -> Result<Checksums> {
        let mut outcome = lock(&self.outcome);
        if let Some(e) = outcome.failure.take() {
            return Err(e);
        }
        outcome.checksums.take().ok_or_else(|| {
            Error::protocol(
                "the service answered before it had read the whole file; nothing is known to be stored",
            )
        })
    }
}
