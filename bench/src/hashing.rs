//! Yardstick H: raw Argon2id hashes per second on all cores, at the server's parameters, with the
//! pure-Rust `argon2` crate the server links and with the C reference library (libargon2 through
//! Python's argon2-cffi), whichever is faster being the yardstick.

use crate::http::Result;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

pub fn rust_per_second(cost: Cost, threads: usize, duration: Duration) -> Result<f64> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, Some(32)).map_err(|e| e.to_string())?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let end = Instant::now() + duration;
    let counts = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let hasher = hasher.clone();
                s.spawn(move || {
                    // Working memory reused across hashes, as the server's hashing threads do.
                    let mut blocks = vec![Block::new(); hasher.params().block_count()];
                    let mut out = [0u8; 32];
                    let mut n = 0u64;
                    while Instant::now() < end {
                        let pwd = b"correct horse battery";
                        if hasher.hash_password_into_with_memory(pwd, b"0123456789abcdef", &mut out, &mut blocks).is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum::<u64>()
    });
    Ok(counts as f64 / duration.as_secs_f64())
}

/// `None` when no Python with argon2-cffi is at hand (bench/run sets one up).
pub fn c_per_second(python: Option<&Path>, cost: Cost, threads: usize, duration: Duration) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("argon2_c.py");
    let out = Command::new(python?)
        .arg(script)
        .args(["--threads", &threads.to_string(), "--seconds", &duration.as_secs_f64().to_string()])
        .args(["--memory-kib", &cost.memory_kib.to_string(), "--iterations", &cost.iterations.to_string()])
        .args(["--parallelism", &cost.parallelism.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("argon2_c.py failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
