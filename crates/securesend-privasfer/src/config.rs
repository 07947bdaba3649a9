//! Configuration of the Privasfer provider.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use time::UtcOffset;
use time::macros::format_description;
use url::Url;

use securesend_core::config::{ProfileConfig, check_base_url, is_loopback};
use securesend_core::http::{HttpSettings, is_secret_param};
use securesend_core::{Error, Result, Secret, SecretRef};

/// The documented API base (`https://privasfer.com/api`).
pub const DEFAULT_BASE_URL: &str = "https://privasfer.com/api";

/// The URL the bytes are fetched from, with the public download key. **An assumption**: the
/// documentation does not show this URL (see the crate docs and `docs/providers/privasfer.md`).
pub const DEFAULT_DOWNLOAD_URL: &str = "{base_url}downloads/{download_id}?key={key}";

/// Fields of a `provider = "privasfer"` profile, as written.
///
/// ```toml
/// [profiles.files]
/// provider = "privasfer"
/// token = { env = "PRIVASFER_TOKEN" }   # API token (profile → API settings)
/// pin = { env = "PRIVASFER_PIN" }       # the account's PIN
/// base_url = "https://privasfer.com/api"                          # optional, this is the default
/// download_url = "{base_url}downloads/{download_id}?key={key}"    # optional, assumed default
/// reuse_temporary_key = false   # optional: keep the temporary key between downloads
/// timestamp_offset = "+00:00"   # optional: the zone of the service's timestamps
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    base_url: Option<String>,
    token: SecretRef,
    pin: SecretRef,
    #[serde(default)]
    download_url: Option<String>,
    #[serde(default)]
    reuse_temporary_key: bool,
    #[serde(default)]
    timestamp_offset: Option<String>,
    #[serde(default)]
    allow_insecure_http: bool,
    #[serde(default)]
    http: HttpSettings,
}

/// A checked Privasfer configuration. Its Debug shows no secret.
///
/// ```
/// use securesend_privasfer::PrivasferConfig;
/// let config = PrivasferConfig::new("https://privasfer.com/api", "tok", "1a2s3d")?
///     .with_reuse_temporary_key(true);
/// assert_eq!(config.base_url().as_str(), "https://privasfer.com/api/");
/// assert!(!format!("{config:?}").contains("1a2s3d"));
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivasferConfig {
    base_url: Url,
    token: Secret,
    pin: Secret,
    download_url: DownloadUrl,
    reuse_temporary_key: bool,
    timestamp_offset: UtcOffset,
    allow_insecure_http: bool,
    http: HttpSettings,
    base_dir: PathBuf,
}

impl fmt::Debug for PrivasferConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivasferConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token)
            .field("pin", &self.pin)
            .field("download_url", &self.download_url.template())
            .field("reuse_temporary_key", &self.reuse_temporary_key)
            .field("timestamp_offset", &self.timestamp_offset)
            .field("http", &self.http)
            .finish()
    }
}

impl PrivasferConfig {
    /// A configuration with the API at `base_url` and the defaults for everything else.
    pub fn new(
        base_url: &str,
        token: impl Into<Secret>,
        pin: impl Into<Secret>,
    ) -> Result<PrivasferConfig> {
        let base_url = check_base_url("base_url", base_url, false)?;
        let download_url = DownloadUrl::parse(DEFAULT_DOWNLOAD_URL, &base_url, false)?;
        let (token, pin) = (token.into(), pin.into());
        if token.is_empty() || pin.is_empty() {
            return Err(Error::config(
                "`token` and `pin` must not be empty; give the API token and the account's PIN",
            ));
        }
        Ok(PrivasferConfig {
            base_url,
            token,
            pin,
            download_url,
            reuse_temporary_key: false,
            timestamp_offset: UtcOffset::UTC,
            allow_insecure_http: false,
            http: HttpSettings::default(),
            base_dir: PathBuf::from("."),
        })
    }

    /// Reads a profile: secrets are resolved and every field is checked, with no request made.
    pub fn from_profile(profile: &ProfileConfig) -> Result<PrivasferConfig> {
        let fields: Fields = profile.parse()?;
        let at = |key: &str| format!("profiles.{}.{key}", profile.name());
        let raw_base = fields.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let base_url = check_base_url(&at("base_url"), raw_base, fields.allow_insecure_http)?;
        let token = fields.token.resolve(&at("token"), profile.base_dir())?;
        let pin = fields.pin.resolve(&at("pin"), profile.base_dir())?;
        let template = fields
            .download_url
            .as_deref()
            .unwrap_or(DEFAULT_DOWNLOAD_URL);
        let download_url = DownloadUrl::parse(template, &base_url, fields.allow_insecure_http)
            .map_err(|e| Error::config(format!("`{}`: {}", at("download_url"), e.message())))?;
        let timestamp_offset = match fields.timestamp_offset.as_deref() {
            Some(raw) => parse_offset(raw).map_err(|e| {
                Error::config(format!("`{}`: {}", at("timestamp_offset"), e.message()))
            })?,
            None => UtcOffset::UTC,
        };
        Ok(PrivasferConfig {
            base_url,
            token,
            pin,
            download_url,
            reuse_temporary_key: fields.reuse_temporary_key,
            timestamp_offset,
            allow_insecure_http: fields.allow_insecure_http,
            http: fields.http,
            base_dir: profile.base_dir().to_path_buf(),
        })
    }

    /// Replaces the byte-URL template; see [`DownloadUrl::parse`].
    pub fn with_download_url(mut self, template: &str) -> Result<PrivasferConfig> {
        self.download_url = DownloadUrl::parse(template, &self.base_url, self.allow_insecure_http)?;
        Ok(self)
    }

    /// Keeps the temporary key between downloads for its life instead of revoking it when
    /// the last download using it ends; [`crate::PrivasferProvider::close`] revokes it.
    pub fn with_reuse_temporary_key(mut self, on: bool) -> PrivasferConfig {
        self.reuse_temporary_key = on;
        self
    }

    /// The zone the service's timestamps are in (they carry none).
    pub fn with_timestamp_offset(mut self, offset: UtcOffset) -> PrivasferConfig {
        self.timestamp_offset = offset;
        self
    }

    /// Replaces the HTTP settings.
    pub fn with_http(mut self, http: HttpSettings) -> PrivasferConfig {
        self.http = http;
        self
    }

    /// The API base, ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// The byte-URL template.
    pub fn download_url(&self) -> &DownloadUrl {
        &self.download_url
    }
    /// Whether the temporary key is kept between downloads.
    pub fn reuse_temporary_key(&self) -> bool {
        self.reuse_temporary_key
    }
    /// The zone of the service's timestamps.
    pub fn timestamp_offset(&self) -> UtcOffset {
        self.timestamp_offset
    }
    /// The HTTP settings.
    pub fn http(&self) -> &HttpSettings {
        &self.http
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }
    pub(crate) fn pin(&self) -> &Secret {
        &self.pin
    }
    pub(crate) fn base_dir(&self) -> &std::path::Path {
        &self.base_dir
    }
}

/// `+02:00`, `-05:30`, `Z` or `UTC`.
fn parse_offset(raw: &str) -> Result<UtcOffset> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("z") || raw.eq_ignore_ascii_case("utc") {
        return Ok(UtcOffset::UTC);
    }
    let format = format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(raw, format).map_err(|_| {
        Error::config(format!(
            "{raw:?} is not a UTC offset; write it as \"+02:00\" (or \"UTC\")"
        ))
    })
}

/// Where in the URL the public key goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPlacement {
    /// As the value of a query parameter whose name marks it secret (`key=`), which every
    /// URL shown in logs and errors has redacted.
    Query,
    /// In the path; requests to it are sent with their path hidden from traces and errors.
    Path,
}

/// The template of the URL that serves a download's bytes.
///
/// Placeholders: `{base_url}` (the API base, ending in `/`; only at the start), `{download_id}`
/// and `{key}` (the public download key, exactly once). The key must sit in the path or be
/// the value of a query parameter with a secret-sounding name (`key`, `token`, `*_key`, …), so
/// it never appears in a log line.
///
/// ```
/// use securesend_privasfer::{DownloadUrl, KeyPlacement};
/// let base = url::Url::parse("https://privasfer.com/api/").unwrap();
/// let d = DownloadUrl::parse("{base_url}downloads/{download_id}?key={key}", &base, false)?;
/// assert_eq!(d.key_placement(), KeyPlacement::Query);
/// let p = DownloadUrl::parse("https://privasfer.com/download/{key}", &base, false)?;
/// assert_eq!(p.key_placement(), KeyPlacement::Path);
/// assert!(DownloadUrl::parse("{base_url}d/{download_id}?id={key}", &base, false).is_err());
/// # Ok::<(), securesend_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadUrl {
    template: String,
    placement: KeyPlacement,
}

const SAMPLE_ID: &str = "00000000-0000-4000-8000-000000000000";
const SAMPLE_KEY: &str = "SampleKeySampleKeySampleKey12345";

impl DownloadUrl {
    /// Checks a template against `base_url`: known placeholders only, `{key}` exactly once in
    /// a place that is never logged, and a resulting URL that is `https` (or `http` to a
    /// loopback host, or anywhere with `allow_insecure_http`).
    pub fn parse(template: &str, base_url: &Url, allow_insecure_http: bool) -> Result<DownloadUrl> {
        let template = template.trim();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                Error::config(format!("download URL {template:?} has an unclosed `{{`"))
            })?;
            let name = &after[..close];
            if !matches!(name, "base_url" | "download_id" | "key") {
                return Err(Error::config(format!(
                    "download URL {template:?} has an unknown placeholder `{{{name}}}`; use {{base_url}}, {{download_id}} and {{key}}"
                )));
            }
            rest = &after[close + 1..];
        }
        if template.matches("{key}").count() != 1 {
            return Err(Error::config(format!(
                "download URL {template:?} must contain {{key}} exactly once"
            )));
        }
        if template.matches("{download_id}").count() > 1 {
            return Err(Error::config(format!(
                "download URL {template:?} contains {{download_id}} more than once"
            )));
        }
        if template.find("{base_url}").is_some_and(|i| i != 0)
            || template.matches("{base_url}").count() > 1
        {
            return Err(Error::config(format!(
                "download URL {template:?}: {{base_url}} may only start the template"
            )));
        }
        let at = template.find("{key}").unwrap_or(0);
        let before = &template[..at];
        let placement = if before.contains('#') {
            return Err(Error::config(format!(
                "download URL {template:?} puts {{key}} in the fragment, which is never sent"
            )));
        } else if let Some(q) = before.rfind('?') {
            let param = before[q + 1..].rsplit('&').next().unwrap_or("");
            let name = param.strip_suffix('=').unwrap_or("");
            if name.is_empty() || name.contains('=') || !is_secret_param(name) {
                return Err(Error::config(format!(
                    "download URL {template:?}: {{key}} must be the whole value of a parameter named like a secret (such as `key={{key}}`), so logs redact it"
                )));
            }
            KeyPlacement::Query
        } else {
            KeyPlacement::Path
        };
        let d = DownloadUrl {
            template: template.to_owned(),
            placement,
        };
        let sample = d.fill(base_url, SAMPLE_ID, SAMPLE_KEY)?;
        match sample.scheme() {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(&sample) => {}
            other => {
                return Err(Error::config(format!(
                    "download URL {template:?} uses {other}:; use https:// (http:// only to this machine or with allow_insecure_http = true)"
                )));
            }
        }
        if !sample.username().is_empty() || sample.password().is_some() {
            return Err(Error::config(format!(
                "download URL {template:?} must not contain credentials"
            )));
        }
        Ok(d)
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Where the key goes.
    pub fn key_placement(&self) -> KeyPlacement {
        self.placement
    }

    /// The URL for one download. `download_id` and `key` must already be checked to hold only
    /// URL-safe characters (the callers check both).
    pub(crate) fn build(&self, base_url: &Url, download_id: &str, key: &Secret) -> Result<Url> {
        self.fill(base_url, download_id, key.expose())
    }

    fn fill(&self, base_url: &Url, download_id: &str, key: &str) -> Result<Url> {
        let text = self
            .template
            .replace("{base_url}", base_url.as_str())
            .replace("{download_id}", download_id)
            .replace("{key}", key);
        // The error shows the template, never the filled URL (it holds the key).
        Url::parse(&text).map_err(|e| {
            Error::config(format!(
                "download URL {:?} does not make a valid URL ({e})",
                self.template
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://privasfer.com/api/").unwrap()
    }

    fn profile(extra: &str) -> ProfileConfig {
        let text = format!(
            "[profiles.p]\nprovider = \"privasfer\"\ntoken = \"canary-token\"\npin = 4711\n{extra}"
        );
        securesend_core::config::ConfigFile::parse(&text, ".")
            .unwrap()
            .profile(Some("p"))
            .unwrap()
    }

    #[test]
    fn defaults_and_numeric_pin() {
        let c = PrivasferConfig::from_profile(&profile("")).unwrap();
        assert_eq!(c.base_url().as_str(), "https://privasfer.com/api/");
        assert_eq!(c.pin().expose(), "4711");
        assert_eq!(c.download_url().template(), DEFAULT_DOWNLOAD_URL);
        assert!(!c.reuse_temporary_key());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("canary") && !shown.contains("4711"),
            "{shown}"
        );
        let url = c
            .download_url()
            .build(c.base_url(), SAMPLE_ID, &Secret::new("k1"))
            .unwrap();
        assert_eq!(
            url.as_str(),
            format!("https://privasfer.com/api/downloads/{SAMPLE_ID}?key=k1")
        );
    }

    #[test]
    fn profile_errors_name_the_key() {
        for (extra, needle) in [
            ("pinn = 1", "profiles.p.pinn"),
            ("base_url = \"http://privasfer.example/api\"", "base_url"),
            (
                "download_url = \"{base_url}x?id={key}\"",
                "profiles.p.download_url",
            ),
            (
                "timestamp_offset = \"Vilnius\"",
                "profiles.p.timestamp_offset",
            ),
        ] {
            let e = PrivasferConfig::from_profile(&profile(extra)).unwrap_err();
            assert!(e.is_configuration(), "{extra}: {e}");
            assert!(e.to_string().contains(needle), "{extra}: {e}");
            assert!(!e.to_string().contains("canary"), "{e}");
        }
        let c = PrivasferConfig::from_profile(&profile("timestamp_offset = \"+02:00\"")).unwrap();
        assert_eq!(c.timestamp_offset(), UtcOffset::from_hms(2, 0, 0).unwrap());
    }

    #[test]
    fn templates() {
        let ok = [
            (
                "{base_url}downloads/{download_id}?key={key}",
                KeyPlacement::Query,
            ),
            ("https://privasfer.com/download/{key}", KeyPlacement::Path),
            ("{base_url}downloads/{key}", KeyPlacement::Path),
            (
                "https://cdn.example/d?x=1&download_key={key}",
                KeyPlacement::Query,
            ),
        ];
        for (t, placement) in ok {
            assert_eq!(
                DownloadUrl::parse(t, &base(), false)
                    .unwrap()
                    .key_placement(),
                placement,
                "{t}"
            );
        }
        for bad in [
            "{base_url}downloads/{download_id}",
            "{base_url}d/{key}/{key}",
            "{base_url}d/{file}/{key}",
            "{base_url}d?id={key}",
            "{base_url}d?key=x{key}",
            "{base_url}d#key={key}",
            "http://privasfer.example/d/{key}",
            "ftp://privasfer.example/d/{key}",
            "https://u:p@privasfer.example/d/{key}",
            "x{base_url}d/{key}",
            "{base_url}d/{key",
        ] {
            let e = DownloadUrl::parse(bad, &base(), false).unwrap_err();
            assert!(e.is_configuration(), "{bad}: {e}");
        }
        assert!(DownloadUrl::parse("http://privasfer.example/d/{key}", &base(), true).is_ok());
    }
}
