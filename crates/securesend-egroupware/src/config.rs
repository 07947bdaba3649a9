//! Configuration of the EGroupware provider.

use serde::Deserialize;

use securesend_core::config::ProfileConfig;
use securesend_core::http::HttpSettings;
use securesend_core::{Address, Error, Result, SecretRef};

/// EGroupware keeps an uploaded attachment as `attach--<name>--XXXXXX` through PHP's
/// `tempnam`, which keeps 63 bytes of prefix: names longer than this lose the `--` and the
/// returned token can never be used.
pub const DEFAULT_MAX_ATTACHMENT_NAME_BYTES: usize = 53;

/// The body limit of EGroupware's shipped web server configurations (`post_max_size` 65M,
/// `client_max_body_size` 65M); a larger attachment upload arrives empty or is refused.
pub const DEFAULT_MAX_ATTACHMENT_SIZE: u64 = 64 << 20;

/// The largest `PROPFIND` answer read for one folder listing: 32 MiB, some fifty thousand
/// entries. EGroupware answers a folder in one piece, so a larger folder needs a larger cap.
pub const DEFAULT_MAX_LISTING_BYTES: u64 = 32 << 20;

/// Fields of a `provider = "egroupware"` profile.
///
/// ```toml
/// [profiles.groupware]
/// provider = "egroupware"
/// base_url = "https://groupware.example.com/egroupware/"   # the EGroupware root
/// username = "ralf"
/// password = { env = "EGW_PASSWORD" }            # or: app_password = { env = "EGW_APP_PASSWORD" }
/// identity = 12                                   # optional: send as this ident_id
/// from = "ralf@example.com"                       # optional: send as the identity with this address
/// ```
///
/// ```
/// use securesend_egroupware::EgroupwareConfig;
/// let c: EgroupwareConfig = toml::from_str(r#"
///     base_url = "https://egw.example.com/egroupware/"
///     username = "ralf"
///     app_password = { env = "EGW_APP_PASSWORD" }
/// "#).unwrap();
/// assert_eq!(c.max_attachment_name_bytes, 53);
/// assert!(toml::from_str::<EgroupwareConfig>("base_url = \"x\"\nusername = \"r\"\npasword = \"p\"").is_err());
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EgroupwareConfig {
    /// The EGroupware root, such as `https://host/egroupware/`; `groupdav.php` (mail REST API)
    /// and `webdav.php` (files) are found below it. A URL ending in `groupdav.php` or
    /// `webdav.php` is accepted too.
    pub base_url: String,
    /// The EGroupware login.
    pub username: String,
    /// The account password. Exactly one of `password` and `app_password` is required.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// An application password (`token<id>_<16 letters or digits>`), created under
    /// Preferences or Admin → "Application passwords". Sent exactly like a password.
    #[serde(default)]
    pub app_password: Option<SecretRef>,
    /// Send as the identity with this `ident_id` (see `GET /mail`).
    #[serde(default)]
    pub identity: Option<u64>,
    /// Send as the identity with this address (matched case-insensitively).
    #[serde(default)]
    pub from: Option<Address>,
    /// Use user-prefixed paths (`/<username>/mail/…`).
    #[serde(default)]
    pub user_prefix: bool,
    /// The WebDAV folder uploads go below and relative download ids start from;
    /// default `/home/<username>`.
    #[serde(default)]
    pub webdav_home: Option<String>,
    /// `community` (default) or `epl`. Share passwords, share expiry and writable shares need
    /// EGroupware's EPL edition; on `community` they are refused before any request.
    #[serde(default)]
    pub edition: Edition,
    /// Ask for attachment uploads to be answered 200 without a `Location` header
    /// (`X-No-Location: true`), for proxies that mishandle 201 + `Location`.
    #[serde(default)]
    pub no_location: bool,
    /// Largest attachment uploaded for a message, in bytes (default 64 MiB, the body limit of
    /// EGroupware's shipped web server configurations). Larger files fail before any request.
    #[serde(default = "default_max_attachment_size")]
    pub max_attachment_size: u64,
    /// Longest attachment name EGroupware can keep in an upload token, in bytes (default 53).
    #[serde(default = "default_max_name_bytes")]
    pub max_attachment_name_bytes: usize,
    /// What happens to a longer attachment name: `shorten` it (default; the receipt says so)
    /// or `refuse` the message before any request.
    #[serde(default)]
    pub long_attachment_names: LongNames,
    /// Largest `PROPFIND` answer read for one folder listing, in bytes (default 32 MiB).
    /// EGroupware answers a folder in one piece; a listing above the cap fails rather than
    /// showing part of the folder.
    #[serde(default = "default_max_listing_bytes")]
    pub max_listing_bytes: u64,
    /// Allow `http://` to a host other than this machine (credentials then travel in clear).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Timeouts, proxy, CA roots, retries.
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_max_attachment_size() -> u64 {
    DEFAULT_MAX_ATTACHMENT_SIZE
}

fn default_max_listing_bytes() -> u64 {
    DEFAULT_MAX_LISTING_BYTES
}

fn default_max_name_bytes() -> usize {
    DEFAULT_MAX_ATTACHMENT_NAME_BYTES
}

/// Which EGroupware edition the server runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edition {
    /// The community edition: shares without password, expiry or write access.
    #[default]
    Community,
    /// The EPL edition: share passwords, share expiry and writable shares.
    Epl,
}

/// What to do with an attachment name longer than EGroupware can keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongNames {
    /// Shorten it, keeping the extension, and say so in the receipt's warnings.
    #[default]
    Shorten,
    /// Refuse the message before any request.
    Refuse,
}

impl EgroupwareConfig {
    /// A configuration for `username` at `base_url` authenticating with `password`.
    pub fn new(
        base_url: impl Into<String>,
        username: impl Into<String>,
        password: SecretRef,
    ) -> Self {
        EgroupwareConfig {
            base_url: base_url.into(),
            username: username.into(),
            password: Some(password),
            app_password: None,
            identity: None,
            from: None,
            user_prefix: false,
            webdav_home: None,
            edition: Edition::default(),
            no_location: false,
            max_attachment_size: DEFAULT_MAX_ATTACHMENT_SIZE,
            max_attachment_name_bytes: DEFAULT_MAX_ATTACHMENT_NAME_BYTES,
            long_attachment_names: LongNames::default(),
            max_listing_bytes: DEFAULT_MAX_LISTING_BYTES,
            allow_insecure_http: false,
            http: HttpSettings::default(),
        }
    }

    /// Reads the fields of a profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<Self> {
        let config: EgroupwareConfig = profile.parse()?;
        config.check(&format!("profiles.{}", profile.name()))?;
        Ok(config)
    }

    /// Checks the fields that need more than their type; `at` names the table in errors.
    pub(crate) fn check(&self, at: &str) -> Result<()> {
        let user = &self.username;
        if user.trim().is_empty() {
            return Err(Error::config(format!(
                "`{at}.username` is empty; give the EGroupware login"
            )));
        }
        if user.contains(':') || user.chars().any(char::is_control) || user.trim() != user {
            return Err(Error::config(format!(
                "`{at}.username` contains a colon, a control character or surrounding spaces, which Basic authentication cannot carry"
            )));
        }
        match (&self.password, &self.app_password) {
            (Some(_), Some(_)) => {
                return Err(Error::config(format!(
                    "`{at}` sets both `password` and `app_password`; keep one"
                )));
            }
            (None, None) => {
                return Err(Error::config(format!(
                    "`{at}` needs `password` or `app_password` (an EGroupware application password)"
                )));
            }
            _ => {}
        }
        if self.identity.is_some() && self.from.is_some() {
            return Err(Error::config(format!(
                "`{at}` sets both `identity` and `from`; choose the identity one way"
            )));
        }
        if self.max_attachment_name_bytes < 8 {
            return Err(Error::config(format!(
                "`{at}.max_attachment_name_bytes` must be at least 8"
            )));
        }
        if self.max_listing_bytes < 1024 {
            return Err(Error::config(format!(
                "`{at}.max_listing_bytes` must be at least 1024"
            )));
        }
        if self.max_attachment_size == 0 {
            return Err(Error::config(format!(
                "`{at}.max_attachment_size` must be at least 1 byte"
            )));
        }
        Ok(())
    }
}
