//! Pushed authorization requests (RFC 9126): pushed with client authentication, redeemed once,
//! by their client, within a minute; clients that must push.

use castellan_testkit::spawn_app;
use serde_json::json;

use super::*;

/// Pushes the web client's request: (request_uri, verifier).
async fn push(app: &TestApp, realm: &Realm, scope: &str) -> (String, String) {
    let (mut params, verifier) = client_params(&realm.web, scope);
    params.push(("response_type".into(), "code".into()));
    let (s, p, h) = token_call(app, realm, "ext/par/request", &as_refs(&params), Some((&realm.web, &realm.web_secret))).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_eq!(p["expires_in"], 60);
    let uri = p["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{uri}");
    (uri, verifier)
}

fn by_reference(realm: &Realm, client_id: &str, request_uri: &str) -> String {
    with_query(&realm.endpoint("auth"), &[("client_id", client_id), ("request_uri", request_uri)])
}

#[tokio::test]
async fn a_pushed_request_runs_the_code_flow_once_and_only_for_its_client() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (request_uri, verifier) = push(&app, &realm, "openid email").await;
    // Another client presenting it is refused, and does not spend it.
    let spa = format!("spa{}", &realm.web[3..]);
    let mut browser = Browser::new(&app);
    let page = browser.get(&by_reference(&realm, &spa, &request_uri)).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.headers.get("location").is_none(), "never a redirect");
    // Its own client: the pushed parameters are the request (state, nonce, PKCE, scope).
    let login = browser.get(&by_reference(&realm, &realm.web, &request_uri)).await;
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.sent_back("state").as_deref(), Some("st-123"));
    let code = back.sent_back("code").unwrap();
    let t = web_tokens(&app, &realm, &code, &verifier).await;
    let id = verify(&app, &realm, t["id_token"].as_str().unwrap(), &realm.web).await;
    assert_eq!((id["nonce"].as_str(), t["scope"].as_str()), (Some("n-456"), Some("openid email")));
    // Once.
    let again = browser.get(&by_reference(&realm, &realm.web, &request_uri)).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.error_text().unwrap().contains("request_uri"), "{}", again.body);
    // A minute, no more.
    let (late, _) = push(&app, &realm, "openid").await;
    app.clock.advance(61);
    let page = browser.get(&by_reference(&realm, &realm.web, &late)).await;
    assert_eq!(page.status, 400, "{}", page.body);
    // Parameters beside the request_uri are not the request: the pushed ones are.
    let (uri, _) = push(&app, &realm, "openid").await;
    let path = with_query(
        &realm.endpoint("auth"),
        &[("client_id", &realm.web), ("request_uri", &uri), ("redirect_uri", "https://evil.example/cb")],
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, 303, "signed in already: {}", page.body);
    assert!(page.location().as_str().starts_with(WEB_REDIRECT), "{}", page.location());
}

#[tokio::test]
async fn the_par_endpoint_checks_the_request_and_the_client_before_keeping_anything() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let basic = Some((realm.web.as_str(), realm.web_secret.as_str()));
    let (params, _) = client_params(&realm.web, "openid");
    let with = |name: &str, value: &str| {
        let mut p: Vec<(String, String)> = params.iter().filter(|(k, _)| k != name).cloned().collect();
        p.push((name.to_string(), value.to_string()));
        p
    };
    for (fields, error) in [
        (with("redirect_uri", "https://evil.example/cb"), "invalid_request"),
        (with("request_uri", "urn:ietf:params:oauth:request_uri:x"), "invalid_request"),
        (with("client_id", "svc"), "invalid_request"),
        (with("response_type", "token"), "unsupported_response_type"),
        (with("code_challenge_method", "plain"), "invalid_request"),
    ] {
        let mut fields = fields;
        if !fields.iter().any(|(k, _)| k == "response_type") {
            fields.push(("response_type".into(), "code".into()));
        }
        let (s, e, _) = token_call(&app, &realm, "ext/par/request", &as_refs(&fields), basic).await;
        assert_eq!((s, e["error"].as_str()), (400, Some(error)), "{fields:?}: {e}");
    }
    let mut fields = params.clone();
    fields.push(("response_type".into(), "code".into()));
    let (s, e, h) = token_call(&app, &realm, "ext/par/request", &as_refs(&fields), Some((&realm.web, "wrong"))).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    assert!(h.get("www-authenticate").is_some());
    let (_, events) =
        app.admin(reqwest::Method::GET, &format!("/tenants/{}/audit?action=par.request&limit=100", realm.slug), None).await;
    assert_eq!(events.as_array().unwrap().len(), 6, "{events}");
}

#[tokio::test]
async fn a_client_that_must_push_is_refused_a_plain_request() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, patched) = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/tenants/{}/applications/{}", realm.slug, realm.web),
            Some(json!({"require_par": true})),
        )
        .await;
    assert_eq!((s, &patched["require_par"]), (200, &json!(true)), "{patched}");
    let (params, _) = client_params(&realm.web, "openid");
    let mut browser = Browser::new(&app);
    let page = browser.get(&authorize_path(&realm, &as_refs(&params))).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.sent_back("error").as_deref(), Some("invalid_request"));
    assert_eq!(page.sent_back("state").as_deref(), Some("st-123"));
    let (request_uri, _) = push(&app, &realm, "openid").await;
    let login = browser.get(&by_reference(&realm, &realm.web, &request_uri)).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    let doc = discovery(&app, &realm).await;
    assert_eq!(doc["pushed_authorization_request_endpoint"], format!("{}{}", app.address, realm.endpoint("ext/par/request")));
    assert_eq!(doc["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn a_request_pushed_to_one_node_is_redeemed_once_across_nodes() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let realm = realm(&a).await;
    let (request_uri, _) = push(&a, &realm, "openid").await;
    let login = Browser::new(&b).get(&by_reference(&realm, &realm.web, &request_uri)).await;
    assert!(login.body.contains("id=\"login-form\""), "{}", login.body);
    let again = Browser::new(&a).get(&by_reference(&realm, &realm.web, &request_uri)).await;
    assert_eq!(again.status, 400, "{}", again.body);
}
