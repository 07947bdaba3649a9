//! The EGroupware emulator: the mail REST API of `groupdav.php` and the VFS of `webdav.php`,
//! below `/egroupware/` as on a real installation.
//!
//! | request | emulated behaviour |
//! |---|---|
//! | any | Basic with a password or an application password (`token<id>_<16>`: owner must be the user or 0, not revoked or expired, limits cut the apps); no or empty credentials → the early 401 (text body), refused ones → the HTML 401 (a missing run right is named in the realm) |
//! | `GET /mail` | identities per user as `{"responses": {"<collection><ident_id>": "<display>"}}` (SMTP-only accounts left out; `/mail` without a JSON `Accept` is the HTML index) |
//! | `POST /mail[/<id>]` | JSON decode rules (422 for invalid or empty), identity by path or the first IMAP one (404 when there is none, `error: 2` in a 500 for a foreign id), attachments as tokens or VFS paths (400 when not found, 422 for a bad `attachmentType`), drafts for messages without recipients, the Sent-folder `warning` for application-password sessions, tokens consumed; the message goes to the outbox under the `X-Securesend-Message-Id` header's value |
//! | `POST /mail[/<id>]/compose`, `…/view` | the user must be online (404); windows recorded in [`EgroupwareControl::windows`] |
//! | `POST /mail/attachments/<name>` | streamed to the store; `tempnam` name rules (63-byte prefix, `/` → `-`); 201 + `Location`, or 200 with `X-No-Location`; 500 for an empty body |
//! | `GET /mail/attachments/<token>` | the bytes while the token lives, 404 JSON after, 501 for a malformed token |
//! | `GET`/`POST /mail[/<id>]/vacation`, `GET`/`PATCH /mail/<id>` | merge and validation rules of the fact sheet |
//! | WebDAV `GET`/`HEAD` | files with `Last-Modified`, `ETag`, single ranges (206/416) and multiple ranges (`multipart/byteranges`); folders as an HTML index |
//! | WebDAV `PUT` | 201 new / 204 replaced, 409 missing parent, 403 not writable or a folder, 413 over quota, 423 locked, 501 for chunked bodies (Apache + FastCGI, switchable) |
//! | `GET`/`HEAD /share.php/<token>` | the shared file; unknown or expired → 404, a share with a password wants it as the Basic password (401, realm `EGroupware share <token>`) |
//! | WebDAV `MKCOL`, `DELETE` | 201/405/409/403, 204/404/403 |
//! | WebDAV `PROPFIND` | `Depth: 0` or `1` → 207 multistatus in `text/xml` (the resource first, then its readable members; `allprop`, `propname` or a `prop` list), 404 missing, 403 unreadable, 400 for a body that is no `DAV:propfind`; `Depth: infinity` or none → 403 `propfind-finite-depth` (stricter than EGroupware; see the `propfind` module) |
//!
//! Every answer of the DAV layer carries `X-Dav-Powered-By`, and its status text becomes the
//! reason phrase and `X-WebDAV-Status` (`422 Error decoding JSON: Syntax error`), so clients
//! are tested on using only the number. Not emulated: session cookies and OpenID bearer
//! tokens, `openapi.json`, gzip-encoded request bodies, partial PUT (`Content-Range`),
//! PROPPATCH, COPY/MOVE and LOCK (all answered 501).
//!
//! Seeded: users `ralf` (identities 1 and 52), `anna` (85), `smtponly` (an SMTP-only account,
//! so no IMAP account) and the admin `sysop`; `/home/ralf/welcome.txt`. Credentials (see
//! [`Sandbox::credentials`](crate::Sandbox::credentials)): `username`, `password`,
//! `app_password` (ralf's), `app_password_all_users` (owner 0), `app_password_anna`,
//! `app_password_revoked`, `app_password_expired`, `app_password_files_only` (limited to
//! filemanager), `app_password_no_mail` (limited to groupdav), and `password_<login>` for
//! every user.

// The handlers' helpers return the finished refusal as their error: one per request, built
// once, so its size does not matter.
#[allow(clippy::result_large_err)]
mod auth;
#[allow(clippy::result_large_err)]
mod mail;
mod propfind;
mod reply;
mod share;
mod state;
mod webdav;

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::routing::any;

pub use state::{EgroupwareControl, Window};

use crate::error::SandboxError;
use crate::service::{Mount, SeededItem, Service, ServiceContext};

/// The EGroupware service module. Keep its [`EgroupwareControl`] to flip switches while the
/// sandbox runs.
#[derive(Clone, Debug, Default)]
pub struct Egroupware {
    control: EgroupwareControl,
}

impl Egroupware {
    /// A module with default switches (everyone online, community edition, FastCGI).
    pub fn new() -> Egroupware {
        Egroupware::default()
    }

    /// A module whose server runs the EPL edition (share passwords, share expiry and
    /// writable shares work); its generated profile says `edition = "epl"`.
    pub fn epl() -> Egroupware {
        let egw = Egroupware::default();
        egw.control.set_epl(true);
        egw
    }

    /// The switches, shared with every sandbox this module is mounted in.
    pub fn control(&self) -> EgroupwareControl {
        self.control.clone()
    }
}

#[async_trait]
impl Service for Egroupware {
    fn key(&self) -> &'static str {
        "egroupware"
    }

    fn description(&self) -> &'static str {
        "EGroupware mail REST API (groupdav.php) and WebDAV (webdav.php)"
    }

    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
        let state = Arc::new(state::State::seed(ctx.clone(), self.control.clone()));
        let welcome = ctx
            .store()
            .put_bytes("welcome.txt", "Welcome to the EGroupware sandbox.\n")
            .await?;
        let welcome_path = "/home/ralf/welcome.txt";
        webdav::seed_file(&state, welcome_path, &welcome, ctx.clock().now());

        let router = Router::new()
            .route("/egroupware/groupdav.php", any(mail::handle))
            .route("/egroupware/groupdav.php/{*rest}", any(mail::handle))
            .route("/egroupware/webdav.php", any(webdav::handle))
            .route("/egroupware/webdav.php/{*rest}", any(webdav::handle))
            .route("/egroupware/share.php/{*rest}", any(share::handle))
            .with_state(state.clone());

        let ralf = state
            .account("ralf")
            .ok_or_else(|| SandboxError::service("egroupware", "seed user ralf is missing"))?;
        let token = |id: u32| {
            state
                .app_password(id)
                .map(|t| t.value())
                .unwrap_or_default()
        };
        let mut mount = Mount::new(router)
            .profile_field("base_url", format!("{}/egroupware/", ctx.base_url()))
            .profile_field("username", ralf.login.as_str())
            .profile_field("password", ralf.password.as_str())
            .credential("username", &ralf.login)
            .credential("password", &ralf.password)
            .credential("app_password", &token(1))
            .credential("app_password_all_users", &token(2))
            .credential("app_password_anna", &token(3))
            .credential("app_password_revoked", &token(4))
            .credential("app_password_expired", &token(5))
            .credential("app_password_files_only", &token(6))
            .credential("app_password_no_mail", &token(7))
            .seeded(SeededItem::file(welcome_path, &welcome).detail("user", "ralf"));
        if self.control.epl() {
            // The profile follows the server, so share passwords and expiry are not refused
            // up front by the adapter (nor answered 500 by a community server).
            mount = mount.profile_field("edition", "epl");
        }
        for account in &state.accounts {
            mount = mount.credential(&format!("password_{}", account.login), &account.password);
        }
        Ok(mount)
    }
}
