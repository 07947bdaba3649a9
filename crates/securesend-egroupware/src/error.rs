//! EGroupware's error answers → [`Error`] kinds.
//!
//! Only the status number and the JSON envelope's `error` code count: EGroupware puts free
//! text after the status code into the reason phrase (and `X-WebDAV-Status`), which is never
//! parsed. An HTTP 500 whose envelope carries another code is that code's failure (`2` is
//! "entry not found"; `403` a refused user prefix).

use std::time::SystemTime;

use http::{HeaderMap, StatusCode};
use securesend_core::http::parse_retry_after;
use securesend_core::{Error, ErrorKind};

use crate::PROVIDER;
use crate::api::Envelope;
use crate::auth;

/// The request that failed, which decides how a status reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// `GET /mail`.
    ListIdentities,
    /// `POST /mail[/<id>]`; whether attachments were given.
    Send { attachments: bool },
    /// `POST /mail[/<id>]/compose`.
    Compose { attachments: bool },
    /// `POST /mail/attachments/<name>`.
    UploadAttachment,
    /// `GET /mail/attachments/<token>`.
    ProbeAttachment,
    /// WebDAV `PUT`.
    Put,
    /// WebDAV `GET`/`HEAD`.
    Get,
    /// WebDAV `DELETE` (only of what an interrupted upload of ours left).
    Delete,
    /// WebDAV `MKCOL`.
    Mkcol,
    /// WebDAV `PROPFIND`.
    List,
}

impl Step {
    fn operation(self) -> &'static str {
        match self {
            Step::ListIdentities => "list identities",
            Step::Send { .. } => "send",
            Step::Compose { .. } => "compose",
            Step::UploadAttachment => "upload attachment",
            Step::ProbeAttachment => "check attachment",
            Step::Put => "upload",
            Step::Get => "download",
            Step::Delete => "delete",
            Step::Mkcol => "create folder",
            Step::List => "list",
        }
    }
}

/// The service's own code and message: the envelope, else the first line of a plain-text body.
fn service_text(headers: &HeaderMap, body: &[u8]) -> (Option<i64>, Option<String>) {
    if let Some(e) = Envelope::parse(body) {
        return (e.code, e.message);
    }
    let plain = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        });
    let line = plain
        .then(|| {
            String::from_utf8_lossy(body)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(securesend_core::clean_service_text)
        })
        .flatten();
    (None, line)
}

/// The error for an error answer to `step`; `what` names the file or folder for WebDAV steps.
pub(crate) fn answer_error(
    step: Step,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Error {
    let code = status.as_u16();
    let (service_code, service_message) = service_text(headers, body);
    let (kind, message): (ErrorKind, String) = match (code, step) {
        (401, _) => {
            return auth::unauthorized(headers, body)
                .with_provider(PROVIDER)
                .with_operation(step.operation());
        }
        (403, Step::Put) => (
            ErrorKind::PermissionDenied,
            format!("no write permission for {what}, or it is a folder"),
        ),
        (403, Step::Delete) => (
            ErrorKind::PermissionDenied,
            format!("no permission to delete {what}"),
        ),
        (403, Step::Mkcol) => (
            ErrorKind::PermissionDenied,
            format!("no permission to create folder {what}"),
        ),
        (403, Step::Get | Step::List) => (
            ErrorKind::PermissionDenied,
            format!("no read permission for {what}"),
        ),
        (403, _) => (
            ErrorKind::PermissionDenied,
            "EGroupware does not let this account use the mail API here: it needs run rights for mail, an application password limited to other apps lacks them, or the server blocks this client".to_owned(),
        ),
        (404, Step::Send { .. }) => (
            ErrorKind::NotFound,
            "EGroupware found no IMAP mail account to send from for this user; set one up in EGroupware's mail app".to_owned(),
        ),
        (404, Step::Compose { .. }) => (
            ErrorKind::NotFound,
            "the user is not online in EGroupware, so no compose window can open; log in to EGroupware in a browser, then try again".to_owned(),
        ),
        (404, Step::ProbeAttachment) => (
            ErrorKind::NotFound,
            "the uploaded attachment is gone".to_owned(),
        ),
        (404 | 410, Step::Get | Step::Put | Step::Delete | Step::Mkcol | Step::List) => {
            (ErrorKind::NotFound, format!("{what} does not exist"))
        }
        (400, Step::Send { attachments: true } | Step::Compose { attachments: true }) => (
            ErrorKind::NotFound,
            "EGroupware did not find an attachment: an upload token was already used, or a VFS path is not readable by this account".to_owned(),
        ),
        (400 | 422, Step::Send { .. } | Step::Compose { .. } | Step::UploadAttachment) => (
            ErrorKind::InvalidInput,
            "EGroupware could not read the request (JSON or attachment type)".to_owned(),
        ),
        (409, Step::Put | Step::Mkcol) => (
            ErrorKind::NotFound,
            format!("the folder of {what} does not exist; create it first or ask for missing folders to be created"),
        ),
        (412, Step::Put) => (
            ErrorKind::Conflict,
            format!("{what} exists already; upload under another name or allow overwriting"),
        ),
        (413 | 507, _) => (
            ErrorKind::InvalidInput,
            format!("EGroupware refused {what} as too large: the quota is used up or the file exceeds the server's size limit"),
        ),
        (423, _) => (
            ErrorKind::Conflict,
            format!("{what} is locked (someone has it open for editing); try again later"),
        ),
        (501, _) => (
            ErrorKind::Unsupported,
            "EGroupware does not implement this request; the server may be older than the API this client uses".to_owned(),
        ),
        (500, _) => match service_code {
            Some(2) => (
                ErrorKind::NotFound,
                "EGroupware found no such entry (an unknown identity id, or one of another user)".to_owned(),
            ),
            Some(c @ 400..=599) if c != 500 => (
                ErrorKind::from_http_status(c as u16),
                format!("EGroupware refused the request (code {c})"),
            ),
            _ if step == Step::UploadAttachment => (
                ErrorKind::Unavailable,
                "EGroupware could not store the attachment (a body above the server's upload limit arrives empty)".to_owned(),
            ),
            _ => (
                ErrorKind::Unavailable,
                "EGroupware failed to handle the request".to_owned(),
            ),
        },
        _ => {
            let kind = ErrorKind::from_http_status(code);
            let what = match code {
                300..=399 => "EGroupware redirected the request, which this client does not follow; check base_url",
                400..=499 => "EGroupware refused the request",
                500..=599 => "EGroupware failed to handle the request",
                _ => "EGroupware gave an unexpected answer",
            };
            (kind, what.to_owned())
        }
    };
    let mut e = Error::new(kind, message)
        .with_provider(PROVIDER)
        .with_operation(step.operation())
        .with_status(code);
    if service_code.is_some() || service_message.is_some() {
        e = e.with_service_error(service_code.map(|c| c.to_string()), service_message);
    }
    if let Some(delay) = parse_retry_after(headers, SystemTime::now()) {
        e = e.with_retry_after(delay);
    }
    e
}

/// A protocol error: EGroupware answered something this client does not understand.
pub(crate) fn protocol(step: Step, message: impl Into<String>) -> Error {
    Error::protocol(message.into())
        .with_provider(PROVIDER)
        .with_operation(step.operation())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(step: Step, status: u16, body: &str) -> Error {
        answer_error(
            step,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            "/home/ralf/a.txt",
        )
    }

    #[test]
    fn raw_code_beats_status() {
        let e = err(
            Step::Send { attachments: false },
            500,
            r#"{"error":2,"message":"Entry not found!"}"#,
        );
        assert!(e.is_not_found(), "{e}");
        assert_eq!((e.status(), e.service_code()), (Some(500), Some("2")));
        let e = err(
            Step::Send { attachments: false },
            500,
            r#"{"error":403,"message":"Forbidden"}"#,
        );
        assert!(e.is_permission_denied(), "{e}");
        let e = err(
            Step::Send { attachments: false },
            500,
            r#"{"error":500,"message":"SMTP Server not reachable"}"#,
        );
        assert!(e.is_unavailable());
        assert_eq!(e.service_message(), Some("SMTP Server not reachable"));
    }

    #[test]
    fn statuses_by_step() {
        assert!(err(Step::Send { attachments: true }, 400, "{}").is_not_found());
        assert!(err(Step::Send { attachments: false }, 400, "{}").is_invalid_input());
        assert!(err(Step::Send { attachments: false }, 422, r#"{"error":422}"#).is_invalid_input());
        let offline = err(
            Step::Compose { attachments: false },
            404,
            r#"{"error":404,"message":"User 'ralf' (#5) is NOT online"}"#,
        );
        assert!(offline.is_not_found() && offline.to_string().contains("not online"));
        assert!(err(Step::Send { attachments: false }, 501, "").is_unsupported());
        assert!(
            err(Step::Put, 409, "")
                .to_string()
                .contains("folder of /home/ralf/a.txt")
        );
        assert!(err(Step::Put, 413, "").is_invalid_input());
        assert!(err(Step::Put, 423, "").is_conflict());
        assert!(err(Step::Put, 403, "").is_permission_denied());
        assert!(err(Step::Get, 404, "").is_not_found());
        assert!(err(Step::List, 404, "").is_not_found());
        assert!(err(Step::List, 403, "").is_permission_denied());
        assert!(err(Step::List, 501, "").is_unsupported());
        assert!(err(Step::ListIdentities, 302, "").is_protocol());
    }

    #[test]
    fn a_refused_delete_reads_as_a_delete_not_an_upload() {
        let e = err(Step::Delete, 403, "");
        assert!(e.is_permission_denied(), "{e}");
        assert_eq!(e.operation(), Some("delete"));
        assert!(
            e.to_string()
                .contains("no permission to delete /home/ralf/a.txt"),
            "{e}"
        );
        let e = err(Step::Delete, 423, "");
        assert_eq!(e.operation(), Some("delete"));
        assert!(e.is_conflict(), "{e}");
    }
}
