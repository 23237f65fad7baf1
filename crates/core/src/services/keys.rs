//! Signing keys: rotation, the cached key ring, token signing and verification, JWKS.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::core::Core;
use crate::crypto::jwt::{self, Expectations, LoadedKey};
use crate::error::{CoreError, CoreResult};
use crate::model::{KeyAlg, KeyState, SigningKey, Tenant};

/// What a dialect expects of the access tokens it accepts.
#[derive(Debug, Clone, Copy)]
pub struct TokenRules<'a> {
    pub alg: KeyAlg,
    pub typ: &'a str,
    pub audience: &'a str,
}

fn seal_context(tenant: &Tenant, kid: &str) -> String {
    format!("signing-key/{}/{}", tenant.id, kid)
}

impl Core {
    /// Creates a new active key of `alg`; the previous active key of that algorithm retires
    /// (still verifies, still in the JWKS) so tokens it signed stay valid until they expire.
    pub async fn rotate_key(&self, tenant: &Tenant, alg: KeyAlg) -> CoreResult<SigningKey> {
        let kid = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let (private, jwk) = jwt::generate(alg, &kid)?;
        let key = SigningKey {
            private_sealed: self.master.seal(&seal_context(tenant, &kid), &private)?,
            kid,
            tenant_id: tenant.id,
            alg,
            state: KeyState::Active,
            public_jwk: jwk,
            created_at: self.now(),
            retired_at: None,
        };
        let now = self.now();
        for old in self.store.list_keys(tenant.id).await? {
            if old.alg == alg && old.state == KeyState::Active {
                self.store.set_key_state(tenant.id, &old.kid, KeyState::Retiring, now).await?;
            }
        }
        self.store.insert_key(&key).await?;
        self.keys.clear();
        Ok(key)
    }

    pub async fn list_keys(&self, tenant: &Tenant) -> CoreResult<Vec<SigningKey>> {
        Ok(self.store.list_keys(tenant.id).await?)
    }

    /// Active and retiring keys, loaded and cached.
    pub async fn key_ring(&self, tenant: &Tenant) -> CoreResult<Arc<Vec<LoadedKey>>> {
        if let Some(ring) = self.keys.get(&tenant.id) {
            return Ok(ring);
        }
        let mut ring = Vec::new();
        for k in self.store.list_keys(tenant.id).await? {
            if k.state == KeyState::Retired {
                continue;
            }
            let private = self.master.open(&seal_context(tenant, &k.kid), &k.private_sealed)?;
            ring.push(jwt::load(&k.kid, k.alg, &private, &k.public_jwk, k.state == KeyState::Active)?);
        }
        let ring = Arc::new(ring);
        self.keys.put(tenant.id, ring.clone());
        Ok(ring)
    }

    /// Signs `claims` with the tenant's active key of `alg`, creating one if there is none.
    pub async fn sign_token(&self, tenant: &Tenant, alg: KeyAlg, typ: &str, claims: &Value) -> CoreResult<String> {
        let ring = self.key_ring(tenant).await?;
        if let Some(key) = ring.iter().find(|k| k.alg == alg && k.active) {
            return jwt::sign(key, typ, claims);
        }
        self.rotate_key(tenant, alg).await?;
        let ring = self.key_ring(tenant).await?;
        let key = ring.iter().find(|k| k.alg == alg && k.active).ok_or(CoreError::Internal("no active key".into()))?;
        jwt::sign(key, typ, claims)
    }

    /// Verifies a token signed by one of the tenant's keys; any failure is `Unauthorized`.
    pub async fn verify_token(&self, tenant: &Tenant, token: &str, rules: TokenRules<'_>) -> CoreResult<Value> {
        let ring = self.key_ring(tenant).await?;
        let want = Expectations {
            alg: rules.alg,
            typ: rules.typ,
            issuer: &tenant.issuer,
            audience: rules.audience,
            now: self.now(),
            leeway: self.config.token_leeway_seconds,
        };
        jwt::verify(&ring, token, &want)
    }

    /// The tenant's active HS256 secret, for resource servers that verify tokens themselves.
    pub async fn export_hs256_secret(&self, tenant: &Tenant) -> CoreResult<(String, Vec<u8>)> {
        let keys = self.store.list_keys(tenant.id).await?;
        let key = match keys.into_iter().find(|k| k.alg == KeyAlg::HS256 && k.state == KeyState::Active) {
            Some(k) => k,
            None => self.rotate_key(tenant, KeyAlg::HS256).await?,
        };
        let secret = self.master.open(&seal_context(tenant, &key.kid), &key.private_sealed)?;
        Ok((key.kid, secret))
    }

    /// The public keys (active and retiring, asymmetric only) of the given tenants.
    pub async fn jwks(&self, tenants: &[Tenant]) -> CoreResult<Value> {
        let mut keys = Vec::new();
        for t in tenants {
            for k in self.store.list_keys(t.id).await? {
                if k.alg != KeyAlg::HS256 && k.state != KeyState::Retired {
                    keys.push(k.public_jwk);
                }
            }
        }
        Ok(json!({ "keys": keys }))
    }
}
