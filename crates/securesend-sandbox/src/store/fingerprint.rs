//! An upload's fingerprints (MD5 and SHA3-256), computed off the request path.
//!
//! A real Kiteworks computes fingerprints after the fact, so a chunk's answer never waits for
//! them. Here each digest runs on a thread of its own for every part, fed the part's bytes as
//! they arrive. The part's answer does not wait for that thread: it keeps hashing while the
//! client prepares its next chunk, so the gaps between chunk requests do not leave the
//! digests idle. A byte budget per digest bounds how far the hashing may lag behind the
//! network, and so the memory it holds.
//!
//! Each part's thread starts from the state the previous part's thread hands over, and ends
//! with a commit (its state becomes the upload's) or a rollback (the state from before the
//! part is kept), so a failed part leaves the fingerprints as they were.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use md5::Md5;
use sha2::Digest;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Fingerprints;

/// How many bytes each digest may lag behind the network: about 30 ms of SHA3-256 here, more
/// than the gap between two chunk requests.
const LAG_BUDGET: usize = 8 << 20;

/// The fingerprints of an upload in progress.
pub(super) struct Fingerprinter {
    md5: Lane<Md5>,
    sha3: Lane<Sha3>,
}

/// What a lane needs of a digest.
trait Running: Clone + Send + 'static {
    fn fresh() -> Self;
    fn feed(&mut self, data: &[u8]);
    fn hex(self) -> String;
}

impl Running for Md5 {
    fn fresh() -> Self {
        Md5::new()
    }
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
    fn hex(self) -> String {
        hex::encode(self.finalize())
    }
}

/// SHA3-256 from AWS-LC: the slowest of the service's digests, and a third faster there than
/// the portable implementation, so the sandbox is less of a ceiling for what it measures.
#[derive(Clone)]
struct Sha3(aws_lc_rs::digest::Context);

impl Running for Sha3 {
    fn fresh() -> Self {
        Sha3(aws_lc_rs::digest::Context::new(
            &aws_lc_rs::digest::SHA3_256,
        ))
    }
    fn feed(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn hex(self) -> String {
        hex::encode(self.0.finish())
    }
}

impl Fingerprinter {
    pub(super) fn new() -> Fingerprinter {
        Fingerprinter {
            md5: Lane::new(),
            sha3: Lane::new(),
        }
    }

    /// Starts hashing one part.
    pub(super) fn begin_part(&mut self) -> PartFeed {
        PartFeed {
            lanes: [self.md5.begin_part(), self.sha3.begin_part()],
        }
    }

    /// Waits for every part's hashing to finish and gives the fingerprints. The upload keeps
    /// its state, so it can still take parts if completing it fails afterwards.
    pub(super) async fn settle(&mut self) -> io::Result<Fingerprints> {
        let md5 = self.md5.settle().await?;
        let sha3 = self.sha3.settle().await?;
        Ok(Fingerprints {
            md5: md5.hex(),
            sha3_256: sha3.hex(),
        })
    }
}

/// The fingerprints of bytes read from `reader` to its end, on the calling thread.
pub(super) fn of_reader(mut reader: impl io::Read) -> io::Result<Fingerprints> {
    let mut md5 = Md5::fresh();
    let mut sha3 = Sha3::fresh();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.feed(&buf[..n]);
        sha3.feed(&buf[..n]);
    }
    Ok(Fingerprints {
        md5: md5.hex(),
        sha3_256: sha3.hex(),
    })
}

/// What a part's threads are told about a piece or about the part's end.
enum Msg {
    /// Bytes to hash, and the budget they took.
    Piece(Bytes, u32),
    /// The part is over: true keeps what it hashed, false discards it.
    End(bool),
}

/// One digest across the parts of an upload: ready, or still being computed by the thread of
/// the latest part.
struct Lane<D> {
    state: oneshot::Receiver<D>,
    budget: Arc<Semaphore>,
}

impl<D: Running> Lane<D> {
    fn new() -> Lane<D> {
        Lane {
            state: ready(D::fresh()),
            budget: Arc::new(Semaphore::new(LAG_BUDGET)),
        }
    }

    /// Spawns the part's thread, which first takes over the state from the previous part.
    fn begin_part(&mut self) -> Feed {
        let (handover, next) = oneshot::channel();
        let before = std::mem::replace(&mut self.state, next);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let budget = self.budget.clone();
        tokio::task::spawn_blocking(move || {
            // No state means an earlier thread panicked: dropping `handover` passes that on.
            let Ok(start) = before.blocking_recv() else {
                return;
            };
            let mut digest = start.clone();
            let keep = loop {
                match rx.blocking_recv() {
                    Some(Msg::Piece(bytes, taken)) => {
                        digest.feed(&bytes);
                        drop(bytes);
                        budget.add_permits(taken as usize);
                    }
                    Some(Msg::End(keep)) => break keep,
                    // The part's task went away without saying: nothing of it counts.
                    None => break false,
                }
            };
            let _ = handover.send(if keep { digest } else { start });
        });
        Feed {
            tx,
            budget: self.budget.clone(),
        }
    }

    async fn settle(&mut self) -> io::Result<D> {
        let state = std::mem::replace(&mut self.state, oneshot::channel().1);
        let digest = state
            .await
            .map_err(|_| io::Error::other("a fingerprint thread stopped"))?;
        self.state = ready(digest.clone());
        Ok(digest)
    }
}

fn ready<D>(digest: D) -> oneshot::Receiver<D> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(digest);
    rx
}

/// Where one part's bytes go to be fingerprinted.
pub(super) struct PartFeed {
    lanes: [Feed; 2],
}

impl PartFeed {
    /// Hands a piece to every digest, waiting while one lags a whole budget behind.
    pub(super) async fn piece(&self, bytes: &Bytes) {
        for lane in &self.lanes {
            lane.piece(bytes.clone()).await;
        }
    }

    /// Ends the part: `keep` makes its bytes part of the fingerprints, otherwise they are
    /// discarded as if the part had never come.
    pub(super) fn end(self, keep: bool) {
        for lane in self.lanes {
            let _ = lane.tx.send(Msg::End(keep));
        }
    }
}

struct Feed {
    tx: mpsc::UnboundedSender<Msg>,
    budget: Arc<Semaphore>,
}

impl Feed {
    async fn piece(&self, bytes: Bytes) {
        let taken = bytes.len().min(LAG_BUDGET) as u32;
        // The semaphore is never closed, so acquiring only waits.
        if let Ok(permit) = self.budget.acquire_many(taken).await {
            permit.forget();
        }
        if self.tx.send(Msg::Piece(bytes, taken)).is_err() {
            // The thread is gone (it panicked); give the budget back so no one waits for it.
            self.budget.add_permits(taken as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From RustCrypto's implementations: a second SHA3-256 to check AWS-LC's against.
    fn expected(data: &[u8]) -> Fingerprints {
        Fingerprints {
            md5: hex::encode(Md5::digest(data)),
            sha3_256: hex::encode(sha3::Sha3_256::digest(data)),
        }
    }

    #[tokio::test]
    async fn parts_add_up_and_a_rolled_back_part_counts_for_nothing() {
        let mut f = Fingerprinter::new();
        let part = f.begin_part();
        part.piece(&Bytes::from_static(b"hello ")).await;
        part.end(true);
        let failed = f.begin_part();
        failed.piece(&Bytes::from_static(b"garbage")).await;
        failed.end(false);
        let abandoned = f.begin_part();
        abandoned.piece(&Bytes::from_static(b"more garbage")).await;
        drop(abandoned);
        let part = f.begin_part();
        part.piece(&Bytes::from_static(b"wor")).await;
        part.piece(&Bytes::from_static(b"ld")).await;
        part.end(true);
        assert_eq!(f.settle().await.unwrap(), expected(b"hello world"));
        // Settling keeps the state: the upload can go on.
        let part = f.begin_part();
        part.piece(&Bytes::from_static(b"!")).await;
        part.end(true);
        assert_eq!(f.settle().await.unwrap(), expected(b"hello world!"));
    }

    #[test]
    fn a_whole_reader_gives_the_same_fingerprints() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(of_reader(&data[..]).unwrap(), expected(&data));
    }

    #[tokio::test]
    async fn a_piece_larger_than_the_budget_passes() {
        let big = Bytes::from(vec![7u8; LAG_BUDGET + 1]);
        let mut f = Fingerprinter::new();
        let part = f.begin_part();
        part.piece(&big).await;
        part.piece(&big).await;
        part.end(true);
        let mut both = big.to_vec();
        both.extend_from_slice(&big);
        assert_eq!(f.settle().await.unwrap(), expected(&both));
    }
}
