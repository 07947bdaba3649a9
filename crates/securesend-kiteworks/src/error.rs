//! Kiteworks error answers → [`Error`].
//!
//! REST calls answer `{"errors":[{"code":"ERR_…","message":"…"}]}` (the official schema calls the
//! array `error`; both are read). The token endpoint answers OAuth's `{error, error_description}`.
//! The code decides the kind; the status is the fallback.

use std::time::SystemTime;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use securesend_core::http::parse_retry_after;
use securesend_core::{Error, ErrorKind};

use crate::PROVIDER;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Option<Vec<Item>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What the body of an error answer said.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub code: Option<String>,
    pub message: Option<String>,
    /// An OAuth error (`{error, error_description}`) rather than a REST one.
    pub oauth: bool,
}

/// Reads the service's code and message from an error body, if it has one of the two shapes.
pub(crate) fn parse_body(body: &[u8]) -> ServiceError {
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        return ServiceError::default();
    };
    let first = |items: Vec<Item>| items.into_iter().next();
    if let Some(item) = env.errors.and_then(first) {
        return ServiceError {
            code: item.code,
            message: item.message,
            oauth: false,
        };
    }
    match env.error {
        Some(serde_json::Value::Array(items)) => {
            let items: Vec<Item> = items
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect();
            match first(items) {
                Some(item) => ServiceError {
                    code: item.code,
                    message: item.message,
                    oauth: false,
                },
                None => ServiceError::default(),
            }
        }
        Some(serde_json::Value::String(code)) => ServiceError {
            code: Some(code),
            message: env.error_description,
            oauth: true,
        },
        _ => ServiceError::default(),
    }
}

/// The kind and a message a person can act on, for a service code.
fn by_code(code: &str) -> Option<(ErrorKind, &'static str)> {
    use ErrorKind::*;
    let known = match code {
        "ERR_AUTH_UNAUTHORIZED" | "ERR_AUTH_PROFILE_CHANGED" | "ERR_AUTH_INVALID_CSRF" => {
            (Unauthenticated, "the access token was refused")
        }
        // Since server 5.1 unknown ids answer 403 ERR_ACCESS_USER rather than 404.
        "ERR_ACCESS_USER" => (
            NotFound,
            "the item does not exist or this account may not use it",
        ),
        "ERR_ENTITY_NOT_FOUND" | "ERR_ENTITY_DELETED" | "ERR_ENTITY_DELETED_PERMANENTLY" => {
            (NotFound, "the item does not exist (any more)")
        }
        "ERR_ENTITY_EXISTS" => (Conflict, "an item of that name exists already"),
        "ERR_ENTITY_LOCKED" => (Conflict, "the item is locked"),
        "ERR_ENTITY_EMAIL_NOT_DRAFT" | "ERR_ENTITY_EMAIL_IS_SENT" => {
            (Conflict, "the message is no longer a draft")
        }
        "ERR_SYSTEM_NO_STORAGE_AVAILABLE" | "ERR_SYSTEM_FOLDER_QUOTA_EXCEEDED" => (
            InvalidInput,
            "the service has no room for this file (quota or storage)",
        ),
        "ERR_INSUFFICIENT_DISK_SPACE"
        | "ERR_INSUFFICIENT_TMP_STORAGE"
        | "ERR_SYSTEM_NO_AVAILABLE_STORAGE_HOSTS" => {
            (Unavailable, "the service is out of storage for now")
        }
        "ERR_FILE_TOO_LARGE" | "ERR_LICENSE_MAX_UPLOAD_SIZE" => {
            (InvalidInput, "the file is larger than the service allows")
        }
        "ERR_INTERNAL_SERVER_ERROR" => (Unavailable, "the service failed"),
        c if c.starts_with("ERR_INPUT_")
            || c == "ERR_INVALID_PARAMETER"
            || c.starts_with("ERR_REQUEST_INVALID")
            || c == "ERR_HEP_VALIDATION_BLOCK" =>
        {
            (InvalidInput, "the service refused a value of the request")
        }
        c if c.starts_with("ERR_ACCESS_")
            || c.starts_with("ERR_PROFILE_")
            || c.starts_with("ERR_ENTITY_IS_")
            || c.starts_with("ERR_ENTITY_RESTRICTED")
            || c.starts_with("ERR_USER_")
            || matches!(
                c,
                "ERR_ENTITY_VIRUS_FOUND" | "ERR_ENTITY_NOT_SCANNED" | "ERR_ENTITY_DLP_LOCKED"
            ) =>
        {
            (PermissionDenied, "this account may not do that")
        }
        _ => return None,
    };
    Some(known)
}

fn by_oauth_code(code: &str) -> (ErrorKind, &'static str) {
    match code {
        // The client failed to authenticate (RFC 6749 §5.2): a wrong secret is a refused
        // sign-in like a wrong password, not a malformed configuration.
        "invalid_client" => (
            ErrorKind::Unauthenticated,
            "the service refused client_id/client_secret; check the application's credentials",
        ),
        "invalid_grant" => (
            ErrorKind::Unauthenticated,
            "the service refused the credentials or code (wrong, expired or used already)",
        ),
        "invalid_scope" => (
            ErrorKind::Configuration,
            "the service refused the scope; check `scope` against the application's scopes",
        ),
        "unauthorized_client" => (
            ErrorKind::Configuration,
            "this grant is not enabled for the application; enable the flow in the admin console or change `grant`",
        ),
        "access_denied" => (ErrorKind::PermissionDenied, "access was denied"),
        _ => (
            ErrorKind::Unauthenticated,
            "the service refused to issue a token",
        ),
    }
}

/// Maps an error answer. `rate_limit_codes` are extra codes that mean rate limiting on a 403.
pub(crate) fn from_answer(
    operation: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    rate_limit_codes: &[String],
) -> Error {
    let parsed = parse_body(body);
    let retry_after = parse_retry_after(headers, SystemTime::now());
    let code = status.as_u16();
    let (kind, message): (ErrorKind, String) = if code == 490 {
        (
            ErrorKind::PermissionDenied,
            "the service's web application firewall blocked the request".into(),
        )
    } else if code == 403
        && (parsed.code.is_none()
            || parsed
                .code
                .as_deref()
                .is_some_and(|c| rate_limit_codes.iter().any(|r| r == c)))
    {
        // Kiteworks answers rate limiting with a bare 403, not 429.
        (
            ErrorKind::RateLimited,
            "the service refused the request, which Kiteworks does when its rate limit is exceeded; slow down and try again"
                .into(),
        )
    } else if parsed.oauth {
        let (k, m) = by_oauth_code(parsed.code.as_deref().unwrap_or_default());
        (k, m.into())
    } else if let Some((k, m)) = parsed.code.as_deref().and_then(by_code) {
        (k, m.into())
    } else {
        let k = ErrorKind::from_http_status(code);
        let m = match code {
            300..=399 => "the service redirected the request, which this client does not follow",
            400..=499 => "the service refused the request",
            500..=599 => "the service failed to handle the request",
            _ => "the service gave an unexpected answer",
        };
        (k, m.into())
    };
    let mut e = Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation(operation)
        .with_status(code);
    if parsed.code.is_some() || parsed.message.is_some() {
        e = e.with_service_error(parsed.code.as_deref(), parsed.message.as_deref());
    }
    if let Some(delay) = retry_after {
        e = e.with_retry_after(delay);
    }
    e
}

/// Whether an answer the HTTP layer is asked about means "slow down" (a 403 that is not a
/// Kiteworks error, or one with a configured rate-limit code).
pub(crate) fn is_rate_limit_answer(
    status: StatusCode,
    body: &[u8],
    rate_limit_codes: &[String],
) -> bool {
    if status.as_u16() != 403 {
        return false;
    }
    match parse_body(body).code {
        None => true,
        Some(c) => rate_limit_codes.contains(&c),
    }
}

/// A protocol error: the service answered something this client cannot use.
pub(crate) fn protocol(operation: &'static str, message: impl Into<String>) -> Error {
    Error::protocol(message.into())
        .with_provider(PROVIDER)
        .with_operation(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> Error {
        from_answer(
            "test",
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            &["ERR_TOO_MANY".to_owned()],
        )
    }

    #[test]
    fn codes_decide_the_kind() {
        let cases = [
            (
                403,
                r#"{"errors":[{"code":"ERR_ACCESS_USER","message":"Insufficient access permissions"}]}"#,
                ErrorKind::NotFound,
            ),
            (
                409,
                r#"{"errors":[{"code":"ERR_ENTITY_EXISTS","message":"exists"}]}"#,
                ErrorKind::Conflict,
            ),
            (
                413,
                r#"{"errors":[{"code":"ERR_SYSTEM_NO_STORAGE_AVAILABLE","message":"x"}]}"#,
                ErrorKind::InvalidInput,
            ),
            (
                507,
                r#"{"errors":[{"code":"ERR_INSUFFICIENT_DISK_SPACE","message":"x"}]}"#,
                ErrorKind::Unavailable,
            ),
            (
                422,
                r#"{"errors":[{"code":"ERR_INPUT_PAST_DATE","message":"x"}]}"#,
                ErrorKind::InvalidInput,
            ),
            (
                401,
                r#"{"errors":[{"code":"ERR_AUTH_UNAUTHORIZED","message":"Unauthorized"}]}"#,
                ErrorKind::Unauthenticated,
            ),
            (
                403,
                r#"{"error":[{"code":"ERR_PROFILE_SELF_COPY_DISABLED","message":"x"}]}"#,
                ErrorKind::PermissionDenied,
            ),
            (403, "", ErrorKind::RateLimited),
            (403, "<html>Forbidden</html>", ErrorKind::RateLimited),
            (
                403,
                r#"{"errors":[{"code":"ERR_TOO_MANY","message":"x"}]}"#,
                ErrorKind::RateLimited,
            ),
            (490, "", ErrorKind::PermissionDenied),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"bad code"}"#,
                ErrorKind::Unauthenticated,
            ),
            (
                400,
                r#"{"error":"invalid_client","error_description":"x"}"#,
                ErrorKind::Unauthenticated,
            ),
            (503, "", ErrorKind::Unavailable),
        ];
        for (status, body, kind) in cases {
            let e = map(status, body);
            assert_eq!(e.kind(), kind, "{status} {body}: {e}");
            assert_eq!(e.status(), Some(status));
            assert!(!e.to_string().contains('\n'));
        }
        let e = map(
            409,
            r#"{"errors":[{"code":"ERR_ENTITY_EXISTS","message":"Entity exists"}]}"#,
        );
        assert_eq!(e.service_code(), Some("ERR_ENTITY_EXISTS"));
        assert_eq!(e.service_message(), Some("Entity exists"));
    }
}
