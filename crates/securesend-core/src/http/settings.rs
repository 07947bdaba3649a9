//! The `[profiles.<name>.http]` table: timeouts, proxy, extra CA roots, retry budget.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::SecretRef;

/// HTTP settings of one provider instance, embedded by each adapter's configuration as an
/// optional `http` table. Every key is optional; unknown keys are errors.
///
/// ```toml
/// [profiles.work.http]
/// connect_timeout_secs = 10
/// request_timeout_secs = 60
/// read_timeout_secs = 120
/// proxy = "http://proxy.corp.example:3128"
/// ca_files = ["corp-root.pem"]
/// max_attempts = 4
/// max_retry_secs = 60
/// ```
///
/// ```
/// use securesend_core::http::HttpSettings;
/// let s: HttpSettings = toml::from_str("max_attempts = 2").unwrap();
/// assert_eq!(s.max_attempts, 2);
/// assert_eq!(s.connect_timeout_secs, HttpSettings::default().connect_timeout_secs);
/// assert!(toml::from_str::<HttpSettings>("max_atempts = 2").is_err());
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Seconds allowed to open a connection, TLS handshake included. Default 10.
    pub connect_timeout_secs: u64,
    /// Seconds an API call (not a file transfer) may take in all, answer included. Default 60.
    pub request_timeout_secs: u64,
    /// Seconds a connection may stay silent while an answer is awaited or read. This, not a
    /// total timeout, is what ends a stalled download, so a long transfer that keeps moving is
    /// never cut off. Default 120.
    pub read_timeout_secs: u64,
    /// Slowest acceptable upload speed in KiB/s. An upload request may take
    /// `request_timeout_secs` plus its size at this speed before it is abandoned; it bounds
    /// uploads to a server that stopped reading. Default 32.
    pub min_upload_kib_per_sec: u64,
    /// Proxy for every request, as `http://host:port` or `https://host:port`. When unset,
    /// the `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` environment variables
    /// apply. Credentials go in `proxy_username`/`proxy_password`, not in the URL.
    pub proxy: Option<String>,
    /// User name for the proxy (Basic authentication). Needs `proxy`.
    pub proxy_username: Option<String>,
    /// Password for the proxy: `{ env = "VAR" }`, `{ file = "path" }` or a literal.
    pub proxy_password: Option<SecretRef>,
    /// Extra trusted root certificates, PEM files (relative paths are resolved against the
    /// configuration file's directory). They are added to the system's roots, not instead
    /// of them. Default none.
    pub ca_files: Vec<PathBuf>,
    /// How many times a repeatable request is tried in all (1 = no retry). Default 4.
    pub max_attempts: u32,
    /// Seconds a request may spend in all, waits between attempts included, before retries
    /// stop. A service that asks to wait longer gets a rate-limited error carrying its
    /// `Retry-After`. Default 60.
    pub max_retry_secs: u64,
    /// Appended to the `User-Agent` header after `securesend/<version>`, such as
    /// `"acme-portal/2.1"`, so the service's operators can tell applications apart.
    pub user_agent_suffix: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout_secs: 10,
            request_timeout_secs: 60,
            read_timeout_secs: 120,
            min_upload_kib_per_sec: 32,
            proxy: None,
            proxy_username: None,
            proxy_password: None,
            ca_files: Vec::new(),
            max_attempts: 4,
            max_retry_secs: 60,
            user_agent_suffix: None,
        }
    }
}

impl HttpSettings {
    /// [`HttpSettings::connect_timeout_secs`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
    /// [`HttpSettings::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
    /// [`HttpSettings::read_timeout_secs`] as a duration.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }
    /// [`HttpSettings::max_retry_secs`] as a duration.
    pub fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.max_retry_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_parses_and_secrets_stay_hidden() {
        let s: HttpSettings = toml::from_str(
            r#"
connect_timeout_secs = 3
request_timeout_secs = 4
read_timeout_secs = 5
min_upload_kib_per_sec = 6
proxy = "http://proxy.example:3128"
proxy_username = "ann"
proxy_password = "canary-proxy-pw"
ca_files = ["a.pem", "/etc/b.pem"]
max_attempts = 7
max_retry_secs = 8
user_agent_suffix = "acme/1"
"#,
        )
        .unwrap();
        assert_eq!(s.connect_timeout(), Duration::from_secs(3));
        assert_eq!(s.request_timeout(), Duration::from_secs(4));
        assert_eq!(s.read_timeout(), Duration::from_secs(5));
        assert_eq!(s.retry_budget(), Duration::from_secs(8));
        assert_eq!(s.ca_files.len(), 2);
        assert_eq!(s.max_attempts, 7);
        assert!(!format!("{s:?}").contains("canary"));
    }

    #[test]
    fn empty_table_is_the_default() {
        let s: HttpSettings = toml::from_str("").unwrap();
        let d = HttpSettings::default();
        assert_eq!(s.max_attempts, d.max_attempts);
        assert_eq!(s.read_timeout_secs, d.read_timeout_secs);
        assert!(s.proxy.is_none() && s.ca_files.is_empty());
    }
}
