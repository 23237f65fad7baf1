//! The load generator: `concurrency` workers, each on its own keep-alive connection, each sending
//! its script's next call as soon as the previous answer is in (closed loop). Only requests started
//! inside the measuring window count; the warm-up before it fills caches and connection pools.

use crate::http::{Call, Conn, Result};
use bytes::Bytes;
use hyper::StatusCode;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What one worker sends, and what it learns from each answer (a rotated refresh token, say).
pub trait Script: Send + 'static {
    fn next(&mut self) -> Call;
    fn learn(&mut self, _status: StatusCode, _body: &Bytes) {}
}

/// The same call again and again.
pub struct Repeat(pub Call);

impl Script for Repeat {
    fn next(&mut self) -> Call {
        self.0.clone()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub seconds: f64,
    latencies_us: Vec<u32>,
}

impl Stats {
    /// Answers per second with this status.
    pub fn rate(&self, status: u16) -> f64 {
        *self.statuses.get(&status).unwrap_or(&0) as f64 / self.seconds
    }

    /// Statuses other than `expected`, e.g. "429×3", or "" when there were none.
    pub fn unexpected(&self, expected: u16) -> String {
        let mut parts: Vec<String> =
            self.statuses.iter().filter(|(s, _)| **s != expected).map(|(s, n)| format!("{s}×{n}")).collect();
        if self.transport_errors > 0 {
            parts.push(format!("transport×{}", self.transport_errors));
        }
        parts.join(" ")
    }

    /// Latency percentile in milliseconds (p in 0..=100).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        f64::from(v[idx.min(v.len() - 1)]) / 1000.0
    }

    fn merge(&mut self, other: Stats) {
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.latencies_us.extend(other.latencies_us);
    }
}

pub async fn run(addr: SocketAddr, plan: Plan, scripts: Vec<Box<dyn Script>>) -> Result<Stats> {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut workers = Vec::new();
    for mut script in scripts.into_iter().take(plan.concurrency) {
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut conn = Conn::open(addr).await?;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let call = script.next();
                match conn.send(&call).await {
                    Ok((status, body)) => {
                        let micros = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                        script.learn(status, &body);
                        if t0 >= measure_from {
                            *stats.statuses.entry(status.as_u16()).or_default() += 1;
                            stats.latencies_us.push(micros);
                        }
                    }
                    Err(_) => {
                        if t0 >= measure_from {
                            stats.transport_errors += 1;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        conn = Conn::open(addr).await?;
                    }
                }
            }
            Ok::<Stats, crate::http::BoxError>(stats)
        }));
    }
    let mut total = Stats { seconds: plan.duration.as_secs_f64(), ..Stats::default() };
    for w in workers {
        total.merge(w.await??);
    }
    Ok(total)
}
