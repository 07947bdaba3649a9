//! Configuration of the local provider.

use std::path::PathBuf;

use serde::Deserialize;

use securesend_core::config::ProfileConfig;
use securesend_core::{Address, Error, Result};

/// Fields of a `provider = "local"` profile.
///
/// ```toml
/// [profiles.demo]
/// provider = "local"
/// root = "./securesend-data"        # relative to the configuration file
/// from = "Me <me@example.com>"      # sender of stored messages (optional)
/// max_file_size = 1073741824        # bytes (optional)
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// Directory holding the outbox and the file store; created on first use.
    pub root: PathBuf,
    /// Sender written into stored messages that do not choose their own.
    #[serde(default)]
    pub from: Option<Address>,
    /// Largest file accepted, in bytes.
    #[serde(default)]
    pub max_file_size: Option<u64>,
}

impl LocalConfig {
    /// A configuration keeping everything under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalConfig {
            root: root.into(),
            from: None,
            max_file_size: None,
        }
    }

    /// Reads the fields of a profile; `root` is resolved against the configuration file.
    pub fn from_profile(profile: &ProfileConfig) -> Result<Self> {
        let mut config: LocalConfig = profile.parse()?;
        if config.root.as_os_str().is_empty() {
            return Err(Error::config(format!(
                "`profiles.{}.root` is empty; give a directory",
                profile.name()
            )));
        }
        let root = profile.resolve_path(&config.root);
        // Absolute, so receipts and messages name a place that stays valid.
        config.root = std::path::absolute(&root).map_err(|e| {
            Error::config(format!(
                "`profiles.{}.root`: {}: {e}",
                profile.name(),
                root.display()
            ))
        })?;
        Ok(config)
    }
}
