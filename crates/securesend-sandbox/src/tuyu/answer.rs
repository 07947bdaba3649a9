//! Answers in JSON (with PHP's `\/` escaping, as the published samples show) or XML (for the
//! `.xml` suffix), and the `error` envelope with a configurable HTTP status.

use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

/// The format a request asked for with its method suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fmt {
    Json,
    Xml,
}

/// A kind of refusal, for choosing the HTTP status of an error envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Auth,
    Access,
    Conflict,
    Invalid,
}

/// The HTTP status of error envelopes (Tuyu does not document one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorStatus {
    /// `200 OK` with the envelope: errors are told by the envelope alone (the default).
    #[default]
    Ok,
    /// A status per refusal: 401 authentication, 403 access, 409 name clash, 400 otherwise.
    Mapped,
}

impl ErrorStatus {
    pub(crate) fn status(self, refusal: Refusal) -> StatusCode {
        match (self, refusal) {
            (ErrorStatus::Ok, _) => StatusCode::OK,
            (ErrorStatus::Mapped, Refusal::Auth) => StatusCode::UNAUTHORIZED,
            (ErrorStatus::Mapped, Refusal::Access) => StatusCode::FORBIDDEN,
            (ErrorStatus::Mapped, Refusal::Conflict) => StatusCode::CONFLICT,
            (ErrorStatus::Mapped, Refusal::Invalid) => StatusCode::BAD_REQUEST,
        }
    }
}

pub(crate) fn respond(fmt: Fmt, status: StatusCode, date: SystemTime, value: &Value) -> Response {
    let (body, content_type) = match fmt {
        Fmt::Json => (
            // PHP's json_encode escapes every `/`; only strings contain one.
            value.to_string().replace('/', "\\/"),
            "application/json",
        ),
        Fmt::Xml => (
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
                to_xml(value)
            ),
            "application/xml",
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    insert_date(headers, date);
    response
}

/// Sets `Date` from the sandbox clock, so a client can see the service's time (hyper keeps a
/// `Date` the service set).
pub(crate) fn insert_date(headers: &mut http::HeaderMap, date: SystemTime) {
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(date)) {
        headers.insert(header::DATE, v);
    }
}

pub(crate) fn error_value(title: &str, message: &str) -> Value {
    serde_json::json!({"error": {"title": title, "message": message}})
}

fn item_name(list: &str) -> &'static str {
    match list {
        "files" => "file",
        "usersLocationAccess" => "user",
        "workspaces" => "workspace",
        _ => "item",
    }
}

fn to_xml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                element(&mut out, k, v);
            }
        }
        other => element(&mut out, "answer", other),
    }
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for item in items {
                element(out, item_name(name), item);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                element(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_has_item_elements_and_escapes() {
        let v =
            serde_json::json!({"fileList": {"files": [{"id": 1, "name": "a&b"}], "path": "/W/"}});
        assert_eq!(
            to_xml(&v),
            "<fileList><files><file><id>1</id><name>a&amp;b</name></file></files><path>/W/</path></fileList>"
        );
    }
}
