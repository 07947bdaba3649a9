//! The `kiteworks` provider: Kiteworks (formerly Accellion) REST API, version 28.
//!
//! | role | Kiteworks calls |
//! |---|---|
//! | send | `POST /rest/mail/actions/sendFile` (draft) → per file `POST /rest/mail/{id}/actions/initiateUpload` + chunks → `PUT /rest/mail/{id}/actions/sendFile`; a failure before the send deletes the draft (`DELETE /rest/mail/{id}`) |
//! | upload | `GET /rest/search?path=` (and `POST /rest/folders/{id}/folders` for missing folders) → `POST /rest/folders/{id}/actions/initiateUpload` → chunks → `GET /rest/files/{id}` for the fingerprints |
//! | download | `GET /rest/files/{id}` → `GET /rest/files/{id}/content`, resumed with `Range` |
//! | login | authorization code with PKCE on a loopback redirect; the other grants sign in without a browser |
//! | browse | `GET /rest/folders/top`, `/rest/folders/{id}/folders` and `/files` paged with `offset`/`limit`; `POST /rest/folders/{parent}/folders` (see [`Browser`](securesend_core::Browser)) |
//!
//! What maps to what in a message:
//!
//! | securesend | Kiteworks |
//! |---|---|
//! | to / cc / bcc | `to` / `cc` / `bcc` |
//! | subject, text body | `subject`, `body` |
//! | attachments | files uploaded to the draft, their ids in `files` |
//! | files already on the service | [`MailOptions::file_ids`] → `files` |
//! | expiry | `expire` (a date) |
//! | require login | `acl = verify_recipient` (unless the profile's `acl` already requires sign-in) |
//! | download receipt | `returnReceipts` = the account's own address |
//! | link delivery | how Kiteworks always delivers (recipients get a secure link) |
//! | profile `acl`, `secure_body`, `self_copy`, `include_fingerprint` | `acl`, `secureBody`, `selfCopy`, `includeFingerprint` ([`MailOptions`] per message) |
//!
//! Not offered by the service, refused before any request: a chosen sender, reply-to, an HTML
//! body, attach delivery (files travel as links), a file password, priority.
//!
//! Chunks go strictly in order (`compressionMode=NORMAL`, sizes and `index` in each part), at
//! most the smaller of `max_chunk_size` and the service's `uploadChunkMax`; two chunks of a file
//! are in memory at most. An interrupted upload continues from the service's `uploadedChunks`:
//! within the run after a dropped connection, and in a later run with
//! [`UploadRequest::resume`](securesend_core::UploadRequest::resume) (the session is kept on
//! disk beside the token). SHA-256, SHA3-256 and MD5 are computed while streaming; the latter
//! two are compared with the service's fingerprints once it has computed them.
//!
//! ```no_run
//! use securesend_core::config::{ProfileConfig, Table};
//! use securesend_core::{Attachment, SecureMessage};
//!
//! # #[tokio::main] async fn main() -> securesend_core::Result<()> {
//! let mut fields = Table::new();
//! fields.insert("base_url".into(), "https://files.example.com".into());
//! fields.insert("client_id".into(), "a1b2c3".into());
//! fields.insert("client_secret".into(), toml::toml! { env = "KW_CLIENT_SECRET" }.into());
//! fields.insert("grant".into(), "password".into());
//! fields.insert("username".into(), "me@example.com".into());
//! fields.insert("password".into(), toml::toml! { env = "KW_PASSWORD" }.into());
//! let provider = securesend_kiteworks::connect(&ProfileConfig::new("work", "kiteworks", fields, "."))?;
//! let receipt = provider
//!     .send(
//!         SecureMessage::builder()
//!             .to("ada@example.com")
//!             .subject("Contract")
//!             .attach(Attachment::from_path("contract.pdf"))
//!             .build()?,
//!     )
//!     .await?;
//! println!("sent {}", receipt.message_id);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod browse;
mod checkpoint;
mod client;
mod config;
mod download;
mod error;
mod folders;
#[doc(hidden)]
/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
pub mod fuzzing;
mod login;
mod reconcile;
mod resume;
mod send;
mod token_store;
mod upload;

use std::sync::Arc;

use securesend_core::config::ProfileConfig;
use securesend_core::http::{HttpClient, RetryHook, TokenCache};
use securesend_core::{
    Capabilities, Diagnostics, Download, DownloadRequest, Downloader, Login, LoginPrompt, Provider,
    RemoteFile, Result, SecureMailer, SecureMessage, SendReceipt, UploadRequest, Uploader,
    async_trait,
};

pub use auth::signature_code;
pub use config::{
    Acl, ChunkEndpoint, DEFAULT_API_VERSION, DEFAULT_MAX_CHUNK_SIZE, Grant, JwtAlgorithm,
    KiteworksConfig, TimestampUnit,
};
pub use send::MailOptions;

use crate::auth::OAuth;
use crate::client::Api;
use crate::config::Settings;
use crate::resume::ResumeBook;
use crate::token_store::{StateDir, TokenStore};

/// The provider key.
pub const PROVIDER: &str = "kiteworks";

/// What Kiteworks can do (before a profile narrows the chunk size).
pub fn capabilities() -> Capabilities {
    let mut c = Capabilities::default();
    c.send = true;
    c.upload = true;
    c.download = true;
    c.login = true;
    c.cc = true;
    c.bcc = true;
    c.attachments = true;
    c.link_delivery = true;
    c.expiry = true;
    c.download_receipt = true;
    c.require_login = true;
    c.empty_files = true;
    c.max_chunk_size = Some(DEFAULT_MAX_CHUNK_SIZE);
    c.resumable_upload = true;
    c.resumable_download = true;
    c.upload_to_folder = true;
    c.create_folders = true;
    c.browse = true;
    c.overwrite = true;
    c.journal = true;
    c.reconcile = true;
    c
}

/// The Kiteworks provider of one profile. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KiteworksProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) api: Api,
    pub(crate) oauth: Arc<OAuth>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) capabilities: Capabilities,
    pub(crate) me: tokio::sync::OnceCell<api::Me>,
    pub(crate) chunk_max: tokio::sync::OnceCell<u64>,
    pub(crate) book: Option<ResumeBook>,
}

/// Lets the token cache own a shared handle on the OAuth client (login uses it too).
struct SharedSource(Arc<OAuth>);

#[async_trait]
impl securesend_core::http::TokenSource for SharedSource {
    async fn fetch(
        &self,
        current: Option<&securesend_core::http::Token>,
    ) -> Result<securesend_core::http::Token> {
        self.0.fetch(current).await
    }
}

impl KiteworksProvider {
    /// Builds the provider of a profile: checks every field and resolves the secrets. No
    /// request is made until the first operation.
    pub fn from_profile(profile: &ProfileConfig) -> Result<KiteworksProvider> {
        let config = KiteworksConfig::from_profile(profile)?;
        let settings = Arc::new(config.resolve(profile)?);
        let codes = settings.rate_limit_codes.clone();
        let http = HttpClient::new(PROVIDER, &settings.http, &settings.base_dir)?.with_retry_hook(
            RetryHook::new([403], move |a| {
                error::is_rate_limit_answer(a.status, a.body, &codes)
            }),
        );
        let state = settings.state_dir.clone().map(StateDir::new);
        if let Some(dir) = &state {
            // Before anything in it is read: open permissions are fixed (with a warning), and
            // a directory that cannot be made private is not used.
            dir.prepare().map_err(|e| {
                securesend_core::Error::config(format!(
                    "the state directory of profile `{}` cannot be used: {e}",
                    settings.profile
                ))
            })?;
        }
        let user = settings.user().to_owned();
        let store = state.clone().filter(|_| settings.token_cache).map(|dir| {
            TokenStore::new(
                dir,
                &[
                    settings.base.as_str(),
                    &settings.client_id,
                    settings.grant.as_str(),
                    &user,
                ],
                &settings.secrets(),
            )
        });
        let oauth = Arc::new(OAuth::new(http.clone(), settings.clone(), store)?);
        let mut tokens = TokenCache::new(SharedSource(oauth.clone()));
        if let Some(t) = oauth.restored() {
            tokens = tokens.with_token(t);
        }
        let mut capabilities = capabilities();
        capabilities.max_chunk_size = Some(settings.max_chunk_size);
        let book = state
            .map(|dir| ResumeBook::new(dir, &[settings.base.as_str(), &settings.client_id, &user]));
        Ok(KiteworksProvider {
            inner: Arc::new(Inner {
                api: Api {
                    http,
                    tokens: Arc::new(tokens),
                    settings: settings.clone(),
                },
                oauth,
                settings,
                capabilities,
                me: tokio::sync::OnceCell::new(),
                chunk_max: tokio::sync::OnceCell::new(),
                book,
            }),
        })
    }

    /// Its capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Sends `message` with Kiteworks-specific options: the access level, secure body, a
    /// copy to the sender, fingerprints in the notification, and files already on the service
    /// (by id) next to the attachments.
    pub async fn send_with(
        &self,
        message: SecureMessage,
        options: MailOptions,
    ) -> Result<SendReceipt> {
        self.inner.capabilities.check_message(PROVIDER, &message)?;
        self.inner.send_message(message, options).await
    }

    /// Wraps the provider in a [`Provider`] handle with every role.
    pub fn into_provider(self) -> Provider {
        let caps = self.inner.capabilities.clone();
        let me = Arc::new(self);
        Provider::new(PROVIDER, caps)
            .with_mailer(me.clone())
            .with_uploader(me.clone())
            .with_downloader(me.clone())
            .with_login(me.clone())
            .with_browser(me.clone())
            .with_diagnostics(me)
    }
}

/// Connects the `kiteworks` provider of a profile.
pub fn connect(profile: &ProfileConfig) -> Result<Provider> {
    Ok(KiteworksProvider::from_profile(profile)?.into_provider())
}

#[async_trait]
impl SecureMailer for KiteworksProvider {
    async fn send(&self, message: SecureMessage) -> Result<SendReceipt> {
        self.send_with(message, MailOptions::default()).await
    }
}

#[async_trait]
impl Uploader for KiteworksProvider {
    async fn upload(&self, request: UploadRequest) -> Result<RemoteFile> {
        self.inner.capabilities.check_upload(PROVIDER, &request)?;
        self.inner.upload_request(request).await
    }
}

#[async_trait]
impl Downloader for KiteworksProvider {
    async fn download(&self, request: DownloadRequest) -> Result<Download> {
        self.inner.capabilities.check_download(PROVIDER, &request)?;
        self.inner.download_file(request).await
    }
}

#[async_trait]
impl Login for KiteworksProvider {
    async fn login(&self, prompt: &dyn LoginPrompt) -> Result<String> {
        self.inner.login(prompt).await
    }
}

#[async_trait]
impl Diagnostics for KiteworksProvider {
    /// `GET /rest/users/me` without a token: ok only when the answer is Kiteworks' own (see
    /// `kiteworks_answer`), not on any HTTP answer.
    async fn reach(&self) -> Result<String> {
        let api = &self.inner.api;
        let s = &self.inner.settings;
        let url = api.rest(&["users", "me"]);
        let resp = api
            .http
            .send(
                securesend_core::http::Call::api(securesend_core::http::Repeat::Safe),
                |c| {
                    c.get(url.clone())
                        .header(client::VERSION_HEADER, &s.api_version)
                        .header(http::header::ACCEPT, "application/json")
                },
            )
            .await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // Capped: whatever answers here may not be Kiteworks at all.
        let body = securesend_core::http::read_error_body(resp).await;
        if let Some(how) = kiteworks_answer(status, &headers, &body) {
            return Ok(format!("{} is a Kiteworks server: {how}", s.base));
        }
        if status.is_server_error() {
            return Err(error::from_answer("reach", status, &headers, &body, &[]));
        }
        let redirect = if status.is_redirection() {
            " (it redirects elsewhere; give the address it redirects to)"
        } else {
            ""
        };
        Err(securesend_core::Error::config(format!(
            "{} does not look like a Kiteworks server: GET /rest/users/me answered HTTP {} without a Kiteworks error{redirect}; check `profiles.{}.base_url` (the appliance's address, without /rest)",
            s.base,
            status.as_u16(),
            s.profile
        ))
        .with_provider(PROVIDER)
        .with_operation("reach"))
    }

    /// Signs in with the configured credentials now: a token kept from an earlier run is not
    /// what is checked.
    async fn authenticate(&self) -> Result<String> {
        self.inner.sign_in_fresh().await
    }
}

/// How an answer to an unauthenticated `GET /rest/users/me` shows it came from Kiteworks, if it
/// does: the service's REST error shape (`{"errors":[{"code":"ERR_…"}]}`, a 401
/// `ERR_AUTH_UNAUTHORIZED` normally), or, since whether the service sends one is not known, a
/// 401 with a Bearer challenge, or the user the call returned (a proxy that signs in).
fn kiteworks_answer(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Option<String> {
    let parsed = error::parse_body(body);
    if let (false, Some(code)) = (parsed.oauth, parsed.code.as_deref()) {
        if code.starts_with("ERR_")
            && code.len() <= 64
            && code.bytes().all(|b| b.is_ascii_graphic())
        {
            return Some(if status.as_u16() == 401 {
                format!("it answered HTTP 401 {code} to a call without a token, as expected")
            } else {
                format!(
                    "it answered HTTP {} {code} to a call without a token",
                    status.as_u16()
                )
            });
        }
    }
    let bearer = headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer"));
    if status.as_u16() == 401 && bearer {
        return Some("it asked for a bearer token (HTTP 401), as expected".to_owned());
    }
    if status.is_success() {
        let me: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let is_user = me.as_ref().is_some_and(|v| {
            v.get("id").is_some() && (v.get("basedirId").is_some() || v.get("email").is_some())
        });
        if is_user {
            return Some("it answered with a Kiteworks user".to_owned());
        }
    }
    None
}

impl Inner {
    /// The signed-in user, asked once per provider instance.
    pub(crate) async fn me(&self) -> Result<&api::Me> {
        self.me.get_or_try_init(|| self.api.me()).await
    }
}
