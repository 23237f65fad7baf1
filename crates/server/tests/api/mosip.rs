//! The MOSIP contract: the source's example requests replayed, each documented answer and error
//! code checked, plus what the contract promises beyond them (cookies, single use, freezing,
//! invalidation everywhere).

use castellan_testkit::{TestApp, TestOptions, spawn_app, spawn_app_with};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{code_in, join_all, outbox_count, outbox_message};
use crate::kumusoft::verify_with_jwks;

pub const ADMIN_PASSWORD: &str = "Mosip#110006pw";
pub const UIN: &str = "2530192395";
const RESIDENT_EMAIL: &str = "resident@example.com";
const RESIDENT_PHONE: &str = "+919820173642";

/// The realm's clients and their secrets.
pub struct Realm {
    pub admin_secret: String,
    pub abis_secret: String,
    pub ida_secret: String,
}

async fn application(app: &TestApp, slug: &str, body: Value) -> Option<String> {
    let (s, a) = app.admin(Method::POST, &format!("/tenants/{slug}/applications"), Some(body)).await;
    assert_eq!(s, 201, "{a}");
    a["client_secret"].as_str().map(str::to_string)
}

/// The realm `mosip` as the source's examples use it: appIds, the admin/ABIS clients, an
/// OTP-manager service, user 110006 and a resident with a UIN.
pub async fn realm(app: &TestApp) -> Realm {
    let slug = "mosip".to_string();
    let (s, t) =
        app.admin(Method::POST, "/tenants", Some(json!({"slug": slug, "display_name": "MOSIP", "profile": "mosip"}))).await;
    assert_eq!(s, 201, "{t}");
    for app_id in ["ida", "admin", "resident", "preregistration"] {
        let body = json!({"name": app_id, "kind": "public", "client_id": app_id, "mosip_app_id": app_id,
                          "single_otp_channel": app_id == "preregistration"});
        application(app, &slug, body).await;
    }
    let client = |id: &str, kind: &str, roles: &[&str]| json!({"name": id, "kind": kind, "client_id": id, "roles": roles});
    let admin_secret =
        application(app, &slug, client("mosip-admin-client", "confidential", &["offline_access", "uma_authorization"]))
            .await
            .unwrap();
    let abis_secret =
        application(app, &slug, client("mosip-abis-client", "service", &["offline_access", "uma_authorization"])).await.unwrap();
    let ida_secret = application(app, &slug, client("mosip-ida-client", "service", &["OTP_MANAGER"])).await.unwrap();
    let users = [
        json!({"username": "110006", "email": "110006@xyz.com", "password": ADMIN_PASSWORD, "first_name": "Test110006",
               "last_name": "Auto110006", "roles": ["REGISTRATION_ADMIN", "ZONAL_ADMIN"]}),
        json!({"username": "resident", "email": RESIDENT_EMAIL, "phone": RESIDENT_PHONE, "password": ADMIN_PASSWORD,
               "first_name": "Asha", "last_name": "Rao", "roles": ["RESIDENT"], "attributes": {"uin": UIN}}),
        json!({"username": "nophone", "email": "nophone@example.com", "password": ADMIN_PASSWORD}),
    ];
    for u in users {
        let (s, b) = app.admin(Method::POST, &format!("/tenants/{slug}/users"), Some(u)).await;
        assert_eq!(s, 201, "{b}");
    }
    Realm { admin_secret, abis_secret, ida_secret }
}

/// A request envelope as the source's examples send it.
pub fn envelope(id: &str, request: Value) -> Value {
    json!({"id": id, "metadata": {}, "request": request, "requesttime": "2019-04-29T07:01:24.692Z", "version": "string"})
}

/// A call with optional body and cookie; (status, body, headers).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let mut rb = app.request(method, path);
    if let Some(c) = cookie {
        rb = rb.header("Cookie", c);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

pub async fn post(app: &TestApp, path: &str, id: &str, request: Value) -> (u16, Value, HeaderMap) {
    call(app, Method::POST, &format!("/v1/authmanager{path}"), None, Some(envelope(id, request))).await
}

/// A MOSIP error envelope with this code (HTTP 200, as MOSIP answers).
pub fn assert_error(status: u16, body: &Value, code: &str) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["errorCode"], json!(code), "{body}");
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    assert_envelope(body);
}

pub fn assert_envelope(body: &Value) {
    for key in ["id", "version", "ver", "responsetime", "metadata", "response", "errors"] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    assert_eq!(body["version"], "1.0");
    assert_eq!(body["ver"], "1.0");
    let t = body["responsetime"].as_str().unwrap();
    assert!(t.len() == 24 && t.ends_with('Z'), "{t}");
}

pub fn assert_success(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert!(body["response"].is_object(), "{body}");
    assert_envelope(body);
}

/// The token of a successful authentication: the `Authorization` header, which the cookie must
/// carry too.
pub fn token_of(headers: &HeaderMap) -> String {
    let token = headers.get("authorization").expect("Authorization header").to_str().unwrap().to_string();
    let cookie = set_cookie(headers, "Authorization").expect("Authorization cookie");
    assert!(cookie.starts_with(&format!("Authorization=Mosip-Token{token};")), "{cookie}");
    token
}

pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with(&format!("{name}=")))
}

/// A token's claims, read as a client reads them (without verifying).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&castellan_core::crypto::b64url_decode(payload).unwrap()).unwrap()
}

/// A service-account token by client credentials.
pub async fn service_token(app: &TestApp, client_id: &str, secret: &str) -> String {
    let (s, b, h) = post(
        app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "ida", "clientId": client_id, "secretKey": secret}),
    )
    .await;
    assert_success(s, &b);
    token_of(&h)
}

/// User 110006's token pair through useridPwd.
pub async fn admin_login(app: &TestApp, realm: &Realm) -> (String, String) {
    let request = json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": realm.admin_secret,
                         "password": ADMIN_PASSWORD, "userName": "110006"});
    let (s, b, h) = post(app, "/authenticate/internal/useridPwd", "string", request).await;
    assert_success(s, &b);
    assert_eq!(token_of(&h), b["response"]["token"].as_str().unwrap());
    (b["response"]["token"].as_str().unwrap().to_string(), b["response"]["refreshToken"].as_str().unwrap().to_string())
}

pub async fn invalidate(app: &TestApp, token: &str) -> (u16, Value, HeaderMap) {
    call(app, Method::POST, "/v1/authmanager/authorize/invalidateToken", Some(&format!("Authorization=Mosip-Token{token}")), None)
        .await
}

pub async fn validate(app: &TestApp, token: &str) -> (u16, Value) {
    let (s, b, _) = call(
        app,
        Method::GET,
        "/v1/authmanager/authorize/admin/validateToken",
        Some(&format!("Authorization=Mosip-Token{token}")),
        None,
    )
    .await;
    (s, b)
}

async fn sendotp(app: &TestApp, request: Value) -> (u16, Value) {
    let (s, b, _) = post(app, "/authenticate/sendotp", "string", request).await;
    (s, b)
}

/// Sends a code to the resident's email by UIN and reads it from the outbox.
async fn resident_code(app: &TestApp) -> String {
    let before = outbox_count(app, RESIDENT_EMAIL).await;
    let (s, b) = sendotp(
        app,
        json!({"appId": "ida", "otpChannel": ["email"], "context": "auth-otp", "templateVariables": {"UIN": UIN},
               "userId": UIN, "useridtype": "UIN"}),
    )
    .await;
    assert_success(s, &b);
    let m = outbox_message(app, RESIDENT_EMAIL, before + 1).await;
    code_in(m["body"].as_str().unwrap())
}

#[tokio::test]
async fn sendotp_replays_the_example_and_each_of_its_errors() {
    let app = spawn_app().await;
    realm(&app).await;
    // The source's example request, verbatim.
    let (s, b) = sendotp(
        &app,
        json!({"appId": "ida", "otpChannel": ["email"], "context": "auth-otp", "templateVariables": {"UIN": UIN},
               "userId": UIN, "useridtype": "UIN"}),
    )
    .await;
    assert_success(s, &b);
    assert_eq!(b["id"], "mosip.authentication.sendotp");
    assert_eq!(b["response"], json!({"status": "success", "message": "OTP had been sent successfully"}));
    let m = outbox_message(&app, RESIDENT_EMAIL, 1).await;
    assert_eq!(code_in(m["body"].as_str().unwrap()).len(), 6);
    assert!(m["body"].as_str().unwrap().contains("3 minutes"), "{m}");

    // Both channels, by USERID: one code, to the email and the phone.
    let (s, b) =
        sendotp(&app, json!({"appId": "ida", "otpChannel": ["email", "phone"], "userId": "resident", "useridtype": "USERID"}))
            .await;
    assert_success(s, &b);
    let email = code_in(outbox_message(&app, RESIDENT_EMAIL, 2).await["body"].as_str().unwrap());
    let sms = code_in(outbox_message(&app, RESIDENT_PHONE, 1).await["body"].as_str().unwrap());
    assert_eq!(email, sms);

    let cases = [
        (
            json!({"appId": "ida", "otpChannel": ["pigeon"], "userId": UIN, "useridtype": "UIN"}),
            "KER-AUTH-CHANNEL_INVALID",
            "The passed channel is invalid.",
        ),
        (
            json!({"appId": "preregistration", "otpChannel": ["email", "phone"], "userId": UIN, "useridtype": "UIN"}),
            "AUTH_ERR_MULTIPLE_CHANNELS",
            "Multiple channels are not supported in your module.",
        ),
        (
            json!({"appId": "ida", "otpChannel": ["email"], "userId": "9999999999", "useridtype": "UIN"}),
            "AUTH_ERR_USER_NOT_FOUND",
            "The passed in user is not found",
        ),
        (
            json!({"appId": "ida", "otpChannel": ["phone"], "userId": "nophone", "useridtype": "USERID"}),
            "AUTH_ERR_CHANNELPATH_NOT_FOUND",
            "The passed in user is not found",
        ),
        (
            json!({"appId": "admin11", "otpChannel": ["email"], "userId": UIN, "useridtype": "UIN"}),
            "KER-ATH-026",
            "Realm not found:: admin11",
        ),
    ];
    for (request, code, message) in cases {
        let (s, b) = sendotp(&app, request).await;
        assert_error(s, &b, code);
        assert_eq!(b["errors"][0]["message"], message, "{b}");
        assert_eq!(b["id"], "mosip.authentication.sendotp");
    }
    // Pre-registration takes one channel at a time.
    let (s, b) =
        sendotp(&app, json!({"appId": "preregistration", "otpChannel": ["email"], "userId": UIN, "useridtype": "UIN"})).await;
    assert_success(s, &b);
}

#[tokio::test]
async fn template_variables_fill_the_tenants_message_template() {
    let app = spawn_app().await;
    realm(&app).await;
    let (s, t) = app.admin(Method::GET, "/tenants/mosip", None).await;
    assert_eq!(s, 200, "{t}");
    let mut policy = t["policy"].clone();
    policy["messages"] = json!({"otp_email_body": "OTP for UIN {UIN} is {code}, valid {minutes} min."});
    let (s, b) = app.admin(Method::PUT, "/tenants/mosip/policy", Some(policy)).await;
    assert_eq!(s, 200, "{b}");
    let code = resident_code(&app).await;
    let m = outbox_message(&app, RESIDENT_EMAIL, 1).await;
    assert_eq!(m["body"], json!(format!("OTP for UIN {UIN} is {code}, valid 3 min.")));
}

#[tokio::test]
async fn userid_otp_answers_invalid_expired_and_success_with_the_cookie() {
    let app = spawn_app().await;
    realm(&app).await;
    let code = resident_code(&app).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (s, b, h) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": wrong, "appId": "ida"})).await;
    assert_error(s, &b, "AUTH_ERR_INVALIDOTP");
    assert_eq!(b["errors"][0]["message"], "The passed in OTP is invalid");
    assert_eq!(b["id"], "mosip.authentication.useridOTP");
    assert!(h.get("set-cookie").is_none());

    let (s, b, h) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code, "appId": "ida"})).await;
    assert_success(s, &b);
    assert_eq!(b["id"], "mosip.authentication.useridOTP");
    assert_eq!(b["response"], json!({"status": "success", "message": "OTP validation is successfull"}));
    let token = token_of(&h);
    let cookie = set_cookie(&h, "Authorization").unwrap();
    for attribute in ["; Max-Age=36000;", "; Expires=", " GMT;", "; Path=/;", "; Secure", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let c = claims(&token);
    assert_eq!(c["preferred_username"], "resident");
    assert_eq!(c["azp"], "ida");
    assert_eq!(c["realm_access"]["roles"], json!(["RESIDENT"]));
    let (s, b) = validate(&app, &token).await;
    assert_success(s, &b);
    assert_eq!(b["response"]["userId"], "resident");

    // Used once: the same code again is refused.
    let (s, b, _) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code, "appId": "ida"})).await;
    assert_error(s, &b, "AUTH_ERR_INVALIDOTP");

    // Valid three minutes.
    let code = resident_code(&app).await;
    app.clock.advance(181);
    let (s, b, _) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code, "appId": "ida"})).await;
    assert_error(s, &b, "AUTH_ERR_EXPIREDOTP");
    assert_eq!(b["errors"][0]["message"], "The passed OTP is expired");
}

#[tokio::test]
async fn three_wrong_codes_kill_it_and_without_app_id_the_latest_code_counts() {
    let app = spawn_app().await;
    realm(&app).await;
    let code = resident_code(&app).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let (s, b, _) =
            post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": wrong, "appId": "ida"})).await;
        assert_error(s, &b, "AUTH_ERR_INVALIDOTP");
    }
    let (s, b, _) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code, "appId": "ida"})).await;
    assert_error(s, &b, "AUTH_ERR_INVALIDOTP");

    // A new code works, found without an appId; a code sent for the same user under another
    // spelling of the id (the username) is another key.
    let code = resident_code(&app).await;
    let (s, b, _) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": "resident", "otp": code})).await;
    assert_error(s, &b, "AUTH_ERR_INVALIDOTP");
    let (s, b, h) = post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code})).await;
    assert_success(s, &b);
    // The application the code was sent for.
    assert_eq!(claims(&token_of(&h))["azp"], "ida");
}

#[tokio::test]
async fn a_code_is_single_use_under_concurrency() {
    let app = spawn_app().await;
    realm(&app).await;
    let code = resident_code(&app).await;
    let attempts =
        (0..8).map(|_| post(&app, "/authenticate/useridOTP", "string", json!({"userId": UIN, "otp": code, "appId": "ida"})));
    let results = join_all(attempts.collect()).await;
    let wins = results.iter().filter(|(_, b, _)| b["errors"].is_null()).count();
    assert_eq!(wins, 1, "{results:?}");
}

#[tokio::test]
async fn userid_pwd_replays_the_example_and_its_errors() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let request = json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": realm.admin_secret,
                         "password": ADMIN_PASSWORD, "userName": "110006"});
    let (s, b, h) = post(&app, "/authenticate/internal/useridPwd", "string", request.clone()).await;
    assert_success(s, &b);
    assert_eq!(b["id"], "string");
    let r = &b["response"];
    assert_eq!(r["message"], "Username and password combination had been validated successfully");
    assert_eq!(r["status"], "success");
    assert_eq!(r["expiryTime"], 36000);
    assert_eq!(r["refreshExpiryTime"], 36000);
    assert_eq!(r["userId"], "110006");
    let token = token_of(&h);
    assert_eq!(r["token"], json!(token));
    assert!(set_cookie(&h, "refresh_token").unwrap().contains("; Path=/v1/authmanager/authorize/refreshToken;"));

    // Keycloak-shaped claims, verifiable with only the realm's certs URL.
    let issuer = format!("{}/realms/mosip", app.address);
    let certs = app.url("/realms/mosip/protocol/openid-connect/certs");
    let c = verify_with_jwks(&certs, &token, &issuer, "account").await.unwrap();
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(c["typ"], "Bearer");
    assert_eq!(c["azp"], "mosip-admin-client");
    assert_eq!(c["preferred_username"], "110006");
    assert_eq!(c["name"], "Test110006 Auto110006");
    assert_eq!(c["email"], "110006@xyz.com");
    assert_eq!(c["realm_access"]["roles"], json!(["REGISTRATION_ADMIN", "ZONAL_ADMIN"]));
    assert_eq!(c["scope"], "email profile");
    assert_eq!(c["session_state"], c["sid"]);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 36000);
    assert!(c["jti"].is_string());
    // The shared JWKS has the key as well.
    assert!(verify_with_jwks(&app.url("/.well-known/jwks.json"), &token, &issuer, "account").await.is_ok());

    let mut wrong_password = request.clone();
    wrong_password["password"] = json!("mosip");
    let mut wrong_secret = request.clone();
    wrong_secret["clientSecret"] = json!("xyz123");
    let mut service_client = request.clone();
    service_client["clientId"] = json!("mosip-abis-client");
    service_client["clientSecret"] = json!(realm.abis_secret);
    let mut unknown_user = request.clone();
    unknown_user["userName"] = json!("110007");
    for bad in [wrong_password, wrong_secret, service_client, unknown_user] {
        let (s, b, h) = post(&app, "/authenticate/internal/useridPwd", "string", bad).await;
        assert_error(s, &b, "KER-ATH-023");
        assert_eq!(b["errors"][0]["message"], "Invalid Credentials");
        assert!(h.get("set-cookie").is_none() && h.get("authorization").is_none());
    }
    let mut bad_app = request;
    bad_app["appId"] = json!("admin11");
    let (s, b, _) = post(&app, "/authenticate/internal/useridPwd", "string", bad_app).await;
    assert_error(s, &b, "KER-ATH-026");
    assert_eq!(b["errors"][0]["message"], "Realm not found:: admin11");
}

#[tokio::test]
async fn clientidsecretkey_replays_the_example_and_its_errors() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, b, h) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "admin", "clientId": "mosip-abis-client", "secretKey": realm.abis_secret}),
    )
    .await;
    assert_success(s, &b);
    assert_eq!(
        b["response"],
        json!({"status": "Success", "message": "Clientid and Token combination had been validated successfully"})
    );
    let token = token_of(&h);
    let cookie = set_cookie(&h, "Authorization").unwrap();
    assert!(cookie.contains("; HttpOnly") && cookie.contains("; Secure") && cookie.contains("; Max-Age=36000;"), "{cookie}");
    let c = claims(&token);
    assert_eq!(c["preferred_username"], "service-account-mosip-abis-client");
    assert_eq!(c["sub"], "service-account-mosip-abis-client");
    assert_eq!(c["clientId"], "mosip-abis-client");
    assert_eq!(c["azp"], "mosip-abis-client");
    assert_eq!(c["realm_access"]["roles"], json!(["offline_access", "uma_authorization"]));
    assert!(c.get("sid").is_none(), "{c}");
    let (s, b) = validate(&app, &token).await;
    assert_success(s, &b);
    assert_eq!(
        b["response"],
        json!({"userId": "service-account-mosip-abis-client", "mobile": null, "mail": null, "langCode": null, "userPassword": null,
               "name": "service-account-mosip-abis-client", "role": "offline_access,uma_authorization,", "token": token, "rid": null})
    );

    let (s, b, h) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "admin", "clientId": "mosip-abis-client", "secretKey": "abc123"}),
    )
    .await;
    assert_error(s, &b, "500");
    assert_eq!(b["errors"][0]["message"], "401 Unauthorized");
    assert!(h.get("set-cookie").is_none());
    let (s, b, _) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "admin", "clientId": "nobody", "secretKey": realm.abis_secret}),
    )
    .await;
    assert_error(s, &b, "500");
    // A public application has no secret to present.
    let (s, b, _) =
        post(&app, "/authenticate/clientidsecretkey", "string", json!({"appId": "admin", "clientId": "ida", "secretKey": ""}))
            .await;
    assert_error(s, &b, "KER-ATH-019");
    let (s, b, _) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "adminXX", "clientId": "mosip-abis-client", "secretKey": realm.abis_secret}),
    )
    .await;
    assert_error(s, &b, "KER-ATH-026");
    assert_eq!(b["errors"][0]["message"], "Realm not found:: adminXX");
}

#[tokio::test]
async fn validate_token_answers_good_tampered_expired_revoked_and_empty() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (token, _) = admin_login(&app, &realm).await;
    let (s, b) = validate(&app, &token).await;
    assert_success(s, &b);
    assert_eq!(b["id"], Value::Null);
    let r = &b["response"];
    assert_eq!(r["userId"], "110006");
    assert_eq!(r["mail"], "110006@xyz.com");
    assert_eq!(r["name"], "Test110006 Auto110006");
    assert_eq!(r["role"], "REGISTRATION_ADMIN,ZONAL_ADMIN,");
    assert_eq!(r["userPassword"], Value::Null);
    assert_eq!(r["token"], json!(token));

    // Cookie name in any case, without the prefix, or a Bearer header.
    for cookie in [format!("authorization={token}"), format!("a=b; AUTHORIZATION=Mosip-Token{token}")] {
        let (s, b, _) = call(&app, Method::GET, "/v1/authmanager/authorize/admin/validateToken", Some(&cookie), None).await;
        assert_success(s, &b);
    }
    let r = app.request(Method::GET, "/v1/authmanager/authorize/admin/validateToken").bearer_auth(&token).send().await.unwrap();
    let b: Value = r.json().await.unwrap();
    assert_success(200, &b);

    // Tampered: one claim changed, signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let mut c = claims(&token);
    c["realm_access"]["roles"] = json!(["GLOBAL_ADMIN"]);
    let forged = format!("{}.{}.{}", parts[0], castellan_core::crypto::b64url(c.to_string().as_bytes()), parts[2]);
    let (s, b) = validate(&app, &forged).await;
    assert_error(s, &b, "KER-ATH-401");
    assert_eq!(b["errors"][0]["message"], "Authentication Failed : Invalid Token :Token verification failed");

    // Empty and missing cookies.
    let (s, b, _) = call(&app, Method::GET, "/v1/authmanager/authorize/admin/validateToken", Some("Authorization="), None).await;
    assert_error(s, &b, "KER-ATH-006");
    assert_eq!(b["errors"][0]["message"], "Cookies are empty");
    let (s, b, _) = call(&app, Method::GET, "/v1/authmanager/authorize/admin/validateToken", None, None).await;
    assert_error(s, &b, "KER-ATH-006");

    // Revoked.
    let (s, b, h) = invalidate(&app, &token).await;
    assert_success(s, &b);
    assert_eq!(b["id"], "mosip.authorize.invalidatetoken");
    assert_eq!(b["response"], json!({"message": "Token invalidated successfully"}));
    assert!(set_cookie(&h, "Authorization").unwrap().starts_with("Authorization=; Max-Age=0;"));
    let cleared = set_cookie(&h, "refresh_token").unwrap();
    assert!(
        cleared.starts_with("refresh_token=; Max-Age=0;") && cleared.contains("Path=/v1/authmanager/authorize/refreshToken;")
    );
    let (s, b) = validate(&app, &token).await;
    assert_error(s, &b, "KER-ATH-401");

    // Expired: 10 hours and the leeway later.
    let (token, _) = admin_login(&app, &realm).await;
    app.clock.advance(36000 + 31);
    let (s, b) = validate(&app, &token).await;
    assert_error(s, &b, "KER-ATH-401");
}

#[tokio::test]
async fn invalidate_token_ends_it_on_every_node_session_and_service_tokens_alike() {
    let a = spawn_app().await;
    let realm = realm(&a).await;
    let b_node = a.another_node().await;
    let (user_token, refresh) = admin_login(&a, &realm).await;
    let service = service_token(&a, "mosip-abis-client", &realm.abis_secret).await;
    for t in [&user_token, &service] {
        let (s, b) = validate(&b_node, t).await;
        assert_success(s, &b);
    }
    for t in [&user_token, &service] {
        let (s, b, _) = invalidate(&b_node, t).await;
        assert_success(s, &b);
    }
    for node in [&a, &b_node] {
        for t in [&user_token, &service] {
            crate::helpers::refused_within_the_bound("validateToken", || async {
                validate(node, t).await.1["errors"][0]["errorCode"] == "KER-ATH-401"
            })
            .await;
            let (s, b) = validate(node, t).await;
            assert_error(s, &b, "KER-ATH-401");
        }
    }
    // The session ended with the token: its refresh token is dead too.
    let (s, b, _) = call(
        &a,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/admin",
        None,
        Some(envelope("string", json!({"refreshToken": refresh}))),
    )
    .await;
    assert_error(s, &b, "KER-ATH-401");
    // Invalidating again, or with nothing, is refused.
    let (s, b, _) = invalidate(&a, &service).await;
    assert_error(s, &b, "KER-ATH-401");
    let (s, b, _) = call(&a, Method::POST, "/v1/authmanager/authorize/invalidateToken", None, None).await;
    assert_error(s, &b, "KER-ATH-006");
    // Another service token of the same client is unaffected.
    let fresh = service_token(&a, "mosip-abis-client", &realm.abis_secret).await;
    let (s, b) = validate(&b_node, &fresh).await;
    assert_success(s, &b);
}

#[tokio::test]
async fn refresh_token_rotates_once_and_a_reuse_ends_the_session() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (access, refresh) = admin_login(&app, &realm).await;
    let (s, b, h) = call(
        &app,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/admin",
        None,
        Some(envelope("string", json!({"refreshToken": refresh}))),
    )
    .await;
    assert_success(s, &b);
    let r = &b["response"];
    assert_eq!(r["message"], "Token refreshed successfully");
    let new_access = token_of(&h);
    assert_eq!(r["token"], json!(new_access));
    let new_refresh = r["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, refresh);
    assert_eq!(claims(&new_access)["azp"], "mosip-admin-client");

    // The refresh cookie works as well as the body.
    let (s, b, h) = call(
        &app,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/admin",
        Some(&format!("refresh_token={new_refresh}")),
        None,
    )
    .await;
    assert_success(s, &b);
    let third = token_of(&h);

    // The first refresh token again: refused, and the whole session ends.
    let (s, b, _) = call(
        &app,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/admin",
        None,
        Some(envelope("string", json!({"refreshToken": refresh}))),
    )
    .await;
    assert_error(s, &b, "KER-ATH-401");
    for t in [&access, &new_access, &third] {
        let (s, b) = validate(&app, t).await;
        assert_error(s, &b, "KER-ATH-401");
    }
    let (s, b, _) =
        call(&app, Method::POST, "/v1/authmanager/authorize/refreshToken/admin", None, Some(envelope("string", json!({})))).await;
    assert_error(s, &b, "KER-ATH-019");
    let (s, b, _) = call(
        &app,
        Method::POST,
        "/v1/authmanager/authorize/refreshToken/nope",
        None,
        Some(envelope("string", json!({"refreshToken": "x"}))),
    )
    .await;
    assert_error(s, &b, "KER-ATH-026");
}

pub async fn otp_generate(app: &TestApp, token: Option<&str>, key: &str) -> (u16, Value) {
    let mut rb = app.request(Method::POST, "/v1/otpmanager/otp/generate").json(&json!({
        "id": "mosip.otp.generateOTP", "version": "1.0", "requesttime": "2007-12-03T10:15:30Z", "request": {"key": key}
    }));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    castellan_testkit::send(rb).await
}

pub async fn otp_validate(app: &TestApp, token: &str, key: &str, otp: &str) -> (u16, Value) {
    let rb = app.request(Method::GET, &format!("/v1/otpmanager/otp/validate?key={key}&otp={otp}")).bearer_auth(token);
    castellan_testkit::send(rb).await
}

#[tokio::test]
async fn otpmanager_serves_only_service_tokens_holding_otp_manager() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let (s, b) = otp_generate(&app, None, "9820173642").await;
    assert_error(s, &b, "KER-ATH-401");
    let (user, _) = admin_login(&app, &realm).await;
    let abis = service_token(&app, "mosip-abis-client", &realm.abis_secret).await;
    for t in [&user, &abis, &"not.a.token".to_string()] {
        let (s, b) = otp_generate(&app, Some(t), "9820173642").await;
        assert_error(s, &b, "KER-ATH-401");
        let (s, b) = otp_validate(&app, t, "9820173642", "123456").await;
        assert_error(s, &b, "KER-ATH-401");
    }
    // The caller is checked before the body: a stranger gets 401 whatever it sends.
    let r = app.request(Method::POST, "/v1/otpmanager/otp/generate").body("{not json").send().await.unwrap();
    let b: Value = r.json().await.unwrap();
    assert_error(200, &b, "KER-ATH-401");
    // Through the cookie, as MOSIP services send it.
    let ida = service_token(&app, "mosip-ida-client", &realm.ida_secret).await;
    let body = json!({"id": "mosip.otp.generateOTP", "version": "1.0", "requesttime": "2007-12-03T10:15:30Z", "request": {"key": "9820173642"}});
    let (s, b, _) =
        call(&app, Method::POST, "/v1/otpmanager/otp/generate", Some(&format!("Authorization=Mosip-Token{ida}")), Some(body))
            .await;
    assert_success(s, &b);
    // The client's roles as they are now count, not those in the token.
    let (s, _) = app.admin(Method::PATCH, "/tenants/mosip/applications/mosip-ida-client", Some(json!({"roles": []}))).await;
    assert_eq!(s, 200);
    let (s, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    assert_error(s, &b, "KER-ATH-401");
    let (s, _) =
        app.admin(Method::PATCH, "/tenants/mosip/applications/mosip-ida-client", Some(json!({"roles": ["OTP_MANAGER"]}))).await;
    assert_eq!(s, 200);
    // A revoked service token stops working.
    let (s, b, _) = invalidate(&app, &ida).await;
    assert_success(s, &b);
    let (s, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    assert_error(s, &b, "KER-ATH-401");
}

#[tokio::test]
async fn otpmanager_generates_validates_once_expires_and_freezes() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let ida = service_token(&app, "mosip-ida-client", &realm.ida_secret).await;
    let (s, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    assert_success(s, &b);
    assert_eq!(b["id"], "mosip.otp.generateOTP");
    assert_eq!(b["response"]["status"], "GENERATION_SUCCESSFUL");
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    assert!(otp.len() == 6 && otp.bytes().all(|c| c.is_ascii_digit()), "{otp}");

    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_success(s, &b);
    assert_eq!(b["id"], "mosip.otp.validateOTP");
    assert_eq!(b["response"], json!({"status": "success", "message": "VALIDATION SUCCESSFUL"}));
    // Deleted once validated.
    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_error(s, &b, "AUTH_ERR_OTPNOTVALID");
    assert_eq!(b["errors"][0]["message"], "The passed in OTP is not valid");

    // Expiry: three minutes.
    let (_, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    app.clock.advance(181);
    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_error(s, &b, "AUTH_ERR_OTPEXPIRED");
    assert_eq!(b["errors"][0]["message"], "The passed in OTP is expired");

    // Three wrong tries freeze the key for 15 minutes: the right code is refused, no new code.
    let (_, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let (s, b) = otp_validate(&app, &ida, "9820173642", wrong).await;
        assert_error(s, &b, "AUTH_ERR_OTPNOTVALID");
    }
    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_error(s, &b, "KER-OTP-006");
    assert_eq!(b["errors"][0]["message"], "key is frozen");
    let (s, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    assert_success(s, &b);
    assert_eq!(b["response"], json!({"otp": "null", "status": "USER_BLOCKED"}));
    // Other keys are not affected; after 15 minutes the key works again.
    let (_, b) = otp_generate(&app, Some(&ida), "9820170000").await;
    assert_eq!(b["response"]["status"], "GENERATION_SUCCESSFUL");
    app.clock.advance(15 * 60 + 1);
    let (_, b) = otp_generate(&app, Some(&ida), "9820173642").await;
    assert_eq!(b["response"]["status"], "GENERATION_SUCCESSFUL");
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    let (s, b) = otp_validate(&app, &ida, "9820173642", &otp).await;
    assert_success(s, &b);

    // Missing key and otp.
    let (s, b) = otp_generate(&app, Some(&ida), "").await;
    assert_error(s, &b, "KER-OTG-001");
    let (s, b) = otp_validate(&app, &ida, "", "123456").await;
    assert_error(s, &b, "KER-OTV-001");
    let (s, b) = otp_validate(&app, &ida, "9820173642", "").await;
    assert_error(s, &b, "KER-OTV-002");
}

#[tokio::test]
async fn otpmanager_validation_is_single_use_under_concurrency() {
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let ida = service_token(&app, "mosip-ida-client", &realm.ida_secret).await;
    let (_, b) = otp_generate(&app, Some(&ida), "key-1").await;
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    let results = join_all((0..8).map(|_| otp_validate(&app, &ida, "key-1", &otp)).collect()).await;
    assert_eq!(results.iter().filter(|(_, b)| b["errors"].is_null()).count(), 1, "{results:?}");
}

#[tokio::test]
async fn malformed_envelopes_get_a_mosip_error_never_a_500() {
    let app = spawn_app().await;
    realm(&app).await;
    let paths = [
        "/v1/authmanager/authenticate/sendotp",
        "/v1/authmanager/authenticate/useridOTP",
        "/v1/authmanager/authenticate/internal/useridPwd",
        "/v1/authmanager/authenticate/clientidsecretkey",
    ];
    for path in paths {
        let r =
            app.request(Method::POST, path).header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["errors"][0]["errorCode"], "KER-ATH-004", "{path}: {b}");
        assert_envelope(&b);
        for body in [
            json!({"id": "x"}),
            json!({"request": "text"}),
            json!([1, 2]),
            json!({"id": 7, "request": {}}),
            json!({"request": {"appId": ["ida"]}}),
        ] {
            let (s, b, _) = call(&app, Method::POST, path, None, Some(body.clone())).await;
            assert_eq!(s, 200, "{path} {body}: {b}");
            let code = b["errors"][0]["errorCode"].as_str().unwrap_or_default();
            assert!(code == "KER-ATH-004" || code == "KER-ATH-019", "{path} {body}: {b}");
        }
    }
    let (s, b, _) =
        post(&app, "/authenticate/sendotp", "x", json!({"appId": "ida", "otpChannel": 5, "userId": UIN, "useridtype": "UIN"}))
            .await;
    assert_error(s, &b, "KER-ATH-004");
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("otpChannel"), "{b}");
    let (s, b, _) =
        post(&app, "/authenticate/sendotp", "x", json!({"appId": "ida", "otpChannel": ["email"], "useridtype": "UIN"})).await;
    assert_error(s, &b, "KER-ATH-019");
    assert_eq!(b["errors"][0]["message"], "userId should not be null or empty");
    let (s, b, _) = post(
        &app,
        "/authenticate/sendotp",
        "x",
        json!({"appId": "ida", "otpChannel": ["email"], "userId": UIN, "useridtype": "VID"}),
    )
    .await;
    assert_error(s, &b, "KER-ATH-004");
    // The source mixes spellings: field names match in any case.
    let (s, b, _) = post(
        &app,
        "/authenticate/sendotp",
        "x",
        json!({"APPID": "ida", "otpchannel": ["EMAIL"], "userid": UIN, "UserIdType": "uin"}),
    )
    .await;
    assert_success(s, &b);
    // An unknown path under the mount answers in the envelope too.
    let (s, b, _) = call(&app, Method::GET, "/v1/authmanager/nothing", None, None).await;
    assert_eq!(s, 404);
    assert_envelope(&b);
}

#[tokio::test]
async fn tokens_of_other_dialects_are_refused() {
    let app = spawn_app().await;
    realm(&app).await;
    let (_, tag, _) = crate::helpers::kumu_tenant(&app).await;
    let kumu = crate::helpers::kumu_tokens(&app, &tag).await;
    let (s, b) = validate(&app, kumu["accessToken"].as_str().unwrap()).await;
    assert_error(s, &b, "KER-ATH-401");
    let (kora, _) = crate::helpers::kora_tenant(&app).await;
    let (access, _) = crate::helpers::tokens(&app, &kora).await;
    let (s, b) = validate(&app, &access).await;
    assert_error(s, &b, "KER-ATH-401");
}

#[tokio::test]
async fn cookies_can_drop_secure_for_plain_http_development() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| {
            s.mosip_cookie_secure = false;
            s.mosip_cookie_same_site = "Strict".into();
        })),
        ..Default::default()
    })
    .await;
    let realm = realm(&app).await;
    let (s, b, h) = post(
        &app,
        "/authenticate/clientidsecretkey",
        "string",
        json!({"appId": "ida", "clientId": "mosip-abis-client", "secretKey": realm.abis_secret}),
    )
    .await;
    assert_success(s, &b);
    let cookie = set_cookie(&h, "Authorization").unwrap();
    assert!(!cookie.contains("Secure") && cookie.contains("; HttpOnly") && cookie.ends_with("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn the_mounts_follow_the_configuration() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| {
            s.mosip_authmanager_prefix = "/mosip/auth/".into();
            s.mosip_otpmanager_prefix = "mosip/otp".into();
        })),
        ..Default::default()
    })
    .await;
    let realm = realm(&app).await;
    let request = json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": realm.admin_secret,
                         "password": ADMIN_PASSWORD, "userName": "110006"});
    let (s, b, h) =
        call(&app, Method::POST, "/mosip/auth/authenticate/internal/useridPwd", None, Some(envelope("x", request))).await;
    assert_success(s, &b);
    assert!(set_cookie(&h, "refresh_token").unwrap().contains("; Path=/mosip/auth/authorize/refreshToken;"));
    let (s, _, _) = call(&app, Method::GET, "/v1/authmanager/authorize/admin/validateToken", None, None).await;
    assert_eq!(s, 404);
    let (s, doc, _) = call(&app, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/mosip/auth/authorize/admin/validateToken"]["get"].is_object());
    assert!(doc["paths"]["/mosip/otp/otp/generate"]["post"].is_object());
    assert!(doc["paths"]["/v1/otpmanager/otp/generate"].is_null());
}
