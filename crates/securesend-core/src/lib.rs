//! The core contract of securesend.
//!
//! securesend sends files securely through whichever managed-file-transfer or groupware
//! service a customer runs. This crate holds what every provider shares:
//!
//! | concept | types |
//! |---|---|
//! | roles | [`SecureMailer`], [`Uploader`], [`Downloader`]; optional [`Browser`], [`Login`], [`Inbox`], [`Composer`], [`Diagnostics`] |
//! | a connected provider | [`Provider`], [`Capabilities`] |
//! | surviving a crash | [`SendJournal`]: checkpoints and the point of no return, kept by the delivery queue |
//! | what goes out | [`SecureMessage`] (built with [`MessageBuilder`]), [`Attachment`], [`FileSource`], [`UploadRequest`], [`DownloadRequest`] |
//! | what comes back | [`SendReceipt`], [`RemoteFile`], [`Download`], [`SavedFile`] |
//! | failures | [`Error`], [`ErrorKind`] |
//! | configuration | [`config::ConfigFile`], [`config::ProfileConfig`], [`SecretRef`], [`Secret`] |
//! | small local files | [`file::read_small_file`] and its caps (configuration, secrets, bodies) |
//! | adapters' plumbing | [`http`], [`chunk`], [`checksum`], [`names`] |
//!
//! Applications normally use the `securesend` facade crate, which re-exports this one and
//! picks the adapter from configuration.
//!
//! ```
//! use securesend_core::{Attachment, Capabilities, SecureMessage};
//!
//! let message = SecureMessage::builder()
//!     .to("ada@example.com")
//!     .subject("Contract")
//!     .text("Please sign.")
//!     .attach(Attachment::from_bytes("contract.txt", "terms"))
//!     .build()?;
//!
//! // A provider that cannot send attachments refuses before any request is made.
//! let mut caps = Capabilities::default();
//! caps.send = true;
//! let err = caps.check_message("example", &message).unwrap_err();
//! assert!(err.is_unsupported());
//! # Ok::<(), securesend_core::Error>(())
//! ```
#![deny(missing_docs)]

mod address;
mod browse;
mod cancel;
mod capabilities;
pub mod checksum;
pub mod chunk;
pub mod config;
mod download;
mod error;
pub mod file;
mod hash_threads;
pub mod http;
mod inbox;
pub mod journal;
mod message;
pub mod names;
mod progress;
mod provider;
mod remote;
pub mod request;
mod roles;
mod secret;

pub use address::Address;
pub use browse::{Browser, Entry, EntryKind, ListRequest, Page};
pub use cancel::Cancel;
pub use capabilities::Capabilities;
pub use checksum::Checksums;
pub use download::{ByteStream, Download, SavedFile, StreamedFile};
pub use error::{Error, ErrorKind, Result, clean_service_text};
pub use file::{Attachment, BoxReader, CheckedFile, FileSource};
pub use inbox::{InboxQuery, ReceivedMessage};
pub use journal::SendJournal;
pub use message::{
    Delivery, Expiry, IntoAddress, MessageBuilder, Priority, SecureMessage, SendOptions,
    check_header_text,
};
pub use progress::{FileProgress, Progress, ProgressEvent};
pub use provider::Provider;
pub use remote::{Link, RemoteFile, SendReceipt, SendStatus};
pub use request::{DownloadRequest, UploadBuilder, UploadRequest};
pub use roles::{
    Composer, Diagnostics, Downloader, Inbox, Login, LoginPrompt, SecureMailer, Uploader,
};
pub use secret::{Secret, SecretRef};

/// Re-exported so adapters implement the roles with the same macro version.
pub use async_trait::async_trait;

/// The crate version, used in the `User-Agent` header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
