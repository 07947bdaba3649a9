//! The `egroupware` provider: EGroupware's mail REST API for messages and WebDAV for files.
//!
//! | role | EGroupware request |
//! |---|---|
//! | send | each attachment `POST groupdav.php/mail/attachments/<name>` (raw streamed body → single-use token), then `POST groupdav.php/mail[/<ident_id>]` with to, cc, bcc, replyto, subject, body, bodyHtml, priority, attachments, attachmentType, sharePassword, shareExpiration |
//! | compose window | the same, to `POST groupdav.php/mail[/<ident_id>]/compose` |
//! | identities | `GET groupdav.php/mail` (`Accept: application/json`) |
//! | upload | `PUT webdav.php/home/<user>/<folder>/<name>` (streamed; `MKCOL` for missing folders when asked) |
//! | download | `GET webdav.php/<path>` (streamed; continued with `Range` after a broken connection) |
//! | list (`ls`) | `PROPFIND webdav.php/<folder>` with `Depth: 1` (one answer for the whole folder; pages are cut from it) |
//! | create folder (`mkdir`) | `MKCOL webdav.php/<home>/<path>`, level by level with parents (405 = exists) |
//!
//! Authentication is HTTP Basic with the password or an application password
//! (`token<id>_<16 chars>`). A send is posted exactly once: after a broken connection the
//! adapter checks whether EGroupware consumed the uploaded attachments (it deletes them only
//! after a successful send) instead of sending again. EGroupware returns no message id; the
//! receipt carries one securesend generates, sent along in the `X-Securesend-Message-Id`
//! header.
//!
//! ```no_run
//! use securesend_core::{Attachment, SecureMessage, SecretRef};
//! use securesend_egroupware::{EgroupwareConfig, EgroupwareProvider};
//!
//! # #[tokio::main] async fn main() -> securesend_core::Result<()> {
//! let config = EgroupwareConfig::new(
//!     "https://groupware.example.com/egroupware/",
//!     "ralf",
//!     SecretRef::Env("EGW_PASSWORD".into()),
//! );
//! let provider = EgroupwareProvider::new(config, std::path::Path::new("."))?.into_provider();
//! let receipt = provider
//!     .send(
//!         SecureMessage::builder()
//!             .to("ada@example.com")
//!             .subject("Contract")
//!             .attach(Attachment::from_path("contract.pdf"))
//!             .build()?,
//!     )
//!     .await?;
//! println!("{} {:?}", receipt.message_id, receipt.warnings);
//! # Ok(()) }
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
mod multistatus;
mod send;
mod stream;
mod token;
mod upload;
mod vfs;
mod webdav;

use std::path::Path;
use std::sync::Arc;

use securesend_core::config::{ProfileConfig, check_base_url};
use securesend_core::http::{Call, HttpClient, Repeat, read_error_body};
use securesend_core::{
    Capabilities, Composer, Diagnostics, Download, DownloadRequest, Downloader, Error, Provider,
    RemoteFile, Result, SecureMailer, SecureMessage, SendReceipt, UploadRequest, Uploader,
    async_trait,
};
use tokio::sync::OnceCell;

pub use api::Identity;
pub use auth::CredentialKind;
pub use client::MESSAGE_ID_HEADER;
pub use config::{
    DEFAULT_MAX_ATTACHMENT_NAME_BYTES, DEFAULT_MAX_ATTACHMENT_SIZE, DEFAULT_MAX_LISTING_BYTES,
    Edition, EgroupwareConfig, LongNames,
};
pub use send::{AttachmentType, MailOptions};
pub use vfs::VfsPath;

use auth::Credentials;
use client::Client;
use send::Mode;

/// The provider key.
pub const PROVIDER: &str = "egroupware";

/// What the provider can do on EGroupware's community edition (the default).
pub fn capabilities() -> Capabilities {
    capabilities_for(Edition::Community)
}

/// What the provider can do on `edition`: the EPL edition adds share passwords and expiry.
pub fn capabilities_for(edition: Edition) -> Capabilities {
    let mut c = Capabilities::default();
    c.send = true;
    c.upload = true;
    c.download = true;
    c.compose = true;
    c.choose_sender = true;
    c.cc = true;
    c.bcc = true;
    c.reply_to = true;
    c.html_body = true;
    c.attachments = true;
    c.attach_delivery = true;
    c.link_delivery = true;
    c.expiry = edition == Edition::Epl;
    c.password = edition == Edition::Epl;
    c.priority = true;
    // An empty attachment upload is answered "500 Error storing attachment".
    c.empty_files = false;
    c.resumable_download = true;
    c.upload_to_folder = true;
    c.browse = true;
    c.create_folders = true;
    c.overwrite = true;
    // EGroupware documents no lookup of a sent message, so a send whose attempt died after
    // its `POST /mail` is left in doubt.
    c.journal = true;
    c.reconcile = false;
    c
}

/// The EGroupware provider.
#[derive(Debug)]
pub struct EgroupwareProvider {
    client: Client,
    config: EgroupwareConfig,
    home: VfsPath,
    capabilities: Capabilities,
    identities: OnceCell<Option<Vec<Identity>>>,
    max_resumes: u32,
}

/// The EGroupware root: `base_url` without a trailing `groupdav.php` or `webdav.php`.
fn root_url(config: &EgroupwareConfig, at: &str) -> Result<url::Url> {
    let mut url = check_base_url(
        &format!("{at}.base_url"),
        &config.base_url,
        config.allow_insecure_http,
    )?;
    let path = url.path().trim_end_matches('/').to_owned();
    for endpoint in ["groupdav.php", "webdav.php"] {
        if let Some(root) = path.strip_suffix(endpoint) {
            url.set_path(root);
        }
    }
    Ok(url)
}

impl EgroupwareProvider {
    /// Builds the provider: checks the fields, resolves the secret (relative secret files from
    /// `base_dir`) and sets up the HTTP client. No request is made.
    pub fn new(config: EgroupwareConfig, base_dir: &Path) -> Result<Self> {
        Self::build(config, base_dir, "egroupware")
    }

    fn build(config: EgroupwareConfig, base_dir: &Path, at: &str) -> Result<Self> {
        config.check(at)?;
        let root = root_url(&config, at)?;
        let (secret_ref, kind, field) = match (&config.password, &config.app_password) {
            (Some(p), _) => (p, CredentialKind::Password, "password"),
            (None, Some(t)) => (t, CredentialKind::AppPassword, "app_password"),
            (None, None) => {
                return Err(Error::config(format!(
                    "`{at}` needs `password` or `app_password`"
                )));
            }
        };
        let field = format!("{at}.{field}");
        let secret = secret_ref.resolve(&field, base_dir)?;
        let creds = Credentials::new(config.username.clone(), secret, kind, &field)?;
        let home = match &config.webdav_home {
            Some(h) => VfsPath::new(h)
                .map_err(|e| Error::config(format!("`{at}.webdav_home`: {}", e.message())))?,
            None => VfsPath::root()
                .join("home")?
                .join(&config.username)
                .map_err(|e| {
                    Error::config(format!(
                        "`{at}.username` cannot name a home folder ({}); set `webdav_home`",
                        e.message()
                    ))
                })?,
        };
        let http = HttpClient::new(PROVIDER, &config.http, base_dir)?;
        let client = Client::new(http, creds, &root, config.user_prefix, config.no_location);
        Ok(EgroupwareProvider {
            client,
            home,
            capabilities: capabilities_for(config.edition),
            max_resumes: config.http.max_attempts.saturating_sub(1),
            identities: OnceCell::new(),
            config,
        })
    }

    /// Builds the provider from a configuration profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<Self> {
        let config: EgroupwareConfig = profile.parse()?;
        Self::build(
            config,
            profile.base_dir(),
            &format!("profiles.{}", profile.name()),
        )
    }

    /// Its capabilities (they depend on the configured edition).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// How the account authenticates.
    pub fn credential_kind(&self) -> CredentialKind {
        self.client.creds.kind
    }

    /// The folder uploads go below and relative ids start from.
    pub fn home(&self) -> &VfsPath {
        &self.home
    }

    /// The account's mail identities (`GET /mail`), read once and then kept; `None` when the
    /// server cannot list them (EGroupware before December 2023).
    pub async fn identities(&self) -> Result<Option<Vec<Identity>>> {
        self.identities
            .get_or_try_init(|| self.client.list_identities())
            .await
            .cloned()
    }

    /// Sends `message` with EGroupware's own options: VFS paths as attachments, share types,
    /// an identity by id.
    pub async fn send_with(
        &self,
        message: SecureMessage,
        options: &MailOptions,
    ) -> Result<SendReceipt> {
        self.capabilities.check_message(PROVIDER, &message)?;
        self.deliver(message, options, Mode::Send).await
    }

    /// Opens `message` in the user's EGroupware compose window (the user must be logged in to
    /// EGroupware in a browser), with EGroupware's own options.
    pub async fn compose_with(
        &self,
        message: SecureMessage,
        options: &MailOptions,
    ) -> Result<SendReceipt> {
        self.capabilities.check_compose(PROVIDER, &message)?;
        self.deliver(message, options, Mode::Compose).await
    }

    /// The metadata of the file an id names (WebDAV `HEAD`).
    pub async fn stat(&self, id: &str) -> Result<RemoteFile> {
        let path = VfsPath::from_id(id, &self.home)?;
        let meta = self.client.head(&path).await?.ok_or_else(|| {
            Error::new(
                securesend_core::ErrorKind::NotFound,
                format!("{path} does not exist"),
            )
            .with_provider(PROVIDER)
            .with_operation("stat")
        })?;
        let mut file = RemoteFile::new(PROVIDER, path.to_id(), path.name().unwrap_or_default());
        if let Some(s) = meta.size {
            file = file.with_size(s);
        }
        if let Some(t) = meta.content_type {
            file = file.with_content_type(t);
        }
        if let Some(m) = meta.modified {
            file = file.with_modified(m);
        }
        Ok(file)
    }

    /// Wraps the provider in a [`Provider`] handle with every role.
    pub fn into_provider(self) -> Provider {
        let caps = self.capabilities.clone();
        let me = Arc::new(self);
        Provider::new(PROVIDER, caps)
            .with_mailer(me.clone())
            .with_composer(me.clone())
            .with_uploader(me.clone())
            .with_downloader(me.clone())
            .with_browser(me.clone())
            .with_diagnostics(me)
    }
}

/// Connects the `egroupware` provider of a profile. No request is made.
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    Ok(EgroupwareProvider::from_profile(profile)?.into_provider())
}

#[async_trait]
impl SecureMailer for EgroupwareProvider {
    async fn send(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.send_with(message, &MailOptions::default()).await
    }
}

#[async_trait]
impl Composer for EgroupwareProvider {
    async fn compose(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.compose_with(message, &MailOptions::default()).await
    }
}

#[async_trait]
impl Uploader for EgroupwareProvider {
    async fn upload(&self, request: UploadRequest) -> Result<RemoteFile> {
        self.capabilities.check_upload(PROVIDER, &request)?;
        self.upload_file(request).await
    }
}

#[async_trait]
impl Downloader for EgroupwareProvider {
    async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.capabilities.check_download(PROVIDER, &request)?;
        self.download_file(request).await
    }
}

#[async_trait]
impl Diagnostics for EgroupwareProvider {
    async fn reach(&self) -> Result<String> {
        let url = self.client.identities_url();
        let resp = self
            .client
            .http
            .send(Call::api(Repeat::Safe), |c| {
                c.get(url.clone())
                    .header(http::header::ACCEPT, "application/json")
            })
            .await?;
        let status = resp.status();
        let realm = resp
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(auth::GROUPDAV_REALM));
        let _ = read_error_body(resp).await;
        if status == http::StatusCode::UNAUTHORIZED && realm {
            Ok(format!("EGroupware answered at {}", self.client_root()))
        } else {
            Err(Error::protocol(format!(
                "{} does not look like an EGroupware server: HTTP {status} without the login realm EGroupware's groupdav.php answers a call without credentials with; check base_url",
                self.client_root()
            ))
            .with_provider(PROVIDER)
            .with_status(status.as_u16()))
        }
    }

    async fn authenticate(&self) -> Result<String> {
        let user = &self.client.creds.username;
        let how = match self.client.creds.kind {
            CredentialKind::Password => "password",
            CredentialKind::AppPassword => "application password",
        };
        // A request of its own with the configured credentials, not the identities read
        // earlier by this provider: the answer is about the credentials as configured now.
        Ok(match self.client.list_identities().await? {
            Some(ids) if !ids.is_empty() => {
                let shown: Vec<String> = ids
                    .iter()
                    .map(|i| format!("{} {}", i.id, i.display))
                    .collect();
                format!(
                    "signed in as {user} ({how}); identities: {}",
                    shown.join("; ")
                )
            }
            Some(_) => format!(
                "signed in as {user} ({how}); EGroupware lists no mail identity (no IMAP account)"
            ),
            None => format!("signed in as {user} ({how}); this server cannot list identities"),
        })
    }
}

impl EgroupwareProvider {
    fn client_root(&self) -> String {
        securesend_core::http::redact_url(&self.client.identities_url())
    }
}
