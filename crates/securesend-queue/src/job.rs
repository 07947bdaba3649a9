//! What a job is: its id, state, phase, payload and the options it was enqueued with.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use securesend_core::Error;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// A job's id: a UUID v7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(Uuid);

impl JobId {
    /// A new id for a job created now.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Uuid::parse_str(s.trim()).map(JobId).map_err(|_| {
            Error::invalid_input(format!(
                "{:?} is not a job id (expected a UUID such as 0190f3a2-7c1e-7d4b-9a8e-1f2d3c4b5a69)",
                truncate(s, 60)
            ))
        })
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobState {
    /// Waiting for a worker (possibly until its `not_before`).
    Queued,
    /// Leased by a worker until its lease runs out.
    Running,
    /// Delivered; the receipt is stored.
    Sent,
    /// Failed for good; the error kind and message are stored.
    Failed,
    /// May have reached the service: an operator must say whether it was sent.
    InDoubt,
    /// Cancelled before any worker took it.
    Cancelled,
}

impl JobState {
    /// Every state, in the order they are listed by stats.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Sent,
        JobState::Failed,
        JobState::InDoubt,
        JobState::Cancelled,
    ];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Sent => "sent",
            JobState::Failed => "failed",
            JobState::InDoubt => "in_doubt",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether no worker will ever touch the job again unless an operator acts (purge removes
    /// only these). `in_doubt` is not final: it waits for an operator's answer.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Sent | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = Error;

    /// Accepts the stored names and `in-doubt` as users type it.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "sent" => Ok(JobState::Sent),
            "failed" => Ok(JobState::Failed),
            "in_doubt" | "in-doubt" => Ok(JobState::InDoubt),
            "cancelled" => Ok(JobState::Cancelled),
            other => Err(Error::invalid_input(format!(
                "unknown job state {:?}: use queued, running, sent, failed, in-doubt or cancelled",
                truncate(other, 40)
            ))),
        }
    }
}

/// How far a running job got, so a take-over knows whether it may send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Nothing saved yet: a take-over starts from the beginning.
    Fresh,
    /// The adapter saved a checkpoint: a take-over resumes from it.
    Prepared,
    /// The worker was about to make the point-of-no-return request: a take-over must never
    /// send again.
    Committing,
}

impl Phase {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Fresh => "fresh",
            Phase::Prepared => "prepared",
            Phase::Committing => "committing",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "fresh" => Ok(Phase::Fresh),
            "prepared" => Ok(Phase::Prepared),
            "committing" => Ok(Phase::Committing),
            other => Err(Error::protocol(format!(
                "queue storage holds an unknown phase {:?}",
                truncate(other, 40)
            ))),
        }
    }
}

/// The longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// How a job is enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueOptions {
    /// Enqueuing the same key again returns the existing job and creates nothing.
    pub idempotency_key: Option<String>,
    /// No worker takes the job before this time (the database's clock decides).
    pub not_before: Option<OffsetDateTime>,
    /// Higher runs first.
    pub priority: i16,
    /// How many failed attempts end the job as `failed`.
    pub max_attempts: u32,
    /// How long after enqueuing the job may still be retried: a retryable failure whose next
    /// try would fall later fails the job instead (`None`: no limit).
    pub max_age: Option<Duration>,
}

impl Default for EnqueueOptions {
    fn default() -> Self {
        EnqueueOptions {
            idempotency_key: None,
            not_before: None,
            priority: 0,
            max_attempts: 10,
            max_age: None,
        }
    }
}

impl EnqueueOptions {
    /// Refuses options no job may carry, with one line saying what to fix.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(key) = &self.idempotency_key {
            if key.trim().is_empty() {
                return Err(Error::invalid_input(
                    "the idempotency key is empty: give a non-empty key or none",
                ));
            }
            if key.len() > MAX_IDEMPOTENCY_KEY {
                return Err(Error::invalid_input(format!(
                    "the idempotency key is {} bytes long: keep it to {MAX_IDEMPOTENCY_KEY}",
                    key.len()
                )));
            }
            if key.chars().any(char::is_control) {
                return Err(Error::invalid_input(
                    "the idempotency key contains control characters: use printable text",
                ));
            }
        }
        if self.max_attempts == 0 {
            return Err(Error::invalid_input(
                "max_attempts is 0: a job needs at least one attempt",
            ));
        }
        if self.max_age.is_some_and(|age| age.as_millis() == 0) {
            return Err(Error::invalid_input(
                "max_age is under a millisecond: give the job time to run, or no max age",
            ));
        }
        Ok(())
    }
}

/// What a job sends: for now an opaque JSON spec (the facade will supply the message), with the
/// SHA-256 of its canonical JSON so a repeated idempotency key can be checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    profile: String,
    provider: String,
    spec: Value,
    fingerprint: String,
}

impl JobSpec {
    /// A spec for `profile` (served by `provider`); refuses empty names.
    pub fn new(
        profile: impl Into<String>,
        provider: impl Into<String>,
        spec: Value,
    ) -> Result<Self, Error> {
        let profile = profile.into();
        let provider = provider.into();
        for (what, name) in [("profile", &profile), ("provider", &provider)] {
            if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
                return Err(Error::invalid_input(format!(
                    "the job's {what} name {:?} is empty, too long or has control characters",
                    truncate(name, 60)
                )));
            }
        }
        let fingerprint = fingerprint(&profile, &provider, &spec);
        Ok(JobSpec {
            profile,
            provider,
            spec,
            fingerprint,
        })
    }

    /// The profile the job is sent through.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The provider serving the profile.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The payload.
    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// Lower-case hex SHA-256 of the canonical JSON of profile, provider and spec.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// SHA-256 over the canonical form of `[profile, provider, spec]`.
impl JobSpec {
    /// Like [`JobSpec::new`], with the fingerprint taken over `content` instead of `spec`: for
    /// specs that hold what differs between two enqueues of the same message (where its files
    /// were staged), so that an idempotency key matches on what is sent.
    pub fn with_content(
        profile: impl Into<String>,
        provider: impl Into<String>,
        spec: Value,
        content: &Value,
    ) -> Result<Self, Error> {
        let mut job = JobSpec::new(profile, provider, Value::Null)?;
        job.fingerprint = fingerprint(&job.profile, &job.provider, content);
        job.spec = spec;
        Ok(job)
    }
}

fn fingerprint(profile: &str, provider: &str, spec: &Value) -> String {
    let mut text = String::new();
    canonical_json(
        &Value::Array(vec![
            Value::String(profile.to_owned()),
            Value::String(provider.to_owned()),
            spec.clone(),
        ]),
        &mut text,
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compact JSON with object keys sorted by their UTF-8 bytes, whatever order the map keeps
/// (serde_json's `preserve_order` feature may be on through another crate).
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// At most `max` characters of `s`, for error messages.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_key_order_but_not_content() {
        let a = JobSpec::new("p", "local", json!({"to": ["a@x"], "subject": "s"})).unwrap();
        let b = JobSpec::new("p", "local", json!({"subject": "s", "to": ["a@x"]})).unwrap();
        let c = JobSpec::new("p", "local", json!({"subject": "t", "to": ["a@x"]})).unwrap();
        let d = JobSpec::new("q", "local", json!({"subject": "s", "to": ["a@x"]})).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), d.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }

    #[test]
    fn canonical_json_is_compact_and_sorted() {
        let mut out = String::new();
        canonical_json(
            &json!({"b": [1, {"d": null, "c": "é"}], "a": true}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":true,"b":[1,{"c":"é","d":null}]}"#);
    }

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<JobId>().unwrap(), a);
        let err = "nope".parse::<JobId>().unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
    }

    #[test]
    fn states_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>().unwrap(), state);
        }
        assert_eq!("in-doubt".parse::<JobState>().unwrap(), JobState::InDoubt);
        assert!("done".parse::<JobState>().unwrap_err().is_invalid_input());
    }

    #[test]
    fn bad_options_are_refused() {
        let bad = [
            EnqueueOptions {
                idempotency_key: Some(" ".into()),
                ..Default::default()
            },
            EnqueueOptions {
                idempotency_key: Some("k".repeat(MAX_IDEMPOTENCY_KEY + 1)),
                ..Default::default()
            },
            EnqueueOptions {
                idempotency_key: Some("a\nb".into()),
                ..Default::default()
            },
            EnqueueOptions {
                max_attempts: 0,
                ..Default::default()
            },
            EnqueueOptions {
                max_age: Some(Duration::ZERO),
                ..Default::default()
            },
            EnqueueOptions {
                max_age: Some(Duration::from_micros(999)),
                ..Default::default()
            },
        ];
        for options in bad {
            assert!(options.validate().unwrap_err().is_invalid_input());
        }
        assert!(EnqueueOptions::default().validate().is_ok());
        let aged = EnqueueOptions {
            max_age: Some(Duration::from_millis(1)),
            ..Default::default()
        };
        assert!(aged.validate().is_ok());
        assert!(JobSpec::new("", "local", Value::Null).is_err());
    }
}
