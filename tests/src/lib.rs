//! Conformance scenarios every securesend provider must pass.
//!
//! A provider joins by building a [`Target`] (its connected [`Provider`] and an [`Observer`]
//! that reads what the service side recorded) and calling the scenarios from a test:
//!
//! ```no_run
//! # async fn demo(target: securesend_conformance::Target) {
//! use securesend_conformance as c;
//! c::send_zero_one_three(&target).await;
//! c::round_trips(&target, &[0, 1, 1 << 20]).await;
//! c::bad_input_matrix(&target).await;
//! c::unsupported_options(&target).await;
//! # }
//! ```
//!
//! Scenarios are gated by the provider's capabilities: what it cannot do is checked to fail
//! with `Unsupported` before any request instead of being skipped silently.
#![deny(missing_docs)]

mod bad_config;
mod bad_input;
mod browse;
mod files;
mod journal;
mod local;
mod recipients;
mod round_trip;
mod sandbox;
mod send;
mod unsupported;

use securesend::{Provider, SendReceipt};

pub use bad_config::{GoodProfile, bad_config};
pub use bad_input::{bad_input_matrix, size_changes};
pub use browse::browse;
pub use files::{TestFiles, sha256_file};
pub use journal::{
    TAKEN_OVER, failing_journal_sends_nothing, journal_marks_the_point_of_no_return,
};
pub use local::LocalObserver;
pub use recipients::recipients_once_in_ascii;
pub use round_trip::{LARGE, boundary_sizes, round_trips};
pub use sandbox::SandboxObserver;
pub use send::{send_files, send_zero_one_three};
pub use unsupported::unsupported_options;

/// A file as a recipient received it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeliveredFile {
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// Reads the service side's records.
#[async_trait::async_trait]
pub trait Observer: Send + Sync {
    /// A summary of everything the service has recorded (requests, stored files, messages).
    /// Equal before and after an operation proves the operation had no side effect.
    async fn fingerprint(&self) -> String;

    /// The files the recipients of a sent message received.
    async fn delivered(&self, receipt: &SendReceipt) -> Vec<DeliveredFile>;

    /// Every address the service delivered a sent message to (to, cc and bcc alike), as the
    /// service recorded it.
    async fn recipients(&self, receipt: &SendReceipt) -> Vec<String>;

    /// How many messages the service has delivered since it started, all told.
    async fn deliveries(&self) -> u64;
}

/// A provider under test.
pub struct Target {
    /// The connected provider.
    pub provider: Provider,
    /// Its service side's records.
    pub observer: Box<dyn Observer>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}
