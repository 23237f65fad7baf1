//! DPoP (RFC 9449): proofs checked at the token endpoint and UserInfo, tokens bound to the key,
//! a public client's refresh tokens too; replays, wrong methods and URLs, stale proofs, other
//! keys and bound tokens without their proof refused.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use castellan_core::clock::Clock as _;
use castellan_testkit::spawn_app;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

/// A client's DPoP key: it signs proofs that carry its public JWK.
struct DpopKey {
    encoding: EncodingKey,
    jwk: Value,
}

impl DpopKey {
    fn new() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        DpopKey { encoding: EncodingKey::from_ed_der(pkcs8.as_ref()), jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x}) }
    }

    /// The key's thumbprint, computed here from RFC 7638's rule.
    fn jkt(&self) -> String {
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, self.jwk["x"].as_str().unwrap());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A proof for `method` on `url`, with the nonce and, for a resource, the token's hash.
    fn proof(&self, app: &TestApp, method: &str, url: &str, nonce: Option<&str>, token: Option<&str>) -> String {
        let mut claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url, "iat": app.clock.now()});
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            claims["ath"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()));
        }
        self.sign(&claims)
    }
}

/// A token endpoint call with a DPoP proof: (status, body, the DPoP-Nonce header).
async fn token_with_proof(
    app: &TestApp,
    realm: &Realm,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: &str,
) -> (u16, Value, Option<String>) {
    let mut rb = app.client.post(app.url(&realm.endpoint("token"))).form(fields).header("dpop", proof);
    if let Some((id, secret)) = basic {
        rb = rb.basic_auth(id, Some(secret));
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let nonce = r.headers().get("dpop-nonce").map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), nonce)
}

fn url(app: &TestApp, realm: &Realm, endpoint: &str) -> String {
    format!("{}{}", app.address, realm.endpoint(endpoint))
}

/// The realm's DPoP nonce, as a client learns it: from the use_dpop_nonce refusal.
async fn nonce(app: &TestApp, realm: &Realm, key: &DpopKey) -> String {
    let proof = key.proof(app, "POST", &url(app, realm, "token"), None, None);
    let (s, e, nonce) =
        token_with_proof(app, realm, &[("grant_type", "client_credentials")], Some((&realm.svc, &realm.svc_secret)), &proof)
            .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("use_dpop_nonce")), "{e}");
    nonce.expect("a DPoP-Nonce header with the refusal")
}

async fn userinfo(app: &TestApp, realm: &Realm, authorization: &str, proof: Option<&str>) -> (u16, Value, String) {
    let mut rb = app.client.get(app.url(&realm.endpoint("userinfo"))).header("authorization", authorization);
    if let Some(p) = proof {
        rb = rb.header("dpop", p);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, r.json().await.unwrap_or(Value::Null), challenge)
}

#[tokio::test]
async fn client_credentials_with_a_proof_are_bound_to_the_key() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = DpopKey::new();
    let nonce = nonce(&app, &realm, &key).await;
    let proof = key.proof(&app, "POST", &url(&app, &realm, "token"), Some(&nonce), None);
    let cc = [("grant_type", "client_credentials")];
    let (s, t, next) = token_with_proof(&app, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &proof).await;
    assert_eq!(s, 200, "{t}");
    assert!(next.is_some(), "every answer to a proof carries the nonce");
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap();
    let claims = verify(&app, &realm, access, &realm.svc).await;
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
    let (_, i, _) =
        token_call(&app, &realm, "token/introspect", &[("token", access)], Some((&realm.svc, &realm.svc_secret))).await;
    assert_eq!((&i["active"], &i["token_type"], &i["cnf"]["jkt"]), (&json!(true), &json!("DPoP"), &json!(key.jkt())));
    // The same proof again: a replay.
    let (s, e, _) = token_with_proof(&app, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &proof).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_dpop_proof")), "{e}");
}

#[tokio::test]
async fn proofs_that_are_not_exactly_right_are_refused_at_the_token_endpoint() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = DpopKey::new();
    let nonce = nonce(&app, &realm, &key).await;
    let token_url = url(&app, &realm, "token");
    let now = app.clock.now();
    let good = json!({"htm": "POST", "htu": token_url, "iat": now, "nonce": nonce});
    let with = |name: &str, value: Value| {
        let mut c = good.clone();
        c["jti"] = json!(uuid::Uuid::new_v4().to_string());
        if value.is_null() {
            c.as_object_mut().unwrap().remove(name);
        } else {
            c[name] = value;
        }
        c
    };
    let other = DpopKey::new();
    let mut wrong_typ = Header::new(Algorithm::EdDSA);
    wrong_typ.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
    let mut without_jwk = Header::new(Algorithm::EdDSA);
    without_jwk.typ = Some("dpop+jwt".into());
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong htm", key.sign(&with("htm", json!("GET"))), "invalid_dpop_proof"),
        ("wrong htu", key.sign(&with("htu", json!(url(&app, &realm, "userinfo")))), "invalid_dpop_proof"),
        (
            "another realm's htu",
            key.sign(&with("htu", json!(format!("{}/realms/x/protocol/openid-connect/token", app.address)))),
            "invalid_dpop_proof",
        ),
        ("stale iat", key.sign(&with("iat", json!(now - 300))), "invalid_dpop_proof"),
        ("future iat", key.sign(&with("iat", json!(now + 300))), "invalid_dpop_proof"),
        ("no jti", key.sign(&with("jti", Value::Null)), "invalid_dpop_proof"),
        ("a stale nonce", key.sign(&with("nonce", json!("not-the-nonce"))), "use_dpop_nonce"),
        ("typ JWT", jsonwebtoken::encode(&wrong_typ, &with("x", json!(1)), &key.encoding).unwrap(), "invalid_dpop_proof"),
        ("no jwk", jsonwebtoken::encode(&without_jwk, &with("x", json!(1)), &key.encoding).unwrap(), "invalid_dpop_proof"),
        (
            "signed by another key than its jwk",
            {
                let mut h = Header::new(Algorithm::EdDSA);
                h.typ = Some("dpop+jwt".into());
                h.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
                jsonwebtoken::encode(&h, &with("x", json!(2)), &other.encoding).unwrap()
            },
            "invalid_dpop_proof",
        ),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "dpop+jwt", "jwk": key.jwk})), b64(&with("x", json!(3)))),
            "invalid_dpop_proof",
        ),
    ];
    let cc = [("grant_type", "client_credentials")];
    for (what, proof, error) in &cases {
        let (s, e, _) = token_with_proof(&app, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), proof).await;
        assert_eq!((s, e["error"].as_str()), (400, Some(*error)), "{what}: {e}");
    }
    // Two DPoP headers.
    let proof = key.sign(&with("x", json!(4)));
    let r = app
        .client
        .post(app.url(&realm.endpoint("token")))
        .form(&cc)
        .basic_auth(&realm.svc, Some(&realm.svc_secret))
        .header("dpop", &proof)
        .header("dpop", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // After all those, a good proof works (none of the refusals spent its jti).
    let (s, t, _) = token_with_proof(&app, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &proof).await;
    assert_eq!(s, 200, "{t}");
}

#[tokio::test]
async fn a_public_clients_tokens_and_refresh_tokens_are_bound_and_userinfo_wants_the_proof() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = DpopKey::new();
    let nonce = nonce(&app, &realm, &key).await;
    // The SPA's code flow (first party: no consent), with PKCE.
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&app);
    let params = [
        ("client_id", "spa"),
        ("redirect_uri", SPA_REDIRECT),
        ("scope", "openid profile"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let login = browser.get(&authorize_path(&realm, &params)).await;
    let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let code = back.sent_back("code").unwrap();
    let token_url = url(&app, &realm, "token");
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", SPA_REDIRECT),
        ("code_verifier", &verifier),
        ("client_id", "spa"),
    ];
    let (s, t, _) = token_with_proof(&app, &realm, &fields, None, &key.proof(&app, "POST", &token_url, Some(&nonce), None)).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();

    // UserInfo: the DPoP scheme, a proof of the same key for this request, with ath.
    let userinfo_url = url(&app, &realm, "userinfo");
    let proof = key.proof(&app, "GET", &userinfo_url, Some(&nonce), Some(&access));
    let (s, info, _) = userinfo(&app, &realm, &format!("DPoP {access}"), Some(&proof)).await;
    assert_eq!((s, info["sub"].as_str()), (200, Some(realm.user_id.as_str())), "{info}");
    let (s, e, challenge) = userinfo(&app, &realm, &format!("DPoP {access}"), Some(&proof)).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_dpop_proof")), "a replayed proof: {e}");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    let (s, e, _) = userinfo(&app, &realm, &format!("Bearer {access}"), None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_token")), "a bound token as a bearer token: {e}");
    let (s, e, _) = userinfo(&app, &realm, &format!("DPoP {access}"), None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_dpop_proof")), "no proof: {e}");
    let other = DpopKey::new();
    let foreign = other.proof(&app, "GET", &userinfo_url, Some(&nonce), Some(&access));
    let (s, e, _) = userinfo(&app, &realm, &format!("DPoP {access}"), Some(&foreign)).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_dpop_proof")), "another key: {e}");
    let no_ath = key.proof(&app, "GET", &userinfo_url, Some(&nonce), None);
    let (s, e, _) = userinfo(&app, &realm, &format!("DPoP {access}"), Some(&no_ath)).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_dpop_proof")), "no ath: {e}");
    let wrong_method = key.proof(&app, "POST", &userinfo_url, Some(&nonce), Some(&access));
    let (s, _, _) = userinfo(&app, &realm, &format!("DPoP {access}"), Some(&wrong_method)).await;
    assert_eq!(s, 401, "POST proof on a GET");
    let no_nonce = key.proof(&app, "GET", &userinfo_url, None, Some(&access));
    let r = app
        .client
        .get(app.url(&realm.endpoint("userinfo")))
        .header("authorization", format!("DPoP {access}"))
        .header("dpop", &no_nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("use_dpop_nonce"));
    assert!(r.headers().get("dpop-nonce").is_some());

    // The refresh token is bound too: no proof, or another key's, is refused and spends nothing.
    let fields = [("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", "spa")];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "no proof: {e}");
    let (s, e, _) =
        token_with_proof(&app, &realm, &fields, None, &other.proof(&app, "POST", &token_url, Some(&nonce), None)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "another key: {e}");
    let (s, r, _) = token_with_proof(&app, &realm, &fields, None, &key.proof(&app, "POST", &token_url, Some(&nonce), None)).await;
    assert_eq!(s, 200, "the key's own proof: {r}");
    assert_eq!(r["token_type"], "DPoP");
}

#[tokio::test]
async fn a_dpop_bound_client_must_send_proofs_and_a_proof_seen_on_one_node_is_refused_on_another() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let realm = realm(&a).await;
    let (s, _) = a
        .admin(
            reqwest::Method::PATCH,
            &format!("/tenants/{}/applications/{}", realm.slug, realm.svc),
            Some(json!({"dpop_bound": true})),
        )
        .await;
    assert_eq!(s, 200);
    let cc = [("grant_type", "client_credentials")];
    let (s, e, _) = token_call(&a, &realm, "token", &cc, Some((&realm.svc, &realm.svc_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_dpop_proof")), "{e}");
    let key = DpopKey::new();
    let nonce = nonce(&a, &realm, &key).await;
    // The nonce of one node is good on the other; the proof's jti is shared.
    let proof = key.proof(&a, "POST", &url(&a, &realm, "token"), Some(&nonce), None);
    let (s, t, _) = token_with_proof(&a, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &proof).await;
    assert_eq!(s, 200, "{t}");
    // B has an address of its own: a proof for B's URL with the jti A saw tells the replay cache
    // apart from the URL check.
    let replay = key.sign(
        &json!({"jti": "shared-jti", "htm": "POST", "htu": url(&b, &realm, "token"), "iat": b.clock.now(), "nonce": nonce}),
    );
    let first = key.sign(
        &json!({"jti": "shared-jti", "htm": "POST", "htu": url(&a, &realm, "token"), "iat": a.clock.now(), "nonce": nonce}),
    );
    let (s, t, _) = token_with_proof(&a, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &first).await;
    assert_eq!(s, 200, "{t}");
    let (s, e, _) = token_with_proof(&b, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &replay).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_dpop_proof")), "{e}");
    // The same proof with a jti of its own is good on B: the refusal was the replay.
    let fresh = key.proof(&b, "POST", &url(&b, &realm, "token"), Some(&nonce), None);
    let (s, t, _) = token_with_proof(&b, &realm, &cc, Some((&realm.svc, &realm.svc_secret)), &fresh).await;
    assert_eq!(s, 200, "{t}");
}
