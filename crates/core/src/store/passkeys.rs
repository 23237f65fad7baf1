//! WebAuthn credentials, the ceremonies that register and use them, and recovery codes.

use async_trait::async_trait;
use uuid::Uuid;

use super::*;

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// A new credential; `Conflict` if the tenant already has one with its credential id.
    async fn insert_credential(&self, c: &WebauthnCredential) -> StoreResult<()>;
    /// A user's credentials, oldest first.
    async fn credentials_of(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<WebauthnCredential>>;
    async fn credential_by_credential_id(&self, tenant: TenantId, credential_id: &str)
    -> StoreResult<Option<WebauthnCredential>>;
    /// Records a use, if the counter moved forward (or the authenticator keeps none: 0 then and
    /// before); false means another use got there first or the counter went back.
    async fn record_credential_use(&self, tenant: TenantId, id: Uuid, u: &CredentialUse) -> StoreResult<bool>;
    async fn rename_credential(&self, tenant: TenantId, user: UserId, id: Uuid, name: &str) -> StoreResult<bool>;
    async fn delete_credential(&self, tenant: TenantId, user: UserId, id: Uuid) -> StoreResult<bool>;
    /// Keeps a ceremony begun; expired ones are pruned on the way.
    async fn insert_ceremony(&self, c: &WebauthnCeremony, now: i64) -> StoreResult<()>;
    /// Takes a ceremony for good: the one caller that gets it, while it has not expired.
    async fn take_ceremony(&self, tenant: TenantId, token_hash: &[u8], now: i64) -> StoreResult<Option<WebauthnCeremony>>;
    /// Replaces a user's recovery codes with these (HMACs), all unused.
    async fn replace_recovery_codes(&self, tenant: TenantId, user: UserId, hashes: &[Vec<u8>], now: i64) -> StoreResult<()>;
    /// Spends a recovery code; false if it is not one of the user's or was used.
    async fn spend_recovery_code(&self, tenant: TenantId, user: UserId, hash: &[u8], now: i64) -> StoreResult<bool>;
    /// How many of a user's recovery codes are left unused.
    async fn recovery_codes_left(&self, tenant: TenantId, user: UserId) -> StoreResult<u32>;
}
