//! Signing-key rotation: the previous key stops signing but verifies what it signed until it is
//! retired (the tenant's access-token lifetime plus the leeway after rotation), then nothing of
//! it verifies and it leaves the JWKS.

use castellan_core::CoreError;
use castellan_core::model::{KeyAlg, KeyState, SigningKey};
use castellan_core::services::keys::TokenRules;
use serde_json::{Value, json};

use crate::harness::{LEEWAY, World};

const AUDIENCE: &str = "svc-tests";
const RULES: TokenRules<'static> =
    TokenRules { algs: &[KeyAlg::ES256], typ: "JWT", audience: AUDIENCE, issuer: None, expired_ok: false };

/// A token that lives far longer than any key's retirement, so only the key can make it fail.
async fn long_lived_token(w: &World) -> String {
    let now = w.now();
    let claims = json!({"iss": w.tenant.issuer, "aud": AUDIENCE, "sub": "svc", "iat": now, "exp": now + 365 * 86400});
    w.core.signing_keys().sign_token(&w.tenant, &[KeyAlg::ES256], "JWT", &claims).await.unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&castellan_core::crypto::b64url_decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn verifies(w: &World, token: &str) -> bool {
    match w.core.signing_keys().verify_token(&w.tenant, token, RULES).await {
        Ok(claims) => claims["sub"] == "svc",
        Err(CoreError::Unauthorized) => false,
        Err(e) => panic!("verification failed: {e:?}"),
    }
}

async fn state_of(w: &World, key: &SigningKey) -> KeyState {
    let keys = w.core.signing_keys().list_keys(&w.tenant).await.unwrap();
    keys.iter().find(|k| k.kid == key.kid).map(|k| k.state).unwrap()
}

async fn published(w: &World) -> Vec<String> {
    let doc: Value = serde_json::from_str(&w.core.signing_keys().jwks(Some(&w.tenant)).await.unwrap()).unwrap();
    doc["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_rotated_key_verifies_its_tokens_until_it_is_retired_and_none_after() {
    let w = World::new().await;
    let old = w.core.signing_keys().rotate_key(&w.tenant, KeyAlg::ES256).await.unwrap();
    let old_token = long_lived_token(&w).await;
    assert_eq!(kid_of(&old_token), old.kid);
    assert!(verifies(&w, &old_token).await);

    let new = w.core.signing_keys().rotate_key(&w.tenant, KeyAlg::ES256).await.unwrap();
    let new_token = long_lived_token(&w).await;
    assert_eq!(kid_of(&new_token), new.kid, "only the new key signs");
    assert_eq!(state_of(&w, &old).await, KeyState::Retiring);
    assert!(verifies(&w, &old_token).await, "a retiring key still verifies");
    assert!(verifies(&w, &new_token).await);
    let mut both = vec![old.kid.clone(), new.kid.clone()];
    both.sort();
    let mut jwks = published(&w).await;
    jwks.sort();
    assert_eq!(jwks, both, "and is still published");

    // Retired once every access token it could have signed has expired.
    let retirement = w.tenant.policy.tokens.access_ttl_seconds + LEEWAY;
    w.clock.advance(retirement - 1);
    assert!(verifies(&w, &old_token).await, "one second before retirement");
    w.clock.advance(1);
    assert!(!verifies(&w, &old_token).await, "a retired key's token is refused, however long it had to live");
    assert!(verifies(&w, &new_token).await);
    assert_eq!(state_of(&w, &old).await, KeyState::Retired);
    assert_eq!(published(&w).await, vec![new.kid.clone()]);
}

#[tokio::test]
async fn rotating_one_family_leaves_the_other_signing() {
    let w = World::new().await;
    let hs = w.core.signing_keys().list_keys(&w.tenant).await.unwrap();
    let hs = hs.iter().find(|k| k.alg == KeyAlg::HS256 && k.state == KeyState::Active).expect("a tenant starts with HS256");
    w.core.signing_keys().rotate_key(&w.tenant, KeyAlg::ES256).await.unwrap();
    w.core.signing_keys().rotate_key(&w.tenant, KeyAlg::EdDSA).await.unwrap();
    let keys = w.core.signing_keys().list_keys(&w.tenant).await.unwrap();
    let active: Vec<KeyAlg> = keys.iter().filter(|k| k.state == KeyState::Active).map(|k| k.alg).collect();
    assert_eq!(active.len(), 2, "one HS256 and one asymmetric key sign: {keys:?}");
    assert!(active.contains(&KeyAlg::HS256) && active.contains(&KeyAlg::EdDSA));
    assert_eq!(state_of(&w, hs).await, KeyState::Active, "the HS256 secret did not retire");
}
