//! The sandbox's error type.

use std::io;

use crate::store::StoreError;

/// Why a sandbox could not start or a provider could not be selected.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The loopback listener could not be opened.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] io::Error),
    /// File-system trouble (store directory, output files).
    #[error("sandbox I/O: {0}")]
    Io(#[from] io::Error),
    /// A provider name that no compiled-in service module has.
    #[error("unknown provider `{name}`; available: {}", list_available(.available))]
    UnknownProvider {
        /// The name asked for.
        name: String,
        /// The names that would have worked.
        available: Vec<String>,
    },
    /// A service module failed while mounting (seeding, configuration).
    #[error("service `{key}` could not start: {message}")]
    Service {
        /// The service key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// Storing seed data failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An option out of range.
    #[error("invalid sandbox option: {0}")]
    Options(String),
}

fn list_available(available: &[String]) -> String {
    available
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SandboxError {
    /// A service module's start-up failure.
    pub fn service(key: &str, message: impl Into<String>) -> SandboxError {
        SandboxError::Service {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
