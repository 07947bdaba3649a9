//! Digests on blocking threads of their own, one per algorithm.
//!
//! SHA3-256, MD5 and SHA-256 cost from under one to about five CPU-seconds per GiB each. One
//! after the other on one thread they cap a transfer at the sum of the three; each on its own
//! thread, at the slowest one, with the others on the spare cores. Either way they stay off the
//! runtime's workers that move the bytes.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::checksum::Hasher;
use crate::error::{Error, ErrorKind, Result};

/// Consecutive pieces of a stream, handed to every digest thread. Shared, never copied.
pub(crate) type Batch = Arc<[Bytes]>;

/// The digests of one stream, each computed on its own blocking thread from shared batches.
///
/// Every thread queues at most `depth` batches: a producer ahead of the slowest digest waits
/// in [`HashThreads::feed`] instead of reading on, so memory stays bounded.
pub(crate) struct HashThreads {
    workers: Vec<Worker>,
    bytes: u64,
}

struct Worker {
    tx: mpsc::Sender<Batch>,
    done: JoinHandle<Hasher>,
}

impl HashThreads {
    /// One thread per digest of `hasher`, which carries on from where it is.
    pub(crate) fn start(hasher: Hasher, depth: usize) -> HashThreads {
        let (bytes, parts) = hasher.split();
        let workers = parts
            .into_iter()
            .map(|mut part| {
                let (tx, mut rx) = mpsc::channel::<Batch>(depth.max(1));
                let done = tokio::task::spawn_blocking(move || {
                    while let Some(batch) = rx.blocking_recv() {
                        for piece in batch.iter() {
                            part.update(piece);
                        }
                    }
                    part
                });
                Worker { tx, done }
            })
            .collect();
        HashThreads { workers, bytes }
    }

    /// Hands the next batch to every digest thread, waiting while one has a full queue.
    pub(crate) async fn feed(&mut self, batch: Batch) {
        self.bytes += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        for worker in &self.workers {
            // A thread only stops early by panicking, which `finish` reports.
            let _ = worker.tx.send(batch.clone()).await;
        }
    }

    /// Waits for every thread to hash what it was given; the hasher with all the digests.
    pub(crate) async fn finish(self) -> Result<Hasher> {
        let (senders, handles): (Vec<_>, Vec<_>) =
            self.workers.into_iter().map(|w| (w.tx, w.done)).unzip();
        drop(senders);
        let mut parts = Vec::with_capacity(handles.len());
        for handle in handles {
            parts.push(
                handle
                    .await
                    .map_err(|_| Error::new(ErrorKind::Io, "a digest thread stopped"))?,
            );
        }
        Ok(Hasher::join(self.bytes, parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::DigestSet;

    #[tokio::test]
    async fn threads_give_the_digests_of_the_whole_stream() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut before = Hasher::new(DigestSet::ALL);
        before.update(&data[..10]);
        let mut threads = HashThreads::start(before, 2);
        for piece in data[10..].chunks(7_001) {
            let batch: Batch = Arc::new([
                Bytes::copy_from_slice(&piece[..piece.len() / 2]),
                Bytes::copy_from_slice(&piece[piece.len() / 2..]),
            ]);
            threads.feed(batch).await;
        }
        let got = threads.finish().await.unwrap();
        assert_eq!(got.bytes(), data.len() as u64);
        let mut alone = Hasher::new(DigestSet::ALL);
        alone.update(&data);
        assert_eq!(got.finish(), alone.finish());
    }

    #[tokio::test]
    async fn no_digest_still_counts_bytes() {
        let mut threads = HashThreads::start(Hasher::new(DigestSet::NONE), 1);
        threads.feed(Arc::new([Bytes::from_static(b"abc")])).await;
        let got = threads.finish().await.unwrap();
        assert_eq!(got.bytes(), 3);
        assert!(got.finish().is_empty());
    }
}
