//! Opaque tokens with lifetimes: OAuth access and refresh tokens, temporary keys, download
//! keys, upload tokens.
//!
//! One [`Tokens`] registry serves a whole sandbox, so a test can expire every token at once
//! ([`Tokens::expire_all`]) to drive a client's refresh path, or move a manual clock past the
//! lifetime. Each token has a *kind* (a service-chosen label such as `"access"` or
//! `"refresh"`); validating with the wrong kind fails like an unknown token, so a refresh token
//! can never be used as a bearer token. Values come from the thread-local CSPRNG.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;

use crate::clock::Clock;

/// How a token's value looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// Lowercase hex of this many random bytes (Kiteworks shows 40-hex tokens: 20 bytes).
    Hex {
        /// Random bytes.
        bytes: usize,
    },
    /// This many characters from `[A-Za-z0-9]` (Privasfer: 60 for API tokens, 32 for keys).
    Alphanumeric {
        /// Length.
        len: usize,
    },
}

impl Default for TokenFormat {
    fn default() -> Self {
        TokenFormat::Hex { bytes: 20 }
    }
}

/// A random string in `format`, from the CSPRNG.
pub fn random_token(format: TokenFormat) -> String {
    let mut rng = rand::rng();
    match format {
        TokenFormat::Hex { bytes } => {
            let mut buf = vec![0u8; bytes];
            rng.fill(&mut buf[..]);
            hex::encode(buf)
        }
        TokenFormat::Alphanumeric { len } => (&mut rng)
            .sample_iter(Alphanumeric)
            .take(len)
            .map(char::from)
            .collect(),
    }
}

/// How long a token lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lifetime {
    /// The sandbox's token lifetime ([`crate::SandboxOptions::token_lifetime`]).
    #[default]
    Default,
    /// This long.
    For(Duration),
    /// Until revoked.
    Never,
}

/// What to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The service's label for the token's purpose (`"access"`, `"refresh"`, `"pin_key"` …).
    pub kind: String,
    /// Who it belongs to (user name, e-mail, client id).
    pub subject: String,
    /// Granted scope, if the service has scopes.
    pub scope: Option<String>,
    /// Its lifetime.
    pub lifetime: Lifetime,
    /// Its shape.
    pub format: TokenFormat,
}

impl TokenRequest {
    /// A token of `kind` for `subject`, default lifetime and format.
    pub fn new(kind: &str, subject: &str) -> TokenRequest {
        TokenRequest {
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            scope: None,
            lifetime: Lifetime::Default,
            format: TokenFormat::default(),
        }
    }

    /// Sets the scope.
    pub fn scope(mut self, scope: &str) -> TokenRequest {
        self.scope = Some(scope.to_owned());
        self
    }

    /// Sets the lifetime.
    pub fn lifetime(mut self, lifetime: Lifetime) -> TokenRequest {
        self.lifetime = lifetime;
        self
    }

    /// Sets the format.
    pub fn format(mut self, format: TokenFormat) -> TokenRequest {
        self.format = format;
        self
    }
}

/// A token just issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The value to hand to the client.
    pub value: String,
    /// Its lifetime (`None`: never expires), for `expires_in`.
    pub lifetime: Option<Duration>,
    /// When it expires on the wall clock (`None`: never), for `expires_at`.
    pub expires_at: Option<SystemTime>,
}

/// What a valid token stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Its kind.
    pub kind: String,
    /// Its subject.
    pub subject: String,
    /// Its scope.
    pub scope: Option<String>,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Never issued, or issued with another kind.
    #[error("unknown token")]
    Unknown,
    /// Its lifetime is over (or [`Tokens::expire_all`] was called).
    #[error("token expired")]
    Expired,
    /// Revoked or already used up.
    #[error("token revoked")]
    Revoked,
}

#[derive(Debug)]
struct Record {
    info: TokenInfo,
    // On the clock's monotonic scale; `None` never expires.
    expires_at: Option<Duration>,
    revoked: bool,
}

/// The token registry of a sandbox; a cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct Tokens {
    inner: Arc<TokensInner>,
}

#[derive(Debug)]
struct TokensInner {
    clock: Clock,
    default_lifetime: Duration,
    records: Mutex<HashMap<String, Record>>,
}

impl Tokens {
    /// A registry whose [`Lifetime::Default`] is `default_lifetime`.
    pub fn new(clock: Clock, default_lifetime: Duration) -> Tokens {
        Tokens {
            inner: Arc::new(TokensInner {
                clock,
                default_lifetime,
                records: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        // Plain data, never left half-updated.
        self.inner.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The default lifetime.
    pub fn default_lifetime(&self) -> Duration {
        self.inner.default_lifetime
    }

    /// Issues a token of `kind` for `subject` with the default lifetime and format.
    pub fn issue(&self, kind: &str, subject: &str) -> IssuedToken {
        self.issue_with(TokenRequest::new(kind, subject))
    }

    /// Issues a token as described.
    pub fn issue_with(&self, req: TokenRequest) -> IssuedToken {
        let lifetime = match req.lifetime {
            Lifetime::Default => Some(self.inner.default_lifetime),
            Lifetime::For(d) => Some(d),
            Lifetime::Never => None,
        };
        let clock = &self.inner.clock;
        let record = Record {
            info: TokenInfo {
                kind: req.kind,
                subject: req.subject,
                scope: req.scope,
            },
            expires_at: lifetime.map(|l| clock.elapsed() + l),
            revoked: false,
        };
        let mut records = self.records();
        // A collision is astronomically unlikely, but a duplicate would hand one user's token
        // to another, so draw again rather than overwrite.
        let value = loop {
            let v = random_token(req.format);
            if !records.contains_key(&v) {
                break v;
            }
        };
        records.insert(value.clone(), record);
        IssuedToken {
            value,
            lifetime,
            expires_at: lifetime.map(|l| clock.now() + l),
        }
    }

    /// Checks a token of `kind`.
    pub fn validate(&self, kind: &str, value: &str) -> Result<TokenInfo, TokenError> {
        let now = self.inner.clock.elapsed();
        let records = self.records();
        let record = records
            .get(value)
            .filter(|r| r.info.kind == kind)
            .ok_or(TokenError::Unknown)?;
        check(record, now).map(|()| record.info.clone())
    }

    /// Checks a single-use token of `kind` and revokes it in the same step, so two concurrent
    /// requests can never both use it.
    pub fn consume(&self, kind: &str, value: &str) -> Result<TokenInfo, TokenError> {
        let now = self.inner.clock.elapsed();
        let mut records = self.records();
        let record = records
            .get_mut(value)
            .filter(|r| r.info.kind == kind)
            .ok_or(TokenError::Unknown)?;
        check(record, now)?;
        record.revoked = true;
        Ok(record.info.clone())
    }

    /// Revokes a token; false if unknown.
    pub fn revoke(&self, value: &str) -> bool {
        match self.records().get_mut(value) {
            Some(r) => {
                r.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Makes every token issued so far expired, now (tokens issued later are unaffected).
    pub fn expire_all(&self) {
        let now = self.inner.clock.elapsed();
        for r in self.records().values_mut() {
            r.expires_at = Some(r.expires_at.map_or(now, |e| e.min(now)));
        }
    }

    /// Every token value issued so far, live or not, in no particular order: tests use them
    /// as canaries that must never show up in a client's output.
    pub fn issued(&self) -> Vec<String> {
        self.records().keys().cloned().collect()
    }

    /// How many tokens of `kind` are currently valid.
    pub fn live(&self, kind: &str) -> usize {
        let now = self.inner.clock.elapsed();
        self.records()
            .values()
            .filter(|r| r.info.kind == kind && check(r, now).is_ok())
            .count()
    }
}

fn check(record: &Record, now: Duration) -> Result<(), TokenError> {
    if record.revoked {
        Err(TokenError::Revoked)
    } else if record.expires_at.is_some_and(|e| now >= e) {
        Err(TokenError::Expired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn tokens() -> (ManualClock, Tokens) {
        let clock = ManualClock::new();
        let tokens = Tokens::new(clock.clock(), Duration::from_secs(60));
        (clock, tokens)
    }

    #[test]
    fn formats() {
        let h = random_token(TokenFormat::Hex { bytes: 20 });
        assert_eq!(h.len(), 40);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let a = random_token(TokenFormat::Alphanumeric { len: 60 });
        assert_eq!(a.len(), 60);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_token(TokenFormat::Alphanumeric { len: 60 }));
    }

    #[test]
    fn expiry_follows_the_clock() {
        let (clock, t) = tokens();
        let tok = t.issue("access", "alice");
        assert_eq!(tok.lifetime, Some(Duration::from_secs(60)));
        assert_eq!(t.validate("access", &tok.value).unwrap().subject, "alice");
        clock.advance(Duration::from_secs(59));
        assert!(t.validate("access", &tok.value).is_ok());
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.validate("access", &tok.value), Err(TokenError::Expired));
        assert_eq!(t.live("access"), 0);
    }

    #[test]
    fn kinds_do_not_mix() {
        let (_, t) = tokens();
        let refresh = t.issue("refresh", "alice");
        assert_eq!(
            t.validate("access", &refresh.value),
            Err(TokenError::Unknown)
        );
        assert_eq!(t.validate("access", "nope"), Err(TokenError::Unknown));
    }

    #[test]
    fn expire_all_and_revoke_and_consume() {
        let (_, t) = tokens();
        let a = t.issue("access", "a");
        let forever = t.issue_with(TokenRequest::new("access", "b").lifetime(Lifetime::Never));
        assert_eq!(forever.expires_at, None);
        t.expire_all();
        assert_eq!(t.validate("access", &a.value), Err(TokenError::Expired));
        assert_eq!(
            t.validate("access", &forever.value),
            Err(TokenError::Expired)
        );
        let fresh = t.issue("access", "c");
        assert!(
            t.validate("access", &fresh.value).is_ok(),
            "later tokens live"
        );
        assert!(t.revoke(&fresh.value));
        assert_eq!(t.validate("access", &fresh.value), Err(TokenError::Revoked));
        let once = t.issue("download", "d");
        assert!(t.consume("download", &once.value).is_ok());
        assert_eq!(t.consume("download", &once.value), Err(TokenError::Revoked));
    }
}
