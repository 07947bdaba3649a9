//! Asking a running send or upload to stop (Ctrl-C), so that it can clean up first.
//!
//! Dropping a send's future stops it too, but skips the requests that undo what it created on
//! the service (a Kiteworks draft and its uploaded files, a Tuyu upload folder). A [`Cancel`]
//! handed to the request instead lets the adapter stop at its next safe point, remove what it
//! made, and return an error of kind [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)
//! whose message says what was and was not done. Once a send has passed its point of no return
//! (the request after which the recipients may have it) a cancellation is ignored: the adapter
//! waits for the service's answer, so the caller learns whether the message went.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};

/// A cancellation signal shared by the caller and the request it was given to.
///
/// Cloning gives another handle on the same signal.
///
/// ```
/// use securesend_core::Cancel;
///
/// # tokio_test_block_on(async {
/// let cancel = Cancel::new();
/// let work = cancel.clone();
/// cancel.cancel();
/// let err = work
///     .guard("the upload", async { Ok::<_, securesend_core::Error>(1) })
///     .await
///     .unwrap_err();
/// assert!(err.is_cancelled());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cancel(CancellationToken);

impl Cancel {
    /// A signal that has not fired.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Fires the signal; every handle sees it.
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether the signal has fired.
    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes when the signal fires.
    pub async fn cancelled(&self) {
        self.0.cancelled().await;
    }

    /// `Err` of kind `Cancelled` naming `what` when the signal has fired.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::cancelled(format!("{what} was interrupted")))
        } else {
            Ok(())
        }
    }

    /// Runs `work` unless the signal fires first; then `work` is dropped and the error names
    /// `what`. Use it around steps that are safe to abandon (before the point of no return).
    pub async fn guard<T>(&self, what: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.check(what)?;
        tokio::select! {
            biased;
            () = self.0.cancelled() => Err(Error::cancelled(format!("{what} was interrupted"))),
            r = work => r,
        }
    }
}

impl Error {
    /// An operation stopped because its [`Cancel`] fired.
    pub fn cancelled(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Cancelled, message)
    }

    /// Whether the operation was interrupted on request.
    pub fn is_cancelled(&self) -> bool {
        self.kind() == ErrorKind::Cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guard_runs_the_work_until_the_signal_fires() {
        let cancel = Cancel::new();
        assert_eq!(cancel.guard("x", async { Ok(5) }).await.unwrap(), 5);

        let c = cancel.clone();
        let slow = cancel.guard("the send", async {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            Ok(())
        });
        let fire = async move {
            tokio::task::yield_now().await;
            c.cancel();
        };
        let (r, ()) = tokio::join!(slow, fire);
        let e = r.unwrap_err();
        assert!(e.is_cancelled());
        assert_eq!(e.to_string(), "cancelled: the send was interrupted");
        assert!(!e.is_retryable());
        assert!(cancel.check("y").unwrap_err().is_cancelled());
    }
}
