//! Turning the HTTP client's transport failures into [`Error`]s without leaking URLs.
//!
//! reqwest's errors print the request URL, query string included; a URL may carry a signature,
//! an API key or a PIN. Errors built here name the redacted URL themselves and keep the
//! reqwest error only after stripping its URL.

use std::error::Error as StdError;

use url::Url;

use super::redact::{redact_url, scrub_text};
use crate::error::{Error, ErrorKind};

/// Where in the exchange a transport failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Sending the request and waiting for the answer's head.
    Send,
    /// Reading the answer's body; the service has answered, so it has seen the request.
    Body,
}

/// Maps a reqwest error for `method url` (method unknown once only the response is left) to an
/// [`Error`].
///
/// Connect failures (refused, DNS, TLS handshake, connect timeout) happen before any byte of
/// the request left, so they never carry `outcome_unknown`; any later failure may have come
/// after the service processed the request, so it always does, except a body stopped by a
/// file whose size changed (see [`crate::file::read_error`]).
pub(crate) fn transport_error(
    err: reqwest::Error,
    method: Option<&str>,
    url: &Url,
    phase: Phase,
) -> Error {
    // A checked file whose size changed stopped the request body: that is the failure to
    // report, and a permanent one. The body never ended, so the service cannot have taken the
    // request: no `outcome_unknown`.
    if let Some(changed) = crate::file::size_change_in(&err) {
        return changed;
    }
    let shown = match method {
        Some(m) => format!("{m} {}", redact_url(url)),
        None => redact_url(url),
    };
    let err = err.without_url();
    let cause = scrub_text(&cause_chain(&err), url);
    let (kind, what, sent) = if err.is_builder() {
        (
            ErrorKind::InvalidInput,
            "could not build the request",
            false,
        )
    } else if err.is_connect() {
        if let Some(tls) = tls_failure(&err) {
            let msg = format!(
                "{shown}: the server's TLS certificate was refused ({}); if it uses a private CA, add that CA's PEM file to `http.ca_files`",
                scrub_text(&tls, url)
            );
            return Error::new(ErrorKind::Configuration, msg).with_source(err);
        }
        if err.is_timeout() {
            (ErrorKind::Timeout, "could not connect in time", false)
        } else {
            (ErrorKind::Unavailable, "could not connect", false)
        }
    } else if err.is_timeout() {
        let what = match phase {
            Phase::Send => "no answer in time",
            Phase::Body => "the answer stalled",
        };
        (ErrorKind::Timeout, what, true)
    } else if err.is_decode() && phase == Phase::Send {
        (ErrorKind::Protocol, "the answer could not be decoded", true)
    } else {
        let what = match phase {
            Phase::Send => "the connection failed before an answer arrived",
            Phase::Body => "the connection failed while the answer was read",
        };
        (ErrorKind::Unavailable, what, true)
    };
    let message = if cause.is_empty() {
        format!("{shown}: {what}")
    } else {
        format!("{shown}: {what} ({cause})")
    };
    let e = Error::new(kind, message).with_source(err);
    if sent { e.with_outcome_unknown() } else { e }
}

/// The causes below reqwest's own wrapper, joined, skipping any already quoted by an outer
/// one ("tcp connect error: Connection refused (os error 111)").
fn cause_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let joined = parts.join(": ");
    crate::error::clean_service_text(&joined)
}

/// The TLS error below a failed connection, when the handshake was what failed.
fn tls_failure(err: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // io::Error hides the error it wraps from `source()` (and TLS errors arrive wrapped
        // in two of them); look inside.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}
