//! The audit log.

use super::*;

#[async_trait]
impl AuditStore for SqlStore {
    async fn insert_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let sql = insert_audit_sql();
        on_writer!(self, |p| bind_audit!(sqlx::query(AssertSqlSafe(sql)), e).execute(p).await.map(|_| ()).map_err(db_err))
    }

    async fn insert_audit_batch(&self, events: &[AuditEvent]) -> StoreResult<()> {
        // A few statements of many rows each: the statements, not the rows, are what cost.
        const ROWS: usize = 50;
        on_writer!(self, |p| async {
            let mut tx = p.begin().await?;
            for chunk in events.chunks(ROWS) {
                let values = placeholder_rows(10, chunk.len());
                let mut q = sqlx::query(AssertSqlSafe(format!("INSERT INTO audit_events ({AUDIT_COLS}) VALUES {values}")));
                for e in chunk {
                    q = bind_audit!(q, e);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await
        .map_err(db_err))
    }

    async fn list_audit(&self, tenant: TenantId, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE tenant_id=$1 AND ($2 IS NULL OR user_id=$2) AND ($3 IS NULL OR action=$3) \
             AND created_at >= $4 ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        fetch_all!(
            self,
            AuditRow,
            sql,
            tenant.to_string(),
            f.user_id.map(|u| u.to_string()),
            f.action.clone(),
            f.since.unwrap_or(0),
            i64::from(f.limit)
        )
    }

    async fn list_unscoped_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_events WHERE tenant_id IS NULL AND ($1 IS NULL OR user_id=$1) AND ($2 IS NULL OR action=$2) \
             AND created_at >= $3 ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        fetch_all!(
            self,
            AuditRow,
            sql,
            f.user_id.map(|u| u.to_string()),
            f.action.clone(),
            f.since.unwrap_or(0),
            i64::from(f.limit)
        )
    }
}
