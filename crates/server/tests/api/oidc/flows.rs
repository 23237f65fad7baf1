//! Whole flows: sign-in through the hosted pages, consent, tokens, UserInfo, refresh,
//! introspection, revocation and logout.

use castellan_testkit::spawn_app;
use serde_json::Value;

use super::*;

#[tokio::test]
async fn a_confidential_client_signs_a_user_in_with_consent_and_gets_tokens_it_can_verify() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let issuer = format!("{}{}", app.address, realm.base());
    let (code, verifier, _browser) = web_code(&app, &realm, "openid profile email").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email");
    assert_eq!(t["expires_in"], 300);
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), "web").await;
    assert_eq!(id["iss"], issuer);
    assert_eq!(id["sub"], realm.user_id);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["azp"], "web");
    assert_eq!(id["acr"], "1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["email"], EMAIL);
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Alice Liddell");
    assert_eq!(id["preferred_username"], "alice");
    assert!(id["auth_time"].as_i64().unwrap() > 0 && id["sid"].is_string());
    // at_hash: the left half of the access token's SHA-256 (RS256), computed here independently.
    let access = t["access_token"].as_str().unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]);
    assert_eq!(id["at_hash"], expected);
    // The access token is an RFC 9068 JWT for the client.
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let at = verify(&app, &realm, access, "web").await;
    assert_eq!(
        (at["client_id"].as_str(), at["scope"].as_str(), at["sub"].as_str()),
        (Some("web"), Some("openid profile email"), Some(realm.user_id.as_str()))
    );
    assert_eq!(at["sid"], id["sid"]);
    // UserInfo: the scopes' claims.
    let r = app.client.get(app.url(&realm.endpoint("userinfo"))).bearer_auth(access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert_eq!(
        (info["sub"].as_str(), info["email"].as_str(), info["given_name"].as_str()),
        (Some(realm.user_id.as_str()), Some(EMAIL), Some("Alice"))
    );
    assert!(info.get("phone_number").is_none(), "phone was not granted");
    // A refresh token, rotated on use; the spent one is refused and ends the sign-in.
    let refresh = t["refresh_token"].as_str().unwrap();
    let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (s, r1, h) = token_call(&app, &realm, "token", &fields, Some(("web", &realm.web_secret))).await;
    assert_eq!(s, 200, "{r1}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_ne!(r1["refresh_token"], t["refresh_token"]);
    let id2 = verify(&app, &realm, r1["id_token"].as_str().unwrap(), "web").await;
    assert_eq!((id2["sub"].clone(), id2["auth_time"].clone()), (id["sub"].clone(), id["auth_time"].clone()));
    assert!(id2.get("nonce").is_none(), "a refreshed ID token carries no nonce");
    let (s, e, _) = token_call(&app, &realm, "token", &fields, Some(("web", &realm.web_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let r = app
        .client
        .get(app.url(&realm.endpoint("userinfo")))
        .bearer_auth(r1["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "reuse ended the session and its tokens");
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn a_public_client_with_pkce_skips_consent_as_a_first_party_and_sso_skips_the_sign_in_page() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (code, _, mut browser) = web_code(&app, &realm, "openid").await;
    assert!(!code.is_empty());
    // The SPA: first party, public; the browser is already signed in, so no page at all.
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", "spa"),
        ("redirect_uri", "http://127.0.0.1:43123/spa/callback"),
        ("scope", "openid email"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let back = browser.get(&authorize_path(&realm, &params)).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.sent_back("iss").unwrap(), format!("{}{}", app.address, realm.base()));
    let code = back.sent_back("code").unwrap();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:43123/spa/callback"),
        ("code_verifier", verifier.as_str()),
        ("client_id", "spa"),
    ];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{t}");
    assert!(t["refresh_token"].is_string() && t["id_token"].is_string());
    // The code is spent: a second exchange is refused.
    let (s, e, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn service_clients_get_tokens_by_client_credentials_that_introspect_and_revoke() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let basic = Some(("svc", realm.svc_secret.as_str()));
    let (s, t, _) =
        token_call(&app, &realm, "token", &[("grant_type", "client_credentials"), ("scope", "openid email")], basic).await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    assert_eq!(t["scope"], "email", "openid means nothing without a user");
    let access = t["access_token"].as_str().unwrap();
    let claims = verify(&app, &realm, access, "svc").await;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("svc"), Some("svc")));
    let (s, i, _) = token_call(&app, &realm, "token/introspect", &[("token", access)], basic).await;
    assert_eq!(s, 200);
    assert_eq!(
        (i["active"].as_bool(), i["client_id"].as_str(), i["token_type"].as_str()),
        (Some(true), Some("svc"), Some("Bearer"))
    );
    // Another client does not see it.
    let (_, other, _) =
        token_call(&app, &realm, "token/introspect", &[("token", access)], Some(("web", &realm.web_secret))).await;
    assert_eq!(other, serde_json::json!({"active": false}));
    let (s, _, _) = token_call(&app, &realm, "revoke", &[("token", access)], basic).await;
    assert_eq!(s, 200);
    let (_, i, _) = token_call(&app, &realm, "token/introspect", &[("token", access)], basic).await;
    assert_eq!(i, serde_json::json!({"active": false}));
    // No credentials, a wrong secret: invalid_client with a Basic challenge.
    let (s, e, h) = token_call(&app, &realm, "token", &[("grant_type", "client_credentials")], Some(("svc", "wrong"))).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("Basic realm="));
}

#[tokio::test]
async fn logout_with_a_hint_ends_the_sign_in_and_every_token_of_it_and_returns_to_the_client() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (code, verifier, mut browser) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let hint = t["id_token"].as_str().unwrap();
    let mut url = url::Url::parse("http://x/").unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "https://app.example.com/bye")
        .append_pair("state", "bye-1");
    let out = browser.get(&format!("{}?{}", realm.endpoint("logout"), url.query().unwrap())).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.location().as_str(), "https://app.example.com/bye?state=bye-1");
    let (_, i, _) = token_call(
        &app,
        &realm,
        "token/introspect",
        &[("token", t["refresh_token"].as_str().unwrap())],
        Some(("web", &realm.web_secret)),
    )
    .await;
    assert_eq!(i["active"], false);
    // The browser is signed out: a new request shows the sign-in page again.
    let (params, _) = web_params("openid");
    let page = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(page.body.contains("id=\"login-form\""), "{}", page.body);
}

#[tokio::test]
async fn the_sign_in_page_leads_to_a_mailed_reset_link_that_works_once() {
    let app = castellan_testkit::spawn_app_with(castellan_testkit::TestOptions { smtp: true, ..Default::default() }).await;
    let realm = realm(&app).await;
    let (params, _) = web_params("openid");
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert!(login.body.contains(&format!("href=\"{}/forgot-password\"", realm.base())), "{}", login.body);
    let form = browser.get(&format!("{}/forgot-password", realm.base())).await;
    assert_eq!(form.status, 200);
    let csrf = form.field("csrf").unwrap();
    let path = format!("{}/forgot-password", realm.base());
    let sent = browser.post(&path, &[("csrf", &csrf), ("email", EMAIL)]).await;
    let unknown = browser.post(&path, &[("csrf", &csrf), ("email", "nobody@example.com")]).await;
    assert_eq!((sent.status, unknown.status), (200, 200));
    assert_eq!(sent.body, unknown.body, "the answer does not tell whether the address has an account");
    // Without the form's token, or from another site, nothing is sent.
    let forged = browser.post(&path, &[("csrf", "forged"), ("email", EMAIL)]).await;
    assert_eq!(forged.status, 403);
    let mail = app.smtp.as_ref().unwrap().wait_for(EMAIL, 1).await;
    let body = mail.body();
    let token = crate::korastratum::link_token(&body, "reset-password?token=");
    let reset = |password: &'static str| {
        let token = token.clone();
        let app = &app;
        let slug = realm.slug.clone();
        async move {
            app.client
                .post(app.url(&format!("/t/{slug}/reset-password")))
                .form(&[("token", token.as_str()), ("password", password), ("confirm", password)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(reset("Looking-Glass-2027!").await, 200);
    assert_eq!(reset("Another-Pass-2028!").await, 400, "one use");
    let again = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let after = browser.sign_in(&realm, &again, EMAIL, "Looking-Glass-2027!").await;
    assert!(after.body.contains("id=\"consent-form\""), "signed in with the new password: {}", after.body);
}

#[tokio::test]
async fn a_user_with_totp_gives_the_code_after_the_password_and_gets_acr_2() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, enrolled) =
        app.admin(reqwest::Method::POST, &format!("/tenants/{}/users/{}/totp", realm.slug, realm.user_id), None).await;
    assert_eq!(s, 201, "{enrolled}");
    let secret = enrolled["secret"].as_str().unwrap().to_string();
    let (params, verifier) = web_params("openid");
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let totp_page = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    assert!(totp_page.body.contains("id=\"totp-form\""), "{}", totp_page.body);
    assert!(!browser.cookies.contains_key("castellan_sso"), "not signed in before the code");
    let fields = |page: &Page, code: &str| {
        vec![
            ("csrf".to_string(), page.field("csrf").unwrap()),
            ("request".into(), page.field("request").unwrap()),
            ("mfa_token".into(), page.field("mfa_token").unwrap()),
            ("code".into(), code.to_string()),
        ]
    };
    let path = format!("{}/login/totp", realm.base());
    let wrong = browser.post(&path, &as_refs(&fields(&totp_page, "000000"))).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("id=\"totp-form\""));
    let code = crate::helpers::code(&app, &secret, 0);
    let consent = browser.post(&path, &as_refs(&fields(&wrong, &code))).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    let t = web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), "web").await;
    assert_eq!(id["acr"], "2");
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

#[tokio::test]
async fn two_nodes_share_the_flow_and_a_logout_on_one_ends_the_session_on_the_other_within_the_bound() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let realm = realm(&a).await;
    let (params, verifier) = web_params("openid email");
    // Authorize on A, sign in and consent on B (the browser's cookies go with it).
    let mut on_a = Browser::new(&a);
    let login = on_a.get(&authorize_path(&realm, &as_refs(&params))).await;
    let mut on_b = Browser { app: &b, cookies: on_a.cookies.clone() };
    let consent = on_b.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = on_b.decide(&realm, &consent, "allow").await;
    // The code is exchanged on A.
    let t = web_tokens(&a, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    let access = t["access_token"].as_str().unwrap();
    let userinfo =
        |app: &castellan_testkit::TestApp| app.client.get(app.url(&realm.endpoint("userinfo"))).bearer_auth(access).send();
    assert_eq!(userinfo(&a).await.unwrap().status(), 200);
    // Logout on B, confirmed on its page: the token stops working on A at once.
    let confirm = on_b.get(&realm.endpoint("logout")).await;
    assert!(confirm.body.contains("id=\"logout-form\""), "{}", confirm.body);
    let csrf = confirm.field("csrf").unwrap();
    let out = on_b.post(&realm.endpoint("logout"), &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("id=\"signed-out\""));
    crate::helpers::refused_within_the_bound("userinfo on A", || async { userinfo(&a).await.unwrap().status() == 401 }).await;
    let fields = [("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())];
    let (s, e, _) = token_call(&a, &realm, "token", &fields, Some(("web", &realm.web_secret))).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn a_client_moved_from_keycloak_keeps_its_id_and_secret_and_only_the_host_changes() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let kept = "kc-Secret-0123456789abcdef";
    let body = serde_json::json!({"name": "Moved", "kind": "service", "client_id": "reporting", "client_secret": kept});
    let created = create_client(&app, &realm.slug, body).await;
    assert!(created.get("client_secret").is_none(), "a kept secret is not answered back: {created}");
    let fields = [("grant_type", "client_credentials")];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, Some(("reporting", kept))).await;
    assert_eq!(s, 200, "{t}");
    // Registered for the header, the secret in the form is refused (the client's method only);
    // a client that sends it in the form is registered so, and then works.
    let in_form = [("grant_type", "client_credentials"), ("client_id", "reporting"), ("client_secret", kept)];
    let (s, e, _) = token_call(&app, &realm, "token", &in_form, None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let patch = serde_json::json!({"token_endpoint_auth_method": "client_secret_post"});
    let (s, e) = app.admin(reqwest::Method::PATCH, &format!("/tenants/{}/applications/reporting", realm.slug), Some(patch)).await;
    assert_eq!(s, 200, "{e}");
    let (s, posted, _) = token_call(&app, &realm, "token", &in_form, None).await;
    assert_eq!(s, 200, "{posted}");
    // A client with a secret still cannot go without it.
    let (s, e, _) =
        token_call(&app, &realm, "token", &[("grant_type", "client_credentials"), ("client_id", "reporting")], None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    // Keycloak's paths: the issuer is <host>/realms/<realm>.
    let claims = verify(&app, &realm, t["access_token"].as_str().unwrap(), "reporting").await;
    assert_eq!(claims["iss"], format!("{}/realms/{}", app.address, realm.slug));
    // A short secret, or one for a public client, is refused.
    for body in [
        serde_json::json!({"name": "Short", "kind": "service", "client_secret": "short"}),
        serde_json::json!({"name": "Public", "kind": "public", "client_secret": "kc-Secret-0123456789abcdef"}),
    ] {
        let (s, e) = app.admin(reqwest::Method::POST, &format!("/tenants/{}/applications", realm.slug), Some(body)).await;
        assert_eq!(s, 400, "{e}");
        assert!(e.to_string().contains("client_secret"), "{e}");
    }
}

#[tokio::test]
async fn two_sign_in_tabs_of_one_browser_both_work() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (params, _) = web_params("openid");
    let mut browser = Browser::new(&app);
    let first = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    let second = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(first.field("csrf"), second.field("csrf"), "one form token per browser");
    let consent = browser.sign_in(&realm, &first, EMAIL, PASSWORD).await;
    assert!(consent.body.contains("id=\"consent-form\""), "the older tab still signs in: {}", consent.body);
}

#[tokio::test]
async fn sign_in_pages_keep_their_opener_for_popup_flows_and_refuse_framing() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (mut params, _) = web_params("openid");
    params.push(("display".into(), "popup".into()));
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(login.status, 200);
    // COOP same-origin here would cut the popup from its opener before the redirect URI could report back.
    assert_eq!(login.headers["cross-origin-opener-policy"], "unsafe-none");
    assert!(login.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn a_public_client_cannot_introspect_and_discovery_names_the_realms_issuer() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, e, _) = token_call(&app, &realm, "token/introspect", &[("token", "x.y.z"), ("client_id", "spa")], None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let get = || app.client.get(app.url(&format!("{}/.well-known/openid-configuration", realm.base()))).send();
    let (a, b) = (get().await.unwrap().text().await.unwrap(), get().await.unwrap().text().await.unwrap());
    assert_eq!(a, b);
    let doc: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(doc["issuer"], format!("{}{}", app.address, realm.base()));
}

#[tokio::test]
async fn keycloaks_back_end_logout_ends_the_sign_in_of_a_refresh_token_with_204() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (code, verifier, _) = web_code(&app, &realm, "openid").await;
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let fields = [("refresh_token", t["refresh_token"].as_str().unwrap())];
    let web = Some((realm.web.as_str(), realm.web_secret.as_str()));
    // Without client authentication: nothing ends.
    let (s, e, _) = token_call(&app, &realm, "logout", &fields, None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let (s, _, _) = token_call(&app, &realm, "logout", &fields, web).await;
    assert_eq!(s, 204);
    let r = app
        .client
        .get(app.url(&realm.endpoint("userinfo")))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the sign-in ended with its tokens");
    // The token is of no use any more: a second back-end logout is refused.
    let (s, e, _) = token_call(&app, &realm, "logout", &fields, web).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, list) = app.admin(reqwest::Method::GET, &format!("/tenants/{}/audit?action=sign_out", realm.slug), None).await;
    assert_eq!(s, 200);
    let outcomes: Vec<&str> = list.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"invalid_client"), "{outcomes:?}");
}

#[tokio::test]
async fn a_sign_in_page_and_a_sign_in_outlive_a_restart() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (params, verifier) = web_params("openid");
    let mut before = Browser::new(&app);
    let login = before.get(&authorize_path(&realm, &as_refs(&params))).await;
    let cookies = before.cookies.clone();
    let app = app.restart().await;
    // The page's sealed request and form token still work on the restarted server...
    let mut browser = Browser { app: &app, cookies };
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    web_tokens(&app, &realm, &back.sent_back("code").unwrap(), &verifier).await;
    // ...and so does the sign-in after another restart: no page, a code at once.
    let cookies = browser.cookies.clone();
    let app = app.restart().await;
    let mut browser = Browser { app: &app, cookies };
    let (params, _) = web_params("openid");
    let again = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(again.sent_back("code").is_some());
}
