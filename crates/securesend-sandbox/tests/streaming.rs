//! Large bodies: the store writes and hashes them chunk by chunk, never holding them whole.

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use securesend_sandbox::{Clock, FileStore, Sandbox, SandboxOptions};
use sha2::{Digest, Sha256};
use support::{Echo, raw_chunks};

const MIB: usize = 1024 * 1024;
const CHUNKS: usize = 64;

/// Chunk `i` of the test body: 1 MiB of a pattern that differs per chunk.
fn chunk(i: usize) -> Vec<u8> {
    (0..MIB).map(|j| ((j * 7 + i * 13) % 251) as u8).collect()
}

fn expected_sha() -> String {
    let mut h = Sha256::new();
    for i in 0..CHUNKS {
        h.update(chunk(i));
    }
    hex::encode(h.finalize())
}

/// Counts how many chunks are alive: created by the stream and not yet dropped by the store.
#[derive(Default)]
struct Liveness {
    live: AtomicUsize,
    max: AtomicUsize,
}

struct Tracked {
    data: Vec<u8>,
    liveness: Arc<Liveness>,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.liveness.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A lazy 64 MiB body: each chunk is built only when the store asks for it.
fn tracked_body(liveness: Arc<Liveness>) -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures::stream::iter(0..CHUNKS).map(move |i| {
        let now = liveness.live.fetch_add(1, Ordering::SeqCst) + 1;
        liveness.max.fetch_max(now, Ordering::SeqCst);
        Ok(Bytes::from_owner(Tracked {
            data: chunk(i),
            liveness: liveness.clone(),
        }))
    })
}

#[tokio::test]
async fn store_hashes_64_mib_holding_a_bounded_number_of_chunks() {
    let store = FileStore::open(None, Clock::system(), None).unwrap();
    let liveness = Arc::new(Liveness::default());
    let file = store
        .write_stream("big.bin", tracked_body(liveness.clone()), None)
        .await
        .unwrap();
    assert_eq!(file.size, (CHUNKS * MIB) as u64);
    assert_eq!(file.sha256, expected_sha());
    assert_eq!(std::fs::metadata(&file.path).unwrap().len(), file.size);
    // One chunk being read, one queued for the writer thread, one being written: bounded by
    // the store's pipeline, not by the 64 chunks of the body.
    let max = liveness.max.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} chunks alive at once");
    assert_eq!(liveness.live.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn chunked_upload_of_64_mib_in_parts() {
    let store = FileStore::open(None, Clock::system(), None).unwrap();
    let up = store
        .begin_upload("parts.bin", Some((CHUNKS * MIB) as u64))
        .await
        .unwrap();
    let liveness = Arc::new(Liveness::default());
    let mut parts = tracked_body(liveness.clone()).chunks(8);
    while let Some(part) = parts.next().await {
        // Each part is 8 MiB; the cap is exactly that.
        store
            .append(
                &up.upload_id,
                futures::stream::iter(part),
                Some(8 * MIB as u64),
            )
            .await
            .unwrap();
    }
    let file = store.finish_upload(&up.upload_id).await.unwrap();
    assert_eq!(file.sha256, expected_sha());
    assert_eq!(file.size, (CHUNKS * MIB) as u64);
}

#[tokio::test]
async fn upload_of_64_mib_over_http_is_hashed_by_journal_and_store() {
    let sb = Sandbox::start(&Echo, SandboxOptions::default())
        .await
        .unwrap();
    let len = (CHUNKS * MIB) as u64;
    let r = raw_chunks(sb.addr(), "POST", "/upload/big.bin", &[], len, |i| {
        (i < CHUNKS).then(|| chunk(i))
    })
    .await
    .response();
    assert_eq!(r.status, 201);
    let sha = expected_sha();
    assert_eq!(r.json()["sha256"], sha.as_str());
    assert_eq!(r.json()["size"], len);
    let stored = sb.store().find_by_sha256(&sha);
    assert_eq!(stored.len(), 1);
    let rec = sb.journal().last().unwrap().body.unwrap();
    assert_eq!(
        (rec.bytes, rec.sha256.as_deref()),
        (len, Some(sha.as_str()))
    );
}
