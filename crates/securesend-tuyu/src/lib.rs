//! The `tuyu` provider: the Tuyu / FileGenius file-sharing API (`file_send`).
//!
//! Every request carries `api_key`, `timestamp` and an HMAC-SHA256 `signature` keyed with the
//! hex SHA-1 of the API secret ([`auth`](Signer)); a GET signs its full sorted URL, a write its
//! bare method URL.
//!
//! | role | calls |
//! |---|---|
//! | send | `users_location_access` + `file_list` (who is a site user, may we send to others) → `create_folder` (a folder per message) → `file_upload` per attachment → `send_files_prep` when two or more files go to three or more non-users → `file_send` once → `create_file_link` per file for link delivery |
//! | upload | `file_upload`, streamed as multipart, into `workspace_path` or the request's folder |
//! | download | `file_download`, streamed; the name from `Content-Disposition` or `File-Name`, sanitised |
//! | list (`ls`) | `file_list` (`sort_by=name_asc`), one service page (50 entries) per page; the cursor is the page number |
//! | create folder (`mkdir`) | `file_list` of the folder (does it exist?), then `create_folder` per missing level |
//! | doctor | an unsigned call (reach), then `file_list` of `workspace_path` (authenticate) |
//!
//! What maps to what in a message: recipients who are users of the site (by e-mail, from
//! `users_location_access`) go as `user_ids`, the others as `non_users`; subject and text as
//! `subject` and `message`; the expiry as `link_expiration` (1–15 days, or the profile's
//! `link_expiration_days`, where 0 = never); download receipts and required login as their
//! flags; a message whose recipients are all bcc as `bcc=1` where the site has it. Cc, reply-to,
//! HTML bodies, passwords, priorities and a chosen sender have no Tuyu counterpart and are
//! refused before any request, as is a message without files (`file_send` sends files).
//!
//! Rules the service enforces silently are checked first and reported as errors: non-users
//! with required login, non-users when the account may not send to them, files from several
//! workspaces. See `docs/providers/tuyu.md` for the unknowns and the choices made.
//!
//! ```
//! use securesend_core::config::{ProfileConfig, Table};
//!
//! let mut fields = Table::new();
//! fields.insert("base_url".into(), "https://acme.filetransfers.net".into());
//! fields.insert("api_key".into(), "demo_key_123".into());
//! fields.insert("api_secret".into(), "demo_secret_456".into());
//! fields.insert("workspace_path".into(), "/Designers_workspace/".into());
//! let provider = securesend_tuyu::connect(&ProfileConfig::new("work", "tuyu", fields, "."))?;
//! assert_eq!(provider.name(), "tuyu");
//! assert!(provider.capabilities().link_delivery && !provider.capabilities().cc);
//! # Ok::<(), securesend_core::Error>(())
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod browse;
mod client;
mod config;
mod download;
mod error;
#[doc(hidden)]
/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
pub mod fuzzing;
mod send;
mod upload;
mod xml;

use std::path::Path;
use std::sync::Arc;

use tracing::Instrument;

use securesend_core::config::ProfileConfig;
use securesend_core::{
    Capabilities, Diagnostics, Download, DownloadRequest, Downloader, Link, Provider, RemoteFile,
    Result, SecureMailer, SecureMessage, SendReceipt, UploadRequest, Uploader, async_trait,
};

pub use auth::{Encoding, HexCase, Signer, Space, Stamp, password_sha1, sign, signing_key};
pub use config::{
    ActAs, ClockConfig, Format, MAX_LINK_EXPIRATION_DAYS, SigningConfig, TuyuConfig, folder_path,
};
pub use send::message_id;
pub use upload::UploadOptions;

use client::TuyuClient;
use config::Resolved;

/// The provider key.
pub const PROVIDER: &str = "tuyu";

/// What Tuyu can do with the default configuration (no bcc, no size limit).
pub fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    c.send = true;
    c.upload = true;
    c.download = true;
    c.attachments = true;
    c.requires_attachments = true;
    c.link_delivery = true;
    c.expiry = true;
    c.max_expiry_days = Some(MAX_LINK_EXPIRATION_DAYS);
    c.download_receipt = true;
    c.require_login = true;
    c.empty_files = true;
    c.upload_to_folder = true;
    c.overwrite = true;
    c.browse = true;
    c.create_folders = true;
    // Tuyu documents no lookup of a sent message, so a send whose attempt died after its
    // `file_send` is left in doubt.
    c.journal = true;
    c.reconcile = false;
    c
}

/// The Tuyu provider.
#[derive(Debug)]
pub struct TuyuProvider {
    client: TuyuClient,
    settings: Resolved,
    capabilities: Capabilities,
}

impl TuyuProvider {
    /// A provider from its configuration; `base_dir` anchors relative secret and CA files. No
    /// request is made.
    pub fn new(config: TuyuConfig, base_dir: &Path) -> Result<Self> {
        let settings = config.resolve(base_dir)?;
        let client = TuyuClient::new(&settings)?;
        Ok(TuyuProvider::assemble(client, settings))
    }

    fn assemble(client: TuyuClient, settings: Resolved) -> Self {
        let mut capabilities = capabilities();
        capabilities.bcc = settings.config.bcc;
        capabilities.max_file_size = settings.config.max_file_size;
        TuyuProvider {
            client,
            settings,
            capabilities,
        }
    }

    /// Builds the provider from a configuration profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<Self> {
        TuyuProvider::new(TuyuConfig::from_profile(profile)?, profile.base_dir())
    }

    /// Its capabilities (bcc and size limit as configured).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Sends a message with files already on the site (from [`Uploader::upload`] or a listing)
    /// besides the message's own attachments. All files must be in one workspace.
    pub async fn send_existing(
        &self,
        message: SecureMessage,
        files: &[RemoteFile],
    ) -> Result<SendReceipt> {
        self.send_message(message, files).await
    }

    /// Uploads with Tuyu's own options (a comment, a `file_id_tag`).
    pub async fn upload_with(
        &self,
        request: UploadRequest,
        options: UploadOptions,
    ) -> Result<RemoteFile> {
        self.capabilities.check_upload(PROVIDER, &request)?;
        self.upload_file(request, &options).await
    }

    /// A public download link for a file (`create_file_link`); `days` is 1–15, 30, 60 or 90,
    /// or 0 for a link that never expires; `None` leaves the service's default (15).
    pub async fn create_link(&self, file_id: &str, days: Option<u32>) -> Result<Link> {
        self.file_link(file_id, days).await
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

/// Connects the `tuyu` provider of a profile.
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    Ok(TuyuProvider::from_profile(profile)?.into_provider())
}

#[async_trait]
impl SecureMailer for TuyuProvider {
    async fn send(&self, message: SecureMessage) -> Result<SendReceipt> {
        let span = tracing::debug_span!("tuyu_send", files = message.attachments().len());
        self.send_message(message, &[]).instrument(span).await
    }
}

#[async_trait]
impl Uploader for TuyuProvider {
    async fn upload(&self, request: UploadRequest) -> Result<RemoteFile> {
        self.capabilities.check_upload(PROVIDER, &request)?;
        self.upload_file(request, &UploadOptions::default()).await
    }
}

#[async_trait]
impl Downloader for TuyuProvider {
    async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.capabilities.check_download(PROVIDER, &request)?;
        self.download_file(request).await
    }
}

#[async_trait]
impl Diagnostics for TuyuProvider {
    async fn reach(&self) -> Result<String> {
        self.client.reach().await
    }

    async fn authenticate(&self) -> Result<String> {
        let path = &self.settings.workspace_path;
        let list = self.client.file_list(path, 1).await?;
        let flags: Vec<&str> = [
            ("uploadFiles", "upload"),
            ("sendFiles", "send"),
            ("sendFilesNonUser", "send to non-users"),
            ("downloadFiles", "download"),
        ]
        .iter()
        .filter(|(flag, _)| list.permission(flag) == Some(true))
        .map(|(_, label)| *label)
        .collect();
        let acting = if self.settings.auth_code.is_some() {
            "with the configured auth code".to_owned()
        } else if let Some((user, _)) = &self.settings.act_as {
            format!("acting for {user}")
        } else {
            "as the API key's account".to_owned()
        };
        Ok(format!(
            "signed requests accepted {acting}; {path} holds {} entries; allowed there: {}",
            list.total_files.unwrap_or(list.files.len() as u64),
            if flags.is_empty() {
                "not stated".to_owned()
            } else {
                flags.join(", ")
            }
        ))
    }
}
