//! `share.php/<token>`: the sharing links a `link`/`share_ro`/`share_rw` send hands out.
//!
//! As in EGroupware's `Sharing::create_session`: an unknown or expired token is a 404
//! `Requested resource '/<token>' does NOT exist!`; a share with a password (EPL's
//! `sharePassword`) wants it as the password of HTTP Basic (the user part is ignored) and
//! answers 401 with the realm `EGroupware share <token>` without it or with a wrong one.
//! Expiry (`shareExpiration`) follows PHP's `strtotime`: `yyyy-mm-dd` ends at the start of that
//! day (UTC here), `+<n>days` n × 24 hours after the send.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderValue, Method, header};

use super::mail::type_by_extension;
use super::reply::{empty, plain, status};
use super::state::State as Egw;

/// A share made by a send.
#[derive(Clone, Debug)]
pub(crate) struct Share {
    pub file_id: String,
    pub name: String,
    /// The share password, as the sender gave it.
    pub password: Option<String>,
    /// When the share stops working.
    pub expires: Option<SystemTime>,
}

/// When a `shareExpiration` value ends a share made at `now`; `None` for a value that names no
/// day (the caller has checked its shape).
pub(crate) fn expiry_of(value: &str, now: SystemTime) -> Option<SystemTime> {
    if let Some(days) = value
        .strip_prefix('+')
        .and_then(|r| r.strip_suffix("days").or_else(|| r.strip_suffix("day")))
    {
        let days: u64 = days.parse().ok()?;
        return now.checked_add(Duration::from_secs(days.checked_mul(86_400)?));
    }
    let mut parts = value.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    let start = date.midnight().assume_utc().unix_timestamp();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(start).ok()?))
}

fn basic_password(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value.trim().strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, p)| p.to_owned())
}

/// `GET`/`HEAD /egroupware/share.php/<token>`.
pub(crate) async fn handle(State(state): State<Arc<Egw>>, request: Request) -> Response {
    let token = request
        .uri()
        .path()
        .strip_prefix("/egroupware/share.php/")
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let missing = || {
        plain(
            404,
            "Not Found",
            &format!("Requested resource '/{token}' does NOT exist!\n"),
        )
    };
    let now = state.ctx.clock().now();
    let share = state.inner().shares.get(&token).cloned();
    let Some(share) = share.filter(|s| s.expires.is_none_or(|e| now < e)) else {
        return missing();
    };
    if let Some(wanted) = &share.password {
        if basic_password(&request).as_deref() != Some(wanted.as_str()) {
            let mut r = status(
                401,
                "Unauthorized",
                axum::body::Body::from(
                    "<html>\n<head>\n<title>401 Unauthorized</title>\n<body>\nAuthorization failed.\n</body>\n</html>\n",
                ),
            );
            if let Ok(v) =
                HeaderValue::from_str(&format!("Basic realm=\"EGroupware share {token}\""))
            {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            return r;
        }
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return empty(405, "Method Not Allowed");
    }
    let store = state.ctx.store();
    let Some(file) = store.get(&share.file_id) else {
        return missing();
    };
    let content_type = type_by_extension(&share.name);
    match store.respond(&file, request.headers(), content_type).await {
        Ok(r) => r,
        Err(_) => empty(500, "Internal Server Error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            expiry_of("+2days", now),
            Some(now + Duration::from_secs(2 * 86_400))
        );
        assert_eq!(
            expiry_of("1970-01-03", now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2 * 86_400))
        );
        assert_eq!(expiry_of("2026-13-40", now), None);
    }
}
