//! JWT signing and verification (jsonwebtoken on aws-lc-rs) and key generation.
//!
//! `exp`/`nbf` are checked here against the injected clock, not by the library against the
//! system time, so expiry is testable; everything else (alg allow-list, key family, signature,
//! `iss`, `aud`) is the library's.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::error::{CoreError, CoreResult};
use crate::model::KeyAlg;

/// A key ready to sign and verify.
#[derive(Clone)]
pub struct LoadedKey {
    pub kid: String,
    pub alg: KeyAlg,
    pub active: bool,
    signer: Signer,
    decoding: DecodingKey,
}

/// The private half, parsed once. The JWT library re-parses a DER key on every signature, which
/// for RSA costs more than the signature itself; asymmetric keys therefore sign here directly.
#[derive(Clone)]
enum Signer {
    Hmac(EncodingKey),
    Rsa(std::sync::Arc<aws_lc_rs::rsa::KeyPair>),
    Ecdsa(std::sync::Arc<EcdsaKeyPair>),
    Ed25519(std::sync::Arc<Ed25519KeyPair>),
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedKey({} {})", self.kid, self.alg.as_str())
    }
}

fn algorithm(alg: KeyAlg) -> Algorithm {
    match alg {
        KeyAlg::HS256 => Algorithm::HS256,
        KeyAlg::RS256 => Algorithm::RS256,
        KeyAlg::ES256 => Algorithm::ES256,
        KeyAlg::EdDSA => Algorithm::EdDSA,
    }
}

/// A new key: (private material — PKCS#8 DER or the HS256 secret —, public JWK).
pub fn generate(alg: KeyAlg, kid: &str) -> CoreResult<(Vec<u8>, Value)> {
    let rng = SystemRandom::new();
    let alg_name = alg.as_str();
    match alg {
        // 384 random bits written as base64url text, so that the secret is also a string: resource
        // servers configured with a text secret (a web framework's SECRET setting) can take it as it is.
        KeyAlg::HS256 => Ok((super::b64url(&super::random_bytes::<48>()).into_bytes(), json!({}))),
        KeyAlg::RS256 => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(CoreError::internal)?;
            let der: Pkcs8V1Der = kp.as_der().map_err(CoreError::internal)?;
            let public = kp.public_key();
            let n = super::b64url(public.modulus().big_endian_without_leading_zero());
            let e = super::b64url(public.exponent().big_endian_without_leading_zero());
            Ok((der.as_ref().to_vec(), json!({"kty": "RSA", "use": "sig", "alg": alg_name, "kid": kid, "n": n, "e": e})))
        }
        KeyAlg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(CoreError::internal)?;
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).map_err(CoreError::internal)?;
            let point = kp.public_key().as_ref();
            if point.len() != 65 {
                return Err(CoreError::Internal("unexpected P-256 point length".into()));
            }
            let (x, y) = (super::b64url(&point[1..33]), super::b64url(&point[33..65]));
            Ok((
                doc.as_ref().to_vec(),
                json!({"kty": "EC", "use": "sig", "alg": alg_name, "kid": kid, "crv": "P-256", "x": x, "y": y}),
            ))
        }
        KeyAlg::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(CoreError::internal)?;
            let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(CoreError::internal)?;
            let x = super::b64url(kp.public_key().as_ref());
            Ok((
                doc.as_ref().to_vec(),
                json!({"kty": "OKP", "use": "sig", "alg": alg_name, "kid": kid, "crv": "Ed25519", "x": x}),
            ))
        }
    }
}

/// Builds a signing/verifying key from stored material.
pub fn load(kid: &str, alg: KeyAlg, private: &[u8], jwk: &Value, active: bool) -> CoreResult<LoadedKey> {
    let field =
        |name: &str| jwk.get(name).and_then(Value::as_str).ok_or_else(|| CoreError::internal(format!("jwk lacks {name}")));
    use std::sync::Arc;
    let (signer, decoding) = match alg {
        KeyAlg::HS256 => (Signer::Hmac(EncodingKey::from_secret(private)), DecodingKey::from_secret(private)),
        KeyAlg::RS256 => (
            Signer::Rsa(Arc::new(aws_lc_rs::rsa::KeyPair::from_pkcs8(private).map_err(CoreError::internal)?)),
            DecodingKey::from_rsa_components(field("n")?, field("e")?).map_err(CoreError::internal)?,
        ),
        KeyAlg::ES256 => (
            Signer::Ecdsa(Arc::new(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private).map_err(CoreError::internal)?,
            )),
            DecodingKey::from_ec_components(field("x")?, field("y")?).map_err(CoreError::internal)?,
        ),
        KeyAlg::EdDSA => (
            Signer::Ed25519(Arc::new(Ed25519KeyPair::from_pkcs8(private).map_err(CoreError::internal)?)),
            DecodingKey::from_ed_components(field("x")?).map_err(CoreError::internal)?,
        ),
    };
    Ok(LoadedKey { kid: kid.to_string(), alg, active, signer, decoding })
}

/// Signs `claims` with `key`, `typ` and `kid` in the header.
pub fn sign(key: &LoadedKey, typ: &str, claims: &Value) -> CoreResult<String> {
    let mut header = Header::new(algorithm(key.alg));
    header.typ = Some(typ.to_string());
    header.kid = Some(key.kid.clone());
    if let Signer::Hmac(secret) = &key.signer {
        return jsonwebtoken::encode(&header, claims, secret).map_err(CoreError::internal);
    }
    let header = serde_json::to_vec(&header).map_err(CoreError::internal)?;
    let claims = serde_json::to_vec(claims).map_err(CoreError::internal)?;
    let signing_input = format!("{}.{}", super::b64url(&header), super::b64url(&claims));
    let message = signing_input.as_bytes();
    let rng = SystemRandom::new();
    let signature = match &key.signer {
        Signer::Rsa(kp) => {
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).map_err(CoreError::internal)?;
            sig
        }
        // The FIXED encoding is JWS's: r and s, 32 bytes each.
        Signer::Ecdsa(kp) => kp.sign(&rng, message).map_err(CoreError::internal)?.as_ref().to_vec(),
        Signer::Ed25519(kp) => kp.sign(message).as_ref().to_vec(),
        Signer::Hmac(_) => return Err(CoreError::Internal("unreachable: HMAC signs above".into())),
    };
    Ok(format!("{signing_input}.{}", super::b64url(&signature)))
}

/// What a verifier expects of a token.
pub struct Expectations<'a> {
    /// Algorithms acceptable at all; the key named by `kid` must be of the header's algorithm.
    pub algs: &'a [KeyAlg],
    pub typ: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: i64,
    pub leeway: i64,
}

/// Verifies `token` against `keys`. The header's `alg` must be allowed and equal to the algorithm
/// of the key its `kid` names (so an RS public key is never used as an HMAC secret); `jku`, `x5u`
/// and `jwk` headers are ignored, never fetched. Any failure is `Unauthorized`.
pub fn verify(keys: &[LoadedKey], token: &str, want: &Expectations<'_>) -> CoreResult<Value> {
    verify_naming_key(keys, token, want).map(|(_, claims)| claims)
}

/// As [`verify`], with the key that verified the signature.
pub fn verify_naming_key<'k>(keys: &'k [LoadedKey], token: &str, want: &Expectations<'_>) -> CoreResult<(&'k LoadedKey, Value)> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| CoreError::Unauthorized)?;
    if header.typ.as_deref() != Some(want.typ) {
        return Err(CoreError::Unauthorized);
    }
    let key = keys
        .iter()
        .filter(|k| want.algs.contains(&k.alg) && algorithm(k.alg) == header.alg)
        .find(|k| header.kid.as_deref() == Some(k.kid.as_str()))
        .ok_or(CoreError::Unauthorized)?;
    let mut validation = Validation::new(algorithm(key.alg));
    validation.validate_exp = false;
    validation.required_spec_claims = ["exp", "iss", "aud"].iter().map(|s| s.to_string()).collect();
    validation.set_issuer(&[want.issuer]);
    validation.set_audience(&[want.audience]);
    let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation).map_err(|_| CoreError::Unauthorized)?;
    check_times(&data.claims, want)?;
    Ok((key, data.claims))
}

/// Whether `claims` are within their `exp` and `nbf` at `want.now`, with `want.leeway`.
pub(crate) fn check_times(claims: &Value, want: &Expectations<'_>) -> CoreResult<()> {
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or(CoreError::Unauthorized)?;
    if exp + want.leeway <= want.now {
        return Err(CoreError::Unauthorized);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_i64().ok_or(CoreError::Unauthorized)?;
        if nbf - want.leeway > want.now {
            return Err(CoreError::Unauthorized);
        }
    }
    Ok(())
}

/// The claims of a token, NOT verified: only for choosing which tenant's keys and audience to
/// verify it against. Nothing read here may be trusted before `verify` succeeds.
pub fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    if payload.len() > 8192 {
        return None;
    }
    serde_json::from_slice(&super::b64url_decode(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(alg: KeyAlg, now: i64) -> Expectations<'static> {
        let algs: &'static [KeyAlg] = match alg {
            KeyAlg::HS256 => &[KeyAlg::HS256],
            KeyAlg::RS256 => &[KeyAlg::RS256],
            KeyAlg::ES256 => &[KeyAlg::ES256],
            KeyAlg::EdDSA => &[KeyAlg::EdDSA],
        };
        Expectations { algs, typ: "JWT", issuer: "iss", audience: "aud", now, leeway: 30 }
    }

    #[test]
    fn every_algorithm_signs_and_verifies() -> CoreResult<()> {
        for alg in [KeyAlg::HS256, KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA] {
            let (private, jwk) = generate(alg, "k1")?;
            let key = load("k1", alg, &private, &jwk, true)?;
            let token = sign(&key, "JWT", &json!({"sub": "u", "iss": "iss", "aud": "aud", "exp": 2000}))?;
            let claims = verify(std::slice::from_ref(&key), &token, &expect(alg, 1000))?;
            assert_eq!(claims["sub"], "u");
            assert!(verify(std::slice::from_ref(&key), &token, &expect(alg, 2100)).is_err(), "{alg:?} expired");
            let wrong_aud = Expectations { audience: "other", ..expect(alg, 1000) };
            assert!(verify(std::slice::from_ref(&key), &token, &wrong_aud).is_err());
            if alg != KeyAlg::HS256 {
                assert!(jwk.get("d").is_none());
            }
        }
        Ok(())
    }

    #[test]
    fn rsa_jwk_modulus_is_2048_bits() -> CoreResult<()> {
        let (_, jwk) = generate(KeyAlg::RS256, "k")?;
        let n = crate::crypto::b64url_decode(jwk["n"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(n.len() * 8, 2048);
        Ok(())
    }

    #[test]
    fn token_without_exp_or_with_future_nbf_is_refused() -> CoreResult<()> {
        let (private, jwk) = generate(KeyAlg::HS256, "k1")?;
        let key = load("k1", KeyAlg::HS256, &private, &jwk, true)?;
        let no_exp = sign(&key, "JWT", &json!({"iss": "iss", "aud": "aud"}))?;
        assert!(verify(std::slice::from_ref(&key), &no_exp, &expect(KeyAlg::HS256, 1000)).is_err());
        let nbf = sign(&key, "JWT", &json!({"iss": "iss", "aud": "aud", "exp": 5000, "nbf": 3000}))?;
        assert!(verify(std::slice::from_ref(&key), &nbf, &expect(KeyAlg::HS256, 1000)).is_err());
        Ok(())
    }

    #[test]
    fn the_key_decides_the_algorithm_not_the_header() -> CoreResult<()> {
        let (private, jwk) = generate(KeyAlg::RS256, "rs")?;
        let rs = load("rs", KeyAlg::RS256, &private, &jwk, true)?;
        let (secret, hs_jwk) = generate(KeyAlg::HS256, "hs")?;
        let hs = load("hs", KeyAlg::HS256, &secret, &hs_jwk, true)?;
        let claims = json!({"iss": "iss", "aud": "aud", "exp": 5000});
        let both = [rs.clone(), hs.clone()];
        let want = Expectations {
            algs: &[KeyAlg::RS256, KeyAlg::ES256],
            typ: "JWT",
            issuer: "iss",
            audience: "aud",
            now: 1000,
            leeway: 0,
        };
        assert!(verify(&both, &sign(&rs, "JWT", &claims)?, &want).is_ok());
        // An HS256 token is refused even though a key of that kid exists, because HS256 is not allowed.
        assert!(verify(&both, &sign(&hs, "JWT", &claims)?, &want).is_err());
        // An HS256 header naming the RSA key's kid (signed with anything) finds no key.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rs".into());
        header.typ = Some("JWT".into());
        let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(jwk.to_string().as_bytes()))
            .map_err(CoreError::internal)?;
        assert!(verify(&both, &confused, &want).is_err());
        Ok(())
    }

    #[test]
    fn peek_reads_claims_without_trusting_them() {
        let token = format!("e30.{}.sig", crate::crypto::b64url(br#"{"app":"T"}"#));
        assert_eq!(peek_claims(&token).and_then(|c| c["app"].as_str().map(str::to_string)).as_deref(), Some("T"));
        assert!(peek_claims("nodots").is_none());
        assert!(peek_claims("a.!!!.c").is_none());
    }
}
