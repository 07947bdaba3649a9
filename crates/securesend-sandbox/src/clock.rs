//! Time as the sandbox sees it: the system clock, or a manual clock that a test moves by hand.
//!
//! Everything time-dependent in the sandbox (token expiry, injected delays, latency, rate-limit
//! windows, journal timestamps) reads this clock, so a test can make a token expire or a delayed
//! answer arrive by calling [`ManualClock::advance`] instead of sleeping. Tests then assert on
//! order and on clock readings, never on wall time.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

/// A cheap-to-clone handle on the sandbox's time source.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

enum Inner {
    System { start: Instant },
    Manual(watch::Sender<ManualState>),
}

#[derive(Clone, Copy)]
struct ManualState {
    base: SystemTime,
    offset: Duration,
    sleepers: usize,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::System { .. } => f.write_str("Clock::System"),
            Inner::Manual(tx) => {
                let s = *tx.borrow();
                f.debug_struct("Clock::Manual")
                    .field("offset", &s.offset)
                    .field("sleepers", &s.sleepers)
                    .finish()
            }
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The real clock: `now` is the system time, `sleep` is a tokio sleep.
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(Inner::System {
                start: Instant::now(),
            }),
        }
    }

    /// The current wall-clock time.
    pub fn now(&self) -> SystemTime {
        match &*self.inner {
            Inner::System { .. } => SystemTime::now(),
            Inner::Manual(tx) => {
                let s = *tx.borrow();
                s.base + s.offset
            }
        }
    }

    /// Monotonic time since the clock was created. Expiry and elapsed times use this rather
    /// than [`Clock::now`] so a wall-clock step cannot revive an expired token.
    pub fn elapsed(&self) -> Duration {
        match &*self.inner {
            Inner::System { start } => start.elapsed(),
            Inner::Manual(tx) => tx.borrow().offset,
        }
    }

    /// Waits for `duration` of this clock's time. On a manual clock it returns once the clock
    /// has been advanced far enough.
    pub async fn sleep(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        match &*self.inner {
            Inner::System { .. } => precise_sleep(duration).await,
            Inner::Manual(tx) => {
                let target = tx.borrow().offset + duration;
                let mut rx = tx.subscribe();
                tx.send_modify(|s| s.sleepers += 1);
                // Decrement on every exit path, including cancellation of this future.
                let _guard = SleeperGuard(tx);
                // The sender lives as long as `self`, so `wait_for` only ends when reached.
                let _ = rx.wait_for(|s| s.offset >= target).await;
            }
        }
    }
}

/// Sleeps `duration` to within a fraction of a millisecond. Tokio's timer rounds deadlines up
/// to its millisecond tick, which over an injected 20 ms latency per request adds up to 5 %;
/// the last stretch is slept by the operating system's timer on a blocking thread instead
/// (held a couple of milliseconds at most).
async fn precise_sleep(duration: Duration) {
    const FINE: Duration = Duration::from_millis(2);
    let deadline = Instant::now() + duration;
    if duration > FINE {
        tokio::time::sleep_until((deadline - FINE).into()).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero()
        && tokio::task::spawn_blocking(move || std::thread::sleep(rest))
            .await
            .is_err()
    {
        tokio::time::sleep(rest).await;
    }
}

struct SleeperGuard<'a>(&'a watch::Sender<ManualState>);

impl Drop for SleeperGuard<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|s| s.sleepers -= 1);
    }
}

/// A clock that only moves when told to; give [`ManualClock::clock`] to the sandbox and keep
/// this handle in the test.
#[derive(Clone, Debug)]
pub struct ManualClock {
    clock: Clock,
}

/// The manual clock's default start, `2023-11-14T22:13:20Z` (Unix time 1 700 000 000), the
/// timestamp the providers' fact-sheet signature vectors use.
pub const MANUAL_CLOCK_START: Duration = Duration::from_secs(1_700_000_000);

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A manual clock reading [`MANUAL_CLOCK_START`].
    pub fn new() -> ManualClock {
        ManualClock::starting_at(SystemTime::UNIX_EPOCH + MANUAL_CLOCK_START)
    }

    /// A manual clock reading `start`.
    pub fn starting_at(start: SystemTime) -> ManualClock {
        let (tx, _) = watch::channel(ManualState {
            base: start,
            offset: Duration::ZERO,
            sleepers: 0,
        });
        ManualClock {
            clock: Clock {
                inner: Arc::new(Inner::Manual(tx)),
            },
        }
    }

    /// The clock handle to pass to the sandbox.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Moves time forward, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        self.sender().send_modify(|s| s.offset += by);
    }

    /// How many [`Clock::sleep`] calls are waiting on this clock right now.
    pub fn sleepers(&self) -> usize {
        self.sender().borrow().sleepers
    }

    /// Waits until at least `n` sleepers are waiting; this is how a test knows that a delayed
    /// request has reached its delay, without any timing.
    pub async fn wait_for_sleepers(&self, n: usize) {
        let mut rx = self.sender().subscribe();
        let _ = rx.wait_for(|s| s.sleepers >= n).await;
    }

    fn sender(&self) -> &watch::Sender<ManualState> {
        match &*self.clock.inner {
            Inner::Manual(tx) => tx,
            Inner::System { .. } => unreachable!("a ManualClock always wraps a manual clock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_ends_only_after_advance() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let start = clock.now();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(10)).await }
        });
        manual.wait_for_sleepers(1).await;
        manual.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert_eq!(manual.sleepers(), 1, "9 s of a 10 s sleep must not wake it");
        assert!(!sleeper.is_finished());
        manual.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(manual.sleepers(), 0);
        assert_eq!(
            clock.now().duration_since(start).unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(clock.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn cancelled_sleep_is_not_counted() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let task = tokio::spawn(async move { clock.sleep(Duration::from_secs(1)).await });
        manual.wait_for_sleepers(1).await;
        task.abort();
        let _ = task.await;
        assert_eq!(manual.sleepers(), 0);
    }

    #[test]
    fn manual_clock_starts_at_the_vector_timestamp() {
        let t = ManualClock::new().clock().now();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_700_000_000
        );
    }
}
