//! Clients' own keys: the JWK sets of clients that sign what they send (client assertions,
//! request objects), given inline or fetched from their `jwks_uri` and cached, and the check of
//! a JWT against them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;

use super::Provider;
use crate::model::Application;

/// The algorithms a client may sign with: asymmetric only, so that no public key is ever
/// taken for an HMAC secret.
pub const CLIENT_SIGNING_ALGS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];
/// A fetched key set is used this long before it is fetched again.
pub(crate) const JWKS_CACHE: Duration = Duration::from_secs(300);
/// A key set is fetched again for an unknown `kid` only if it is older than this.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(60);
const JWKS_MAX_BYTES: usize = 64 * 1024;
const JWKS_MAX_KEYS: usize = 20;

/// Members of a JWK that only a private key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A client's key set as registered: a JSON object with `keys`, each a public RSA, EC or OKP
/// key this server can use. `Err` says what is wrong.
pub fn check_client_jwks(jwks: &Value) -> Result<(), String> {
    if jwks.to_string().len() > JWKS_MAX_BYTES {
        return Err(format!("at most {JWKS_MAX_BYTES} bytes"));
    }
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("a JWK set: an object with a keys array")?;
    if keys.is_empty() || keys.len() > JWKS_MAX_KEYS {
        return Err(format!("1 to {JWKS_MAX_KEYS} keys"));
    }
    for key in keys {
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(format!("public keys only: a key has the private member {member}"));
        }
        let jwk: Jwk = serde_json::from_value(key.clone()).map_err(|e| format!("a key cannot be read: {e}"))?;
        if !matches!(
            jwk.algorithm,
            AlgorithmParameters::RSA(_) | AlgorithmParameters::EllipticCurve(_) | AlgorithmParameters::OctetKeyPair(_)
        ) {
            return Err("keys of kty RSA, EC or OKP only".into());
        }
        DecodingKey::from_jwk(&jwk).map_err(|e| format!("a key cannot be used: {e}"))?;
    }
    Ok(())
}

pub(crate) fn allowed_alg(alg: Algorithm) -> bool {
    let name = format!("{alg:?}");
    CLIENT_SIGNING_ALGS.contains(&name.as_str())
}

/// Whether `jwk` can check a signature of `alg`.
pub(crate) fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm
        && format!("{declared:?}") != format!("{alg:?}")
    {
        return false;
    }
    matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::PS256)
            | (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
            | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    )
}

/// Why a client's JWT was refused (for the audit trail; the client hears less).
pub(crate) type Refusal = &'static str;

impl Provider<'_> {
    /// The client's key set: inline, or from its `jwks_uri` (cached; `fresh` fetches again when
    /// the cached copy is older than a minute). `None` when the client has none or it cannot be
    /// fetched.
    async fn client_key_set(&self, client: &Application, fresh: bool) -> Option<Arc<JwkSet>> {
        if let Some(inline) = &client.oauth.jwks {
            return serde_json::from_value(inline.clone()).ok().map(Arc::new);
        }
        let uri = client.oauth.jwks_uri.as_ref()?;
        if let Some((at, set)) = self.client_jwks.get(uri)
            && !(fresh && at.elapsed() > JWKS_REFETCH_AFTER)
        {
            return Some(set);
        }
        let set = Arc::new(self.fetch_jwks(uri).await?);
        self.client_jwks.put(uri.clone(), (Instant::now(), set.clone()));
        Some(set)
    }

    async fn fetch_jwks(&self, uri: &str) -> Option<JwkSet> {
        let response = self
            .callback_client
            .get(uri)
            .timeout(Duration::from_secs(5))
            .header("accept", "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(|e| tracing::warn!(error = %e, "a client's jwks_uri could not be fetched"))
            .ok()?;
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), "a client's jwks_uri answered an error");
            return None;
        }
        if response.content_length().is_some_and(|n| n as usize > JWKS_MAX_BYTES) {
            return None;
        }
        let body = response.bytes().await.ok()?;
        if body.len() > JWKS_MAX_BYTES {
            return None;
        }
        let value: Value = serde_json::from_slice(&body).ok()?;
        if let Err(why) = check_client_jwks(&value) {
            tracing::warn!(why, "a client's jwks_uri holds no usable key set");
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// Checks the signature of a JWT the client signed, by its registered keys; the claims,
    /// unchecked beyond the signature, for the caller to judge. The header's `alg` must be one
    /// of [`CLIENT_SIGNING_ALGS`] and fit the key (its `kid`, if it names one).
    pub(crate) async fn verify_client_signed(&self, client: &Application, token: &str) -> Result<(Header, Value), Refusal> {
        if token.len() > 16 * 1024 {
            return Err("too long");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "not a signed JWT")?;
        if !allowed_alg(header.alg) {
            return Err("an algorithm clients may not sign with");
        }
        for fresh in [false, true] {
            let Some(set) = self.client_key_set(client, fresh).await else { return Err("the client's keys are not available") };
            let named = |k: &&Jwk| match &header.kid {
                Some(kid) => k.common.key_id.as_deref() == Some(kid.as_str()),
                None => true,
            };
            let candidates: Vec<&Jwk> = set.keys.iter().filter(named).filter(|k| fits(k, header.alg)).collect();
            if candidates.is_empty() {
                // A key the client added since the set was fetched: once more, fresh.
                if client.oauth.jwks_uri.is_some() && !fresh {
                    continue;
                }
                return Err("no key of the client fits");
            }
            let mut validation = Validation::new(header.alg);
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validation.required_spec_claims.clear();
            for jwk in candidates {
                let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
                if let Ok(data) = jsonwebtoken::decode::<Value>(token, &key, &validation) {
                    return Ok((header, data.claims));
                }
            }
            return Err("the signature does not verify");
        }
        Err("no key of the client fits")
    }

    /// Checks the HMAC of a JWT a `client_secret_jwt` client signed with its secret (HS256,
    /// HS384 or HS512); the claims, for the caller to judge.
    pub(crate) async fn verify_secret_signed(&self, client: &Application, token: &str) -> Result<Value, Refusal> {
        if token.len() > 16 * 1024 {
            return Err("too long");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "not a signed JWT")?;
        if !SECRET_SIGNING_ALGS.contains(&header.alg) {
            return Err("an algorithm client secrets do not sign with");
        }
        let secret = match self.applications().assertion_secret(client).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err("no secret is kept for the client: rotate it"),
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "a client secret cannot be opened");
                return Err("the client's secret is not available");
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(&secret), &validation)
            .map(|data| data.claims)
            .map_err(|_| "the signature does not verify")
    }
}

/// The algorithms of `client_secret_jwt` assertions.
const SECRET_SIGNING_ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
/// Their names, for discovery.
pub const SECRET_SIGNING_ALG_NAMES: [&str; 3] = ["HS256", "HS384", "HS512"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_registered_key_set_has_public_asymmetric_keys_only() {
        let ed = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"});
        assert_eq!(check_client_jwks(&json!({"keys": [ed.clone()]})), Ok(()));
        let mut private = ed.clone();
        private["d"] = json!("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
        assert!(check_client_jwks(&json!({"keys": [private]})).is_err_and(|e| e.contains("private")));
        assert!(check_client_jwks(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
        assert!(check_client_jwks(&json!({"keys": []})).is_err());
        assert!(check_client_jwks(&json!([ed])).is_err());
        assert!(check_client_jwks(&json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA"}]})).is_err());
    }

    #[test]
    fn only_asymmetric_algorithms_and_fitting_keys() -> Result<(), serde_json::Error> {
        assert!(allowed_alg(Algorithm::ES256) && allowed_alg(Algorithm::EdDSA) && allowed_alg(Algorithm::RS256));
        assert!(!allowed_alg(Algorithm::HS256));
        let ed: Jwk =
            serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}))?;
        assert!(fits(&ed, Algorithm::EdDSA));
        assert!(!fits(&ed, Algorithm::ES256));
        assert!(!fits(&ed, Algorithm::HS256));
        Ok(())
    }
}
