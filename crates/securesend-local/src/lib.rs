//! The `local` provider: a directory on this machine stands in for a file-transfer service.
//!
//! It needs no account, so it is what securesend uses when there is no configuration at all,
//! and it is the reference every conformance test runs against first.
//!
//! | role | what it does |
//! |---|---|
//! | send | writes `outbox/<id>/message.eml`, a standard RFC 5322 `multipart/mixed` message (attachments base64), and `receipt.json` beside it; the attachments are also stored under `sent/<id>/` |
//! | upload | stores the file's contents by SHA-256 and records it under `<folder>/<name>`, its id |
//! | download | streams the contents back; the stored SHA-256 is verified on save |
//! | browse | lists `<folder>` (ids are paths) and creates folders |
//!
//! Messages and files appear atomically (written aside, then renamed), so concurrent sends and
//! readers never see a partial file, and a failed send leaves nothing behind. Memory stays
//! bounded whatever the file size: bytes are streamed in blocks of 57 KiB.
//!
//! Options a directory cannot honour (expiry, passwords, links, download receipts, required
//! login) are declared unsupported and refused before anything is written.
//!
//! ```
//! use securesend_core::{Attachment, SecureMessage};
//! use securesend_local::{LocalConfig, LocalProvider};
//!
//! # #[tokio::main] async fn main() -> securesend_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let provider = LocalProvider::new(LocalConfig::new(dir.path())).into_provider();
//! let receipt = provider
//!     .send(
//!         SecureMessage::builder()
//!             .to("ada@example.com")
//!             .subject("Hello")
//!             .attach(Attachment::from_bytes("hello.txt", "hi"))
//!             .build()?,
//!     )
//!     .await?;
//! assert!(receipt.location.unwrap().ends_with("message.eml"));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod browse;
mod config;
mod download;
mod eml;
mod send;
mod store;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use securesend_core::config::ProfileConfig;
use securesend_core::{
    Address, Capabilities, Diagnostics, Download, DownloadRequest, Downloader, Error, Provider,
    RemoteFile, Result, SecureMailer, SecureMessage, SendReceipt, UploadRequest, Uploader,
    async_trait,
};

pub use config::LocalConfig;

/// The provider key.
pub const PROVIDER: &str = "local";

/// What the local provider can do.
pub fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    c.send = true;
    c.upload = true;
    c.download = true;
    c.choose_sender = true;
    c.cc = true;
    c.bcc = true;
    c.reply_to = true;
    c.html_body = true;
    c.attachments = true;
    c.attach_delivery = true;
    c.priority = true;
    c.empty_files = true;
    c.upload_to_folder = true;
    c.create_folders = true;
    c.overwrite = true;
    c.browse = true;
    // The message id is saved before the rename into the outbox, so a take-over finds out
    // from the outbox whether the dead attempt's rename happened.
    c.journal = true;
    c.reconcile = true;
    c
}

fn default_sender() -> Address {
    Address::new("securesend@localhost", Some("securesend")).expect("a valid built-in address")
}

/// The local provider.
#[derive(Clone, Debug)]
pub struct LocalProvider {
    root: PathBuf,
    config: LocalConfig,
    store: store::Store,
    capabilities: Capabilities,
}

impl LocalProvider {
    /// A provider keeping everything under `config.root` (created on first use).
    pub fn new(config: LocalConfig) -> Self {
        let mut capabilities = capabilities();
        capabilities.max_file_size = config.max_file_size;
        LocalProvider {
            root: config.root.clone(),
            store: store::Store::new(&config.root),
            config,
            capabilities,
        }
    }

    /// Builds the provider from a configuration profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<Self> {
        Ok(LocalProvider::new(LocalConfig::from_profile(profile)?))
    }

    /// Its capabilities (the defaults, with the configured size limit).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The directory everything is kept in.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// Wraps the provider in a [`Provider`] handle with every role.
    pub fn into_provider(self) -> Provider {
        let caps = self.capabilities.clone();
        let me = Arc::new(self);
        Provider::new(PROVIDER, caps)
            .with_mailer(me.clone())
            .with_uploader(me.clone())
            .with_downloader(me.clone())
            .with_browser(me.clone())
            .with_diagnostics(me)
    }
}

/// Connects the `local` provider of a profile.
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    Ok(LocalProvider::from_profile(profile)?.into_provider())
}

#[async_trait]
impl SecureMailer for LocalProvider {
    async fn send(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.capabilities.check_message(PROVIDER, &message)?;
        self.send_message(message).await
    }
}

#[async_trait]
impl Uploader for LocalProvider {
    async fn upload(&self, request: UploadRequest) -> Result<RemoteFile> {
        self.capabilities.check_upload(PROVIDER, &request)?;
        self.upload_file(request).await
    }
}

#[async_trait]
impl Downloader for LocalProvider {
    async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.capabilities.check_download(PROVIDER, &request)?;
        self.download_file(request).await
    }
}

#[async_trait]
impl Diagnostics for LocalProvider {
    async fn reach(&self) -> Result<String> {
        let root = &self.root;
        // The nearest existing ancestor decides whether the root can be created and written.
        let existing = root.ancestors().find(|p| p.exists()).unwrap_or(root);
        if !existing.is_dir() {
            return Err(Error::config(format!(
                "{} is not a directory; point `root` at a directory",
                existing.display()
            )));
        }
        tempfile::tempfile_in(existing)
            .map_err(|e| Error::config(format!("{} is not writable: {e}", existing.display())))?;
        Ok(if root.is_dir() {
            format!("{} exists and is writable", root.display())
        } else {
            format!("{} will be created on first use", root.display())
        })
    }

    async fn authenticate(&self) -> Result<String> {
        Ok("the local provider needs no credentials".to_owned())
    }
}
