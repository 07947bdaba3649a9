//! EGroupware's ways of answering: status strings whose text becomes the reason phrase and an
//! `X-WebDAV-Status` header, the JSON error envelope with its raw-code-versus-status rule, and
//! the two 401 forms.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use hyper::ext::ReasonPhrase;

/// `X-Dav-Powered-By` of every answer from the DAV layer.
pub(crate) const POWERED_BY: &str = "EGroupware 26.8 CalDAV/CardDAV/GroupDAV server";

/// Realm of `groupdav.php`.
pub(crate) const GROUPDAV_REALM: &str = "EGroupware CalDAV/CardDAV/GroupDAV server";

/// Realm of `webdav.php`.
pub(crate) const WEBDAV_REALM: &str = "EGroupware WebDAV server";

/// A response with `code`, the reason phrase `text` (empty: the standard one), the matching
/// `X-WebDAV-Status`, `X-Dav-Powered-By` and `body`.
pub(crate) fn status(code: u16, text: &str, body: Body) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = if text.is_empty() {
        status.canonical_reason().unwrap_or("")
    } else {
        text
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Ok(reason) = ReasonPhrase::try_from(clean.clone()) {
        response.extensions_mut().insert(reason);
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{code} {clean}")) {
        headers.insert("x-webdav-status", v);
    }
    headers.insert("x-dav-powered-by", HeaderValue::from_static(POWERED_BY));
    response
}

/// An empty answer.
pub(crate) fn empty(code: u16, text: &str) -> Response {
    status(code, text, Body::empty())
}

/// A plain-text answer.
pub(crate) fn plain(code: u16, text: &str, body: &str) -> Response {
    let mut r = status(code, text, Body::from(body.to_owned()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A JSON answer, pretty-printed with slashes and unicode unescaped, as the handler writes.
pub(crate) fn json(code: u16, text: &str, value: &serde_json::Value) -> Response {
    let body = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    let mut r = status(code, text, Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The handler's error envelope. The HTTP status is the code when it is 400–599, else 500
/// while `error` keeps the raw code.
pub(crate) fn envelope(code: i64, message: &str) -> Response {
    let http = if (400..=599).contains(&code) {
        code as u16
    } else {
        500
    };
    let body = serde_json::json!({
        "error": code,
        "message": message,
        "details": null,
        "script": null,
    });
    json(http, message, &body)
}

fn www_authenticate(response: &mut Response, realm: &str) {
    if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}

fn no_cache(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The early 401: the request carried no usable credentials. It comes before the DAV layer,
/// so it has no `X-Dav-Powered-By`.
pub(crate) fn early_401(realm: &str) -> Response {
    let mut r = Response::new(Body::from("Unauthorized, you need to authenticate first!"));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "x-webdav-status",
        HeaderValue::from_static("401 Unauthorized"),
    );
    www_authenticate(&mut r, realm);
    no_cache(&mut r);
    r
}

/// The 401 for refused credentials; `reason` is appended to the realm (never for a plain bad
/// login or password).
pub(crate) fn refused_401(realm: &str, reason: Option<&str>) -> Response {
    let mut r = Response::new(Body::from(
        "<html>\n<head><title>401 Unauthorized</title></head>\n<body><h1>Authorization failed.</h1></body>\n</html>\n",
    ));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let realm = match reason {
        Some(reason) => format!("{realm}: {reason}"),
        None => realm.to_owned(),
    };
    www_authenticate(&mut r, &realm);
    no_cache(&mut r);
    r
}

/// No-cache headers for attachment downloads.
pub(crate) fn with_no_cache(mut response: Response) -> Response {
    no_cache(&mut response);
    response
}
