//! Signatures already checked. A token sent with every request (a session check, UserInfo) was
//! verified the first time; checking an asymmetric signature again costs 25–120 µs, most of such a
//! request. What is remembered is the exact token (by its SHA-256), the expectations it met and the
//! key that verified it; the token is taken without a new signature check only while that key is
//! still among the tenant's verifying keys and the expectations are the same, and its times are
//! checked again every time. Revocation is not the concern here: sessions and the deny list are
//! checked after verification, on every request, as before.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::jwt::{Expectations, LoadedKey, check_times};
use crate::cache::TtlCache;
use crate::model::KeyAlg;

/// How long a verification is remembered; the token's own `exp` is checked on every use.
const REMEMBERED: Duration = Duration::from_secs(300);

struct Verified {
    kid: String,
    alg: KeyAlg,
    typ: String,
    issuer: String,
    audience: String,
    claims: Value,
}

pub struct VerifiedTokens {
    entries: TtlCache<[u8; 32], Arc<Verified>>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens { entries: TtlCache::new(REMEMBERED) }
    }
}

impl VerifiedTokens {
    /// The claims of `token` if these very bytes were verified against the same expectations by a
    /// key still in `keys`, and are within their times now; `None` means: verify it.
    pub fn recall(&self, keys: &[LoadedKey], token: &str, want: &Expectations<'_>) -> Option<Value> {
        let known = self.entries.get(&super::sha256_array(token.as_bytes()))?;
        let same = known.typ == want.typ
            && known.issuer == want.issuer
            && known.audience == want.audience
            && want.algs.contains(&known.alg)
            && keys.iter().any(|k| k.kid == known.kid && k.alg == known.alg);
        (same && check_times(&known.claims, want).is_ok()).then(|| known.claims.clone())
    }

    /// Remembers that `key` verified `token` against `want`. HMAC tokens are not remembered: their
    /// check costs no more than the lookup.
    pub fn remember(&self, key: &LoadedKey, token: &str, want: &Expectations<'_>, claims: &Value) {
        if key.alg == KeyAlg::HS256 {
            return;
        }
        let verified = Verified {
            kid: key.kid.clone(),
            alg: key.alg,
            typ: want.typ.to_string(),
            issuer: want.issuer.to_string(),
            audience: want.audience.to_string(),
            claims: claims.clone(),
        };
        self.entries.put(super::sha256_array(token.as_bytes()), Arc::new(verified));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::jwt::{generate, load, sign};
    use super::*;
    use crate::error::CoreResult;

    fn key(alg: KeyAlg, kid: &str) -> CoreResult<LoadedKey> {
        let (private, jwk) = generate(alg, kid)?;
        load(kid, alg, &private, &jwk, true)
    }

    fn want(now: i64) -> Expectations<'static> {
        Expectations { algs: &[KeyAlg::ES256, KeyAlg::EdDSA], typ: "JWT", issuer: "iss", audience: "aud", now, leeway: 0 }
    }

    #[test]
    fn a_token_is_taken_again_only_as_it_was_verified_and_while_its_key_verifies() -> CoreResult<()> {
        let (k1, k2) = (key(KeyAlg::ES256, "k1")?, key(KeyAlg::EdDSA, "k2")?);
        let claims = json!({"sub": "u", "iss": "iss", "aud": "aud", "exp": 2000, "nbf": 900});
        let token = sign(&k1, "JWT", &claims)?;
        let memory = VerifiedTokens::default();
        let ring = vec![k1, k2];
        assert_eq!(memory.recall(&ring, &token, &want(1000)), None, "nothing remembered yet");
        memory.remember(&ring[0], &token, &want(1000), &claims);
        assert_eq!(memory.recall(&ring, &token, &want(1000)), Some(claims.clone()));
        // Other expectations, times past or not yet reached: verify again.
        assert_eq!(memory.recall(&ring, &token, &Expectations { audience: "other", ..want(1000) }), None);
        assert_eq!(memory.recall(&ring, &token, &Expectations { issuer: "other", ..want(1000) }), None);
        assert_eq!(memory.recall(&ring, &token, &Expectations { typ: "at+jwt", ..want(1000) }), None);
        assert_eq!(memory.recall(&ring, &token, &Expectations { algs: &[KeyAlg::EdDSA], ..want(1000) }), None);
        assert_eq!(memory.recall(&ring, &token, &want(2000)), None, "expired");
        assert_eq!(memory.recall(&ring, &token, &want(800)), None, "not yet valid");
        // The key left the ring (retired, deleted): verify again, which fails.
        assert_eq!(memory.recall(&ring[1..], &token, &want(1000)), None);
        // Other bytes, even with the same claims and a valid-looking signature part, are not the token.
        let mut forged = token.clone();
        forged.push('A');
        assert_eq!(memory.recall(&ring, &forged, &want(1000)), None);
        let resigned = sign(&ring[0], "JWT", &claims)?;
        assert_ne!(resigned, token, "ECDSA signatures are randomised");
        assert_eq!(memory.recall(&ring, &resigned, &want(1000)), None);
        Ok(())
    }

    #[test]
    fn hmac_tokens_are_not_remembered() -> CoreResult<()> {
        let k = key(KeyAlg::HS256, "h")?;
        let claims = json!({"iss": "iss", "aud": "aud", "exp": 2000});
        let token = sign(&k, "JWT", &claims)?;
        let memory = VerifiedTokens::default();
        let want = Expectations { algs: &[KeyAlg::HS256], ..want(1000) };
        memory.remember(&k, &token, &want, &claims);
        assert_eq!(memory.recall(std::slice::from_ref(&k), &token, &want), None);
        Ok(())
    }
}
