//! A file whose bytes do not match the size it was checked at: one clear, permanent error.
//!
//! A file can change between the check and the read, or never have had a stable size at all
//! (procfs reports 0 bytes, sysfs 4096, whatever they hold). Sending it again does not help
//! either way, so the error is an integrity error (never retried, never "the service may have
//! processed the request") that says to copy the file to an ordinary one. Readers report it
//! inside an `io::Error`; [`read_error`] takes it back out, and so does the HTTP layer when it
//! stopped a request body.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::BoxReader;
use crate::error::Error;

/// What reading found, against the checked size.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Found {
    /// More bytes than checked.
    More,
    /// The end, after this many bytes.
    End(u64),
}

/// The error for `label` ("file /x", "the data given for a.txt"), checked at `checked` bytes.
pub(crate) fn size_changed(label: &str, checked: u64, found: Found) -> Error {
    let what = match found {
        Found::More => {
            format!("{label} grew after it was checked ({checked} bytes then, more now)")
        }
        Found::End(read) => {
            format!("{label} shrank after it was checked ({checked} bytes then, {read} read)")
        }
    };
    Error::integrity(format!(
        "{what}: it is changing, or it is not a regular file with a stable size; copy it to an ordinary file and send that"
    ))
}

/// The payload of the `io::Error` a checked reader fails with.
#[derive(Debug)]
struct SizeChanged(Error);

impl fmt::Display for SizeChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message())
    }
}

impl StdError for SizeChanged {}

fn into_io(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, SizeChanged(e))
}

/// The error for a failed read of a [`CheckedFile`](crate::CheckedFile)'s reader: the
/// integrity error of a file whose size changed, when that is what stopped it, else an I/O
/// error on `what` ("reading report.pdf").
pub fn read_error(what: &str, e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SizeChanged>())
    {
        Some(SizeChanged(changed)) => changed.copy_without_source(),
        None => Error::io(what.to_owned(), e),
    }
}

/// The size-change error somewhere in `err`'s chain of causes (a request body that a checked
/// reader stopped), looking inside `io::Error`s, which hide what they wrap from `source()`.
pub(crate) fn size_change_in(err: &(dyn StdError + 'static)) -> Option<Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(SizeChanged(changed)) = e.downcast_ref::<SizeChanged>() {
            return Some(changed.copy_without_source());
        }
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Wraps a reader so it yields exactly the declared number of bytes.
pub(crate) struct ExactReader {
    inner: tokio::io::Take<BoxReader>,
    len: u64,
    label: String,
    done: bool,
}

impl ExactReader {
    pub(crate) fn new(inner: BoxReader, len: u64, label: String) -> Self {
        ExactReader {
            inner: inner.take(len),
            len,
            label,
            done: false,
        }
    }

    fn fail(&self, found: Found) -> io::Error {
        into_io(size_changed(&self.label, self.len, found))
    }
}

impl AsyncRead for ExactReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.done || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        if buf.filled().len() > before {
            return Poll::Ready(Ok(()));
        }
        let missing = self.inner.limit();
        if missing > 0 {
            return Poll::Ready(Err(self.fail(Found::End(self.len - missing))));
        }
        // The declared length is reached: one more byte would mean the file grew.
        let mut probe = [0u8; 1];
        let mut pb = ReadBuf::new(&mut probe);
        match Pin::new(self.inner.get_mut()).poll_read(cx, &mut pb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) if pb.filled().is_empty() => {
                self.done = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) => Poll::Ready(Err(self.fail(Found::More))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(data: &'static [u8], len: u64) -> io::Result<Vec<u8>> {
        let mut r = ExactReader::new(Box::new(data), len, "file /x".to_owned());
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.map(|_| out)
    }

    #[tokio::test]
    async fn a_size_change_comes_back_out_as_one_permanent_error() {
        assert_eq!(read_all(b"hello", 5).await.unwrap(), b"hello");
        let grew = read_error("reading x", read_all(b"hello", 4).await.unwrap_err());
        assert!(grew.is_integrity() && !grew.is_retryable() && !grew.outcome_unknown());
        assert_eq!(
            grew.to_string(),
            "integrity check failed: file /x grew after it was checked (4 bytes then, more now): it is changing, or it is not a regular file with a stable size; copy it to an ordinary file and send that"
        );
        let shrank = read_error("reading x", read_all(b"hello", 6).await.unwrap_err());
        assert!(shrank.is_integrity(), "{shrank}");
        assert!(
            shrank
                .to_string()
                .contains("file /x shrank after it was checked (6 bytes then, 5 read)"),
            "{shrank}"
        );
        // Other failures stay I/O errors.
        let other = read_error("reading x", io::Error::other("disk on fire"));
        assert!(other.is_io() && other.to_string().contains("reading x: disk on fire"));
    }

    #[tokio::test]
    async fn the_error_is_found_below_layers_that_wrap_it() {
        let io = read_all(b"hello", 4).await.unwrap_err();
        // As a body stream's error ends up: an io::Error inside another error's source.
        #[derive(Debug)]
        struct Outer(io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("body error")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = io::Error::other(Outer(io));
        let found = size_change_in(&wrapped).expect("found");
        assert!(found.is_integrity() && found.message().contains("grew"));
        assert!(size_change_in(&io::Error::other("plain")).is_none());
    }
}
