//! Signing keys: rotation, the cached key ring, token signing and verification, JWKS.
//!
//! A key signs while it is active. Rotation makes a new active key and moves the previous one of
//! the same algorithm to retiring: it no longer signs, but it still verifies and stays in the JWKS
//! until every token it signed has expired (the tenant's access-token lifetime plus the leeway);
//! after that it is retired and leaves both.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::core::Core;
use crate::crypto::jwt::{self, Expectations, LoadedKey};
use crate::error::{CoreError, CoreResult};
use crate::model::TenantId;
use crate::model::{KeyAlg, KeyState, SigningKey, Tenant};

/// The asymmetric algorithms, in the order a tenant without keys gets its first one.
pub const ASYMMETRIC: &[KeyAlg] = &[KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA];

/// What a dialect expects of the access tokens it accepts. The header's `alg` must be one of
/// `algs` AND the algorithm of the key its `kid` names, so the key decides, never the token.
#[derive(Debug, Clone, Copy)]
pub struct TokenRules<'a> {
    pub algs: &'a [KeyAlg],
    pub typ: &'a str,
    pub audience: &'a str,
    /// The issuer to expect; `None`: the tenant's.
    pub issuer: Option<&'a str>,
    /// Whether an expired token still verifies (an ID token sent back as a hint).
    pub expired_ok: bool,
}

fn seal_context(tenant_id: TenantId, kid: &str) -> String {
    format!("signing-key/{tenant_id}/{kid}")
}

/// Signing keys: rotation, retirement, JWKS: `core.signing_keys()`.
pub struct SigningKeys<'a>(&'a Core);

impl Core {
    pub fn signing_keys(&self) -> SigningKeys<'_> {
        SigningKeys(self)
    }
}

impl std::ops::Deref for SigningKeys<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.0
    }
}

impl SigningKeys<'_> {
    /// Creates a new active key of `alg`; the previous active key of its family retires
    /// (still verifies, still in the JWKS) so tokens it signed stay valid until they expire.
    pub async fn rotate_key(&self, tenant: &Tenant, alg: KeyAlg) -> CoreResult<SigningKey> {
        let kid = crate::crypto::b64url(&crate::crypto::random_bytes::<12>());
        let (private, jwk) = jwt::generate(alg, &kid)?;
        let key = SigningKey {
            private_sealed: self.master.seal(&seal_context(tenant.id, &kid), &private)?,
            kid,
            tenant_id: tenant.id,
            alg,
            state: KeyState::Active,
            public_jwk: jwk,
            created_at: self.now(),
            retired_at: None,
        };
        let now = self.now();
        // One active key per family: the HS256 secret, and one asymmetric key, so which key signs
        // an asymmetric dialect's tokens is never in doubt.
        let family = |a: KeyAlg| a == KeyAlg::HS256;
        for old in self.store.list_keys(tenant.id).await? {
            if family(old.alg) == family(alg) && old.state == KeyState::Active {
                self.store.set_key_state(tenant.id, &old.kid, KeyState::Retiring, now).await?;
            }
        }
        self.store.insert_key(&key).await?;
        self.keys.clear();
        self.jwks_cache.clear();
        Ok(key)
    }

    pub async fn list_keys(&self, tenant: &Tenant) -> CoreResult<Vec<SigningKey>> {
        let now = self.now();
        let mut keys = self.store.list_keys(tenant.id).await?;
        for k in &mut keys {
            if !self.still_verifies(tenant, k, now) {
                k.state = KeyState::Retired;
            }
        }
        Ok(keys)
    }

    /// Whether `key` may still verify tokens (and be published): active, or retiring for less
    /// than the longest life of a token it signed.
    fn still_verifies(&self, tenant: &Tenant, key: &SigningKey, now: i64) -> bool {
        match key.state {
            KeyState::Active => true,
            KeyState::Retired => false,
            KeyState::Retiring => {
                let since = key.retired_at.unwrap_or(key.created_at);
                now < since + tenant.policy.tokens.access_ttl_seconds + self.config.token_leeway_seconds
            }
        }
    }

    /// Active and retiring keys, loaded and cached (newest first).
    pub async fn key_ring(&self, tenant: &Tenant) -> CoreResult<Arc<Vec<LoadedKey>>> {
        if let Some(ring) = self.keys.get(&tenant.id) {
            return Ok(ring);
        }
        let now = self.now();
        let mut ring = Vec::new();
        for k in self.store.list_keys(tenant.id).await? {
            if !self.still_verifies(tenant, &k, now) {
                if k.state == KeyState::Retiring {
                    self.store.set_key_state(tenant.id, &k.kid, KeyState::Retired, now).await?;
                }
                continue;
            }
            let private = self.master.open(&seal_context(tenant.id, &k.kid), &k.private_sealed)?;
            ring.push(jwt::load(&k.kid, k.alg, &private, &k.public_jwk, k.state == KeyState::Active)?);
        }
        let ring = Arc::new(ring);
        self.keys.put(tenant.id, ring.clone());
        Ok(ring)
    }

    /// Signs `claims` with the tenant's newest active key of one of `algs`, creating a key of
    /// `algs[0]` if there is none.
    pub async fn sign_token(&self, tenant: &Tenant, algs: &[KeyAlg], typ: &str, claims: &Value) -> CoreResult<String> {
        let mut ring = self.key_ring(tenant).await?;
        if !ring.iter().any(|k| k.active && algs.contains(&k.alg)) {
            let first = *algs.first().ok_or(CoreError::Internal("no algorithm allowed".into()))?;
            self.rotate_key(tenant, first).await?;
            ring = self.key_ring(tenant).await?;
        }
        let key = ring.iter().find(|k| k.active && algs.contains(&k.alg)).ok_or(CoreError::Internal("no active key".into()))?;
        // Timed around the signature itself, not the wait for a thread to run it on.
        let timed = |key: &jwt::LoadedKey, typ: &str, claims: &Value| {
            let started = Instant::now();
            (jwt::sign(key, typ, claims), started.elapsed())
        };
        let (token, took) = if key.alg == KeyAlg::RS256 {
            // An RSA signature takes most of a millisecond: on the runtime's threads it would hold
            // up every other request's I/O for that long.
            let (key, typ, claims) = (key.clone(), typ.to_string(), claims.clone());
            tokio::task::spawn_blocking(move || timed(&key, &typ, &claims)).await.map_err(CoreError::internal)?
        } else {
            timed(key, typ, claims)
        };
        self.sign_stats.record(key.alg, took);
        token
    }

    /// Verifies a token signed by one of the tenant's keys; any failure is `Unauthorized`.
    pub async fn verify_token(&self, tenant: &Tenant, token: &str, rules: TokenRules<'_>) -> CoreResult<Value> {
        let ring = self.key_ring(tenant).await?;
        let want = Expectations {
            algs: rules.algs,
            typ: rules.typ,
            issuer: rules.issuer.unwrap_or(&tenant.issuer),
            audience: rules.audience,
            now: self.now(),
            // Far enough that no expiry is reached, near enough that `exp + leeway` cannot overflow.
            leeway: if rules.expired_ok { i64::MAX / 4 } else { self.config.token_leeway_seconds },
        };
        if let Some(claims) = self.verified_tokens.recall(&ring, token, &want) {
            return Ok(claims);
        }
        let (key, claims) = jwt::verify_naming_key(&ring, token, &want)?;
        self.verified_tokens.remember(key, token, &want, &claims);
        Ok(claims)
    }

    /// The tenant's active HS256 secret, for resource servers that verify tokens themselves.
    pub async fn export_hs256_secret(&self, tenant: &Tenant) -> CoreResult<(String, Vec<u8>)> {
        let keys = self.store.list_keys(tenant.id).await?;
        let key = match keys.into_iter().find(|k| k.alg == KeyAlg::HS256 && k.state == KeyState::Active) {
            Some(k) => k,
            None => self.rotate_key(tenant, KeyAlg::HS256).await?,
        };
        let secret = self.master.open(&seal_context(tenant.id, &key.kid), &key.private_sealed)?;
        Ok((key.kid, secret))
    }

    /// The JWK set (RFC 7517) of one tenant, or of every tenant (`None`): active and retiring
    /// public keys, never a symmetric one. Serialized once per cache period.
    pub async fn jwks(&self, tenant: Option<&Tenant>) -> CoreResult<Arc<String>> {
        let scope = tenant.map(|t| t.id);
        if let Some(doc) = self.jwks_cache.get(&scope) {
            return Ok(doc);
        }
        let now = self.now();
        let (tenants, keys) = match tenant {
            Some(t) => (vec![t.clone()], self.store.list_keys(t.id).await?),
            None => (self.store.list_tenants().await?, self.store.list_all_keys().await?),
        };
        let published: Vec<&Value> = keys
            .iter()
            .filter(|k| k.alg != KeyAlg::HS256)
            .filter(|k| tenants.iter().find(|t| t.id == k.tenant_id).is_some_and(|t| self.still_verifies(t, k, now)))
            .map(|k| &k.public_jwk)
            .collect();
        let doc = Arc::new(json!({ "keys": published }).to_string());
        self.jwks_cache.put(scope, doc.clone());
        Ok(doc)
    }
}
