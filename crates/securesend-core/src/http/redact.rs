//! URLs made safe to log: secret-bearing query parameters and userinfo passwords removed.
//!
//! Several services put credentials in the query string (Tuyu's `signature` and `api_key`, a
//! Privasfer `pin`, OAuth `code`s). Anything that prints a URL — tracing, error messages —
//! prints [`redact_url`]'s output instead of the URL itself.

use url::Url;

/// What replaces a secret value.
pub const REDACTED: &str = "[redacted]";

/// Parameter names (compared case-insensitively) whose values are always secret.
const SECRET_NAMES: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "signature",
    "sig",
    "api_key",
    "apikey",
    "key",
    "pin",
    "password",
    "passwd",
    "pwd",
    "code",
    "code_verifier",
    "client_secret",
    "auth_code",
    "assertion",
    "secret",
    "session",
    "sessionid",
    "x-amz-credential",
];

/// Name endings that mark a parameter as secret (`upload_token`, `X-Amz-Signature`,
/// `private_key`, …). Redacting a harmless parameter costs a little log detail; missing a
/// secret one leaks it, so the match is deliberately broad.
const SECRET_SUFFIXES: &[&str] = &[
    "token",
    "secret",
    "password",
    "signature",
    "apikey",
    "_key",
    "-key",
];

/// Whether a query parameter called `name` carries a secret.
///
/// ```
/// use securesend_core::http::is_secret_param;
/// assert!(is_secret_param("Signature"));
/// assert!(is_secret_param("upload_token"));
/// assert!(!is_secret_param("folder"));
/// ```
pub fn is_secret_param(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    SECRET_NAMES.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The URL with the values of secret-bearing query (and fragment) parameters replaced by
/// `[redacted]` and any userinfo password removed; everything else is kept as written.
///
/// ```
/// use securesend_core::http::redact_url;
/// let url = url::Url::parse("https://u:pw@h.example/api?folder=7&Signature=abc&pin=1234").unwrap();
/// assert_eq!(
///     redact_url(&url),
///     "https://u:[redacted]@h.example/api?folder=7&Signature=[redacted]&pin=[redacted]"
/// );
/// ```
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // `set_password` fails only for URLs that cannot have credentials, which then have none.
        let _ = url.set_password(Some(REDACTED));
    }
    if let Some(query) = url.query() {
        let redacted = redact_pairs(query);
        url.set_query(Some(&redacted));
    }
    if let Some(fragment) = url.fragment() {
        // OAuth implicit-style redirects carry tokens in the fragment.
        let redacted = redact_pairs(fragment);
        url.set_fragment(Some(&redacted));
    }
    // The url crate percent-encodes the brackets in userinfo; show the marker as written.
    url.as_str().replace("%5Bredacted%5D", REDACTED)
}

/// `url` with its path replaced by `/[redacted]`, for URLs whose path carries a secret; the
/// query is kept (and redacted as usual when the result is shown with [`redact_url`]).
pub(crate) fn hide_path(url: &Url) -> Url {
    let mut hidden = url.clone();
    hidden.set_path("/[redacted]");
    hidden
}

/// Redacts `name=value` pairs of a raw (still percent-encoded) query string, keeping the
/// original spelling of everything that is not secret.
fn redact_pairs(raw: &str) -> String {
    raw.split('&')
        .map(|pair| {
            let (name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let decoded: String = form_decode(name);
            match value {
                Some(v) if !v.is_empty() && is_secret_param(&decoded) => {
                    format!("{name}={REDACTED}")
                }
                _ => pair.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn form_decode(name: &str) -> String {
    url::form_urlencoded::parse(format!("{name}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Replaces, in `text`, the raw URL and every secret query value it carries by the redacted
/// form. Used on messages from libraries that may have quoted the URL.
pub(crate) fn scrub_text(text: &str, url: &Url) -> String {
    let mut out = text.replace(url.as_str(), &redact_url(url));
    let secrets = url
        .query_pairs()
        .chain(url.fragment().map(form_pairs).unwrap_or_default())
        .filter(|(k, v)| is_secret_param(k) && !v.is_empty())
        .map(|(_, v)| v.into_owned())
        .collect::<Vec<_>>();
    for secret in secrets {
        // Also the encoded spelling, as it appears inside URLs.
        let encoded: String =
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
        for needle in [secret.as_str(), encoded.as_str()] {
            if needle.len() >= 3 {
                out = out.replace(needle, REDACTED);
            }
        }
    }
    if let Some(pw) = url.password() {
        if pw.len() >= 3 {
            out = out.replace(pw, REDACTED);
        }
    }
    out
}

fn form_pairs(raw: &str) -> Vec<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    url::form_urlencoded::parse(raw.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact_url(&Url::parse(s).unwrap())
    }

    #[test]
    fn every_listed_name_is_redacted_case_insensitively() {
        for name in [
            "token",
            "access_token",
            "refresh_token",
            "signature",
            "api_key",
            "apikey",
            "key",
            "pin",
            "password",
            "code",
            "client_secret",
            "auth_code",
            "assertion",
            "ACCESS_TOKEN",
            "Api_Key",
            "X-Amz-Signature",
            "upload_token",
        ] {
            let out = r(&format!("https://h.example/p?a=1&{name}=canary99&b=2"));
            assert!(!out.contains("canary99"), "{name}: {out}");
            assert!(out.contains(&format!("{name}=[redacted]")), "{name}: {out}");
            assert!(out.contains("a=1") && out.contains("b=2"), "{out}");
        }
    }

    #[test]
    fn encoded_names_and_fragments_and_passwords() {
        assert_eq!(
            r("https://h.example/?api%5Fkey=zz&x=%20y"),
            "https://h.example/?api%5Fkey=[redacted]&x=%20y"
        );
        assert_eq!(
            r("https://h.example/cb#access_token=zz&state=s"),
            "https://h.example/cb#access_token=[redacted]&state=s"
        );
        assert_eq!(
            r("https://ann:hunter2@h.example/"),
            "https://ann:[redacted]@h.example/"
        );
        assert_eq!(
            r("https://h.example/a?flag&token="),
            "https://h.example/a?flag&token="
        );
        assert_eq!(r("https://h.example/a"), "https://h.example/a");
    }

    #[test]
    fn scrub_removes_raw_and_encoded_values() {
        let url = Url::parse("https://h.example/a?signature=a%2Bb%2Fc&n=1").unwrap();
        let text = format!("failed for {url} with a+b/c and a%2Bb%2Fc");
        let out = scrub_text(&text, &url);
        assert!(
            !out.contains("a+b/c") && !out.contains("a%2Bb%2Fc"),
            "{out}"
        );
        assert!(out.contains("signature=[redacted]&n=1"), "{out}");
    }
}
