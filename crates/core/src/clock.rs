//! Time as a parameter, so that lockouts, TOTP windows and idle expiry are tested without sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wait on a clock.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The time, and waits measured in it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Waits `d` of this clock's time (retry back-offs): a real wait on the system clock; on a
    /// fake clock, the clock moves on by `d` at once, so back-offs cost a test no real time.
    fn sleep(&self, d: Duration) -> Sleep;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    fn sleep(&self, d: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that starts at the real time and moves only when told to (or waited on).
#[derive(Debug)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    /// Starts at `start` epoch seconds.
    pub fn new(start: i64) -> Self {
        FakeClock(Arc::new(AtomicI64::new(start * 1000)))
    }
    pub fn starting_now() -> Self {
        FakeClock(Arc::new(AtomicI64::new(SystemClock.now_ms())))
    }
    pub fn advance(&self, seconds: i64) {
        self.advance_ms(seconds * 1000);
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    /// Moves to `at` epoch seconds.
    pub fn set(&self, at: i64) {
        self.0.store(at * 1000, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// When awaited, moves the clock to at least `d` past the moment of the call: waits that
    /// overlap end together, as on a real clock, instead of adding up.
    fn sleep(&self, d: Duration) -> Sleep {
        let until = self.now_ms() + d.as_millis() as i64;
        let clock = Arc::clone(&self.0);
        Box::pin(async move {
            clock.fetch_max(until, Ordering::SeqCst);
            tokio::task::yield_now().await;
        })
    }
}

/// RFC 3339 rendering of an epoch second (UTC, `Z`).
pub fn rfc3339(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fake_clock_moves_only_when_told_or_waited_on() {
        let clock = FakeClock::new(1_000);
        assert_eq!((clock.now(), clock.now_ms()), (1_000, 1_000_000));
        clock.advance_ms(1_500);
        assert_eq!((clock.now(), clock.now_ms()), (1_001, 1_001_500));
        let started = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert!(started.elapsed() < Duration::from_secs(1), "a fake wait costs no real time");
        assert_eq!(clock.now(), 4_601);
        // Overlapping waits end together; they do not add up.
        let (a, b) = (clock.sleep(Duration::from_secs(10)), clock.sleep(Duration::from_secs(10)));
        tokio::join!(a, b);
        assert_eq!(clock.now(), 4_611);
        clock.set(10);
        assert_eq!(clock.now_ms(), 10_000);
    }

    #[test]
    fn the_system_clock_agrees_with_itself_in_seconds_and_milliseconds() {
        let (s, ms) = (SystemClock.now(), SystemClock.now_ms());
        assert!((ms / 1000 - s).abs() <= 1);
    }
}
