//! docs/security.md rows that the MOSIP dialect reaches, named after their rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use castellan_core::services::keys::ASYMMETRIC;
use castellan_testkit::{TestApp, TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::join_all;
use crate::mosip::*;

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

async fn signed(app: &TestApp, claims: Value) -> String {
    let tenant = app.core.tenants().find_tenant("mosip").await.unwrap();
    app.core.signing_keys().sign_token(&tenant, ASYMMETRIC, "JWT", &claims).await.unwrap()
}

async fn refused(app: &TestApp, token: &str) {
    let (s, b) = validate(app, token).await;
    assert_error(s, &b, "KER-ATH-401");
}

async fn accepted(app: &TestApp, token: &str) {
    let (s, b) = validate(app, token).await;
    assert_success(s, &b);
}

fn pwd_request(secret: &str, user: &str, password: &str) -> Value {
    json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": secret, "password": password, "userName": user})
}

/// The body of an error envelope without its timestamp.
fn comparable(mut b: Value) -> Value {
    b["responsetime"] = Value::Null;
    b
}

#[tokio::test]
async fn row9_and_row12_locked_unknown_wrong_and_disabled_answer_alike_and_the_lock_holds() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (_, wrong, _) =
        post(&app, "/authenticate/internal/useridPwd", "x", pwd_request(&realm.admin_secret, "110006", "nope-nope")).await;
    let (_, unknown, _) =
        post(&app, "/authenticate/internal/useridPwd", "x", pwd_request(&realm.admin_secret, "999999", "nope-nope")).await;
    let (s, users) = app.admin(Method::GET, "/tenants/mosip/users?username=nophone", None).await;
    assert_eq!(s, 200);
    let id = users[0]["id"].as_str().unwrap();
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/mosip/users/{id}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    let (_, disabled, _) =
        post(&app, "/authenticate/internal/useridPwd", "x", pwd_request(&realm.admin_secret, "nophone", ADMIN_PASSWORD)).await;
    assert_error(200, &wrong, "KER-ATH-023");
    assert_eq!(comparable(wrong.clone()), comparable(unknown));
    assert_eq!(comparable(wrong.clone()), comparable(disabled));
    // Five wrong passwords lock the account: the right one then gets the same answer.
    for _ in 0..4 {
        post(&app, "/authenticate/internal/useridPwd", "x", pwd_request(&realm.admin_secret, "110006", "nope-nope")).await;
    }
    let (_, locked, h) =
        post(&app, "/authenticate/internal/useridPwd", "x", pwd_request(&realm.admin_secret, "110006", ADMIN_PASSWORD)).await;
    assert_eq!(comparable(wrong), comparable(locked));
    assert!(h.get("set-cookie").is_none());
    app.clock.advance(901);
    admin_login(&app, &realm).await;
}

#[tokio::test]
async fn row17_a_code_opens_only_its_own_key_and_realm() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let ida = service_token(&app, "mosip-ida-client", &realm.ida_secret).await;
    let (_, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    let (s, b) = otp_validate(&app, &ida, "9820173643", &otp).await;
    assert_error(s, &b, "AUTH_ERR_OTPNOTVALID");
    // A service code is not a login code for a user of the same id.
    let (s, b, _) = post(&app, "/authenticate/useridOTP", "x", json!({"userId": "9820173642", "otp": otp, "appId": "ida"})).await;
    assert_error(s, &b, "AUTH_ERR_INVALIDOTP");
    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_success(s, &b);
}

#[tokio::test]
async fn row26_row29_row33_forged_headers_payloads_and_kids_are_refused_never_a_500() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (token, _) = admin_login(&app, &realm).await;
    accepted(&app, &token).await;
    let claims = part(&token, 1);
    let mut header = part(&token, 0);
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    for none in ["none", "None"] {
        header["alg"] = json!(none);
        refused(&app, &format!("{}.{}.", enc(&header), enc(&claims))).await;
    }
    header = part(&token, 0);
    for kid in ["../../dev/null", "' OR 1=1--", "unknown", ""] {
        header["kid"] = json!(kid);
        let sig = token.split('.').nth(2).unwrap();
        refused(&app, &format!("{}.{}.{sig}", enc(&header), enc(&claims))).await;
    }
    for junk in ["a.b.c", "....", "x", &"A".repeat(9000)] {
        let (s, b, _) = call(
            &app,
            Method::GET,
            "/v1/authmanager/authorize/admin/validateToken",
            Some(&format!("Authorization={junk}")),
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert!(b["errors"][0]["errorCode"] == "KER-ATH-401" || b["errors"][0]["errorCode"] == "KER-ATH-006", "{b}");
    }
}

#[tokio::test]
async fn row30_row31_expiry_issuer_audience_and_typ_are_checked() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (token, _) = admin_login(&app, &realm).await;
    let good = part(&token, 1);
    // A faithful re-signing passes, so each forgery below fails for its one defect.
    accepted(&app, &signed(&app, good.clone()).await).await;
    let now = good["iat"].as_i64().unwrap();
    let mut cases = Vec::new();
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("exp");
    cases.push(c);
    let mut c = good.clone();
    c["exp"] = json!(now - 31);
    cases.push(c);
    let mut c = good.clone();
    c["nbf"] = json!(now + 120);
    cases.push(c);
    let mut c = good.clone();
    c["iss"] = json!("https://evil.example/realms/mosip");
    cases.push(c);
    let mut c = good.clone();
    c["aud"] = json!("another-client");
    cases.push(c);
    let mut c = good.clone();
    c["typ"] = json!("Refresh");
    cases.push(c);
    for claims in cases {
        refused(&app, &signed(&app, claims).await).await;
    }
}

#[tokio::test]
async fn row32_a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (_, refresh) = admin_login(&app, &realm).await;
    refused(&app, &refresh).await;
}

#[tokio::test]
async fn row40_concurrent_refreshes_of_one_token_have_one_winner() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (_, refresh) = admin_login(&app, &realm).await;
    let body = envelope("x", json!({"refreshToken": refresh}));
    let calls =
        (0..10).map(|_| call(&app, Method::POST, "/v1/authmanager/authorize/refreshToken/admin", None, Some(body.clone())));
    let results = join_all(calls.collect()).await;
    assert_eq!(results.iter().filter(|(_, b, _)| b["errors"].is_null()).count(), 1, "{results:?}");
}

#[tokio::test]
async fn row45_a_disabled_user_loses_every_token_at_once() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (token, refresh) = admin_login(&app, &realm).await;
    let (_, users) = app.admin(Method::GET, "/tenants/mosip/users?username=110006", None).await;
    let id = users[0]["id"].as_str().unwrap();
    let (s, _) = app.admin(Method::PATCH, &format!("/tenants/mosip/users/{id}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    refused(&app, &token).await;
    let (s, b, _) = call(
        &app,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/admin",
        None,
        Some(envelope("x", json!({"refreshToken": refresh}))),
    )
    .await;
    assert_error(s, &b, "KER-ATH-401");
}

#[tokio::test]
async fn row56_client_credentials_get_no_refresh_token_only_their_roles_and_fresh_jtis() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let request = json!({"appId": "ida", "clientId": "mosip-abis-client", "secretKey": realm.abis_secret, "scope": "GLOBAL_ADMIN",
                         "roles": ["OTP_MANAGER"]});
    let (s, b, h) = post(&app, "/authenticate/clientidsecretkey", "x", request.clone()).await;
    assert_success(s, &b);
    assert!(b["response"].get("refreshToken").is_none() && set_cookie(&h, "refresh_token").is_none());
    let first = token_of(&h);
    assert_eq!(claims(&first)["realm_access"]["roles"], json!(["offline_access", "uma_authorization"]));
    let (_, _, h) = post(&app, "/authenticate/clientidsecretkey", "x", request).await;
    assert_ne!(claims(&first)["jti"], claims(&token_of(&h))["jti"]);
    // A deactivated client gets nothing, and the secret of another client opens nothing.
    let (s, b, _) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "x",
        json!({"appId": "ida", "clientId": "mosip-abis-client", "secretKey": realm.ida_secret}),
    )
    .await;
    assert_error(s, &b, "500");
    accepted(&app, &first).await;
    let (s, _) = app.admin(Method::PATCH, "/tenants/mosip/applications/mosip-abis-client", Some(json!({"active": false}))).await;
    assert_eq!(s, 200);
    // Its tokens end with it.
    refused(&app, &first).await;
    let (s, b, _) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "x",
        json!({"appId": "ida", "clientId": "mosip-abis-client", "secretKey": realm.abis_secret}),
    )
    .await;
    assert_error(s, &b, "500");
}

#[tokio::test]
async fn credential_endpoints_are_rate_limited_in_the_envelope() {
    let app =
        spawn_app_with(TestOptions { settings: Some(Box::new(|s| s.auth_rate_limit_per_minute = 3)), ..Default::default() })
            .await;
    realm(&app).await;
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            post(
                &app,
                "/authenticate/clientidsecretkey",
                "x",
                json!({"appId": "ida", "clientId": "mosip-abis-client", "secretKey": "wrong"}),
            )
            .await,
        );
    }
    let (s, b, h) = last.unwrap();
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["errors"][0]["errorCode"], "KER-ATH-429");
    assert!(h.get("retry-after").unwrap().to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_envelope(&b);
}

#[tokio::test]
async fn a_refresh_token_is_spent_only_by_the_dialect_that_issued_it() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    // One tenant served by both dialects, with a kumusoft application.
    let (s, b) = app.admin(Method::PATCH, "/tenants/mosip", Some(json!({"dialects": ["mosip", "kumusoft"]}))).await;
    assert_eq!(s, 200, "{b}");
    crate::helpers::kumu_app(&app, "mosip", "REALM_PORTAL").await;
    let (s, b) = crate::helpers::kumu_login(&app, "110006", ADMIN_PASSWORD, "REALM_PORTAL").await;
    crate::helpers::assert_kumu(s, &b, 200, "00");
    let mail = crate::helpers::outbox_message(&app, "110006@xyz.com", 1).await;
    let code = crate::helpers::code_in(mail["body"].as_str().unwrap());
    let verify = json!({"userId": b["data"]["userId"], "otp": code, "challengeId": b["data"]["challengeId"]});
    let (s, b) = crate::helpers::kumu(&app, Method::POST, "/otp/verify", None, Some(verify)).await;
    crate::helpers::assert_kumu(s, &b, 200, "00");
    let kumu_refresh = b["data"]["refreshToken"].as_str().unwrap().to_string();
    let (_, mosip_refresh) = admin_login(&app, &realm).await;

    let body = envelope("x", json!({"refreshToken": kumu_refresh}));
    let (s, b, _) = call(&app, Method::POST, "/v1/authmanager/authorize/refreshToken/admin", None, Some(body)).await;
    assert_error(s, &b, "KER-ATH-401");
    let (s, b) =
        crate::helpers::kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": mosip_refresh}))).await;
    crate::helpers::assert_kumu(s, &b, 401, "07");
    // Each still works where it belongs: the refusals spent nothing.
    let (s, b) =
        crate::helpers::kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": kumu_refresh}))).await;
    crate::helpers::assert_kumu(s, &b, 200, "00");
    let body = envelope("x", json!({"refreshToken": mosip_refresh}));
    let (s, b, _) = call(&app, Method::POST, "/v1/authmanager/authorize/refreshToken/admin", None, Some(body)).await;
    assert_success(s, &b);
}
