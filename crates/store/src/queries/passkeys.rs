//! WebAuthn credentials, ceremonies and recovery codes.

use super::*;

const CREDENTIAL_COLS: &str = "id, tenant_id, user_id, credential_id, kind, name, data, aaguid, sign_count, \
                               backup_eligible, backup_state, created_at, last_used_at";
const CEREMONY_COLS: &str = "token_hash, tenant_id, user_id, purpose, state, expires_at, created_at";

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn insert_credential(&self, c: &WebauthnCredential) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO webauthn_credentials ({CREDENTIAL_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)");
        execute!(
            self,
            sql,
            c.id.to_string(),
            c.tenant_id.to_string(),
            c.user_id.to_string(),
            &c.credential_id,
            c.kind.as_str(),
            &c.name,
            &c.data,
            c.aaguid.clone(),
            i64::from(c.sign_count),
            c.backup_eligible,
            c.backup_state,
            c.created_at,
            c.last_used_at
        )
        .map(|_| ())
    }

    async fn credentials_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<WebauthnCredential>> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLS} FROM webauthn_credentials WHERE tenant_id=$1 AND user_id=$2 ORDER BY created_at, id"
        );
        fetch_all!(self, CredentialRow, sql, tenant.to_string(), user.to_string())
    }

    async fn credential_by_credential_id(
        &self,
        tenant: TenantId,
        credential_id: &str,
    ) -> StoreResult<Option<WebauthnCredential>> {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM webauthn_credentials WHERE tenant_id=$1 AND credential_id=$2");
        fetch_optional!(self, CredentialRow, sql, tenant.to_string(), credential_id)
    }

    async fn record_credential_use(&self, tenant: TenantId, id: Uuid, u: &CredentialUse) -> StoreResult<bool> {
        let sql = "UPDATE webauthn_credentials SET sign_count=$3, backup_state=$4, data=$5, last_used_at=$6 \
                   WHERE tenant_id=$1 AND id=$2 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))";
        let n = execute!(self, sql, tenant.to_string(), id.to_string(), i64::from(u.sign_count), u.backup_state, &u.data, u.at)?;
        Ok(n == 1)
    }

    async fn rename_credential(&self, tenant: TenantId, user: UserId, id: Uuid, name: &str) -> StoreResult<bool> {
        let sql = "UPDATE webauthn_credentials SET name=$4 WHERE tenant_id=$1 AND user_id=$2 AND id=$3";
        Ok(execute!(self, sql, tenant.to_string(), user.to_string(), id.to_string(), name)? == 1)
    }

    async fn delete_credential(&self, tenant: TenantId, user: UserId, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM webauthn_credentials WHERE tenant_id=$1 AND user_id=$2 AND id=$3";
        Ok(execute!(self, sql, tenant.to_string(), user.to_string(), id.to_string())? == 1)
    }

    async fn insert_ceremony(&self, c: &WebauthnCeremony, now: i64) -> StoreResult<()> {
        // Pruning costs a statement: one ceremony in 32 pays for it.
        if c.token_hash.first().is_some_and(|b| b % 32 == 0) {
            execute!(self, "DELETE FROM webauthn_ceremonies WHERE expires_at < $1", now)?;
        }
        let sql = format!("INSERT INTO webauthn_ceremonies ({CEREMONY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)");
        execute!(
            self,
            sql,
            c.token_hash.clone(),
            c.tenant_id.to_string(),
            c.user_id.map(|u| u.to_string()),
            &c.purpose,
            &c.state,
            c.expires_at,
            c.created_at
        )
        .map(|_| ())
    }

    async fn take_ceremony(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<WebauthnCeremony>> {
        let sql = format!("DELETE FROM webauthn_ceremonies WHERE tenant_id=$1 AND token_hash=$2 RETURNING {CEREMONY_COLS}");
        let row = on_writer!(self, |p| sqlx::query_as::<_, CeremonyRow>(AssertSqlSafe(sql))
            .bind(tenant.to_string())
            .bind(token_hash)
            .fetch_optional(p)
            .await
            .map_err(db_err))?;
        // An expired ceremony is spent all the same: it is gone either way.
        Ok(one(row)?.filter(|c: &WebauthnCeremony| c.expires_at > now))
    }

    async fn replace_recovery_codes(&self, tenant: TenantId, user: UserId, hashes: &[Vec<u8>], now: i64) -> StoreResult<()> {
        let (t, u) = (tenant.to_string(), user.to_string());
        on_writer!(self, |p| {
            let mut tx = p.begin().await.map_err(db_err)?;
            // The user's row locked first: two replacements at once run one after the other, so
            // the first one's codes do not outlive the second (PostgreSQL's READ COMMITTED).
            sqlx::query("UPDATE users SET updated_at=updated_at WHERE tenant_id=$1 AND id=$2")
                .bind(&t)
                .bind(&u)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM recovery_codes WHERE tenant_id=$1 AND user_id=$2")
                .bind(&t)
                .bind(&u)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            for h in hashes {
                sqlx::query(
                    "INSERT INTO recovery_codes (tenant_id, user_id, code_hash, used_at, created_at) VALUES ($1,$2,$3,NULL,$4)",
                )
                .bind(&t)
                .bind(&u)
                .bind(h.as_slice())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn spend_recovery_code(&self, tenant: TenantId, user: UserId, hash: &[u8], now: i64) -> StoreResult<bool> {
        let sql = "UPDATE recovery_codes SET used_at=$4 WHERE tenant_id=$1 AND user_id=$2 AND code_hash=$3 AND used_at IS NULL";
        Ok(execute!(self, sql, tenant.to_string(), user.to_string(), hash, now)? == 1)
    }

    async fn recovery_codes_left(&self, tenant: TenantId, user: UserId) -> StoreResult<u32> {
        let sql = "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id=$1 AND user_id=$2 AND used_at IS NULL";
        let n: i64 = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(tenant.to_string())
            .bind(user.to_string())
            .fetch_one(p)
            .await
            .map_err(db_err))?;
        Ok(u32::try_from(n).unwrap_or(0))
    }
}
