//! Answers in the service's shapes: the `data` envelope, Laravel's error bodies, its redirects
//! for clients that do not ask for JSON, and the throttle's 429.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::ratelimit::RatePolicy;

/// Laravel's message on every validation failure.
pub(crate) const INVALID_DATA: &str = "The given data was invalid.";

/// Whether the client asked for JSON (Laravel's `expectsJson`: an `Accept` naming a JSON type).
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("/json") || v.contains("+json"))
}

/// A success: `{"data": …}`.
pub(crate) fn data(status: StatusCode, value: Value) -> Response {
    (status, Json(json!({ "data": value }))).into_response()
}

/// Why a request failed, rendered per [`Failure::render`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// No or unknown bearer token.
    Unauthenticated,
    /// Field errors, in the order found.
    Invalid(Vec<(String, String)>),
    /// Unknown (or not the caller's) record, or unknown route.
    NotFound,
    /// An unknown `sort` or `include` value (the query builder's 400).
    BadQuery(String),
}

impl Failure {
    /// One field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure::Invalid(vec![(field.into(), message.into())])
    }

    /// The answer. A client not asking for JSON gets what a browser would: a redirect to the
    /// login page (unauthenticated) or back (validation), an HTML 404.
    pub fn render(self, wants_json: bool) -> Response {
        match self {
            Failure::Unauthenticated if wants_json => (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "message": "Unauthenticated." })),
            )
                .into_response(),
            Failure::Unauthenticated => redirect("/login"),
            Failure::Invalid(fields) if wants_json => {
                let mut errors = Map::new();
                for (field, message) in fields {
                    let entry = errors
                        .entry(field)
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = entry {
                        list.push(Value::String(message));
                    }
                }
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({ "message": INVALID_DATA, "errors": errors })),
                )
                    .into_response()
            }
            Failure::Invalid(_) => redirect("/"),
            Failure::NotFound if wants_json => (
                StatusCode::NOT_FOUND,
                Json(json!({ "message": "Not Found" })),
            )
                .into_response(),
            Failure::NotFound => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                "<!doctype html><title>Not Found</title><h1>404 | Not Found</h1>",
            )
                .into_response(),
            Failure::BadQuery(message) => {
                (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
            }
        }
    }
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// Laravel's throttle: 429 `Too Many Attempts.` with `Retry-After` and `X-RateLimit-*`;
/// allowed answers carry the limit and what is left of it.
#[derive(Clone, Debug)]
pub(crate) struct Throttle {
    pub clock: Clock,
}

fn number(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

impl RatePolicy for Throttle {
    fn limited(&self, limit: u32, retry_after: Duration) -> Response {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let reset = self
            .clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            + secs;
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "message": "Too Many Attempts." })),
        )
            .into_response();
        let h = response.headers_mut();
        h.insert(header::RETRY_AFTER, number(secs));
        h.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            number(limit.into()),
        );
        h.insert(HeaderName::from_static("x-ratelimit-remaining"), number(0));
        h.insert(HeaderName::from_static("x-ratelimit-reset"), number(reset));
        response
    }

    fn allowed(&self, limit: u32, remaining: u32, mut response: Response) -> Response {
        let h = response.headers_mut();
        h.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            number(limit.into()),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            number(remaining.into()),
        );
        response
    }
}
