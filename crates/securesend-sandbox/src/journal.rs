//! The request journal: the sandbox's own record of every request it received.
//!
//! Each entry is created when the request head arrives (so a test can see a request that is
//! still being delayed) and completed as the body is read and the answer goes out. Tests use it
//! to assert outcomes such as "no request was made", "the chunk with this sha256 arrived once"
//! or "the second attempt was answered 200".
//!
//! The journal keeps query strings and the selected headers as received, secrets included: it
//! is the server's record for tests, and nothing in the sandbox prints it. The request log lines
//! of the binary name only the matched route pattern.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::{HeaderName, Method};
use serde::Serialize;
use tokio::sync::watch;

use crate::fault::AppliedFault;
use crate::route::Route;

/// Headers recorded by default, by name.
pub const DEFAULT_JOURNAL_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "content-range",
    "range",
    "transfer-encoding",
    "accept",
    "user-agent",
    "x-accellion-version",
    "x-kiteworks-version",
    "x-no-location",
    "idempotency-key",
];

/// The sequence number of a request, inserted into every request's extensions so a handler
/// can attach a note to its journal entry (`axum::Extension<RequestSeq>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct RequestSeq(pub u64);

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Received, not answered yet.
    Pending,
    /// A response head was sent (its body may still have been cut by a fault).
    Answered,
    /// The connection was closed without a response.
    Dropped,
}

/// What was read of a request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BodyRecord {
    /// Bytes read.
    pub bytes: u64,
    /// Whether the body was read to its end.
    pub complete: bool,
    /// Lowercase hex sha256 of the body, present when it was read to its end (and body
    /// hashing is on, see [`crate::SandboxOptions::hash_request_bodies`]).
    pub sha256: Option<String>,
}

/// One request.
#[derive(Clone, Debug, Serialize)]
pub struct JournalEntry {
    /// Sequence number, from 1, in arrival order.
    pub seq: u64,
    /// The method.
    pub method: String,
    /// The path, raw (not percent-decoded).
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Selected headers (lowercase name, value), in arrival order.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The service route pattern that handled it (axum's matched path), if one did.
    pub route: Option<String>,
    /// The body as far as it was read; `None` until the service (or a fault) touched it.
    pub body: Option<BodyRecord>,
    /// The response status, once answered.
    pub status: Option<u16>,
    /// The fault applied, if any.
    pub fault: Option<AppliedFault>,
    /// A note the service attached (for example why it rejected the request).
    pub note: Option<String>,
    /// Pending, answered or dropped.
    pub state: EntryState,
    /// Arrival time on the sandbox clock.
    pub received_at: SystemTime,
    /// Time from arrival to the response head (or the drop), on the sandbox clock.
    pub elapsed: Option<Duration>,
}

impl JournalEntry {
    /// The first recorded header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this entry matches a route.
    pub fn matches(&self, route: &Route) -> bool {
        Method::from_bytes(self.method.as_bytes()).is_ok_and(|m| route.matches(&m, &self.path))
    }
}

/// The journal of a running sandbox; a cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct Journal {
    inner: Arc<JournalInner>,
}

#[derive(Debug)]
struct JournalInner {
    entries: Mutex<BTreeMap<u64, JournalEntry>>,
    next_seq: AtomicU64,
    headers: Vec<HeaderName>,
    changed: watch::Sender<u64>,
}

impl Journal {
    pub(crate) fn new(headers: Vec<HeaderName>) -> Journal {
        Journal {
            inner: Arc::new(JournalInner {
                entries: Mutex::new(BTreeMap::new()),
                next_seq: AtomicU64::new(1),
                headers,
                changed: watch::channel(0).0,
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<u64, JournalEntry>> {
        // Entries are plain data; a panic elsewhere cannot leave one half-written.
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|v| *v += 1);
    }

    pub(crate) fn begin<B>(
        &self,
        req: &http::Request<B>,
        peer: SocketAddr,
        now: SystemTime,
    ) -> RequestSeq {
        let seq = self.inner.next_seq.fetch_add(1, Ordering::Relaxed);
        let headers = req
            .headers()
            .iter()
            .filter(|(name, _)| self.inner.headers.contains(name))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let entry = JournalEntry {
            seq,
            method: req.method().as_str().to_owned(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers,
            peer,
            route: None,
            body: None,
            status: None,
            fault: None,
            note: None,
            state: EntryState::Pending,
            received_at: now,
            elapsed: None,
        };
        self.entries().insert(seq, entry);
        self.bump();
        RequestSeq(seq)
    }

    /// Changes one entry (no-op if it was cleared meanwhile).
    pub(crate) fn update(&self, seq: RequestSeq, f: impl FnOnce(&mut JournalEntry)) {
        let found = self.entries().get_mut(&seq.0).map(f).is_some();
        if found {
            self.bump();
        }
    }

    /// Attaches a note to a request's entry; services use it to say why they rejected a
    /// request, so a failing test shows the emulator's reason.
    pub fn note(&self, seq: RequestSeq, note: impl Into<String>) {
        let note = note.into();
        self.update(seq, |e| e.note = Some(note));
    }

    /// Every entry, in arrival order.
    pub fn snapshot(&self) -> Vec<JournalEntry> {
        self.entries().values().cloned().collect()
    }

    /// One entry by sequence number.
    pub fn get(&self, seq: u64) -> Option<JournalEntry> {
        self.entries().get(&seq).cloned()
    }

    /// The latest entry.
    pub fn last(&self) -> Option<JournalEntry> {
        self.entries().values().next_back().cloned()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no request has been recorded (since the last [`Journal::clear`]).
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Entries whose method and path match `route`.
    pub fn matching(&self, route: &Route) -> Vec<JournalEntry> {
        self.entries()
            .values()
            .filter(|e| e.matches(route))
            .cloned()
            .collect()
    }

    /// How many entries match `route`.
    pub fn count(&self, route: &Route) -> usize {
        self.entries().values().filter(|e| e.matches(route)).count()
    }

    /// Entries counted by the service route pattern that handled them (`"(unmatched)"` for
    /// requests no route handled, including dropped ones).
    pub fn count_by_route(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in self.entries().values() {
            let key = e.route.clone().unwrap_or_else(|| "(unmatched)".to_owned());
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// Forgets every entry; sequence numbers keep increasing.
    pub fn clear(&self) {
        self.entries().clear();
        self.bump();
    }

    /// Waits until `pred` holds for the entries; checked on every change, so a test can wait
    /// for "a request reached the server" without sleeping.
    pub async fn wait_until(&self, mut pred: impl FnMut(&[JournalEntry]) -> bool) {
        let mut rx = self.inner.changed.subscribe();
        loop {
            // Mark the current version seen before checking, so no change is missed.
            rx.borrow_and_update();
            if pred(&self.snapshot()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> Journal {
        Journal::new(vec![http::header::CONTENT_TYPE])
    }

    fn req(method: &str, uri: &str) -> http::Request<()> {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "text/plain")
            .header("authorization", "Bearer secret")
            .body(())
            .unwrap()
    }

    #[test]
    fn records_selected_headers_and_query() {
        let j = journal();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let seq = j.begin(&req("GET", "/a/b?x=1&y=2"), peer, SystemTime::UNIX_EPOCH);
        let e = j.get(seq.0).unwrap();
        assert_eq!(e.seq, 1);
        assert_eq!(e.path, "/a/b");
        assert_eq!(e.query.as_deref(), Some("x=1&y=2"));
        assert_eq!(e.header("Content-Type"), Some("text/plain"));
        assert_eq!(e.header("authorization"), None, "only selected headers");
        assert_eq!(e.state, EntryState::Pending);
    }

    #[test]
    fn counts_and_clear() {
        let j = journal();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for uri in ["/u/1", "/u/2", "/v"] {
            let seq = j.begin(&req("POST", uri), peer, SystemTime::UNIX_EPOCH);
            j.update(seq, |e| {
                e.route = (uri != "/v").then(|| "/u/{id}".to_owned());
            });
        }
        assert_eq!(j.count(&Route::parse("POST /u/*").unwrap()), 2);
        assert_eq!(j.count(&Route::parse("GET /u/*").unwrap()), 0);
        let by_route = j.count_by_route();
        assert_eq!(by_route["/u/{id}"], 2);
        assert_eq!(by_route["(unmatched)"], 1);
        j.clear();
        assert!(j.is_empty());
        let seq = j.begin(&req("GET", "/"), peer, SystemTime::UNIX_EPOCH);
        assert_eq!(seq.0, 4, "sequence numbers survive a clear");
    }

    #[tokio::test]
    async fn wait_until_sees_later_entries() {
        let j = journal();
        let waiter = tokio::spawn({
            let j = j.clone();
            async move { j.wait_until(|e| e.len() == 2).await }
        });
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        j.begin(&req("GET", "/1"), peer, SystemTime::UNIX_EPOCH);
        j.begin(&req("GET", "/2"), peer, SystemTime::UNIX_EPOCH);
        waiter.await.unwrap();
    }
}
