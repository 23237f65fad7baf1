//! Refresh-token rotations, committed in groups (see `groups`): one UPDATE spends every token of
//! the group, one INSERT stores all the successors and another all the audit events. A token
//! presented twice in one group is spent once, for the first caller.

use async_trait::async_trait;

use super::groups::{GroupWrite, Writer};
use super::*;

/// One rotation: spend `old_hash` (the tenant's, unused), store `new`, record `event`.
pub(crate) struct Rotation {
    pub tenant: TenantId,
    pub old_hash: Vec<u8>,
    pub now: i64,
    pub new: RefreshToken,
    pub event: AuditEvent,
}

/// Refresh rotations; a job's outcome is the spent token, `None` if it was not there to spend.
pub(crate) struct Rotations {
    /// Told of each successor right after its group is written, in this task.
    pub(crate) hot: std::sync::Arc<crate::hot::HotState>,
}

#[async_trait]
impl GroupWrite for Rotations {
    type Job = Rotation;
    type Outcome = Option<RefreshToken>;
    const WHAT: &'static str = "a refresh";

    async fn write(&self, writer: &Writer, group: &[Rotation]) -> StoreResult<Vec<Option<RefreshToken>>> {
        let written = write_group(writer, group).await;
        if let Ok(outcomes) = &written {
            for (r, spent) in group.iter().zip(outcomes) {
                if spent.is_some() {
                    self.hot.put_refresh(&r.new);
                }
            }
        }
        written
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
