//! Attacks on the OpenID Connect dialect (docs/security.md rows 9, 26–28, 32, 42, 50–55, 58, 62 and
//! 66): PKCE downgrades, codes injected into another client or replayed, open redirects, mix-up,
//! cross-site forms, framing, tokens presented where they were not issued, forged ID token hints,
//! and the lockout the realm shares with its other dialects.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::{Value, json};

use super::*;
use crate::helpers::assert_error;

const BYE: &str = "https://app.example.com/bye";
const EVIL_ORIGIN: (&str, &str) = ("origin", "https://evil.example");
const CROSS_SITE: (&str, &str) = ("sec-fetch-site", "cross-site");

/// UserInfo asked with a bearer token: (status, `WWW-Authenticate`).
async fn userinfo(app: &TestApp, realm: &Realm, token: &str) -> (u16, String) {
    let r = app.client.get(app.url(&realm.endpoint("userinfo"))).bearer_auth(token).send().await.unwrap();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), challenge)
}

/// Asserts that UserInfo refuses `token` as RFC 6750 says: 401 `invalid_token`.
async fn userinfo_refuses(app: &TestApp, realm: &Realm, token: &str, what: &str) {
    let (s, challenge) = userinfo(app, realm, token).await;
    assert_eq!(s, 401, "{what}");
    assert!(challenge.contains("error=\"invalid_token\""), "{what}: {challenge}");
}

/// What `client` (id, secret) learns by introspecting `token`.
async fn introspect(app: &TestApp, realm: &Realm, token: &str, client: (&str, &str)) -> Value {
    let (s, answer, _) = token_call(app, realm, "token/introspect", &[("token", token)], Some(client)).await;
    assert_eq!(s, 200, "{answer}");
    answer
}

/// A refresh grant by `client` (id, secret): (status, body).
async fn refresh(app: &TestApp, realm: &Realm, token: &str, client: (&str, &str)) -> (u16, Value) {
    let fields = [("grant_type", "refresh_token"), ("refresh_token", token)];
    let (s, body, _) = token_call(app, realm, "token", &fields, Some(client)).await;
    (s, body)
}

/// A confidential third-party client of the realm with these redirect URIs: its secret.
async fn confidential_client(app: &TestApp, realm: &Realm, client_id: &str, redirect_uris: &[&str]) -> String {
    let body = json!({"name": format!("Client {client_id}"), "kind": "confidential", "client_id": client_id,
                      "redirect_uris": redirect_uris});
    create_client(app, &realm.slug, body).await["client_secret"].as_str().unwrap().to_string()
}

/// The realm's audit events of `action`, newest first.
async fn events(app: &TestApp, realm: &Realm, action: &str) -> Vec<Value> {
    let (s, list) = app.admin(Method::GET, &format!("/tenants/{}/audit?action={action}&limit=1000", realm.slug), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// The user's live sessions, as the admin API lists them.
async fn sessions(app: &TestApp, realm: &Realm) -> Vec<Value> {
    let (s, list) = app.admin(Method::GET, &format!("/tenants/{}/users/{}/sessions", realm.slug, realm.user_id), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// An error sent back to the client's redirect URI: the code, with `state` and `iss` checked.
fn sent_back_error(page: &Page, redirect_uri: &str, state: Option<&str>, issuer: &str) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.location().as_str().starts_with(redirect_uri), "{}", page.location());
    assert_eq!(page.sent_back("state").as_deref(), state, "{}", page.location());
    assert_eq!(page.sent_back("iss").as_deref(), Some(issuer), "{}", page.location());
    assert!(page.sent_back("code").is_none(), "{}", page.location());
    page.sent_back("error").unwrap()
}

/// An error page that leads nowhere: the status, no redirect, no link or form out, nothing of
/// the attacker's address.
fn dead_end(page: &Page, status: u16, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
    assert!(page.headers.get("location").is_none(), "{what}");
    assert!(!page.body.contains("evil"), "{what}: {}", page.body);
    assert!(!page.body.contains("href=\"http") && !page.body.contains("action=\"http"), "{what}: {}", page.body);
    assert!(!page.body.contains("id=\"form-post\""), "{what}");
}

/// A JWT's header or claims.
fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn forge(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn challenge_of(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test]
async fn row52_pkce_cannot_be_dropped_downgraded_or_added_after_the_fact() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let issuer = discovered_issuer(&app, &realm).await;
    let web = ("web", realm.web_secret.as_str());
    // A code issued for a challenge: no verifier, another one, the challenge itself (what `plain`
    // would compare) and a malformed one are refused; the right one still redeems it.
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let (other, _) = pkce();
    let challenge = challenge_of(&verifier);
    for given in [None, Some(other.as_str()), Some(challenge.as_str()), Some("short")] {
        let mut fields = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", WEB_REDIRECT)];
        fields.extend(given.map(|v| ("code_verifier", v)));
        let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(web)).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{given:?}: {e}");
    }
    web_tokens(&app, &realm, &code, &verifier).await;

    // `plain` (and any method but S256) is refused at the authorization endpoint, back to the
    // client with state and iss, for a signed-in browser too; so is a method without a challenge.
    for (client, redirect) in [("web", WEB_REDIRECT), ("spa", SPA_REDIRECT)] {
        for (method, challenge) in [("plain", verifier.as_str()), ("S512", challenge.as_str()), ("S256", "")] {
            let params = [
                ("client_id", client),
                ("redirect_uri", redirect),
                ("scope", "openid"),
                ("state", "st-pkce"),
                ("code_challenge", challenge),
                ("code_challenge_method", method),
            ];
            let page = browser.get(&authorize_path(&realm, &params)).await;
            let error = sent_back_error(&page, redirect, Some("st-pkce"), &issuer);
            assert_eq!(error, "invalid_request", "{client} {method}");
        }
    }

    // A public client without PKCE gets no code, signed in or not.
    let params = [("client_id", "spa"), ("redirect_uri", SPA_REDIRECT), ("scope", "openid"), ("state", "st-spa")];
    for b in [&mut browser, &mut Browser::new(&app)] {
        let page = b.get(&authorize_path(&realm, &params)).await;
        assert_eq!(sent_back_error(&page, SPA_REDIRECT, Some("st-spa"), &issuer), "invalid_request");
    }
    // ... and its code (issued for a challenge) needs the verifier at the token endpoint.
    let (spa_verifier, spa_challenge) = pkce();
    let params = [
        ("client_id", "spa"),
        ("redirect_uri", SPA_REDIRECT),
        ("scope", "openid"),
        ("code_challenge", spa_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let back = browser.get(&authorize_path(&realm, &params)).await;
    let spa_code = back.sent_back("code").unwrap();
    let base = [("grant_type", "authorization_code"), ("code", &spa_code), ("redirect_uri", SPA_REDIRECT), ("client_id", "spa")];
    for given in [None, Some(other.as_str())] {
        let mut fields = base.to_vec();
        fields.extend(given.map(|v| ("code_verifier", v)));
        let (s, e, _) = token_call(&app, &realm, "token", &fields, None).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "spa {given:?}: {e}");
    }
    let mut fields = base.to_vec();
    fields.push(("code_verifier", &spa_verifier));
    let (s, t, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{t}");

    // A confidential client's code issued without a challenge: a verifier sent with it is refused
    // (a downgrade, or a code swapped in from another flow); without one it redeems.
    let params = [("client_id", "web"), ("redirect_uri", WEB_REDIRECT), ("scope", "openid"), ("state", "st-plain")];
    let back = browser.get(&authorize_path(&realm, &params)).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let code = back.sent_back("code").unwrap();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", other.as_str()),
    ];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(web)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (s, t, _) = token_call(&app, &realm, "token", &fields[..3], Some(web)).await;
    assert_eq!(s, 200, "{t}");
}

#[tokio::test]
async fn row53_a_code_works_only_for_its_client_and_its_redirect_uri() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let other_uri = "https://app.example.com/other";
    let b_secret = confidential_client(&app, &realm, "client-b", &[WEB_REDIRECT, other_uri]).await;
    let b = ("client-b", b_secret.as_str());
    // A's code, with A's verifier and redirect URI, presented by B: refused, and not spent.
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(b)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (s, e, _) = token_call(&app, &realm, "token", &[&fields[..], &[("client_id", "spa")]].concat(), None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "a public client: {e}");
    assert!(events(&app, &realm, "code.reuse").await.is_empty(), "another client's try is not a reuse");
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    assert_eq!(userinfo(&app, &realm, t["access_token"].as_str().unwrap()).await.0, 200);

    // B's code for one of its registered redirect URIs, redeemed with the other: refused.
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", "client-b"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let consent = browser.get(&authorize_path(&realm, &params)).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    let code = back.sent_back("code").unwrap();
    for redirect in [other_uri, "https://app.example.com/callback/", "https://evil.example/callback"] {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ];
        let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(b)).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{redirect}: {e}");
    }
    let fields = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", verifier.as_str())];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(b)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "no redirect_uri: {e}");
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, Some(b)).await;
    assert_eq!(s, 200, "{t}");

    // A code lives a minute: one a second older is refused (and is not taken for a reuse).
    let (params, verifier) = web_params("openid");
    let back = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let code = back.sent_back("code").unwrap();
    app.clock.advance(61);
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(("web", &realm.web_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(events(&app, &realm, "code.reuse").await.is_empty());
    assert_eq!(userinfo(&app, &realm, t["access_token"].as_str().unwrap()).await.0, 200, "the sign-in goes on");
}

#[tokio::test]
async fn row53_a_code_presented_twice_revokes_every_token_issued_from_it_and_is_audited() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid email").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let (access, refresh_token) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    assert_eq!(userinfo(&app, &realm, access).await.0, 200);
    assert_eq!(introspect(&app, &realm, access, web).await["active"], true);
    // The second presentation: refused, and what the first one got is dead.
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(web)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    userinfo_refuses(&app, &realm, access, "the first access token").await;
    assert_eq!(introspect(&app, &realm, access, web).await, json!({"active": false}));
    assert_eq!(introspect(&app, &realm, refresh_token, web).await, json!({"active": false}));
    let (s, e) = refresh(&app, &realm, refresh_token, web).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // The sign-in the code was issued in ended with it: the browser signs in again.
    let (params, _) = web_params("openid");
    let page = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(page.body.contains("id=\"login-form\""), "{}", page.body);
    // One event says so, naming the user and the client.
    let reuse = events(&app, &realm, "code.reuse").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["outcome"], "session_revoked", "{}", reuse[0]);
    assert_eq!(reuse[0]["user_id"], realm.user_id.as_str(), "{}", reuse[0]);
    // No event of the realm holds the code or anything secret that came with it.
    let (s, all) = app.admin(Method::GET, &format!("/tenants/{}/audit?limit=1000", realm.slug), None).await;
    assert_eq!(s, 200, "{all}");
    let all = all.to_string();
    for (what, secret) in [
        ("code", code.as_str()),
        ("verifier", verifier.as_str()),
        ("access token", access),
        ("refresh token", refresh_token),
        ("ID token", t["id_token"].as_str().unwrap()),
        ("client secret", realm.web_secret.as_str()),
    ] {
        assert!(!all.contains(secret), "the {what} is in the audit log");
    }
}

#[tokio::test]
async fn row53_fifty_concurrent_exchanges_of_one_code_have_exactly_one_winner() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (code, verifier, _browser) = web_code(&app, &realm, "openid").await;
    let fields =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", &verifier)];
    let web = Some((realm.web.as_str(), realm.web_secret.as_str()));
    let answers = crate::helpers::join_all((0..50).map(|_| token_call(&app, &realm, "token", &fields, web)).collect()).await;
    let winners: Vec<&Value> = answers.iter().filter(|(s, _, _)| *s == 200).map(|(_, t, _)| t).collect();
    assert_eq!(winners.len(), 1, "{:?}", answers.iter().map(|(s, b, _)| (s, b)).collect::<Vec<_>>());
    assert!(winners[0]["access_token"].is_string() && winners[0]["id_token"].is_string(), "{}", winners[0]);
    for (s, e, _) in answers.iter().filter(|(s, _, _)| *s != 200) {
        assert_eq!((*s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    }
}

/// Variants of a registered URI that an exact comparison must refuse: the tricks of
/// `api/eauthenticator.rs` (row 61), and those of the unit test of `redirect_registered`.
fn tricks_on(registered: &str) -> Vec<String> {
    let url = url::Url::parse(registered).unwrap();
    let (host, path) = (url.host_str().unwrap(), url.path());
    vec![
        format!("https://evil.example{path}"),
        format!("//evil.example{path}"),
        "https:evil.example".to_string(),
        "/\\evil.example".to_string(),
        format!("{registered}/../../evil"),
        format!("{registered}?x=1"),
        format!("https://{host}.evil.example{path}"),
        format!("https://{host}"),
        format!("{registered}/"),
        format!("{registered}#f"),
        format!("https://{}{path}", host.to_uppercase()),
        format!("https://{host}:443@evil.example{path}"),
        format!("https://{host}@evil.example{path}"),
        format!("https://evil.example/{registered}"),
        format!("http://{host}{path}"),
        format!("https://{host}{}", path.to_uppercase()),
        format!("https://{host}:8443{path}"),
        format!("{registered}/..;/evil"),
        format!("{registered}%2F..%2Fevil"),
        format!(" {registered}"),
    ]
}

#[tokio::test]
async fn row50_and_row51_unregistered_redirect_uris_and_unknown_clients_get_an_error_page_never_a_redirect() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    // A signed-in browser that consented: any redirect URI taken for good would get a code at once.
    let (_, _, mut browser) = web_code(&app, &realm, "openid").await;
    let issued = events(&app, &realm, "authorize").await.len();
    let (_, challenge) = pkce();
    let mut cases: Vec<(&str, String)> = tricks_on(WEB_REDIRECT).into_iter().map(|t| ("web", t)).collect();
    for trick in [
        "http://localhost:51234/spa/callback",
        "https://127.0.0.1:51234/spa/callback",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/spa/callback?x=1",
        "http://127.0.0.1:51234/spa/callback#f",
        "http://127.0.0.1.evil.example:51234/spa/callback",
        "http://evil.example@127.0.0.1:51234/spa/callback",
        "http://[::1]:51234/spa/callback",
        "http://127.0.0.1:51234/spa/../spa/callback",
        "http://127.0.0.1:51234/spa/callback/../../evil",
    ] {
        cases.push(("spa", trick.to_string()));
    }
    for (client, trick) in &cases {
        for mode in ["query", "form_post"] {
            let params = [
                ("client_id", *client),
                ("redirect_uri", trick.as_str()),
                ("scope", "openid"),
                ("state", "st-1"),
                ("response_mode", mode),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ];
            let page = browser.get(&authorize_path(&realm, &params)).await;
            dead_end(&page, 400, &format!("GET {client} {trick} {mode}"));
            let mut fields = params.to_vec();
            fields.push(("response_type", "code"));
            let page = browser.post(&realm.endpoint("auth"), &fields).await;
            dead_end(&page, 400, &format!("POST {client} {trick} {mode}"));
        }
    }
    // A repeated redirect_uri, one of them registered: the same page.
    let path = format!(
        "{}&redirect_uri={}",
        authorize_path(&realm, &[("client_id", "web"), ("redirect_uri", WEB_REDIRECT), ("scope", "openid")]),
        "https%3A%2F%2Fevil.example%2Fcallback"
    );
    dead_end(&browser.get(&path).await, 400, "repeated redirect_uri");
    // An unknown client, none, or one of another realm: a page, whatever redirect URI it names.
    let other = realm_with_suffix(&app, "-b").await;
    create_client(
        &app,
        &other.slug,
        json!({"name": "Elsewhere", "kind": "confidential", "client_id": "elsewhere",
        "redirect_uris": ["https://evil.example/callback"]}),
    )
    .await;
    let evil = "https://evil.example/callback";
    let unknown = ["nobody", "", "elsewhere"].into_iter().flat_map(|c| [(c, WEB_REDIRECT), (c, evil)]);
    for (client, redirect) in unknown.chain([("WEB", evil), ("web ", evil)]) {
        let params = [("client_id", client), ("redirect_uri", redirect), ("scope", "openid"), ("state", "st-1")];
        let page = browser.get(&authorize_path(&realm, &params)).await;
        dead_end(&page, 400, &format!("client {client:?} {redirect}"));
    }
    // An error that could otherwise go back (response_type=token) stays a page before the client
    // is known good.
    let page = browser
        .get(&with_query(
            &realm.endpoint("auth"),
            &[("response_type", "token"), ("client_id", "web"), ("redirect_uri", "https://evil.example/callback")],
        ))
        .await;
    dead_end(&page, 400, "response_type=token with an unregistered URI");
    assert_eq!(events(&app, &realm, "authorize").await.len(), issued, "no code and no error went anywhere");
    // A deactivated client is unknown.
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{}/applications/web", realm.slug), Some(json!({"active": false}))).await;
    assert_eq!(s, 200, "{b}");
    let (params, _) = web_params("openid");
    dead_end(&browser.get(&authorize_path(&realm, &as_refs(&params))).await, 400, "a deactivated client");
}

#[tokio::test]
async fn row50_unregistered_post_logout_redirect_uris_get_an_error_page_and_sign_nobody_out() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let (hint, refresh_token) = (t["id_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    let mut tricks = tricks_on(BYE);
    tricks.push(WEB_REDIRECT.to_string());
    for trick in &tricks {
        // With a valid hint of the signed-in user (which signs out at once when the URI is good),
        // with client_id alone, and from a browser not signed in.
        let with_hint = [("id_token_hint", hint), ("post_logout_redirect_uri", trick.as_str()), ("state", "s-1")];
        let page = browser.get(&with_query(&realm.endpoint("logout"), &with_hint)).await;
        dead_end(&page, 400, &format!("hint {trick}"));
        let page = browser.post(&realm.endpoint("logout"), &with_hint).await;
        dead_end(&page, 400, &format!("POST hint {trick}"));
        let by_client = [("client_id", "web"), ("post_logout_redirect_uri", trick.as_str()), ("state", "s-1")];
        let page = browser.get(&with_query(&realm.endpoint("logout"), &by_client)).await;
        dead_end(&page, 400, &format!("client_id {trick}"));
        let page = Browser::new(&app).get(&with_query(&realm.endpoint("logout"), &by_client)).await;
        dead_end(&page, 400, &format!("signed out, client_id {trick}"));
    }
    // No client to check the URI against, an unknown client, a client that is not the hint's.
    for params in [
        vec![("post_logout_redirect_uri", BYE)],
        vec![("client_id", "nobody"), ("post_logout_redirect_uri", BYE)],
        vec![("client_id", "nobody"), ("post_logout_redirect_uri", "https://evil.example/bye")],
        vec![("client_id", "spa"), ("id_token_hint", hint), ("post_logout_redirect_uri", BYE)],
    ] {
        let page = browser.get(&with_query(&realm.endpoint("logout"), &params)).await;
        dead_end(&page, 400, &format!("{params:?}"));
    }
    // Nobody was signed out.
    assert_eq!(introspect(&app, &realm, refresh_token, web).await["active"], true);
    assert!(events(&app, &realm, "sign_out").await.is_empty());
    // The registered URI, for contrast, signs out and goes back.
    let page =
        browser.get(&with_query(&realm.endpoint("logout"), &[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)])).await;
    assert_eq!((page.status, page.location().as_str()), (303, BYE));
    assert_eq!(introspect(&app, &realm, refresh_token, web).await["active"], false);
}

#[tokio::test]
async fn row55_iss_is_the_discovered_issuer_on_every_answer_sent_back() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let other = realm_with_suffix(&app, "-b").await;
    let issuer = discovered_issuer(&app, &realm).await;
    assert_eq!(issuer, format!("{}{}", app.address, realm.base()));
    assert_ne!(issuer, discovered_issuer(&app, &other).await);
    let r = app.client.get(app.url(&format!("/.well-known/oauth-authorization-server{}", realm.base()))).send().await.unwrap();
    let rfc8414: Value = r.json().await.unwrap();
    assert_eq!(rfc8414["issuer"], issuer.as_str());
    // Success, by redirect: code, state, iss.
    let (params, _) = web_params("openid");
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(back.sent_back("code").is_some());
    assert_eq!((back.sent_back("state").as_deref(), back.sent_back("iss").as_deref()), (Some("st-123"), Some(issuer.as_str())));
    // Success, by form_post: the same fields in the form.
    let mut form_post = params.clone();
    form_post.push(("response_mode".into(), "form_post".into()));
    let page = browser.get(&authorize_path(&realm, &as_refs(&form_post))).await;
    assert!(page.body.contains("id=\"form-post\""), "{}", page.body);
    assert!(page.field("code").is_some());
    assert_eq!((page.field("state").as_deref(), page.field("iss").as_deref()), (Some("st-123"), Some(issuer.as_str())));
    // Errors: each back to the client with state and iss.
    let (verifier, _) = pkce();
    let plain = [
        ("client_id", "web"),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "st-e"),
        ("code_challenge", verifier.as_str()),
        ("code_challenge_method", "plain"),
    ];
    let page = browser.get(&authorize_path(&realm, &plain)).await;
    assert_eq!(sent_back_error(&page, WEB_REDIRECT, Some("st-e"), &issuer), "invalid_request");
    let token = [("response_type", "token"), ("client_id", "web"), ("redirect_uri", WEB_REDIRECT), ("state", "st-e")];
    let page = browser.get(&with_query(&realm.endpoint("auth"), &token)).await;
    assert_eq!(sent_back_error(&page, WEB_REDIRECT, Some("st-e"), &issuer), "unsupported_response_type");
    let (mut none, _) = web_params("openid");
    none.push(("prompt".into(), "none".into()));
    let page = Browser::new(&app).get(&authorize_path(&realm, &as_refs(&none))).await;
    assert_eq!(sent_back_error(&page, WEB_REDIRECT, Some("st-123"), &issuer), "login_required");
    let (mut fresh_consent, _) = web_params("openid");
    fresh_consent.push(("prompt".into(), "consent".into()));
    let consent = browser.get(&authorize_path(&realm, &as_refs(&fresh_consent))).await;
    let page = browser.decide(&realm, &consent, "deny").await;
    assert_eq!(sent_back_error(&page, WEB_REDIRECT, Some("st-123"), &issuer), "access_denied");
    // Without state, iss still comes back.
    let page = browser.get(&authorize_path(&realm, &plain[..2].iter().chain(&plain[3..]).copied().collect::<Vec<_>>())).await;
    assert_eq!(sent_back_error(&page, WEB_REDIRECT, None, &issuer), "invalid_request");
    // An error by form_post carries them too.
    let mut posted = plain.to_vec();
    posted.push(("response_mode", "form_post"));
    let page = browser.get(&authorize_path(&realm, &posted)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        (page.field("error").as_deref(), page.field("state").as_deref(), page.field("iss").as_deref()),
        (Some("invalid_request"), Some("st-e"), Some(issuer.as_str()))
    );
}

#[tokio::test]
async fn row54_implicit_hybrid_and_password_grants_are_refused() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let issuer = discovered_issuer(&app, &realm).await;
    let (_, _, mut browser) = web_code(&app, &realm, "openid").await;
    for response_type in ["token", "id_token", "code id_token", "code token", "id_token token", "none"] {
        let params = [
            ("response_type", response_type),
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", "openid"),
            ("state", "st-rt"),
            ("nonce", "n-1"),
        ];
        let page = browser.get(&with_query(&realm.endpoint("auth"), &params)).await;
        let error = sent_back_error(&page, WEB_REDIRECT, Some("st-rt"), &issuer);
        assert_eq!(error, "unsupported_response_type", "{response_type}");
        let fragment = page.location().fragment().map(str::to_string);
        assert!(fragment.is_none() && page.sent_back("access_token").is_none() && page.sent_back("id_token").is_none());
    }
    let web = ("web", realm.web_secret.as_str());
    let password = [("grant_type", "password"), ("username", EMAIL), ("password", PASSWORD), ("scope", "openid")];
    let (s, e, _) = token_call(&app, &realm, "token", &password, Some(web)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unsupported_grant_type")), "{e}");
    assert!(e.get("access_token").is_none());
    let (s, e, _) = token_call(&app, &realm, "token", &[("grant_type", "client_credentials"), ("client_id", "spa")], None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")), "a public client has no client credentials: {e}");
    assert!(e.get("access_token").is_none(), "{e}");
}

/// The three ways a cross-site form post shows itself.
const CROSS_SITE_HEADERS: [&[(&str, &str)]; 3] = [&[EVIL_ORIGIN], &[CROSS_SITE], &[("origin", "null")]];

#[tokio::test]
async fn row62_the_sign_in_form_refuses_cross_site_posts_and_wrong_csrf_tokens_and_nothing_happens() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let mut browser = Browser::new(&app);
    let (params, _) = web_params("openid");
    let page = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let (csrf, request) = (page.field("csrf").unwrap(), page.field("request").unwrap());
    let login = format!("{}/login", realm.base());
    let with = |csrf: &str| -> Vec<(String, String)> {
        [("csrf", csrf), ("request", &request), ("identifier", EMAIL), ("password", PASSWORD)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let right = with(&csrf);
    for headers in CROSS_SITE_HEADERS {
        let page = browser.post_with(&login, &as_refs(&right), headers).await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(page.headers.get("location").is_none());
    }
    for bad in ["", "x", &csrf[..csrf.len() - 1]] {
        let page = browser.post(&login, &as_refs(&with(bad))).await;
        assert_eq!(page.status, 403, "csrf {bad:?}");
    }
    let without: Vec<(&str, &str)> = as_refs(&right).into_iter().filter(|(k, _)| *k != "csrf").collect();
    assert_eq!(browser.post(&login, &without).await.status, 403, "no csrf field");
    // The token without its cookie (another browser replaying the form) is refused too.
    let mut stranger = Browser::new(&app);
    assert_eq!(stranger.post(&login, &as_refs(&right)).await.status, 403, "no form cookie");
    // Nothing happened: no password was tried, no session, no sign-in cookie.
    assert!(!browser.cookies.contains_key("castellan_sso"));
    assert!(sessions(&app, &realm).await.is_empty());
    assert!(events(&app, &realm, "login.password").await.is_empty());
    // The same form, sent as the page sends it, signs in.
    let page = browser.post(&login, &as_refs(&right)).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
    assert!(browser.cookies.contains_key("castellan_sso"));
    assert_eq!(events(&app, &realm, "login.password").await.len(), 1);
}

#[tokio::test]
async fn row62_the_second_factor_form_refuses_cross_site_posts_and_wrong_csrf_tokens_and_spends_nothing() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, totp) = app.admin(Method::POST, &format!("/tenants/{}/users/{}/totp", realm.slug, realm.user_id), None).await;
    assert_eq!(s, 201, "{totp}");
    let secret = totp["secret"].as_str().unwrap();
    let mut browser = Browser::new(&app);
    let (params, _) = web_params("openid");
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let page = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(page.body.contains("id=\"totp-form\""), "{}", page.body);
    assert!(!browser.cookies.contains_key("castellan_sso"), "no sign-in before the second factor");
    let (csrf, request, mfa) = (page.field("csrf").unwrap(), page.field("request").unwrap(), page.field("mfa_token").unwrap());
    let code = crate::helpers::code(&app, secret, 0);
    let path = format!("{}/login/totp", realm.base());
    let fields = |csrf: &str| -> Vec<(String, String)> {
        [("csrf", csrf), ("request", &request), ("mfa_token", &mfa), ("code", &code)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let right = fields(&csrf);
    for headers in CROSS_SITE_HEADERS {
        assert_eq!(browser.post_with(&path, &as_refs(&right), headers).await.status, 403, "{headers:?}");
    }
    for bad in ["", "x", &csrf[1..]] {
        assert_eq!(browser.post(&path, &as_refs(&fields(bad))).await.status, 403, "csrf {bad:?}");
    }
    let without: Vec<(&str, &str)> = as_refs(&right).into_iter().filter(|(k, _)| *k != "csrf").collect();
    assert_eq!(browser.post(&path, &without).await.status, 403, "no csrf field");
    assert!(!browser.cookies.contains_key("castellan_sso"));
    assert!(events(&app, &realm, "login.totp").await.is_empty(), "no code was tried");
    // The code and the pending sign-in are unspent: the genuine form completes it.
    let page = browser.post(&path, &as_refs(&right)).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
    assert!(browser.cookies.contains_key("castellan_sso"));
    assert_eq!(events(&app, &realm, "login.totp").await.len(), 1);
}

#[tokio::test]
async fn row62_the_consent_form_refuses_cross_site_posts_and_wrong_csrf_tokens_and_grants_nothing() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let mut browser = Browser::new(&app);
    let (params, _) = web_params("openid email");
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let page = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let (csrf, request) = (page.field("csrf").unwrap(), page.field("request").unwrap());
    let path = format!("{}/consent", realm.base());
    for headers in CROSS_SITE_HEADERS {
        let fields = [("csrf", csrf.as_str()), ("request", request.as_str()), ("decision", "allow")];
        let page = browser.post_with(&path, &fields, headers).await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(page.headers.get("location").is_none());
    }
    // Another session's token is as wrong as a made-up one.
    let mut other = Browser::new(&app);
    let login = other.get(&authorize_path(&realm, &as_refs(&params))).await;
    let other_csrf = other.sign_in(&realm, &login, EMAIL, PASSWORD).await.field("csrf").unwrap();
    assert_ne!(other_csrf, csrf);
    for bad in ["", "x", other_csrf.as_str()] {
        let fields = [("csrf", bad), ("request", request.as_str()), ("decision", "allow")];
        assert_eq!(browser.post(&path, &fields).await.status, 403, "csrf {bad:?}");
    }
    assert_eq!(browser.post(&path, &[("request", request.as_str()), ("decision", "allow")]).await.status, 403);
    // No consent was recorded: the next request asks again.
    assert!(events(&app, &realm, "consent").await.is_empty());
    let again = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(again.body.contains("id=\"consent-form\""), "{}", again.body);
    let back = browser.decide(&realm, &again, "allow").await;
    assert!(back.sent_back("code").is_some());
    assert_eq!(events(&app, &realm, "consent").await.len(), 1);
}

#[tokio::test]
async fn row62_the_sign_out_confirmation_refuses_cross_site_posts_and_wrong_csrf_tokens_and_signs_nobody_out() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let refresh_token = web_tokens(&app, &realm, &code, &verifier).await["refresh_token"].as_str().unwrap().to_string();
    let ask = [("client_id", "web"), ("post_logout_redirect_uri", BYE), ("state", "bye-1")];
    let page = browser.get(&with_query(&realm.endpoint("logout"), &ask)).await;
    assert!(page.body.contains("id=\"logout-form\""), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    assert!(!csrf.is_empty());
    let path = realm.endpoint("logout");
    let form = |csrf: &str| -> Vec<(String, String)> {
        [("csrf", csrf), ("client_id", "web"), ("post_logout_redirect_uri", BYE), ("state", "bye-1"), ("confirm", "yes")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let right = form(&csrf);
    for headers in CROSS_SITE_HEADERS {
        let page = browser.post_with(&path, &as_refs(&right), headers).await;
        assert_eq!(page.status, 403, "{headers:?}");
        assert!(page.headers.get("location").is_none());
    }
    for bad in ["", "x", &csrf[..10]] {
        assert_eq!(browser.post(&path, &as_refs(&form(bad))).await.status, 403, "csrf {bad:?}");
    }
    // Still signed in: the tokens live, and the browser gets a code without a page.
    assert_eq!(introspect(&app, &realm, &refresh_token, web).await["active"], true);
    assert!(events(&app, &realm, "sign_out").await.is_empty());
    let (params, _) = web_params("openid");
    let back = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(back.sent_back("code").is_some(), "{}", back.body);
    // The genuine confirmation signs out.
    let page = browser.post(&path, &as_refs(&right)).await;
    assert_eq!((page.status, page.location().as_str()), (303, "https://app.example.com/bye?state=bye-1"));
    assert_eq!(introspect(&app, &realm, &refresh_token, web).await["active"], false);
}

#[tokio::test]
async fn row58_every_hosted_page_forbids_framing() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, totp) = app.admin(Method::POST, &format!("/tenants/{}/users/{}/totp", realm.slug, realm.user_id), None).await;
    assert_eq!(s, 201, "{totp}");
    let mut pages: Vec<(&str, Page)> = Vec::new();
    let mut browser = Browser::new(&app);
    let (params, _) = web_params("openid");
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let wrong = browser.sign_in(&realm, &login, EMAIL, "not-the-password").await;
    let second = browser.sign_in(&realm, &wrong, EMAIL, PASSWORD).await;
    assert!(second.body.contains("id=\"totp-form\""), "{}", second.body);
    let code = crate::helpers::code(&app, totp["secret"].as_str().unwrap(), 0);
    let fields = [
        ("csrf", second.field("csrf").unwrap()),
        ("request", second.field("request").unwrap()),
        ("mfa_token", second.field("mfa_token").unwrap()),
        ("code", code),
    ];
    let consent = browser.post(&format!("{}/login/totp", realm.base()), &as_refs(&fields.map(|(k, v)| (k.to_string(), v)))).await;
    assert!(consent.body.contains("id=\"consent-form\""), "{}", consent.body);
    browser.decide(&realm, &consent, "allow").await;
    let mut form_post = params.clone();
    form_post.push(("response_mode".into(), "form_post".into()));
    let posted = browser.get(&authorize_path(&realm, &as_refs(&form_post))).await;
    assert!(posted.body.contains("id=\"form-post\""), "{}", posted.body);
    let unknown = browser.get(&authorize_path(&realm, &[("client_id", "nobody"), ("redirect_uri", WEB_REDIRECT)])).await;
    let confirm = browser.get(&realm.endpoint("logout")).await;
    assert!(confirm.body.contains("id=\"logout-form\""), "{}", confirm.body);
    let forbidden = browser.post_with(&realm.endpoint("logout"), &[("confirm", "yes")], &[EVIL_ORIGIN]).await;
    let signed_out =
        browser.post(&realm.endpoint("logout"), &[("csrf", &confirm.field("csrf").unwrap()), ("confirm", "yes")]).await;
    assert!(signed_out.body.contains("id=\"signed-out\""), "{}", signed_out.body);
    let no_realm = browser.get("/realms/no-such-realm/protocol/openid-connect/auth?client_id=web").await;
    pages.extend([
        ("sign-in", login),
        ("sign-in again", wrong),
        ("second factor", second),
        ("consent", consent),
        ("form_post", posted),
        ("error", unknown),
        ("sign-out confirmation", confirm),
        ("cross-site refusal", forbidden),
        ("signed out", signed_out),
        ("unknown realm", no_realm),
    ]);
    for (name, page) in &pages {
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{name}");
        let csp = page.header("content-security-policy").unwrap_or_else(|| panic!("{name}: no CSP"));
        assert!(csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"), "{name}: {csp}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"), "{name}");
    }
}

#[tokio::test]
async fn row42_a_refresh_token_works_only_for_the_client_it_was_issued_to() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let b_secret = confidential_client(&app, &realm, "client-b", &[WEB_REDIRECT]).await;
    let b = ("client-b", b_secret.as_str());
    let (code, verifier, _browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let token = t["refresh_token"].as_str().unwrap();
    let (s, e) = refresh(&app, &realm, token, b).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let fields = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "spa")];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "a public client: {e}");
    // B can neither see it, revoke it, nor end its session by Keycloak's back-end logout.
    assert_eq!(introspect(&app, &realm, token, b).await, json!({"active": false}));
    let (s, _, _) = token_call(&app, &realm, "revoke", &[("token", token)], Some(b)).await;
    assert_eq!(s, 200);
    let (s, e, _) = token_call(&app, &realm, "logout", &[("refresh_token", token)], Some(b)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // A still owns it, unspent.
    assert_eq!(introspect(&app, &realm, token, web).await["active"], true);
    let (s, r) = refresh(&app, &realm, token, web).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(userinfo(&app, &realm, r["access_token"].as_str().unwrap()).await.0, 200);
}

#[tokio::test]
async fn row66_and_row28_tokens_of_another_realm_or_dialect_are_refused_and_introspect_inactive() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let svc = ("svc", realm.svc_secret.as_str());
    // Another realm with the same user and password (client ids are unique across the server).
    let other = realm_with_suffix(&app, "-b").await;
    let (code, verifier, _b) = web_code(&app, &other, "openid email").await;
    let foreign = web_tokens(&app, &other, &code, &verifier).await;
    let (_, service, _) = token_call(
        &app,
        &other,
        "token",
        &[("grant_type", "client_credentials")],
        Some((other.svc.as_str(), other.svc_secret.as_str())),
    )
    .await;
    let foreign_access = foreign["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, &other, foreign_access).await.0, 200, "good in its own realm");
    for (what, token) in [
        ("access token", foreign_access),
        ("ID token", foreign["id_token"].as_str().unwrap()),
        ("service token", service["access_token"].as_str().unwrap()),
    ] {
        userinfo_refuses(&app, &realm, token, &format!("another realm's {what}")).await;
    }
    for (what, token) in [
        ("access token", foreign_access),
        ("refresh token", foreign["refresh_token"].as_str().unwrap()),
        ("service token", service["access_token"].as_str().unwrap()),
    ] {
        assert_eq!(introspect(&app, &realm, token, web).await, json!({"active": false}), "{what} to web");
        assert_eq!(introspect(&app, &realm, token, svc).await, json!({"active": false}), "{what} to svc");
    }
    let (s, e) = refresh(&app, &realm, foreign["refresh_token"].as_str().unwrap(), web).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (s, r) = refresh(&app, &other, foreign["refresh_token"].as_str().unwrap(), (&other.web, &other.web_secret)).await;
    assert_eq!(s, 200, "unspent in its own realm: {r}");

    // The realm also serves korastratum: its tokens (HS256, the realm's own secret) are not ours.
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{}", realm.slug), Some(json!({"dialects": ["oidc", "korastratum"]}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, kora) = crate::helpers::login(&app, &realm.slug, EMAIL, PASSWORD).await;
    assert_eq!(s, 200, "{kora}");
    let (kora_access, kora_refresh) =
        (kora["data"]["tokens"]["accessToken"].as_str().unwrap(), kora["data"]["tokens"]["refreshToken"].as_str().unwrap());
    userinfo_refuses(&app, &realm, kora_access, "a korastratum access token").await;
    for token in [kora_access, kora_refresh] {
        assert_eq!(introspect(&app, &realm, token, web).await, json!({"active": false}));
    }
    let (s, e) = refresh(&app, &realm, kora_refresh, web).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (s, b) =
        app.kora(Method::POST, "/api/v1/auth/refresh", &realm.slug, None, Some(json!({"refreshToken": kora_refresh}))).await;
    assert_eq!(s, 200, "unspent by the refusal: {b}");

    // A kumusoft tenant that also serves OpenID Connect: kumusoft's RS256 tokens are signed with the
    // very key our tokens are, and still are not ours.
    let (slug, tag, _) = crate::helpers::kumu_tenant(&app).await;
    let (s, b) = app.admin(Method::PATCH, &format!("/tenants/{slug}"), Some(json!({"dialects": ["kumusoft", "oidc"]}))).await;
    assert_eq!(s, 200, "{b}");
    let kumu_web = create_client(
        &app,
        &slug,
        json!({"name": "Web", "kind": "confidential", "client_id": "web-kumu",
        "redirect_uris": [WEB_REDIRECT]}),
    )
    .await;
    let kumu_realm = Realm {
        slug: slug.clone(),
        user_id: String::new(),
        web: "web-kumu".into(),
        web_secret: kumu_web["client_secret"].as_str().unwrap().to_string(),
        svc: String::new(),
        svc_secret: String::new(),
    };
    let kumu = crate::helpers::kumu_tokens(&app, &tag).await;
    let kumu_access = kumu["accessToken"].as_str().unwrap();
    let header = part(kumu_access, 0);
    let certs: Value = app.client.get(app.url(&kumu_realm.endpoint("certs"))).send().await.unwrap().json().await.unwrap();
    assert!(certs["keys"].as_array().unwrap().iter().any(|k| k["kid"] == header["kid"]), "the same key: {certs}");
    userinfo_refuses(&app, &kumu_realm, kumu_access, "a kumusoft access token").await;
    let kumu_client = (kumu_realm.web.as_str(), kumu_realm.web_secret.as_str());
    for token in [kumu_access, kumu["refreshToken"].as_str().unwrap()] {
        assert_eq!(introspect(&app, &kumu_realm, token, kumu_client).await, json!({"active": false}));
    }
}

#[tokio::test]
async fn row26_row27_and_row32_forged_or_misplaced_id_token_hints_are_refused() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let web = ("web", realm.web_secret.as_str());
    let issuer = discovered_issuer(&app, &realm).await;
    let (code, verifier, mut signed_in) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let (id_token, access) = (t["id_token"].as_str().unwrap(), t["access_token"].as_str().unwrap());
    let other = realm_with_suffix(&app, "-b").await;
    let (code, verifier, _b) = web_code(&app, &other, "openid").await;
    let other_id = web_tokens(&app, &other, &code, &verifier).await["id_token"].as_str().unwrap().to_string();

    let (header, claims) = (part(id_token, 0), part(id_token, 1));
    let signature = id_token.rsplit('.').next().unwrap();
    let mut forged: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let none = json!({"alg": alg, "typ": "JWT"});
        forged.push((format!("alg {alg}"), forge(&none, &claims, "")));
        forged.push((format!("alg {alg} with the old signature"), forge(&none, &claims, signature)));
    }
    forged.push(("empty signature".into(), forge(&header, &claims, "")));
    let mut edited = claims.clone();
    edited["sub"] = json!(uuid::Uuid::new_v4().to_string());
    forged.push(("edited subject".into(), forge(&header, &edited, signature)));
    // HS256 keyed with the realm's public RSA key, as PEM and as its JWK's bytes.
    let certs: Value = app.client.get(app.url(&realm.endpoint("certs"))).send().await.unwrap().json().await.unwrap();
    let jwk = certs["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).unwrap().clone();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let pem = crate::kumusoft_security::public_key_pem(&n, &e);
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    for (what, secret) in [("PEM", pem.into_bytes()), ("JWK", jwk.to_string().into_bytes())] {
        let token = jsonwebtoken::encode(
            &serde_json::from_value(hs.clone()).unwrap(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        forged.push((format!("HS256 with the public key as {what}"), token));
    }
    forged.push(("an access token".into(), access.to_string()));
    forged.push(("another realm's ID token".into(), other_id.clone()));
    forged.push(("a refresh token".into(), t["refresh_token"].as_str().unwrap().to_string()));

    let (params, _) = web_params("openid");
    let hinted = |hint: &str, prompt: Option<&str>| {
        let mut p = params.clone();
        p.push(("id_token_hint".into(), hint.into()));
        p.extend(prompt.map(|v| ("prompt".to_string(), v.to_string())));
        authorize_path(&realm, &as_refs(&p))
    };
    // The genuine hint is taken: the sign-in page for a new browser, a code for the signed-in user.
    let page = Browser::new(&app).get(&hinted(id_token, None)).await;
    assert!(page.body.contains("id=\"login-form\""), "{}", page.body);
    let page = signed_in.get(&hinted(id_token, Some("none"))).await;
    assert!(page.sent_back("code").is_some(), "{}", page.body);
    for (what, hint) in &forged {
        for browser in [&mut Browser::new(&app), &mut signed_in] {
            let page = browser.get(&hinted(hint, Some("none"))).await;
            assert_eq!(sent_back_error(&page, WEB_REDIRECT, Some("st-123"), &issuer), "invalid_request", "{what}");
        }
        // At logout: an error page, and the sign-in goes on.
        let page = signed_in
            .get(&with_query(&realm.endpoint("logout"), &[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)]))
            .await;
        assert_eq!(page.status, 400, "logout with {what}: {}", page.body);
        assert!(page.headers.get("location").is_none(), "logout with {what}");
    }
    assert_eq!(introspect(&app, &realm, t["refresh_token"].as_str().unwrap(), web).await["active"], true);
    // The other way round: an ID token (or a refresh token) is no access token.
    userinfo_refuses(&app, &realm, id_token, "an ID token").await;
    userinfo_refuses(&app, &realm, t["refresh_token"].as_str().unwrap(), "a refresh token").await;
    let r = app.client.post(app.url(&realm.endpoint("userinfo"))).form(&[("access_token", id_token)]).send().await.unwrap();
    assert_eq!(r.status(), 401, "an ID token in the form");
    assert_eq!(introspect(&app, &realm, id_token, web).await, json!({"active": false}));
    assert_eq!(userinfo(&app, &realm, access).await.0, 200, "the access token itself is good");
}

/// Wrong passwords through the sign-in page until the lock.
async fn fail_on_the_page(app: &TestApp, realm: &Realm, times: usize) {
    let mut browser = Browser::new(app);
    let (params, _) = web_params("openid");
    let mut page = browser.get(&authorize_path(realm, &as_refs(&params))).await;
    for _ in 0..times {
        page = browser.sign_in(realm, &page, EMAIL, "Not-the-password-1!").await;
        assert_eq!(page.status, 401, "{}", page.body);
    }
}

#[tokio::test]
async fn row09_the_sign_in_page_shares_its_lockout_with_the_realms_other_dialects() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{}", realm.slug), Some(json!({"dialects": ["oidc", "korastratum"]}))).await;
    assert_eq!(s, 200, "{b}");
    let unlock_path = format!("/tenants/{}/users/{}/unlock", realm.slug, realm.user_id);
    let unlock = || app.admin(Method::POST, &unlock_path, None);
    // Five failures on the page: korastratum refuses the right password as locked.
    fail_on_the_page(&app, &realm, 5).await;
    let (s, b) = crate::helpers::login(&app, &realm.slug, EMAIL, PASSWORD).await;
    assert_error(s, &b, 423, "ACCOUNT_LOCKED");
    let (s, b) = unlock().await;
    assert!(s == 200 || s == 204, "{s} {b}");
    let (s, b) = crate::helpers::login(&app, &realm.slug, EMAIL, PASSWORD).await;
    assert_eq!(s, 200, "unlocked: {b}");

    // Five failures through korastratum: the page refuses the right password exactly as it
    // answers a wrong one, and as it answers an identifier that has no account.
    for _ in 0..5 {
        crate::helpers::login(&app, &realm.slug, EMAIL, "Not-the-password-1!").await;
    }
    let before = sessions(&app, &realm).await.len();
    let mut answers = Vec::new();
    for (email, password) in [(EMAIL, PASSWORD), (EMAIL, "Not-the-password-1!"), ("nobody@example.com", PASSWORD)] {
        let mut browser = Browser::new(&app);
        let (params, _) = web_params("openid");
        let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
        let page = browser.sign_in(&realm, &login, email, password).await;
        assert!(page.body.contains("id=\"login-form\""), "{}", page.body);
        assert!(!browser.cookies.contains_key("castellan_sso"));
        answers.push((page.status, page.error_text()));
    }
    assert_eq!(answers[0], answers[1], "the right and a wrong password look alike while locked");
    assert_eq!(answers[0], answers[2], "a locked account looks like no account (SECURITY.md row 12)");
    let (status, text) = &answers[0];
    assert_eq!(*status, 401);
    assert!(text.as_deref().is_some_and(|t| t.contains("do not match") && !t.contains("locked")), "{text:?}");
    assert_eq!(sessions(&app, &realm).await.len(), before, "no session was started");
    // Lifted, the right password signs in on the page.
    let (s, b) = unlock().await;
    assert!(s == 200 || s == 204, "{s} {b}");
    let mut browser = Browser::new(&app);
    let (params, _) = web_params("openid");
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let page = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(page.body.contains("id=\"consent-form\""), "{}", page.body);
}

#[tokio::test]
async fn claims_asked_for_by_name_release_nothing_beyond_the_granted_scopes() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (mut params, verifier) = web_params("openid");
    params.push(("claims".into(), json!({"id_token": {"email": null, "phone_number": {"essential": true}}}).to_string()));
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    let t = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), &realm.web).await;
    assert!(id.get("email").is_none() && id.get("phone_number").is_none(), "{id}");
    // Within the granted scopes the same request releases what it names.
    let (mut params, verifier) = web_params("openid email");
    params.push(("claims".into(), json!({"id_token": {"email": null}}).to_string()));
    let consent = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    let t = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!(id["email"], EMAIL);
}

#[tokio::test]
async fn a_guesser_of_client_secrets_is_refused_before_the_next_guess_is_checked() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions {
        settings: Some(Box::new(|s| s.auth_rate_limit_per_minute = 3)),
        ..Default::default()
    })
    .await;
    let realm = realm(&app).await;
    let fields = [("grant_type", "client_credentials")];
    // A right secret spends nothing.
    for _ in 0..5 {
        let (s, t, _) = token_call(&app, &realm, "token", &fields, Some((&realm.svc, &realm.svc_secret))).await;
        assert_eq!(s, 200, "{t}");
    }
    for _ in 0..3 {
        let (s, e, _) = token_call(&app, &realm, "token", &fields, Some((&realm.svc, "guess"))).await;
        assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
        assert_eq!(e["error_description"], "client authentication failed");
    }
    // Out of failures: the next attempt is refused before its secret is looked at, right or not.
    let (s, e, h) = token_call(&app, &realm, "token", &fields, Some((&realm.svc, &realm.svc_secret))).await;
    assert_eq!(s, 429, "{e}");
    assert!(h.get("retry-after").is_some());
    // An unknown client and a wrong secret were told apart by nothing but their cost.
    let unknown = castellan_testkit::spawn_app().await;
    let other = super::realm(&unknown).await;
    let (_, a, _) = token_call(&unknown, &other, "token", &fields, Some(("nobody", "guess"))).await;
    let (_, b, _) = token_call(&unknown, &other, "token", &fields, Some((&other.svc, "guess"))).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_sealed_request_cannot_skip_a_re_authentication_through_the_consent_form() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (_, _, mut browser) = web_code(&app, &realm, "openid").await;
    // prompt=login: the signed-in browser gets the sign-in page with the sealed request...
    let (mut params, _) = web_params("openid profile");
    params.push(("prompt".into(), "login".into()));
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    let sealed = login.field("request").unwrap();
    // ...and the session's CSRF token is on the sign-out confirmation page.
    let confirm = browser.get(&realm.endpoint("logout")).await;
    let csrf = confirm.field("csrf").unwrap();
    let posted =
        browser.post(&format!("{}/consent", realm.base()), &[("csrf", &csrf), ("request", &sealed), ("decision", "allow")]).await;
    assert_ne!(posted.status, 303, "no code without signing in again: {:?}", posted.headers.get("location"));
    assert!(posted.body.contains("id=\"login-form\""), "{}", posted.body);
}

#[tokio::test]
async fn a_code_challenge_without_its_method_is_refused_at_the_authorization_endpoint() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (verifier, challenge) = pkce();
    let _ = verifier;
    let params = [
        ("client_id", realm.web.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
    ];
    let mut browser = Browser::new(&app);
    let page = browser.get(&authorize_path(&realm, &params)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.sent_back("error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn introspection_and_revocation_leave_one_event_each_with_the_client() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let svc = (realm.svc.as_str(), realm.svc_secret.as_str());
    let (_, t, _) = token_call(&app, &realm, "token", &[("grant_type", "client_credentials")], Some(svc)).await;
    let access = t["access_token"].as_str().unwrap();
    token_call(&app, &realm, "token/introspect", &[("token", access)], Some(svc)).await;
    token_call(&app, &realm, "revoke", &[("token", access)], Some(svc)).await;
    token_call(&app, &realm, "revoke", &[("token", "not-a-token")], Some(svc)).await;
    token_call(&app, &realm, "token/introspect", &[("token", access)], Some((svc.0, "wrong-secret-guess"))).await;
    let outcomes =
        |events: Vec<Value>| events.iter().map(|e| e["outcome"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>();
    let mut introspections = outcomes(events(&app, &realm, "token.introspect").await);
    introspections.sort();
    assert_eq!(introspections, vec!["active", "invalid_client"]);
    let mut revocations = outcomes(events(&app, &realm, "token.revocation").await);
    revocations.sort();
    assert_eq!(revocations, vec!["nothing", "revoked"]);
    for e in events(&app, &realm, "token.revocation").await {
        assert_eq!(e["detail"]["clientId"], realm.svc.as_str());
        assert!(!e.to_string().contains(access), "no token in the audit log");
    }
}
