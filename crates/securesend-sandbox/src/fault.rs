//! Fault injection: rules aimed at routes, plus a global fault rate.
//!
//! A [`FaultRule`] pairs a [`Route`] with a [`Trigger`] (always, the Nth matching request, the
//! first N, every Nth, or a probability) and a [`FaultAction`] (a status with `Retry-After`, a
//! dropped connection, a connection dropped part-way through the request body, a truncated
//! response body, or a delay). Rules are checked in order; the first that fires decides. When
//! none fires, the global rate (if set) picks an action from a [`FaultMix`].
//!
//! Probabilities come from a counter-based generator keyed by the sandbox seed, the rule and the
//! rule's match count, so a run with the same seed and the same sequence of requests faults the
//! same requests, whatever the timing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;

use crate::route::Route;

/// What to do to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status instead of calling the service. The request body is read to its
    /// end first, so the client receives the answer even while uploading.
    Status(StatusFault),
    /// Close the connection without any response, before reading the request body.
    Drop,
    /// Read this many bytes of the request body (or all of it, if shorter), then close the
    /// connection without any response.
    DropAfterBody {
        /// Bytes of request body to read before closing.
        bytes: u64,
    },
    /// Let the service answer, announce the full `Content-Length`, send fewer bytes, close.
    /// `keep` bytes are sent (default: half); always at least one byte fewer than announced.
    /// A response that cannot carry a body (HEAD, 204, 304) is dropped instead.
    Truncate {
        /// Bytes of the body to send before closing.
        keep: Option<u64>,
    },
    /// Wait this long (on the sandbox clock), then handle the request normally.
    Delay(Duration),
    /// Handle the request, then wait this long before answering: the service has acted and the
    /// client does not know it yet (for killing a client just after its point of no return).
    HoldAnswer(Duration),
}

/// An injected answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusFault {
    /// The status code.
    pub status: StatusCode,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// Content type of `body`.
    pub content_type: Option<String>,
    /// The body; empty when `None`.
    pub body: Option<Bytes>,
}

impl FaultAction {
    /// An injected status with no body.
    pub fn status(status: u16) -> FaultAction {
        FaultAction::Status(StatusFault {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            retry_after: None,
            content_type: None,
            body: None,
        })
    }

    /// An injected status with a `Retry-After: <secs>` header.
    pub fn status_retry_after(status: u16, secs: u64) -> FaultAction {
        FaultAction::status(status).with_retry_after(secs)
    }

    /// Adds `Retry-After` to a status action (no effect on other actions).
    pub fn with_retry_after(mut self, secs: u64) -> FaultAction {
        if let FaultAction::Status(s) = &mut self {
            s.retry_after = Some(secs);
        }
        self
    }

    /// Adds a body to a status action (no effect on other actions), so a service module can
    /// inject its own error shape (for example a JSON envelope).
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> FaultAction {
        if let FaultAction::Status(s) = &mut self {
            s.content_type = Some(content_type.to_owned());
            s.body = Some(body.into());
        }
        self
    }

    /// Truncates the response body to half its length.
    pub fn truncate() -> FaultAction {
        FaultAction::Truncate { keep: None }
    }

    /// Delays the request by `ms` milliseconds.
    pub fn delay_ms(ms: u64) -> FaultAction {
        FaultAction::Delay(Duration::from_millis(ms))
    }
}

/// When a rule fires, counted over the requests its route matches.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Every matching request.
    Always,
    /// Only the Nth matching request (1-based).
    Nth(u64),
    /// The first N matching requests.
    FirstN(u64),
    /// Every Nth matching request (N, 2N, …).
    EveryNth(u64),
    /// Each matching request with this probability (0.0–1.0), from the seeded generator.
    Probability(f64),
}

/// A route, a trigger and an action.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// Requests the rule applies to.
    pub route: Route,
    /// Which of them get the fault.
    pub trigger: Trigger,
    /// The fault.
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule that fires on every request to `route`; narrow it with the trigger methods.
    pub fn new(route: Route, action: FaultAction) -> FaultRule {
        FaultRule {
            route,
            trigger: Trigger::Always,
            action,
        }
    }

    /// Fires only on the `n`th matching request (1-based).
    pub fn nth(mut self, n: u64) -> FaultRule {
        self.trigger = Trigger::Nth(n);
        self
    }

    /// Fires on the first `n` matching requests.
    pub fn first(mut self, n: u64) -> FaultRule {
        self.trigger = Trigger::FirstN(n);
        self
    }

    /// Fires on every `n`th matching request.
    pub fn every(mut self, n: u64) -> FaultRule {
        self.trigger = Trigger::EveryNth(n);
        self
    }

    /// Fires with probability `p` per matching request.
    pub fn probability(mut self, p: f64) -> FaultRule {
        self.trigger = Trigger::Probability(p);
        self
    }
}

/// The rules a sandbox starts with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// Rules, checked in order.
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// An empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }
}

/// The weighted actions the global fault rate chooses from.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultMix {
    /// `(weight, action)` pairs; an action is picked with probability weight / total.
    pub entries: Vec<(u32, FaultAction)>,
}

impl Default for FaultMix {
    /// The chaos mix: 503 and 429 with `Retry-After: 1`, dropped connections before and
    /// during the request body, truncated responses and 250 ms answers. Every one of these
    /// is something a well-behaved client must survive without corrupting or duplicating data.
    fn default() -> Self {
        FaultMix {
            entries: vec![
                (2, FaultAction::status_retry_after(503, 1)),
                (2, FaultAction::status_retry_after(429, 1)),
                (1, FaultAction::Drop),
                (1, FaultAction::DropAfterBody { bytes: 16 * 1024 }),
                (1, FaultAction::truncate()),
                (1, FaultAction::delay_ms(250)),
            ],
        }
    }
}

impl FaultMix {
    fn pick(&self, unit: f64) -> Option<&FaultAction> {
        let total: u64 = self.entries.iter().map(|(w, _)| u64::from(*w)).sum();
        if total == 0 {
            return None;
        }
        // `unit` < 1.0, so the scaled point is always below `total`.
        let mut point = (unit * total as f64) as u64;
        for (w, action) in &self.entries {
            let w = u64::from(*w);
            if point < w {
                return Some(action);
            }
            point -= w;
        }
        self.entries.last().map(|(_, a)| a)
    }
}

/// Which part of the configuration chose a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultSource {
    /// A rule, by its position in [`Faults::rules`] at the time.
    Rule(usize),
    /// The global fault rate.
    Rate,
}

/// A fault as it was applied, for the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppliedFault {
    /// An injected status.
    Status {
        /// The status sent.
        status: u16,
        /// The `Retry-After` seconds sent.
        retry_after: Option<u64>,
        /// What chose it.
        source: FaultSource,
    },
    /// The connection was closed without a response.
    Drop {
        /// What chose it.
        source: FaultSource,
    },
    /// The connection was closed without a response after reading part of the body.
    DropAfterBody {
        /// Bytes the rule asked to read.
        bytes: u64,
        /// What chose it.
        source: FaultSource,
    },
    /// The response body was cut short.
    Truncate {
        /// The `Content-Length` announced.
        announced: u64,
        /// Bytes handed to the connection (a slow reader may receive fewer).
        sent: u64,
        /// What chose it.
        source: FaultSource,
    },
    /// The request was held before being handled.
    Delay {
        /// The delay in milliseconds.
        ms: u64,
        /// What chose it.
        source: FaultSource,
    },
    /// The request was handled and its answer held back.
    HoldAnswer {
        /// The hold in milliseconds.
        ms: u64,
        /// What chose it.
        source: FaultSource,
    },
}

impl AppliedFault {
    /// A short name: `status`, `drop`, `drop_after_body`, `truncate`, `delay` or `hold_answer`.
    pub fn kind(&self) -> &'static str {
        match self {
            AppliedFault::Status { .. } => "status",
            AppliedFault::Drop { .. } => "drop",
            AppliedFault::DropAfterBody { .. } => "drop_after_body",
            AppliedFault::Truncate { .. } => "truncate",
            AppliedFault::Delay { .. } => "delay",
            AppliedFault::HoldAnswer { .. } => "hold_answer",
        }
    }
}

/// The live fault configuration of a running sandbox; tests change it between requests.
#[derive(Clone, Debug)]
pub struct Faults {
    inner: Arc<FaultsInner>,
}

#[derive(Debug)]
struct FaultsInner {
    seed: u64,
    state: Mutex<FaultState>,
}

#[derive(Debug)]
struct FaultState {
    rules: Vec<ActiveRule>,
    next_rule_id: u64,
    rate: f64,
    mix: FaultMix,
    rate_draws: u64,
}

#[derive(Debug)]
struct ActiveRule {
    id: u64,
    rule: FaultRule,
    matched: u64,
}

/// A decision for one request.
#[derive(Clone, Debug)]
pub(crate) struct Decision {
    pub(crate) action: FaultAction,
    pub(crate) source: FaultSource,
}

// Stream 0 is the global rate; rules get ids from 1 so their draws never collide with it.
const RATE_STREAM: u64 = 0;

impl Faults {
    pub(crate) fn new(plan: FaultPlan, rate: f64, mix: FaultMix, seed: u64) -> Faults {
        let faults = Faults {
            inner: Arc::new(FaultsInner {
                seed,
                state: Mutex::new(FaultState {
                    rules: Vec::new(),
                    next_rule_id: 1,
                    rate: rate.clamp(0.0, 1.0),
                    mix,
                    rate_draws: 0,
                }),
            }),
        };
        for rule in plan.rules {
            faults.add(rule);
        }
        faults
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FaultState> {
        // A panic while holding this lock cannot leave the plain data inconsistent.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a rule after the existing ones; its counters start at zero.
    pub fn add(&self, rule: FaultRule) {
        let mut st = self.state();
        let id = st.next_rule_id;
        st.next_rule_id += 1;
        st.rules.push(ActiveRule {
            id,
            rule,
            matched: 0,
        });
    }

    /// Removes every rule (the global rate stays).
    pub fn clear(&self) {
        self.state().rules.clear();
    }

    /// The rules in order.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.state().rules.iter().map(|r| r.rule.clone()).collect()
    }

    /// Sets the global fault rate (clamped to 0.0–1.0).
    pub fn set_rate(&self, rate: f64) {
        self.state().rate = rate.clamp(0.0, 1.0);
    }

    /// The global fault rate.
    pub fn rate(&self) -> f64 {
        self.state().rate
    }

    /// Replaces the mix the global rate draws from.
    pub fn set_mix(&self, mix: FaultMix) {
        self.state().mix = mix;
    }

    /// The seed of the generator.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    pub(crate) fn decide(&self, method: &Method, path: &str) -> Option<Decision> {
        let seed = self.inner.seed;
        let mut st = self.state();
        let mut chosen = None;
        // Every matching rule counts the request, even when an earlier rule fires, so "the
        // Nth request to this route" means the same thing whatever other rules exist.
        for (index, active) in st.rules.iter_mut().enumerate() {
            if !active.rule.route.matches(method, path) {
                continue;
            }
            active.matched += 1;
            let n = active.matched;
            let fires = match active.rule.trigger {
                Trigger::Always => true,
                Trigger::Nth(k) => n == k,
                Trigger::FirstN(k) => n <= k,
                Trigger::EveryNth(k) => k > 0 && n % k == 0,
                Trigger::Probability(p) => unit(seed, active.id, n) < p,
            };
            if fires && chosen.is_none() {
                chosen = Some(Decision {
                    action: active.rule.action.clone(),
                    source: FaultSource::Rule(index),
                });
            }
        }
        if chosen.is_some() || st.rate <= 0.0 {
            return chosen;
        }
        st.rate_draws += 1;
        let n = st.rate_draws;
        if unit(seed, RATE_STREAM, 2 * n) >= st.rate {
            return None;
        }
        let pick = unit(seed, RATE_STREAM, 2 * n + 1);
        st.mix.pick(pick).map(|action| Decision {
            action: action.clone(),
            source: FaultSource::Rate,
        })
    }
}

/// A uniform draw in [0, 1) that depends only on (seed, stream, n).
fn unit(seed: u64, stream: u64, n: u64) -> f64 {
    let x = splitmix64(seed ^ splitmix64(stream.wrapping_add(0x5bd1_e995)) ^ splitmix64(!n));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> Route {
        Route::parse(s).unwrap()
    }

    fn fired(f: &Faults, method: Method, path: &str) -> Option<FaultSource> {
        f.decide(&method, path).map(|d| d.source)
    }

    #[test]
    fn counting_triggers() {
        let f = Faults::new(
            FaultPlan::new()
                .rule(FaultRule::new(route("GET /a"), FaultAction::Drop).nth(2))
                .rule(FaultRule::new(route("GET /b"), FaultAction::Drop).first(2))
                .rule(FaultRule::new(route("GET /c"), FaultAction::Drop).every(3)),
            0.0,
            FaultMix::default(),
            1,
        );
        let a: Vec<_> = (0..4)
            .map(|_| fired(&f, Method::GET, "/a").is_some())
            .collect();
        assert_eq!(a, [false, true, false, false]);
        let b: Vec<_> = (0..4)
            .map(|_| fired(&f, Method::GET, "/b").is_some())
            .collect();
        assert_eq!(b, [true, true, false, false]);
        let c: Vec<_> = (0..6)
            .map(|_| fired(&f, Method::GET, "/c").is_some())
            .collect();
        assert_eq!(c, [false, false, true, false, false, true]);
        assert_eq!(fired(&f, Method::POST, "/a"), None, "method must match");
    }

    #[test]
    fn first_firing_rule_wins_but_all_count() {
        let f = Faults::new(
            FaultPlan::new()
                .rule(FaultRule::new(route("/x"), FaultAction::Drop).first(1))
                .rule(FaultRule::new(route("/x"), FaultAction::truncate()).nth(1))
                .rule(FaultRule::new(route("/x"), FaultAction::status(503)).nth(2)),
            0.0,
            FaultMix::default(),
            1,
        );
        assert_eq!(fired(&f, Method::GET, "/x"), Some(FaultSource::Rule(0)));
        // The second rule's first match was consumed by request 1, so request 2 is rule 2's.
        assert_eq!(fired(&f, Method::GET, "/x"), Some(FaultSource::Rule(2)));
        assert_eq!(fired(&f, Method::GET, "/x"), None);
    }

    #[test]
    fn rate_is_reproducible_per_seed_and_close_to_its_value() {
        let run = |seed| {
            let f = Faults::new(FaultPlan::new(), 0.3, FaultMix::default(), seed);
            (0..2000)
                .map(|_| f.decide(&Method::GET, "/x").map(|d| d.action))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let hits = a.iter().filter(|d| d.is_some()).count();
        assert!((450..750).contains(&hits), "{hits} of 2000 at rate 0.3");
        let kinds: std::collections::HashSet<_> =
            a.iter().flatten().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), 5, "every kind in the default mix is drawn");
    }

    #[test]
    fn mix_pick_respects_weights() {
        let mix = FaultMix {
            entries: vec![(1, FaultAction::Drop), (3, FaultAction::truncate())],
        };
        assert_eq!(mix.pick(0.0), Some(&FaultAction::Drop));
        assert_eq!(mix.pick(0.24), Some(&FaultAction::Drop));
        assert_eq!(mix.pick(0.25), Some(&FaultAction::truncate()));
        assert_eq!(mix.pick(0.999), Some(&FaultAction::truncate()));
        assert_eq!(FaultMix { entries: vec![] }.pick(0.5), None);
    }

    #[test]
    fn rate_extremes() {
        let f = Faults::new(FaultPlan::new(), 1.0, FaultMix::default(), 3);
        assert!((0..50).all(|_| f.decide(&Method::GET, "/").is_some()));
        f.set_rate(0.0);
        assert!((0..50).all(|_| f.decide(&Method::GET, "/").is_none()));
    }
}
