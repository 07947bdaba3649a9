//! Configuration of a `provider = "tuyu"` profile.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use securesend_core::config::{ProfileConfig, check_base_url};
use securesend_core::http::HttpSettings;
use securesend_core::request::normalize_folder;
use securesend_core::{Error, Result, Secret, SecretRef};

use crate::auth::{Encoding, HexCase, Space};

/// The longest link expiration `file_send` accepts, in days (also its default).
pub const MAX_LINK_EXPIRATION_DAYS: u32 = 15;

/// Fields of a `provider = "tuyu"` profile.
///
/// ```toml
/// [profiles.work]
/// provider = "tuyu"
/// base_url = "https://acme.filetransfers.net"
/// api_key = { env = "TUYU_API_KEY" }
/// api_secret = { env = "TUYU_API_SECRET" }
/// workspace_path = "/Designers_workspace/"   # where attachments are uploaded before sending
///
/// # optional
/// folder_root = "/"                           # where upload folders, `ls` and `mkdir` paths start
/// auth_code = { env = "TUYU_AUTH_CODE" }      # act for another user with a code from user_auth
/// format = "json"                             # or "xml": which answers the site is asked for
/// message_folders = true                      # each message's files in a folder of their own
/// upload_path_encoded = true                  # file_upload's path sent URL-encoded
/// link_expiration_days = 15                   # for messages without an expiry; 0 = never
/// bcc = false                                 # the site honours file_send's bcc flag
/// max_file_size = 2147483648                  # bytes
///
/// [profiles.work.act_as]                      # or: obtain the auth code with user_auth
/// username = "ann"
/// password = { env = "TUYU_ANN_PASSWORD" }
///
/// [profiles.work.signing]                     # only when the site differs from the defaults
/// base_url = "https://acme.filetransfers.net" # the URL prefix that is signed
/// space = "plus"                              # or "percent"
/// hex_case = "upper"                          # or "lower"
/// encode_tilde = true
/// sign_format_suffix = true
///
/// [profiles.work.clock]
/// offset_secs = 0
/// sync_from_server = true
/// max_skew_secs = 30
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuyuConfig {
    /// The profile these fields came from, so errors and warnings name `profiles.<name>.<field>`.
    #[serde(skip)]
    profile: Option<String>,
    /// The site, such as `https://acme.filetransfers.net`; `/api/<method>` is appended.
    pub base_url: String,
    /// Accept `http://` to a host that is not this machine.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The API key.
    pub api_key: SecretRef,
    /// The API secret; only its SHA-1 is used, as the HMAC key.
    pub api_secret: SecretRef,
    /// An auth code from `user_auth`, to act for that user.
    #[serde(default)]
    pub auth_code: Option<SecretRef>,
    /// A user to act for; the adapter obtains (and renews) the auth code with `user_auth`.
    #[serde(default)]
    pub act_as: Option<ActAs>,
    /// The folder (`/Workspace_workspace/` or below) that attachments are uploaded into and
    /// that uploads without a folder go to.
    pub workspace_path: String,
    /// The Tuyu folder that folder paths start from: upload folders, `ls` and `mkdir`
    /// (`reports` → `<folder_root>reports/`). Default `/`, the site root, whose folders are the
    /// workspaces (`Designers_workspace/reports`). Set it to a workspace to give paths inside it.
    #[serde(default)]
    pub folder_root: Option<String>,
    /// Answers in JSON or XML.
    #[serde(default)]
    pub format: Format,
    /// Each message's attachments go into a new folder of their own under `workspace_path`,
    /// so equal names in two messages never clash and a failed send is removed in one call.
    #[serde(default = "yes")]
    pub message_folders: bool,
    /// The link expiration (days) for messages that set no expiry; 0 means never. Unset leaves
    /// the service's default (15).
    #[serde(default)]
    pub link_expiration_days: Option<u32>,
    /// Whether the site honours `file_send`'s `bcc` flag (FileGenius documents it; Tuyu's page
    /// is cut). Off by default: a site that ignored it would show recipients to each other.
    #[serde(default)]
    pub bcc: bool,
    /// Largest file accepted, in bytes.
    #[serde(default)]
    pub max_file_size: Option<u64>,
    /// Whether `file_upload`'s `path` is sent URL-encoded (`%2FW_workspace%2F`), as the
    /// documentation asks for path values, or as is. Default: encoded.
    #[serde(default = "yes")]
    pub upload_path_encoded: bool,
    /// How requests are signed, where a site differs from the documented defaults.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Timestamps.
    #[serde(default)]
    pub clock: ClockConfig,
    /// HTTP settings.
    #[serde(default)]
    pub http: HttpSettings,
}

fn yes() -> bool {
    true
}

impl fmt::Debug for TuyuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TuyuConfig")
            .field("base_url", &self.base_url)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("api_key", &self.api_key)
            .field("api_secret", &self.api_secret)
            .field("auth_code", &self.auth_code)
            .field("act_as", &self.act_as)
            .field("workspace_path", &self.workspace_path)
            .field("folder_root", &self.folder_root)
            .field("format", &self.format)
            .field("message_folders", &self.message_folders)
            .field("link_expiration_days", &self.link_expiration_days)
            .field("bcc", &self.bcc)
            .field("max_file_size", &self.max_file_size)
            .field("upload_path_encoded", &self.upload_path_encoded)
            .field("signing", &self.signing)
            .field("clock", &self.clock)
            .field("http", &self.http)
            .finish()
    }
}

/// A user the adapter acts for, signing in with `user_auth`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActAs {
    /// The user's name on the site.
    pub username: String,
    /// The user's password; `user_auth` receives its SHA-1 (hex), never the password.
    pub password: SecretRef,
}

/// Which answer format the site is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// No suffix: JSON.
    #[default]
    Json,
    /// The `.xml` suffix: XML.
    Xml,
}

impl Format {
    /// The suffix appended to the method name.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Json => "",
            Format::Xml => ".xml",
        }
    }
}

/// Signing details the documentation leaves open.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// The scheme, host and path prefix that go into the signed URL, when they differ from
    /// `base_url` (a proxy or custom domain in front of the site). Default: `base_url`.
    pub base_url: Option<String>,
    /// How a space in a GET value is encoded: `plus` (PHP `urlencode`, the default) or
    /// `percent` (`%20`).
    pub space: Space,
    /// Hex digits of percent-escapes: `upper` (`%2F`, as documented) or `lower`.
    pub hex_case: HexCase,
    /// Whether `~` is escaped (`%7E`, as PHP `urlencode` does; the default) or kept.
    pub encode_tilde: bool,
    /// Whether the `.xml` suffix is part of the signed URL (default yes: it is part of "the URL").
    pub sign_format_suffix: bool,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            base_url: None,
            space: Space::Plus,
            hex_case: HexCase::Upper,
            encode_tilde: true,
            sign_format_suffix: true,
        }
    }
}

impl SigningConfig {
    /// The value encoding these settings describe.
    pub fn encoding(&self) -> Encoding {
        Encoding {
            space: self.space,
            hex_case: self.hex_case,
            encode_tilde: self.encode_tilde,
        }
    }
}

/// Timestamps: the system clock, corrected where told.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// Seconds added to the system clock for every timestamp (a known skew).
    pub offset_secs: i64,
    /// After an `Authentication Failed` answer whose `Date` header is more than
    /// `max_skew_secs` away from our clock, adopt the service's time and try once more (the
    /// refusal proves the request was not carried out).
    pub sync_from_server: bool,
    /// The difference, in seconds, beyond which the clocks are taken to disagree.
    pub max_skew_secs: u64,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            offset_secs: 0,
            sync_from_server: true,
            max_skew_secs: 30,
        }
    }
}

/// A profile checked and with its secrets resolved: what the client runs on.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub base_url: Url,
    pub signed_base: String,
    pub api_key: Secret,
    pub api_secret: Secret,
    pub auth_code: Option<Secret>,
    pub act_as: Option<(String, Secret)>,
    pub workspace_path: String,
    /// `/…/`; `/` for the site root.
    pub folder_root: String,
    pub config: TuyuConfig,
    pub base_dir: PathBuf,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("base_url", &self.base_url.as_str())
            .field("signed_base", &self.signed_base)
            .field("workspace_path", &self.workspace_path)
            .field("folder_root", &self.folder_root)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TuyuConfig {
    /// Reads the fields of a profile.
    pub fn from_profile(profile: &ProfileConfig) -> Result<TuyuConfig> {
        let mut config: TuyuConfig = profile.parse()?;
        config.profile = Some(profile.name().to_owned());
        Ok(config)
    }

    /// A field's name as the user wrote it: `profiles.<name>.<field>` when read from a profile.
    fn field(&self, name: &str) -> String {
        match &self.profile {
            Some(p) => format!("profiles.{p}.{name}"),
            None => name.to_owned(),
        }
    }

    /// Checks every field and resolves the secrets; `base_dir` anchors relative secret files.
    pub(crate) fn resolve(self, base_dir: &Path) -> Result<Resolved> {
        let base_url = check_base_url("base_url", &self.base_url, self.allow_insecure_http)?;
        let signed_base = match &self.signing.base_url {
            None => base_url.as_str().to_owned(),
            Some(raw) => check_base_url("signing.base_url", raw, true)?
                .as_str()
                .to_owned(),
        };
        let api_key = self.api_key.resolve(&self.field("api_key"), base_dir)?;
        let api_secret = self
            .api_secret
            .resolve(&self.field("api_secret"), base_dir)?;
        for (field, value) in [("api_key", &api_key), ("api_secret", &api_secret)] {
            if value.expose().trim().is_empty() {
                return Err(Error::config(format!(
                    "`{field}` is empty; give the site's {field}"
                )));
            }
        }
        let auth_code = match &self.auth_code {
            Some(r) => Some(r.resolve(&self.field("auth_code"), base_dir)?),
            None => None,
        };
        if auth_code.is_some() && self.act_as.is_some() {
            return Err(Error::config(
                "set `auth_code` or `act_as`, not both: both say whom to act for",
            ));
        }
        let act_as = match &self.act_as {
            Some(a) => {
                if a.username.trim().is_empty() {
                    return Err(Error::config("`act_as.username` is empty"));
                }
                Some((
                    a.username.clone(),
                    a.password
                        .resolve(&self.field("act_as.password"), base_dir)?,
                ))
            }
            None => None,
        };
        let workspace_path = folder_path("workspace_path", &self.workspace_path)?;
        if workspace_path == "/" {
            return Err(Error::config(
                "`workspace_path` is the site root `/`, which only administrators may use and which is in no workspace; give a workspace such as \"/Designers_workspace/\"",
            ));
        }
        let folder_root = match &self.folder_root {
            Some(raw) => folder_path("folder_root", raw)?,
            None => "/".to_owned(),
        };
        if let Some(days) = self.link_expiration_days {
            if days > MAX_LINK_EXPIRATION_DAYS {
                return Err(Error::config(format!(
                    "`link_expiration_days` is {days}; Tuyu keeps links at most {MAX_LINK_EXPIRATION_DAYS} days (0 = never expires)"
                )));
            }
        }
        if self.clock.max_skew_secs == 0 {
            return Err(Error::config("`clock.max_skew_secs` must be at least 1"));
        }
        Ok(Resolved {
            base_url,
            signed_base,
            api_key,
            api_secret,
            auth_code,
            act_as,
            workspace_path,
            folder_root,
            config: self,
            base_dir: base_dir.to_path_buf(),
        })
    }
}

/// A Tuyu folder path, `/a/b/`: normalised from `a/b`, `/a/b` or `/a//b/`, each component a
/// valid name and no `..`. The bare root is `/`.
///
/// ```
/// use securesend_tuyu::folder_path;
/// assert_eq!(folder_path("path", "Designers_workspace/reports").unwrap(), "/Designers_workspace/reports/");
/// assert_eq!(folder_path("path", "/").unwrap(), "/");
/// assert!(folder_path("path", "/a/../b").is_err());
/// ```
pub fn folder_path(field: &str, raw: &str) -> Result<String> {
    let parts =
        normalize_folder(raw).map_err(|e| Error::config(format!("`{field}`: {}", e.message())))?;
    Ok(if parts.is_empty() {
        "/".to_owned()
    } else {
        format!("/{parts}/")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> ProfileConfig {
        let text = format!(
            "[profiles.t]\nprovider = \"tuyu\"\nbase_url = \"https://acme.filetransfers.net\"\napi_key = \"k\"\napi_secret = \"canary-secret\"\nworkspace_path = \"Designers_workspace\"\n{extra}"
        );
        securesend_core::config::ConfigFile::parse(&text, ".")
            .unwrap()
            .profile(Some("t"))
            .unwrap()
    }

    #[test]
    fn defaults_and_normalised_path() {
        let c = TuyuConfig::from_profile(&profile("")).unwrap();
        let r = c.resolve(Path::new(".")).unwrap();
        assert_eq!(r.workspace_path, "/Designers_workspace/");
        assert_eq!(r.signed_base, "https://acme.filetransfers.net/");
        assert!(r.config.message_folders && !r.config.bcc);
        assert_eq!(r.config.format, Format::Json);
        assert_eq!(r.folder_root, "/");
        assert!(!format!("{r:?} {:?}", r.config).contains("canary"));
        let r = TuyuConfig::from_profile(&profile("folder_root = \"Designers_workspace//in\""))
            .unwrap()
            .resolve(Path::new("."))
            .unwrap();
        assert_eq!(r.folder_root, "/Designers_workspace/in/");
    }

    #[test]
    fn bad_fields_are_named() {
        for (extra, needle) in [
            ("workspace_pth = \"x\"", "profiles.t.workspace_pth"),
            ("link_expiration_days = 16", "link_expiration_days"),
            ("folder_root = \"/a/../b\"", "folder_root"),
            (
                "[profiles.t.signing]\nspace = \"tab\"",
                "profiles.t.signing.space",
            ),
        ] {
            let e = TuyuConfig::from_profile(&profile(extra))
                .and_then(|c| c.resolve(Path::new(".")).map(|_| ()))
                .unwrap_err();
            assert!(
                e.is_configuration() && e.to_string().contains(needle),
                "{e}"
            );
        }
        let mut c = TuyuConfig::from_profile(&profile("")).unwrap();
        c.workspace_path = "/".into();
        assert!(
            c.resolve(Path::new("."))
                .unwrap_err()
                .to_string()
                .contains("root")
        );
        let mut c = TuyuConfig::from_profile(&profile("")).unwrap();
        c.base_url = "http://acme.filetransfers.net".into();
        assert!(c.resolve(Path::new(".")).unwrap_err().is_configuration());
    }
}
