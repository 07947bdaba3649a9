//! The service's error answers → [`Error`] kinds.
//!
//! Privasfer is a Laravel application: validation failures are 422
//! `{"message":"The given data was invalid.","errors":{field:[messages]}}`. The documented
//! field messages get precise kinds: `pin` (`Invalid PIN.`) and `pinKey` (`Pin key does not
//! exists`) are refused credentials, a `files.N` entry that "is invalid" is a file the account
//! does not have. The field travels as the error's service code, its message as the service
//! message.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use securesend_core::http::{parse_retry_after, status_error};
use securesend_core::{Error, ErrorKind, Secret};

use crate::PROVIDER;
use crate::api::ErrorBody;

/// The service code of a refused temporary key: the flow fetches a new key once on it.
pub(crate) const PIN_KEY_FIELD: &str = "pinKey";

/// Whether `e` says the temporary key was refused (expired, revoked, unknown).
pub(crate) fn is_pin_key_refused(e: &Error) -> bool {
    e.service_code() == Some(PIN_KEY_FIELD) && e.is_unauthenticated()
}

/// How long a 429 asks to wait: `Retry-After`, else `X-RateLimit-Reset` (Unix time) - now.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    parse_retry_after(headers, now).or_else(|| {
        let reset: u64 = headers
            .get("x-ratelimit-reset")?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let now = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
        Some(Duration::from_secs(reset.saturating_sub(now)))
    })
}

/// `e` with every secret in `secrets` cut out of the service's text: a server may echo what it
/// was sent ("no such key …"), and the error is shown to people and logs.
pub(crate) fn scrub(e: Error, secrets: &[&Secret]) -> Error {
    let dirty = |t: Option<&str>| {
        t.is_some_and(|t| {
            secrets
                .iter()
                .any(|s| s.expose().len() >= 3 && t.contains(s.expose()))
        })
    };
    if !dirty(e.service_code()) && !dirty(e.service_message()) {
        return e;
    }
    let clean = |t: Option<&str>| {
        t.map(|t| {
            secrets.iter().fold(t.to_owned(), |acc, s| {
                if s.expose().len() >= 3 {
                    acc.replace(s.expose(), "[redacted]")
                } else {
                    acc
                }
            })
        })
    };
    let (code, message) = (clean(e.service_code()), clean(e.service_message()));
    e.with_service_error(code, message)
}

/// The first field error, as (field, message).
fn first_field_error(body: &ErrorBody) -> Option<(String, String)> {
    let (field, messages) = body.errors.as_ref()?.iter().next()?;
    let message = match messages {
        serde_json::Value::Array(list) => list.iter().find_map(|m| m.as_str()).unwrap_or(""),
        serde_json::Value::String(s) => s,
        _ => "",
    };
    Some((field.clone(), message.to_owned()))
}

/// Maps an error answer of `operation`.
pub(crate) fn answer_error(
    operation: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = status.as_u16();
    let made = |kind: ErrorKind, message: String| {
        Error::new(kind, message)
            .with_provider(PROVIDER)
            .with_operation(operation)
            .with_status(code)
    };
    if let Some((field, message)) = first_field_error(&parsed) {
        // The field is named in our text; the service's words go in the context.
        let (kind, text) = match field.as_str() {
            "pin" => (
                ErrorKind::Unauthenticated,
                "the PIN was refused; check `pin` in the profile (it is the account's download PIN, not the password)".to_owned(),
            ),
            PIN_KEY_FIELD => (
                ErrorKind::Unauthenticated,
                "the temporary key was refused (expired or revoked)".to_owned(),
            ),
            f if (f == "files" || f.starts_with("files.")) && message.contains("invalid") => (
                ErrorKind::NotFound,
                format!("field `{f}`: the file is not one of this account's files"),
            ),
            f => (
                ErrorKind::InvalidInput,
                format!("the service refused field `{f}`"),
            ),
        };
        return made(kind, text).with_service_error(Some(field), Some(message));
    }
    let service_message = parsed.message.filter(|m| !m.trim().is_empty());
    let with_message = |e: Error| match &service_message {
        Some(m) => e.with_service_error(None::<&str>, Some(m)),
        None => e,
    };
    match code {
        401 => with_message(made(
            ErrorKind::Unauthenticated,
            "the API token was refused; create a token in Privasfer (profile → API settings) and set `token`".to_owned(),
        )),
        403 => with_message(made(
            ErrorKind::PermissionDenied,
            "the account may not do this".to_owned(),
        )),
        404 => with_message(made(
            ErrorKind::NotFound,
            "it does not exist, has expired, or belongs to another account".to_owned(),
        )),
        429 => {
            let mut e = with_message(made(
                ErrorKind::RateLimited,
                "more than the service's 300 requests per minute".to_owned(),
            ));
            if let Some(wait) = rate_limit_wait(headers, SystemTime::now()) {
                e = e.with_retry_after(wait);
            }
            e
        }
        300..=399 => made(
            ErrorKind::Protocol,
            "the service redirected instead of answering (Laravel does this to clients it takes for a browser)".to_owned(),
        ),
        _ => status_error(PROVIDER, operation, status, headers, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        answer_error(
            "download",
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn documented_validation_strings() {
        let e = err(
            422,
            r#"{"message":"The given data was invalid.","errors":{"pin":["Invalid PIN."]}}"#,
        );
        assert!(e.is_unauthenticated());
        assert_eq!(e.service_code(), Some("pin"));
        assert_eq!(e.service_message(), Some("Invalid PIN."));
        assert!(e.to_string().contains("`pin`"), "{e}");
        assert!(!is_pin_key_refused(&e));

        let e = err(
            422,
            r#"{"message":"The given data was invalid.","errors":{"pinKey":["Pin key does not exists"]}}"#,
        );
        assert!(is_pin_key_refused(&e), "{e}");
        assert_eq!(e.status(), Some(422));

        let e = err(
            422,
            r#"{"message":"The given data was invalid.","errors":{"files.0":["The selected files.0 is invalid."]}}"#,
        );
        assert!(e.is_not_found() && e.to_string().contains("files.0"), "{e}");
        let e = err(
            422,
            r#"{"message":"The given data was invalid.","errors":{"files":["The files field is required."]}}"#,
        );
        assert!(e.is_invalid_input(), "{e}");
    }

    #[test]
    fn echoed_secrets_are_cut_out() {
        let e = err(404, r#"{"message":"no key canary-key-1 for pin 4711"}"#);
        let e = scrub(e, &[&Secret::new("canary-key-1"), &Secret::new("4711")]);
        assert_eq!(
            e.service_message(),
            Some("no key [redacted] for pin [redacted]")
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn statuses() {
        assert!(err(401, r#"{"message":"Unauthenticated."}"#).is_unauthenticated());
        assert!(err(403, r#"{"message":"This action is unauthorized."}"#).is_permission_denied());
        let nf = err(404, r#"{"message":"Not Found"}"#);
        assert!(nf.is_not_found());
        assert_eq!(nf.service_message(), Some("Not Found"));
        assert!(err(302, "").is_protocol());
        assert!(err(503, "").is_unavailable());
        let mut h = HeaderMap::new();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        h.insert("x-ratelimit-reset", (now + 30).to_string().parse().unwrap());
        let e = answer_error(
            "list",
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            br#"{"message":"Too Many Attempts."}"#,
        );
        assert!(e.is_rate_limited());
        let wait = e.retry_after().unwrap().as_secs();
        assert!((29..=30).contains(&wait), "{wait}");
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            rate_limit_wait(&h, SystemTime::now()),
            Some(Duration::from_secs(7))
        );
    }
}
