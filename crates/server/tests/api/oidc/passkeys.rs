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

/// The user's credentials as the admin API lists them: (status, body).
async fn credentials(app: &TestApp, realm: &Realm) -> (u16, Value) {
    app.admin(Method::GET, &format!("/tenants/{}/users/{}/credentials", realm.slug, realm.user_id), None).await
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
    let (s, creds) = credentials(&app, &realm).await;
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
    let (s, creds) = credentials(&app, &realm).await;
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
    let (_, creds) = credentials(&app, &realm).await;
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

/// The second-factor page's form for `method`, sent with these fields besides.
async fn second_step(browser: &mut Browser<'_>, realm: &Realm, page: &Page, extra: &[(&str, &str)]) -> Page {
    let (csrf, request, mfa, methods) = (
        page.field("csrf").unwrap(),
        page.field("request").unwrap(),
        page.field("mfa_token").unwrap(),
        page.field("methods").unwrap(),
    );
    let mut fields = vec![("csrf", csrf.as_str()), ("request", &request), ("mfa_token", &mfa), ("methods", &methods)];
    fields.extend_from_slice(extra);
    browser.post(&format!("{}/login/second-factor", realm.base()), &fields).await
}

#[tokio::test]
async fn a_recovery_code_finishes_the_second_step_once_and_the_user_is_mailed() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "security_key", &b).await.status, 303);
    let page = browser.get(&format!("{}/account", realm.base())).await;
    let made = browser.post(&format!("{}/account/recovery-codes", realm.base()), &[("csrf", &page.field("csrf").unwrap())]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let codes: Vec<String> = made.body.split("<code>").skip(1).map(|c| c.split("</code>").next().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10, "{}", made.body);
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    // New codes again: the first ten stop working.
    let voided = codes.clone();
    let made = browser.post(&format!("{}/account/recovery-codes", realm.base()), &[("csrf", &page.field("csrf").unwrap())]).await;
    let codes: Vec<String> = made.body.split("<code>").skip(1).map(|c| c.split("</code>").next().unwrap().to_string()).collect();

    let (mut other, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    let second = other.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(second.body.contains("id=\"recovery-form\""), "{}", second.body);
    let old = second_step(&mut other, &realm, &second, &[("method", "recovery_code"), ("code", &voided[0])]).await;
    assert_eq!(old.status, 401, "{}", old.body);
    // Typed in lower case without the dash: the same code.
    let typed = codes[3].replace('-', "").to_lowercase();
    let consent = second_step(&mut other, &realm, &old, &[("method", "recovery_code"), ("code", &typed)]).await;
    let back = other.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!((id["amr"].clone(), id["acr"].clone()), (json!(["pwd", "otp", "mfa"]), json!("2")));
    // The first mail told of the key added; the second, of the code used.
    let mail = crate::helpers::outbox_message(&app, EMAIL, 2).await;
    assert!(mail["subject"].as_str().unwrap().contains("recovery code"), "{mail}");
    assert!(mail["body"].as_str().unwrap().contains("9 unused codes"), "{mail}");
    // The same code a second time: refused.
    let (mut third, login, _) = sign_in_page(&app, &realm, &[]).await;
    let second = third.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let again = second_step(&mut third, &realm, &second, &[("method", "recovery_code"), ("code", &codes[3])]).await;
    assert_eq!(again.status, 401, "{}", again.body);
    let outcomes: Vec<String> =
        audit(&app, &realm, "login.recovery_code").await.iter().map(|e| e["outcome"].as_str().unwrap().to_string()).collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "success").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "failure").count(), 2, "{outcomes:?}");
    assert_eq!(audit(&app, &realm, "recovery_codes.generate").await.len(), 2);
}

#[tokio::test]
async fn a_removed_credential_signs_in_no_more() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await.status, 303);
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await.status, 303);
    let (_, creds) = credentials(&app, &realm).await;
    let (first, second) = (creds[0]["id"].as_str().unwrap().to_string(), creds[1]["id"].as_str().unwrap().to_string());
    // Renamed and removed on the account page; a form without the session's token is refused.
    let csrf = page.field("csrf").unwrap();
    let forged = browser.post(&format!("{}/account/passkeys/{first}/delete", realm.base()), &[("csrf", "nope")]).await;
    assert_eq!(forged.status, 403);
    let renamed = browser
        .post(&format!("{}/account/passkeys/{first}/rename", realm.base()), &[("csrf", &csrf), ("name", "Old phone")])
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert!(browser.get(&format!("{}/account", realm.base())).await.body.contains("Old phone"));
    let removed = browser.post(&format!("{}/account/passkeys/{first}/delete", realm.base()), &[("csrf", &csrf)]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
    assert_eq!(page.status, 401, "{}", page.body);
    // Removed through the admin API.
    let path = format!("/tenants/{}/users/{}/credentials/{second}", realm.slug, realm.user_id);
    assert_eq!(app.admin(Method::DELETE, &path, None).await.0, 204);
    assert_eq!(app.admin(Method::DELETE, &path, None).await.0, 404);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (page, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 1, &b).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(audit(&app, &realm, "passkey.delete").await.len(), 2);
    // With no key left, the password alone signs in again.
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    assert!(other.sign_in(&realm, &login, EMAIL, PASSWORD).await.body.contains("id=\"consent-form\""));
}

#[tokio::test]
async fn acr_values_2_signs_a_password_session_in_again_where_a_passkey_makes_it_two_factors() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    // Signed in with the password (alice has no second factor yet): acr 1.
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let tokens = web_tokens(&app, &realm, &code, &verifier).await;
    assert_eq!(verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await["acr"], "1");
    // Inside that live session, acr_values=2 asks again; with prompt=none it is login_required.
    let (params, _) = web_params("openid");
    let mut stepped = params.clone();
    stepped.push(("acr_values".into(), "2".into()));
    let page = browser.get(&authorize_path(&realm, &as_refs(&stepped))).await;
    assert!(page.body.contains("id=\"login-form\""), "{}", page.body);
    let mut silent = stepped.clone();
    silent.push(("prompt".into(), "none".into()));
    let page = browser.get(&authorize_path(&realm, &as_refs(&silent))).await;
    assert_eq!(page.sent_back("error").as_deref(), Some("login_required"));
    // Without it, the session is enough.
    let page = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.sent_back("code").is_some());
    // A passkey answers the step-up: acr 2 in the same browser.
    let mut auth = SoftAuthenticator::new();
    let (mut acct, acct_page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut acct, &realm, &acct_page, &mut auth, "passkey", &b).await.status, 303);
    let (verifier, challenge) = pkce();
    let stepped: Vec<(String, String)> =
        stepped.into_iter().map(|(k, v)| if k == "code_challenge" { (k, challenge.clone()) } else { (k, v) }).collect();
    let login = browser.get(&authorize_path(&realm, &as_refs(&stepped))).await;
    let (back, _, _) = passkey_sign_in(&mut browser, &realm, &login, &mut auth, 0, &b).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!((id["acr"].clone(), id["amr"].clone()), (json!("2"), json!(["hwk", "user"])));
    // Now signed in at acr 2, acr_values=2 needs nothing more.
    let again = browser.get(&authorize_path(&realm, &as_refs(&stepped))).await;
    assert_eq!(again.status, 303, "{}", again.body);
}

#[tokio::test]
async fn a_registration_begun_on_one_node_finishes_on_the_other_and_so_does_a_sign_in() {
    let a = spawn_app().await;
    let b_node = a.another_node().await;
    let realm = realm(&a).await;
    enable_passkeys(&a, &realm, &[&a, &b_node]).await;
    let (mut on_a, page) = account(&a, &realm).await;
    let csrf = page.field("csrf").unwrap();
    let (s, options) =
        post_json(&mut on_a, &format!("{}/account/passkeys/options", realm.base()), &[("csrf", &csrf), ("kind", "passkey")])
            .await;
    assert_eq!(s, 200, "{options}");
    // The browser's page came from A; its answer reaches B (its origin is B's, which the realm lists).
    let mut auth = SoftAuthenticator::new();
    let made = auth.register(&options, &Behaviour::at(&origin_of_app(&a)));
    let mut on_b = Browser { app: &b_node, cookies: on_a.cookies.clone() };
    let fields = [
        ("csrf", csrf.as_str()),
        ("kind", "passkey"),
        ("ceremony", options["ceremony"].as_str().unwrap()),
        ("credential", &made.to_string()),
    ];
    let done = on_b.post(&format!("{}/account/passkeys", realm.base()), &fields).await;
    assert_eq!(done.status, 303, "{}", done.body);
    // A sign-in begun on B, finished on A; the ceremony spent on A is gone for B too.
    let (mut browser, login, _) = sign_in_page(&b_node, &realm, &[]).await;
    let (csrf, request) = (login.field("csrf").unwrap(), login.field("request").unwrap());
    let (_, options) =
        post_json(&mut browser, &format!("{}/login/passkey/options", realm.base()), &[("csrf", &csrf), ("request", &request)])
            .await;
    let assertion = auth.assert(0, &options, &Behaviour::at(&origin_of_app(&b_node)));
    let ceremony = options["ceremony"].as_str().unwrap();
    let mut to_a = Browser { app: &a, cookies: browser.cookies.clone() };
    let page = send_assertion(&mut to_a, &realm, &login, ceremony, &assertion).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
    let replay = send_assertion(&mut browser, &realm, &login, ceremony, &assertion).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
}

#[tokio::test]
async fn without_a_domain_name_passkeys_are_off_and_the_policy_refuses_a_bad_relying_party() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    // The server's public URL is on 127.0.0.1: no relying party, no passkey button.
    let (mut browser, login, _) = sign_in_page(&app, &realm, &[]).await;
    assert!(!login.body.contains("passkey-button") && login.body.contains("autocomplete=\"username\""), "{}", login.body);
    let (csrf, request) = (login.field("csrf").unwrap(), login.field("request").unwrap());
    let (s, e) =
        post_json(&mut browser, &format!("{}/login/passkey/options", realm.base()), &[("csrf", &csrf), ("request", &request)])
            .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unavailable")), "{e}");
    let mut acct = Browser::new(&app);
    let login = acct.get(&format!("{}/account", realm.base())).await;
    assert_eq!(acct.sign_in(&realm, &login, EMAIL, PASSWORD).await.status, 303);
    assert!(acct.get(&format!("{}/account", realm.base())).await.body.contains("id=\"passkeys-unavailable\""));
    // A relying party that cannot be one is refused whole; nothing of it is kept.
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, policy) = app.admin(Method::GET, &path, None).await;
    for bad in [
        json!({"rp_id": "127.0.0.1"}),
        json!({"rp_id": "https://example.com"}),
        json!({"origins": ["https://example.com/login"]}),
        json!({"allowed_aaguids": ["not-a-uuid"]}),
        json!({"rp_id": "example.com", "surprise": true}),
    ] {
        let mut p = policy.clone();
        p["webauthn"] = bad.clone();
        let (s, e) = app.admin(Method::PUT, &path, Some(p)).await;
        assert_eq!(s, 400, "{bad}: {e}");
    }
    assert_eq!(app.admin(Method::GET, &path, None).await.1, policy);
}

#[tokio::test]
async fn the_aaguid_allow_list_admits_only_the_models_it_names() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, mut policy) = app.admin(Method::GET, &path, None).await;
    policy["webauthn"]["allowed_aaguids"] = json!(["ee882879-721c-4913-9775-3dfcce97072a"]);
    assert_eq!(app.admin(Method::PUT, &path, Some(policy.clone())).await.0, 200);
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    let refused = add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &b).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("not allowed"), "{}", refused.body);
    let allowed = Behaviour { aaguid: *uuid::Uuid::parse_str("ee882879-721c-4913-9775-3dfcce97072a").unwrap().as_bytes(), ..b };
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "passkey", &allowed).await.status, 303);
}

#[tokio::test]
async fn changing_keys_needs_a_recent_sign_in_and_the_user_is_told_of_each_change() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "security_key", &b).await.status, 303);
    let mail = crate::helpers::outbox_message(&app, EMAIL, 1).await;
    assert!(mail["body"].as_str().unwrap().contains("security key named \"Laptop\" was added"), "{mail}");
    // A security key does not sign in alone, even where the authenticator made it discoverable.
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let (refused, _, _) = passkey_sign_in(&mut other, &realm, &login, &mut auth, 0, &b).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    // Eleven minutes on, the SSO session still signs in to clients, but the account page asks to
    // sign in again, and its forms send there.
    app.clock.advance(660);
    let again = browser.get(&format!("{}/account", realm.base())).await;
    assert!(again.body.contains("id=\"login-form\""), "{}", again.body);
    let (_, creds) = credentials(&app, &realm).await;
    let id = creds[0]["id"].as_str().unwrap();
    let stale =
        browser.post(&format!("{}/account/passkeys/{id}/delete", realm.base()), &[("csrf", &page.field("csrf").unwrap())]).await;
    assert_eq!(stale.status, 303, "{}", stale.body);
    assert!(stale.location().path().ends_with("/account"));
    let options = browser
        .post(
            &format!("{}/account/passkeys/options", realm.base()),
            &[("csrf", &page.field("csrf").unwrap()), ("kind", "passkey")],
        )
        .await;
    assert_eq!(options.status, 303);
    let (_, creds) = credentials(&app, &realm).await;
    assert_eq!(creds.as_array().unwrap().len(), 1, "nothing removed");
    // Signed in again (the password, then the key), the removal goes through and is told.
    let second = browser.sign_in(&realm, &again, EMAIL, PASSWORD).await;
    let csrf = second.field("csrf").unwrap();
    let (request, mfa) = (second.field("request").unwrap(), second.field("mfa_token").unwrap());
    let (_, opts) = post_json(
        &mut browser,
        &format!("{}/login/second-factor/options", realm.base()),
        &[("csrf", &csrf), ("request", &request), ("mfa_token", &mfa)],
    )
    .await;
    let answer = auth.assert(0, &opts, &b).to_string();
    let done = second_step(
        &mut browser,
        &realm,
        &second,
        &[("method", "webauthn"), ("ceremony", opts["ceremony"].as_str().unwrap()), ("credential", &answer)],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = browser.get(&format!("{}/account", realm.base())).await;
    let removed =
        browser.post(&format!("{}/account/passkeys/{id}/delete", realm.base()), &[("csrf", &page.field("csrf").unwrap())]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let (_, creds) = credentials(&app, &realm).await;
    assert!(creds.as_array().unwrap().is_empty(), "{creds}");
    let mail = crate::helpers::outbox_message(&app, EMAIL, 2).await;
    assert!(mail["body"].as_str().unwrap().contains("was removed"), "{mail}");
}

#[tokio::test]
async fn a_tenant_that_requires_a_passkey_has_it_added_during_sign_in_and_the_request_goes_on() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, mut policy) = app.admin(Method::GET, &path, None).await;
    policy["webauthn"]["require_passkey"] = json!(true);
    assert_eq!(app.admin(Method::PUT, &path, Some(policy)).await.0, 200);
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    // prompt=none cannot show the page: interaction_required.
    let (mut browser, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    let enrol = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(enrol.body.contains("<h1>Add a passkey</h1>") && enrol.body.contains("id=\"register-form\""), "{}", enrol.body);
    let (params, _) = web_params("openid");
    let mut silent = params.clone();
    silent.push(("prompt".into(), "none".into()));
    let answer = browser.get(&authorize_path(&realm, &as_refs(&silent))).await;
    assert_eq!(answer.sent_back("error").as_deref(), Some("interaction_required"));
    // The page's form adds the passkey and goes on with the request: consent, then the code.
    let (csrf, request) = (enrol.field("csrf").unwrap(), enrol.field("request").unwrap());
    let (s, options) =
        post_json(&mut browser, &format!("{}/account/passkeys/options", realm.base()), &[("csrf", &csrf), ("kind", "passkey")])
            .await;
    assert_eq!(s, 200, "{options}");
    let made = auth.register(&options, &b).to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("kind", "passkey"),
        ("ceremony", options["ceremony"].as_str().unwrap()),
        ("credential", &made),
        ("request", &request),
    ];
    let consent = browser.post(&format!("{}/account/passkeys", realm.base()), &fields).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    // With a passkey, the request needs no more: straight back to the client.
    let again = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(again.sent_back("code").is_some());
}

#[tokio::test]
async fn the_account_page_lists_sign_ins_ends_another_and_changes_the_password() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let (mut here, _) = account(&app, &realm).await;
    let (mut there, _) = account(&app, &realm).await;
    let page = here.get(&format!("{}/account", realm.base())).await;
    assert_eq!(page.body.matches("data-session=").count(), 2, "{}", page.body);
    assert!(page.body.contains("this browser"));
    // The other browser's sign-in, ended from this one.
    let at = page.body.find("/account/sessions/").expect("an End form");
    let id = page.body[at + "/account/sessions/".len()..].split('/').next().unwrap().to_string();
    let csrf = page.field("csrf").unwrap();
    let ended = here.post(&format!("{}/account/sessions/{id}/end", realm.base()), &[("csrf", &csrf)]).await;
    assert_eq!(ended.status, 303, "{}", ended.body);
    assert!(there.get(&format!("{}/account", realm.base())).await.body.contains("id=\"login-form\""));
    let again = here.post(&format!("{}/account/sessions/{id}/end", realm.base()), &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 400, "ended once");
    // The password: the current one first; a new one ends every sign-in, this one too.
    let path = format!("{}/account/password", realm.base());
    let wrong =
        here.post(&path, &[("csrf", &csrf), ("current_password", "not-it"), ("new_password", "Looking-Glass-2027!")]).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let weak = here.post(&path, &[("csrf", &csrf), ("current_password", PASSWORD), ("new_password", "short")]).await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    let done =
        here.post(&path, &[("csrf", &csrf), ("current_password", PASSWORD), ("new_password", "Looking-Glass-2027!")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let login = here.get(&format!("{}/account", realm.base())).await;
    assert!(login.body.contains("id=\"login-form\""), "signed out by the change");
    assert_eq!(here.sign_in(&realm, &login, EMAIL, PASSWORD).await.status, 401);
    let login = here.get(&format!("{}/account", realm.base())).await;
    assert_eq!(here.sign_in(&realm, &login, EMAIL, "Looking-Glass-2027!").await.status, 303);
}

#[tokio::test]
async fn keys_a_realm_can_no_longer_use_are_not_asked_for() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    let (mut browser, page) = account(&app, &realm).await;
    assert_eq!(add_credential(&mut browser, &realm, &page, &mut auth, "security_key", &b).await.status, 303);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    assert!(other.sign_in(&realm, &login, EMAIL, PASSWORD).await.body.contains("id=\"key-form\""));
    // The operator takes the relying party away (the public URL is on 127.0.0.1): the key cannot
    // answer anywhere, so the password alone signs the key holder in rather than lock them out.
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, mut policy) = app.admin(Method::GET, &path, None).await;
    policy["webauthn"] = json!({});
    assert_eq!(app.admin(Method::PUT, &path, Some(policy)).await.0, 200);
    let (mut other, login, _) = sign_in_page(&app, &realm, &[]).await;
    let page = other.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
}

#[tokio::test]
async fn the_account_page_sets_up_an_authenticator_app_with_a_code_and_removes_it() {
    let app = spawn_app().await;
    let realm = passkey_realm(&app).await;
    let (mut browser, page) = account(&app, &realm).await;
    assert!(page.body.contains("id=\"totp-setup-form\""), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let base = realm.base();
    let shown = browser.post(&format!("{base}/account/totp"), &[("csrf", &csrf)]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("src=\"data:image/png;base64,"), "the QR code");
    let secret = shown.body.split("id=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    // A wrong code shows the same key again; nothing is on yet.
    let wrong = browser.post(&format!("{base}/account/totp/confirm"), &[("csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains(&secret) && wrong.body.contains("id=\"error\""), "{}", wrong.body);
    let (mut one, login, _) = sign_in_page(&app, &realm, &[]).await;
    let consent = one.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(consent.body.contains("id=\"consent-form\""), "still one step: {}", consent.body);
    // Without a sign-in, or with one older than ten minutes, nothing turns on: the account page
    // signs in again first.
    let confirm = format!("{base}/account/totp/confirm");
    let code = crate::helpers::code(&app, &secret, 0);
    let forged = Browser::new(&app).post(&confirm, &[("csrf", &csrf), ("code", &code)]).await;
    assert!(forged.status == 303 && forged.location().path().ends_with("/account"), "{}", forged.body);
    app.clock.advance(601);
    let code = crate::helpers::code(&app, &secret, 0);
    let stale = browser.post(&confirm, &[("csrf", &csrf), ("code", &code)]).await;
    assert!(stale.status == 303 && stale.location().path().ends_with("/account"), "{}", stale.body);
    let login = browser.get(&format!("{base}/account")).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    // Signed in again, in one step (nothing turned on), the scanned key's code turns it on.
    let back = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert_eq!(back.status, 303, "one step: {}", back.body);
    let csrf = browser.get(&format!("{base}/account")).await.field("csrf").unwrap();
    let on = browser.post(&confirm, &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(on.status, 303, "{}", on.body);
    let mail = crate::helpers::outbox_message(&app, EMAIL, 1).await;
    assert!(mail["body"].as_str().unwrap().contains("authenticator app was set up"), "{mail}");
    let page = browser.get(&format!("{base}/account")).await;
    assert!(page.body.contains("id=\"totp-on\"") && page.body.contains("id=\"remove-totp\""), "{}", page.body);
    // Setting up a second one while the first is on: refused, the first stays.
    let twice = browser.post(&format!("{base}/account/totp"), &[("csrf", &csrf)]).await;
    assert_eq!(twice.status, 400, "{}", twice.body);
    // Now a password sign-in asks for the app's code and ends as two factors.
    app.clock.advance(30);
    let (mut other, login, verifier) = sign_in_page(&app, &realm, &[]).await;
    let second = other.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(second.body.contains("id=\"totp-form\""), "{}", second.body);
    let code = crate::helpers::code(&app, &secret, 0);
    let fields = [
        ("csrf", second.field("csrf").unwrap()),
        ("request", second.field("request").unwrap()),
        ("mfa_token", second.field("mfa_token").unwrap()),
        ("code", code),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let consent = other.post(&format!("{base}/login/totp"), &fields).await;
    let back = other.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let tokens = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, tokens["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    // Removed from the account page: one step again, and the user is told.
    let removed = browser.post(&format!("{base}/account/totp/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let mail = crate::helpers::outbox_message(&app, EMAIL, 2).await;
    assert!(mail["body"].as_str().unwrap().contains("authenticator app for two-step sign-in was removed"), "{mail}");
    let (mut one, login, _) = sign_in_page(&app, &realm, &[]).await;
    // Consent was given above: straight back to the client with a code.
    let back = one.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(back.status == 303 && back.sent_back("code").is_some(), "one step again: {}", back.body);
    let none = browser.post(&format!("{base}/account/totp/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(none.status, 400, "{}", none.body);
    let events = audit(&app, &realm, "totp.enable").await;
    let outcomes: Vec<&str> = events.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "success").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "failure").count(), 1, "{outcomes:?}");
}
