//! The device authorization grant (RFC 8628): codes, the device page through sign-in and
//! consent, polling answers, single use, and the user-code guessing limits.

use castellan_testkit::spawn_app;
use serde_json::{Value, json};

use super::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public client (a TV app) that may use the device grant and refresh.
async fn tv_client(app: &TestApp, realm: &Realm) -> String {
    let id = format!("tv-{}", &realm.slug[5..]);
    create_client(
        app,
        &realm.slug,
        json!({"name": "Living Room TV", "kind": "public", "client_id": id,
               "grant_types": [DEVICE_GRANT, "refresh_token"]}),
    )
    .await;
    id
}

async fn device_authorization(app: &TestApp, realm: &Realm, client_id: &str, scope: &str) -> Value {
    let (s, d, h) = token_call(app, realm, "auth/device", &[("client_id", client_id), ("scope", scope)], None).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    d
}

async fn poll(app: &TestApp, realm: &Realm, client_id: &str, device_code: &str) -> (u16, Value) {
    let fields = [("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client_id)];
    let (s, v, _) = token_call(app, realm, "token", &fields, None).await;
    (s, v)
}

/// The device page with `user_code` entered: the page after it.
async fn enter_code(browser: &mut Browser<'_>, realm: &Realm, user_code: &str) -> Page {
    let form = browser.get(&with_query(&format!("{}/device", realm.base()), &[("user_code", user_code)])).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.field("user_code").as_deref(), Some(user_code), "the verification URI complete fills the form in");
    let csrf = form.field("csrf").unwrap();
    browser.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", user_code)]).await
}

#[tokio::test]
async fn a_device_polls_while_the_user_signs_in_and_allows_then_gets_tokens_once() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let tv = tv_client(&app, &realm).await;
    let issuer = format!("{}{}", app.address, realm.base());
    let d = device_authorization(&app, &realm, &tv, "openid profile offline_access").await;
    let user_code = d["user_code"].as_str().unwrap();
    assert_eq!(d["verification_uri"], format!("{issuer}/device"));
    assert_eq!(d["verification_uri_complete"], format!("{issuer}/device?user_code={user_code}"));
    assert_eq!((d["expires_in"].as_i64(), d["interval"].as_i64()), (Some(600), Some(5)));
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code.chars().enumerate().all(|(i, c)| if i == 4 { c == '-' } else { "BCDFGHJKLMNPQRSTVWXZ".contains(c) }),
        "{user_code}"
    );
    let device_code = d["device_code"].as_str().unwrap();

    let (s, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("authorization_pending")), "{e}");
    // Polling again at once: slow down, and the interval grows by 5 s each time.
    let (s, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("slow_down")), "{e}");
    app.clock.advance(6);
    let (_, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!(e["error"], "slow_down", "the interval was 10 s, and is 15 s now: {e}");
    app.clock.advance(14);
    let (_, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!(e["error"], "slow_down", "14 s after the last poll; 20 s now: {e}");
    app.clock.advance(20);
    let (_, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!(e["error"], "authorization_pending", "{e}");

    // The user, on a phone: the code (typed in lower case and without the dash), sign-in, then
    // the confirmation that shows the code again, even for a first-party-less public client.
    let mut phone = Browser::new(&app);
    let typed = user_code.replace('-', "").to_lowercase();
    let login = enter_code(&mut phone, &realm, &typed).await;
    let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains(&format!("id=\"user-code\">{user_code}<")), "{}", consent.body);
    assert!(consent.body.contains("Living Room TV"));
    let done = phone.decide(&realm, &consent, "allow").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("data-outcome=\"approved\""), "{}", done.body);

    app.clock.advance(30);
    let (s, t) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile offline_access");
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), &tv).await;
    assert_eq!((id["sub"].as_str(), id["iss"].as_str()), (Some(realm.user_id.as_str()), Some(issuer.as_str())));
    assert!(id.get("nonce").is_none());
    let r = app.client.get(app.url(&realm.endpoint("userinfo"))).bearer_auth(t["access_token"].as_str().unwrap()).send();
    let info: Value = r.await.unwrap().json().await.unwrap();
    assert_eq!(info["preferred_username"], "alice");
    // A refresh token bound to the device's client.
    let refresh = t["refresh_token"].as_str().unwrap();
    let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", tv.as_str())];
    let (s, r, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{r}");

    // Once: the device code is spent, and the user code with it.
    app.clock.advance(30);
    let (s, e) = poll(&app, &realm, &tv, device_code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let again = enter_code(&mut phone, &realm, user_code).await;
    assert_eq!(again.status, 400, "a decided code is not taken again: {}", again.body);
    assert!(again.body.contains("id=\"device-form\""));
}

#[tokio::test]
async fn a_denied_device_hears_access_denied_and_an_old_one_expired_token() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let tv = tv_client(&app, &realm).await;
    let d = device_authorization(&app, &realm, &tv, "openid").await;
    let mut phone = Browser::new(&app);
    let login = enter_code(&mut phone, &realm, d["user_code"].as_str().unwrap()).await;
    let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let done = phone.decide(&realm, &consent, "deny").await;
    assert!(done.body.contains("data-outcome=\"denied\""), "{}", done.body);
    let (s, e) = poll(&app, &realm, &tv, d["device_code"].as_str().unwrap()).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("access_denied")), "{e}");

    // Signed in already (the SSO cookie): the code goes straight to the confirmation.
    let late = device_authorization(&app, &realm, &tv, "openid").await;
    let consent = enter_code(&mut phone, &realm, late["user_code"].as_str().unwrap()).await;
    assert!(consent.body.contains("id=\"consent-form\""), "{}", consent.body);
    app.clock.advance(601);
    let (s, e) = poll(&app, &realm, &tv, late["device_code"].as_str().unwrap()).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("expired_token")), "{e}");
    // Allowing after the code expired says so, and gives the device nothing.
    let done = phone.decide(&realm, &consent, "allow").await;
    assert!(done.body.contains("data-outcome=\"expired\""), "{}", done.body);
    let (_, e) = poll(&app, &realm, &tv, late["device_code"].as_str().unwrap()).await;
    assert_eq!(e["error"], "expired_token", "{e}");
}

#[tokio::test]
async fn device_codes_belong_to_their_client_and_need_the_grant() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let tv = tv_client(&app, &realm).await;
    // The web client has not registered the device grant.
    let fields = [("scope", "openid")];
    let (s, e, _) = token_call(&app, &realm, "auth/device", &fields, Some((&realm.web, &realm.web_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")), "{e}");
    let (s, e, _) = token_call(&app, &realm, "auth/device", &[("client_id", "nobody")], None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // Another client's device code is not this client's, and is not spent by the attempt.
    let d = device_authorization(&app, &realm, &tv, "openid").await;
    let device_code = d["device_code"].as_str().unwrap();
    let fields = [("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some((&realm.web, &realm.web_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")), "{e}");
    let other = format!("tv2-{}", &realm.slug[5..]);
    create_client(
        &app,
        &realm.slug,
        json!({"name": "Other TV", "kind": "public", "client_id": other, "grant_types": [DEVICE_GRANT]}),
    )
    .await;
    let (s, e) = poll(&app, &realm, &other, device_code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (_, e) = poll(&app, &realm, &tv, "not-a-device-code").await;
    assert_eq!(e["error"], "invalid_grant");
    // Unknown scopes are dropped; the discovery document names the endpoint and the grant.
    let doc = discovery(&app, &realm).await;
    assert_eq!(doc["device_authorization_endpoint"], format!("{}{}", app.address, realm.endpoint("auth/device")));
    assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!(DEVICE_GRANT)));
}

#[tokio::test]
async fn guessing_user_codes_runs_into_the_limit_long_before_a_guess_is_likely() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let tv = tv_client(&app, &realm).await;
    let d = device_authorization(&app, &realm, &tv, "openid").await;
    let user_code = d["user_code"].as_str().unwrap();
    let mut guesser = Browser::new(&app);
    let form = guesser.get(&format!("{}/device", realm.base())).await;
    let csrf = form.field("csrf").unwrap();
    let mut refused_at = None;
    for i in 0..30 {
        let guess = if i % 2 == 0 { "BBBB-BBBB" } else { "not a code" };
        let page = guesser.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", guess)]).await;
        if page.status == 429 {
            refused_at = Some(i);
            break;
        }
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.error_text().unwrap().contains("not right"), "{}", page.body);
    }
    assert_eq!(refused_at, Some(10), "ten wrong codes a minute from one address");
    // Even the right code waits now: the guesser cannot tell a hit from a miss.
    let page = guesser.post(&format!("{}/device", realm.base()), &[("csrf", &csrf), ("user_code", user_code)]).await;
    assert_eq!(page.status, 429);
    // Cross-site posts of the form are refused like every page form.
    let page = guesser
        .post_with(
            &format!("{}/device", realm.base()),
            &[("csrf", &csrf), ("user_code", user_code)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(page.status, 403);
    // Every entry left an event; none carries the code.
    let (_, events) =
        app.admin(reqwest::Method::GET, &format!("/tenants/{}/audit?action=device.verify&limit=100", realm.slug), None).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 10);
    assert!(events.iter().all(|e| e["outcome"] == "failure"));
    assert!(!serde_json::to_string(events).unwrap().contains(&user_code.replace('-', "")));
}

#[tokio::test]
async fn a_device_code_polled_on_one_node_is_approved_on_another() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let realm = realm(&a).await;
    let tv = tv_client(&a, &realm).await;
    let d = device_authorization(&a, &realm, &tv, "openid").await;
    let device_code = d["device_code"].as_str().unwrap();
    let (_, e) = poll(&a, &realm, &tv, device_code).await;
    assert_eq!(e["error"], "authorization_pending", "{e}");
    // The phone reaches node B.
    let mut phone = Browser::new(&b);
    let login = enter_code(&mut phone, &realm, d["user_code"].as_str().unwrap()).await;
    let consent = phone.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let done = phone.decide(&realm, &consent, "allow").await;
    assert!(done.body.contains("data-outcome=\"approved\""), "{}", done.body);
    a.clock.advance(10);
    let (s, t) = poll(&a, &realm, &tv, device_code).await;
    assert_eq!(s, 200, "{t}");
    // Spent on A: B refuses it too.
    b.clock.advance(10);
    let (s, e) = poll(&b, &realm, &tv, device_code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
}
