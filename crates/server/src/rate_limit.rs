//! Per-client token buckets for the credential endpoints. Durable lockout lives in the database;
//! this only keeps one address from flooding the hashers.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Wrong user codes one address may enter on a device page in a minute.
pub const USER_CODE_FAILURES_PER_MINUTE: u32 = 10;
/// Wrong user codes a tenant's device page takes in a minute from all addresses together: what
/// bounds a guesser with many addresses (docs/dialects/oidc.md works out the odds).
pub const USER_CODE_TENANT_FAILURES_PER_MINUTE: u32 = 100;

/// Dynamic client registration requests one address may make in a minute, whatever their outcome.
pub const REGISTRATIONS_PER_MINUTE: u32 = 10;

/// Buckets per client address by default; per anything else that can be hashed (a tenant) where
/// a limit is shared by every address.
pub struct RateLimiter<K = IpAddr> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Whether `ip` has a token left, without taking it; `Err(seconds)` says when it will. For
    /// endpoints that spend a token only on a failure, but must refuse before trying once the
    /// failures ran out.
    pub fn peek(&self, ip: K) -> Result<(), i64> {
        let Ok(buckets) = self.buckets.lock() else { return Ok(()) };
        let Some((tokens, at)) = buckets.get(&ip) else { return Ok(()) };
        let rate = self.per_minute / 60.0;
        let now = (*tokens + Instant::now().duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        if now >= 1.0 { Ok(()) } else { Err(((1.0 - now) / rate).ceil().max(1.0) as i64) }
    }

    /// Takes one token for `ip`; `Err(seconds)` says when the next one will be there.
    pub fn check(&self, ip: K) -> Result<(), i64> {
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let rate = self.per_minute / 60.0;
        let (tokens, at) = buckets.entry(ip).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_limit_is_refused_with_a_wait() {
        let l = RateLimiter::new(3);
        let ip = IpAddr::from([1, 2, 3, 4]);
        assert!(l.check(ip).is_ok() && l.check(ip).is_ok() && l.check(ip).is_ok());
        let wait = l.check(ip).err().unwrap_or(0);
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(l.check(IpAddr::from([5, 6, 7, 8])).is_ok());
    }

    #[test]
    fn a_peek_takes_nothing() {
        let l = RateLimiter::new(2);
        let ip = IpAddr::from([1, 2, 3, 4]);
        assert!(l.peek(ip).is_ok() && l.peek(ip).is_ok() && l.peek(ip).is_ok());
        assert!(l.check(ip).is_ok() && l.check(ip).is_ok());
        assert!(l.peek(ip).is_err() && l.check(ip).is_err());
    }
}
