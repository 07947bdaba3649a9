//! Configuration of a `provider = "kiteworks"` profile.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use securesend_core::config::{ProfileConfig, check_base_url};
use securesend_core::file::{SmallFile, read_small_text};
use securesend_core::http::HttpSettings;
use securesend_core::{Error, Result, Secret, SecretRef};

/// The REST API version sent in `X-Accellion-Version` unless configured otherwise.
pub const DEFAULT_API_VERSION: u32 = 28;
/// Largest upload chunk unless configured otherwise: 16 MiB. The service's own maximum, from
/// `GET /rest/uploads/config` (10 MiB by default), lowers it further. Every chunk waits for its
/// answer before the next goes out, so fewer, larger chunks spend less time between requests;
/// an upload holds about three chunks in memory.
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 << 20;

/// How the client obtains its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// Authorization code with PKCE: `securesend login` opens the browser once, the refresh
    /// token kept on disk does the rest.
    AuthorizationCode,
    /// A refresh token issued elsewhere, given in `refresh_token`.
    RefreshToken,
    /// Kiteworks' signature flow: a code signed with the application's signature key,
    /// impersonating `user` (trusted server applications).
    Signature,
    /// The resource-owner password grant (`username`, `password`).
    Password,
    /// A JWT bearer assertion signed with `jwt_private_key_file`, acting as `user`.
    Jwt,
}

impl Grant {
    /// The value written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::Signature => "signature",
            Grant::Password => "password",
            Grant::Jwt => "jwt",
        }
    }
}

/// The JWS algorithm of JWT assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the service's default).
    #[default]
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
}

/// The unit of the signature flow's timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampUnit {
    /// Unix seconds (Kiteworks' documentation).
    #[default]
    Seconds,
    /// Unix milliseconds (seen in one third-party client).
    Milliseconds,
}

/// Where chunks of an upload are posted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkEndpoint {
    /// The `uri` the service returned when the upload started (`{upload host}/rest/uploads/{id}`).
    #[default]
    Uri,
    /// `/rest/uploads/{id}` on the base URL, as the official Python samples do.
    Rest,
}

/// The access level of a sent message's files (the service's `acl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acl {
    /// Only the recipients, after verifying who they are.
    VerifyRecipient,
    /// Anyone with the link, without signing in.
    NoAuth,
    /// Recipients, with a one-time code by SMS.
    Otp,
    /// Recipients and users of the organisation.
    Internal,
    /// Recipients and any signed-in user.
    AnyoneAuth,
    /// Recipients, with a one-time code by e-mail.
    EmailOtp,
}

impl Acl {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Acl::VerifyRecipient => "verify_recipient",
            Acl::NoAuth => "no_auth",
            Acl::Otp => "otp",
            Acl::Internal => "internal",
            Acl::AnyoneAuth => "anyone_auth",
            Acl::EmailOtp => "email_otp",
        }
    }
}

/// Fields of a `provider = "kiteworks"` profile, as written in `securesend.toml`.
///
/// ```toml
/// [profiles.work]
/// provider = "kiteworks"
/// base_url = "https://files.example.com"
/// client_id = "a1b2c3"
/// client_secret = { env = "KW_CLIENT_SECRET" }
/// grant = "password"
/// username = "me@example.com"
/// password = { env = "KW_PASSWORD" }
/// ```
///
/// See `docs/providers/kiteworks.md` for every grant's fields.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KiteworksConfig {
    /// The appliance, `https://host`.
    pub base_url: String,
    /// Allows `http://` to a host other than this machine.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The `X-Accellion-Version` sent with every REST call.
    #[serde(default = "default_api_version")]
    pub api_version: u32,
    /// The custom application's client id.
    pub client_id: String,
    /// The custom application's client secret.
    pub client_secret: SecretRef,
    /// How tokens are obtained.
    pub grant: Grant,
    /// Scopes to ask for, space separated; unset asks for the application's registered scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Redirect URI for `authorization_code` (a loopback `http://` address; port 0 picks a free
    /// port) and `signature` (sent with the token request).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Seconds `securesend login` waits for the browser to come back.
    #[serde(default = "default_login_timeout")]
    pub login_timeout_secs: u64,
    /// `password` grant: the user name.
    #[serde(default)]
    pub username: Option<String>,
    /// `password` grant: the password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// `refresh_token` grant: the refresh token to start from.
    #[serde(default)]
    pub refresh_token: Option<SecretRef>,
    /// `signature` and `jwt` grants: the e-mail address of the user to act as.
    #[serde(default)]
    pub user: Option<String>,
    /// `signature` grant: the application's signature key.
    #[serde(default)]
    pub signature_key: Option<SecretRef>,
    /// `signature` grant: seconds (documented) or milliseconds.
    #[serde(default)]
    pub signature_timestamp: TimestampUnit,
    /// `jwt` grant: PEM file with the RSA private key (PKCS#8 or PKCS#1).
    #[serde(default)]
    pub jwt_private_key_file: Option<PathBuf>,
    /// `jwt` grant: `RS256` (default) or `RS512`.
    #[serde(default)]
    pub jwt_algorithm: JwtAlgorithm,
    /// `jwt` grant: the `iss` claim; defaults to `client_id`.
    #[serde(default)]
    pub jwt_issuer: Option<String>,
    /// `jwt` grant: the `aud` claim; defaults to `base_url` without a trailing slash.
    #[serde(default)]
    pub jwt_audience: Option<String>,
    /// `jwt` grant: seconds an assertion is valid.
    #[serde(default = "default_jwt_lifetime")]
    pub jwt_lifetime_secs: u64,
    /// Seconds of clock difference tolerated with the service (JWT `nbf` is set this far back).
    #[serde(default = "default_clock_skew")]
    pub clock_skew_secs: u64,
    /// Whether tokens with a refresh token are kept on disk between runs.
    #[serde(default = "yes")]
    pub token_cache: bool,
    /// Where tokens and resumable upload sessions are kept; defaults to the platform's data
    /// directory, `…/securesend/kiteworks/<profile>`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Largest upload chunk in bytes; the service's `uploadChunkMax` lowers it further.
    #[serde(default = "default_max_chunk")]
    pub max_chunk_size: u64,
    /// Where uploads without a folder go, as a path such as `My Folder/inbound`; unset uses the
    /// account's own folder (`mydirId`).
    #[serde(default)]
    pub upload_folder: Option<String>,
    /// How many attachments of one message upload at the same time.
    #[serde(default = "default_concurrency")]
    pub attachment_concurrency: usize,
    /// Seconds to wait for the service to compute a file's fingerprints before comparing them
    /// with ours; 0 skips the comparison.
    #[serde(default = "default_fingerprint_wait")]
    pub fingerprint_wait_secs: u64,
    /// Integrity checks: compute SHA-256, SHA3-256 and MD5 while streaming and compare the
    /// service's fingerprints with them (uploads and downloads). `false` skips the digests and
    /// the comparisons (sizes are still checked), for when CPU matters more than the check.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Where chunks are posted: `uri` (default) or `rest`.
    #[serde(default)]
    pub chunk_endpoint: ChunkEndpoint,
    /// Access level of sent files; unset leaves the service's default.
    #[serde(default)]
    pub acl: Option<Acl>,
    /// Hides the message body from the notification e-mail.
    #[serde(default)]
    pub secure_body: Option<bool>,
    /// Sends the sender a copy.
    #[serde(default)]
    pub self_copy: Option<bool>,
    /// Puts each file's fingerprint in the notification e-mail.
    #[serde(default)]
    pub include_fingerprint: Option<bool>,
    /// Error codes that, on a 403, mean rate limiting (a 403 without a Kiteworks error body is
    /// always taken as rate limiting).
    #[serde(default)]
    pub rate_limit_codes: Vec<String>,
    /// HTTP settings.
    #[serde(default)]
    pub http: HttpSettings,
}

fn yes() -> bool {
    true
}
fn default_api_version() -> u32 {
    DEFAULT_API_VERSION
}
fn default_login_timeout() -> u64 {
    300
}
fn default_jwt_lifetime() -> u64 {
    300
}
fn default_clock_skew() -> u64 {
    60
}
fn default_max_chunk() -> u64 {
    DEFAULT_MAX_CHUNK_SIZE
}
fn default_concurrency() -> usize {
    3
}
fn default_fingerprint_wait() -> u64 {
    30
}

impl fmt::Debug for KiteworksConfig {
    // Secrets are `SecretRef`s (redacting Debug); the rest is shown for diagnostics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteworksConfig")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("grant", &self.grant)
            .field("scope", &self.scope)
            .field("redirect_uri", &self.redirect_uri)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("refresh_token", &self.refresh_token)
            .field("user", &self.user)
            .field("signature_key", &self.signature_key)
            .field("jwt_private_key_file", &self.jwt_private_key_file)
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field("token_cache", &self.token_cache)
            .field("state_dir", &self.state_dir)
            .field("max_chunk_size", &self.max_chunk_size)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Credentials of the configured grant, resolved.
#[derive(Clone, Debug)]
pub(crate) enum Credentials {
    AuthorizationCode,
    RefreshToken(Secret),
    Signature { user: String, key: Secret },
    Password { username: String, password: Secret },
    Jwt { user: String, key_pem: Secret },
}

/// A configuration checked and with its secrets resolved.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub profile: String,
    pub base: Url,
    pub api_version: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub grant: Grant,
    pub credentials: Credentials,
    pub scope: Option<String>,
    pub redirect_uri: Url,
    pub login_timeout: std::time::Duration,
    pub signature_timestamp: TimestampUnit,
    pub jwt_algorithm: JwtAlgorithm,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_lifetime: u64,
    pub clock_skew: u64,
    pub state_dir: Option<PathBuf>,
    pub token_cache: bool,
    pub max_chunk_size: u64,
    pub upload_folder: Option<String>,
    pub attachment_concurrency: usize,
    pub fingerprint_wait: std::time::Duration,
    pub verify: bool,
    pub chunk_endpoint: ChunkEndpoint,
    pub acl: Option<Acl>,
    pub secure_body: Option<bool>,
    pub self_copy: Option<bool>,
    pub include_fingerprint: Option<bool>,
    pub rate_limit_codes: Vec<String>,
    pub http: HttpSettings,
    pub base_dir: PathBuf,
}

/// What a JWT private key file is in errors, and its cap (the core's, for secret files).
const PRIVATE_KEY_FILE: SmallFile = SmallFile::new(
    "private key file",
    securesend_core::file::MAX_SECRET_FILE,
    securesend_core::ErrorKind::Configuration,
);

/// Refuses a state directory that is a symbolic link (tokens would be written wherever it
/// points: a directory the user did not choose, perhaps another user's) or is not a
/// directory. A missing one is fine: it is created owner-only when first needed.
fn check_state_dir(dir: &std::path::Path, configured: bool, key: &str) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    let named = if configured {
        format!("`{key}` ({})", dir.display())
    } else {
        format!("the state directory {}", dir.display())
    };
    let fix = if configured {
        "give the real directory".to_owned()
    } else {
        format!("remove the link or set `{key}` to a real directory")
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(dir)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "an unreadable target".to_owned());
        return Err(Error::config(format!(
            "{named} is a symbolic link to {target}; tokens are kept only in a real directory, so {fix}"
        )));
    }
    if !meta.is_dir() {
        return Err(Error::config(format!("{named} is not a directory; {fix}")));
    }
    Ok(())
}

impl Settings {
    /// The user the grant acts as (empty for the grants that do not name one).
    pub(crate) fn user(&self) -> &str {
        match &self.credentials {
            Credentials::Password { username, .. } => username,
            Credentials::Signature { user, .. } | Credentials::Jwt { user, .. } => user,
            Credentials::AuthorizationCode | Credentials::RefreshToken(_) => "",
        }
    }

    /// The secrets that sign in: the client secret, then the grant's own. A kept token is
    /// bound to them (by a fingerprint, see `token_store.rs`).
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let own = match &self.credentials {
            Credentials::AuthorizationCode => None,
            Credentials::RefreshToken(r) => Some(r),
            Credentials::Password { password, .. } => Some(password),
            Credentials::Signature { key, .. } => Some(key),
            Credentials::Jwt { key_pem, .. } => Some(key_pem),
        };
        std::iter::once(&self.client_secret)
            .chain(own)
            .map(Secret::expose)
            .collect()
    }
}

/// The default loopback redirect: any free port.
const DEFAULT_REDIRECT: &str = "http://127.0.0.1:0/securesend/callback";

impl KiteworksConfig {
    /// Reads the profile's fields.
    pub fn from_profile(profile: &ProfileConfig) -> Result<KiteworksConfig> {
        profile.parse()
    }

    /// Checks the fields against each other and resolves secrets; errors name the key.
    pub(crate) fn resolve(&self, profile: &ProfileConfig) -> Result<Settings> {
        let name = profile.name();
        let key = |k: &str| format!("profiles.{name}.{k}");
        let base = check_base_url(&key("base_url"), &self.base_url, self.allow_insecure_http)?;
        if self.client_id.trim().is_empty() || self.client_id.chars().any(char::is_control) {
            return Err(Error::config(format!(
                "`{}` is empty or has control characters; give the application's client id",
                key("client_id")
            )));
        }
        if self.api_version == 0 {
            return Err(Error::config(format!(
                "`{}` must be a positive version number such as 28",
                key("api_version")
            )));
        }
        let base_dir = profile.base_dir();
        let client_secret = self
            .client_secret
            .resolve(&key("client_secret"), base_dir)?;
        self.refuse_foreign_fields(name)?;
        let need = |field: &str, v: bool| -> Result<()> {
            if v {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "grant = \"{}\" needs `{}`; add it to the profile",
                    self.grant.as_str(),
                    key(field)
                )))
            }
        };
        let credentials = match self.grant {
            Grant::AuthorizationCode => Credentials::AuthorizationCode,
            Grant::RefreshToken => {
                need("refresh_token", self.refresh_token.is_some())?;
                let r = self.refresh_token.as_ref().expect("checked");
                Credentials::RefreshToken(r.resolve(&key("refresh_token"), base_dir)?)
            }
            Grant::Password => {
                need("username", self.username.is_some())?;
                need("password", self.password.is_some())?;
                let p = self.password.as_ref().expect("checked");
                Credentials::Password {
                    username: self.username.clone().expect("checked"),
                    password: p.resolve(&key("password"), base_dir)?,
                }
            }
            Grant::Signature => {
                need("user", self.user.is_some())?;
                need("signature_key", self.signature_key.is_some())?;
                let k = self.signature_key.as_ref().expect("checked");
                Credentials::Signature {
                    user: self.user.clone().expect("checked"),
                    key: k.resolve(&key("signature_key"), base_dir)?,
                }
            }
            Grant::Jwt => {
                need("user", self.user.is_some())?;
                need("jwt_private_key_file", self.jwt_private_key_file.is_some())?;
                let path =
                    profile.resolve_path(self.jwt_private_key_file.as_ref().expect("checked"));
                // Bounded: a FIFO, a device or a huge file is refused before it is read.
                let pem = read_small_text(&path, PRIVATE_KEY_FILE).map_err(|e| {
                    Error::config(format!(
                        "`{}`: {}",
                        key("jwt_private_key_file"),
                        e.message()
                    ))
                })?;
                Credentials::Jwt {
                    user: self.user.clone().expect("checked"),
                    key_pem: Secret::new(pem),
                }
            }
        };
        for (field, value) in [("user", &self.user), ("username", &self.username)] {
            if let Some(v) = value {
                if v.trim().is_empty() || v.chars().any(char::is_control) {
                    return Err(Error::config(format!(
                        "`{}` is empty or has control characters",
                        key(field)
                    )));
                }
            }
        }
        if let Some(scope) = &self.scope {
            if scope.chars().any(char::is_control) {
                return Err(Error::config(format!(
                    "`{}` has control characters",
                    key("scope")
                )));
            }
        }
        let redirect_raw = self.redirect_uri.as_deref().unwrap_or(DEFAULT_REDIRECT);
        let redirect_uri = Url::parse(redirect_raw).map_err(|e| {
            Error::config(format!(
                "`{}` is not a valid URL ({e})",
                key("redirect_uri")
            ))
        })?;
        if self.grant == Grant::AuthorizationCode
            && (redirect_uri.scheme() != "http"
                || !securesend_core::config::is_loopback(&redirect_uri))
        {
            return Err(Error::config(format!(
                "`{}` must be a loopback address such as http://127.0.0.1:8400/callback, where `securesend login` receives the code",
                key("redirect_uri")
            )));
        }
        if self.max_chunk_size == 0 || usize::try_from(self.max_chunk_size).is_err() {
            return Err(Error::config(format!(
                "`{}` must be at least 1 byte and fit in memory",
                key("max_chunk_size")
            )));
        }
        if self.attachment_concurrency == 0 {
            return Err(Error::config(format!(
                "`{}` must be at least 1",
                key("attachment_concurrency")
            )));
        }
        if self.grant == Grant::Jwt && !(1..=3600).contains(&self.jwt_lifetime_secs) {
            return Err(Error::config(format!(
                "`{}` must be between 1 and 3600 seconds",
                key("jwt_lifetime_secs")
            )));
        }
        let upload_folder = match &self.upload_folder {
            Some(f) => {
                let n = securesend_core::request::normalize_folder(f).map_err(|e| {
                    Error::config(format!("`{}`: {}", key("upload_folder"), e.message()))
                })?;
                Some(n).filter(|n| !n.is_empty())
            }
            None => None,
        };
        let state_dir = match &self.state_dir {
            // Rebuilt from its components: a trailing `/` would make the link check below
            // look through a link instead of at it.
            Some(d) => Some(profile.resolve_path(d).components().collect::<PathBuf>()),
            None => dirs::data_local_dir().map(|d| {
                d.join("securesend")
                    .join("kiteworks")
                    .join(securesend_core::names::sanitize_file_name(name))
            }),
        };
        if let Some(dir) = &state_dir {
            check_state_dir(dir, self.state_dir.is_some(), &key("state_dir"))?;
        }
        let audience = base.as_str().trim_end_matches('/').to_owned();
        Ok(Settings {
            profile: name.to_owned(),
            base,
            api_version: self.api_version.to_string(),
            client_id: self.client_id.trim().to_owned(),
            client_secret,
            grant: self.grant,
            credentials,
            scope: self.scope.clone().filter(|s| !s.trim().is_empty()),
            redirect_uri,
            login_timeout: std::time::Duration::from_secs(self.login_timeout_secs.max(1)),
            signature_timestamp: self.signature_timestamp,
            jwt_algorithm: self.jwt_algorithm,
            jwt_issuer: self
                .jwt_issuer
                .clone()
                .unwrap_or_else(|| self.client_id.trim().to_owned()),
            jwt_audience: self.jwt_audience.clone().unwrap_or(audience),
            jwt_lifetime: self.jwt_lifetime_secs,
            clock_skew: self.clock_skew_secs,
            state_dir,
            token_cache: self.token_cache,
            max_chunk_size: self.max_chunk_size,
            upload_folder,
            attachment_concurrency: self.attachment_concurrency,
            fingerprint_wait: std::time::Duration::from_secs(self.fingerprint_wait_secs),
            verify: self.verify,
            chunk_endpoint: self.chunk_endpoint,
            acl: self.acl,
            secure_body: self.secure_body,
            self_copy: self.self_copy,
            include_fingerprint: self.include_fingerprint,
            rate_limit_codes: self.rate_limit_codes.clone(),
            http: self.http.clone(),
            base_dir: profile.base_dir().to_path_buf(),
        })
    }

    /// A field meant for another grant is almost always a mistake (a copied profile, a wrong
    /// `grant`); say so instead of ignoring it.
    fn refuse_foreign_fields(&self, name: &str) -> Result<()> {
        let g = self.grant;
        let fields: [(&str, bool, &[Grant]); 9] = [
            ("username", self.username.is_some(), &[Grant::Password]),
            ("password", self.password.is_some(), &[Grant::Password]),
            (
                "refresh_token",
                self.refresh_token.is_some(),
                &[Grant::RefreshToken],
            ),
            ("user", self.user.is_some(), &[Grant::Signature, Grant::Jwt]),
            (
                "signature_key",
                self.signature_key.is_some(),
                &[Grant::Signature],
            ),
            (
                "jwt_private_key_file",
                self.jwt_private_key_file.is_some(),
                &[Grant::Jwt],
            ),
            ("jwt_issuer", self.jwt_issuer.is_some(), &[Grant::Jwt]),
            ("jwt_audience", self.jwt_audience.is_some(), &[Grant::Jwt]),
            (
                "redirect_uri",
                self.redirect_uri.is_some(),
                &[Grant::AuthorizationCode, Grant::Signature],
            ),
        ];
        for (field, set, grants) in fields {
            if set && !grants.contains(&g) {
                let used: Vec<String> = grants
                    .iter()
                    .map(|g| format!("\"{}\"", g.as_str()))
                    .collect();
                return Err(Error::config(format!(
                    "`profiles.{name}.{field}` is used only with grant = {}, but the profile has grant = \"{}\"",
                    used.join(" or "),
                    g.as_str()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> ProfileConfig {
        let t: toml::Table = text.parse().unwrap();
        ProfileConfig::new("p", "kiteworks", t, ".")
    }

    const BASE: &str = r#"
base_url = "https://kw.example.com"
client_id = "cid"
client_secret = "canary-secret"
"#;

    fn resolve(extra: &str) -> Result<Settings> {
        let p = profile(&format!("{BASE}{extra}"));
        KiteworksConfig::from_profile(&p)?.resolve(&p)
    }

    #[test]
    fn each_grant_names_what_it_misses() {
        for (grant, missing) in [
            ("password", "username"),
            ("signature", "user"),
            ("jwt", "user"),
            ("refresh_token", "refresh_token"),
        ] {
            let e = resolve(&format!("grant = \"{grant}\"\n")).unwrap_err();
            assert!(e.is_configuration(), "{e}");
            assert!(
                e.to_string().contains(&format!("profiles.p.{missing}")),
                "{e}"
            );
        }
        let s = resolve("grant = \"password\"\nusername = \"u\"\npassword = \"pw\"\n").unwrap();
        assert_eq!(s.api_version, "28");
        assert_eq!(s.jwt_audience, "https://kw.example.com");
    }

    #[test]
    fn foreign_and_unknown_fields_are_refused() {
        let e = resolve(
            "grant = \"password\"\nusername = \"u\"\npassword = \"pw\"\nsignature_key = \"k\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("signature_key"), "{e}");
        let p = profile(&format!("{BASE}grant = \"jwt\"\nclient_scret = \"x\"\n"));
        let e = KiteworksConfig::from_profile(&p).unwrap_err();
        assert!(e.to_string().contains("profiles.p.client_scret"), "{e}");
        let e =
            resolve("grant = \"authorization_code\"\nredirect_uri = \"https://evil.example/cb\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[test]
    fn debug_hides_secrets() {
        let p = profile(&format!(
            "{BASE}grant = \"password\"\nusername = \"u\"\npassword = \"canary-pw\"\n"
        ));
        let c = KiteworksConfig::from_profile(&p).unwrap();
        let s = c.resolve(&p).unwrap();
        for shown in [format!("{c:?}"), format!("{s:?}")] {
            assert!(!shown.contains("canary"), "{shown}");
        }
    }
}
