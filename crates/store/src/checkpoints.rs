//! SQLite WAL checkpoints off the write path. By default the connection whose commit fills the
//! WAL past 1,000 pages copies it into the database file and syncs it, inside that commit: with
//! all writes on one connection, every write queued behind it waited for the disk (benchmarks of
//! sign-ins showed a third of the CPU idle in I/O wait). The writer connection has automatic
//! checkpoints off; this task checkpoints from a reader connection instead, which writers do not
//! wait for (a WAL checkpoint runs beside them). A passive checkpoint never blocks anyone, so the
//! WAL is also bounded by `journal_size_limit`, which truncates it once a checkpoint caught up.

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;

/// How often: often enough that the WAL stays short (reads look pages up in it), rarely enough that
/// an idle server does not notice.
const EVERY: Duration = Duration::from_millis(200);

/// Bytes the WAL file is cut back to after a checkpoint that reached its end.
pub(crate) const WAL_SIZE_LIMIT: &str = "67108864";

/// Checkpoints `pool`'s database until the store is dropped or the pool closed.
pub(crate) async fn checkpoint_sqlite(pool: SqlitePool, alive: Weak<()>) {
    let mut ticker = tokio::time::interval(EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %crate::cause(&e), "SQLite checkpoint failed; the next one will try again");
        }
    }
}
