//! Passkeys and security keys on the hosted pages, driven by a software authenticator: added on
//! the account page, signing in without an identifier, as the second factor after a password,
//! recovery codes, step-up; and every way an answer can be wrong, refused.

use castellan_testkit::authenticator::{Behaviour, SoftAuthenticator};
use castellan_testkit::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use super::*;

/// The origin a browser would have: the server's port on `localhost` (a relying party needs a
/// domain name; the server itself listens on 127.0.0.1).
fn origin_of_app(app: &TestApp) -> String {
    app.address.replace("127.0.0.1", "localhost")
}

/// Gives the realm a relying party: `localhost`, and the origins of these nodes.
async fn enable_passkeys(app: &TestApp, realm: &Realm, nodes: &[&TestApp]) {
    let path = format!("/tenants/{}/policy", realm.slug);
    let (s, mut policy) = app.admin(Method::GET, &path, None).await;
    assert_eq!(s, 200, "{policy}");
    let origins: Vec<String> = nodes.iter().map(|n| origin_of_app(n)).collect();
    policy["webauthn"] = json!({"rp_id": "localhost", "origins": origins});
    let (s, b) = app.admin(Method::PUT, &path, Some(policy)).await;
    assert_eq!(s, 200, "{b}");
}

async fn passkey_realm(app: &TestApp) -> Realm {
    let realm = realm(app).await;
    enable_passkeys(app, &realm, &[app]).await;
    realm
}

/// A POST of a page's form whose answer is JSON (what the pages' script does).
async fn post_json(browser: &mut Browser<'_>, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let page = browser.post(path, fields).await;
    (page.status, serde_json::from_str(&page.body).unwrap_or(Value::Null))
}

/// A browser signed in to the account page with the password: (browser, the account page).
async fn account<'a>(app: &'a TestApp, realm: &Realm) -> (Browser<'a>, Page) {
    let mut browser = Browser::new(app);
    let login = browser.get(&format!("{}/account", realm.base())).await;
    let back = browser.sign_in(realm, &login, EMAIL, PASSWORD).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(back.location().path().ends_with("/account"), "{}", back.location());
    let page = browser.get(&format!("{}/account", realm.base())).await;
    assert!(page.body.contains("id=\"register-form\""), "{}", page.body);
    (browser, page)
}

/// Adds a credential from the account page: the page the registration ends on.
async fn add_credential(
    browser: &mut Browser<'_>,
    realm: &Realm,
    account: &Page,
    auth: &mut SoftAuthenticator,
    kind: &str,
    b: &Behaviour,
) -> Page {
    let csrf = account.field("csrf").unwrap();
    let (s, options) =
        post_json(browser, &format!("{}/account/passkeys/options", realm.base()), &[("csrf", &csrf), ("kind", kind)]).await;
    assert_eq!(s, 200, "{options}");
    let made = auth.register(&options, b);
    let ceremony = options["ceremony"].as_str().unwrap();
    let fields =
        [("csrf", csrf.as_str()), ("kind", kind), ("ceremony", ceremony), ("credential", &made.to_string()), ("name", "Laptop")];
    browser.post(&format!("{}/account/passkeys", realm.base()), &fields).await
}

/// The web client's sign-in page in a new browser.
async fn sign_in_page<'a>(app: &'a TestApp, realm: &Realm, extra: &[(&str, &str)]) -> (Browser<'a>, Page, String) {
    let (mut params, verifier) = web_params("openid email");
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut browser = Browser::new(app);
    let login = browser.get(&authorize_path(realm, &as_refs(&params))).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    (browser, login, verifier)
}

/// The sign-in page's passkey: options, the authenticator's answer, the form.
async fn passkey_sign_in(
    browser: &mut Browser<'_>,
    realm: &Realm,
    login: &Page,
    auth: &mut SoftAuthenticator,
    index: usize,
    b: &Behaviour,
) -> (Page, Value, String) {
    let (csrf, request) = (login.field("csrf").unwrap(), login.field("request").unwrap());
    let (s, options) =
        post_json(browser, &format!("{}/login/passkey/options", realm.base()), &[("csrf", &csrf), ("request", &request)]).await;
    assert_eq!(s, 200, "{options}");
    assert!(options["publicKey"]["allowCredentials"].as_array().is_none_or(|a| a.is_empty()), "{options}");
    let assertion = auth.assert(index, &options, b);
    let ceremony = options["ceremony"].as_str().unwrap().to_string();
    let page = send_assertion(browser, realm, login, &ceremony, &assertion).await;
    (page, assertion, ceremony)
}

async fn send_assertion(browser: &mut Browser<'_>, realm: &Realm, login: &Page, ceremony: &str, assertion: &Value) -> Page {
    let (csrf, request) = (login.field("csrf").unwrap(), login.field("request").unwrap());
    let fields = [("csrf", csrf.as_str()), ("request", &request), ("ceremony", ceremony), ("credential", &assertion.to_string())];
    browser.post(&format!("{}/login/passkey", realm.base()), &fields).await
}

async fn audit(app: &TestApp, realm: &Realm, action: &str) -> Vec<Value> {
    let (s, list) = app.admin(Method::GET, &format!("/tenants/{}/audit?action={action}&limit=100", realm.slug), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_passkey_added_on_the_account_page_signs_in_without_an_identifier_as_two_factors() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let (mut browser, page) = account(&app, &realm).await;
    let mut auth = SoftAuthenticator::new();
    let b = Behaviour::at(&origin_of_app(&app));
    let added = add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = browser.get(&format!("{}/account", realm.base())).await;
    assert!(page.body.contains("data-kind=\"passkey\"") && page.body.contains("Laptop"), "{}", page.body);
    // The admin API lists it, with its AAGUID and flags.
    let (s, creds) = app.admin(Method::GET, &format!("/tenants/{}/users/{}/credentials", realm.slug, realm.user_id), None).await;
    assert_eq!(s, 200, "{creds}");
    assert_eq!(creds[0]["kind"], "passkey");
    assert_eq!(creds[0]["aaguid"], "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a");
    assert_eq!(creds[0]["backup_eligible"], false);

    // A new browser: the sign-in page offers a passkey, and the autofill on the identifier.
    let (mut other, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    assert!(login.body.contains("id=\"passkey-button\"") && login.body.contains("autocomplete=\"username webauthn\""));
    let (consent, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
    let back = other.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!(id["sub"], realm.user_id.as_str());
    assert_eq!(id["amr"], json!(["hwk", "user"]));
    assert_eq!(id["acr"], "2");
    let events = audit(&app, &realm, "login.passkey").await;
    assert!(events.iter().any(|e| e["outcome"] == "success"), "{events:?}");
    assert_eq!(audit(&app, &realm, "passkey.register").await.len(), 1);
    // A synced passkey (backup eligible) is `swk`.
    let synced = Behaviour { backup: true, ..b.clone() };
    let page = browser.get(&format!("{}/account", realm.base())).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &synced).await.status, 303);
    let (mut third, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    // Consent was given with the first passkey: straight back to the client.
    let (back, _, _) = passkey_sign_in(&mut third, &realm, &login, &mut auth, 1, &synced).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!(id["amr"], json!(["swk", "user"]));
}

#[tokio::test]
async fn replayed_assertions_and_challenges_used_twice_or_late_are_refused() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let (mut browser, page) = account(&app, &realm).await;
    let mut auth = SoftAuthenticator::new();
    let b = Behaviour::at(&origin_of_app(&app));
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await.status, 303);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (ok, assertion, ceremony) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
    assert!(ok.body.contains("id=\"consent-form\""), "{}", ok.body);
    // The same answer again, with its spent ceremony: refused.
    let (mut third, login, _) = sign_in_page(&app, &realm, &[]).await;
    let again = send_assertion(&mut third, &realm, &login, &ceremony, &assertion).await;
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(!third.cookies.contains_key("castellan_sso"));
    // The same answer with a fresh ceremony: its challenge is another.
    let (csrf, request) = (login.field("csrf").unwrap(), login.field("request").unwrap());
    let (_, options) =
        post_json(&mut third, &format!("{}/login/passkey/options", realm.base()), &[("csrf", &csrf), ("request", &request)])
            .await;
    let fresh = options["ceremony"].as_str().unwrap();
    assert_eq!(send_assertion(&mut third, &realm, &login, fresh, &assertion).await.status, 401);
    // A ceremony finished after five minutes: refused, though the answer is right.
    let (_, options) =
        post_json(&mut third, &format!("{}/login/passkey/options", realm.base()), &[("csrf", &csrf), ("request", &request)])
            .await;
    let late = auth.assert(0, &options, &b);
    app.clock.advance(301);
    assert_eq!(send_assertion(&mut third, &realm, &login, options["ceremony"].as_str().unwrap(), &late).await.status, 401);
    let reasons: Vec<String> = audit(&app, &realm, "login.passkey")
        .await
        .iter()
        .filter_map(|e| e["detail"]["reason"].as_str().map(String::from))
        .collect();
    assert!(reasons.iter().any(|r| r.contains("challenge")), "{reasons:?}");
}

#[tokio::test]
async fn a_wrong_origin_a_wrong_rp_id_and_no_user_verification_are_refused() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let good = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    for bad in [
        Behaviour { origin: "https://evil.example".into(), ..good.clone() },
        Behaviour { rp_id: Some("evil.example".into()), ..good.clone() },
        Behaviour { user_verified: false, ..good.clone() },
    ] {
        let (mut browser, page) = account(&app, &realm).await;
        let refused = add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &bad).await;
        assert_eq!(refused.status, 400, "{:?}: {}", bad, refused.body);
    }
    let (s, creds) = app.admin(Method::GET, &format!("/tenants/{}/users/{}/credentials", realm.slug, realm.user_id), None).await;
    assert_eq!((s, creds.as_array().unwrap().len()), (200, 0), "{creds}");
    // An honest registration, then the same three faults at sign-in.
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &good).await.status, 303);
    for bad in [
        Behaviour { origin: "https://evil.example".into(), ..good.clone() },
        Behaviour { rp_id: Some("evil.example".into()), ..good.clone() },
        Behaviour { user_verified: false, ..good.clone() },
    ] {
        let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
        let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &bad).await;
        assert_eq!(page.status, 401, "{:?}: {}", bad, page.body);
        assert!(page.body.contains("id=\"login-form\""));
    }
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &good).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused_and_recorded() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await.status, 303);
    for _ in 0..2 {
        let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
        let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
        assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
    }
    // A clone that lags behind: its counter is below the one last seen.
    auth.set_counter(0, 1);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
    assert_eq!(page.status, 401, "{}", page.body);
    let events = audit(&app, &realm, "login.passkey").await;
    assert!(events.iter().any(|e| e["detail"]["reason"].as_str().is_some_and(|r| r.contains("counter"))), "{events:?}");
    let (_, creds) = app.admin(Method::GET, &format!("/tenants/{}/users/{}/credentials", realm.slug, realm.user_id), None).await;
    assert_eq!(creds[0]["sign_count"], 3, "{creds}");
}

/// A second user of the realm, signed in to the account page: (browser, page).
async fn bob<'a>(app: &'a TestApp, realm: &Realm) -> (Browser<'a>, Page, String) {
    let body = json!({"email": "bob@example.com", "password": PASSWORD, "email_verified": true});
    let (s, u) = app.admin(Method::POST, &format!("/tenants/{}/users", realm.slug), Some(body)).await;
    assert_eq!(s, 201, "{u}");
    let mut browser = Browser::new(app);
    let login = browser.get(&format!("{}/account", realm.base())).await;
    assert_eq!(browser.sign_in(realm, &login, "bob@example.com", PASSWORD).await.status, 303);
    let page = browser.get(&format!("{}/account", realm.base())).await;
    (browser, page, u["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_security_key_is_the_second_factor_and_another_users_key_is_refused() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut alices = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut alices, "security_key", &b).await.status, 303);
    let mut bobs = SoftAuthenticator::new();
    let (mut bob_browser, bob_page, _) = bob(&app, &realm).await;
    assert_eq!(add_credential(&mut bob_browser, &realm, &bob_page, &mut bobs, "passkey", &b).await.status, 303);

    // The password now leads to the second step, which offers the key.
    let (mut other, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    let second = other.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(second.body.contains("id=\"key-form\"") && !second.body.contains("id=\"totp-form\""), "{}", second.body);
    assert!(!other.cookies.contains_key("castellan_sso"));
    let fields = |p: &Page| (p.field("csrf").unwrap(), p.field("request").unwrap(), p.field("mfa_token").unwrap());
    let (csrf, request, mfa) = fields(&second);
    let options_path = format!("{}/login/second-factor/options", realm.base());
    let (s, options) = post_json(&mut other, &options_path, &[("csrf", &csrf), ("request", &request), ("mfa_token", &mfa)]).await;
    assert_eq!(s, 200, "{options}");
    assert_eq!(options["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1, "{options}");
    // Bob's passkey answering Alice's challenge: refused, and the page offers the key again.
    let wrong = bobs.assert(0, &options, &b);
    let path = format!("{}/login/second-factor", realm.base());
    let send = |ceremony: String, credential: Value| {
        let (csrf, request, mfa) = (csrf.clone(), request.clone(), mfa.clone());
        vec![
            ("csrf", csrf),
            ("request", request),
            ("mfa_token", mfa),
            ("method", "webauthn".into()),
            ("methods", "webauthn".into()),
            ("ceremony", ceremony),
            ("credential", credential.to_string()),
        ]
    };
    let owned = send(options["ceremony"].as_str().unwrap().into(), wrong);
    let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = other.post(&path, &refs).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("id=\"key-form\""), "{}", refused.body);
    // Alice's key: signed in with two factors.
    let (_, options) = post_json(&mut other, &options_path, &[("csrf", &csrf), ("request", &request), ("mfa_token", &mfa)]).await;
    let owned = send(options["ceremony"].as_str().unwrap().into(), alices.assert(0, &options, &b));
    let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let consent = other.post(&path, &refs).await;
    let back = other.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!((id["amr"].clone(), id["acr"].clone()), (json!(["pwd", "hwk", "mfa"]), json!("2")));

    // A passkey whose user handle names another account: refused at the passwordless sign-in.
    let mut forged = SoftAuthenticator::new();
    assert_eq!(add_credential(&mut bob_browser, &realm, &bob_page, &mut forged, "passkey", &b).await.status, 303);
    forged.credentials[0].user_handle = uuid::Uuid::parse_str(&realm.user_id).unwrap().as_bytes().to_vec();
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut forged, 0, &b).await;
    assert_eq!(page.status, 401, "{}", page.body);
}
