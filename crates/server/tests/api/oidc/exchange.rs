//! Token exchange (RFC 8693): an access token or an ID token of this realm for an access token
//! for another audience the client may ask for, scopes narrowed and never widened; `act` only
//! for clients allowed delegation, chained.

use castellan_testkit::spawn_app;
use serde_json::{Value, json};

use super::*;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID: &str = "urn:ietf:params:oauth:token-type:id_token";
const API: &str = "https://api.example.com";

/// A first-party confidential client that signs users in and exchanges tokens for `API`.
async fn gateway(app: &TestApp, realm: &Realm, id: &str, delegation: bool) -> String {
    let created = create_client(
        app,
        &realm.slug,
        json!({"name": "Gateway", "kind": "confidential", "client_id": id, "first_party": true,
               "redirect_uris": [WEB_REDIRECT], "grant_types": ["authorization_code", EXCHANGE],
               "exchange_audiences": [API], "exchange_delegation": delegation}),
    )
    .await;
    created["client_secret"].as_str().unwrap().to_string()
}

async fn exchange(app: &TestApp, realm: &Realm, client: (&str, &str), fields: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", EXCHANGE)];
    all.extend_from_slice(fields);
    let (s, v, _) = token_call(app, realm, "token", &all, Some(client)).await;
    (s, v)
}

async fn introspect(app: &TestApp, realm: &Realm, client: (&str, &str), token: &str) -> Value {
    token_call(app, realm, "token/introspect", &[("token", token)], Some(client)).await.1
}

#[tokio::test]
async fn an_access_token_is_exchanged_for_another_audience_with_the_same_or_fewer_scopes() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let secret = gateway(&app, &realm, "gateway", false).await;
    let gw = ("gateway", secret.as_str());
    let (code, verifier, _browser) = web_code(&app, &realm, "openid profile email").await;
    let user = web_tokens(&app, &realm, &code, &verifier).await;
    let subject = user["access_token"].as_str().unwrap();

    let (s, t) =
        exchange(&app, &realm, gw, &[("subject_token", subject), ("subject_token_type", ACCESS), ("audience", API)]).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!((t["issued_token_type"].as_str(), t["token_type"].as_str()), (Some(ACCESS), Some("Bearer")));
    assert!(t.get("refresh_token").is_none());
    assert_eq!(t["scope"], "openid profile email");
    let exchanged = t["access_token"].as_str().unwrap();
    let claims = verify(&app, &realm, exchanged, API).await;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(realm.user_id.as_str()), Some("gateway")));
    assert!(claims.get("act").is_none(), "impersonation: no act");
    assert_eq!(introspect(&app, &realm, gw, exchanged).await["active"], true);
    // Narrowed, never widened; only the audiences it may ask for.
    let (s, t) =
        exchange(&app, &realm, gw, &[("subject_token", subject), ("subject_token_type", ACCESS), ("scope", "openid")]).await;
    assert_eq!((s, t["scope"].as_str()), (200, Some("openid")), "{t}");
    let (s, e) =
        exchange(&app, &realm, gw, &[("subject_token", subject), ("subject_token_type", ACCESS), ("scope", "openid phone")])
            .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_scope")), "{e}");
    let (s, e) = exchange(
        &app,
        &realm,
        gw,
        &[("subject_token", subject), ("subject_token_type", ACCESS), ("audience", "https://other.example")],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_target")), "{e}");
    // Not a token of this realm, or of another type, or no subject at all.
    let other = realm_with_suffix(&app, "-b").await;
    let (code, verifier, _b) = {
        let (params, verifier) = client_params(&other.web, "openid");
        let mut browser = Browser::new(&app);
        let login = browser.get(&authorize_path(&other, &as_refs(&params))).await;
        let consent = browser.sign_in(&other, &login, EMAIL, PASSWORD).await;
        let back = browser.decide(&other, &consent, "allow").await;
        (back.sent_back("code").unwrap(), verifier, browser)
    };
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let foreign = token_call(&app, &other, "token", &fields, Some((&other.web, &other.web_secret))).await.1;
    for (token, kind) in [
        (foreign["access_token"].as_str().unwrap(), ACCESS),
        (subject, "urn:ietf:params:oauth:token-type:refresh_token"),
        ("not-a-token", ACCESS),
    ] {
        let (s, e) = exchange(&app, &realm, gw, &[("subject_token", token), ("subject_token_type", kind)]).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "{kind}: {e}");
    }
    // A client without the grant.
    let (s, e) =
        exchange(&app, &realm, (&realm.web, &realm.web_secret), &[("subject_token", subject), ("subject_token_type", ACCESS)])
            .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")), "{e}");
    // The exchanged token belongs to the user's sign-in: ending it ends the token.
    let refresh = user["refresh_token"].as_str().unwrap();
    let (s, _, _) = token_call(&app, &realm, "revoke", &[("token", refresh)], Some((&realm.web, &realm.web_secret))).await;
    assert_eq!(s, 200);
    assert_eq!(introspect(&app, &realm, gw, exchanged).await["active"], false);
}

#[tokio::test]
async fn an_id_token_issued_to_the_client_is_exchanged_and_delegation_chains_act() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let secret = gateway(&app, &realm, "agent", true).await;
    let agent = ("agent", secret.as_str());
    // The agent's own sign-in of alice: its ID token.
    let (params, verifier) = client_params("agent", "openid profile");
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let code = back.sent_back("code").unwrap();
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let own = token_call(&app, &realm, "token", &fields, Some(agent)).await.1;
    let id_token = own["id_token"].as_str().unwrap();
    let (s, t) =
        exchange(&app, &realm, agent, &[("subject_token", id_token), ("subject_token_type", ID), ("audience", API)]).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(verify(&app, &realm, t["access_token"].as_str().unwrap(), API).await["sub"], realm.user_id);
    // Another client's ID token is not the agent's to exchange.
    let (code, verifier, _) = web_code(&app, &realm, "openid").await;
    let web = web_tokens(&app, &realm, &code, &verifier).await;
    let (s, e) =
        exchange(&app, &realm, agent, &[("subject_token", web["id_token"].as_str().unwrap()), ("subject_token_type", ID)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "{e}");

    // Delegation: the agent acts for alice with its own client token as the actor.
    let cc =
        token_call(&app, &realm, "token", &[("grant_type", "client_credentials")], Some((&realm.svc, &realm.svc_secret))).await.1;
    let service_token = cc["access_token"].as_str().unwrap();
    let subject = web["access_token"].as_str().unwrap();
    let (s, t) = exchange(
        &app,
        &realm,
        agent,
        &[
            ("subject_token", subject),
            ("subject_token_type", ACCESS),
            ("actor_token", service_token),
            ("actor_token_type", ACCESS),
            ("audience", API),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let delegated = t["access_token"].as_str().unwrap().to_string();
    let claims = verify(&app, &realm, &delegated, API).await;
    assert_eq!((claims["sub"].as_str(), &claims["act"]), (Some(realm.user_id.as_str()), &json!({"sub": realm.svc})));
    // Exchanged again with another actor: the chain keeps who acted before.
    let (s, t) = exchange(
        &app,
        &realm,
        agent,
        &[
            ("subject_token", &delegated),
            ("subject_token_type", ACCESS),
            ("actor_token", id_token),
            ("actor_token_type", ID),
            ("audience", API),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let chained = verify(&app, &realm, t["access_token"].as_str().unwrap(), API).await;
    assert_eq!(chained["act"], json!({"sub": realm.user_id, "act": {"sub": realm.svc}}));
    // A client not allowed delegation cannot name an actor.
    let gw_secret = gateway(&app, &realm, "gateway", false).await;
    let (s, e) = exchange(
        &app,
        &realm,
        ("gateway", &gw_secret),
        &[
            ("subject_token", subject),
            ("subject_token_type", ACCESS),
            ("actor_token", service_token),
            ("actor_token_type", ACCESS),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "{e}");
}
