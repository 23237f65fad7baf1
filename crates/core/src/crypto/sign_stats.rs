//! Time spent signing tokens, for `/metrics` and the benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::KeyAlg;

/// Time spent signing tokens, per algorithm (for `/metrics` and the benchmarks).
#[derive(Debug, Default)]
pub struct SignStats {
    counts: [AtomicU64; 4],
    nanos: [AtomicU64; 4],
}

impl SignStats {
    fn slot(alg: KeyAlg) -> usize {
        match alg {
            KeyAlg::HS256 => 0,
            KeyAlg::RS256 => 1,
            KeyAlg::ES256 => 2,
            KeyAlg::EdDSA => 3,
        }
    }

    pub(crate) fn record(&self, alg: KeyAlg, took: std::time::Duration) {
        let i = Self::slot(alg);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.nanos[i].fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// (algorithm, tokens signed, total seconds spent signing).
    pub fn snapshot(&self) -> Vec<(&'static str, u64, f64)> {
        [KeyAlg::HS256, KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA]
            .into_iter()
            .map(|alg| {
                let i = Self::slot(alg);
                (alg.as_str(), self.counts[i].load(Ordering::Relaxed), self.nanos[i].load(Ordering::Relaxed) as f64 / 1e9)
            })
            .collect()
    }
}
