//! Signing keys.

use super::*;

#[async_trait]
impl KeyStore for SqlStore {
    async fn insert_key(&self, k: &SigningKey) -> StoreResult<()> {
        let sql = format!("INSERT INTO signing_keys ({KEY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)");
        execute!(
            self,
            sql,
            &k.kid,
            k.tenant_id.to_string(),
            k.alg.as_str(),
            k.state.as_str(),
            k.private_sealed.clone(),
            to_json(&k.public_jwk),
            k.created_at,
            k.retired_at
        )
        .map(|_| ())
    }

    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<SigningKey>> {
        let sql = format!("SELECT {KEY_COLS} FROM signing_keys WHERE tenant_id=$1 ORDER BY created_at DESC, kid");
        fetch_all!(self, KeyRow, sql, tenant.to_string())
    }

    async fn list_all_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let sql = format!("SELECT {KEY_COLS} FROM signing_keys ORDER BY created_at DESC, kid");
        fetch_all!(self, KeyRow, sql)
    }

    async fn set_key_state(&self, tenant: TenantId, kid: &str, state: KeyState, now: i64) -> StoreResult<()> {
        let retired_at = (state != KeyState::Active).then_some(now);
        execute!(
            self,
            "UPDATE signing_keys SET state=$3, retired_at=$4 WHERE tenant_id=$1 AND kid=$2",
            tenant.to_string(),
            kid,
            state.as_str(),
            retired_at
        )
        .map(|_| ())
    }
}
