//! The `privasfer` provider: downloads from the [Privasfer](https://privasfer.com) download-link
//! API, and lists what there is to download.
//!
//! | securesend | Privasfer |
//! |---|---|
//! | authentication | the static API token as `Authorization: Bearer`, plus the account PIN for downloads |
//! | [`Downloader`] | PIN → `POST /api/keys` (temporary key, one hour) → download id (an inbox mail's, or `POST /api/downloads {files}`: single use, one minute) → `POST /api/downloads/{id}/keys {pinKey}` (public key) → the bytes from [`config::DEFAULT_DOWNLOAD_URL`] (**assumed**, configurable); the temporary key is revoked (`DELETE /api/keys/{key}`) when the download ends |
//! | [`Inbox`] | `GET /api/inbox?include=download,download.files` (`securesend inbox`) |
//! | [`Browser`](securesend_core::Browser) (`securesend ls`) | the folders `files` (`GET /api/files`), `inbox` (`GET /api/inbox`), `sent` and `sent/<mail id>` (`GET /api/mails[/<id>]`); read only: creating folders is refused before any request |
//! | provider-specific API | [`PrivasferProvider::inbox_mails`], [`PrivasferProvider::sent_mails`], [`PrivasferProvider::files`] |
//! | [`Diagnostics`] | reaches `GET /api/inbox`, then checks the token and the PIN |
//! | send, upload | **not available**: the service documents no upload or send request, so both are refused before any request ([`PrivasferProvider::send`](SecureMailer::send) says why) |
//!
//! Download ids are described at [`DownloadId`]: `file:<uuid>` for the account's own files,
//! `mail:<uuid>` for an inbox mail's files and `mail:<uuid>/<file uuid>` for the one file of
//! an inbox mail. A mail with several files arrives as one archive (the service serves a
//! download's files together), saved as `privasfer-<identifier>.zip`.
//!
//! What the documentation leaves open, and what this adapter does about it, is listed in
//! `docs/providers/privasfer.md`.
//!
//! ```no_run
//! use securesend_core::{DownloadRequest, InboxQuery};
//! use securesend_privasfer::{PrivasferConfig, PrivasferProvider};
//!
//! # #[tokio::main] async fn main() -> securesend_core::Result<()> {
//! let token = std::env::var("PRIVASFER_TOKEN").unwrap_or_default();
//! let pin = std::env::var("PRIVASFER_PIN").unwrap_or_default();
//! let privasfer = PrivasferProvider::new(PrivasferConfig::new("https://privasfer.com/api", token, pin)?)?;
//! let provider = privasfer.clone().into_provider();
//! for mail in provider.inbox(InboxQuery::all().with_keyword("contract")).await? {
//!     for file in &mail.files {
//!         let saved = provider.download(DownloadRequest::new(&file.id)).await?.save_to(".").await?;
//!         println!("{} → {}", file.id, saved.path.display());
//!     }
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod browse;
mod client;
pub mod config;
mod download;
mod error;
#[doc(hidden)]
/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
pub mod fuzzing;
mod list;

use std::sync::Arc;

use tracing::Instrument;

use securesend_core::config::ProfileConfig;
use securesend_core::http::Sleeper;
use securesend_core::{
    Capabilities, Diagnostics, Download, DownloadRequest, Downloader, Error, Inbox, InboxQuery,
    Provider, ReceivedMessage, RemoteFile, Result, SecureMailer, SecureMessage, SendReceipt,
    UploadRequest, Uploader, async_trait,
};

pub use config::{DownloadUrl, KeyPlacement, PrivasferConfig};
pub use download::DownloadId;
pub use list::{
    FILE_SORT_FIELDS, INBOX_SORT_FIELDS, InboxMail, ListQuery, Person, PrivasferFile,
    SENT_SORT_FIELDS, SentMail,
};

/// The provider key.
pub const PROVIDER: &str = "privasfer";

/// Why sending is refused.
const NO_SEND: &str = "privasfer cannot send messages: the Privasfer API documents no send request (its mail section covers only listing), so securesend does not guess one; send with another provider";
/// Why uploading is refused.
const NO_UPLOAD: &str = "privasfer cannot upload files: the Privasfer API documents no upload request, so securesend does not guess one; upload with another provider";

/// What the provider can do: download, list the inbox, and browse its files and mails (read
/// only). Everything else is off, because the service documents nothing else.
pub fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    c.download = true;
    c.inbox = true;
    c.browse = true;
    c
}

/// The Privasfer provider. Cheap to clone; clones share the HTTP connections and the
/// temporary key.
#[derive(Clone, Debug)]
pub struct PrivasferProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PrivasferConfig,
    api: client::Api,
    keys: Arc<auth::Keys>,
    capabilities: Capabilities,
    sleeper: Sleeper,
}

impl PrivasferProvider {
    /// A provider for `config`. No request is made.
    pub fn new(config: PrivasferConfig) -> Result<PrivasferProvider> {
        PrivasferProvider::with_sleeper(config, Sleeper::default())
    }

    /// Like [`PrivasferProvider::new`], with `sleeper` doing every wait between attempts (a
    /// test or simulator records them instead of sleeping).
    pub fn with_sleeper(config: PrivasferConfig, sleeper: Sleeper) -> Result<PrivasferProvider> {
        let api =
            client::Api::new(&config, sleeper.clone()).map_err(|e| e.or_provider(PROVIDER))?;
        let keys = auth::Keys::new(
            api.clone(),
            config.pin().clone(),
            config.reuse_temporary_key(),
        );
        Ok(PrivasferProvider {
            inner: Arc::new(Inner {
                config,
                api,
                keys,
                capabilities: capabilities(),
                sleeper,
            }),
        })
    }

    /// Builds the provider from a configuration profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<PrivasferProvider> {
        PrivasferProvider::new(PrivasferConfig::from_profile(profile)?)
    }

    /// Its capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Its configuration.
    pub fn config(&self) -> &PrivasferConfig {
        &self.inner.config
    }

    /// Revokes the temporary key kept by `reuse_temporary_key` (now, or when the downloads
    /// still using it end). Without that option keys are revoked after each download anyway.
    pub async fn close(&self) -> Result<()> {
        self.inner
            .keys
            .close()
            .await
            .map_err(|e| e.or_provider(PROVIDER).or_operation("close"))
    }

    /// Wraps the provider in a [`Provider`] handle with the download, inbox, browse and
    /// doctor roles.
    pub fn into_provider(self) -> Provider {
        let caps = self.inner.capabilities.clone();
        let me = Arc::new(self);
        Provider::new(PROVIDER, caps)
            .with_downloader(me.clone())
            .with_inbox(me.clone())
            .with_browser(me.clone())
            .with_diagnostics(me)
    }
}

/// Connects the `privasfer` provider of a profile (no request is made).
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    Ok(PrivasferProvider::from_profile(profile)?.into_provider())
}

#[async_trait]
impl Downloader for PrivasferProvider {
    async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.inner.capabilities.check_download(PROVIDER, &request)?;
        let span = tracing::info_span!("privasfer_download", id = %request.id());
        self.download_file(request).instrument(span).await
    }
}

#[async_trait]
impl Inbox for PrivasferProvider {
    async fn inbox(&self, query: InboxQuery) -> Result<Vec<ReceivedMessage>> {
        self.received(query)
            .instrument(tracing::info_span!("privasfer_inbox"))
            .await
            .map_err(|e| e.or_provider(PROVIDER).or_operation("inbox"))
    }
}

/// Refuses before any request, saying why: the service documents no send request.
#[async_trait]
impl SecureMailer for PrivasferProvider {
    async fn send(&self, _message: SecureMessage) -> Result<SendReceipt> {
        // Nothing is ever requested, so nothing can have been sent: a clean `not_sent`.
        Err(Error::unsupported(NO_SEND)
            .with_provider(PROVIDER)
            .with_operation("send")
            .not_sent())
    }
}

/// Refuses before any request, saying why: the service documents no upload request.
#[async_trait]
impl Uploader for PrivasferProvider {
    async fn upload(&self, _request: UploadRequest) -> Result<RemoteFile> {
        Err(Error::unsupported(NO_UPLOAD)
            .with_provider(PROVIDER)
            .with_operation("upload"))
    }
}

#[async_trait]
impl Diagnostics for PrivasferProvider {
    /// Ok only when the answer looks like Privasfer's API: a call without a token is refused
    /// with 401 and Laravel's JSON `{"message": "Unauthenticated."}`. Any other answer (a web
    /// page, another API, a redirect to a login page) means `base_url` is wrong.
    async fn reach(&self) -> Result<String> {
        let (status, body) = self.inner.api.probe().await?;
        let base = self.inner.api.base();
        let refused_like_privasfer = status.as_u16() == 401
            && serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .is_some_and(|m| {
                    m.trim_end_matches('.')
                        .eq_ignore_ascii_case("unauthenticated")
                });
        if refused_like_privasfer {
            return Ok(format!(
                "the Privasfer API answers at {base} (401 without a token, as expected)"
            ));
        }
        let why = match status.as_u16() {
            s @ 300..=399 => {
                format!("it redirected ({s}); is `base_url` the API (ending in /api)?")
            }
            s => format!(
                "HTTP {s}, not the 401 JSON answer Privasfer gives a call without a token; check base_url"
            ),
        };
        Err(Error::protocol(format!(
            "{base} does not look like a Privasfer server: {why}"
        ))
        .with_provider(PROVIDER)
        .with_operation("reach")
        .with_status(status.as_u16()))
    }

    /// Checks the token and the PIN with requests of their own (an inbox read, a temporary
    /// key made and revoked at once), never a key held from an earlier use.
    async fn authenticate(&self) -> Result<String> {
        self.inner
            .api
            .inbox(&[("keyword", "securesend-doctor".to_owned())])
            .await?;
        // The PIN matters only for downloads; checking it here saves a surprise later.
        self.inner.keys.check_pin().await?;
        Ok("the API token and the PIN were accepted".to_owned())
    }
}
