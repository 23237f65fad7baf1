//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): every client given tokens in a
//! sign-in session that registered a `backchannel_logout_uri` is POSTed a logout token when the
//! session ends, however it ends; the receiver here verifies it as a client library would.

use castellan_testkit::{HttpSink, Recorded, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use super::*;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn register_logout_uri(app: &TestApp, realm: &Realm, client_id: &str, uri: &str) {
    let path = format!("/tenants/{}/applications/{client_id}", realm.slug);
    let (s, b) = app.admin(Method::PATCH, &path, Some(json!({"backchannel_logout_uri": uri}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["backchannel_logout_uri"], uri);
}

/// Checks a delivered logout token as a receiver must (signature, issuer, audience, typ, events,
/// no nonce) and returns its claims.
async fn received_logout_token(app: &TestApp, realm: &Realm, r: &Recorded, audience: &str) -> Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    let token = r.form().get("logout_token").cloned().expect("logout_token in the body");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let claims = verify(app, realm, &token, audience).await;
    assert!(claims["events"][EVENT].is_object(), "{claims}");
    assert!(claims.get("nonce").is_none(), "a logout token never carries a nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 300, "{claims}");
    claims
}

/// The outcomes of the realm's `logout.backchannel` events, sorted, once there are `n` (the
/// audit is written after the delivery it records).
async fn delivery_outcomes(app: &TestApp, realm: &Realm, n: usize) -> Vec<String> {
    let path = format!("/tenants/{}/audit?action=logout.backchannel", realm.slug);
    for _ in 0..100 {
        let (_, events) = app.admin(Method::GET, &path, None).await;
        let mut outcomes: Vec<String> =
            events.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str().map(str::to_string)).collect();
        if outcomes.len() >= n {
            outcomes.sort();
            return outcomes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} logout.backchannel events")
}

fn sid_of(id_token: &str) -> String {
    let payload = id_token.split('.').nth(1).unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["sid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_client_of_a_signed_out_session_is_sent_a_verifiable_logout_token() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let sink = HttpSink::start(200, "").await;
    register_logout_uri(&app, &realm, &realm.web, &format!("{}/web/logout", sink.url)).await;
    let portal = create_client(
        &app,
        &realm.slug,
        json!({"name": "Portal", "kind": "confidential", "client_id": "portal", "first_party": true,
               "redirect_uris": [WEB_REDIRECT], "backchannel_logout_uri": format!("{}/portal/logout", sink.url)}),
    )
    .await;
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let hint = t["id_token"].as_str().unwrap();
    let sid = sid_of(hint);
    // The same sign-in gives the portal its tokens (SSO, no page).
    let (params, portal_verifier) = client_params("portal", "openid");
    let back = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let portal_code = back.sent_back("code").expect("SSO code");
    let portal = portal["client_secret"].as_str().unwrap().to_string();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", portal_code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", portal_verifier.as_str()),
    ];
    let (s, pt, _) = token_call(&app, &realm, "token", &fields, Some(("portal", &portal))).await;
    assert_eq!(s, 200, "{pt}");
    assert_eq!(sid_of(pt["id_token"].as_str().unwrap()), sid);
    assert!(sink.requests().is_empty(), "nothing sent while the session lives");

    let out = browser.get(&format!("{}?id_token_hint={hint}", realm.endpoint("logout"))).await;
    assert!(out.status < 400, "{}", out.body);
    let got = sink.wait_for(2).await;
    let mut audiences = vec![];
    for r in &got {
        let aud = if r.path == "/web/logout" { realm.web.as_str() } else { "portal" };
        let claims = received_logout_token(&app, &realm, r, aud).await;
        assert_eq!((claims["sid"].as_str(), claims["sub"].as_str()), (Some(sid.as_str()), Some(realm.user_id.as_str())));
        audiences.push(aud.to_string());
    }
    audiences.sort();
    assert_eq!(audiences, ["portal", "web"]);
    // The session is told once: nothing more arrives.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.requests().len(), 2);
    assert_eq!(delivery_outcomes(&app, &realm, 2).await, ["delivered", "delivered"]);
}

#[tokio::test]
async fn a_receiver_that_fails_is_tried_again_and_an_admin_revocation_sends_logout_tokens_too() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let sink = HttpSink::start(200, "").await;
    register_logout_uri(&app, &realm, &realm.web, &format!("{}/bc", sink.url)).await;
    let (code, verifier, _browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let sid = sid_of(t["id_token"].as_str().unwrap());
    sink.respond_next(503, "");
    let path = format!("/tenants/{}/users/{}/sessions", realm.slug, realm.user_id);
    let (s, b) = app.admin(Method::DELETE, &path, None).await;
    assert!(s < 300, "{s} {b}");
    let got = sink.wait_for(2).await;
    let mut jtis = vec![];
    for r in &got[..2] {
        let claims = received_logout_token(&app, &realm, r, &realm.web).await;
        assert_eq!(claims["sid"].as_str(), Some(sid.as_str()));
        jtis.push(claims["jti"].clone());
    }
    // Both tries carry the same logout (one jti), each signed when it was sent.
    assert_eq!(jtis[0], jtis[1]);
    assert_eq!(delivery_outcomes(&app, &realm, 2).await, ["delivered", "retrying"]);
    // The refresh token of the revoked session is dead.
    let rt = t["refresh_token"].as_str().unwrap();
    let (_, i, _) = token_call(&app, &realm, "token/introspect", &[("token", rt)], Some((&realm.web, &realm.web_secret))).await;
    assert_eq!(i["active"], false);
}

#[tokio::test]
async fn a_client_without_a_logout_uri_or_a_session_it_never_joined_is_not_called() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let sink = HttpSink::start(200, "").await;
    // A client that registered a URI but never got tokens in this session.
    create_client(
        &app,
        &realm.slug,
        json!({"name": "Bystander", "kind": "confidential", "client_id": "bystander",
               "redirect_uris": [WEB_REDIRECT], "backchannel_logout_uri": format!("{}/bystander", sink.url)}),
    )
    .await;
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let hint = t["id_token"].as_str().unwrap();
    let out = browser.get(&format!("{}?id_token_hint={hint}", realm.endpoint("logout"))).await;
    assert!(out.status < 400, "{}", out.body);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(sink.requests().is_empty(), "{:?}", sink.requests());
    // Discovery says so.
    let doc = discovery(&app, &realm).await;
    assert_eq!(
        (doc["backchannel_logout_supported"].as_bool(), doc["backchannel_logout_session_supported"].as_bool()),
        (Some(true), Some(true))
    );
}

#[tokio::test]
async fn a_device_signed_in_by_the_device_grant_hears_when_a_reused_refresh_token_ends_its_session() {
    const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let sink = HttpSink::start(200, "").await;
    create_client(
        &app,
        &realm.slug,
        json!({"name": "TV", "kind": "public", "client_id": "tv", "grant_types": [DEVICE_GRANT, "refresh_token"],
               "backchannel_logout_uri": format!("{}/tv", sink.url)}),
    )
    .await;
    let (s, d, _) =
        token_call(&app, &realm, "auth/device", &[("client_id", "tv"), ("scope", "openid offline_access")], None).await;
    assert_eq!(s, 200, "{d}");
    let mut phone = Browser::new(&app);
    let form = phone.get(d["verification_uri_complete"].as_str().unwrap()).await;
    let (csrf, code) = (form.field("csrf").unwrap(), form.field("user_code").unwrap());
    let login = phone.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", &code)]).await;
    let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let done = phone.decide(&realm, &consent, "allow").await;
    assert!(done.body.contains("data-outcome=\"approved\""), "{}", done.body);
    let device_code = d["device_code"].as_str().unwrap();
    let fields = [("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", "tv")];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{t}");
    let sid = sid_of(t["id_token"].as_str().unwrap());
    let first = t["refresh_token"].as_str().unwrap();
    let refresh =
        |rt: &str| [("grant_type", "refresh_token"), ("client_id", "tv"), ("refresh_token", rt)].map(|(k, v)| (k, v.to_string()));
    let fields = refresh(first);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _, _) = token_call(&app, &realm, "token", &refs, None).await;
    assert_eq!(s, 200);
    assert!(sink.requests().is_empty());
    // The spent token again: its session ends, and the device is told.
    let (s, e, _) = token_call(&app, &realm, "token", &refs, None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let got = sink.wait_for(1).await;
    let claims = received_logout_token(&app, &realm, &got[0], "tv").await;
    assert_eq!(claims["sid"].as_str(), Some(sid.as_str()));
}
