//! The admin API.

use castellan_testkit::spawn_app;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn tenants_applications_and_users_round_trip() {
    let app = spawn_app().await;
    let (s, t) = app
        .admin(Method::POST, "/tenants", Some(json!({"slug": "acme", "display_name": "Acme", "profile": "korastratum"})))
        .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["dialects"], json!(["korastratum"]));
    assert_eq!(t["issuer"], "bankapp-api");
    let (s, _) = app.admin(Method::POST, "/tenants", Some(json!({"slug": "acme", "display_name": "Again"}))).await;
    assert_eq!(s, 409);
    let (s, list) = app.admin(Method::GET, "/tenants", None).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 1));
    let (s, p) = app.admin(Method::GET, "/tenants/acme/policy", None).await;
    assert_eq!((s, &p["sessions"]["max_concurrent"]), (200, &json!(5)));
    let mut p2 = p.clone();
    p2["lockout"]["threshold"] = json!(3);
    let (s, p3) = app.admin(Method::PUT, "/tenants/acme/policy", Some(p2)).await;
    assert_eq!((s, &p3["lockout"]["threshold"]), (200, &json!(3)));
    let mut bad = p.clone();
    bad["sessions"]["max_concurrent"] = json!(0);
    let (s, _) = app.admin(Method::PUT, "/tenants/acme/policy", Some(bad)).await;
    assert_eq!(s, 400);

    let (s, a) = app
        .admin(
            Method::POST,
            "/tenants/acme/applications",
            Some(json!({"name": "Mobile", "kind": "confidential", "client_id": "acme-mobile"})),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    assert!(a["client_secret"].as_str().unwrap().starts_with("cas_secret_"));
    assert!(a.get("secret_hash").is_none());
    let (s, k) = app.admin(Method::POST, "/tenants/acme/applications/acme-mobile/api-keys", None).await;
    assert_eq!(s, 201);
    assert!(k["api_key"].as_str().unwrap().starts_with(k["prefix"].as_str().unwrap()));
    let (s, _) = app
        .admin(
            Method::POST,
            "/tenants/acme/applications",
            Some(json!({"name": "Dup", "kind": "public", "client_id": "acme-mobile"})),
        )
        .await;
    assert_eq!(s, 409);

    let (s, u) = app
        .admin(
            Method::POST,
            "/tenants/acme/users",
            Some(json!({"email": "Jane@Example.com", "phone": "0700 000 111", "password": "SecurePass123!"})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(u["email"], "jane@example.com");
    assert_eq!(u["phone"], "+256700000111");
    assert!(u.get("password_hash").is_none());
    let (s, found) = app.admin(Method::GET, "/tenants/acme/users?email=JANE@example.com", None).await;
    assert_eq!((s, found.as_array().unwrap().len()), (200, 1));
    let (s, _) = app.admin(Method::POST, "/tenants/acme/users", Some(json!({"email": "jane@example.com"}))).await;
    assert_eq!(s, 409);
    let id = u["id"].as_str().unwrap();
    let (s, u2) =
        app.admin(Method::PATCH, &format!("/tenants/acme/users/{id}"), Some(json!({"first_name": "Jane", "phone": null}))).await;
    assert_eq!((s, &u2["first_name"], &u2["phone"]), (200, &json!("Jane"), &json!(null)));
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/acme/users/{id}"), Some(json!({"password_hash": "x"}))).await;
    assert_eq!(s, 400);
    let (s, totp) = app.admin(Method::POST, &format!("/tenants/acme/users/{id}/totp"), None).await;
    assert_eq!(s, 201);
    assert!(totp["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let (s, _) = app.admin(Method::DELETE, &format!("/tenants/acme/users/{id}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = app.admin(Method::GET, &format!("/tenants/acme/users/{id}"), None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_publishes_public_keys() {
    let app = spawn_app().await;
    let (slug, _) = crate::helpers::kora_tenant(&app).await;
    let (old, _) = crate::helpers::tokens(&app, &slug).await;
    let (s, k) = app.admin(Method::POST, &format!("/tenants/{slug}/keys/rotate"), Some(json!({"alg": "HS256"}))).await;
    assert_eq!(s, 201, "{k}");
    let (new, _) = crate::helpers::tokens(&app, &slug).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_eq!(kid(&new), k["kid"].as_str().unwrap());
    assert_ne!(kid(&old), kid(&new));
    let (s, _) = app.kora(Method::GET, "/api/v1/auth/sessions", &slug, Some(&old), None).await;
    assert_eq!(s, 200, "a token signed before rotation still verifies");
    let (s, _) = app.admin(Method::POST, &format!("/tenants/{slug}/keys/rotate"), Some(json!({"alg": "ES256"}))).await;
    assert_eq!(s, 201);
    let (s, jwks) = castellan_testkit::send(app.request(Method::GET, "/.well-known/jwks.json")).await;
    assert_eq!(s, 200);
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "HS256 secrets never appear: {jwks}");
    assert_eq!(keys[0]["kty"], "EC");
    assert!(keys[0].get("d").is_none());
}

#[tokio::test]
async fn the_dev_outbox_shows_mail_in_development_mode() {
    let app = spawn_app().await;
    let (slug, _) = crate::helpers::kora_tenant(&app).await;
    app.kora(Method::POST, "/api/v1/registration/forgot-password", &slug, None, Some(json!({"email": "user@example.com"}))).await;
    for _ in 0..100 {
        let (s, list) = app.admin(Method::GET, "/outbox?to=user@example.com", None).await;
        assert_eq!(s, 200);
        if let Some(m) = list.as_array().unwrap().first() {
            assert_eq!(m["channel"], "email");
            assert!(m["body"].as_str().unwrap().contains("reset-password?token="));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no message in the outbox");
}
