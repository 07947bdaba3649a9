//! How the emulated Kiteworks reads requests and writes answers.
//!
//! Requests are read the way the service accepts them from its official samples: JSON or
//! form-encoded bodies, booleans as `true`, `"true"`, `1` or `0`, lists as repeated keys (with
//! or without `[]`). Answers use the service's shapes: `{"errors":[{code,message}]}` for REST
//! errors, `{error, error_description}` for OAuth.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

/// The largest JSON or form body read (chunks travel as multipart, or as base64 JSON checked
/// against the chunk cap separately).
pub(crate) const MAX_FORM_BODY: usize = 1 << 20;

/// A REST error answer.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "errors": [{ "code": code, "message": message }] }).to_string(),
    )
        .into_response()
}

/// An OAuth error answer (always 400, as the service does).
pub(crate) fn oauth_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json!({ "error": code, "error_description": description }).to_string(),
    )
        .into_response()
}

/// A JSON answer.
pub(crate) fn json_answer(status: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A 201 naming the created object in the location header, with its entity when asked.
pub(crate) fn created(location_header: &str, location: &str, entity: Option<&Value>) -> Response {
    let mut response = match entity {
        Some(e) => json_answer(201, e),
        None => StatusCode::CREATED.into_response(),
    };
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(location_header.as_bytes()),
        HeaderValue::from_str(location),
    ) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// An empty 204.
pub(crate) fn no_content() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default()
}

/// Reads `true`/`false`, `1`/`0` and their string forms (any case); anything else is `None`.
pub(crate) fn loose_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A query flag such as `returnEntity=true` (also `True`, `1`).
pub(crate) fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == name && loose_bool(&Value::String(v.into_owned())) == Some(true))
    })
}

/// A query value.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// Parses a JSON or form-encoded body into a JSON object. Form keys repeated (or written
/// `key[]`) become arrays.
pub(crate) fn parse_body(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        return Ok(form_to_map(body));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(
            400,
            "ERR_REQUEST_INVALID_JSON",
            "Invalid json provided",
        )),
    }
}

/// A form body as a JSON object (values stay strings; repeated keys become arrays).
pub(crate) fn form_to_map(body: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let (key, list) = match k.strip_suffix("[]") {
            Some(base) => (base.to_owned(), true),
            None => (k.into_owned(), false),
        };
        let v = Value::String(v.into_owned());
        match map.get_mut(&key) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None if list => {
                map.insert(key, Value::Array(vec![v]));
            }
            None => {
                map.insert(key, v);
            }
        }
    }
    map
}

/// A list of strings from a field that may be an array, a single string, or a comma list.
pub(crate) fn string_list(v: Option<&Value>) -> Result<Vec<String>, ()> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(()),
            })
            .filter(|r| r.as_ref().map_or(true, |s| !s.is_empty()))
            .collect(),
        Some(_) => Err(()),
    }
}

/// A non-negative integer from a number or a numeric string.
pub(crate) fn loose_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Kiteworks' timestamp format, `YYYY-MM-DDTHH:MM:SS+0000`.
pub(crate) fn timestamp(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Whether `s` is a time in the service's own form, `YYYY-MM-DDTHH:MM:SS+0000` (whole seconds,
/// UTC, no colon in the offset) and a real instant. A strict appliance refuses anything else:
/// RFC 3339 with fractions or `Z`, a bare date, Unix seconds.
pub(crate) fn is_service_timestamp(s: &str) -> bool {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+0000");
    s.len() == 24 && time::PrimitiveDateTime::parse(s, &format).is_ok()
}

/// The service's answer to a field in the wrong form (as documented for `initiateUpload`).
pub(crate) fn invalid_format() -> Response {
    error(422, "ERR_INPUT_INVALID_FORMAT", "The input is invalid.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_loose_values() {
        let m = form_to_map(b"to=a%40x.com&to=b%40x.com&cc[]=c%40x.com&draft=True&files=");
        assert_eq!(string_list(m.get("to")).unwrap(), ["a@x.com", "b@x.com"]);
        assert_eq!(string_list(m.get("cc")).unwrap(), ["c@x.com"]);
        assert_eq!(loose_bool(&m["draft"]), Some(true));
        assert!(string_list(m.get("files")).unwrap().is_empty());
        assert_eq!(loose_bool(&json!(0)), Some(false));
        assert_eq!(loose_bool(&json!("false")), Some(false));
        assert_eq!(loose_bool(&json!("maybe")), None);
        assert!(query_flag(
            Some("returnEntity=True&mode=full"),
            "returnEntity"
        ));
        assert!(!query_flag(Some("returnEntity=false"), "returnEntity"));
    }

    #[test]
    fn only_the_service_time_form_is_a_timestamp() {
        assert!(is_service_timestamp("2026-11-23T00:20:05+0000"));
        for bad in [
            "2026-11-23T00:20:05.123456789Z",
            "2026-11-23T00:20:05Z",
            "2026-11-23T00:20:05+00:00",
            "2026-11-23T00:20:05+0200",
            "2026-11-23",
            "2026-02-30T00:20:05+0000",
            "1795393205",
            "",
        ] {
            assert!(!is_service_timestamp(bad), "{bad}");
        }
    }
}
