//! When to try a request again and how long to wait first.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use http::{HeaderMap, StatusCode};

/// Whether a request may be sent again after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repeat {
    /// Sending it twice has the same effect as once (reads, uploads of a chunk to a fixed
    /// position, deletes): transport failures and 429/502/503/504 answers are retried.
    Safe,
    /// A step that must not happen twice, such as the final "send" of a message. It is tried
    /// exactly once; after an ambiguous failure ([`crate::Error::outcome_unknown`]) the
    /// adapter checks the service's state before deciding anything.
    Never,
}

/// Statuses retried for every service: too many requests, bad gateway, unavailable, gateway
/// timeout. Each says the request was not processed and may succeed later.
pub const RETRY_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// The start of the exponential backoff; each retry doubles it, up to [`MAX_BACKOFF`], and
/// adds up to as much again as jitter so clients that failed together do not return together.
pub const BASE_BACKOFF: Duration = Duration::from_millis(500);

/// The longest wait between attempts that the backoff alone chooses (before jitter). A
/// service's `Retry-After` may ask for longer; the retry budget decides whether to honour it.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The exponentially growing, jittered waits between attempts.
pub(crate) fn backoff() -> impl Iterator<Item = Duration> + Send {
    ExponentialBuilder::new()
        .with_min_delay(BASE_BACKOFF)
        .with_max_delay(MAX_BACKOFF)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// How long a `Retry-After` header asks to wait, as delta-seconds or an HTTP-date (relative to
/// `now`; a date in the past means "now"). `None` when absent or malformed.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::{HeaderMap, HeaderValue};
/// use securesend_core::http::parse_retry_after;
///
/// let mut h = HeaderMap::new();
/// h.insert("retry-after", HeaderValue::from_static("120"));
/// assert_eq!(parse_retry_after(&h, SystemTime::now()), Some(Duration::from_secs(120)));
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_450);
/// h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
/// assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurd values saturate rather than fail: the retry budget rejects them anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An answer a [`RetryHook`] looks at: status, headers and the start of the body.
#[derive(Debug)]
pub struct Answer<'a> {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: &'a HeaderMap,
    /// The body, cut at [`super::ERROR_BODY_CAP`] bytes.
    pub body: &'a [u8],
}

type Decide = dyn Fn(&Answer<'_>) -> bool + Send + Sync;

/// An adapter's own rule for answers that mean "try again later", for services that do not
/// say it with a standard status (Kiteworks answers rate limiting with a 403 and a code in
/// the body).
///
/// The hook is asked about the statuses it names, and only those; for them its verdict
/// replaces the default rule (so naming 503 and answering `false` stops 503 retries). A
/// retry the hook asked for counts as rate limiting. To decide, it sees the first
/// [`super::ERROR_BODY_CAP`] bytes of the body; the response handed back to the adapter
/// afterwards carries the same bytes.
///
/// ```
/// use securesend_core::http::RetryHook;
/// // Kiteworks-style: 403 with a throttling code in the JSON body.
/// let hook = RetryHook::new([403], |a| {
///     std::str::from_utf8(a.body).is_ok_and(|b| b.contains("\"ERR_REQUEST_THROTTLED\""))
/// });
/// # let _ = hook;
/// ```
#[derive(Clone)]
pub struct RetryHook {
    statuses: Vec<u16>,
    decide: Arc<Decide>,
}

impl RetryHook {
    /// A hook consulted for answers with one of `statuses`; `decide` returns whether to retry.
    pub fn new(
        statuses: impl IntoIterator<Item = u16>,
        decide: impl Fn(&Answer<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        RetryHook {
            statuses: statuses.into_iter().collect(),
            decide: Arc::new(decide),
        }
    }

    /// Whether the hook decides about `status`.
    pub fn covers(&self, status: StatusCode) -> bool {
        self.statuses.contains(&status.as_u16())
    }

    /// The hook's verdict on an answer it covers.
    pub fn decide(&self, answer: &Answer<'_>) -> bool {
        (self.decide)(answer)
    }
}

impl fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryHook")
            .field("statuses", &self.statuses)
            .finish_non_exhaustive()
    }
}

/// A boxed future that waits.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the client waits between attempts. The default sleeps on the tokio timer; tests and
/// simulators install one that records the requested waits and returns at once.
#[derive(Clone)]
pub struct Sleeper(Arc<dyn Fn(Duration) -> SleepFuture + Send + Sync>);

impl Sleeper {
    /// A sleeper calling `f` for each wait.
    pub fn new(f: impl Fn(Duration) -> SleepFuture + Send + Sync + 'static) -> Self {
        Sleeper(Arc::new(f))
    }

    /// Waits for `d` (or whatever this sleeper does with it).
    pub fn sleep(&self, d: Duration) -> SleepFuture {
        (self.0)(d)
    }
}

impl Default for Sleeper {
    fn default() -> Self {
        Sleeper::new(|d| Box::pin(tokio::time::sleep(d)))
    }
}

impl fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleeper(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static(v));
        h
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_450);
        assert_eq!(
            parse_retry_after(&with(" 7 "), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(&with("0"), now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(&with("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(30))
        );
        // A date in the past means "now", not an error.
        assert_eq!(
            parse_retry_after(&with("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&with("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["-1", "1.5", "soon", ""] {
            assert_eq!(parse_retry_after(&with(bad), now), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_grows_with_bounded_jitter() {
        let waits: Vec<Duration> = backoff().take(10).collect();
        let mut nominal = BASE_BACKOFF;
        for w in waits {
            assert!(w >= nominal && w <= nominal * 2, "{w:?} vs {nominal:?}");
            nominal = (nominal * 2).min(MAX_BACKOFF);
        }
    }
}
