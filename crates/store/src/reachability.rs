//! Whether PostgreSQL answers, watched on a connection of its own.
//!
//! While the database is down the pool would make every request wait out its acquire timeout
//! (sqlx retries refused connections until then), so a node under load would answer nothing for
//! seconds at a time. A watcher pings on its own connection instead; once neither the ping nor a
//! fresh connection gets an answer twice in a row, statements are refused at once as unavailable
//! (503 in each dialect) until a connection succeeds again, which the watcher tries four times a
//! second.

use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// How often the connection is pinged while the database answers.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// How often a connection is tried while it does not.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// A ping or a connection that takes longer counts as no answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Reachability {
    down: AtomicBool,
}

impl Reachability {
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}

/// The error a statement gets without trying while the database is down.
pub(crate) fn refused() -> castellan_core::store::StoreError {
    castellan_core::store::StoreError::Unavailable { context: "the database does not answer".into(), source: None }
}

/// How many probes in a row must go unanswered before the database counts as down: one lost
/// connection (a killed backend, a reaper) is not an outage.
const SILENT_ROUNDS: u32 = 2;

/// A connection, or whether the database answered the attempt at all: a refusal it sends itself
/// (too many clients, a password) means it is there.
async fn connect(options: &PgConnectOptions) -> Result<PgConnection, bool> {
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(!crate::is_unavailable(&e) || is_too_many_clients(&e)),
        Err(_) => Err(false),
    }
}

fn is_too_many_clients(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("53300"))
}

/// Watches until the store is dropped. A lost connection is replaced at once, so a terminated
/// backend (`pg_terminate_backend`) does not count as the database being down.
pub(crate) async fn watch(options: PgConnectOptions, reach: std::sync::Arc<Reachability>, alive: Weak<()>) {
    let mut conn = connect(&options).await.ok();
    let mut silent = 0u32;
    let mut down_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(if silent > 0 { RETRY_EVERY } else { WATCH_EVERY }).await;
        if alive.strong_count() == 0 {
            if let Some(c) = conn {
                let _ = c.close().await;
            }
            return;
        }
        let mut answered = match conn.as_mut() {
            Some(c) => matches!(tokio::time::timeout(PROBE_TIMEOUT, c.ping()).await, Ok(Ok(()))),
            None => false,
        };
        if !answered {
            match connect(&options).await {
                Ok(c) => {
                    conn = Some(c);
                    answered = true;
                }
                Err(refused_by_the_database) => {
                    conn = None;
                    answered = refused_by_the_database;
                }
            }
        }
        silent = if answered { 0 } else { silent.saturating_add(1) };
        match (silent >= SILENT_ROUNDS, down_since) {
            (true, None) => {
                tracing::error!("database unreachable: answering 503 until it is back");
                down_since = Some(Instant::now());
                reach.down.store(true, Ordering::Relaxed);
            }
            (false, Some(since)) if answered => {
                tracing::warn!(down_seconds = since.elapsed().as_secs_f64(), "database reachable again");
                down_since = None;
                reach.down.store(false, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}
