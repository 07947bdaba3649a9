//! A send's durable record of progress, kept by whoever runs the send (the delivery queue).
//!
//! A send that a process runs once needs none of this. A send that must survive the process
//! dying (a queued job taken over by another worker) needs two things from the adapter:
//!
//! - **checkpoints**: what it created on the service that a later attempt can reuse (a
//!   Kiteworks draft id and the ids of the files already uploaded), saved with
//!   [`SendJournal::save`] before it moves on;
//! - **the point of no return**: immediately before the request after which the recipients may
//!   have the message, the adapter calls [`SendJournal::point_of_no_return`]. If that call
//!   fails, the request is not made. An attempt that dies after the call is never repeated
//!   blindly: the adapter is asked to reconcile ([`SendJournal::committed_before`]) when it can
//!   ask the service ([`Capabilities::reconcile`](crate::Capabilities::reconcile)), else the
//!   send is left in doubt for a person.
//!
//! An adapter that honours the journal sets
//! [`Capabilities::journal`](crate::Capabilities::journal); for one that does not, the caller
//! marks the point of no return itself before calling `send`, so that a crash ends in doubt
//! rather than in a second delivery.
//!
//! ```
//! use std::sync::Arc;
//! use securesend_core::{SecureMessage, SendJournal, journal::MemoryJournal};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let journal = Arc::new(MemoryJournal::default());
//! let message = SecureMessage::builder()
//!     .to("ada@example.com")
//!     .build()?
//!     .with_journal(journal.clone());
//! // An adapter saves what it created, then marks the point of no return.
//! let j = message.journal().unwrap();
//! j.save(serde_json::json!({"draft": "d-1"})).await?;
//! j.point_of_no_return().await?;
//! assert_eq!(journal.saved(), vec![serde_json::json!({"draft": "d-1"})]);
//! assert!(journal.passed_point_of_no_return());
//! # Ok::<(), securesend_core::Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;

/// Where a send records its progress and its point of no return; see the [module](self).
///
/// Errors from [`save`](Self::save) and [`point_of_no_return`](Self::point_of_no_return) mean
/// the caller can no longer vouch for the send (another worker took it over): the adapter
/// stops, cleans up only what the checkpoint does not name, and returns the error marked
/// [`not_sent`](crate::Error::not_sent).
#[async_trait]
pub trait SendJournal: Send + Sync + fmt::Debug {
    /// The progress an earlier attempt of this same send saved, if any.
    fn resume(&self) -> Option<Value>;

    /// Whether an earlier attempt of this send passed its point of no return and its outcome
    /// is not known. An adapter with [`Capabilities::reconcile`](crate::Capabilities::reconcile)
    /// must then ask the service what became of the message (from [`resume`](Self::resume))
    /// before anything else, and finish it or report it sent; it must never send it afresh.
    fn committed_before(&self) -> bool;

    /// Durably records `checkpoint` (replacing the previous one) before the adapter moves on.
    async fn save(&self, checkpoint: Value) -> Result<()>;

    /// Durably records that the next request may deliver the message. Called immediately
    /// before that request; when it fails, the request is not made.
    async fn point_of_no_return(&self) -> Result<()>;
}

/// A journal in memory: for tests and for callers that only want to observe an adapter.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    resume: Option<Value>,
    committed_before: bool,
    saved: Mutex<Vec<Value>>,
    passed: AtomicBool,
}

impl MemoryJournal {
    /// A journal that hands `checkpoint` to the adapter as an earlier attempt's progress;
    /// `committed_before` says whether that attempt passed its point of no return.
    pub fn resuming(checkpoint: Option<Value>, committed_before: bool) -> Self {
        MemoryJournal {
            resume: checkpoint,
            committed_before,
            ..MemoryJournal::default()
        }
    }

    /// Every checkpoint saved so far, oldest first.
    pub fn saved(&self) -> Vec<Value> {
        self.saved.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the adapter marked its point of no return.
    pub fn passed_point_of_no_return(&self) -> bool {
        self.passed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SendJournal for MemoryJournal {
    fn resume(&self) -> Option<Value> {
        self.resume.clone()
    }

    fn committed_before(&self) -> bool {
        self.committed_before
    }

    async fn save(&self, checkpoint: Value) -> Result<()> {
        self.saved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(checkpoint);
        Ok(())
    }

    async fn point_of_no_return(&self) -> Result<()> {
        self.passed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
