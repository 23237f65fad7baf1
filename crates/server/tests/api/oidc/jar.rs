//! Signed request objects (RFC 9101): the parameters inside, signed by a key the client
//! registered, are the request; anything unsigned, foreign, stale or for another server is
//! refused.

use castellan_core::clock::Clock as _;
use castellan_testkit::spawn_app;
use serde_json::{Value, json};

use super::assertions::ClientKey;
use super::*;

const JAR_TYP: &str = "oauth-authz-req+jwt";

/// A confidential client with a secret for the token endpoint and a key for its request objects.
async fn signing_web_client(app: &TestApp, realm: &Realm, key: &ClientKey) -> String {
    let created = create_client(
        app,
        &realm.slug,
        json!({"name": "Signed Web", "kind": "confidential", "client_id": "signed", "first_party": true,
               "redirect_uris": [WEB_REDIRECT], "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    created["client_secret"].as_str().unwrap().to_string()
}

/// The claims of a good request object and its PKCE verifier.
fn object(app: &TestApp, realm: &Realm) -> (Value, String) {
    let (verifier, challenge) = pkce();
    let claims = json!({
        "iss": "signed", "aud": format!("{}{}", app.address, realm.base()), "client_id": "signed",
        "exp": app.clock.now() + 300, "response_type": "code", "redirect_uri": WEB_REDIRECT,
        "scope": "openid email", "state": "inside", "nonce": "n-inside", "max_age": 3600,
        "code_challenge": challenge, "code_challenge_method": "S256",
    });
    (claims, verifier)
}

fn by_value(realm: &Realm, request: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("client_id", "signed"), ("request", request)];
    params.extend_from_slice(extra);
    with_query(&realm.endpoint("auth"), &params)
}

#[tokio::test]
async fn a_signed_request_object_is_the_request() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = ClientKey::new("jar-key");
    let secret = signing_web_client(&app, &realm, &key).await;
    let (claims, verifier) = object(&app, &realm);
    let jwt = key.sign_typed(&claims, JAR_TYP);
    // Parameters outside the object are not the request.
    let mut browser = Browser::new(&app);
    let login = browser.get(&by_value(&realm, &jwt, &[("state", "outside"), ("scope", "openid phone")])).await;
    let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.sent_back("state").as_deref(), Some("inside"));
    let code = back.sent_back("code").unwrap();
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, Some(("signed", &secret))).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["scope"], "openid email");
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), "signed").await;
    assert_eq!(id["nonce"], "n-inside");

    // Pushed as an object: the same.
    let (claims, _) = object(&app, &realm);
    let (s, p, _) =
        token_call(&app, &realm, "ext/par/request", &[("request", &key.sign_typed(&claims, JAR_TYP))], Some(("signed", &secret)))
            .await;
    assert_eq!(s, 201, "{p}");
    let page = browser
        .get(&with_query(
            &realm.endpoint("auth"),
            &[("client_id", "signed"), ("request_uri", p["request_uri"].as_str().unwrap())],
        ))
        .await;
    assert_eq!(page.status, 303, "signed in already: {}", page.body);
    assert_eq!(page.sent_back("state").as_deref(), Some("inside"));
    let doc = discovery(&app, &realm).await;
    assert_eq!(doc["request_parameter_supported"], true);
    assert!(!doc["request_object_signing_alg_values_supported"].as_array().unwrap().contains(&json!("none")));
}

#[tokio::test]
async fn request_objects_unsigned_foreign_stale_or_for_another_server_are_refused() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let key = ClientKey::new("jar-key");
    let secret = signing_web_client(&app, &realm, &key).await;
    let (good, _) = object(&app, &realm);
    let with = |name: &str, value: Value| {
        let mut c = good.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(name);
        } else {
            c[name] = value;
        }
        c
    };
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let cases: Vec<(&str, String)> = vec![
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good))),
        ("a foreign key", ClientKey::new("jar-key").sign_typed(&good, JAR_TYP)),
        ("another audience", key.sign_typed(&with("aud", json!("https://other.example")), JAR_TYP)),
        ("expired", key.sign_typed(&with("exp", json!(app.clock.now() - 60)), JAR_TYP)),
        ("no exp", key.sign_typed(&with("exp", Value::Null), JAR_TYP)),
        ("another client", key.sign_typed(&with("client_id", json!("web")), JAR_TYP)),
        ("another issuer", key.sign_typed(&with("iss", json!("web")), JAR_TYP)),
        ("a token type", key.sign_typed(&good, "at+jwt")),
        ("an object inside", key.sign_typed(&with("request", json!("x")), JAR_TYP)),
    ];
    for (what, jwt) in &cases {
        // The outer redirect URI is registered: the refusal goes back there, with the outer state.
        let page = Browser::new(&app).get(&by_value(&realm, jwt, &[("redirect_uri", WEB_REDIRECT), ("state", "outer")])).await;
        assert_eq!(page.status, 303, "{what}: {}", page.body);
        assert_eq!(page.sent_back("error").as_deref(), Some("invalid_request_object"), "{what}");
        assert_eq!(page.sent_back("state").as_deref(), Some("outer"), "{what}");
        // Without one, a page.
        let page = Browser::new(&app).get(&by_value(&realm, jwt, &[])).await;
        assert_eq!(page.status, 400, "{what}: {}", page.body);
        // Pushed, refused to the client.
        let (s, e, _) = token_call(&app, &realm, "ext/par/request", &[("request", jwt)], Some(("signed", &secret))).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request_object")), "{what}: {e}");
    }
    // A client without keys cannot send one, however signed.
    let jwt = key.sign_typed(&with("client_id", json!(realm.web)), JAR_TYP);
    let path =
        with_query(&realm.endpoint("auth"), &[("client_id", &realm.web), ("request", &jwt), ("redirect_uri", WEB_REDIRECT)]);
    let page = Browser::new(&app).get(&path).await;
    assert_eq!(page.sent_back("error").as_deref(), Some("invalid_request_object"));
}
