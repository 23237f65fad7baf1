//! Dynamic client registration (RFC 7591) and client management (RFC 7592): off by default,
//! protected by initial access tokens from the admin API or open; registered clients checked as
//! the admin API checks clients, never first-party, managed with their registration access token.

use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::{Value, json};

use super::*;

const MCP_REDIRECT: &str = "http://127.0.0.1/mcp/callback";

async fn set_registration(app: &TestApp, realm: &Realm, mode: &str) {
    let path = format!("/tenants/{}/policy", realm.slug);
    let (_, mut policy) = app.admin(Method::GET, &path, None).await;
    policy["client_registration"] = json!(mode);
    let (s, b) = app.admin(Method::PUT, &path, Some(policy)).await;
    assert_eq!(s, 200, "{b}");
}

fn registration_endpoint(realm: &Realm) -> String {
    format!("{}/clients-registrations/openid-connect", realm.base())
}

/// A registration request: (status, body, WWW-Authenticate).
async fn register(app: &TestApp, realm: &Realm, token: Option<&str>, body: Value) -> (u16, Value, Option<String>) {
    let mut rb = app.client.post(app.url(&registration_endpoint(realm))).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), challenge)
}

/// A call to a registered client's management URI: (status, body).
async fn manage(app: &TestApp, method: Method, uri: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut rb = app.client.request(method, uri).bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn mcp_metadata() -> Value {
    json!({"client_name": "MCP-style client", "redirect_uris": [MCP_REDIRECT], "token_endpoint_auth_method": "none",
           "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
           "scope": "openid profile offline_access", "software_id": "ignored-by-the-server"})
}

#[tokio::test]
async fn registration_is_off_until_the_policy_turns_it_on_and_then_needs_an_initial_access_token() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, e, _) = register(&app, &realm, None, mcp_metadata()).await;
    assert_eq!((s, e["error"].as_str()), (403, Some("access_denied")), "{e}");
    assert!(discovery(&app, &realm).await.get("registration_endpoint").is_none());
    let (_, policy) = app.admin(Method::GET, &format!("/tenants/{}/policy", realm.slug), None).await;
    assert_eq!(policy["client_registration"], "off", "the setting shows, off");

    set_registration(&app, &realm, "protected").await;
    assert_eq!(
        discovery(&app, &realm).await["registration_endpoint"].as_str(),
        Some(format!("{}{}", app.address, registration_endpoint(&realm)).as_str())
    );
    let (s, e, challenge) = register(&app, &realm, None, mcp_metadata()).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_token")), "{e}");
    assert!(challenge.unwrap().starts_with("Bearer "));
    let (s, _, _) = register(&app, &realm, Some("made-up"), mcp_metadata()).await;
    assert_eq!(s, 401);
    // An initial access token from the admin API registers as many clients as it says.
    let path = format!("/tenants/{}/registration-tokens", realm.slug);
    let (s, issued) = app.admin(Method::POST, &path, Some(json!({"expires_in": 600, "count": 2}))).await;
    assert_eq!(s, 201, "{issued}");
    let (_, events) =
        app.admin(Method::GET, &format!("/tenants/{}/audit?action=registration_token.issue", realm.slug), None).await;
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    let token = issued["token"].as_str().unwrap();
    for _ in 0..2 {
        let (s, c, _) = register(&app, &realm, Some(token), mcp_metadata()).await;
        assert_eq!(s, 201, "{c}");
        assert!(c["client_id"].as_str().unwrap().starts_with("dyn-"));
        assert!(c.get("client_secret").is_none(), "a public client has no secret");
        assert!(c["registration_access_token"].as_str().is_some_and(|t| t.len() >= 40));
        assert_eq!(c["token_endpoint_auth_method"], "none");
        assert_eq!(c["scope"], "openid profile offline_access");
        assert!(c.get("software_id").is_none(), "unknown metadata is not kept");
    }
    let (s, e, _) = register(&app, &realm, Some(token), mcp_metadata()).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_token")), "used up: {e}");
    // The admin API refuses tokens that live too long or register nothing.
    let (s, _) = app.admin(Method::POST, &path, Some(json!({"expires_in": 40 * 86400}))).await;
    assert_eq!(s, 400);
    let (s, _) = app.admin(Method::POST, &path, Some(json!({"count": 0}))).await;
    assert_eq!(s, 400);
    // Another realm's token is not this realm's.
    let other = realm_with_suffix(&app, "-b").await;
    set_registration(&app, &other, "protected").await;
    let (_, issued) = app.admin(Method::POST, &format!("/tenants/{}/registration-tokens", other.slug), Some(json!({}))).await;
    let (s, _, _) = register(&app, &realm, issued["token"].as_str(), mcp_metadata()).await;
    assert_eq!(s, 401);
    let path = format!("/tenants/{}/audit?action=client.register", realm.slug);
    let (_, events) = app.admin(Method::GET, &path, None).await;
    let outcomes: Vec<&str> = events.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"invalid_token"), "{outcomes:?}");
}

#[tokio::test]
async fn registered_metadata_is_checked_as_the_admin_api_checks_clients() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    set_registration(&app, &realm, "open").await;
    let refused = [
        (json!({"redirect_uris": ["https://app.example.com/cb#frag"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (json!({"redirect_uris": [MCP_REDIRECT], "response_types": ["token"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [MCP_REDIRECT], "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [MCP_REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}), "invalid_client_metadata"),
        (json!({"redirect_uris": [MCP_REDIRECT], "scope": "openid admin"}), "invalid_client_metadata"),
        (json!({"redirect_uris": "https://app.example.com/cb"}), "invalid_client_metadata"),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (body, error) in refused {
        let (s, e, _) = register(&app, &realm, None, body.clone()).await;
        assert_eq!((s, e["error"].as_str()), (400, Some(error)), "{body}: {e}");
    }
    // Not JSON at all.
    let r = app.client.post(app.url(&registration_endpoint(&realm))).body("{nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // Ten requests a minute per address, whatever their outcome: the tenth passes, not the 11th.
    let (s, c, _) = register(&app, &realm, None, mcp_metadata()).await;
    assert_eq!(s, 201, "{c}");
    let (s, e, _) = register(&app, &realm, None, mcp_metadata()).await;
    assert_eq!((s, e["error"].as_str()), (429, Some("slow_down")), "{e}");
}

#[tokio::test]
async fn an_mcp_style_client_registers_itself_signs_a_user_in_with_pkce_and_manages_its_registration() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    set_registration(&app, &realm, "open").await;
    let (s, c, _) = register(&app, &realm, None, mcp_metadata()).await;
    assert_eq!(s, 201, "{c}");
    let client_id = c["client_id"].as_str().unwrap().to_string();
    let rat = c["registration_access_token"].as_str().unwrap().to_string();
    let uri = c["registration_client_uri"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("{}{}/{client_id}", app.address, registration_endpoint(&realm)));

    // The code flow with PKCE; a registered client is never first-party: the user consents.
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", MCP_REDIRECT),
        ("scope", "openid profile offline_access"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut browser = Browser::new(&app);
    let login = browser.get(&authorize_path(&realm, &params)).await;
    let consent = browser.sign_in(&realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(&realm, &consent, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    let code = back.sent_back("code").unwrap();
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", MCP_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{t}");
    assert!(t["refresh_token"].as_str().is_some());
    // Without the verifier: PKCE is required of every registered client.
    let params = [("client_id", client_id.as_str()), ("redirect_uri", MCP_REDIRECT), ("scope", "openid"), ("state", "s")];
    let page = Browser::new(&app).get(&authorize_path(&realm, &params)).await;
    assert!(page.location().to_string().contains("error=invalid_request"), "{}", page.location());

    // RFC 7592: read, update, delete with the registration access token, and nothing without it.
    let (s, read) = manage(&app, Method::GET, &uri, &rat, None).await;
    assert_eq!(s, 200, "{read}");
    assert_eq!((read["client_id"].as_str(), read.get("registration_access_token")), (Some(client_id.as_str()), None));
    let (s, e) = manage(&app, Method::GET, &uri, "not-the-token", None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_token")));
    let (_, other, _) = register(&app, &realm, None, mcp_metadata()).await;
    let other_rat = other["registration_access_token"].as_str().unwrap();
    let (s, _) = manage(&app, Method::GET, &uri, other_rat, None).await;
    assert_eq!(s, 401, "another client's registration access token");
    let mut changed = mcp_metadata();
    changed["client_id"] = json!(client_id);
    changed["client_name"] = json!("Renamed");
    changed["redirect_uris"] = json!([MCP_REDIRECT, "http://127.0.0.1/mcp/other"]);
    let (s, u) = manage(&app, Method::PUT, &uri, &rat, Some(changed.clone())).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!((u["client_name"].as_str(), u["redirect_uris"].as_array().map(Vec::len)), (Some("Renamed"), Some(2)));
    changed["token_endpoint_auth_method"] = json!("client_secret_basic");
    let (s, e) = manage(&app, Method::PUT, &uri, &rat, Some(changed)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_client_metadata")), "the kind of client cannot change: {e}");
    // Left out, the auth method, grants and scope keep their values: nothing widens by omission.
    let sparse = json!({"client_id": client_id, "client_name": "Sparse", "redirect_uris": [MCP_REDIRECT]});
    let (s, u) = manage(&app, Method::PUT, &uri, &rat, Some(sparse)).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(
        (u["token_endpoint_auth_method"].as_str(), u["scope"].as_str()),
        (Some("none"), Some("openid profile offline_access"))
    );
    assert_eq!(u["grant_types"], json!(["authorization_code", "refresh_token"]));
    // Not JSON, with the right token: invalid metadata; with a wrong one: the token first.
    let r = app.client.put(&uri).bearer_auth(&rat).body("{nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = app.client.put(&uri).bearer_auth("nope").body("{nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app.client.delete(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, _) = manage(&app, Method::GET, &uri, &rat, None).await;
    assert_eq!(s, 401, "gone with its client");
    let refresh = t["refresh_token"].as_str().unwrap();
    let fields = [("grant_type", "refresh_token"), ("client_id", client_id.as_str()), ("refresh_token", refresh)];
    let (s, e, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    // Every use of a registration access token is one event, refusals included.
    let mut seen = Vec::new();
    for action in ["client.registration_read", "client.registration_update", "client.registration_delete"] {
        let (_, events) = app.admin(Method::GET, &format!("/tenants/{}/audit?action={action}", realm.slug), None).await;
        let mut outcomes: Vec<String> =
            events.as_array().unwrap().iter().filter_map(|e| e["outcome"].as_str().map(str::to_string)).collect();
        outcomes.sort();
        seen.push((action, outcomes));
    }
    assert_eq!(
        seen,
        [
            (
                "client.registration_read",
                vec!["invalid_token".to_string(), "invalid_token".into(), "invalid_token".into(), "success".into()]
            ),
            (
                "client.registration_update",
                vec![
                    "invalid_client_metadata".to_string(),
                    "invalid_client_metadata".into(),
                    "invalid_token".into(),
                    "success".into(),
                    "success".into()
                ]
            ),
            ("client.registration_delete", vec!["success".to_string()]),
        ]
    );
}

#[tokio::test]
async fn a_registered_confidential_client_gets_a_secret_shown_once_that_authenticates_it() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    set_registration(&app, &realm, "open").await;
    let body = json!({"client_name": "Backend", "grant_types": ["client_credentials"], "scope": "profile",
                      "token_endpoint_auth_method": "client_secret_post"});
    let (s, c, _) = register(&app, &realm, None, body).await;
    assert_eq!(s, 201, "{c}");
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    assert_eq!((c["client_secret_expires_at"].as_i64(), c["grant_types"].clone()), (Some(0), json!(["client_credentials"])));
    let fields = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let (s, t, _) = token_call(&app, &realm, "token", &fields, None).await;
    assert_eq!(s, 200, "{t}");
    // Read back: the secret is not shown again.
    let (_, read) = manage(
        &app,
        Method::GET,
        c["registration_client_uri"].as_str().unwrap(),
        c["registration_access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert!(read.get("client_secret").is_none(), "{read}");
}
