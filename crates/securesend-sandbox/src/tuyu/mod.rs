//! The Tuyu / FileGenius `file_send` API, as strict as its fact sheet.
//!
//! | route | methods |
//! |---|---|
//! | `GET /api/<method>[.json\|.xml]` | `file_list` (50-entry pages), `users_location_access` (alias `user_location_access`), `file_download` |
//! | `POST /api/<method>[.json\|.xml]` | `file_upload` (multipart, streamed to the store), `create_folder`, `send_files_prep`, `file_send`, `create_file_link`, `file_delete` (also `DELETE`), `user_auth` |
//! | `GET /downloadPublic/<id>` | the file behind a public link, until it expires |
//!
//! Strictness: every call needs `api_key`, `timestamp` (within [`TuyuOptions::max_skew`] of the
//! sandbox clock) and `signature`, verified exactly ([`signing`]); a GET's `signature` must be
//! its last parameter. Paths must start and end with `/`, exist, and be reachable by the user
//! acted for; only administrators may use the bare root. `file_send` checks `link_expiration`
//! (0–15), the same-workspace rule and the `file_preparation_id` rule (two or more files or a
//! folder to three or more non-users), and silently drops unknown user ids, non-users under
//! `require_login=1`, and non-users when the account may not send to them — as the service
//! does. Errors are the `error` envelope, with HTTP 200 unless [`TuyuOptions::error_status`]
//! says otherwise.
//!
//! Each delivered message is recorded in the outbox under the id the adapter's receipt
//! carries: `tuyu-` and 24 hex digits of the SHA-256 over the request's fields (`timestamp`
//! included; `api_key`, `auth_code`, `signature` left out) as sorted `name=value\n` lines.
//! The success body of `file_send` and everything about `send_files_prep` are undocumented;
//! this module answers `{"fileSend": {"fileId": …}}` and
//! `{"sendFilesPrep": {"filePreparationId": …}}`, and binds a preparation id to its file set.
//!
//! The signed URL starts with [`TuyuOptions::signed_base_url`] (default: the sandbox's own
//! `http://127.0.0.1:<port>`), so a test can verify the fact sheet's `https://` vectors.

// Checks return the refusal itself as their error, built once per request; boxing it would
// only add an allocation.
#![allow(clippy::result_large_err)]

mod answer;
mod files;
mod send;
pub mod signing;
mod site;

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Extension, Path, Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use http::{Method, StatusCode};
use serde_json::Value;

use crate::error::SandboxError;
use crate::journal::RequestSeq;
use crate::service::{Mount, SeededItem, Service, ServiceContext};
use crate::tokens::{Lifetime, TokenRequest};

pub use answer::ErrorStatus;
pub use signing::CanonicalEncoding;
pub use site::{Entry, PAGE_SIZE, PublicLink, Site, SiteUser, Workspace};

use answer::{Fmt, Refusal};

/// The workspace the generated profile uploads into.
pub const WORKSPACE: &str = "/Designers_workspace/";
/// A second workspace, for the same-workspace rule.
pub const OTHER_WORKSPACE: &str = "/Finance_workspace/";
/// The API key's own account.
pub const ACCOUNT_EMAIL: &str = "api@sandbox.example";
/// A site user with access to [`WORKSPACE`].
pub const SITE_USER: &str = "grace@example.com";
/// Another site user, in both workspaces.
pub const OTHER_SITE_USER: &str = "linus@example.com";
/// A user the adapter can act for with `user_auth`.
pub const ACT_AS_USER: &str = "ann";
/// Ann's password.
pub const ACT_AS_PASSWORD: &str = "ann-sandbox-password";
/// The token kind of auth codes.
pub const AUTH_CODE_KIND: &str = "tuyu_auth_code";

const ACCOUNT_ID: u64 = 101;
const FORM_CAP: usize = 1 << 20;

/// How the emulated site behaves where real sites may differ.
#[derive(Clone, Debug)]
pub struct TuyuOptions {
    /// The scheme, host and port that signed URLs start with; `None` is the sandbox's own base
    /// URL. Set it to `https://acme.filetransfers.net` to check the fact sheet's vectors; the
    /// generated profile then carries `signing.base_url`.
    pub signed_base_url: Option<String>,
    /// The HTTP status of error envelopes.
    pub error_status: ErrorStatus,
    /// How far a `timestamp` may be from the sandbox clock.
    pub max_skew: Duration,
    /// The canonical encoding of GET values.
    pub encoding: CanonicalEncoding,
    /// Whether a `.xml`/`.json` suffix is part of the signed URL.
    pub sign_format_suffix: bool,
    /// Whether `file_send` honours `bcc` (FileGenius documents it; a site that ignores it
    /// shows recipients to each other).
    pub bcc: bool,
    /// Whether the API account may send to non-users (`sendFilesNonUser`).
    pub non_user_sends: bool,
    /// The API key; `None` draws a random one.
    pub api_key: Option<String>,
    /// The API secret; `None` draws a random one.
    pub api_secret: Option<String>,
}

impl Default for TuyuOptions {
    fn default() -> Self {
        TuyuOptions {
            signed_base_url: None,
            error_status: ErrorStatus::Ok,
            max_skew: Duration::from_secs(300),
            encoding: CanonicalEncoding::default(),
            sign_format_suffix: true,
            bcc: true,
            non_user_sends: true,
            api_key: None,
            api_secret: None,
        }
    }
}

/// The Tuyu service module.
///
/// ```
/// use securesend_sandbox::{Sandbox, SandboxOptions, tuyu::Tuyu};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), securesend_sandbox::SandboxError> {
/// let tuyu = Tuyu::default();
/// let site = tuyu.site();
/// let sandbox = Sandbox::start(&tuyu, SandboxOptions::default()).await?;
/// assert_eq!(sandbox.profile()["workspace_path"].as_str(), Some("/Designers_workspace/"));
/// assert!(site.entries().iter().any(|e| e.name == "welcome.txt"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tuyu {
    options: TuyuOptions,
    site: Arc<Site>,
}

impl Tuyu {
    /// A module with these options.
    pub fn new(options: TuyuOptions) -> Tuyu {
        Tuyu {
            options,
            site: Arc::default(),
        }
    }

    /// The site's state, to inspect what the service holds (mounting re-seeds it).
    pub fn site(&self) -> Arc<Site> {
        self.site.clone()
    }
}

/// Everything a handler needs.
#[derive(Clone)]
pub(crate) struct Svc {
    ctx: ServiceContext,
    opts: TuyuOptions,
    site: Arc<Site>,
    api_key: String,
    api_secret: String,
    signed_base: String,
}

/// One authenticated call.
pub(crate) struct Call {
    pub fmt: Fmt,
    pub params: Vec<(String, String)>,
    /// The user acted for.
    pub user: u64,
    pub seq: RequestSeq,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[crate::async_trait]
impl Service for Tuyu {
    fn key(&self) -> &'static str {
        "tuyu"
    }

    fn description(&self) -> &'static str {
        "Tuyu / FileGenius file_send API (HMAC-signed)"
    }

    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
        let api_key = self.options.api_key.clone().unwrap_or_else(|| {
            crate::tokens::random_token(crate::tokens::TokenFormat::Hex { bytes: 12 })
        });
        let api_secret = self.options.api_secret.clone().unwrap_or_else(|| {
            crate::tokens::random_token(crate::tokens::TokenFormat::Alphanumeric { len: 32 })
        });
        let signed_base = self
            .options
            .signed_base_url
            .clone()
            .unwrap_or_else(|| ctx.base_url().to_owned());
        let seeded = seed(&self.site, &ctx, &self.options).await?;
        let svc = Svc {
            ctx: ctx.clone(),
            opts: self.options.clone(),
            site: self.site.clone(),
            api_key: api_key.clone(),
            api_secret: api_secret.clone(),
            signed_base: signed_base.trim_end_matches('/').to_owned(),
        };
        let router = Router::new()
            .route("/api/{call}", any(api))
            .route("/downloadPublic/{id}", get(files::public_download))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(svc);
        let mut mount = Mount::new(router)
            .profile_field("base_url", ctx.base_url())
            .profile_field("api_key", api_key.as_str())
            .profile_field("api_secret", api_secret.as_str())
            .profile_field("workspace_path", WORKSPACE)
            // The sandbox user is no administrator, so `ls` and `mkdir` start in the workspace.
            .profile_field("folder_root", WORKSPACE)
            .profile_field("bcc", self.options.bcc)
            .credential("api_key", &api_key)
            .credential("api_secret", &api_secret)
            .credential("act_as_username", ACT_AS_USER)
            .credential("act_as_password", ACT_AS_PASSWORD);
        let enc = self.options.encoding;
        let mut signing = toml::Table::new();
        if let Some(base) = &self.options.signed_base_url {
            signing.insert("base_url".into(), base.as_str().into());
        }
        if !enc.space_as_plus {
            signing.insert("space".into(), "percent".into());
        }
        if !enc.upper_hex {
            signing.insert("hex_case".into(), "lower".into());
        }
        if !enc.encode_tilde {
            signing.insert("encode_tilde".into(), false.into());
        }
        if !self.options.sign_format_suffix {
            signing.insert("sign_format_suffix".into(), false.into());
        }
        if !signing.is_empty() {
            mount = mount.profile_field("signing", signing);
        }
        for item in seeded {
            mount = mount.seeded(item);
        }
        Ok(mount)
    }
}

async fn seed(
    site: &Site,
    ctx: &ServiceContext,
    opts: &TuyuOptions,
) -> Result<Vec<SeededItem>, SandboxError> {
    let welcome = ctx
        .store()
        .put_bytes("welcome.txt", "Welcome to the Tuyu sandbox.\n")
        .await?;
    let ledger = ctx
        .store()
        .put_bytes("ledger.csv", "month,total\n2026-01,42\n")
        .await?;
    let now = unix(ctx.clock().now());
    let mut s = site.lock();
    *s = site::State {
        next_id: 1000,
        ..site::State::default()
    };
    s.workspaces = vec![
        Workspace {
            id: 1,
            path: WORKSPACE.to_owned(),
        },
        Workspace {
            id: 2,
            path: OTHER_WORKSPACE.to_owned(),
        },
    ];
    let person =
        |id, username: &str, email: &str, first: &str, last: &str, ws: Vec<u64>| SiteUser {
            id,
            username: username.to_owned(),
            email: email.to_owned(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            group: false,
            members: Vec::new(),
            workspaces: ws,
            password: None,
        };
    let mut ann = person(
        104,
        ACT_AS_USER,
        "ann@example.com",
        "Ann",
        "Example",
        vec![1],
    );
    ann.password = Some(ACT_AS_PASSWORD.to_owned());
    s.users = vec![
        person(
            ACCOUNT_ID,
            "securesend-api",
            ACCOUNT_EMAIL,
            "API",
            "Account",
            vec![1, 2],
        ),
        person(102, "grace", SITE_USER, "Grace", "Hopper", vec![1]),
        person(
            103,
            "linus",
            OTHER_SITE_USER,
            "Linus",
            "Pauling",
            vec![1, 2],
        ),
        ann,
        SiteUser {
            id: 201,
            username: "designers".into(),
            email: String::new(),
            first_name: "Designers".into(),
            last_name: String::new(),
            group: true,
            members: vec![102, 103],
            workspaces: vec![1],
            password: None,
        },
    ];
    let _ = opts;
    let mut seeded = Vec::new();
    for (stored, folder, ws) in [(welcome, WORKSPACE, 1), (ledger, OTHER_WORKSPACE, 2)] {
        let id = s.new_id();
        seeded.push(SeededItem::file(id.to_string(), &stored).detail("path", folder));
        s.entries.insert(
            id,
            Entry {
                id,
                name: stored.name.clone(),
                folder: folder.to_owned(),
                workspace_id: ws,
                file: Some(stored),
                comment: None,
                file_id_tag: None,
                modified: now,
                owner: ACCOUNT_ID,
            },
        );
    }
    Ok(seeded)
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Svc {
    fn now(&self) -> SystemTime {
        self.ctx.clock().now()
    }

    pub(crate) fn ok(&self, fmt: Fmt, value: Value) -> Response {
        answer::respond(fmt, StatusCode::OK, self.now(), &value)
    }

    pub(crate) fn refuse(
        &self,
        fmt: Fmt,
        seq: RequestSeq,
        refusal: Refusal,
        title: &str,
        message: &str,
        why: &str,
    ) -> Response {
        self.ctx.journal().note(seq, why.to_owned());
        answer::respond(
            fmt,
            self.opts.error_status.status(refusal),
            self.now(),
            &answer::error_value(title, message),
        )
    }

    pub(crate) fn no_access(&self, fmt: Fmt, seq: RequestSeq, why: &str) -> Response {
        self.refuse(
            fmt,
            seq,
            Refusal::Access,
            "You do not have access privileges for this location",
            "Please try a different location or speak to an administrator.",
            why,
        )
    }

    pub(crate) fn invalid(
        &self,
        fmt: Fmt,
        seq: RequestSeq,
        title: &str,
        message: &str,
    ) -> Response {
        self.refuse(fmt, seq, Refusal::Invalid, title, message, message)
    }

    fn auth_failed(&self, fmt: Fmt, seq: RequestSeq, why: &str) -> Response {
        self.refuse(
            fmt,
            seq,
            Refusal::Auth,
            "Authentication Failed",
            "Authentication parameters missing or invalid.",
            why,
        )
    }

    /// Checks `api_key`, `timestamp`, `signature` (and `auth_code`); the user acted for.
    pub(crate) fn authenticate(
        &self,
        verb: &Method,
        path: &str,
        params: &[(String, String)],
        fmt: Fmt,
        seq: RequestSeq,
    ) -> Result<u64, Response> {
        let fail = |why: &str| Err(self.auth_failed(fmt, seq, why));
        let (Some(key), Some(ts), Some(sig)) = (
            param(params, "api_key"),
            param(params, "timestamp"),
            param(params, "signature"),
        ) else {
            return fail("api_key, timestamp or signature missing");
        };
        if key != self.api_key {
            return fail("unknown api_key");
        }
        let Ok(ts) = ts.trim().parse::<i64>() else {
            return fail("timestamp is not a Unix time");
        };
        let now = unix(self.now()) as i64;
        if ts.abs_diff(now) > self.opts.max_skew.as_secs() {
            return fail(&format!(
                "timestamp is {} s away from the service's clock",
                ts - now
            ));
        }
        let signed_path = if self.opts.sign_format_suffix {
            path.to_owned()
        } else {
            path.trim_end_matches(".xml")
                .trim_end_matches(".json")
                .to_owned()
        };
        let message = if verb == Method::GET {
            if params.last().map(|(k, _)| k.as_str()) != Some("signature") {
                return fail("signature is not the last parameter");
            }
            let unsigned: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k != "signature")
                .cloned()
                .collect();
            signing::canonical_get(
                &self.signed_base,
                &signed_path,
                &unsigned,
                self.opts.encoding,
            )
        } else {
            signing::canonical_write(&self.signed_base, &signed_path)
        };
        if !signing::verify(&self.api_secret, &message, sig) {
            return fail("bad signature");
        }
        match param(params, "auth_code") {
            None => Ok(ACCOUNT_ID),
            Some(code) => match self.ctx.tokens().validate(AUTH_CODE_KIND, code) {
                Ok(info) => info
                    .subject
                    .parse()
                    .or_else(|_| fail("auth code of no user")),
                Err(_) => fail("unknown or expired auth_code"),
            },
        }
    }
}

/// `/api/<method>[.xml|.json]`: verb check, parameters, signature, then the method.
async fn api(
    State(svc): State<Svc>,
    Path(call): Path<String>,
    Extension(seq): Extension<RequestSeq>,
    req: Request,
) -> Response {
    let (name, fmt) = if let Some(n) = call.strip_suffix(".xml") {
        (n.to_owned(), Fmt::Xml)
    } else if let Some(n) = call.strip_suffix(".json") {
        (n.to_owned(), Fmt::Json)
    } else {
        (call.clone(), Fmt::Json)
    };
    let verb = req.method().clone();
    let path = req.uri().path().to_owned();
    let wants_get = matches!(
        name.as_str(),
        "file_list" | "users_location_access" | "user_location_access" | "file_download"
    );
    let known = wants_get
        || matches!(
            name.as_str(),
            "file_upload"
                | "create_folder"
                | "send_files_prep"
                | "file_send"
                | "create_file_link"
                | "file_delete"
                | "user_auth"
        );
    if !known {
        return svc.invalid(fmt, seq, "Invalid Method", "This method does not exist.");
    }
    let verb_ok = if wants_get {
        verb == Method::GET
    } else {
        verb == Method::POST || (name == "file_delete" && verb == Method::DELETE)
    };
    if !verb_ok {
        let want = if wants_get { "GET" } else { "POST" };
        return svc.invalid(
            fmt,
            seq,
            "Invalid Request Method",
            &format!("This method must be called with {want}."),
        );
    }
    let is_multipart = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if name == "file_upload" {
        if !is_multipart {
            return svc.invalid(
                fmt,
                seq,
                "File Upload Failed",
                "The file must be sent as multipart/form-data.",
            );
        }
        return files::file_upload(&svc, fmt, seq, &path, req).await;
    }
    let params = if verb == Method::GET {
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect::<Vec<_>>()
    } else if is_multipart {
        match files::multipart_fields(req).await {
            Ok(p) => p,
            Err(why) => return svc.invalid(fmt, seq, "Invalid Request", &why),
        }
    } else {
        match axum::body::to_bytes(req.into_body(), FORM_CAP).await {
            Ok(b) => form_urlencoded::parse(&b).into_owned().collect(),
            Err(_) => {
                return svc.invalid(
                    fmt,
                    seq,
                    "Invalid Request",
                    "The request body is too large.",
                );
            }
        }
    };
    let user = match svc.authenticate(&verb, &path, &params, fmt, seq) {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let call = Call {
        fmt,
        params,
        user,
        seq,
    };
    match name.as_str() {
        "file_list" => files::file_list(&svc, &call),
        "users_location_access" | "user_location_access" => {
            send::users_location_access(&svc, &call)
        }
        "file_download" => files::file_download(&svc, &call).await,
        "create_folder" => files::create_folder(&svc, &call),
        "create_file_link" => files::create_file_link(&svc, &call),
        "file_delete" => files::file_delete(&svc, &call).await,
        "send_files_prep" => send::send_files_prep(&svc, &call),
        "file_send" => send::file_send(&svc, &call),
        "user_auth" => send::user_auth(&svc, &call),
        _ => svc.invalid(fmt, seq, "Invalid Method", "This method does not exist."),
    }
}

/// A path parameter checked: `/…/`, existing, and reachable by the user; its workspace.
pub(crate) fn check_path(
    svc: &Svc,
    call: &Call,
    path: Option<&str>,
) -> Result<(String, u64), Response> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Err(svc.invalid(call.fmt, call.seq, "Invalid Path", "A path is required."));
    };
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(svc.invalid(
            call.fmt,
            call.seq,
            "Invalid Path",
            "Paths must start and end with a forward slash.",
        ));
    }
    if path == "/" {
        return Err(svc.no_access(call.fmt, call.seq, "only administrators may use the root"));
    }
    let s = svc.site.lock();
    let Some(ws) = s.workspace_of_path(path) else {
        return Err(svc.no_access(call.fmt, call.seq, "no such folder"));
    };
    let reachable = s
        .user(call.user)
        .is_some_and(|u| u.workspaces.contains(&ws));
    if !reachable {
        return Err(svc.no_access(call.fmt, call.seq, "user has no access to this workspace"));
    }
    Ok((path.to_owned(), ws))
}

fn io_other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Issues an auth code for `user` (as `user_auth` does).
pub(crate) fn issue_auth_code(svc: &Svc, user: u64) -> String {
    svc.ctx
        .tokens()
        .issue_with(
            TokenRequest::new(AUTH_CODE_KIND, &user.to_string()).lifetime(Lifetime::Default),
        )
        .value
}
