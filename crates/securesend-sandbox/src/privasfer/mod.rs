//! The Privasfer download-link API, as strict as its (2019, partly readable) documentation
//! allows.
//!
//! What is emulated, from the fact sheet `shared/providers/privasfer.md`:
//!
//! | route | behaviour |
//! |---|---|
//! | `GET /api/files[/{id}]` | the caller's files; `sort` ∈ `filename_original`, `size`, `encrypted_size`, `created_at` (`-` = descending), `keyword` on the name, `include=category` |
//! | `GET /api/mails[/{id}]` | mails the caller sent; `include` ⊆ `download`, `download.files`, `author`; `sort` ∈ `subject`, `recipient_email`, `created_at`, `sent_at`; `keyword` on identifier, subject, recipient e-mail and name, sender name; unopened mails carry `"opened_at": ""` |
//! | `GET /api/inbox[/{id}]` | mails the caller received; same `include`s; `sort` ∈ `subject`, `created_by_email`, `received_at`; `keyword` on identifier, subject, sender e-mail and name |
//! | `POST /api/keys {pin}` | PIN → temporary key (32 alphanumerics), valid [`TEMPORARY_KEY_LIFETIME`]; wrong PIN → 422 `Invalid PIN.` |
//! | `DELETE /api/keys/{key}` | revokes the caller's temporary key → 204 |
//! | `POST /api/downloads {files}` | a manual download of the caller's own files: single use, gone after [`MANUAL_DOWNLOAD_LIFETIME`] |
//! | `POST /api/downloads/{id}/keys {pinKey}` | temporary key → public download key; bad key → 422 `Pin key does not exists` |
//! | `GET /api/downloads/{id}?key={public key}` | the bytes (**assumed URL**, see below) |
//!
//! Every success body is wrapped in `data`; validation failures are Laravel's 422
//! `{"message":"The given data was invalid.","errors":{field:[…]}}` with the documented
//! strings; a missing or unknown token is 401 `{"message":"Unauthenticated."}`; a client that
//! does not send `Accept: application/json` gets Laravel's redirect (302) instead of a JSON
//! error; 300 requests per minute per client IP, then 429 `{"message":"Too Many Attempts."}`
//! with `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
//! Timestamps are `YYYY-MM-DD HH:MM:SS` in UTC; sizes are formatted base 1024 with two decimals.
//!
//! # Assumptions (the documentation is silent)
//!
//! - **The byte URL**: `GET /api/downloads/{download id}?key={public key}`, no bearer token
//!   needed (the key is "public"). One file is sent as itself with its MIME type; several are
//!   sent as one ZIP archive (stored, not compressed), `application/zip`. A manual download is
//!   deleted when its bytes are fetched; an inbox mail's download can be fetched again.
//! - Public download keys live [`PUBLIC_KEY_LIFETIME`] (at most as long as their download).
//! - Another user's file, mail or download answers 404, as an unknown one does.
//! - Creating a temporary key or a download answers 201; reading an inbox mail does not change
//!   its `opened` flag; lists are not paginated.
//! - An unknown `sort` or `include` value answers 400 with the query builder's message.
//!
//! Seeded for the profile's account (Ada): three own files, three inbox mails (one file; two
//! files; one file with a hostile name) and two sent mails (one opened, one not). A second
//! account (Grace, credentials `other_token`/`other_pin`) owns the files of Ada's inbox and a
//! private file, for ownership checks.

mod render;
mod reply;
mod routes;
mod seed;
mod state;
mod zip;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::SandboxError;
use crate::ratelimit::RateLimit;
use crate::service::{Mount, Service, ServiceContext};

/// The provider key.
pub const KEY: &str = "privasfer";

/// How long a temporary key ("pin key") lives: one hour (documented).
pub const TEMPORARY_KEY_LIFETIME: Duration = Duration::from_secs(3600);

/// How long a manually created download lives: one minute, and one use (documented).
pub const MANUAL_DOWNLOAD_LIFETIME: Duration = Duration::from_secs(60);

/// How long a public download key lives (assumed; never longer than its download).
pub const PUBLIC_KEY_LIFETIME: Duration = Duration::from_secs(3600);

/// Token kind of API tokens in the sandbox's [`crate::Tokens`].
pub const API_TOKEN_KIND: &str = "privasfer_api_token";

/// Token kind of temporary keys, so a test can count live ones with [`crate::Tokens::live`].
pub const TEMPORARY_KEY_KIND: &str = "privasfer_pin_key";

/// Token kind of public download keys.
pub const PUBLIC_KEY_KIND: &str = "privasfer_public_key";

/// The documented limit: 300 requests per minute per client IP.
pub fn rate_limit() -> RateLimit {
    RateLimit::per_minute(300)
}

/// The Privasfer service module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Privasfer;

#[async_trait]
impl Service for Privasfer {
    fn key(&self) -> &'static str {
        KEY
    }

    fn description(&self) -> &'static str {
        "Privasfer download links: PIN → temporary key → download → public key → bytes"
    }

    async fn mount(&self, ctx: ServiceContext) -> Result<Mount, SandboxError> {
        let seeded = seed::seed(&ctx).await?;
        let state = Arc::new(state::State::new(ctx.clone(), seeded.data));
        let router = routes::router(state, &ctx);
        let mut mount = Mount::new(router)
            .profile_field("base_url", format!("{}/api", ctx.base_url()))
            .profile_field("token", seeded.token.as_str())
            .profile_field("pin", seeded.pin.as_str())
            .credential("token", &seeded.token)
            .credential("pin", &seeded.pin)
            .credential("other_token", &seeded.other_token)
            .credential("other_pin", &seeded.other_pin);
        for item in seeded.items {
            mount = mount.seeded(item);
        }
        Ok(mount)
    }
}
