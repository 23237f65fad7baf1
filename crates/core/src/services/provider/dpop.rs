//! DPoP (RFC 9449): proofs of possession of a client's key, checked at the token endpoint and
//! at UserInfo; the tokens they obtain are bound to the key's thumbprint (`cnf.jkt`).

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

use super::Provider;
use super::client_keys::{allowed_alg, fits};
use crate::model::Tenant;

/// How far a proof's `iat` may be from the server's clock (seconds).
pub const PROOF_WINDOW: i64 = 60;
/// A server nonce is good for this long, and for one period more (seconds).
const NONCE_PERIOD: i64 = 300;
const NONCE_DOMAIN: &str = "dpop-nonce";
const JTI_DOMAIN: &str = "dpop-jti";
/// Members of a JWK that only a private key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// The proof lacks the current server nonce: `use_dpop_nonce`, with a new one.
    UseNonce,
    /// `invalid_dpop_proof` (at UserInfo, `invalid_token`), and why.
    Invalid(&'static str),
}

/// What a request presents: its `DPoP` header, if any, and where it was sent.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    pub proof: Option<&'a str>,
    pub method: &'a str,
}

/// The JWK thumbprint (RFC 7638) of a public key, base64url: the required members in
/// lexicographic order, no spaces.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match text("kty")? {
        "EC" => json!({"crv": text("crv")?, "kty": "EC", "x": text("x")?, "y": text("y")?}),
        "OKP" => json!({"crv": text("crv")?, "kty": "OKP", "x": text("x")?}),
        "RSA" => json!({"e": text("e")?, "kty": "RSA", "n": text("n")?}),
        _ => return None,
    };
    // serde_json keeps object keys sorted (no preserve_order), and writes no spaces.
    Some(crate::crypto::b64url(&crate::crypto::sha256(canonical.to_string().as_bytes())))
}

/// The header of a JWT as JSON, unverified.
fn raw_header(token: &str) -> Option<Value> {
    let part = token.split('.').next()?;
    if part.len() > 4096 {
        return None;
    }
    serde_json::from_slice(&crate::crypto::b64url_decode(part)?).ok()
}

/// `url` without query and fragment (RFC 9449 §4.3: `htu` is compared so).
fn without_query(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

impl Provider<'_> {
    /// The realm's current DPoP nonce: a MAC of the period, so every node makes the same one
    /// without storing it.
    pub fn dpop_nonce(&self, tenant: &Tenant) -> String {
        self.nonce_of(tenant, self.now().div_euclid(NONCE_PERIOD))
    }

    fn nonce_of(&self, tenant: &Tenant, period: i64) -> String {
        crate::crypto::b64url(&self.master.mac(NONCE_DOMAIN, format!("{}|{period}", tenant.id).as_bytes()))
    }

    fn nonce_fresh(&self, tenant: &Tenant, nonce: &str) -> bool {
        let period = self.now().div_euclid(NONCE_PERIOD);
        [period, period - 1].iter().any(|p| crate::crypto::ct_eq(self.nonce_of(tenant, *p).as_bytes(), nonce.as_bytes()))
    }

    /// Checks a DPoP proof sent with `method` to `url` (of this server), with `ath` when it
    /// accompanies `access_token`: the key's thumbprint, or why not. A proof's `jti` is
    /// remembered (by every node) for as long as its `iat` is acceptable.
    pub async fn check_dpop_proof(
        &self,
        tenant: &Tenant,
        proof: &str,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, DpopRefusal> {
        use DpopRefusal::Invalid;
        if proof.len() > 8 * 1024 {
            return Err(Invalid("the proof is too long"));
        }
        let raw = raw_header(proof).ok_or(Invalid("the proof is not a JWT"))?;
        let header = jsonwebtoken::decode_header(proof).map_err(|_| Invalid("the proof is not a signed JWT"))?;
        if header.typ.as_deref() != Some("dpop+jwt") {
            return Err(Invalid("typ must be dpop+jwt"));
        }
        if !allowed_alg(header.alg) {
            return Err(Invalid("an algorithm proofs may not use"));
        }
        let raw_jwk = raw.get("jwk").filter(|j| j.is_object()).ok_or(Invalid("the header has no jwk"))?;
        if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.get(*m).is_some()) {
            return Err(Invalid("the jwk is a private key"));
        }
        let jwk: Jwk = serde_json::from_value(raw_jwk.clone()).map_err(|_| Invalid("the jwk cannot be read"))?;
        if !fits(&jwk, header.alg) {
            return Err(Invalid("the jwk does not fit the algorithm"));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| Invalid("the jwk cannot be used"))?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
            .map_err(|_| Invalid("the proof's signature does not verify"))?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("htm") != Some(method) {
            return Err(Invalid("htm is not the request's method"));
        }
        if text("htu").and_then(without_query).as_deref() != without_query(url).as_deref() {
            return Err(Invalid("htu is not the request's URL"));
        }
        let now = self.now();
        let Some(iat) = claims.get("iat").and_then(Value::as_i64) else { return Err(Invalid("iat is missing")) };
        if (now - iat).abs() > PROOF_WINDOW {
            return Err(Invalid("iat is too far from now"));
        }
        if let Some(token) = access_token {
            let ath = crate::crypto::b64url(&crate::crypto::sha256(token.as_bytes()));
            if !text("ath").is_some_and(|a| crate::crypto::ct_eq(a.as_bytes(), ath.as_bytes())) {
                return Err(Invalid("ath is not the access token's hash"));
            }
        }
        if !text("nonce").is_some_and(|n| self.nonce_fresh(tenant, n)) {
            return Err(DpopRefusal::UseNonce);
        }
        let jkt = thumbprint(raw_jwk).ok_or(Invalid("the jwk has no thumbprint"))?;
        let Some(jti) = text("jti").filter(|j| !j.is_empty() && j.len() <= 200) else { return Err(Invalid("jti is missing")) };
        let seen = self.master.mac(JTI_DOMAIN, format!("{jkt}\0{jti}").as_bytes());
        match self.store.first_sight_of_jti(tenant.id, &seen, iat + PROOF_WINDOW + 1, now).await {
            Ok(true) => Ok(jkt),
            Ok(false) => Err(Invalid("the proof was used before")),
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "the seen-jti table cannot be written");
                Err(Invalid("the replay check failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "x"})), None);
    }

    #[test]
    fn htu_is_compared_without_query_and_fragment() {
        assert_eq!(without_query("https://a.example/t?x=1#f").as_deref(), Some("https://a.example/t"));
        assert_ne!(without_query("https://a.example/t"), without_query("https://a.example/u"));
    }
}
