//! SQLite WAL checkpoints off the write path. By default the connection whose commit fills the
//! WAL past 1,000 pages copies it into the database file and syncs it, inside that commit: with
//! all writes on one connection, every write queued behind it waited for the disk (benchmarks of
//! sign-ins showed a third of the CPU idle in I/O wait). The writer connection has automatic
//! checkpoints off; this task checkpoints from a reader connection instead, which writers do not
//! wait for (a passive checkpoint runs beside them).
//!
//! A passive checkpoint copies pages but never moves the WAL back to its start: SQLite restarts
//! the WAL only when a write begins at a moment it is wholly copied and no reader is in it, which
//! under steady writes never comes, so the WAL (and its index, mapped into the server's memory)
//! grew without end — gigabytes in a long benchmark. Once it passes `RESTART_AT` pages, a restart
//! checkpoint on the writer connection (writes wait their turn behind it) copies the last pages
//! and waits out the readers already in the WAL (short queries; new readers read the database
//! file), and the next write starts the WAL from the beginning, cut back to `WAL_SIZE_LIMIT`.

use std::sync::Weak;
use std::time::Duration;

use sqlx::{Row, SqlitePool};

/// How often: often enough that the WAL stays short (reads look pages up in it), rarely enough that
/// an idle server does not notice.
const EVERY: Duration = Duration::from_millis(200);

/// WAL pages past which the WAL is restarted (64 MiB with 4 KiB pages).
const RESTART_AT: i64 = 16384;

/// A restart waits at most 100 ms for the readers in the WAL (writers wait as long at most), then
/// gives up until the next tick; the connection then gets back the 10 s every connection has.
const RESTART_WAIT: &str = "PRAGMA busy_timeout = 100";
const USUAL_WAIT: &str = "PRAGMA busy_timeout = 10000";
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes the WAL file is cut back to when it restarts.
pub(crate) const WAL_SIZE_LIMIT: &str = "67108864";

/// Checkpoints the database of `read` and `write` (its reader and writer pools) until the store is
/// dropped or the pools closed.
pub(crate) async fn checkpoint_sqlite(read: SqlitePool, write: SqlitePool, alive: Weak<()>) {
    checkpoint_until_dropped(read, write, alive, RESTART_AT).await;
}

async fn checkpoint_until_dropped(pool: SqlitePool, write: SqlitePool, alive: Weak<()>, restart_at: i64) {
    let mut ticker = tokio::time::interval(EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        if let Err(e) = checkpoint(&pool, &write, restart_at).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %crate::cause(&e), "SQLite checkpoint failed; the next one will try again");
        }
    }
}

async fn checkpoint(read: &SqlitePool, write: &SqlitePool, restart_at: i64) -> Result<(), sqlx::Error> {
    // (busy, pages in the WAL, pages copied); the WAL's count is -1 when not in WAL mode.
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(read).await?;
    let pages: i64 = row.try_get(1)?;
    if pages < restart_at {
        return Ok(());
    }
    // On the one writer connection, taken in turn from its pool: a restart from another
    // connection would wait for SQLite's write lock by polling, and a writer that commits back to
    // back never leaves it free long enough.
    let mut conn = write.acquire().await?;
    sqlx::query(RESTART_WAIT).execute(&mut *conn).await?;
    let restarted = sqlx::query("PRAGMA wal_checkpoint(RESTART)").fetch_one(&mut *conn).await;
    // The connection goes back to the pool with its usual timeout, whatever happened, or is
    // closed (the pool opens another) rather than left with the short one.
    if let Err(e) = sqlx::query(USUAL_WAIT).execute(&mut *conn).await {
        conn.close_on_drop();
        return Err(e);
    }
    let busy: i64 = restarted?.try_get(0)?;
    if busy != 0 {
        tracing::debug!(pages, "SQLite WAL restart waited out; the next tick tries again");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::{Pool, SqlStore};

    /// Steady writes with readers always in the WAL: the WAL file does not hold everything
    /// written (before restarts it grew by every page written: 107 MB for these 96 MiB). The
    /// restart point is 1,024 pages here; when the first restart gets its turn depends on the
    /// machine's load (other tests run beside this one), so the bound is what no restart at all
    /// would exceed, and the WAL's size under load is measured by the benchmarks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_restarted_under_steady_writes_and_reads() {
        let dir = std::env::temp_dir().join(format!("castellan-wal-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wal.db");
        let store = SqlStore::connect_without_migrating(&format!("sqlite://{}", file.display())).await.unwrap();
        let Pool::Sqlite { read, write } = &store.pool else { unreachable!() };
        sqlx::query("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").execute(write).await.unwrap();
        let alive = Arc::new(());
        tokio::spawn(super::checkpoint_until_dropped(read.clone(), write.clone(), Arc::downgrade(&alive), 1024));

        let writing = Arc::new(AtomicBool::new(true));
        let mut readers = Vec::new();
        for _ in 0..3 {
            let (read, writing) = (read.clone(), writing.clone());
            readers.push(tokio::spawn(async move {
                while writing.load(Ordering::Relaxed) {
                    sqlx::query("SELECT count(*) FROM filler").fetch_one(&read).await.unwrap();
                }
            }));
        }
        // 96 MiB written in transactions of 16 rows of 16 KiB.
        let body = vec![7u8; 16 * 1024];
        for _ in 0..384 {
            let mut tx = write.begin().await.unwrap();
            for _ in 0..16 {
                sqlx::query("INSERT INTO filler (body) VALUES ($1)").bind(&body).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        writing.store(false, Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        let wal = std::fs::metadata(dir.join("wal.db-wal")).map(|m| m.len()).unwrap_or(0);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        drop(alive);
        assert!(wal < 96 * 1024 * 1024, "the WAL grew to {wal} bytes");
    }
}
