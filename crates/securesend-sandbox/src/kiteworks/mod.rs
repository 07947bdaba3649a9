//! The emulated Kiteworks (REST API v28 and its OAuth server), as strict as the fact sheet
//! allows.
//!
//! | area | routes | strictness |
//! |---|---|---|
//! | OAuth | `GET /oauth/authorize`, `POST /oauth/token` (authorization code + PKCE, refresh, signature, password, JWT bearer) | client credentials in the form; codes single use; PKCE S256 checked; signature codes verified exactly (HMAC-SHA1, 1-hour window, no replay); JWT signature (RS256/RS512) against the configured public key, `iss`/`aud`/`sub`/`exp`/`nbf`/`iat`/`jti` checked; refresh tokens single use |
//! | every REST call | `/rest/**` | `X-Accellion-Version` required (400 otherwise), bearer token required (401 `ERR_AUTH_UNAUTHORIZED`), rate limit answered with a bare 403 |
//! | folders | `GET /rest/users/me`, `GET /rest/search?path=`, `GET/POST /rest/folders/{id}/folders`, `GET /rest/folders/{id}/files`, `GET /rest/folders/{id}`, `GET /rest/folders/top` | unknown ids 403 `ERR_ACCESS_USER`; duplicate names 409 `ERR_ENTITY_EXISTS`; invalid names 422 |
//! | uploads | `POST /rest/{folders,mail}/{id}/actions/initiateUpload`, chunks to `POST /kwupload1/rest/uploads/{id}` and `POST /rest/uploads/{id}`, `GET/DELETE /rest/uploads/{id}`, `GET /rest/uploads`, `GET /rest/uploads/config` | chunk index = uploaded + 1; `NORMAL` sizes equal the part; part ≤ `uploadChunkMax`; the total must match; the last chunk completes the upload (201, entity or location header) |
//! | files | `GET /rest/files/{id}`, `GET /rest/files/{id}/content` (Range), `DELETE /rest/files/{id}` | fingerprints (`sha3-256`, `md5`) appear after a configurable delay |
//! | mail | `POST /rest/mail/actions/sendFile`, `PUT /rest/mail/{id}/actions/sendFile`, `GET/DELETE /rest/mail/{id}` | drafts and sent mail; a sent mail cannot be deleted or sent again; only the sender's files attach; each delivered mail goes to the [`Outbox`](crate::Outbox) under the mail id |
//!
//! Requests are accepted the way the official Python samples send them: JSON or form bodies,
//! loose booleans (`"true"`, `0`), and chunks posted to both the returned `uri` and
//! `/rest/uploads/{id}`.

// Checks return the service's refusal as the error: it is built once per refused request, so
// boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod files;
mod mailbox;
mod oauth;
mod state;
mod uploads;
mod wire;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use http::header;

use crate::error::SandboxError;
use crate::journal::RequestSeq;
use crate::ratelimit::{self, RateLimit, RatePolicy};
use crate::service::{Mount, SeededItem, Service, ServiceContext};
use crate::tokens::random_token;

pub use oauth::public_key_der;

/// The private half of the built-in JWT test key pair (RSA 2048, PKCS#8 PEM). **Test only**:
/// it is public, in this repository, so it proves nothing outside a sandbox.
pub const TEST_JWT_PRIVATE_KEY_PEM: &str = include_str!("testdata/jwt-test-key.pem");
/// The public half of the built-in JWT test key pair (SPKI PEM), which the sandbox verifies
/// assertions with unless [`KiteworksOptions::jwt_public_key_pem`] names another.
pub const TEST_JWT_PUBLIC_KEY_PEM: &str = include_str!("testdata/jwt-test-key.pub.pem");

/// How many request bodies are kept for [`KiteworksInspector::request_body`], and how many
/// bytes (as JSON) in all; the oldest go first, so a long-running sandbox does not grow
/// without bound (10,000 bodies of up to 1 MiB each would be 10 GiB).
const KEPT_BODIES: usize = 10_000;
const KEPT_BODY_BYTES: usize = 64 << 20;

/// The request bodies kept, by journal sequence number, with their sizes.
#[derive(Debug)]
struct Bodies {
    kept: BTreeMap<u64, (serde_json::Value, usize)>,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
}

impl Bodies {
    fn new(max_count: usize, max_bytes: usize) -> Bodies {
        Bodies {
            kept: BTreeMap::new(),
            bytes: 0,
            max_count,
            max_bytes,
        }
    }

    /// Keeps `body`, dropping the oldest until both caps hold (a body over the byte cap on
    /// its own is not kept at all, and drops nothing).
    fn insert(&mut self, seq: u64, body: serde_json::Value) {
        let size = serde_json::to_vec(&body).map_or(0, |v| v.len());
        if let Some((_, old)) = self.kept.remove(&seq) {
            self.bytes -= old;
        }
        if size > self.max_bytes {
            return;
        }
        self.kept.insert(seq, (body, size));
        self.bytes += size;
        while self.kept.len() > self.max_count || self.bytes > self.max_bytes {
            match self.kept.pop_first() {
                Some((_, (_, n))) => self.bytes -= n,
                None => break,
            }
        }
    }

    fn get(&self, seq: u64) -> Option<&serde_json::Value> {
        self.kept.get(&seq).map(|(v, _)| v)
    }
}

/// The longest mail `body` accepted, in bytes: 64 KiB. The service's limit is undocumented;
/// this is the defensive one the Kiteworks adapter refuses bodies past, answered as the
/// service answers a value over its maximum (422 `ERR_INPUT_EXCEEDS_MAX_VALUE`).
pub const MAX_MAIL_BODY_BYTES: usize = 64 << 10;

/// The service's documented default `uploadChunkMax`: 10 MiB.
pub const DEFAULT_CHUNK_MAX: u64 = 10 << 20;

/// Which header names created objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LocationHeader {
    /// `X-Accellion-Location` (older documentation, most servers).
    #[default]
    Accellion,
    /// `X-Kiteworks-Location` (newer documentation).
    Kiteworks,
}

impl LocationHeader {
    fn name(self) -> &'static str {
        match self {
            LocationHeader::Accellion => "X-Accellion-Location",
            LocationHeader::Kiteworks => "X-Kiteworks-Location",
        }
    }
}

/// The OAuth flows enabled on the emulated custom application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Authorization code (with or without PKCE).
    AuthorizationCode,
    /// Refresh token.
    RefreshToken,
    /// Signature authorization.
    Signature,
    /// User credentials (password).
    Password,
    /// JWT bearer assertion.
    Jwt,
}

/// How the emulated Kiteworks is set up. Credentials are random per sandbox unless set.
#[derive(Clone)]
pub struct KiteworksOptions {
    /// The custom application's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The one user's e-mail address (user name of the password grant, `user` of the
    /// signature and JWT grants).
    pub user_email: String,
    /// The user's password.
    pub password: String,
    /// The application's signature key.
    pub signature_key: String,
    /// Public key (PEM, SPKI or PKCS#1) JWT assertions are verified with.
    pub jwt_public_key_pem: String,
    /// Expected `iss`; defaults to the client id.
    pub jwt_issuer: Option<String>,
    /// Expected `aud`; defaults to the base URL.
    pub jwt_audience: Option<String>,
    /// Redirect URIs must start with this.
    pub redirect_uri_prefix: String,
    /// The flows enabled on the application.
    pub flows: HashSet<Flow>,
    /// Whether token answers carry a refresh token (not for JWT, whose refresh is unknown).
    pub refresh_tokens: bool,
    /// Refuse every authorization request (the user clicks "deny").
    pub deny_authorization: bool,
    /// The only `X-Accellion-Version` accepted.
    pub api_version: u32,
    /// Also accept `X-Kiteworks-Version` as the version header.
    pub accept_kiteworks_version_header: bool,
    /// How long after an upload its fingerprints appear (sandbox clock).
    pub fingerprint_delay: Duration,
    /// The header naming created objects.
    pub location_header: LocationHeader,
    /// Send entities of created objects when asked (`returnEntity=true`); `false` emulates a
    /// server that answers only with the location header.
    pub return_entities: bool,
    /// Signature codes are in milliseconds rather than seconds.
    pub signature_timestamp_millis: bool,
}

impl fmt::Debug for KiteworksOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteworksOptions")
            .field("client_id", &self.client_id)
            .field("user_email", &self.user_email)
            .field("flows", &self.flows)
            .field("api_version", &self.api_version)
            .field("fingerprint_delay", &self.fingerprint_delay)
            .field("location_header", &self.location_header)
            .field("return_entities", &self.return_entities)
            .finish_non_exhaustive()
    }
}

impl Default for KiteworksOptions {
    fn default() -> Self {
        use crate::tokens::TokenFormat;
        KiteworksOptions {
            client_id: "securesend-sandbox".into(),
            client_secret: random_token(TokenFormat::Hex { bytes: 16 }),
            user_email: "sandbox.user@example.com".into(),
            password: random_token(TokenFormat::Alphanumeric { len: 20 }),
            signature_key: random_token(TokenFormat::Hex { bytes: 16 }),
            jwt_public_key_pem: TEST_JWT_PUBLIC_KEY_PEM.into(),
            jwt_issuer: None,
            jwt_audience: None,
            redirect_uri_prefix: "http://127.0.0.1".into(),
            flows: [
                Flow::AuthorizationCode,
                Flow::RefreshToken,
                Flow::Signature,
                Flow::Password,
                Flow::Jwt,
            ]
            .into_iter()
            .collect(),
            refresh_tokens: true,
            deny_authorization: false,
            api_version: 28,
            accept_kiteworks_version_header: false,
            fingerprint_delay: Duration::from_millis(300),
            location_header: LocationHeader::Accellion,
            return_entities: true,
            signature_timestamp_millis: false,
        }
    }
}

/// The Kiteworks service module.
#[derive(Debug, Default)]
pub struct KiteworksService {
    options: KiteworksOptions,
    mounted: Arc<OnceLock<Kw>>,
}

impl KiteworksService {
    /// A module with these options.
    pub fn new(options: KiteworksOptions) -> KiteworksService {
        KiteworksService {
            options,
            mounted: Arc::default(),
        }
    }

    /// A handle to look inside the service once it is mounted (tests).
    pub fn inspector(&self) -> KiteworksInspector {
        KiteworksInspector {
            mounted: self.mounted.clone(),
        }
    }
}

/// The shared state of a mounted service.
#[derive(Clone)]
pub(crate) struct Kw {
    inner: Arc<KwInner>,
}

impl fmt::Debug for Kw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kw(..)")
    }
}

struct KwInner {
    ctx: ServiceContext,
    options: KiteworksOptions,
    public_key: Vec<u8>,
    user: state::User,
    data: Mutex<state::Data>,
    oauth: Mutex<oauth::OAuthState>,
    fingerprint_delay: Mutex<Duration>,
    corrupt_fingerprints: Mutex<bool>,
    /// Mail entities give `variables` as strings, the v28 specification's shape.
    string_variables: Mutex<bool>,
    /// The fields of each request body read, by journal sequence number.
    bodies: Mutex<Bodies>,
}

impl Kw {
    pub(crate) fn ctx(&self) -> &ServiceContext {
        &self.inner.ctx
    }
    pub(crate) fn options(&self) -> &KiteworksOptions {
        &self.inner.options
    }
    pub(crate) fn user(&self) -> &state::User {
        &self.inner.user
    }
    pub(crate) fn data(&self) -> MutexGuard<'_, state::Data> {
        // Plain data, never left half-updated across a panic.
        self.inner.data.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn oauth(&self) -> MutexGuard<'_, oauth::OAuthState> {
        self.inner.oauth.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn public_key(&self) -> &[u8] {
        &self.inner.public_key
    }
    pub(crate) fn chunk_max(&self) -> u64 {
        self.ctx().chunk_max_or(DEFAULT_CHUNK_MAX)
    }
    pub(crate) fn location_header(&self) -> &'static str {
        self.options().location_header.name()
    }
    pub(crate) fn now(&self) -> SystemTime {
        self.ctx().clock().now()
    }
    pub(crate) fn fingerprint_delay(&self) -> Duration {
        *self
            .inner
            .fingerprint_delay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn corrupt_fingerprints(&self) -> bool {
        *self
            .inner
            .corrupt_fingerprints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn string_variables(&self) -> bool {
        *self
            .inner
            .string_variables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
    /// Keeps the fields a request sent (chunk content left out), for tests that check what the
    /// client sends against the service's schema.
    pub(crate) fn record_body(
        &self,
        seq: RequestSeq,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) {
        let mut bodies = self.inner.bodies.lock().unwrap_or_else(|e| e.into_inner());
        bodies.insert(seq.0, serde_json::Value::Object(fields.clone()));
    }
    /// `{base}/rest/{path}`, for location headers.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/rest/{path}", self.ctx().base_url())
    }
}

/// Looks inside a mounted Kiteworks service (tests).
#[derive(Clone, Debug)]
pub struct KiteworksInspector {
    mounted: Arc<OnceLock<Kw>>,
}

impl KiteworksInspector {
    fn kw(&self) -> &Kw {
        self.mounted
            .get()
            .expect("the Kiteworks service is mounted (start the sandbox first)")
    }

    /// Ids of mails that are still drafts.
    pub fn drafts(&self) -> Vec<String> {
        self.kw()
            .data()
            .mails
            .values()
            .filter(|m| m.status == state::MailStatus::Draft)
            .map(|m| m.id.clone())
            .collect()
    }

    /// How many mails exist (drafts and sent).
    pub fn mail_count(&self) -> usize {
        self.kw().data().mails.len()
    }

    /// How many upload sessions are open.
    pub fn open_uploads(&self) -> usize {
        self.kw().data().uploads.len()
    }

    /// `(uploaded chunks, total chunks)` of an open upload session.
    pub fn upload_progress(&self, id: u64) -> Option<(u64, u64)> {
        self.kw()
            .data()
            .uploads
            .get(&id)
            .map(|u| (u.uploaded_chunks, u.total_chunks))
    }

    /// The store id and name of a live file by its Kiteworks id.
    pub fn file(&self, id: &str) -> Option<(String, String)> {
        self.kw()
            .data()
            .files
            .get(id)
            .filter(|f| !f.deleted)
            .map(|f| (f.stored.id.clone(), f.name.clone()))
    }

    /// Live files in the folder at `path` (from the root, `My Folder/a`), as (id, name, size).
    pub fn files_in(&self, path: &str) -> Vec<(String, String, u64)> {
        let kw = self.kw();
        let data = kw.data();
        let Some(folder) = data.folder_at(path, &kw.user().basedir_id) else {
            return Vec::new();
        };
        let id = folder.id.clone();
        data.files
            .values()
            .filter(|f| !f.deleted && f.folder_id.as_deref() == Some(&id))
            .map(|f| (f.id.clone(), f.name.clone(), f.stored.size))
            .collect()
    }

    /// Whether a folder exists at `path`.
    pub fn folder_exists(&self, path: &str) -> bool {
        let kw = self.kw();
        let data = kw.data();
        data.folder_at(path, &kw.user().basedir_id).is_some()
    }

    /// Changes how long fingerprints take to appear.
    pub fn set_fingerprint_delay(&self, delay: Duration) {
        *self
            .kw()
            .inner
            .fingerprint_delay
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// Makes the service report wrong fingerprints for files uploaded from now on.
    pub fn corrupt_fingerprints(&self, on: bool) {
        *self
            .kw()
            .inner
            .corrupt_fingerprints
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = on;
    }

    /// Makes mail entities give `variables` as an array of strings, the shape the v28
    /// specification's `Email` schema declares (servers send `{variable, value}` objects), to
    /// check that a client reads such an answer to a send without failing.
    pub fn string_variables(&self, on: bool) {
        *self
            .kw()
            .inner
            .string_variables
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = on;
    }

    /// The fields of the body of request `seq` (its journal sequence number) as the service
    /// read them: JSON or form fields, or a chunk's form fields with `content` standing for the
    /// bytes (`"<N bytes>"`). `None` for requests whose body the service did not read as fields.
    pub fn request_body(&self, seq: u64) -> Option<serde_json::Value> {
        self.kw()
            .inner
            .bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(seq)
            .cloned()
    }

    /// The user's e-mail address.
    pub fn user_email(&self) -> String {
        self.kw().user().email.clone()
    }
}

/// The service's refusal when its rate limit is exceeded: a bare 403, as documented.
#[derive(Clone)]
struct Forbidden;

impl RatePolicy for Forbidden {
    fn limited(&self, _limit: u32, _retry_after: Duration) -> Response {
        Response::builder()
            .status(403)
            .header(header::CONTENT_TYPE, "text/html")
            .body(axum::body::Body::from(
                "<html><body><h1>403 Forbidden</h1></body></html>",
            ))
            .unwrap_or_default()
    }
}

/// Version header, then bearer token, for every REST call.
async fn rest_guard(State(kw): State<Kw>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let version = headers.get("x-accellion-version").or_else(|| {
        kw.options()
            .accept_kiteworks_version_header
            .then(|| headers.get("x-kiteworks-version"))
            .flatten()
    });
    let wanted = kw.options().api_version.to_string();
    match version.and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(v) if v == wanted => {}
        Some(_) => {
            return wire::error(
                400,
                "ERR_INVALID_PARAMETER",
                &format!("Unsupported API version; this server speaks version {wanted}"),
            );
        }
        None => {
            return wire::error(
                400,
                "ERR_INVALID_PARAMETER",
                "The X-Accellion-Version header is required",
            );
        }
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    match kw.ctx().tokens().validate("access", &bearer) {
        Ok(info) if info.subject == kw.user().email => {
            req.extensions_mut().insert(info);
            next.run(req).await
        }
        _ => wire::error(401, "ERR_AUTH_UNAUTHORIZED", "Unauthorized"),
    }
}

#[crate::async_trait]
impl Service for KiteworksService {
    fn key(&self) -> &'static str {
        "kiteworks"
    }

    fn description(&self) -> &'static str {
        "Kiteworks REST API v28: OAuth (five grants), chunked uploads, mail, downloads"
    }

    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
        let options = self.options.clone();
        let public_key = public_key_der(&options.jwt_public_key_pem).map_err(|e| {
            SandboxError::Options(format!("kiteworks: the JWT public key is not usable: {e}"))
        })?;
        let now = ctx.clock().now();
        let user = state::User {
            id: uuid::Uuid::new_v4().to_string(),
            email: options.user_email.clone(),
            name: "Sandbox User".into(),
            basedir_id: uuid::Uuid::new_v4().to_string(),
            mydir_id: uuid::Uuid::new_v4().to_string(),
        };
        let mut data = state::Data {
            next_upload: 1,
            ..state::Data::default()
        };
        data.folders.insert(
            user.basedir_id.clone(),
            state::Folder {
                id: user.basedir_id.clone(),
                parent_id: String::new(),
                name: String::new(),
                created: now,
                deleted: false,
            },
        );
        data.folders.insert(
            user.mydir_id.clone(),
            state::Folder {
                id: user.mydir_id.clone(),
                parent_id: user.basedir_id.clone(),
                name: "My Folder".into(),
                created: now,
                deleted: false,
            },
        );
        let kw = Kw {
            inner: Arc::new(KwInner {
                fingerprint_delay: Mutex::new(options.fingerprint_delay),
                corrupt_fingerprints: Mutex::new(false),
                string_variables: Mutex::new(false),
                bodies: Mutex::new(Bodies::new(KEPT_BODIES, KEPT_BODY_BYTES)),
                ctx: ctx.clone(),
                options: options.clone(),
                public_key,
                user: user.clone(),
                data: Mutex::new(data),
                oauth: Mutex::new(oauth::OAuthState::default()),
            }),
        };
        let welcome = files::seed_file(
            &kw,
            &user.mydir_id,
            "welcome.txt",
            "Welcome to the Kiteworks sandbox.\n",
        )
        .await?;
        let _ = self.mounted.set(kw.clone());

        // Chunks are checked part by part against uploadChunkMax; the body as a whole only needs
        // room for the form fields around the content.
        let chunk_body = axum::extract::DefaultBodyLimit::max(
            usize::try_from(kw.chunk_max())
                .unwrap_or(usize::MAX)
                .saturating_mul(4)
                / 3
                + (64 << 10),
        );
        let rest = Router::new()
            .route("/rest/users/me", get(files::me))
            .route("/rest/search", get(files::search))
            .route("/rest/folders/top", get(files::top_folders))
            .route("/rest/folders/{id}", get(files::folder))
            .route(
                "/rest/folders/{id}/folders",
                get(files::child_folders).post(files::create_folder),
            )
            .route("/rest/folders/{id}/files", get(files::folder_files))
            .route(
                "/rest/folders/{id}/actions/initiateUpload",
                post(uploads::initiate_folder),
            )
            .route(
                "/rest/mail/{id}/actions/initiateUpload",
                post(uploads::initiate_mail),
            )
            .route("/rest/uploads", get(uploads::list))
            .route("/rest/uploads/config", get(uploads::config))
            .route(
                "/rest/uploads/{id}",
                get(uploads::status)
                    .delete(uploads::discard)
                    .merge(post(uploads::chunk).layer(chunk_body)),
            )
            .route(
                &format!("/{}/rest/uploads/{{id}}", state::UPLOAD_HOST),
                post(uploads::chunk).layer(chunk_body),
            )
            .route(
                "/rest/files/{id}",
                get(files::file).delete(files::delete_file),
            )
            .route("/rest/files/{id}/content", get(files::content))
            .route("/rest/mail/actions/sendFile", post(mailbox::create))
            .route(
                "/rest/mail/{id}/actions/sendFile",
                axum::routing::put(mailbox::send_draft),
            )
            .route(
                "/rest/mail/{id}",
                get(mailbox::get_mail).delete(mailbox::delete_mail),
            )
            .layer(axum::middleware::from_fn_with_state(kw.clone(), rest_guard))
            .with_state(kw.clone());
        let oauth = Router::new()
            .route("/oauth/authorize", get(oauth::authorize))
            .route("/oauth/token", post(oauth::token))
            .with_state(kw.clone());
        let mut router = rest.merge(oauth);
        // Documented: 30 requests per second per address plus a queue of 40.
        if let Some(limiter) = ctx.rate_limiter(RateLimit::per_second(70)) {
            router = ratelimit::enforce(router, limiter, Forbidden);
        }
        Ok(Mount::new(router)
            .profile_field("base_url", ctx.base_url())
            .profile_field("client_id", options.client_id.as_str())
            .profile_field("client_secret", options.client_secret.as_str())
            .profile_field("grant", "password")
            .profile_field("username", options.user_email.as_str())
            .profile_field("password", options.password.as_str())
            .credential("client_id", &options.client_id)
            .credential("client_secret", &options.client_secret)
            .credential("username", &options.user_email)
            .credential("password", &options.password)
            .credential("signature_key", &options.signature_key)
            .seeded(SeededItem::file(&welcome.0, &welcome.1).detail("folder", "My Folder"))
            .seeded(SeededItem::folder(&user.mydir_id, "My Folder")))
    }
}

#[cfg(test)]
mod tests {
    use super::Bodies;

    #[test]
    fn kept_bodies_are_capped_in_count_and_bytes_oldest_first() {
        let body = |n: usize| serde_json::json!({ "content": "x".repeat(n) });
        let size = serde_json::to_vec(&body(1000)).unwrap().len();
        let mut b = Bodies::new(100, 4 * size);
        for seq in 1..=10 {
            b.insert(seq, body(1000));
        }
        assert!(b.bytes <= 4 * size, "{} bytes kept", b.bytes);
        assert_eq!(b.kept.keys().copied().collect::<Vec<_>>(), [7, 8, 9, 10]);
        assert!(b.get(6).is_none() && b.get(10).is_some());
        // One body over the cap on its own is not kept, and the others stay.
        b.insert(11, body(5 * size));
        assert!(b.get(11).is_none());
        assert_eq!(b.kept.len(), 4);
        assert_eq!(b.bytes, 4 * size);
        // The count cap holds too.
        let mut c = Bodies::new(3, usize::MAX);
        for seq in 1..=5 {
            c.insert(seq, body(1));
        }
        assert_eq!(c.kept.keys().copied().collect::<Vec<_>>(), [3, 4, 5]);
    }
}
