//! docs/security.md rows 15–19 (one-time codes) and 26–37 (JWT and JWKS) against the
//! kumusoft dialect, one test per row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use castellan_core::services::keys::ASYMMETRIC;
use castellan_testkit::{HttpSink, TestApp, TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::kumusoft::verify_with_jwks;

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn forge(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

async fn refused(app: &TestApp, token: &str) {
    let (s, b) = kumu(app, Method::GET, "/me", Some(token), None).await;
    assert_kumu(s, &b, 401, "08");
}

async fn accepted(app: &TestApp, token: &str) {
    let (s, b) = kumu(app, Method::GET, "/me", Some(token), None).await;
    assert_kumu(s, &b, 200, "00");
}

/// A token signed with the tenant's real active key, with whatever claims the test needs.
async fn signed(app: &TestApp, slug: &str, claims: Value) -> String {
    let tenant = app.core.tenants().find_tenant(slug).await.unwrap();
    app.core.signing_keys().sign_token(&tenant, ASYMMETRIC, "JWT", &claims).await.unwrap()
}

async fn verify(app: &TestApp, user: &str, otp: &str, challenge: &str) -> (u16, Value) {
    kumu(app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": otp, "challengeId": challenge}))).await
}

#[tokio::test]
async fn row15_the_right_code_after_its_ttl_is_refused() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    app.clock.advance(299);
    let (c2, u2, code2) = kumu_challenge(&app, &tag).await;
    app.clock.advance(2);
    let (s, b) = verify(&app, &user, &code, &challenge).await;
    assert_kumu(s, &b, 401, "04");
    let (s, b) = verify(&app, &u2, &code2, &c2).await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn row16_a_code_works_once_even_when_sent_concurrently() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    let (s, b) = verify(&app, &user, &code, &challenge).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = verify(&app, &user, &code, &challenge).await;
    assert_kumu(s, &b, 401, "04");

    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    let results = join_all((0..50).map(|_| verify(&app, &user, &code, &challenge)).collect()).await;
    let wins = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results.iter().all(|(s, b)| *s == 200 || b["status"]["returnCode"] == "04"), "{results:?}");
}

#[tokio::test]
async fn row17_a_code_only_opens_its_own_challenge_user_and_tenant() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    // Two users of one tenant, each with a pending challenge.
    let body = json!({"email": "other@example.com", "password": KUMU_PASSWORD, "email_verified": true});
    let (s, other) = app.admin(Method::POST, &format!("/tenants/{slug}/users"), Some(body)).await;
    assert_eq!(s, 201, "{other}");
    let (ca, ua, code_a) = kumu_challenge(&app, &tag).await;
    let (s, b) = kumu_login(&app, "other@example.com", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    let cb = b["data"]["challengeId"].as_str().unwrap().to_string();
    let ub = b["data"]["userId"].as_str().unwrap().to_string();
    let code_b = code_in(outbox_message(&app, "other@example.com", 1).await["body"].as_str().unwrap());
    // A's code on B's challenge; A's user id on B's challenge; B's id on A's challenge.
    let (s, b) = verify(&app, &ub, &code_a, &cb).await;
    assert!(s == 401 && (b["status"]["returnCode"] == "03" || code_a == code_b), "{b}");
    let (s, b) = verify(&app, &ua, &code_b, &cb).await;
    assert_kumu(s, &b, 401, "04");
    let (s, b) = verify(&app, &ub, &code_a, &ca).await;
    assert_kumu(s, &b, 401, "04");
    // Another tenant's user cannot use this tenant's challenge either.
    let (_, tag2, _) = kumu_tenant(&app).await;
    let (_, u2, _) = kumu_challenge(&app, &tag2).await;
    let (s, b) = verify(&app, &u2, &code_a, &ca).await;
    assert_kumu(s, &b, 401, "04");
    // The rightful owners still get in.
    let (s, b) = verify(&app, &ua, &code_a, &ca).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = verify(&app, &ub, &code_b, &cb).await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn row18_five_wrong_codes_kill_the_challenge_and_resend_is_limited_and_voids_the_old_code() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        verify(&app, &user, wrong, &challenge).await;
    }
    let (s, b) = verify(&app, &user, &code, &challenge).await;
    assert_kumu(s, &b, 429, "05");

    let (challenge, user, old) = kumu_challenge(&app, &tag).await;
    let resend = json!({"userId": user, "challengeId": challenge});
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(resend.clone())).await;
    assert_kumu(s, &b, 429, "05");
    app.clock.advance(30);
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(resend)).await;
    assert_kumu(s, &b, 200, "00");
    let new = code_in(outbox_message(&app, "user_8742@example.com", 3).await["body"].as_str().unwrap());
    if new != old {
        let (s, b) = verify(&app, &user, &old, &challenge).await;
        assert_kumu(s, &b, 401, "03");
    }
    let (s, b) = verify(&app, &user, &new, &challenge).await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn row19_a_thousand_codes_are_six_digits_spread_evenly() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let (_, mut policy) = app.admin(Method::GET, &format!("/tenants/{slug}/policy"), None).await;
    policy["otp"]["resend_cooldown_seconds"] = json!(0);
    policy["otp"]["max_sends"] = json!(50);
    let (s, b) = app.admin(Method::PUT, &format!("/tenants/{slug}/policy"), Some(policy)).await;
    assert_eq!(s, 200, "{b}");
    let mut sent = 0;
    while sent < 1000 {
        let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
        assert_kumu(s, &b, 200, "00");
        sent += 1;
        let body = json!({"userId": b["data"]["userId"], "challengeId": b["data"]["challengeId"]});
        for _ in 0..49 {
            let (s, r) = kumu(&app, Method::POST, "/otp/resend", None, Some(body.clone())).await;
            assert_kumu(s, &r, 200, "00");
            sent += 1;
        }
    }
    let mut messages = Vec::new();
    for _ in 0..200 {
        let (_, list) = app.admin(Method::GET, "/outbox?to=user_8742@example.com&limit=1000", None).await;
        messages = list.as_array().unwrap().clone();
        if messages.len() >= 1000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(messages.len(), 1000);
    let mut counts = [[0u32; 10]; 6];
    for m in &messages {
        let code = code_in(m["body"].as_str().unwrap());
        assert_eq!(code.len(), 6);
        for (pos, c) in code.bytes().enumerate() {
            counts[pos][(c - b'0') as usize] += 1;
        }
    }
    // Each digit at each position: expected 100 of 1,000; 55..150 is beyond 4.5 sigma either way.
    for (pos, row) in counts.iter().enumerate() {
        assert!(row.iter().all(|&n| (55..150).contains(&n)), "position {pos}: {row:?}");
    }
}

#[tokio::test]
async fn row26_alg_none_and_an_empty_signature_are_refused() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    accepted(&app, &access).await;
    let claims = part(&access, 1);
    let mut header = part(&access, 0);
    refused(&app, &forge(&header, &claims, b"")).await;
    for none in ["none", "None", "NONE"] {
        header["alg"] = json!(none);
        refused(&app, &forge(&header, &claims, b"")).await;
        refused(&app, &format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string())))
            .await;
    }
}

#[tokio::test]
async fn row27_hs256_signed_with_the_rs_public_key_is_refused() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (_, set) = castellan_testkit::send(app.request(Method::GET, &format!("/t/{slug}/.well-known/jwks.json"))).await;
    let jwk = set["keys"][0].clone();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let pem = public_key_pem(&n, &e);
    let mut header = part(&access, 0);
    header["alg"] = json!("HS256");
    let claims = part(&access, 1);
    for secret in [pem.as_bytes().to_vec(), jwk.to_string().into_bytes(), pkcs1_der(&n, &e)] {
        let token = jsonwebtoken::encode(
            &serde_json::from_value(header.clone()).unwrap(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        refused(&app, &token).await;
    }
}

/// DER of an RSAPublicKey (PKCS#1) and its PEM in SubjectPublicKeyInfo form: the bytes an attacker
/// would feed a confused verifier.
fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = v.to_vec();
        if body.first().is_some_and(|b| b & 0x80 != 0) {
            body.insert(0, 0);
        }
        tlv(0x02, &body)
    }
    let mut seq = int(n);
    seq.extend(int(e));
    tlv(0x30, &seq)
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend(&bytes[skip..]);
    }
    out.extend(body);
    out
}

pub(crate) fn public_key_pem(n: &[u8], e: &[u8]) -> String {
    let rsa_oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bitstring = vec![0u8];
    bitstring.extend(pkcs1_der(n, e));
    let mut spki = tlv(0x30, &rsa_oid);
    spki.extend(tlv(0x03, &bitstring));
    let der = tlv(0x30, &spki);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

#[tokio::test]
async fn row28_a_token_of_another_dialect_or_tenant_is_refused() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let kumu_access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (kora, _) = kora_tenant(&app).await;
    let (kora_access, _) = tokens(&app, &kora).await;
    refused(&app, &kora_access).await;
    let (s, b) = app.kora(Method::GET, "/api/v1/auth/sessions", &kora, Some(&kumu_access), None).await;
    assert_error(s, &b, 401, "UNAUTHORIZED");
    // A kumusoft token of tenant A, relabelled with tenant B's tag, fails B's keys.
    let (_, tag_b, _) = kumu_tenant(&app).await;
    let mut claims = part(&kumu_access, 1);
    claims["tagId"] = json!(tag_b);
    claims["aud"] = json!(format!("kumusoft:{tag_b}"));
    let sig = URL_SAFE_NO_PAD.decode(kumu_access.split('.').nth(2).unwrap()).unwrap();
    refused(&app, &forge(&part(&kumu_access, 0), &claims, &sig)).await;
}

#[tokio::test]
async fn row29_an_edited_payload_with_the_old_signature_is_refused() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let mut claims = part(&access, 1);
    claims["name"] = json!("Mallory");
    let sig = URL_SAFE_NO_PAD.decode(access.split('.').nth(2).unwrap()).unwrap();
    refused(&app, &forge(&part(&access, 0), &claims, &sig)).await;
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    refused(&app, &forge(&part(&access, 0), &part(&access, 1), &flipped)).await;
}

#[tokio::test]
async fn row30_no_exp_expired_and_future_nbf_are_refused() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let good = part(&access, 1);
    // A faithful re-signing is accepted, so each forgery below fails for its one defect.
    accepted(&app, &signed(&app, &slug, good.clone()).await).await;
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(&app, &signed(&app, &slug, no_exp).await).await;
    let now = good["iat"].as_i64().unwrap();
    let mut expired = good.clone();
    expired["exp"] = json!(now - 31);
    refused(&app, &signed(&app, &slug, expired).await).await;
    let mut future = good.clone();
    future["nbf"] = json!(now + 120);
    refused(&app, &signed(&app, &slug, future).await).await;
    // The leeway is 30 s: expired 29 s ago still passes.
    let mut within = good.clone();
    within["exp"] = json!(now - 29);
    accepted(&app, &signed(&app, &slug, within).await).await;
}

#[tokio::test]
async fn row31_wrong_issuer_or_audience_and_app_a_token_at_app_b_are_refused() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    kumu_app(&app, &slug, "SECOND_APP_OF_TENANT").await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let good = part(&access, 1);
    let mut bad_iss = good.clone();
    bad_iss["iss"] = json!("https://evil.example");
    refused(&app, &signed(&app, &slug, bad_iss).await).await;
    let mut other_aud = good.clone();
    other_aud["aud"] = json!("kumusoft:SECOND_APP_OF_TENANT");
    refused(&app, &signed(&app, &slug, other_aud).await).await;
    // A relying party of the second application refuses the first one's token.
    let jwks = app.url("/.well-known/jwks.json");
    assert!(verify_with_jwks(&jwks, &access, &app.address, &format!("kumusoft:{tag}")).await.is_ok());
    assert!(verify_with_jwks(&jwks, &access, &app.address, "kumusoft:SECOND_APP_OF_TENANT").await.is_err());
    assert!(verify_with_jwks(&jwks, &access, "https://evil.example", &format!("kumusoft:{tag}")).await.is_err());
}

#[tokio::test]
async fn row32_a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let t = kumu_tokens(&app, &tag).await;
    refused(&app, t["refreshToken"].as_str().unwrap()).await;
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": t["accessToken"]}))).await;
    assert_kumu(s, &b, 401, "07");
}

#[tokio::test]
async fn row33_odd_kids_are_refused_without_a_500() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let sig = URL_SAFE_NO_PAD.decode(access.split('.').nth(2).unwrap()).unwrap();
    for kid in [
        json!("../../dev/null"),
        json!("' OR 1=1--"),
        json!("unknown"),
        json!(""),
        json!(42),
        json!(null),
        json!("x".repeat(5000)),
    ] {
        let mut header = part(&access, 0);
        header["kid"] = kid;
        refused(&app, &forge(&header, &part(&access, 1), &sig)).await;
    }
    for junk in ["a.b.c", "....", "e30.e30.", &"A".repeat(9000)] {
        refused(&app, junk).await;
    }
}

#[tokio::test]
async fn row34_jku_x5u_and_jwk_headers_are_never_followed() {
    let attacker = HttpSink::start(200, r#"{"keys": []}"#).await;
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let sig = URL_SAFE_NO_PAD.decode(access.split('.').nth(2).unwrap()).unwrap();
    let mut claims = part(&access, 1);
    claims["name"] = json!("Mallory");
    for (name, value) in [
        ("jku", json!(format!("{}/jwks.json", attacker.url))),
        ("x5u", json!(format!("{}/cert.pem", attacker.url))),
        ("jwk", json!({"kty": "oct", "k": "c2VjcmV0"})),
    ] {
        let mut header = part(&access, 0);
        header[name] = value.clone();
        refused(&app, &forge(&header, &claims, &sig)).await;
        header["kid"] = json!("attacker-key");
        refused(&app, &forge(&header, &claims, &sig)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(attacker.requests().len(), 0, "the server fetched an attacker URL");
}

#[tokio::test]
async fn row35_the_jwks_holds_public_rsa_keys_of_2048_bits_that_an_outside_library_uses() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (_, set) = castellan_testkit::send(app.request(Method::GET, &format!("/t/{slug}/.well-known/jwks.json"))).await;
    let keys = set["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for k in keys {
        for f in ["kty", "use", "alg", "kid", "n", "e"] {
            assert!(k[f].is_string(), "{f} missing: {k}");
        }
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "private part {private} published: {k}");
        }
        let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
        assert!(n.len() * 8 >= 2048, "{} bits", n.len() * 8);
    }
    verify_with_jwks(&app.url("/.well-known/jwks.json"), &access, &app.address, &format!("kumusoft:{tag}")).await.unwrap();
}

#[tokio::test]
async fn row36_rotation_new_kid_signs_old_tokens_live_until_expiry_then_the_old_kid_leaves() {
    // No node cache, so the JWKS reflects the fake clock at once.
    let app = spawn_app_with(TestOptions { settings: Some(Box::new(|s| s.cache_ttl_seconds = 0)), ..Default::default() }).await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let old = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let old_kid = part(&old, 0)["kid"].as_str().unwrap().to_string();
    let (s, k) = app.admin(Method::POST, &format!("/tenants/{slug}/keys/rotate"), Some(json!({"alg": "RS256"}))).await;
    assert!(s == 200 || s == 201, "{k}");
    let new = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let new_kid = part(&new, 0)["kid"].as_str().unwrap().to_string();
    assert_ne!(old_kid, new_kid);
    assert_eq!(k["kid"], json!(new_kid));
    accepted(&app, &old).await;
    let kids =
        |set: Value| set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let jwks = format!("/t/{slug}/.well-known/jwks.json");
    let (_, set) = castellan_testkit::send(app.request(Method::GET, &jwks)).await;
    assert!(kids(set.clone()).contains(&old_kid) && kids(set).contains(&new_kid));
    let (_, listed) = app.admin(Method::GET, &format!("/tenants/{slug}/keys"), None).await;
    assert!(listed.as_array().unwrap().iter().any(|k| k["kid"] == json!(old_kid) && k["state"] == "retiring"), "{listed}");

    app.clock.advance(3600 + 31);
    refused(&app, &old).await;
    let (_, set) = castellan_testkit::send(app.request(Method::GET, &jwks)).await;
    assert!(!kids(set.clone()).contains(&old_kid), "the retired key is still published");
    assert!(kids(set).contains(&new_kid));
    let (_, listed) = app.admin(Method::GET, &format!("/tenants/{slug}/keys"), None).await;
    assert!(listed.as_array().unwrap().iter().any(|k| k["kid"] == json!(old_kid) && k["state"] == "retired"), "{listed}");
}

#[tokio::test]
async fn row37_after_logout_or_an_admin_revocation_the_same_access_token_fails() {
    let app = spawn_app().await;
    let (slug, tag, user) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (s, b) = kumu(&app, Method::POST, "/logout", Some(&access), None).await;
    assert_kumu(s, &b, 200, "00");
    refused(&app, &access).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (s, _) = app.admin(Method::DELETE, &format!("/tenants/{slug}/users/{user}/sessions"), None).await;
    assert!(s < 300);
    refused(&app, &access).await;
    // Deactivating the user ends their sessions too.
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    let (s, b) = app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200, "{b}");
    refused(&app, &access).await;
}
