//! Reading a file in chunks for upload: the next chunk is read (and hashed) while the current
//! one is on the wire, and never more than three chunks of a file are in memory.
//!
//! ```
//! use securesend_core::chunk::{ChunkPlan, Chunker};
//! use securesend_core::checksum::DigestSet;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let data = b"hello, chunked world".to_vec();
//! let plan = ChunkPlan::new(data.len() as u64, 8)?;
//! assert_eq!(plan.count(), 3);
//! let mut chunks = Chunker::start(Box::new(std::io::Cursor::new(data)), plan, DigestSet::SHA256);
//! while let Some(chunk) = chunks.next_chunk().await? {
//!     // upload chunk.data (a `Bytes`, cheap to clone for a retry) at chunk.offset
//! }
//! // The digests finish while the last chunk is on the wire.
//! assert!(chunks.checksums().is_some());
//! # Ok::<(), securesend_core::Error>(()) }).unwrap();
//! ```

use std::fmt;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::{Checksums, DigestSet, Hasher};
use crate::error::{Error, Result};
use crate::file::{BoxReader, CheckedFile, Found, open_path, read_error, size_changed};
use crate::hash_threads::HashThreads;

/// How a file of known size is cut into chunks of a fixed size (the last may be shorter).
///
/// An empty file is one empty chunk, so every upload has a last chunk to finish on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    total: u64,
    chunk_size: u64,
}

impl ChunkPlan {
    /// A plan for `total` bytes in chunks of `chunk_size` bytes (at least 1, and small enough
    /// for two chunks to fit in memory).
    pub fn new(total: u64, chunk_size: u64) -> Result<ChunkPlan> {
        if chunk_size == 0 {
            return Err(Error::invalid_input(
                "the chunk size must be at least 1 byte",
            ));
        }
        if usize::try_from(chunk_size).is_err() {
            return Err(Error::invalid_input(format!(
                "a chunk size of {chunk_size} bytes does not fit in memory"
            )));
        }
        Ok(ChunkPlan { total, chunk_size })
    }

    /// The file's size in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The size of every chunk but the last.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// How many chunks there are; 1 for an empty file.
    pub fn count(&self) -> u64 {
        self.total.div_ceil(self.chunk_size).max(1)
    }

    /// Where chunk `index` starts.
    pub fn offset(&self, index: u64) -> u64 {
        index.saturating_mul(self.chunk_size).min(self.total)
    }

    /// How long chunk `index` is (0 beyond the end).
    pub fn len(&self, index: u64) -> u64 {
        let start = self.offset(index);
        (start + self.chunk_size).min(self.total) - start
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// One chunk of a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk, from 0.
    pub index: u64,
    /// Where its bytes start in the file.
    pub offset: u64,
    /// Its bytes (the read buffer itself, frozen: cloning it for a retry copies nothing).
    pub data: Bytes,
    /// Whether it is the file's last chunk.
    pub is_last: bool,
}

impl Chunk {
    /// How many bytes the chunk holds.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the chunk is empty (only the single chunk of an empty file is).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("len", &self.data.len())
            .field("is_last", &self.is_last)
            .finish()
    }
}

enum Msg {
    Chunk(Chunk),
    /// Nothing left to yield; the file's checksums.
    Done(Checksums),
    Failed(Error),
}

/// Reads a file's chunks in order on a background task, one chunk ahead of the consumer.
///
/// The task reads chunk *k+1* while the consumer uploads chunk *k*, then waits until the
/// consumer asks for *k+1* before reading *k+2*. The digests are computed on blocking
/// threads, one per algorithm, off the network path, each with one chunk queued; with the
/// consumer dropping each chunk before asking for the next, at most three chunks are in memory
/// (on the wire, read ahead, still being hashed), in buffers reused from chunk to chunk.
/// The last chunk is handed out as soon as it is read; the digests finish meanwhile, and
/// [`Chunker::checksums`] holds them once [`Chunker::next_chunk`] has returned `None`.
///
/// Read errors — including an input shorter or longer than the plan says — come out of
/// [`Chunker::next_chunk`] in place of the chunk they spoil; a file that grew is reported
/// instead of its last chunk, so an upload never completes with the wrong content.
///
/// Needs a tokio runtime. Dropping the chunker stops the task.
pub struct Chunker {
    rx: mpsc::Receiver<Msg>,
    task: JoinHandle<()>,
    plan: ChunkPlan,
    checksums: Option<Checksums>,
    finished: bool,
}

impl fmt::Debug for Chunker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunker")
            .field("plan", &self.plan)
            .field("checksums", &self.checksums)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Chunker {
    /// Chunks `reader` (which must yield exactly `plan.total()` bytes) from the start,
    /// computing the digests in `digests`.
    pub fn start(reader: BoxReader, plan: ChunkPlan, digests: DigestSet) -> Chunker {
        Self::spawn(Input::Reader(reader), plan, digests, 0, UNNAMED.to_owned())
    }

    /// Chunks a checked file from chunk `first` on, like [`Chunker::resume`]; `plan` must
    /// cover the file's checked size.
    ///
    /// A file on disk is read on blocking threads straight into the chunk buffers, where an
    /// async reader ([`CheckedFile::open`]) would read into a buffer of its own and copy from
    /// it: one pass less over every byte sent. Other sources are read through
    /// [`CheckedFile::open`]. Either way a file whose size changed since it was checked is
    /// reported in place of the chunk it spoils.
    pub async fn of_file(
        file: &CheckedFile,
        plan: ChunkPlan,
        digests: DigestSet,
        first: u64,
    ) -> Result<Chunker> {
        if plan.total() != file.size {
            return Err(Error::invalid_input(format!(
                "a chunk plan for {} bytes does not fit {}, which has {}",
                plan.total(),
                file.name(),
                file.size
            )));
        }
        check_first(plan, first)?;
        let input = match file.attachment.source().as_path() {
            Some(path) => Input::File(Arc::new(open_path(path).await?.into_std().await)),
            None => Input::Reader(file.open().await?),
        };
        Ok(Self::spawn(input, plan, digests, first, file.label()))
    }

    /// Resumes an upload at chunk `first`: the chunks before it are read and hashed (the
    /// checksums cover the whole file) but not yielded. `first` may equal
    /// [`ChunkPlan::count`] (all chunks were sent; only the checksums are wanted).
    pub fn resume(
        reader: BoxReader,
        plan: ChunkPlan,
        digests: DigestSet,
        first: u64,
    ) -> Result<Chunker> {
        check_first(plan, first)?;
        Ok(Self::spawn(
            Input::Reader(reader),
            plan,
            digests,
            first,
            UNNAMED.to_owned(),
        ))
    }

    /// `label` names the input in errors ("file /x").
    fn spawn(
        input: Input,
        plan: ChunkPlan,
        digests: DigestSet,
        first: u64,
        label: String,
    ) -> Chunker {
        // Capacity 1 plus "reserve before reading" is what bounds memory: the task holds a
        // permit (an empty slot) before it allocates the next chunk.
        let (tx, rx) = mpsc::channel(1);
        let task = tokio::spawn(produce(input, plan, digests, first, tx, label));
        Chunker {
            rx,
            task,
            plan,
            checksums: None,
            finished: false,
        }
    }

    /// The plan being followed.
    pub fn plan(&self) -> &ChunkPlan {
        &self.plan
    }

    /// The next chunk, or `None` after the last. Drop the previous chunk (and any clones of
    /// its bytes) before asking, or more than three chunks will be in memory.
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx))
            .await
            .transpose()
    }

    /// The file's checksums, once [`Chunker::next_chunk`] has returned `None`.
    pub fn checksums(&self) -> Option<&Checksums> {
        self.checksums.as_ref()
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Msg::Chunk(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Msg::Done(sums))) => {
                self.checksums = Some(sums);
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Msg::Failed(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                // The task ends only after its last message, unless it panicked.
                Poll::Ready(Some(Err(Error::new(
                    crate::ErrorKind::Io,
                    "the chunk reader stopped unexpectedly",
                ))))
            }
        }
    }
}

impl Stream for Chunker {
    type Item = Result<Chunk>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl Drop for Chunker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn check_first(plan: ChunkPlan, first: u64) -> Result<()> {
    if first > plan.count() {
        return Err(Error::invalid_input(format!(
            "cannot resume at chunk {first}: the file has {} chunks",
            plan.count()
        )));
    }
    Ok(())
}

/// Where a chunker's bytes come from.
enum Input {
    /// Any async reader.
    Reader(BoxReader),
    /// A file on disk, read on blocking threads straight into the caller's buffer.
    File(Arc<std::fs::File>),
}

impl Input {
    /// Appends up to `len` bytes to `buf`, fewer only where the input ends. The buffer comes
    /// back either way (a blocking read needs to own it while it runs).
    async fn fill(&mut self, mut buf: Vec<u8>, len: u64) -> (Vec<u8>, io::Result<()>) {
        match self {
            Input::Reader(reader) => {
                let target = buf.len() as u64 + len;
                while (buf.len() as u64) < target {
                    let want = target - buf.len() as u64;
                    match (&mut *reader).take(want).read_buf(&mut buf).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return (buf, Err(e)),
                    }
                }
                (buf, Ok(()))
            }
            Input::File(file) => {
                let file = Arc::clone(file);
                let read = tokio::task::spawn_blocking(move || {
                    // `read_to_end` reads into the spare capacity without zeroing it first.
                    let r = (&*file).take(len).read_to_end(&mut buf).map(drop);
                    (buf, r)
                });
                read.await
                    .unwrap_or_else(|e| (Vec::new(), Err(io::Error::other(e))))
            }
        }
    }
}

/// How errors name an input given as a bare reader.
const UNNAMED: &str = "the file";

/// Buffer for bytes that are hashed but not yielded (resume). Large enough that a file on
/// disk is skipped in few blocking reads.
const SKIP_BUFFER: usize = 1 << 20;

/// Chunk buffers kept for reuse per file: the chunk on the wire, the one read ahead, and the
/// one the digest threads may still be finishing.
const CHUNK_BUFFERS: usize = 3;

/// Recycles one file's chunk buffers. A buffer comes back when every clone of its chunk is
/// dropped (the wire, a digest thread, a retry) and is reused for a later chunk, so a long
/// upload allocates its few buffers once rather than once per chunk: freed chunk-sized blocks
/// spread over the allocator's per-thread arenas otherwise made peak memory grow with the
/// length of the file. The pool never makes anyone wait; what bounds memory is the read-ahead
/// of one chunk and the digest threads' one-batch queues.
struct BufferPool {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl BufferPool {
    fn new(keep: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: std::sync::Mutex::new(Vec::with_capacity(keep)),
            keep,
        })
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // The list holds plain buffers: a panic elsewhere cannot leave it inconsistent.
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An empty buffer: a returned one when there is one.
    fn take(self: &Arc<Self>) -> PooledBuffer {
        PooledBuffer {
            buf: self.free().pop().unwrap_or_default(),
            pool: Arc::clone(self),
        }
    }
}

/// A buffer on loan from a [`BufferPool`]; frozen into a chunk's `Bytes`, it goes back when
/// the last clone is dropped.
struct PooledBuffer {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut free = self.pool.free();
        if free.len() < self.pool.keep {
            free.push(buf);
        }
    }
}

async fn produce(
    mut input: Input,
    plan: ChunkPlan,
    digests: DigestSet,
    first: u64,
    tx: mpsc::Sender<Msg>,
    label: String,
) {
    let mut hasher = Hasher::new(digests);
    let count = plan.count();
    let skip = plan.offset(first);
    if let Err(e) = skip_and_hash(&mut input, skip, &mut hasher, plan.total, &label).await {
        let _ = tx.send(Msg::Failed(e)).await;
        return;
    }
    let mut bytes = hasher.bytes();
    // One batch (chunk) queued per digest thread: the producer cannot get further ahead of the
    // slowest digest than the chunk being hashed, the one queued and the one being read.
    let mut threads = HashThreads::start(hasher, 1);
    let pool = BufferPool::new(CHUNK_BUFFERS);
    for index in first..count {
        let Ok(permit) = tx.reserve().await else {
            return; // the consumer is gone
        };
        let is_last = index + 1 == count;
        let read = read_chunk(&mut input, &pool, plan.len(index), bytes, plan, &label).await;
        let read = match read {
            Ok(data) if is_last => check_end(&mut input, plan.total, &label)
                .await
                .map(|()| data),
            other => other,
        };
        if let Ok(data) = &read {
            threads.feed(Arc::new([data.clone()])).await;
        }
        match read {
            Ok(data) => {
                bytes += data.len() as u64;
                permit.send(Msg::Chunk(Chunk {
                    index,
                    offset: plan.offset(index),
                    data,
                    is_last,
                }));
            }
            Err(e) => {
                permit.send(Msg::Failed(e));
                return;
            }
        }
    }
    // The last chunk went out without waiting for the digests: they finish while it is on
    // the wire (for a one-chunk file, all of the hashing overlaps the request).
    let end = match first == count {
        true => check_end(&mut input, plan.total, &label).await,
        false => Ok(()),
    };
    let msg = match end {
        Ok(()) => threads.finish().await.map(Hasher::finish),
        Err(e) => Err(e),
    };
    let _ = tx.send(msg.map_or_else(Msg::Failed, Msg::Done)).await;
}

/// Reads exactly `len` bytes into a buffer from `pool`; `before_chunk` bytes were read
/// earlier (for the error message of a short file).
async fn read_chunk(
    input: &mut Input,
    pool: &Arc<BufferPool>,
    len: u64,
    before_chunk: u64,
    plan: ChunkPlan,
    label: &str,
) -> Result<Bytes> {
    let mut loan = pool.take();
    let mut buf = std::mem::take(&mut loan.buf);
    // `len` fits: ChunkPlan::new checked the chunk size against usize.
    buf.reserve_exact(len as usize);
    let (buf, read) = input.fill(buf, len).await;
    loan.buf = buf;
    read.map_err(|e| read_error("reading the file to upload", e))?;
    let got = loan.buf.len() as u64;
    if got < len {
        return Err(size_changed(
            label,
            plan.total,
            Found::End(before_chunk + got),
        ));
    }
    Ok(Bytes::from_owner(loan))
}

async fn skip_and_hash(
    input: &mut Input,
    len: u64,
    hasher: &mut Hasher,
    total: u64,
    label: &str,
) -> Result<()> {
    let mut buf = Vec::with_capacity(SKIP_BUFFER.min(len as usize));
    let mut left = len;
    while left > 0 {
        buf.clear();
        let want = left.min(buf.capacity() as u64);
        let (filled, read) = input.fill(buf, want).await;
        buf = filled;
        read.map_err(|e| read_error("reading the file to upload", e))?;
        if buf.is_empty() {
            return Err(size_changed(label, total, Found::End(hasher.bytes())));
        }
        hasher.update(&buf);
        left -= buf.len() as u64;
    }
    Ok(())
}

/// Confirms the input ends where the plan says. The extra read also lets a size-checking
/// reader (`FileSource::open`) report a file that grew.
async fn check_end(input: &mut Input, total: u64, label: &str) -> Result<()> {
    let (probe, read) = input.fill(Vec::with_capacity(1), 1).await;
    read.map_err(|e| read_error("reading the file to upload", e))?;
    if !probe.is_empty() {
        return Err(size_changed(label, total, Found::More));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::sha256_hex;
    use crate::file::FileSource;
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncRead, ReadBuf};

    /// A reader over `data` that publishes how far it has been read.
    struct Probe {
        inner: io::Cursor<Vec<u8>>,
        pos: Arc<AtomicU64>,
        fail_at: Option<u64>,
    }

    impl AsyncRead for Probe {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(at) = self.fail_at {
                if self.inner.position() >= at {
                    return Poll::Ready(Err(io::Error::other("disk on fire")));
                }
            }
            let r = Pin::new(&mut self.inner).poll_read(cx, buf);
            let p = self.inner.position();
            self.pos.store(p, Ordering::SeqCst);
            r
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn probe(d: &[u8]) -> (BoxReader, Arc<AtomicU64>) {
        let pos = Arc::new(AtomicU64::new(0));
        let r = Probe {
            inner: io::Cursor::new(d.to_vec()),
            pos: pos.clone(),
            fail_at: None,
        };
        (Box::new(r), pos)
    }

    /// Lets the reading task run until it blocks.
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn reads_one_chunk_ahead_and_no_further() {
        let d = data(5_500);
        let (reader, pos) = probe(&d);
        let plan = ChunkPlan::new(5_500, 1_000).unwrap();
        let mut chunker = Chunker::start(reader, plan, DigestSet::SHA256);
        settle().await;
        // Before anyone asks: only the first chunk is read.
        assert_eq!(pos.load(Ordering::SeqCst), 1_000);
        let mut got = Vec::new();
        for i in 0..6u64 {
            let c = chunker.next_chunk().await.unwrap().unwrap();
            assert_eq!((c.index, c.offset, c.is_last), (i, i * 1_000, i == 5));
            settle().await;
            // While chunk i is held: chunk i+1 has been read, chunk i+2 has not.
            assert_eq!(
                pos.load(Ordering::SeqCst),
                ((i + 2) * 1_000).min(5_500),
                "holding chunk {i}"
            );
            got.extend_from_slice(&c.data);
            if i < 5 {
                assert!(chunker.checksums().is_none());
            }
        }
        assert!(chunker.next_chunk().await.unwrap().is_none());
        assert_eq!(got, d);
        assert_eq!(
            chunker.checksums().unwrap().sha256.as_deref(),
            Some(sha256_hex(&d).as_str())
        );
    }

    #[tokio::test]
    async fn resume_hashes_skipped_bytes_without_yielding_them() {
        let d = data(2_500);
        let (reader, _) = probe(&d);
        let plan = ChunkPlan::new(2_500, 1_000).unwrap();
        let mut chunker = Chunker::resume(reader, plan, DigestSet::ALL, 2).unwrap();
        let c = chunker.next_chunk().await.unwrap().unwrap();
        assert_eq!(
            (c.index, c.offset, c.len(), c.is_last),
            (2, 2_000, 500, true)
        );
        assert_eq!(&c.data[..], &d[2_000..]);
        assert!(chunker.next_chunk().await.unwrap().is_none());
        let mut full = Hasher::new(DigestSet::ALL);
        full.update(&d);
        assert_eq!(chunker.checksums(), Some(&full.finish()));

        // Resuming after the last chunk yields nothing but still gives the checksums.
        let (reader, _) = probe(&d);
        let mut chunker = Chunker::resume(reader, plan, DigestSet::SHA256, 3).unwrap();
        assert!(chunker.next_chunk().await.unwrap().is_none());
        assert_eq!(
            chunker.checksums().unwrap().sha256.as_deref(),
            Some(sha256_hex(&d).as_str())
        );

        let (reader, _) = probe(&d);
        assert!(
            Chunker::resume(reader, plan, DigestSet::SHA256, 4)
                .unwrap_err()
                .is_invalid_input()
        );
    }

    #[tokio::test]
    async fn empty_input_is_one_empty_last_chunk() {
        let plan = ChunkPlan::new(0, 1_000).unwrap();
        assert_eq!(plan.count(), 1);
        let mut chunker = Chunker::start(
            Box::new(io::Cursor::new(Vec::new())),
            plan,
            DigestSet::SHA256,
        );
        let c = chunker.next_chunk().await.unwrap().unwrap();
        assert_eq!(
            (c.index, c.offset, c.is_empty(), c.is_last),
            (0, 0, true, true)
        );
        // The last chunk does not wait for the digests; they come with the end.
        assert!(chunker.checksums().is_none());
        assert!(chunker.next_chunk().await.unwrap().is_none());
        assert_eq!(
            chunker.checksums().unwrap().sha256.as_deref(),
            Some(sha256_hex(b"").as_str())
        );
    }

    #[tokio::test]
    async fn exact_multiple_has_no_trailing_empty_chunk() {
        use futures::StreamExt;
        let d = data(3_000);
        let plan = ChunkPlan::new(3_000, 1_000).unwrap();
        let chunks: Vec<Chunk> =
            Chunker::start(Box::new(io::Cursor::new(d)), plan, DigestSet::NONE)
                .map(|c| c.unwrap())
                .collect()
                .await;
        assert_eq!(chunks.len(), 3);
        assert!(chunks[2].is_last && chunks[2].len() == 1_000);
    }

    #[tokio::test]
    async fn reader_errors_end_the_stream() {
        let d = data(3_000);
        let pos = Arc::new(AtomicU64::new(0));
        let reader = Probe {
            inner: io::Cursor::new(d),
            pos,
            fail_at: Some(1_000),
        };
        let plan = ChunkPlan::new(3_000, 1_000).unwrap();
        let mut chunker = Chunker::start(Box::new(reader), plan, DigestSet::SHA256);
        assert!(chunker.next_chunk().await.unwrap().is_some());
        let e = chunker.next_chunk().await.unwrap_err();
        assert!(e.is_io() && e.to_string().contains("disk on fire"), "{e}");
        assert!(chunker.next_chunk().await.unwrap().is_none());
        assert!(chunker.checksums().is_none());
    }

    #[tokio::test]
    async fn a_file_that_changed_size_never_yields_its_last_chunk() {
        // Shrank: the plain reader ends early.
        let plan = ChunkPlan::new(2_500, 1_000).unwrap();
        let mut chunker = Chunker::start(
            Box::new(io::Cursor::new(data(2_000))),
            plan,
            DigestSet::SHA256,
        );
        assert!(chunker.next_chunk().await.unwrap().is_some());
        assert!(chunker.next_chunk().await.unwrap().is_some());
        assert!(chunker.next_chunk().await.unwrap_err().is_integrity());

        // Grew: reported in place of the last chunk, whether the reader checks size or not.
        let plan = ChunkPlan::new(2_000, 1_000).unwrap();
        let mut chunker = Chunker::start(
            Box::new(io::Cursor::new(data(2_001))),
            plan,
            DigestSet::SHA256,
        );
        assert!(!chunker.next_chunk().await.unwrap().unwrap().is_last);
        assert!(chunker.next_chunk().await.unwrap_err().is_integrity());

        let checked = FileSource::bytes(data(2_001)).open(2_000).await.unwrap();
        let mut chunker = Chunker::start(checked, plan, DigestSet::SHA256);
        assert!(!chunker.next_chunk().await.unwrap().unwrap().is_last);
        let e = chunker.next_chunk().await.unwrap_err();
        assert!(e.is_integrity() && e.to_string().contains("grew"), "{e}");
    }

    /// Every chunk a chunker yields, then its checksums.
    async fn drain(mut chunker: Chunker) -> (Vec<Chunk>, Checksums) {
        let mut chunks = Vec::new();
        while let Some(c) = chunker.next_chunk().await.unwrap() {
            chunks.push(c);
        }
        (chunks, chunker.checksums().cloned().unwrap())
    }

    fn on_disk(d: &[u8]) -> (tempfile::TempDir, CheckedFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        std::fs::write(&path, d).unwrap();
        let file = CheckedFile::check(crate::Attachment::from_path(&path)).unwrap();
        (dir, file)
    }

    #[tokio::test]
    async fn a_file_on_disk_reads_into_the_chunks_and_resumes() {
        let d = data(10_500);
        let (_dir, file) = on_disk(&d);
        let plan = ChunkPlan::new(10_500, 4_000).unwrap();
        let mut whole = Hasher::new(DigestSet::ALL);
        whole.update(&d);
        let whole = whole.finish();

        let (chunks, sums) = drain(
            Chunker::of_file(&file, plan, DigestSet::ALL, 0)
                .await
                .unwrap(),
        )
        .await;
        let offsets: Vec<(u64, usize, bool)> = chunks
            .iter()
            .map(|c| (c.offset, c.len(), c.is_last))
            .collect();
        assert_eq!(
            offsets,
            [
                (0, 4_000, false),
                (4_000, 4_000, false),
                (8_000, 2_500, true)
            ]
        );
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.to_vec()).collect();
        assert_eq!(joined, d);
        assert_eq!(sums, whole);

        // Resumed: the skipped chunks are hashed, not yielded.
        let (chunks, sums) = drain(
            Chunker::of_file(&file, plan, DigestSet::ALL, 2)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(chunks.len(), 1);
        assert_eq!(&chunks[0].data[..], &d[8_000..]);
        assert_eq!(sums, whole);

        // Bytes in memory take the reader's way to the same result.
        let in_memory =
            CheckedFile::check(crate::Attachment::from_bytes("m.bin", d.clone())).unwrap();
        let (chunks, sums) = drain(
            Chunker::of_file(&in_memory, plan, DigestSet::ALL, 0)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(chunks.iter().map(Chunk::len).sum::<usize>(), d.len());
        assert_eq!(sums, whole);
    }

    #[tokio::test]
    async fn a_file_on_disk_that_changed_size_never_yields_its_last_chunk() {
        let plan = ChunkPlan::new(2_500, 1_000).unwrap();
        let (_dir, file) = on_disk(&data(2_500));
        let path = file.attachment.source().as_path().unwrap().to_owned();

        std::fs::write(&path, data(2_000)).unwrap();
        let mut chunker = Chunker::of_file(&file, plan, DigestSet::SHA256, 0)
            .await
            .unwrap();
        assert!(chunker.next_chunk().await.unwrap().is_some());
        assert!(chunker.next_chunk().await.unwrap().is_some());
        let e = chunker.next_chunk().await.unwrap_err();
        let shown = format!(
            "file {} shrank after it was checked (2500 bytes then, 2000 read)",
            path.display()
        );
        assert!(e.is_integrity() && e.to_string().contains(&shown), "{e}");
        assert!(!e.is_retryable() && !e.outcome_unknown());
        assert!(chunker.checksums().is_none());

        std::fs::write(&path, data(2_501)).unwrap();
        let mut chunker = Chunker::of_file(&file, plan, DigestSet::SHA256, 0)
            .await
            .unwrap();
        assert!(!chunker.next_chunk().await.unwrap().unwrap().is_last);
        assert!(!chunker.next_chunk().await.unwrap().unwrap().is_last);
        let e = chunker.next_chunk().await.unwrap_err();
        let shown = format!(
            "file {} grew after it was checked (2500 bytes then, more now)",
            path.display()
        );
        assert!(e.is_integrity() && e.to_string().contains(&shown), "{e}");

        // Shrunk below a resume point: reported before any chunk.
        std::fs::write(&path, data(1_500)).unwrap();
        let mut chunker = Chunker::of_file(&file, plan, DigestSet::SHA256, 2)
            .await
            .unwrap();
        assert!(chunker.next_chunk().await.unwrap_err().is_integrity());
    }

    #[tokio::test]
    async fn of_file_refuses_a_plan_for_another_size() {
        let (_dir, file) = on_disk(&data(100));
        let e = Chunker::of_file(&file, ChunkPlan::new(99, 10).unwrap(), DigestSet::NONE, 0)
            .await
            .unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
        let e = Chunker::of_file(&file, ChunkPlan::new(100, 10).unwrap(), DigestSet::NONE, 11)
            .await
            .unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
    }

    #[test]
    fn chunk_buffers_come_back_when_the_last_clone_is_dropped() {
        let pool = BufferPool::new(2);
        let mut loan = pool.take();
        loan.buf.extend_from_slice(&[7; 1_000]);
        let chunk = Bytes::from_owner(loan);
        let retry = chunk.clone();
        drop(chunk);
        assert_eq!(pool.take().buf.capacity(), 0, "still held by a clone");
        assert_eq!(&retry[..3], &[7, 7, 7]);
        drop(retry);
        let again = pool.take();
        assert!(again.buf.is_empty() && again.buf.capacity() >= 1_000);
        // No more than `keep` are kept.
        let loans: Vec<PooledBuffer> = (0..4).map(|_| pool.take()).collect();
        drop(loans);
        drop(again);
        assert_eq!(pool.free().len(), 2);
    }

    #[test]
    fn plan_arithmetic() {
        let p = ChunkPlan::new(10, 4).unwrap();
        assert_eq!(
            (p.count(), p.len(0), p.len(2), p.offset(2), p.len(3)),
            (3, 4, 2, 8, 0)
        );
        assert!(ChunkPlan::new(10, 0).unwrap_err().is_invalid_input());
    }
}
