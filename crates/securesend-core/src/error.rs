//! One error type for every provider.
//!
//! [`Error`] is opaque: a [`ErrorKind`] says what went wrong in terms a caller can act on, and
//! the context (provider, operation, HTTP status, the service's own code and message) says where.
//! Callers branch on the kind or on the `is_*` predicates, never on the message text.
//!
//! Messages never contain secrets: constructors take text written by this project, and text that
//! came from a server (service messages) is cut to a bounded length and stripped of control
//! characters before it is stored.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// The result type used throughout securesend.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is wrong (address, header, file, name, option value). Nothing was sent.
    InvalidInput,
    /// The configuration is wrong or incomplete (unknown key, missing secret, bad URL).
    Configuration,
    /// The provider cannot do what was asked (an option or role it lacks).
    Unsupported,
    /// The service did not accept the credentials, or they have expired.
    Unauthenticated,
    /// The credentials are valid but not allowed to do this.
    PermissionDenied,
    /// The file, folder, message or identity does not exist.
    NotFound,
    /// The request conflicts with the service's state (exists already, locked, wrong order).
    Conflict,
    /// The service asked us to slow down; see [`Error::retry_after`].
    RateLimited,
    /// The service is temporarily unable to answer (5xx, connection refused or dropped).
    Unavailable,
    /// The operation did not finish in time.
    Timeout,
    /// Bytes arrived or were stored with the wrong size or checksum.
    Integrity,
    /// The service answered something this client does not understand.
    Protocol,
    /// A local file system operation failed.
    Io,
    /// The operation was interrupted on request (see [`Cancel`](crate::Cancel)); the message
    /// says what was and was not done.
    Cancelled,
}

impl ErrorKind {
    /// A short lowercase label, used in Display and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Configuration => "configuration error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unavailable => "service unavailable",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Integrity => "integrity check failed",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Io => "I/O error",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    /// The kind a plain HTTP status maps to when the service gave nothing more specific.
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            400 | 405 | 411 | 414 | 415 | 422 => ErrorKind::InvalidInput,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 | 410 => ErrorKind::NotFound,
            409 | 412 | 423 => ErrorKind::Conflict,
            413 | 507 => ErrorKind::InvalidInput,
            408 | 504 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::Protocol,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a send's error says about the message, when the adapter knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SendState {
    Unsaid,
    NotSent,
    MaybeSent,
}

/// The longest service-supplied code or message we keep, in characters.
const MAX_SERVICE_TEXT: usize = 300;

/// An error from any securesend operation.
///
/// ```
/// use securesend_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::NotFound, "file 42 does not exist")
///     .with_provider("kiteworks")
///     .with_operation("download")
///     .with_status(404);
/// assert!(err.is_not_found());
/// assert!(!err.is_retryable());
/// assert_eq!(
///     err.to_string(),
///     "kiteworks download: not found: file 42 does not exist (HTTP 404)"
/// );
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    provider: Option<Cow<'static, str>>,
    operation: Option<Cow<'static, str>>,
    status: Option<u16>,
    service_code: Option<String>,
    service_message: Option<String>,
    retry_after: Option<Duration>,
    outcome_unknown: bool,
    send: SendState,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message written by this project (never a secret).
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                provider: None,
                operation: None,
                status: None,
                service_code: None,
                service_message: None,
                retry_after: None,
                outcome_unknown: false,
                send: SendState::Unsaid,
                source: None,
            }),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Configuration`].
    pub fn config(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Configuration, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for [`ErrorKind::Protocol`].
    pub fn protocol(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// Shorthand for [`ErrorKind::Integrity`].
    pub fn integrity(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Integrity, message)
    }

    /// An I/O error on a local path; `what` says what was being done ("reading report.pdf").
    pub fn io(what: impl Into<Cow<'static, str>>, source: std::io::Error) -> Self {
        let kind = match source.kind() {
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        let what = what.into();
        Error::new(kind, format!("{what}: {source}")).with_source(source)
    }

    /// Names the provider the error comes from.
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.inner.provider = Some(provider.into());
        self
    }

    /// Names the operation that failed ("send", "upload", "download", "authenticate", …).
    pub fn with_operation(mut self, operation: impl Into<Cow<'static, str>>) -> Self {
        self.inner.operation = Some(operation.into());
        self
    }

    /// Sets the provider only where none is set yet; adapters use it on errors bubbling up.
    pub fn or_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        if self.inner.provider.is_none() {
            self.inner.provider = Some(provider.into());
        }
        self
    }

    /// Sets the operation only where none is set yet.
    pub fn or_operation(mut self, operation: impl Into<Cow<'static, str>>) -> Self {
        if self.inner.operation.is_none() {
            self.inner.operation = Some(operation.into());
        }
        self
    }

    /// Records the HTTP status the service answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Records the service's own error code and message (both treated as untrusted text).
    pub fn with_service_error(
        mut self,
        code: Option<impl AsRef<str>>,
        message: Option<impl AsRef<str>>,
    ) -> Self {
        self.inner.service_code = code.map(|c| clean_service_text(c.as_ref()));
        self.inner.service_message = message.map(|m| clean_service_text(m.as_ref()));
        self
    }

    /// Records how long the service asked us to wait before trying again.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_after = Some(delay);
        self
    }

    /// Marks that the request may have reached the service and been processed (the
    /// connection broke or timed out after the request was sent). A non-repeatable step must
    /// then check the service's state instead of repeating.
    pub fn with_outcome_unknown(mut self) -> Self {
        self.inner.outcome_unknown = true;
        self
    }

    /// Whether the request may have been processed despite the error; see
    /// [`Error::with_outcome_unknown`].
    pub fn outcome_unknown(&self) -> bool {
        self.inner.outcome_unknown
    }

    /// Marks a send's error from before its point of no return: no recipient can have the
    /// message, whatever the failed request did, so the outcome is known (clears
    /// [`outcome_unknown`](Error::outcome_unknown)). Display then says the message was not sent.
    pub fn not_sent(mut self) -> Self {
        self.inner.outcome_unknown = false;
        self.inner.send = SendState::NotSent;
        self
    }

    /// Marks a send's error at or after its point of no return, where the service cannot be
    /// asked what happened: the message may have been sent (sets
    /// [`outcome_unknown`](Error::outcome_unknown)). Display says so and that it must be
    /// checked before sending again.
    pub fn maybe_sent(mut self) -> Self {
        self.inner.outcome_unknown = true;
        self.inner.send = SendState::MaybeSent;
        self
    }

    /// Whether this is a send's error known to have sent nothing (see [`Error::not_sent`]).
    pub fn is_not_sent(&self) -> bool {
        self.inner.send == SendState::NotSent
    }

    /// Attaches the underlying cause. Its Display must not contain secrets: wrap HTTP client
    /// errors only after stripping their URL.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Replaces the message, keeping all context (to add what the caller knows, say).
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// A copy with the same kind, message and context but without the source (errors are not
    /// `Clone`: sources may not be). For handing one failure to several waiting callers.
    pub fn copy_without_source(&self) -> Error {
        let i = &self.inner;
        Error {
            inner: Box::new(Inner {
                kind: i.kind,
                message: i.message.clone(),
                provider: i.provider.clone(),
                operation: i.operation.clone(),
                status: i.status,
                service_code: i.service_code.clone(),
                service_message: i.service_message.clone(),
                retry_after: i.retry_after,
                outcome_unknown: i.outcome_unknown,
                send: i.send,
                source: None,
            }),
        }
    }

    /// Replaces the kind, keeping all context.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message written by this project, without context.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The provider key, when known.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The operation, when known.
    pub fn operation(&self) -> Option<&str> {
        self.inner.operation.as_deref()
    }

    /// The HTTP status the service answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The service's own error code, when it gave one.
    pub fn service_code(&self) -> Option<&str> {
        self.inner.service_code.as_deref()
    }

    /// The service's own error message, when it gave one.
    pub fn service_message(&self) -> Option<&str> {
        self.inner.service_message.as_deref()
    }

    /// How long the service asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether repeating the same request later may succeed.
    ///
    /// True for rate limiting, temporary unavailability and timeouts. Whether a request is
    /// *safe* to repeat is a separate question the caller answers (see
    /// the HTTP plumbing).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Timeout
        )
    }

    /// [`ErrorKind::InvalidInput`].
    pub fn is_invalid_input(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidInput
    }
    /// [`ErrorKind::Configuration`].
    pub fn is_configuration(&self) -> bool {
        self.inner.kind == ErrorKind::Configuration
    }
    /// [`ErrorKind::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        self.inner.kind == ErrorKind::Unsupported
    }
    /// [`ErrorKind::Unauthenticated`].
    pub fn is_unauthenticated(&self) -> bool {
        self.inner.kind == ErrorKind::Unauthenticated
    }
    /// [`ErrorKind::PermissionDenied`].
    pub fn is_permission_denied(&self) -> bool {
        self.inner.kind == ErrorKind::PermissionDenied
    }
    /// [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::NotFound
    }
    /// [`ErrorKind::Conflict`].
    pub fn is_conflict(&self) -> bool {
        self.inner.kind == ErrorKind::Conflict
    }
    /// [`ErrorKind::RateLimited`].
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == ErrorKind::RateLimited
    }
    /// [`ErrorKind::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        self.inner.kind == ErrorKind::Unavailable
    }
    /// [`ErrorKind::Timeout`].
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }
    /// [`ErrorKind::Integrity`].
    pub fn is_integrity(&self) -> bool {
        self.inner.kind == ErrorKind::Integrity
    }
    /// [`ErrorKind::Protocol`].
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == ErrorKind::Protocol
    }
    /// [`ErrorKind::Io`].
    pub fn is_io(&self) -> bool {
        self.inner.kind == ErrorKind::Io
    }
}

/// Cuts server-supplied text to a bounded length and removes control characters and invisible
/// format characters (bidirectional overrides, zero-width spaces: see
/// [`names::strip_invisible`](crate::names::strip_invisible)), so a hostile or broken server
/// cannot flood logs, inject lines or make a name read as another.
pub fn clean_service_text(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX_SERVICE_TEXT {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    crate::names::strip_invisible(&out).trim().to_owned()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        match (&i.provider, &i.operation) {
            (Some(p), Some(o)) => write!(f, "{p} {o}: ")?,
            (Some(p), None) => write!(f, "{p}: ")?,
            (None, Some(o)) => write!(f, "{o}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: ", i.kind)?;
        // Messages quote what the caller gave (paths, names, ids); control characters in them
        // are escaped so the error stays one line and cannot drive a terminal, and invisible
        // format characters (a right-to-left override) so the line reads as it is.
        for c in i.message.chars() {
            if c.is_control() || crate::names::is_deceptive_format(c) {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        let mut details = Vec::new();
        if let Some(status) = i.status {
            details.push(format!("HTTP {status}"));
        }
        match (&i.service_code, &i.service_message) {
            (Some(c), Some(m)) if !m.is_empty() => details.push(format!("{c}: {m}")),
            (Some(c), _) => details.push(c.clone()),
            (None, Some(m)) if !m.is_empty() => details.push(format!("service said: {m}")),
            _ => {}
        }
        if let Some(delay) = i.retry_after {
            details.push(format!(
                "retry after {}s",
                delay.as_secs_f64().ceil() as u64
            ));
        }
        match (i.send, i.outcome_unknown) {
            (SendState::NotSent, _) => details.push("the message was not sent".to_owned()),
            (SendState::MaybeSent, _) => details.push(
                "the message may have been sent: check with the recipients or the service before sending it again"
                    .to_owned(),
            ),
            (SendState::Unsaid, true) => {
                details.push("the service may have processed the request".to_owned())
            }
            (SendState::Unsaid, false) => {}
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind).field("message", &i.message);
        if let Some(p) = &i.provider {
            d.field("provider", p);
        }
        if let Some(o) = &i.operation {
            d.field("operation", o);
        }
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        if let Some(c) = &i.service_code {
            d.field("service_code", c);
        }
        if let Some(m) = &i.service_message {
            d.field("service_message", m);
        }
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        if i.outcome_unknown {
            d.field("outcome_unknown", &true);
        }
        if let Some(s) = &i.source {
            // The source's Display, not its Debug: Debug of foreign errors may print request
            // internals (headers, URLs) that Display leaves out.
            d.field("source", &format_args!("{s}"));
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io("local I/O", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_text_and_error_lines_cannot_reorder_themselves() {
        assert_eq!(
            clean_service_text("File inv\u{202E}fdp.exe\u{200B} not found"),
            "File invfdp.exe not found"
        );
        // A joiner inside a word is spelling and stays.
        assert_eq!(clean_service_text("می\u{200C}خواهم"), "می\u{200C}خواهم");
        let e = Error::invalid_input("cannot open inv\u{202E}fdp.exe");
        let line = e.to_string();
        assert!(!line.contains('\u{202E}'), "{line:?}");
        assert!(line.contains("inv\\u{202e}fdp.exe"), "{line:?}");
    }

    #[test]
    fn control_characters_in_the_message_are_escaped() {
        let e = Error::invalid_input("file no\nsuch.pdf does not exist; check \u{1b}[2J");
        assert_eq!(
            e.to_string(),
            "invalid input: file no\\nsuch.pdf does not exist; check \\u{1b}[2J"
        );
    }

    #[test]
    fn display_is_one_line_with_context() {
        let e = Error::new(ErrorKind::RateLimited, "too many requests")
            .with_provider("privasfer")
            .with_operation("download")
            .with_status(429)
            .with_service_error(Some("throttle"), Some("slow\r\ndown"))
            .with_retry_after(Duration::from_millis(1500));
        let s = e.to_string();
        assert_eq!(
            s,
            "privasfer download: rate limited: too many requests (HTTP 429, throttle: slow  down, retry after 2s)"
        );
        assert!(!s.contains('\n'));
        assert!(e.is_retryable());
    }

    #[test]
    fn copies_and_rewordings_keep_context() {
        let e = Error::new(ErrorKind::Unavailable, "first")
            .with_provider("p")
            .with_operation("send")
            .with_status(503)
            .with_service_error(Some("c"), Some("m"))
            .with_retry_after(Duration::from_secs(2))
            .with_outcome_unknown()
            .with_source(std::io::Error::other("inner"));
        let copy = e.copy_without_source();
        assert_eq!(format!("{copy}"), format!("{e}"));
        assert!(std::error::Error::source(&copy).is_none());
        let reworded = e.with_message("second");
        assert_eq!(reworded.message(), "second");
        assert!(reworded.outcome_unknown() && reworded.status() == Some(503));
        assert!(std::error::Error::source(&reworded).is_some());
    }

    #[test]
    fn a_send_error_says_whether_the_message_went() {
        let transport = || {
            Error::new(ErrorKind::Unavailable, "connection reset")
                .with_provider("tuyu")
                .with_operation("send")
                .with_outcome_unknown()
        };
        let before = transport().not_sent();
        assert!(!before.outcome_unknown() && before.is_not_sent());
        assert_eq!(
            before.to_string(),
            "tuyu send: service unavailable: connection reset (the message was not sent)"
        );
        let cancelled = Error::new(
            ErrorKind::Cancelled,
            "the send was interrupted before the message was sent; its draft was deleted",
        )
        .not_sent();
        assert!(cancelled.is_not_sent());
        // Every cancelled send ends with the same words, whatever its own message says: some
        // adapters' early exits say nothing else about whether the message went.
        assert!(
            cancelled
                .to_string()
                .ends_with("(the message was not sent)"),
            "a cancelled send says the message did not go: {cancelled}"
        );
        let bare = Error::new(ErrorKind::Cancelled, "interrupted").not_sent();
        assert_eq!(
            bare.to_string(),
            "cancelled: interrupted (the message was not sent)"
        );
        let after = Error::new(ErrorKind::Protocol, "the answer was cut").maybe_sent();
        assert!(after.outcome_unknown() && !after.is_not_sent());
        assert!(after.to_string().contains("the message may have been sent"));
        assert!(after.copy_without_source().outcome_unknown());
        assert!(
            transport()
                .to_string()
                .contains("may have processed the request")
        );
    }

    #[test]
    fn service_text_is_capped() {
        let long = "x".repeat(10_000);
        let e = Error::protocol("bad").with_service_error(None::<&str>, Some(&long));
        assert!(e.service_message().unwrap().chars().count() <= MAX_SERVICE_TEXT + 1);
    }

    #[test]
    fn retryable_kinds() {
        for (kind, retry) in [
            (ErrorKind::Unavailable, true),
            (ErrorKind::Timeout, true),
            (ErrorKind::RateLimited, true),
            (ErrorKind::Conflict, false),
            (ErrorKind::Unauthenticated, false),
            (ErrorKind::InvalidInput, false),
        ] {
            assert_eq!(Error::new(kind, "x").is_retryable(), retry, "{kind:?}");
        }
    }

    #[test]
    fn status_mapping() {
        assert_eq!(ErrorKind::from_http_status(401), ErrorKind::Unauthenticated);
        assert_eq!(ErrorKind::from_http_status(429), ErrorKind::RateLimited);
        assert_eq!(ErrorKind::from_http_status(503), ErrorKind::Unavailable);
        assert_eq!(ErrorKind::from_http_status(409), ErrorKind::Conflict);
    }
}
