//! Send files securely through whichever managed-file-transfer or groupware service your
//! customer runs, chosen at runtime from configuration.
//!
//! | provider key | service | Cargo feature |
//! |---|---|---|
//! | `local` | a directory on this machine; the embedded default | `local` |
//! | `kiteworks` | Kiteworks REST API v28 (OAuth 2: authorization code + PKCE, refresh, signature, password, JWT) | `kiteworks` |
//! | `egroupware` | EGroupware mail REST API (send, compose window) and WebDAV (upload, download) | `egroupware` |
//! | `privasfer` | Privasfer download links: downloads with the account PIN, inbox | `privasfer` |
//! | `tuyu` | Tuyu / FileGenius `file_send` API (HMAC-signed) | `tuyu` |
//!
//! Each provider is behind a Cargo feature (all on by default). [`connect`] builds the provider
//! a configuration profile names; [`Client`] finds the configuration file. With no
//! configuration at all, the `local` provider in `./securesend-data` is used, so a first run
//! needs no account.
//!
//! ```
//! use securesend::{Attachment, Client, SecureMessage};
//!
//! # #[tokio::main] async fn main() -> securesend::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("securesend.toml");
//! # std::fs::write(&path, "[profiles.demo]\nprovider = \"local\"\nroot = \"data\"\n").unwrap();
//! let provider = Client::from_config_file(&path, Some("demo"))?;
//! let receipt = provider
//!     .send(
//!         SecureMessage::builder()
//!             .to("ada@example.com")
//!             .subject("Quarterly figures")
//!             .text("Attached.")
//!             .attach(Attachment::from_bytes("figures.csv", "q,total\n3,42\n"))
//!             .build()?,
//!     )
//!     .await?;
//! println!("sent {} via {}", receipt.message_id, provider.name());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

#[cfg(feature = "queue")]
pub mod queue;
mod registry;

use std::path::Path;

pub use securesend_core::*;

pub use registry::{ProviderInfo, connect, providers};

use securesend_core::config::{ConfigFile, ProfileConfig};

/// Finds the configuration and connects providers from it.
#[derive(Debug, Clone)]
pub struct Client {
    config: Option<ConfigFile>,
}

impl Client {
    /// Reads `path` and connects the profile `profile` (or the file's default).
    pub fn from_config_file(path: impl AsRef<Path>, profile: Option<&str>) -> Result<Provider> {
        Client {
            config: Some(ConfigFile::load(path)?),
        }
        .connect(profile)
    }

    /// Finds the configuration: `explicit` (a `--config` flag), else `SECURESEND_CONFIG`, else
    /// `securesend.toml` in the platform configuration directory, else none (the embedded
    /// default applies).
    pub fn discover(explicit: Option<&Path>) -> Result<Client> {
        Ok(Client {
            config: ConfigFile::discover(explicit)?,
        })
    }

    /// The configuration file found, if any.
    pub fn config(&self) -> Option<&ConfigFile> {
        self.config.as_ref()
    }

    /// The profile `name` (or the default). Without a configuration file, the embedded default
    /// profile (the `local` provider in `./securesend-data`).
    pub fn profile(&self, name: Option<&str>) -> Result<ProfileConfig> {
        match (&self.config, name) {
            (Some(c), _) => c.profile(name),
            (None, None) => Ok(ProfileConfig::embedded_default()),
            (None, Some(n)) => Err(Error::config(format!(
                "profile `{n}` was asked for but no configuration file was found; pass --config or set {}",
                config::CONFIG_ENV
            ))),
        }
    }

    /// Connects the profile `name` (or the default).
    pub fn connect(&self, name: Option<&str>) -> Result<Provider> {
        connect(&self.profile(name)?)
    }
}
