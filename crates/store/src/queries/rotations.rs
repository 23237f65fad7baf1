//! Refresh-token rotations in group commits. Every rotation queued while the previous group was
//! being written goes into the next one: one transaction spends all their tokens in one UPDATE,
//! stores all the successors in one INSERT and all the audit events in another. Each caller is
//! answered after that commit, with its own outcome; a token presented twice in one group is
//! spent once, for the first caller. A group that fails as a whole is retried one rotation at a
//! time, so one bad rotation fails alone.

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::Pool;

/// Rotations per group: past this the statements get long for little gain.
const MAX_GROUP: usize = 64;

/// One rotation: spend `old_hash` (the tenant's, unused), store `new`, record `event`.
pub(crate) struct Rotation {
    pub tenant: TenantId,
    pub old_hash: Vec<u8>,
    pub now: i64,
    pub new: RefreshToken,
    pub event: AuditEvent,
}

type Outcome = StoreResult<Option<RefreshToken>>;

/// The queue of rotations and the task that writes them; the task ends with the store.
pub(crate) struct Rotator {
    queue: mpsc::UnboundedSender<(Rotation, oneshot::Sender<Outcome>)>,
}

impl Rotator {
    pub(crate) fn start(pool: Pool) -> Rotator {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(Writer { pool }, jobs));
        Rotator { queue }
    }

    /// The spent token if it was unused (its successor and event are then committed), `None` if
    /// it was not there to spend (nothing written).
    pub(crate) async fn rotate(&self, rotation: Rotation) -> Outcome {
        let (answer, answered) = oneshot::channel();
        self.queue.send((rotation, answer)).map_err(|_| StoreError::message("the store is closed"))?;
        answered.await.map_err(|_| StoreError::message("the store closed during a refresh"))?
    }
}

/// What the statements run on (the writer connection on SQLite).
struct Writer {
    pool: Pool,
}

async fn write_groups(writer: Writer, mut jobs: mpsc::UnboundedReceiver<(Rotation, oneshot::Sender<Outcome>)>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let (rotations, answers): (Vec<Rotation>, Vec<_>) = group.into_iter().unzip();
        match write_group(&writer, &rotations).await {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = answer.send(Ok(outcome));
                }
            }
            Err(e) if rotations.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(e));
                }
            }
            Err(_) => {
                for (rotation, answer) in rotations.iter().zip(answers) {
                    let outcome = write_group(&writer, std::slice::from_ref(rotation)).await.map(|mut o| o.pop().flatten());
                    let _ = answer.send(outcome);
                }
            }
        }
    }
}

/// One transaction for the whole group; each rotation's spent token, in order.
async fn write_group(writer: &Writer, group: &[Rotation]) -> StoreResult<Vec<Option<RefreshToken>>> {
    let now = group.iter().map(|r| r.now).max().unwrap_or_default();
    let n = group.len();
    // Hashes are unique across tenants; the IN list finds the rows by their index, the pairs
    // keep each token to the tenant it was presented to.
    let hashes = (0..n).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
    let pairs = (0..n).map(|i| format!("(token_hash=${} AND tenant_id=${})", i + 2, n + i + 2)).collect::<Vec<_>>().join(" OR ");
    let spend = format!(
        "UPDATE refresh_tokens SET used_at=$1 WHERE used_at IS NULL AND token_hash IN ({hashes}) AND ({pairs}) \
         RETURNING {REFRESH_COLS}"
    );
    on_writer!(writer, |p| async {
        let mut tx = p.begin().await.map_err(db_err)?;
        let mut q = sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(spend.clone())).bind(now);
        for r in group {
            q = q.bind(r.old_hash.clone());
        }
        for r in group {
            q = q.bind(r.tenant.to_string());
        }
        let spent: Vec<RefreshToken> = all(q.fetch_all(&mut *tx).await.map_err(db_err)?)?;
        let mut spent: Vec<Option<RefreshToken>> = spent.into_iter().map(Some).collect();
        // Each spent row goes to the first rotation that presented its hash.
        let outcomes: Vec<Option<RefreshToken>> = group
            .iter()
            .map(|r| spent.iter_mut().find(|s| s.as_ref().is_some_and(|s| s.token_hash == r.old_hash)).and_then(Option::take))
            .collect();
        let winners: Vec<&Rotation> = group.iter().zip(&outcomes).filter(|(_, o)| o.is_some()).map(|(r, _)| r).collect();
        if !winners.is_empty() {
            let insert = format!("INSERT INTO refresh_tokens ({REFRESH_COLS}) VALUES {}", placeholder_rows(9, winners.len()));
            let mut q = sqlx::query(AssertSqlSafe(insert));
            for r in &winners {
                q = bind_refresh!(q, r.new);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
            let audit = format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES {}", placeholder_rows(10, winners.len()));
            let mut q = sqlx::query(AssertSqlSafe(audit));
            for r in &winners {
                q = bind_audit!(q, r.event);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(outcomes)
    }
    .await)
}
