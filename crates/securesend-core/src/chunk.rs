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
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::{Checksums, DigestSet, Hasher};
use crate::error::{Error, Result};
use crate::file::BoxReader;
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
        Self::spawn(reader, plan, digests, 0)
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
        if first > plan.count() {
            return Err(Error::invalid_input(format!(
                "cannot resume at chunk {first}: the file has {} chunks",
                plan.count()
            )));
        }
        Ok(Self::spawn(reader, plan, digests, first))
    }

    fn spawn(reader: BoxReader, plan: ChunkPlan, digests: DigestSet, first: u64) -> Chunker {
        // Capacity 1 plus "reserve before reading" is what bounds memory: the task holds a
        // permit (an empty slot) before it allocates the next chunk.
        let (tx, rx) = mpsc::channel(1);
        let task = tokio::spawn(produce(reader, plan, digests, first, tx));
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

/// Buffer for bytes that are hashed but not yielded (resume).
const SKIP_BUFFER: usize = 64 << 10;

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
    mut reader: BoxReader,
    plan: ChunkPlan,
    digests: DigestSet,
    first: u64,
    tx: mpsc::Sender<Msg>,
) {
    let mut hasher = Hasher::new(digests);
    let count = plan.count();
    let skip = plan.offset(first);
    if let Err(e) = skip_and_hash(&mut reader, skip, &mut hasher, plan.total).await {
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
        let read = read_chunk(&mut reader, &pool, plan.len(index), bytes, plan).await;
        let read = match read {
            Ok(data) if is_last => check_end(&mut reader, plan.total).await.map(|()| data),
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
        true => check_end(&mut reader, plan.total).await,
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
    reader: &mut BoxReader,
    pool: &Arc<BufferPool>,
    len: u64,
    before_chunk: u64,
    plan: ChunkPlan,
) -> Result<Bytes> {
    let mut loan = pool.take();
    let buf = &mut loan.buf;
    // `len` fits: ChunkPlan::new checked the chunk size against usize.
    buf.reserve_exact(len as usize);
    while (buf.len() as u64) < len {
        let before = buf.len();
        let want = len - before as u64;
        let n = (&mut *reader)
            .take(want)
            .read_buf(buf)
            .await
            .map_err(|e| Error::io("reading the file to upload", e))?;
        if n == 0 {
            return Err(short_input(before_chunk + before as u64, plan.total));
        }
    }
    Ok(Bytes::from_owner(loan))
}

async fn skip_and_hash(
    reader: &mut BoxReader,
    len: u64,
    hasher: &mut Hasher,
    total: u64,
) -> Result<()> {
    let mut buf = vec![0u8; SKIP_BUFFER.min(len as usize)];
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = reader
            .read(&mut buf[..want])
            .await
            .map_err(|e| Error::io("reading the file to upload", e))?;
        if n == 0 {
            return Err(short_input(hasher.bytes(), total));
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// Confirms the input ends where the plan says. The extra read also lets a size-checking
/// reader (`FileSource::open`) report a file that grew.
async fn check_end(reader: &mut BoxReader, total: u64) -> Result<()> {
    let mut probe = [0u8; 1];
    let n = reader
        .read(&mut probe)
        .await
        .map_err(|e| Error::io("reading the file to upload", e))?;
    if n > 0 {
        return Err(Error::integrity(format!(
            "the file has more than the {total} bytes it had when it was checked; send it again"
        )));
    }
    Ok(())
}

fn short_input(read: u64, total: u64) -> Error {
    Error::integrity(format!(
        "the file ended after {read} of its {total} bytes; it changed after it was checked, send it again"
    ))
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
        assert!(e.to_string().contains("grew"), "{e}");
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
