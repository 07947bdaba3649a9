//! The service's error envelope → [`Error`].
//!
//! Tuyu reports errors as `{"error": {"title", "message"}}` (or `<error>` in XML) and does not
//! document HTTP statuses, so the envelope decides whatever the status was. The titles and
//! messages the documentation gives map to kinds; anything else keeps the status's kind when
//! the status was an error, and is a protocol error otherwise. Title and message travel as the
//! service code and message (cleaned and cut by core), never in our own text.

use securesend_core::{Error, ErrorKind};

use crate::PROVIDER;

/// The error for an `error` envelope answered with HTTP `status` to `operation`.
pub fn service_error(operation: &'static str, status: u16, title: &str, message: &str) -> Error {
    let (kind, text) = classify(status, title, message);
    Error::new(kind, text)
        .with_provider(PROVIDER)
        .with_operation(operation)
        .with_status(status)
        .with_service_error(
            Some(title).filter(|t| !t.is_empty()),
            Some(message).filter(|m| !m.is_empty()),
        )
}

fn classify(status: u16, title: &str, message: &str) -> (ErrorKind, &'static str) {
    let t = title.trim_start_matches('\'').to_ascii_lowercase();
    let m = message.to_ascii_lowercase();
    let has = |needle: &str| t.contains(needle) || m.contains(needle);
    if t == "authentication failed" {
        (
            ErrorKind::Unauthenticated,
            "the service refused the API key, signature or timestamp; check api_key, api_secret, the signing settings and this machine's clock",
        )
    } else if has("invalid username or password") || has("cannot be found on this site") {
        (
            ErrorKind::Unauthenticated,
            "the service refused the user name or password of `act_as`",
        )
    } else if has("access privileges") || has("must be an administrator") {
        (
            ErrorKind::PermissionDenied,
            "the account may not do this at this location",
        )
    } else if has("cannot be overridden") {
        (
            ErrorKind::Conflict,
            "a file of that name exists there already; allow overwriting or choose another name",
        )
    } else if status >= 400 {
        (
            ErrorKind::from_http_status(status),
            "the service refused the request",
        )
    } else {
        (ErrorKind::Protocol, "the service refused the request")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_titles_map_to_kinds_whatever_the_status() {
        for status in [200, 401, 500] {
            let e = service_error(
                "send",
                status,
                "Authentication Failed",
                "Authentication parameters missing or invalid.",
            );
            assert!(e.is_unauthenticated(), "{status}: {e}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.service_code(), Some("Authentication Failed"));
        }
        let e = service_error(
            "download",
            200,
            "You do not have access privileges for this location",
            "Please try a different location or speak to an administrator.",
        );
        assert!(e.is_permission_denied());
        let e = service_error(
            "upload",
            200,
            "File Cannot Be Overridden",
            "overwrite was false",
        );
        assert!(e.is_conflict());
        let e = service_error(
            "x",
            200,
            "'User Delete Failed",
            "You must be an administrator to call this method",
        );
        assert!(e.is_permission_denied());
        let e = service_error(
            "x",
            200,
            "Invalid Username or Password",
            "This user cannot be found on this site.",
        );
        assert!(e.is_unauthenticated());
        assert!(service_error("x", 200, "Something Else", "").is_protocol());
        assert!(service_error("x", 404, "Something Else", "").is_not_found());
    }

    #[test]
    fn one_line_with_service_text_kept_apart() {
        let e = service_error("send", 200, "Send\r\nFailed", "line\nbreak");
        let s = e.to_string();
        assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
        assert!(
            s.starts_with("tuyu send: protocol error: the service refused the request"),
            "{s}"
        );
    }
}
