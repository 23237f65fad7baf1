//! eauthenticator's hosted page with the user's passkeys and security keys, where the
//! application offers them: a first key added after a right code, then the key in the code's
//! place (one try, as a code), refusals spending tries, the option off, and a business removing a
//! lost key; driven by the software authenticator.

use castellan_testkit::authenticator::{Behaviour, SoftAuthenticator};
use castellan_testkit::{HttpSink, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::eauthenticator::{
    HostedApp, REDIRECT, SECRET, api, console_account, enable, hosted_app, page_query, session_token, submit, totp_code,
};
use castellan_core::crypto::totp::TotpAlgorithm;

const JANE: &str = "jane@example.com";

fn origin_of_app(app: &TestApp) -> String {
    app.address.replace("127.0.0.1", "localhost")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The value of `attr` on the element with `id`.
fn attr_of(html: &str, id: &str, attr: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let v = tag.split(&format!(" {attr}=\"")).nth(1)?.split('"').next()?;
    Some(unescape(v))
}

/// An application whose hosted page offers keys, in a tenant with a relying party (localhost),
/// and Jane with its authenticator app.
async fn keyed_fixture(app: &TestApp, sink: &HttpSink) -> HostedApp {
    let console = console_account(app, &format!("biz-{}@example.com", uuid::Uuid::new_v4().simple())).await;
    let h = hosted_app(app, &console, &format!("{}/2fa/callback", sink.url), &["127.0.0.1", "::1"]).await;
    assert_eq!(enable(app, &h, JANE, SECRET, "SHA1", 6).await.0, 200);
    set_option(app, &h, true).await;
    let slug = tenant_of(app, &h.client_id).await;
    let path = format!("/tenants/{slug}/policy");
    let (_, mut policy) = app.admin(Method::GET, &path, None).await;
    policy["webauthn"] = json!({"rp_id": "localhost", "origins": [origin_of_app(app)]});
    let (s, b) = app.admin(Method::PUT, &path, Some(policy)).await;
    assert_eq!(s, 200, "{b}");
    h
}

async fn set_option(app: &TestApp, h: &HostedApp, on: bool) {
    let rb = app
        .request(Method::PATCH, &format!("/console/api/applications/{}", h.id))
        .bearer_auth(&h.console)
        .json(&json!({"webauthn": on}));
    let (s, b) = castellan_testkit::send(rb).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["application"]["webauthn"].as_bool().or(b["webauthn"].as_bool()), Some(on), "{b}");
}

/// The slug of the tenant that holds the application.
async fn tenant_of(app: &TestApp, client_id: &str) -> String {
    let (s, tenants) = app.admin(Method::GET, "/tenants", None).await;
    assert_eq!(s, 200, "{tenants}");
    for t in tenants.as_array().unwrap() {
        let slug = t["slug"].as_str().unwrap();
        let (_, apps) = app.admin(Method::GET, &format!("/tenants/{slug}/applications"), None).await;
        if apps.as_array().is_some_and(|a| a.iter().any(|x| x["client_id"] == client_id)) {
            return slug.to_string();
        }
    }
    panic!("no tenant holds {client_id}");
}

async fn form(app: &TestApp, path: &str, fields: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = app
        .request(Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.address.clone())
        .body(fields.to_string())
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().await.unwrap())
}

fn enc(s: &str) -> String {
    castellan_core::crypto::totp::pct(s)
}

/// The page's key: the challenge, the authenticator's answer, the form. (status, headers, body)
async fn use_key(
    app: &TestApp,
    q: &str,
    auth: &mut SoftAuthenticator,
    b: &Behaviour,
) -> (u16, reqwest::header::HeaderMap, String) {
    let (s, _, body) = form(app, "/start-authentication/key/options", q).await;
    assert_eq!(s, 200, "{body}");
    let options: Value = serde_json::from_str(&body).unwrap();
    assert!(!options["publicKey"]["allowCredentials"].as_array().unwrap().is_empty(), "{options}");
    let answer = auth.assert(0, &options, b).to_string();
    let fields = format!("{q}&ceremony={}&credential={}", enc(options["ceremony"].as_str().unwrap()), enc(&answer));
    form(app, "/start-authentication/key", &fields).await
}

/// A right code, then the offered key added: the authenticator holds Jane's first key.
async fn add_first_key(app: &TestApp, h: &HostedApp, auth: &mut SoftAuthenticator, b: &Behaviour) -> String {
    add_first_key_of(app, h, JANE, auth, b).await
}

async fn add_first_key_of(app: &TestApp, h: &HostedApp, email: &str, auth: &mut SoftAuthenticator, b: &Behaviour) -> String {
    let token = session_token(app, h, email).await;
    let q = page_query("redirect", &token, REDIRECT, Some("st-1"));
    let code = totp_code(app, SECRET, TotpAlgorithm::Sha1, 6);
    let (s, headers, html) = submit(app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 200, "a right code offers a first key before the redirect: {html}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        attr_of(&html, "continue", "href").as_deref(),
        Some(format!("{REDIRECT}?session_token={token}&state=st-1").as_str()),
        "{html}"
    );
    let begun: Value = serde_json::from_str(&attr_of(&html, "register-form", "data-begun").unwrap()).unwrap();
    assert_eq!(begun["publicKey"]["rp"]["name"], "Demo Portal", "the browser names the application the user knows");
    let made = auth.register(&begun, b).to_string();
    let fields = format!("{q}&ceremony={}&credential={}", enc(begun["ceremony"].as_str().unwrap()), enc(&made));
    let (s, _, html) = form(app, "/start-authentication/add-key", &fields).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("id=\"added\""), "{html}");
    assert!(attr_of(&html, "continue", "href").unwrap().contains(&token));
    // The same registration a second time adds nothing.
    let (s, _, html) = form(app, "/start-authentication/add-key", &fields).await;
    assert_eq!(s, 200);
    assert!(html.contains("was sent twice"), "{html}");
    token
}

#[tokio::test]
async fn a_first_key_offered_after_a_code_then_verifies_in_its_place_and_a_business_can_remove_it() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = keyed_fixture(&app, &sink).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    // No key yet: the page asks for the code only.
    let token = session_token(&app, &h, JANE).await;
    let (_, _, html) = form(&app, "/start-authentication/key/options", &page_query("redirect", &token, REDIRECT, None)).await;
    assert!(html.contains("INVALID_REQUEST"), "{html}");
    let first = add_first_key(&app, &h, &mut auth, &b).await;
    assert_eq!(sink.requests()[0].query.as_deref(), Some(format!("result=true&session_token={first}").as_str()));
    let mail = crate::helpers::outbox_message(&app, JANE, 1).await;
    assert!(mail["body"].as_str().unwrap().contains("security key"), "{mail}");

    // Next time the page offers the key beside the code, and the key alone verifies.
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("redirect", &token, REDIRECT, Some("st-2"));
    let r = app.request(Method::GET, &format!("/start-authentication?{q}")).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"key-form\"") && html.contains("id=\"verify-form\""), "{html}");
    assert!(html.contains("/static/passkeys.js"), "{html}");
    app.clock.advance(1);
    let (s, headers, html) = use_key(&app, &q, &mut auth, &b).await;
    assert_eq!(s, 302, "{html}");
    assert_eq!(headers["location"].to_str().unwrap(), format!("{REDIRECT}?session_token={token}&state=st-2"));
    let calls = sink.requests();
    assert_eq!(calls.len(), 2, "the backend heard first");
    assert_eq!(calls[1].query.as_deref(), Some(format!("result=true&session_token={token}").as_str()));
    // The right code does not offer a key to a user who has one.
    let token = session_token(&app, &h, JANE).await;
    app.clock.advance(30);
    let code = totp_code(&app, SECRET, TotpAlgorithm::Sha1, 6);
    let (s, _, _) = submit(&app, "verify", &page_query("redirect", &token, REDIRECT, None), Some(&code)).await;
    assert_eq!(s, 302);

    // Without the authenticator app, the key keeps two-step verification on: the page asks for it alone.
    let off = json!({"email": JANE, "client_id": h.client_id, "action": "DISABLE", "type": "TOTP"});
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), off).await.0, 200);
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("popup", &token, REDIRECT, None);
    let r = app.request(Method::GET, &format!("/start-authentication?{q}")).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"key-form\"") && !html.contains("id=\"verify-form\""), "{html}");
    let (s, _, html) = use_key(&app, &q, &mut auth, &b).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-auto=\"1\"") && html.contains(&token), "the popup posts the result: {html}");

    // The business removes the lost key: no factor is left, so no session token. Not while the
    // application offers no keys.
    let remove = json!({"email": JANE, "client_id": h.client_id, "action": "DISABLE", "type": "WEBAUTHN"});
    set_option(&app, &h, false).await;
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), remove.clone()).await.0, 400);
    set_option(&app, &h, true).await;
    assert_eq!(
        api(&app, "/mfa/toggle", Some(&h.api_key), remove.clone()).await,
        (200, json!({"code": "SUCCESS", "message": "Success", "data": ""}))
    );
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), remove).await.1["message"], "toggle failed", "nothing left to remove");
    let (s, b2) = api(&app, "/session-token", Some(&h.api_key), json!({"email": JANE, "client_id": h.client_id})).await;
    assert_eq!((s, b2["message"].as_str()), (400, Some("get session token failed")));
    let enable_keys = json!({"email": JANE, "client_id": h.client_id, "action": "ENABLE", "type": "WEBAUTHN"});
    assert_eq!(api(&app, "/mfa/toggle", Some(&h.api_key), enable_keys).await.0, 400, "keys are added on the page");

    let slug = tenant_of(&app, &h.client_id).await;
    let (_, events) = app.admin(Method::GET, &format!("/tenants/{slug}/audit?action=hosted.verify&limit=100"), None).await;
    let by_key = events.as_array().unwrap().iter().filter(|e| e["detail"]["method"] == "webauthn" && e["outcome"] == "success");
    assert_eq!(by_key.count(), 2, "{events}");
}

#[tokio::test]
async fn refused_keys_spend_tries_and_keys_are_offered_only_where_the_application_allows_them() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = keyed_fixture(&app, &sink).await;
    let b = Behaviour::at(&origin_of_app(&app));
    let mut auth = SoftAuthenticator::new();
    add_first_key(&app, &h, &mut auth, &b).await;
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("redirect", &token, REDIRECT, None);
    // Another site's answer, no user verification, a replayed answer: each spends a try.
    let evil = Behaviour { origin: "https://evil.example".into(), ..b.clone() };
    let (s, _, html) = use_key(&app, &q, &mut auth, &evil).await;
    assert_eq!(s, 200);
    assert!(html.contains("4 tries left"), "{html}");
    let absent = Behaviour { user_verified: false, ..b.clone() };
    let (_, _, html) = use_key(&app, &q, &mut auth, &absent).await;
    assert!(html.contains("3 tries left"), "{html}");
    let (_, _, body) = form(&app, "/start-authentication/key/options", &q).await;
    let options: Value = serde_json::from_str(&body).unwrap();
    let answer = auth.assert(0, &options, &b).to_string();
    let fields = format!("{q}&ceremony={}&credential={}", enc(options["ceremony"].as_str().unwrap()), enc(&answer));
    assert_eq!(form(&app, "/start-authentication/key", &fields).await.0, 302, "the right answer");
    let token = session_token(&app, &h, JANE).await;
    let q2 = page_query("redirect", &token, REDIRECT, None);
    let replay = format!("{q2}&ceremony={}&credential={}", enc(options["ceremony"].as_str().unwrap()), enc(&answer));
    let (s, _, html) = form(&app, "/start-authentication/key", &replay).await;
    assert_eq!(s, 200);
    assert!(html.contains("4 tries left"), "a spent challenge: {html}");
    // A redirect URI not the application's: refused before anything.
    let (s, _, _) =
        form(&app, "/start-authentication/key/options", &page_query("redirect", &token, "https://evil.example/", None)).await;
    assert_eq!(s, 400);

    // The option off: no key on the page, no challenge, and an answer is a wrong try.
    set_option(&app, &h, false).await;
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let r = app.request(Method::GET, &format!("/start-authentication?{q}")).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(!html.contains("id=\"key-form\"") && html.contains("id=\"verify-form\""), "{html}");
    let (s, _, body) = form(&app, "/start-authentication/key/options", &q).await;
    assert_eq!((s, serde_json::from_str::<Value>(&body).unwrap()["code"].as_str()), (400, Some("INVALID_REQUEST")));
    let (s, _, html) = form(&app, "/start-authentication/key", &format!("{q}&ceremony=x&credential=%7B%7D")).await;
    assert_eq!(s, 200);
    assert!(html.contains("4 tries left"), "{html}");
    // With the option off, a right code goes straight on, and adds no key.
    app.clock.advance(30);
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, TotpAlgorithm::Sha1, 6);
    assert_eq!(submit(&app, "verify", &q, Some(&code)).await.0, 302);
    let (s, _, html) = form(&app, "/start-authentication/add-key", &format!("{q}&ceremony=made-up&credential=%7B%7D")).await;
    assert_eq!(s, 400, "{html}");
}

#[tokio::test]
async fn keys_answer_only_for_their_own_user_and_are_added_only_with_a_right_codes_answer() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let h = keyed_fixture(&app, &sink).await;
    const BOB: &str = "bob@example.com";
    assert_eq!(enable(&app, &h, BOB, SECRET, "SHA1", 6).await.0, 200);
    let b = Behaviour::at(&origin_of_app(&app));
    let (mut janes, mut bobs) = (SoftAuthenticator::new(), SoftAuthenticator::new());
    let code = totp_code(&app, SECRET, TotpAlgorithm::Sha1, 6);
    // Bob's right code: the page offers him a first key (not taken here).
    let bob_token = session_token(&app, &h, BOB).await;
    let (s, _, html) = submit(&app, "verify", &page_query("redirect", &bob_token, REDIRECT, None), Some(&code)).await;
    assert_eq!(s, 200, "{html}");
    let bobs_offer: Value = serde_json::from_str(&attr_of(&html, "register-form", "data-begun").unwrap()).unwrap();

    // A pending verification adds no key, whatever it is sent.
    let token = session_token(&app, &h, JANE).await;
    let q = page_query("redirect", &token, REDIRECT, None);
    let (s, _, _) = form(&app, "/start-authentication/add-key", &format!("{q}&ceremony=made-up&credential=%7B%7D")).await;
    assert_eq!(s, 400);
    // Verified by a right code: neither a made-up registration nor Bob's offer adds a key to Jane.
    let (s, _, html) = submit(&app, "verify", &q, Some(&code)).await;
    assert_eq!(s, 200, "{html}");
    let (s, _, html) = form(&app, "/start-authentication/add-key", &format!("{q}&ceremony=made-up&credential=%7B%7D")).await;
    assert!(s == 200 && html.contains("The key was not added"), "{html}");
    let made = janes.register(&bobs_offer, &b).to_string();
    let fields = format!("{q}&ceremony={}&credential={}", enc(bobs_offer["ceremony"].as_str().unwrap()), enc(&made));
    let (_, _, html) = form(&app, "/start-authentication/add-key", &fields).await;
    assert!(html.contains("The key was not added"), "{html}");
    let token = session_token(&app, &h, JANE).await;
    let r = app.request(Method::GET, &format!("/start-authentication?{}", page_query("redirect", &token, REDIRECT, None)));
    assert!(!r.send().await.unwrap().text().await.unwrap().contains("id=\"key-form\""), "Jane has no key");

    // Both with a key now. Bob's challenge and key, sent with Jane's token: refused, a try of
    // Jane's spent; Bob's key against Jane's own challenge: refused too.
    app.clock.advance(30);
    add_first_key_of(&app, &h, BOB, &mut bobs, &b).await;
    add_first_key_of(&app, &h, JANE, &mut janes, &b).await;
    let jane_token = session_token(&app, &h, JANE).await;
    let jane_q = page_query("redirect", &jane_token, REDIRECT, None);
    let bob_token = session_token(&app, &h, BOB).await;
    let (_, _, body) = form(&app, "/start-authentication/key/options", &page_query("redirect", &bob_token, REDIRECT, None)).await;
    let options: Value = serde_json::from_str(&body).unwrap();
    let answer = bobs.assert(0, &options, &b).to_string();
    let fields = format!("{jane_q}&ceremony={}&credential={}", enc(options["ceremony"].as_str().unwrap()), enc(&answer));
    let (s, _, html) = form(&app, "/start-authentication/key", &fields).await;
    assert_eq!(s, 200);
    assert!(html.contains("4 tries left"), "{html}");
    let (_, _, body) = form(&app, "/start-authentication/key/options", &jane_q).await;
    let options: Value = serde_json::from_str(&body).unwrap();
    let answer = bobs.assert(0, &options, &b).to_string();
    let fields = format!("{jane_q}&ceremony={}&credential={}", enc(options["ceremony"].as_str().unwrap()), enc(&answer));
    let (_, _, html) = form(&app, "/start-authentication/key", &fields).await;
    assert!(html.contains("3 tries left"), "{html}");
    assert!(!sink.requests().iter().any(|c| c.query.as_deref().is_some_and(|q| q.contains(&jane_token))), "no result yet");
}
