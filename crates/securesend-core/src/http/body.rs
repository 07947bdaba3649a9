//! Reading answers with size caps, and the default mapping of an error status to an [`Error`].
//!
//! A hostile or broken server can send an endless body; every read here stops at a cap.

use std::borrow::Cow;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::retry::parse_retry_after;
use super::transport::{Phase, transport_error};
use crate::error::{Error, ErrorKind, Result};

/// A cap for ordinary JSON answers of API calls: 4 MiB.
pub const DEFAULT_JSON_CAP: usize = 4 << 20;

/// How much of an error answer's body is read: 16 KiB. Error bodies are only ever mined for
/// a code and a message.
pub const ERROR_BODY_CAP: usize = 16 << 10;

/// Reads the whole body, failing with a protocol error when it is longer than `cap` bytes.
///
/// Transport failures while reading mark the error [`Error::outcome_unknown`]: the service
/// answered, so it has seen (and maybe processed) the request.
pub async fn read_bytes_capped(resp: reqwest::Response, cap: usize) -> Result<Bytes> {
    read_capped(resp, cap, Overflow::Fail).await
}

/// Reads the body as JSON into `T`, with the size cap of [`read_bytes_capped`].
///
/// A body that is not the expected JSON is a protocol error naming the line, column and field
/// path, never quoting the body (it may hold a token).
pub async fn read_json_capped<T: DeserializeOwned>(
    resp: reqwest::Response,
    cap: usize,
) -> Result<T> {
    let body = read_bytes_capped(resp, cap).await?;
    parse_json(&body)
}

/// Parses JSON into `T` with the error reporting of [`read_json_capped`].
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = match inner.classify() {
            serde_json::error::Category::Io => "could not be read",
            serde_json::error::Category::Syntax => "is not valid JSON",
            serde_json::error::Category::Data => "does not have the expected shape",
            serde_json::error::Category::Eof => "ends too early",
        };
        let at = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!(", at `{path}`")
        };
        Error::protocol(format!(
            "the answer {what} (line {}, column {}{at})",
            inner.line(),
            inner.column()
        ))
    })
}

/// Reads at most [`ERROR_BODY_CAP`] bytes of an answer and drops the rest; transport failures
/// give what arrived so far. For error answers, where the status already tells the story.
pub async fn read_error_body(resp: reqwest::Response) -> Bytes {
    read_capped(resp, ERROR_BODY_CAP, Overflow::Truncate)
        .await
        .unwrap_or_default()
}

/// Returns `resp` when its status is a success (2xx), else the error [`status_error`] makes
/// of it. For services whose error answers need no special reading.
pub async fn ensure_success(
    provider: impl Into<Cow<'static, str>>,
    operation: impl Into<Cow<'static, str>>,
    resp: reqwest::Response,
) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = read_error_body(resp).await;
    Err(status_error(provider, operation, status, &headers, &body))
}

/// The default mapping of an error answer: the kind from the status
/// ([`ErrorKind::from_http_status`]), the `Retry-After` delay, and the service's code and
/// message when the body is JSON with the usual fields (`code`/`error`/`errorCode`,
/// `message`/`error_description`/`detail`/`title`) or short plain text.
///
/// Adapters with their own error envelope map it themselves and may fall back to this.
///
/// ```
/// use http::{HeaderMap, HeaderValue, StatusCode};
/// use securesend_core::http::status_error;
///
/// let mut h = HeaderMap::new();
/// h.insert("retry-after", HeaderValue::from_static("30"));
/// let body = br#"{"error":"throttled","message":"slow down"}"#;
/// let e = status_error("tuyu", "upload", StatusCode::TOO_MANY_REQUESTS, &h, body);
/// assert!(e.is_rate_limited());
/// assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
/// assert_eq!(e.service_code(), Some("throttled"));
/// assert_eq!(e.to_string(), "tuyu upload: rate limited: the service refused the request (HTTP 429, throttled: slow down, retry after 30s)");
/// ```
pub fn status_error(
    provider: impl Into<Cow<'static, str>>,
    operation: impl Into<Cow<'static, str>>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    answer_error(status, headers, body)
        .with_provider(provider)
        .with_operation(operation)
}

/// [`status_error`] without provider and operation.
pub(crate) fn answer_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let kind = ErrorKind::from_http_status(status.as_u16());
    let what = match status.as_u16() {
        300..=399 => "the service redirected the request, which this client does not follow",
        400..=499 => "the service refused the request",
        500..=599 => "the service failed to handle the request",
        _ => "the service gave an unexpected answer",
    };
    let mut e = Error::new(kind, what).with_status(status.as_u16());
    if let Some(delay) = parse_retry_after(headers, SystemTime::now()) {
        e = e.with_retry_after(delay);
    }
    let (code, message) = service_text(headers, body);
    if code.is_some() || message.is_some() {
        e = e.with_service_error(code, message);
    }
    e
}

/// The service's own code and message from an error body, when it has the usual shape.
fn service_text(headers: &HeaderMap, body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        let pick = |keys: &[&str]| {
            keys.iter().find_map(|k| match map.get(*k) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
        };
        let code = pick(&["code", "errorCode", "error_code", "error"]);
        let message = pick(&[
            "message",
            "error_description",
            "errorMessage",
            "detail",
            "title",
        ]);
        return (code, message);
    }
    let is_text = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        });
    if is_text {
        if let Some(line) = String::from_utf8_lossy(body)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
        {
            return (None, Some(line.to_owned()));
        }
    }
    (None, None)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Fail,
    Truncate,
}

async fn read_capped(mut resp: reqwest::Response, cap: usize, overflow: Overflow) -> Result<Bytes> {
    let too_long = || {
        Error::protocol(format!(
            "the answer is longer than the {cap} bytes this client accepts for it"
        ))
    };
    if overflow == Overflow::Fail && resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_long());
    }
    let url = resp.url().clone();
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut len = 0usize;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) if overflow == Overflow::Truncate => {
                tracing::debug!(error = %transport_error(e, None, &url, Phase::Body), "error body cut short");
                break;
            }
            Err(e) => return Err(transport_error(e, None, &url, Phase::Body)),
        };
        let room = cap - len;
        let chunk = if chunk.len() > room {
            match overflow {
                Overflow::Fail => return Err(too_long()),
                Overflow::Truncate => chunk.slice(..room),
            }
        } else {
            chunk
        };
        len += chunk.len();
        // Most bodies arrive in one piece: keep it without copying.
        match (&mut first, &mut buf) {
            (None, None) => first = Some(chunk),
            (Some(f), None) => {
                let mut b = BytesMut::with_capacity(f.len() + chunk.len());
                b.extend_from_slice(f);
                b.extend_from_slice(&chunk);
                first = None;
                buf = Some(b);
            }
            (_, Some(b)) => b.extend_from_slice(&chunk),
        }
        if len == cap && overflow == Overflow::Truncate {
            break;
        }
    }
    Ok(match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Tok {
        access_token: String,
        expires_in: u64,
    }

    #[test]
    fn json_errors_never_quote_the_body() {
        let e =
            parse_json::<Tok>(br#"{"access_token": 5, "expires_in": "canary-tok"}"#).unwrap_err();
        assert!(e.is_protocol());
        assert!(e.to_string().contains("`access_token`"), "{e}");
        let e =
            parse_json::<Tok>(br#"{"access_token": "canary-tok", "expires_in": "x"}"#).unwrap_err();
        let s = format!("{e} {e:?}");
        assert!(!s.contains("canary") && s.contains("`expires_in`"), "{s}");
        let e = parse_json::<Tok>(b"{\"access_token\": \"canary-tok\"").unwrap_err();
        assert!(!e.to_string().contains("canary"), "{e}");
    }

    #[test]
    fn status_error_reads_common_shapes() {
        let h = HeaderMap::new();
        let e = status_error(
            "p",
            "op",
            StatusCode::NOT_FOUND,
            &h,
            br#"{"errorCode":404001,"detail":"no such file"}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(e.service_code(), Some("404001"));
        assert_eq!(e.service_message(), Some("no such file"));

        let mut t = HeaderMap::new();
        t.insert("content-type", "text/plain; charset=utf-8".parse().unwrap());
        let e = status_error(
            "p",
            "op",
            StatusCode::BAD_GATEWAY,
            &t,
            b"\n  upstream down\nmore",
        );
        assert!(e.is_unavailable());
        assert_eq!(e.service_message(), Some("upstream down"));

        // HTML error pages say nothing useful; they are left out.
        let e = status_error("p", "op", StatusCode::FORBIDDEN, &h, b"<html>nope</html>");
        assert!(e.is_permission_denied() && e.service_message().is_none());
    }
}
