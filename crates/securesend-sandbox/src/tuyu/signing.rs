//! Signature checks, as strict as the documentation: the HMAC-SHA256 of the canonical URL,
//! keyed with the lowercase-hex SHA-1 of the API secret, compared in constant time.
//!
//! - GET: the URL rebuilt from the received parameters minus `signature` (which must come
//!   last), sorted by name and encoded canonically, after the signing base and the path as
//!   received.
//! - writes: the bare method URL.
//!
//! The canonical encoding is PHP's `urlencode` unless the module is told otherwise, so a client
//! that leaves `/` unencoded or spells a space differently is refused, as a real site would.

use hmac::{KeyInit, Mac};
use sha1::Digest;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How values are percent-encoded in the canonical GET URL. Letters, digits, `-`, `_`, `.` are
/// always kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanonicalEncoding {
    /// A space as `+` (PHP `urlencode`) rather than `%20`.
    pub space_as_plus: bool,
    /// Upper-case hex digits in escapes.
    pub upper_hex: bool,
    /// Whether `~` is escaped.
    pub encode_tilde: bool,
}

impl Default for CanonicalEncoding {
    /// PHP's `urlencode`.
    fn default() -> Self {
        CanonicalEncoding {
            space_as_plus: true,
            upper_hex: true,
            encode_tilde: true,
        }
    }
}

impl CanonicalEncoding {
    /// Encodes one name or value.
    pub fn encode(&self, s: &str) -> String {
        let mut out = String::new();
        for &b in s.as_bytes() {
            let keep = b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.')
                || (b == b'~' && !self.encode_tilde);
            if keep {
                out.push(char::from(b));
            } else if b == b' ' && self.space_as_plus {
                out.push('+');
            } else if self.upper_hex {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push_str(&format!("%{b:02x}"));
            }
        }
        out
    }
}

/// The HMAC key of a secret: its SHA-1 as 40 lowercase hex characters.
pub fn key_of(secret: &str) -> String {
    hex::encode(sha1::Sha1::digest(secret.as_bytes()))
}

/// The lowercase hex HMAC of `message` under `secret`'s key (for tests that sign by hand).
pub fn sign(secret: &str, message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key_of(secret).as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` (lowercase hex) is the HMAC of `message` under `secret`'s key.
pub fn verify(secret: &str, message: &str, signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    if signature.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let mut mac = HmacSha256::new_from_slice(key_of(secret).as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// The canonical GET URL for `params` (received order; `signature` excluded by the caller).
pub fn canonical_get(
    signed_base: &str,
    path: &str,
    params: &[(String, String)],
    encoding: CanonicalEncoding,
) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let query = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encoding.encode(k), encoding.encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{}{path}?{query}", signed_base.trim_end_matches('/'))
}

/// The canonical URL of a write: the bare method URL.
pub fn canonical_write(signed_base: &str, path: &str) -> String {
    format!("{}{path}", signed_base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "demo_secret_456";
    const BASE: &str = "https://acme.filetransfers.net";

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn positive_vectors_verify() {
        assert_eq!(key_of(SECRET), "aac6a283a7b9740bbf2bc3add6cc1cd08622305e");
        let list = canonical_get(
            BASE,
            "/api/file_list",
            &p(&[
                ("sort_by", "date_asc"),
                ("path", "/"),
                ("timestamp", "1700000000"),
                ("api_key", "demo_key_123"),
            ]),
            CanonicalEncoding::default(),
        );
        assert_eq!(
            list,
            "https://acme.filetransfers.net/api/file_list?api_key=demo_key_123&path=%2F&sort_by=date_asc&timestamp=1700000000"
        );
        assert!(verify(
            SECRET,
            &list,
            "aec370e74c730f4d4b3764f60023fb6eaea43f4b45b22053c18a55d383bcb350"
        ));
        let users = canonical_get(
            BASE,
            "/api/users_location_access",
            &p(&[
                ("api_key", "demo_key_123"),
                ("auth_code", "abc123"),
                ("path", "/Designers_workspace/"),
                ("timestamp", "1700000000"),
                ("type", "all"),
            ]),
            CanonicalEncoding::default(),
        );
        assert!(verify(
            SECRET,
            &users,
            "27e7c65ee909fef78cbdf1398b44dfdd87016e807ee42277803532fe190f93b8"
        ));
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
            let url = canonical_write(BASE, &format!("/api/{method}"));
            assert!(verify(SECRET, &url, sig), "{method}");
        }
    }

    #[test]
    fn negative_vectors_are_rejected() {
        let send = canonical_write(BASE, "/api/file_send");
        // Keyed with the raw 20-byte digest, and with the plain secret.
        assert!(!verify(
            SECRET,
            &send,
            "2cf5f9829dac6888423e06d66c9766192b0e83db6689734ff9db9b77bf26489e"
        ));
        assert!(!verify(
            SECRET,
            &send,
            "aa83bd19d85d4162a15e5f55465f757850a615ade1418c449f7de5d134bf67c7"
        ));
        // `path=/` left unencoded: the canonical URL has %2F, so the signature fails.
        let list = canonical_get(
            BASE,
            "/api/file_list",
            &p(&[
                ("api_key", "demo_key_123"),
                ("path", "/"),
                ("sort_by", "date_asc"),
                ("timestamp", "1700000000"),
            ]),
            CanonicalEncoding::default(),
        );
        assert!(!verify(
            SECRET,
            &list,
            "70a53d5aeed71bd8c78720c5cbe13762af4449ad895d5f93aa23ef0b5a159a5f"
        ));
        // Upper-case hex and garbage are refused too.
        assert!(!verify(
            SECRET,
            &send,
            "441810069683BE576AB08F6CB78E0C16CAD4E402B89F9C7DD6EF0744AFEB4E5E"
        ));
        assert!(!verify(SECRET, &send, "not-hex"));
    }

    #[test]
    fn encodings() {
        let v = "a b~/é";
        assert_eq!(CanonicalEncoding::default().encode(v), "a+b%7E%2F%C3%A9");
        let rfc = CanonicalEncoding {
            space_as_plus: false,
            upper_hex: true,
            encode_tilde: false,
        };
        assert_eq!(rfc.encode(v), "a%20b~%2F%C3%A9");
    }
}
