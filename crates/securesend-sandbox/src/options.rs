//! Options for starting a sandbox.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;

use crate::clock::Clock;
use crate::error::SandboxError;
use crate::fault::{FaultMix, FaultPlan, FaultRule};
use crate::journal::DEFAULT_JOURNAL_HEADERS;
use crate::ratelimit::RateLimitSetting;

/// How a sandbox behaves. Build with `SandboxOptions::default()` and the chainable setters,
/// or with struct-update syntax.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Fault rules the sandbox starts with (more can be added at run time via
    /// [`crate::Sandbox::faults`]).
    pub faults: FaultPlan,
    /// Probability (0.0–1.0) that a request no rule faulted gets a fault from `fault_mix`.
    pub fault_rate: f64,
    /// What the fault rate draws from.
    pub fault_mix: FaultMix,
    /// Seed for fault probabilities; same seed and same request sequence, same faults.
    pub seed: u64,
    /// Added to every request before it is handled.
    pub latency: Duration,
    /// Largest upload chunk a service accepts; `None` leaves each service its documented
    /// default.
    pub chunk_max: Option<u64>,
    /// Lifetime of tokens issued with [`crate::tokens::Lifetime::Default`].
    pub token_lifetime: Duration,
    /// Rate limits.
    pub rate_limit: RateLimitSetting,
    /// Size cap per stored file.
    pub max_file_bytes: Option<u64>,
    /// Request headers the journal records.
    pub journal_headers: Vec<HeaderName>,
    /// Whether the journal hashes request bodies (sha256). On by default; turning it off saves
    /// one hashing pass per uploaded byte, which matters for throughput benchmarks on small
    /// machines (the store still hashes what it stores).
    pub hash_request_bodies: bool,
    /// The time source.
    pub clock: Clock,
    /// Where stored files go; `None` is a fresh temporary directory removed with the sandbox.
    pub data_dir: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            faults: FaultPlan::default(),
            fault_rate: 0.0,
            fault_mix: FaultMix::default(),
            seed: 0,
            latency: Duration::ZERO,
            chunk_max: None,
            token_lifetime: Duration::from_secs(3600),
            rate_limit: RateLimitSetting::default(),
            max_file_bytes: None,
            journal_headers: DEFAULT_JOURNAL_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect(),
            hash_request_bodies: true,
            clock: Clock::system(),
            data_dir: None,
        }
    }
}

impl SandboxOptions {
    /// Adds a fault rule.
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.rules.push(rule);
        self
    }

    /// Sets the global fault rate.
    pub fn fault_rate(mut self, rate: f64) -> Self {
        self.fault_rate = rate;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the per-request latency.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the chunk cap.
    pub fn chunk_max(mut self, bytes: u64) -> Self {
        self.chunk_max = Some(bytes);
        self
    }

    /// Sets the default token lifetime.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets the rate-limit choice.
    pub fn rate_limit(mut self, setting: RateLimitSetting) -> Self {
        self.rate_limit = setting;
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(SandboxError::Options(format!(
                "fault rate must be between 0 and 1, got {}",
                self.fault_rate
            )));
        }
        if self.chunk_max == Some(0) {
            return Err(SandboxError::Options(
                "chunk max must be at least 1 byte".into(),
            ));
        }
        if self.token_lifetime.is_zero() {
            return Err(SandboxError::Options(
                "token lifetime must be positive".into(),
            ));
        }
        Ok(())
    }
}
