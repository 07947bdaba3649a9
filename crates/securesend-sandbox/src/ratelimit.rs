//! Per-client request limits (Privasfer: 300 requests per minute per IP, answered 429;
//! Kiteworks: per IP, answered 403).
//!
//! A fixed window per client IP, on the sandbox clock: the first request opens a window, the
//! `requests`+1st inside it is refused until the window ends. Services differ in how they refuse
//! and which headers they add, so [`enforce`] takes a [`RatePolicy`] that builds those answers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::clock::Clock;

/// A number of requests per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// `requests` per minute.
    pub fn per_minute(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            window: Duration::from_secs(60),
        }
    }

    /// `requests` per second.
    pub fn per_second(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            window: Duration::from_secs(1),
        }
    }
}

/// The sandbox-wide choice about rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RateLimitSetting {
    /// Each service applies its documented limit.
    #[default]
    ServiceDefault,
    /// No limits (benchmarks, long soaks).
    Off,
    /// This limit for every service that has one.
    Limit(RateLimit),
}

/// The outcome of counting one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// Let through.
    Allowed {
        /// The limit.
        limit: u32,
        /// Requests left in this window.
        remaining: u32,
    },
    /// Refused.
    Limited {
        /// The limit.
        limit: u32,
        /// Until the window ends.
        retry_after: Duration,
    },
}

/// Counts requests per client IP; a cheap-to-clone handle.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    inner: Arc<LimiterInner>,
}

#[derive(Debug)]
struct LimiterInner {
    clock: Clock,
    limit: RateLimit,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Duration,
    count: u32,
}

impl RateLimiter {
    /// A limiter for `limit`.
    pub fn new(clock: Clock, limit: RateLimit) -> RateLimiter {
        RateLimiter {
            inner: Arc::new(LimiterInner {
                clock,
                limit,
                windows: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The limit.
    pub fn limit(&self) -> RateLimit {
        self.inner.limit
    }

    /// Counts a request from `client` and decides.
    pub fn check(&self, client: IpAddr) -> RateDecision {
        let now = self.inner.clock.elapsed();
        let RateLimit { requests, window } = self.inner.limit;
        // Plain counters; a poisoned lock still holds usable numbers.
        let mut windows = self.inner.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = windows.entry(client).or_insert(Window {
            start: now,
            count: 0,
        });
        if now >= w.start + window {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        if w.count >= requests {
            return RateDecision::Limited {
                limit: requests,
                retry_after: w.start + window - now,
            };
        }
        w.count += 1;
        RateDecision::Allowed {
            limit: requests,
            remaining: requests - w.count,
        }
    }
}

/// How a service answers a refused request and decorates an allowed one.
pub trait RatePolicy: Clone + Send + Sync + 'static {
    /// The answer to a refused request.
    fn limited(&self, limit: u32, retry_after: Duration) -> Response;

    /// Decorates the answer to an allowed request (for example with `X-RateLimit-Remaining`);
    /// by default unchanged.
    fn allowed(&self, limit: u32, remaining: u32, response: Response) -> Response {
        let _ = (limit, remaining);
        response
    }
}

/// Puts every route of `router` behind `limiter`, answering as `policy` says. The client is
/// the peer IP the sandbox inserts as `ConnectInfo<SocketAddr>`.
pub fn enforce<S, P>(router: Router<S>, limiter: RateLimiter, policy: P) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    P: RatePolicy,
{
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let limiter = limiter.clone();
            let policy = policy.clone();
            async move {
                let ip = req
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
                match limiter.check(ip) {
                    RateDecision::Limited { limit, retry_after } => {
                        policy.limited(limit, retry_after)
                    }
                    RateDecision::Allowed { limit, remaining } => {
                        let response = next.run(req).await;
                        policy.allowed(limit, remaining, response)
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn fixed_window_per_client() {
        let clock = ManualClock::new();
        let l = RateLimiter::new(clock.clock(), RateLimit::per_minute(2));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            l.check(a),
            RateDecision::Allowed {
                limit: 2,
                remaining: 1
            }
        );
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            l.check(a),
            RateDecision::Allowed {
                limit: 2,
                remaining: 0
            }
        );
        assert_eq!(
            l.check(a),
            RateDecision::Limited {
                limit: 2,
                retry_after: Duration::from_secs(50)
            }
        );
        assert!(
            matches!(l.check(b), RateDecision::Allowed { .. }),
            "per client"
        );
        clock.advance(Duration::from_secs(50));
        assert!(
            matches!(l.check(a), RateDecision::Allowed { .. }),
            "new window"
        );
    }
}
