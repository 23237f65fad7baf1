//! Prometheus metrics, kept in a few atomics and maps and rendered as text on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → count
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// (dialect, outcome) → count
    logins: Mutex<BTreeMap<(String, String), u64>>,
    connections_open: AtomicI64,
    /// cap → connections closed at accept
    connections_refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((method.to_string(), route.to_string())).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    pub fn record_login(&self, dialect: castellan_core::model::Dialect, outcome: &str) {
        if let Ok(mut l) = self.logins.lock() {
            *l.entry((dialect.as_str().to_string(), outcome.to_string())).or_default() += 1;
        }
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection closed at accept because `cap` was reached.
    pub fn connection_refused(&self, cap: &'static str) {
        if let Ok(mut r) = self.connections_refused.lock() {
            *r.entry(cap).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(
        &self,
        hash_queue_depth: usize,
        hashes_computed: usize,
        signing: &[(&str, u64, f64)],
        delivery: &[(&str, &str, u64)],
        cache: Option<castellan_core::store::CacheStatus>,
    ) -> String {
        let mut out = String::new();
        out.push_str("# HELP castellan_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE castellan_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((m, route, s), n) in r.iter() {
                let _ = writeln!(out, "castellan_http_requests_total{{method=\"{m}\",route=\"{route}\",status=\"{s}\"}} {n}");
            }
        }
        out.push_str("# HELP castellan_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE castellan_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for ((m, route), h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "castellan_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "castellan_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ =
                    writeln!(out, "castellan_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(
                    out,
                    "castellan_http_request_duration_seconds_count{{method=\"{m}\",route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        out.push_str("# HELP castellan_logins_total Login attempts by dialect and outcome.\n");
        out.push_str("# TYPE castellan_logins_total counter\n");
        if let Ok(l) = self.logins.lock() {
            for ((d, o), n) in l.iter() {
                let _ = writeln!(out, "castellan_logins_total{{dialect=\"{d}\",outcome=\"{o}\"}} {n}");
            }
        }
        out.push_str("# HELP castellan_connections_open Open client connections (all listeners).\n");
        out.push_str("# TYPE castellan_connections_open gauge\n");
        let _ = writeln!(out, "castellan_connections_open {}", self.connections_open.load(Ordering::Relaxed));
        out.push_str("# HELP castellan_connections_refused_total Connections closed at accept, by the cap that was reached.\n");
        out.push_str("# TYPE castellan_connections_refused_total counter\n");
        if let Ok(r) = self.connections_refused.lock() {
            for (cap, n) in r.iter() {
                let _ = writeln!(out, "castellan_connections_refused_total{{cap=\"{cap}\"}} {n}");
            }
        }
        out.push_str("# HELP castellan_password_hash_queue_depth Callers waiting for a password-hashing slot.\n");
        out.push_str("# TYPE castellan_password_hash_queue_depth gauge\n");
        let _ = writeln!(out, "castellan_password_hash_queue_depth {hash_queue_depth}");
        out.push_str("# HELP castellan_password_hashes_total Password hashes computed (hash or verify).\n");
        out.push_str("# TYPE castellan_password_hashes_total counter\n");
        let _ = writeln!(out, "castellan_password_hashes_total {hashes_computed}");
        out.push_str("# HELP castellan_token_sign_seconds Time spent signing tokens, by algorithm.\n");
        out.push_str("# TYPE castellan_token_sign_seconds summary\n");
        for (alg, count, seconds) in signing {
            let _ = writeln!(out, "castellan_token_sign_seconds_sum{{alg=\"{alg}\"}} {seconds}");
            let _ = writeln!(out, "castellan_token_sign_seconds_count{{alg=\"{alg}\"}} {count}");
        }
        out.push_str("# HELP castellan_outbox_attempts_total Attempts to hand a message to the mail server or SMS provider, by outcome (sent, retrying, gave_up).\n");
        out.push_str("# TYPE castellan_outbox_attempts_total counter\n");
        for (channel, outcome, n) in delivery {
            let _ = writeln!(out, "castellan_outbox_attempts_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}");
        }
        if let Some(cache) = cache {
            out.push_str("# HELP castellan_cache_trusted 1 while sessions, users and the deny list are answered from memory (the change feed is up and heard), 0 while every check reads the database.\n");
            out.push_str("# TYPE castellan_cache_trusted gauge\n");
            let _ = writeln!(out, "castellan_cache_trusted {}", u8::from(cache.trusted));
            out.push_str("# HELP castellan_cache_resyncs_total Times the change feed was established or re-established (each time the memory is emptied).\n");
            out.push_str("# TYPE castellan_cache_resyncs_total counter\n");
            let _ = writeln!(out, "castellan_cache_resyncs_total {}", cache.resyncs);
        }
        out
    }
}
