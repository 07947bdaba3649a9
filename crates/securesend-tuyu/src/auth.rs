//! Request signing: `api_key` + `timestamp` + an HMAC-SHA256 `signature`, keyed with the
//! lowercase-hex SHA-1 of the API secret.
//!
//! - GET: every parameter but `signature`, sorted by name and percent-encoded, appended to the
//!   full method URL; the HMAC of that URL string is appended as `signature`, last.
//! - POST (and the other writes): the HMAC of the bare method URL, sent in the body with
//!   `api_key` and `timestamp`.
//!
//! The signed URL starts with the configured signing base (`base_url` unless the profile says
//! otherwise), so the client and the service agree on scheme, host and port even behind a proxy.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha1::Digest;

use securesend_core::Secret;

use crate::config::ClockConfig;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How a space is written in an encoded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// `+`, as PHP `urlencode` writes it.
    Plus,
    /// `%20`, as RFC 3986 writes it.
    Percent,
}

/// The case of hex digits in percent-escapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HexCase {
    /// `%2F` (documented).
    Upper,
    /// `%2f`.
    Lower,
}

/// How parameter names and values are percent-encoded in a signed GET URL. Letters, digits
/// and `-`, `_`, `.` are always kept; everything else (UTF-8 bytes) is escaped, with the
/// choices below for what the documentation leaves open.
///
/// ```
/// use securesend_tuyu::Encoding;
/// assert_eq!(Encoding::PHP.encode("/a b~"), "%2Fa+b%7E");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// How a space is written.
    pub space: Space,
    /// Hex case of escapes.
    pub hex_case: HexCase,
    /// Whether `~` is escaped.
    pub encode_tilde: bool,
}

impl Encoding {
    /// PHP's `urlencode`: space as `+`, upper-case hex, `~` escaped. The default.
    pub const PHP: Encoding = Encoding {
        space: Space::Plus,
        hex_case: HexCase::Upper,
        encode_tilde: true,
    };

    /// RFC 3986 (PHP's `rawurlencode`): space as `%20`, upper-case hex, `~` kept.
    pub const RFC3986: Encoding = Encoding {
        space: Space::Percent,
        hex_case: HexCase::Upper,
        encode_tilde: false,
    };

    /// Encodes one name or value.
    pub fn encode(&self, s: &str) -> String {
        let digits: &[u8; 16] = match self.hex_case {
            HexCase::Upper => b"0123456789ABCDEF",
            HexCase::Lower => b"0123456789abcdef",
        };
        let mut out = String::with_capacity(s.len() * 3);
        for &b in s.as_bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
                b'~' if !self.encode_tilde => out.push('~'),
                b' ' if self.space == Space::Plus => out.push('+'),
                _ => {
                    out.push('%');
                    out.push(digits[usize::from(b >> 4)] as char);
                    out.push(digits[usize::from(b & 15)] as char);
                }
            }
        }
        out
    }
}

/// The HMAC key for a secret: the 40-character lowercase hex SHA-1 of the secret, used as
/// ASCII bytes (what PHP's `sha1()` returns), not the raw 20-byte digest.
pub fn signing_key(secret: &Secret) -> Secret {
    Secret::new(hex::encode(sha1::Sha1::digest(secret.expose().as_bytes())))
}

/// What `user_auth` takes as `password_auth`: the SHA-1 of the password, lowercase hex.
pub fn password_sha1(password: &Secret) -> Secret {
    signing_key(password)
}

/// Lowercase hex HMAC-SHA256 of `message` under `key` (a [`signing_key`]).
pub fn sign(key: &Secret, message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Signs requests for one API key.
#[derive(Clone)]
pub struct Signer {
    api_key: Secret,
    key: Secret,
    signed_base: String,
    encoding: Encoding,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("signed_base", &self.signed_base)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// The per-request authentication values.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    /// Unix seconds.
    pub timestamp: i64,
    /// The auth code of the user acted for, if any.
    pub auth_code: Option<&'a Secret>,
}

impl Signer {
    /// A signer for `api_key` and `api_secret` whose signed URLs start with `signed_base`
    /// (scheme, host, optional path, ending in `/`).
    pub fn new(
        api_key: Secret,
        api_secret: &Secret,
        signed_base: &str,
        encoding: Encoding,
    ) -> Self {
        let mut signed_base = signed_base.to_owned();
        if !signed_base.ends_with('/') {
            signed_base.push('/');
        }
        Signer {
            api_key,
            key: signing_key(api_secret),
            signed_base,
            encoding,
        }
    }

    /// The canonical URL of `path` (such as `api/file_list`), as signed.
    pub fn method_url(&self, path: &str) -> String {
        format!("{}{path}", self.signed_base)
    }

    /// The query string of a signed GET: `params` plus `api_key`, `timestamp` and (when
    /// acting for a user) `auth_code`, sorted by name and encoded, then `signature` last.
    pub fn get_query(&self, path: &str, params: &[(&str, String)], stamp: Stamp<'_>) -> String {
        let mut all: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let timestamp = stamp.timestamp.to_string();
        all.push(("api_key", self.api_key.expose()));
        all.push(("timestamp", &timestamp));
        if let Some(code) = stamp.auth_code {
            all.push(("auth_code", code.expose()));
        }
        all.sort_by(|a, b| a.0.cmp(b.0));
        let query = all
            .iter()
            .map(|(k, v)| format!("{}={}", self.encoding.encode(k), self.encoding.encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let signature = sign(&self.key, &format!("{}?{query}", self.method_url(path)));
        format!("{query}&signature={signature}")
    }

    /// The authentication fields of a write (POST) to `path`: `api_key`, `timestamp`,
    /// `auth_code` when acting for a user, and `signature`, the HMAC of the bare method URL.
    pub fn post_fields(&self, path: &str, stamp: Stamp<'_>) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("api_key", self.api_key.expose().to_owned()),
            ("timestamp", stamp.timestamp.to_string()),
        ];
        if let Some(code) = stamp.auth_code {
            out.push(("auth_code", code.expose().to_owned()));
        }
        out.push(("signature", sign(&self.key, &self.method_url(path))));
        out
    }
}

/// Where timestamps come from: the system clock plus an offset, which a configured value sets
/// and a service's `Date` header may correct.
pub struct TimeSource {
    offset: AtomicI64,
    config: ClockConfig,
    now: fn() -> SystemTime,
}

impl fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeSource")
            .field("offset_secs", &self.offset.load(Ordering::Relaxed))
            .field("config", &self.config)
            .finish()
    }
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl TimeSource {
    /// The system clock with the configured offset.
    pub fn new(config: ClockConfig) -> Self {
        TimeSource::with_clock(config, SystemTime::now)
    }

    /// A time source reading `now` instead of the system clock (tests).
    pub fn with_clock(config: ClockConfig, now: fn() -> SystemTime) -> Self {
        TimeSource {
            offset: AtomicI64::new(config.offset_secs),
            config,
            now,
        }
    }

    /// The timestamp to send now.
    pub fn now(&self) -> i64 {
        unix((self.now)()).saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// How far the service's clock (its `Date`) is ahead of ours, when it is further away than
    /// `max_skew_secs`.
    pub fn skew(&self, server: SystemTime) -> Option<i64> {
        let diff = unix(server).saturating_sub(self.now());
        (diff.unsigned_abs() > self.config.max_skew_secs).then_some(diff)
    }

    /// Adopts the service's time when it is off by more than the tolerance and syncing is on;
    /// says whether the offset changed (so a refused request is worth one more try).
    pub fn sync(&self, server: SystemTime) -> bool {
        if !self.config.sync_from_server {
            return false;
        }
        match self.skew(server) {
            Some(diff) => {
                let offset = self.offset.load(Ordering::Relaxed).saturating_add(diff);
                self.offset.store(offset, Ordering::Relaxed);
                tracing::info!(
                    offset_secs = offset,
                    "the service's clock differs from ours; timestamps now follow the service"
                );
                true
            }
            None => false,
        }
    }
}

/// The time in an HTTP `Date` header.
pub fn server_date(headers: &http::HeaderMap) -> Option<SystemTime> {
    let value = headers.get(http::header::DATE)?.to_str().ok()?;
    httpdate::parse_http_date(value).ok()
}

/// Seconds as a duration for messages ("3 min", "2 h").
pub fn describe_secs(secs: i64) -> String {
    let d = Duration::from_secs(secs.unsigned_abs());
    let s = d.as_secs();
    if s >= 7200 {
        format!("{} h", s / 3600)
    } else if s >= 120 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fact sheet's vectors (python hashlib/hmac, cross-checked with openssl).
    const SECRET: &str = "demo_secret_456";
    const API_KEY: &str = "demo_key_123";
    const BASE: &str = "https://acme.filetransfers.net/";
    const TS: i64 = 1_700_000_000;

    fn signer() -> Signer {
        Signer::new(
            Secret::new(API_KEY),
            &Secret::new(SECRET),
            BASE,
            Encoding::PHP,
        )
    }

    fn stamp() -> Stamp<'static> {
        Stamp {
            timestamp: TS,
            auth_code: None,
        }
    }

    #[test]
    fn key_is_the_hex_sha1_of_the_secret() {
        assert_eq!(
            signing_key(&Secret::new(SECRET)).expose(),
            "aac6a283a7b9740bbf2bc3add6cc1cd08622305e"
        );
    }

    #[test]
    fn get_file_list_vector() {
        let q = signer().get_query(
            "api/file_list",
            &[("path", "/".into()), ("sort_by", "date_asc".into())],
            stamp(),
        );
        assert_eq!(
            format!("{BASE}api/file_list?{q}"),
            "https://acme.filetransfers.net/api/file_list?api_key=demo_key_123&path=%2F&sort_by=date_asc&timestamp=1700000000&signature=aec370e74c730f4d4b3764f60023fb6eaea43f4b45b22053c18a55d383bcb350"
        );
    }

    #[test]
    fn get_users_location_access_vector_with_auth_code() {
        let code = Secret::new("abc123");
        let q = signer().get_query(
            "api/users_location_access",
            &[
                ("path", "/Designers_workspace/".into()),
                ("type", "all".into()),
            ],
            Stamp {
                timestamp: TS,
                auth_code: Some(&code),
            },
        );
        assert_eq!(
            q,
            "api_key=demo_key_123&auth_code=abc123&path=%2FDesigners_workspace%2F&timestamp=1700000000&type=all&signature=27e7c65ee909fef78cbdf1398b44dfdd87016e807ee42277803532fe190f93b8"
        );
    }

    #[test]
    fn post_vectors_sign_only_the_method_url() {
        for (method, sig) in [
            (
                "file_send",
                "441810069683be576ab08f6cb78e0c16cad4e402b89f9c7dd6ef0744afeb4e5e",
            ),
            (
                "file_upload",
                "93e56e571a474e252e6b2d5589a6b557bf3e1ae55db62132557804551b862fc9",
            ),
            (
                "send_files_prep",
                "dc79e9999c07c90d2794948a1f801deb9fa65dfad6a89c3170c24d43a5f98b21",
            ),
        ] {
            let fields = signer().post_fields(&format!("api/{method}"), stamp());
            assert_eq!(
                fields,
                vec![
                    ("api_key", API_KEY.to_owned()),
                    ("timestamp", TS.to_string()),
                    ("signature", sig.to_owned()),
                ],
                "{method}"
            );
            // The timestamp is not signed: another time gives the same signature.
            let later = signer().post_fields(
                &format!("api/{method}"),
                Stamp {
                    timestamp: TS + 999,
                    auth_code: None,
                },
            );
            assert_eq!(later.last(), fields.last());
        }
    }

    #[test]
    fn negative_vectors_are_not_what_we_produce() {
        let ours = sign(
            &signing_key(&Secret::new(SECRET)),
            "https://acme.filetransfers.net/api/file_send",
        );
        // Keyed with the raw 20-byte digest.
        let raw = sha1::Sha1::digest(SECRET.as_bytes());
        let mut mac = HmacSha256::new_from_slice(&raw).unwrap();
        mac.update(b"https://acme.filetransfers.net/api/file_send");
        let raw_sig = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            raw_sig,
            "2cf5f9829dac6888423e06d66c9766192b0e83db6689734ff9db9b77bf26489e"
        );
        assert_ne!(ours, raw_sig);
        // Keyed with the plain secret.
        let plain = sign(
            &Secret::new(SECRET),
            "https://acme.filetransfers.net/api/file_send",
        );
        assert_eq!(
            plain,
            "aa83bd19d85d4162a15e5f55465f757850a615ade1418c449f7de5d134bf67c7"
        );
        assert_ne!(ours, plain);
        // GET with the path left un-encoded.
        let unencoded = sign(
            &signing_key(&Secret::new(SECRET)),
            "https://acme.filetransfers.net/api/file_list?api_key=demo_key_123&path=/&sort_by=date_asc&timestamp=1700000000",
        );
        assert_eq!(
            unencoded,
            "70a53d5aeed71bd8c78720c5cbe13762af4449ad895d5f93aa23ef0b5a159a5f"
        );
        let q = signer().get_query(
            "api/file_list",
            &[("path", "/".into()), ("sort_by", "date_asc".into())],
            stamp(),
        );
        assert!(!q.contains(&unencoded) && q.contains("path=%2F"), "{q}");
    }

    #[test]
    fn encodings_differ_only_where_configured() {
        let v = "a b~/é";
        assert_eq!(Encoding::PHP.encode(v), "a+b%7E%2F%C3%A9");
        assert_eq!(Encoding::RFC3986.encode(v), "a%20b~%2F%C3%A9");
        let lower = Encoding {
            hex_case: HexCase::Lower,
            ..Encoding::PHP
        };
        assert_eq!(lower.encode(v), "a+b%7e%2f%c3%a9");
    }

    #[test]
    fn debug_shows_no_key() {
        let s = format!("{:?}", signer());
        assert!(!s.contains(API_KEY) && !s.contains("aac6a2"), "{s}");
    }

    #[test]
    fn clock_follows_the_server_only_when_far_off() {
        fn fixed() -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        }
        let t = TimeSource::with_clock(ClockConfig::default(), fixed);
        assert_eq!(t.now(), TS);
        assert!(!t.sync(fixed() + Duration::from_secs(10)));
        assert_eq!(t.now(), TS);
        assert!(t.sync(fixed() + Duration::from_secs(3600)));
        assert_eq!(t.now(), TS + 3600);
        let off = TimeSource::with_clock(
            ClockConfig {
                sync_from_server: false,
                offset_secs: -5,
                ..ClockConfig::default()
            },
            fixed,
        );
        assert_eq!(off.now(), TS - 5);
        assert!(!off.sync(fixed() + Duration::from_secs(3600)));
        assert_eq!(off.skew(fixed() + Duration::from_secs(3600)), Some(3605));
    }
}
