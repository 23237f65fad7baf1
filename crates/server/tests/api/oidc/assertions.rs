//! `private_key_jwt` client authentication (RFC 7523): assertions signed by the client's keys,
//! given inline or at a `jwks_uri`, accepted once, for this server, for five minutes at most.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use castellan_core::clock::Clock as _;
use castellan_testkit::spawn_app;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An Ed25519 key of a client: what it signs with, and its public JWK.
pub struct ClientKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl ClientKey {
    pub fn new(kid: &str) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        ClientKey {
            kid: kid.to_string(),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}),
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(claims, "JWT")
    }

    pub fn sign_typed(&self, claims: &Value, typ: &str) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A service client that authenticates with `private_key_jwt`, its keys inline.
async fn signing_client(app: &TestApp, realm: &Realm, id: &str, key: &ClientKey) {
    create_client(
        app,
        &realm.slug,
        json!({"name": "Signer", "kind": "service", "client_id": id, "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [key.jwk]}}),
    )
    .await;
}

/// Good claims of an assertion of `client_id`, for the audience `aud_path` (on this server; the
/// issuer when empty).
fn claims(app: &TestApp, realm: &Realm, client_id: &str, aud_path: &str) -> Value {
    let now = app.clock.now();
    let aud = if aud_path.is_empty() { realm.base() } else { aud_path.to_string() };
    json!({"iss": client_id, "sub": client_id, "aud": format!("{}{aud}", app.address),
           "exp": now + 60, "iat": now, "jti": uuid::Uuid::new_v4().to_string()})
}

async fn with_assertion(app: &TestApp, realm: &Realm, endpoint: &str, assertion: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut fields = vec![("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)];
    fields.extend_from_slice(extra);
    let (s, v, _) = token_call(app, realm, endpoint, &fields, None).await;
    (s, v)
}

#[tokio::test]
async fn a_client_signs_in_with_its_key_once_per_assertion() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = ClientKey::new("k1");
    signing_client(&app, &realm, "signer", &key).await;
    let token_url = realm.endpoint("token");
    let cc = [("grant_type", "client_credentials"), ("scope", "profile")];

    let assertion = key.sign(&claims(&app, &realm, "signer", &token_url));
    let (s, t) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
    assert_eq!(s, 200, "{t}");
    let at = verify(&app, &realm, t["access_token"].as_str().unwrap(), "signer").await;
    assert_eq!(at["client_id"], "signer");
    // The same assertion again: a replay.
    let (s, e) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // The issuer as audience, and the client id in the form too.
    let assertion = key.sign(&claims(&app, &realm, "signer", ""));
    let (s, t) = with_assertion(&app, &realm, "token", &assertion, &[cc[0], ("client_id", "signer")]).await;
    assert_eq!(s, 200, "{t}");
    // At introspection, with that endpoint as audience.
    let access = t["access_token"].as_str().unwrap();
    let assertion = key.sign(&claims(&app, &realm, "signer", &realm.endpoint("token/introspect")));
    let (s, i) = with_assertion(&app, &realm, "token/introspect", &assertion, &[("token", access)]).await;
    assert_eq!((s, &i["active"]), (200, &json!(true)), "{i}");
    // Discovery says so.
    let doc = discovery(&app, &realm).await;
    assert!(doc["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert!(doc["token_endpoint_auth_signing_alg_values_supported"].as_array().unwrap().contains(&json!("EdDSA")));
}

#[tokio::test]
async fn assertions_that_are_not_exactly_right_are_refused() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = ClientKey::new("k1");
    signing_client(&app, &realm, "signer", &key).await;
    let token_url = realm.endpoint("token");
    let cc = [("grant_type", "client_credentials")];
    let good = claims(&app, &realm, "signer", &token_url);
    let now = app.clock.now();
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
    let foreign = ClientKey::new("k1");
    let cases: Vec<(&str, String)> = vec![
        ("another key under the same kid", foreign.sign(&with("jti", json!("x1")))),
        ("another audience", key.sign(&with("aud", json!("https://elsewhere.example/token")))),
        (
            "another realm's token endpoint",
            key.sign(&with("aud", json!(format!("{}/realms/other/protocol/openid-connect/token", app.address)))),
        ),
        ("expired", key.sign(&with("exp", json!(now - 60)))),
        ("exp ten minutes away", key.sign(&with("exp", json!(now + 600)))),
        ("no exp", key.sign(&with("exp", Value::Null))),
        ("no jti", key.sign(&with("jti", Value::Null))),
        ("iat in the future", key.sign(&with("iat", json!(now + 600)))),
        ("another sub", key.sign(&with("sub", json!("svc")))),
        ("another iss", key.sign(&with("iss", json!("svc")))),
        ("alg none", {
            let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&good))
        }),
        ("HS256 with the public key as secret", {
            let secret = key.jwk["x"].as_str().unwrap().as_bytes().to_vec();
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            jsonwebtoken::encode(&h, &with("jti", json!("x2")), &EncodingKey::from_secret(&secret)).unwrap()
        }),
        ("not a JWT", "not.a.jwt".into()),
    ];
    for (what, assertion) in &cases {
        let (s, e) = with_assertion(&app, &realm, "token", assertion, &cc).await;
        assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{what}: {e}");
        assert_eq!(e["error_description"], "client authentication failed", "{what}: one answer for every failure");
    }
    // The form's client id must be the assertion's.
    let assertion = key.sign(&with("jti", json!("x3")));
    let (s, e) = with_assertion(&app, &realm, "token", &assertion, &[cc[0], ("client_id", "svc")]).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // An assertion beside a secret: two methods at once.
    let (s, e) = with_assertion(&app, &realm, "token", &assertion, &[cc[0], ("client_secret", "x")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "{e}");
    // A client with a secret cannot use an assertion, nor the signer a secret.
    let (s, e, _) = token_call(&app, &realm, "token", &cc, Some(("signer", "anything"))).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // The good one still works: none of the refusals spent it.
    let (s, t) = with_assertion(&app, &realm, "token", &key.sign(&good), &cc).await;
    assert_eq!(s, 200, "{t}");
}

#[tokio::test]
async fn keys_are_fetched_from_the_clients_jwks_uri() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = ClientKey::new("uri-key");
    let set = json!({"keys": [key.jwk]});
    let router = axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(set) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://127.0.0.1:{}/jwks", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    create_client(
        &app,
        &realm.slug,
        json!({"name": "Fetched", "kind": "service", "client_id": "fetched", "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": jwks_uri}),
    )
    .await;
    let cc = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        let assertion = key.sign(&claims(&app, &realm, "fetched", &realm.endpoint("token")));
        let (s, t) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
        assert_eq!(s, 200, "{t}");
    }
    let stranger = ClientKey::new("other-key");
    let assertion = stranger.sign(&claims(&app, &realm, "fetched", &realm.endpoint("token")));
    let (s, e) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
}

#[tokio::test]
async fn an_assertion_seen_on_one_node_is_refused_on_another() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let realm = realm(&a).await;
    let key = ClientKey::new("k1");
    signing_client(&a, &realm, "signer", &key).await;
    let assertion = key.sign(&claims(&a, &realm, "signer", &realm.endpoint("token")));
    let cc = [("grant_type", "client_credentials")];
    let (s, t) = with_assertion(&a, &realm, "token", &assertion, &cc).await;
    assert_eq!(s, 200, "{t}");
    let (s, e) = with_assertion(&b, &realm, "token", &assertion, &cc).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
}

fn hmac_signed(secret: &str, alg: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn a_client_secret_jwt_client_signs_with_its_secret_once_per_assertion_and_by_no_other_method() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let created = create_client(
        &app,
        &realm.slug,
        json!({"name": "HMAC signer", "kind": "service", "client_id": "hs", "token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let cc = [("grant_type", "client_credentials")];
    let token_url = realm.endpoint("token");
    let good = claims(&app, &realm, "hs", &token_url);
    let assertion = hmac_signed(&secret, Algorithm::HS256, &good);
    let (s, t) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
    assert_eq!(s, 200, "{t}");
    let (s, e) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "a replay: {e}");
    // HS512 too; a wrong secret, another client's subject, a stale or misaddressed one: refused.
    let (s, t) =
        with_assertion(&app, &realm, "token", &hmac_signed(&secret, Algorithm::HS512, &claims(&app, &realm, "hs", "")), &cc)
            .await;
    assert_eq!(s, 200, "{t}");
    let mut stale = claims(&app, &realm, "hs", "");
    stale["exp"] = json!(app.clock.now() - 120);
    let mut far = claims(&app, &realm, "hs", "");
    far["aud"] = json!("https://elsewhere.example.com");
    let mut theirs = claims(&app, &realm, "hs", "");
    theirs["iss"] = json!("svc");
    for (why, assertion) in [
        ("wrong secret", hmac_signed("cas_secret_not-the-one", Algorithm::HS256, &claims(&app, &realm, "hs", ""))),
        ("expired", hmac_signed(&secret, Algorithm::HS256, &stale)),
        ("another audience", hmac_signed(&secret, Algorithm::HS256, &far)),
        ("iss is not the client", hmac_signed(&secret, Algorithm::HS256, &theirs)),
    ] {
        let (s, e) = with_assertion(&app, &realm, "token", &assertion, &cc).await;
        assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{why}: {e}");
    }
    // The registered method and no other: the secret itself is refused.
    let (s, e, _) = token_call(&app, &realm, "token", &cc, Some(("hs", &secret))).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // A private_key_jwt client cannot be reached with an HMAC of anything.
    let key = ClientKey::new("k1");
    signing_client(&app, &realm, "signer", &key).await;
    let forged = hmac_signed(key.jwk["x"].as_str().unwrap(), Algorithm::HS256, &claims(&app, &realm, "signer", ""));
    let (s, _) = with_assertion(&app, &realm, "token", &forged, &cc).await;
    assert_eq!(s, 401, "an HMAC keyed with a public key");
    let doc = discovery(&app, &realm).await;
    assert!(doc["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("client_secret_jwt")));
    assert!(doc["token_endpoint_auth_signing_alg_values_supported"].as_array().unwrap().contains(&json!("HS256")));
}

#[tokio::test]
async fn a_client_switched_to_client_secret_jwt_signs_once_its_secret_is_rotated() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let path = format!("/tenants/{}/applications/{}", realm.slug, realm.svc);
    let (s, b) = app.admin(reqwest::Method::PATCH, &path, Some(json!({"token_endpoint_auth_method": "client_secret_jwt"}))).await;
    assert_eq!(s, 200, "{b}");
    let cc = [("grant_type", "client_credentials")];
    // Only the HMAC of the old secret is kept: nothing to check an assertion with yet.
    let old = hmac_signed(&realm.svc_secret, Algorithm::HS256, &claims(&app, &realm, &realm.svc, ""));
    let (s, _) = with_assertion(&app, &realm, "token", &old, &cc).await;
    assert_eq!(s, 401);
    let (s, rotated) = app.admin(reqwest::Method::POST, &format!("{path}/secret"), None).await;
    assert_eq!(s, 200, "{rotated}");
    let secret = rotated["client_secret"].as_str().unwrap();
    let fresh = hmac_signed(secret, Algorithm::HS256, &claims(&app, &realm, &realm.svc, ""));
    let (s, t) = with_assertion(&app, &realm, "token", &fresh, &cc).await;
    assert_eq!(s, 200, "{t}");
    // Back to client_secret_basic with a new secret: the sealed copy is forgotten, the secret works.
    let (s, _) =
        app.admin(reqwest::Method::PATCH, &path, Some(json!({"token_endpoint_auth_method": "client_secret_basic"}))).await;
    assert_eq!(s, 200);
    let (_, rotated) = app.admin(reqwest::Method::POST, &format!("{path}/secret"), None).await;
    let (s, t, _) = token_call(&app, &realm, "token", &cc, Some((&realm.svc, rotated["client_secret"].as_str().unwrap()))).await;
    assert_eq!(s, 200, "{t}");
}
