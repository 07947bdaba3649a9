//! Access tokens: a source that fetches them, and a cache that refreshes them ahead of expiry,
//! once for all concurrent callers, and once more when the service says a token is no good.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// An access token with what is known about its life.
///
/// Expiry is measured on the tokio clock (so tests can move time); services state lifetimes
/// as "expires in N seconds", which [`Token::with_expires_in`] takes as is.
#[derive(Clone)]
pub struct Token {
    access: Secret,
    refresh: Option<Secret>,
    issued_at: Instant,
    expires_at: Option<Instant>,
}

impl Token {
    /// A token with no known expiry (used until the service rejects it).
    pub fn new(access: impl Into<Secret>) -> Self {
        Token {
            access: access.into(),
            refresh: None,
            issued_at: Instant::now(),
            expires_at: None,
        }
    }

    /// Sets the expiry to `lifetime` from now.
    pub fn with_expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_at = Some(self.issued_at + lifetime);
        self
    }

    /// Sets the expiry to an instant.
    pub fn with_expires_at(mut self, at: Instant) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Attaches a refresh token, which a [`TokenSource`] receives back on the next fetch.
    pub fn with_refresh_token(mut self, refresh: impl Into<Secret>) -> Self {
        self.refresh = Some(refresh.into());
        self
    }

    /// The access token. Expose it only into an `Authorization` header or a signature.
    pub fn access(&self) -> &Secret {
        &self.access
    }

    /// The refresh token, when the service gave one.
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh.as_ref()
    }

    /// When the token expires, when known.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whether the token is still good for `margin` after `now`. The margin never exceeds
    /// half the token's lifetime, so a short-lived token is not refreshed on every use.
    pub fn is_fresh(&self, now: Instant, margin: Duration) -> bool {
        match self.expires_at {
            None => true,
            Some(at) => {
                let lifetime = at.saturating_duration_since(self.issued_at);
                let margin = margin.min(lifetime / 2);
                now + margin < at
            }
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = Instant::now();
        f.debug_struct("Token")
            .field("access", &self.access)
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field(
                "expires_in",
                &self.expires_at.map(|at| at.saturating_duration_since(now)),
            )
            .finish()
    }
}

/// Where tokens come from: a login, a refresh-token exchange, a signed assertion.
///
/// `current` is the token being replaced (expired, about to, or rejected), when there is one,
/// so a source can use its refresh token and fall back to a full login when that fails.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// Fetches a new token.
    async fn fetch(&self, current: Option<&Token>) -> Result<Token>;
}

/// The default time before expiry at which a token is replaced: 60 s.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Caches the token of a [`TokenSource`].
///
/// - **Proactive refresh**: a token within the refresh margin of its expiry is replaced
///   before use; while that happens, callers that find it not yet expired keep using it.
/// - **Single flight**: concurrent callers needing a new token share one fetch; if it fails,
///   they all get its error (a second, identical login attempt would not fare better, and
///   repeated failed logins can lock an account).
/// - **Invalidation**: [`TokenCache::invalidate`] drops a token the service rejected, unless
///   a newer one already replaced it.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use securesend_core::http::{Token, TokenCache, TokenSource};
///
/// struct Login(AtomicU32);
/// #[securesend_core::async_trait]
/// impl TokenSource for Login {
///     async fn fetch(&self, _current: Option<&Token>) -> securesend_core::Result<Token> {
///         let n = self.0.fetch_add(1, Ordering::SeqCst);
///         Ok(Token::new(format!("tok-{n}")))
///     }
/// }
///
/// # tokio_test_block_on(async {
/// let cache = TokenCache::new(Login(AtomicU32::new(0)));
/// let a = cache.get().await?;
/// let b = cache.get().await?;
/// assert_eq!(b.access().expose(), "tok-0"); // cached
/// cache.invalidate(&a);
/// assert_eq!(cache.get().await?.access().expose(), "tok-1");
/// # Ok::<(), securesend_core::Error>(()) }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub struct TokenCache {
    source: Box<dyn TokenSource>,
    margin: Duration,
    slot: Mutex<Slot>,
    /// Held by the one caller fetching; others wait on it, then read what it left in `slot`.
    flight: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Slot {
    token: Option<Arc<Token>>,
    /// The service rejected `token`; it is kept only for its refresh token.
    rejected: bool,
    /// Fetches finished so far, successful or not.
    fetches: u64,
    /// The error of the last fetch, when it failed.
    failure: Option<Error>,
}

impl Slot {
    fn usable(&self, now: Instant, margin: Duration) -> Option<Arc<Token>> {
        self.token
            .as_ref()
            .filter(|t| !self.rejected && t.is_fresh(now, margin))
            .cloned()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("TokenCache")
            .field("margin", &self.margin)
            .field("token", &slot.token)
            .field("rejected", &slot.rejected)
            .field("fetches", &slot.fetches)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `source` with [`DEFAULT_REFRESH_MARGIN`].
    pub fn new(source: impl TokenSource + 'static) -> Self {
        TokenCache {
            source: Box::new(source),
            margin: DEFAULT_REFRESH_MARGIN,
            slot: Mutex::new(Slot::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets how long before expiry a token is replaced.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Seeds the cache with a token obtained elsewhere (restored from disk, say).
    pub fn with_token(self, token: Token) -> Self {
        self.lock().token = Some(Arc::new(token));
        self
    }

    /// The cached token, without fetching one: what a fresh sign-in can take a refresh token
    /// from. A token the service rejected is still returned (its refresh token may work).
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.lock().token.clone()
    }

    /// Puts `token`, obtained outside the cache (an interactive login, a sign-in that checks
    /// the credentials), in place of whatever was cached; callers waiting for a fetch get it.
    ///
    /// It waits for a fetch under way to finish first: otherwise that fetch would land after
    /// the replacement and overwrite it, perhaps with a token from an old refresh token.
    pub async fn replace(&self, token: Token) -> Arc<Token> {
        let _flight = self.flight.lock().await;
        let token = Arc::new(token);
        let mut slot = self.lock();
        slot.token = Some(token.clone());
        slot.rejected = false;
        slot.failure = None;
        // Counts as a finished fetch, so a caller that waited on one shares this token.
        slot.fetches += 1;
        token
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        // A panic while the slot was held cannot leave it half-written (every write is one
        // assignment), so the data is still sound.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A token good for at least the refresh margin, fetching one if needed.
    pub async fn get(&self) -> Result<Arc<Token>> {
        let (seen_fetches, current) = {
            let slot = self.lock();
            if let Some(t) = slot.usable(Instant::now(), self.margin) {
                return Ok(t);
            }
            (slot.fetches, slot.token.clone().filter(|_| !slot.rejected))
        };
        let _flight = match self.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Someone is refreshing. A token inside the margin but not expired still works.
                if let Some(t) = current.filter(|t| !t.is_expired(Instant::now())) {
                    return Ok(t);
                }
                self.flight.lock().await
            }
        };
        let current = {
            let slot = self.lock();
            if slot.fetches != seen_fetches {
                // A fetch finished while we waited: share its outcome.
                if let Some(t) = slot.usable(Instant::now(), self.margin) {
                    return Ok(t);
                }
                if let Some(e) = &slot.failure {
                    return Err(e.copy_without_source());
                }
            }
            slot.token.clone()
        };
        let fetched = self.source.fetch(current.as_deref()).await;
        let mut slot = self.lock();
        slot.fetches += 1;
        match fetched {
            Ok(token) => {
                let token = Arc::new(token);
                slot.token = Some(token.clone());
                slot.rejected = false;
                slot.failure = None;
                Ok(token)
            }
            Err(e) => {
                slot.failure = Some(e.copy_without_source());
                Err(e)
            }
        }
    }

    /// Marks `token` as rejected by the service, if it is still the cached one; a token
    /// another caller already replaced is left alone, so a late 401 on an old token does not
    /// throw away a fresh one.
    pub fn invalidate(&self, token: &Arc<Token>) {
        let mut slot = self.lock();
        if slot.token.as_ref().is_some_and(|t| Arc::ptr_eq(t, token)) {
            slot.rejected = true;
        }
    }

    /// Runs `op` with a token; if it fails as [`crate::ErrorKind::Unauthenticated`] (the
    /// service rejected the token, say with a 401), invalidates that token and runs `op` once
    /// more with a new one. A second rejection is returned as is.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut(Arc<Token>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.get().await?;
        match op(token.clone()).await {
            Err(e) if e.is_unauthenticated() => {
                tracing::debug!("token rejected; fetching a new one and trying once more");
                self.invalidate(&token);
                let token = self.get().await?;
                op(token).await
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Counts fetches; each takes `delay` on the tokio clock and hands out `tok-<n>`.
    struct Counting {
        fetches: Arc<AtomicU32>,
        lifetime: Option<Duration>,
        delay: Duration,
        fail: bool,
        seen_refresh: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl Counting {
        fn new() -> Self {
            Counting {
                fetches: Arc::new(AtomicU32::new(0)),
                lifetime: None,
                delay: Duration::from_millis(50),
                fail: false,
                seen_refresh: Arc::default(),
            }
        }
    }

    #[async_trait::async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self, current: Option<&Token>) -> Result<Token> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            self.seen_refresh.lock().unwrap().push(
                current
                    .and_then(|t| t.refresh_token())
                    .map(|r| r.expose().to_owned()),
            );
            tokio::time::sleep(self.delay).await;
            if self.fail {
                return Err(Error::new(ErrorKind::Unauthenticated, "bad password")
                    .with_provider("test")
                    .with_status(401));
            }
            let mut t = Token::new(format!("tok-{n}")).with_refresh_token(format!("ref-{n}"));
            if let Some(l) = self.lifetime {
                t = t.with_expires_in(l);
            }
            Ok(t)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_concurrent_gets_fetch_once() {
        let src = Counting::new();
        let fetches = src.fetches.clone();
        let cache = Arc::new(TokenCache::new(src));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.get().await.map(|t| t.access().expose().to_owned()) })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "tok-0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_failure() {
        let mut src = Counting::new();
        src.fail = true;
        let fetches = src.fetches.clone();
        let cache = Arc::new(TokenCache::new(src));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.get().await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert!(e.is_unauthenticated());
            assert_eq!(e.provider(), Some("test"));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // A later call is a new attempt, not a replay of the old failure.
        assert!(cache.get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_before_expiry_and_passes_the_refresh_token() {
        let mut src = Counting::new();
        src.lifetime = Some(Duration::from_secs(3600));
        let fetches = src.fetches.clone();
        let seen = src.seen_refresh.clone();
        let cache = TokenCache::new(src).with_refresh_margin(Duration::from_secs(300));
        assert_eq!(cache.get().await.unwrap().access().expose(), "tok-0");
        tokio::time::advance(Duration::from_secs(3600 - 301)).await;
        assert_eq!(cache.get().await.unwrap().access().expose(), "tok-0");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // Inside the margin, still 5 minutes before expiry: replaced.
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get().await.unwrap().access().expose(), "tok-1");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        assert_eq!(*seen.lock().unwrap(), vec![None, Some("ref-0".to_owned())]);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_keep_the_valid_token_while_it_is_refreshed() {
        let mut src = Counting::new();
        src.lifetime = Some(Duration::from_secs(100));
        src.delay = Duration::from_secs(5);
        let cache = Arc::new(TokenCache::new(src).with_refresh_margin(Duration::from_secs(30)));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_secs(80)).await;
        let refresher = {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await.unwrap().access().expose().to_owned() })
        };
        tokio::task::yield_now().await; // let the refresher take the flight
        assert_eq!(cache.get().await.unwrap().access().expose(), "tok-0");
        assert_eq!(refresher.await.unwrap(), "tok-1");
    }

    #[test]
    fn margin_is_capped_at_half_the_lifetime() {
        let t = Token::new("x").with_expires_in(Duration::from_secs(20));
        let at = t.expires_at().unwrap();
        let secs = Duration::from_secs;
        // A 60 s margin on a 20 s token acts as 10 s.
        assert!(t.is_fresh(at - secs(11), secs(60)));
        assert!(!t.is_fresh(at - secs(10), secs(60)));
        assert!(!t.is_expired(at - secs(1)));
        assert!(t.is_expired(at));
        assert!(Token::new("y").is_fresh(at + secs(1_000_000), secs(60)));
    }

    #[tokio::test(start_paused = true)]
    async fn one_retry_after_rejection_and_no_more() {
        let src = Counting::new();
        let fetches = src.fetches.clone();
        let cache = TokenCache::new(src);
        let calls = AtomicU32::new(0);

        // Rejected once, then accepted: two runs, two tokens.
        let out = cache
            .run(|t| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(Error::new(ErrorKind::Unauthenticated, "expired").with_status(401))
                    } else {
                        Ok(t.access().expose().to_owned())
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out, "tok-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // Always rejected: exactly one retry, then the error.
        calls.store(0, Ordering::SeqCst);
        let e = cache
            .run(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(Error::new(ErrorKind::Unauthenticated, "no")) }
            })
            .await
            .unwrap_err();
        assert!(e.is_unauthenticated());
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Other errors are not retried.
        calls.store(0, Ordering::SeqCst);
        let e = cache
            .run(|_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(Error::new(ErrorKind::PermissionDenied, "no")) }
            })
            .await
            .unwrap_err();
        assert!(e.is_permission_denied());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_invalidation_keeps_the_newer_token() {
        let cache = TokenCache::new(Counting::new());
        let old = cache.get().await.unwrap();
        cache.invalidate(&old);
        let new = cache.get().await.unwrap();
        assert_eq!(new.access().expose(), "tok-1");
        cache.invalidate(&old); // a late 401 for the old token
        assert!(Arc::ptr_eq(&cache.get().await.unwrap(), &new));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_token_is_used_without_a_fetch() {
        let src = Counting::new();
        let fetches = src.fetches.clone();
        let cache = TokenCache::new(src).with_token(Token::new("old"));
        assert_eq!(cache.peek().unwrap().access().expose(), "old");
        let rejected = cache.get().await.unwrap();
        cache.invalidate(&rejected);
        cache.replace(Token::new("checked")).await;
        assert_eq!(cache.get().await.unwrap().access().expose(), "checked");
        assert_eq!(cache.peek().unwrap().access().expose(), "checked");
        assert_eq!(fetches.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fetch_under_way_does_not_overwrite_a_replacement() {
        let src = Counting::new();
        let fetches = src.fetches.clone();
        let cache = Arc::new(TokenCache::new(src));
        let getter = {
            let c = cache.clone();
            tokio::spawn(async move { c.get().await.map(|t| t.access().expose().to_owned()) })
        };
        // The getter is now inside its 50 ms fetch.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let replacer = {
            let c = cache.clone();
            tokio::spawn(async move { c.replace(Token::new("checked")).await })
        };
        assert_eq!(getter.await.unwrap().unwrap(), "tok-0");
        replacer.await.unwrap();
        assert_eq!(cache.peek().unwrap().access().expose(), "checked");
        assert_eq!(cache.get().await.unwrap().access().expose(), "checked");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn debug_never_shows_tokens() {
        let cache = TokenCache::new(Counting::new())
            .with_token(Token::new("canary-access").with_refresh_token("canary-refresh"));
        let t = cache.get().await.unwrap();
        let shown = format!("{t:?} {cache:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
