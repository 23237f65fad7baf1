//! A small TTL cache for read-mostly data (tenants, keys). Other nodes see changes within the TTL;
//! the node that made a change invalidates at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries a cache holds at most.
const LIMIT: usize = 10_000;

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    map: HashMap<K, (Instant, V)>,
    /// When expired entries were last dropped: a key put once and never asked for again (a token
    /// used once) would otherwise stay until the cache is full.
    swept: Instant,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache { ttl, entries: Mutex::new(Entries { map: HashMap::new(), swept: Instant::now() }) }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.map.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            let ttl = self.ttl;
            // Once a TTL, and whenever full: what has expired goes, so the cache holds about
            // what was put within one TTL rather than growing to its limit.
            if entries.map.len() >= LIMIT || entries.swept.elapsed() >= ttl {
                entries.map.retain(|_, (at, _)| at.elapsed() < ttl);
                entries.swept = Instant::now();
                if entries.map.len() >= LIMIT {
                    // All still fresh: start over rather than grow (a cache only saves work).
                    entries.map.clear();
                }
            }
            entries.map.insert(key, (Instant::now(), value));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.map.len()).unwrap_or(0)
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_never_asked_for_again_are_dropped_once_a_ttl_has_passed() {
        let cache = TtlCache::new(Duration::from_millis(50));
        for i in 0..100 {
            cache.put(i, i);
        }
        assert_eq!(cache.len(), 100);
        std::thread::sleep(Duration::from_millis(60));
        cache.put(1000, 1000);
        assert_eq!(cache.len(), 1, "the expired entries went when the next one came");
        assert_eq!(cache.get(&1000), Some(1000));
        assert_eq!(cache.get(&1), None);
    }
}
