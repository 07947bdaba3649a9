//! Body wrappers used by the server: one that hashes request bodies for the journal as the
//! service reads them, and one that cuts a response body short.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

use crate::journal::{BodyRecord, Journal, RequestSeq};

/// A request body that records its size and sha256 in the journal as the service reads it,
/// frame by frame, so recording costs no buffering. When the body is dropped before its end
/// the journal gets the bytes read so far and no hash.
pub(crate) struct TapBody<B> {
    inner: B,
    // `None` when the sandbox was told not to hash request bodies.
    hasher: Option<Sha256>,
    bytes: u64,
    done: bool,
    journal: Journal,
    seq: RequestSeq,
}

impl<B: Body> TapBody<B> {
    pub(crate) fn new(inner: B, journal: Journal, seq: RequestSeq, hash: bool) -> Self {
        let mut tap = TapBody {
            inner,
            hasher: hash.then(Sha256::new),
            bytes: 0,
            done: false,
            journal,
            seq,
        };
        // An empty body may never be polled (consumers check `is_end_stream` first), so it
        // is recorded as complete up front.
        if tap.inner.is_end_stream() {
            tap.finish(true);
        }
        tap
    }
}

impl<B> TapBody<B> {
    fn finish(&mut self, complete: bool) {
        if self.done {
            return;
        }
        self.done = true;
        let hasher = self.hasher.take();
        let sha256 = hasher
            .filter(|_| complete)
            .map(|h| hex::encode(h.finalize()));
        let record = BodyRecord {
            bytes: self.bytes,
            complete,
            sha256,
        };
        self.journal.update(self.seq, |e| e.body = Some(record));
    }

    /// Bytes read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

impl<B> Body for TapBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(h) = this.hasher.as_mut() {
                        h.update(data);
                    }
                    this.bytes += data.len() as u64;
                }
                // A consumer may stop at the last frame without polling for the end.
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                this.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.finish(true);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TapBody<B> {
    fn drop(&mut self) {
        // Not read to its end: record how far it got, without a hash.
        self.finish(false);
    }
}

/// Reads a tapped body to its end, discarding the bytes (they are hashed for the journal).
pub(crate) async fn drain<B>(body: &mut TapBody<B>) -> Result<(), B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    use http_body_util::BodyExt;
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(())
}

/// Reads a tapped body until at least `limit` bytes (or all of it) have been read.
pub(crate) async fn read_up_to<B>(body: &mut TapBody<B>, limit: u64) -> Result<(), B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    use http_body_util::BodyExt;
    while body.bytes_read() < limit {
        match body.frame().await {
            Some(frame) => {
                frame?;
            }
            None => break,
        }
    }
    Ok(())
}

/// The error a truncated body ends with; hyper closes the connection on it.
#[derive(Debug, thiserror::Error)]
#[error("response body truncated by an injected fault")]
pub(crate) struct Truncated;

/// A response body that passes through `keep` bytes and then fails. The response carries the
/// full `Content-Length`, so the client sees a short body and a closed connection.
pub(crate) struct TruncatedBody {
    inner: axum::body::Body,
    remaining: u64,
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long the truncated body waits after its last byte before failing. hyper drops any
/// unflushed output when a body fails, so without this pause the head and the partial body
/// might never leave the server, and the client would see a dropped connection instead of a
/// short body. Real time on purpose: this is about sockets, not about the sandbox clock.
const TRUNCATE_FLUSH_GRACE: Duration = Duration::from_millis(50);

impl TruncatedBody {
    pub(crate) fn new(inner: axum::body::Body, keep: u64) -> Self {
        TruncatedBody {
            inner,
            remaining: keep,
            grace: None,
        }
    }
}

impl Body for TruncatedBody {
    type Data = Bytes;
    type Error = Truncated;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Truncated>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            let sleep = this
                .grace
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(TRUNCATE_FLUSH_GRACE)));
            ready!(sleep.as_mut().poll(cx));
            return Poll::Ready(Some(Err(Truncated)));
        }
        loop {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(mut data) = frame.into_data() else {
                        continue;
                    };
                    if data.len() as u64 > this.remaining {
                        data.truncate(this.remaining as usize);
                    }
                    this.remaining -= data.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                // The service's own body failed or ended early: either way the connection
                // must close short of the announced length.
                Some(Err(_)) | None => return Poll::Ready(Some(Err(Truncated))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        // Unknown on purpose: hyper then takes the length from the Content-Length header
        // (the full length), not from this body.
        SizeHint::default()
    }
}
