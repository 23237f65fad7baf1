//! The kumusoft contract, endpoint by endpoint and return code by return code.

use castellan_testkit::{HttpSink, TestOptions, spawn_app, spawn_app_with};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Verifies a token the way a relying party does: only the JWKS URL, the issuer and the audience.
pub async fn verify_with_jwks(jwks_url: &str, token: &str, issuer: &str, audience: &str) -> Result<Value, String> {
    let set: JwkSet = reqwest::get(jwks_url).await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("kid not in the JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let alg = jwk.common.key_algorithm.ok_or("jwk without alg")?;
    let alg: jsonwebtoken::Algorithm = alg.to_string().parse().map_err(|e: jsonwebtoken::errors::Error| e.to_string())?;
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.leeway = 0;
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
}

fn header_of(token: &str) -> Value {
    serde_json::to_value(jsonwebtoken::decode_header(token).unwrap()).unwrap()
}

#[tokio::test]
async fn three_phases_with_the_code_read_from_a_real_smtp_conversation() {
    let app = spawn_app_with(TestOptions { smtp: true, ..Default::default() }).await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["status"]["returnMessage"], "Login successful, OTP sent");
    let d = &b["data"];
    assert_eq!(d["name"], "John Doe");
    assert_eq!(d["userId"], json!(user_id));
    assert_eq!(d["requires2FA"], true);
    assert_eq!(d["channel"], "email");
    assert_eq!(d["destination"], "u***@example.com");
    assert_eq!(d["expiresIn"], 300);
    assert!(d.get("accessToken").is_none(), "no token before the code: {d}");

    let mail = app.smtp.as_ref().unwrap().wait_for("user_8742@example.com", 1).await;
    assert_eq!(mail.header("Subject").unwrap(), "Your Zed Investa Member Portal verification code");
    let code = code_in(&mail.body());
    assert!(mail.body().contains("5 minutes"), "{}", mail.body());

    let (s, b) = kumu(
        &app,
        Method::POST,
        "/otp/verify",
        None,
        Some(json!({"userId": user_id, "otp": code, "challengeId": d["challengeId"]})),
    )
    .await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["status"]["returnMessage"], "OTP verified successfully");
    let t = &b["data"];
    assert_eq!(t["expiresIn"], 3600);
    assert_eq!(t["tokenType"], "Bearer");
    assert_eq!(t["user"]["id"], json!(user_id));
    let access = t["accessToken"].as_str().unwrap();
    assert!(t["refreshToken"].as_str().unwrap().len() >= 43);

    let h = header_of(access);
    assert_eq!((h["alg"].as_str(), h["typ"].as_str()), (Some("RS256"), Some("JWT")));
    assert!(h["kid"].is_string());
    let claims =
        verify_with_jwks(&app.url("/.well-known/jwks.json"), access, &app.address, &format!("kumusoft:{tag}")).await.unwrap();
    assert_eq!(claims["sub"], json!(user_id));
    assert_eq!(claims["tagId"], json!(tag));
    assert_eq!(claims["name"], "John Doe");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    for c in ["nbf", "jti", "sid"] {
        assert!(!claims[c].is_null(), "{c} missing: {claims}");
    }

    let (s, b) = kumu(&app, Method::GET, "/me", Some(access), None).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["email"], "user_8742@example.com");
    assert_eq!(b["data"]["tagId"], json!(tag));

    // Every phase is in the audit log with the tag, the user and the caller's address.
    let (_, events) = app.admin(Method::GET, &format!("/tenants/{slug}/audit?user_id={user_id}"), None).await;
    let events = events.as_array().unwrap();
    for (action, outcome) in
        [("login.password", "success"), ("otp.sent", "queued"), ("otp.verify", "success"), ("token.issued", "success")]
    {
        let e = events
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {action}/{outcome} in {events:?}"));
        assert_eq!(e["detail"]["tagId"], json!(tag), "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
    }
}

#[tokio::test]
async fn the_identifier_may_be_an_email_a_username_or_a_phone_number() {
    let app = spawn_app().await;
    let (_, tag, user_id) = kumu_tenant(&app).await;
    for identifier in ["user_8742@example.com", "USER_8742@Example.com", "user_8742", "+256700000001", "+256 700 000 001"] {
        let (s, b) = kumu_login(&app, identifier, KUMU_PASSWORD, &tag).await;
        assert_kumu(s, &b, 200, "00");
        assert_eq!(b["data"]["userId"], json!(user_id), "{identifier}");
    }
}

/// One SMS provider end to end: the provider-shaped request, then the code it carried.
async fn sms_flow(provider: &str, answer: &str, check: impl Fn(&castellan_testkit::Recorded)) {
    let sink = HttpSink::start(if provider == "africastalking" { 201 } else { 200 }, answer).await;
    let url = sink.url.clone();
    let provider_name = provider.to_string();
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(move |s| {
            s.sms_provider = provider_name;
            s.sms_url = Some(url);
            s.sms_username = Some("ACtest0001".into());
            s.sms_api_key = Some(castellan_server::settings::Secret("key-0001".into()));
            s.sms_from = Some("+15005550006".into());
        })),
        ..Default::default()
    })
    .await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    // Email not verified: the code goes to the phone.
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user_id}"), Some(json!({"email_verified": false}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["channel"], "sms");
    assert_eq!(b["data"]["destination"], "+256******001");
    let requests = sink.wait_for(1).await;
    assert_eq!(requests.len(), 1);
    check(&requests[0]);
    let text = match provider {
        "webhook" => requests[0].json()["message"].as_str().unwrap().to_string(),
        "twilio" => requests[0].form()["Body"].clone(),
        _ => requests[0].form()["message"].clone(),
    };
    assert!(text.contains("Zed Investa Member Portal"), "{text}");
    let (s, b) = kumu(
        &app,
        Method::POST,
        "/otp/verify",
        None,
        Some(json!({"userId": user_id, "otp": code_in(&text), "challengeId": b["data"]["challengeId"]})),
    )
    .await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn the_code_goes_out_through_a_generic_json_webhook() {
    sms_flow("webhook", "{}", |r| {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/");
        assert_eq!(r.header("authorization"), Some("Bearer key-0001"));
        let body = r.json();
        assert_eq!(body["to"], "+256700000001");
        assert!(body["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "{body}");
    })
    .await;
}

#[tokio::test]
async fn the_code_goes_out_through_a_twilio_style_api() {
    sms_flow("twilio", r#"{"sid": "SM123", "status": "queued"}"#, |r| {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/2010-04-01/Accounts/ACtest0001/Messages.json");
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("ACtest0001:key-0001");
        assert_eq!(r.header("authorization"), Some(format!("Basic {basic}").as_str()));
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
        let form = r.form();
        assert_eq!(form["To"], "+256700000001");
        assert_eq!(form["From"], "+15005550006");
    })
    .await;
}

#[tokio::test]
async fn the_code_goes_out_through_an_africas_talking_style_api() {
    let answer = r#"{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: UGX 30", "Recipients": [{"statusCode": 101, "number": "+256700000001", "status": "Success", "cost": "UGX 30", "messageId": "ATXid_1"}]}}"#;
    sms_flow("africastalking", answer, |r| {
        assert_eq!(r.path, "/version1/messaging");
        assert_eq!(r.header("apikey"), Some("key-0001"));
        assert_eq!(r.header("accept"), Some("application/json"));
        let form = r.form();
        assert_eq!(form["username"], "ACtest0001");
        assert_eq!(form["to"], "+256700000001");
        assert_eq!(form["from"], "+15005550006");
    })
    .await;
}

#[tokio::test]
async fn a_failed_sms_is_audited_retried_with_back_off_and_then_delivered() {
    let sink = HttpSink::start(200, "{}").await;
    sink.respond_next(500, r#"{"error": "provider down"}"#);
    let url = sink.url.clone();
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(move |s| {
            s.sms_provider = "webhook".into();
            s.sms_url = Some(url);
        })),
        ..Default::default()
    })
    .await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    app.admin(Method::PATCH, &format!("/tenants/{slug}/users/{user_id}"), Some(json!({"email_verified": false}))).await;
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    sink.wait_for(1).await;
    // The failure is in the audit log while the message waits for its retry.
    let mut seen = false;
    for _ in 0..100 {
        let (_, events) = app.admin(Method::GET, &format!("/tenants/{slug}/audit?action=message.failed"), None).await;
        if let Some(e) = events.as_array().and_then(|a| a.first()) {
            assert_eq!(e["outcome"], "retrying", "{e}");
            assert!(e["detail"]["error"].as_str().unwrap().contains("500"), "{e}");
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "no message.failed event");
    assert_eq!(sink.requests().len(), 1, "retried before the back-off");
    app.clock.advance(6);
    let requests = sink.wait_for(2).await;
    assert_eq!(requests[0].json()["id"], requests[1].json()["id"], "the same message is retried");
    let (s, b) = kumu(
        &app,
        Method::POST,
        "/otp/verify",
        None,
        Some(json!({"userId": user_id, "otp": code_in(requests[1].json()["message"].as_str().unwrap()), "challengeId": b["data"]["challengeId"]})),
    )
    .await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn wrong_codes_count_down_and_the_fifth_kills_the_challenge() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for remaining in (0..5).rev() {
        let (s, b) =
            kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": wrong, "challengeId": challenge})))
                .await;
        assert_kumu(s, &b, 401, "03");
        assert_eq!(b["data"]["attemptsRemaining"], remaining);
    }
    for otp in [wrong, code.as_str()] {
        let (s, b) =
            kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": otp, "challengeId": challenge})))
                .await;
        assert_kumu(s, &b, 429, "05");
    }
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(json!({"userId": user, "challengeId": challenge}))).await;
    assert_kumu(s, &b, 429, "05");
}

#[tokio::test]
async fn an_expired_code_is_04() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, code) = kumu_challenge(&app, &tag).await;
    app.clock.advance(301);
    let (s, b) =
        kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": code, "challengeId": challenge}))).await;
    assert_kumu(s, &b, 401, "04");
}

#[tokio::test]
async fn resend_waits_thirty_seconds_voids_the_old_code_and_keeps_the_attempt_count() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, first) = kumu_challenge(&app, &tag).await;
    let body = json!({"userId": user, "challengeId": challenge});
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(body.clone())).await;
    assert_kumu(s, &b, 429, "05");
    assert!((1..=30).contains(&b["data"]["retryAfterSeconds"].as_i64().unwrap()), "{b}");
    let wrong = if first == "000000" { "000001" } else { "000000" };
    let (s, b) =
        kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": wrong, "challengeId": challenge})))
            .await;
    assert_kumu(s, &b, 401, "03");

    app.clock.advance(31);
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(body.clone())).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["channel"], "email");
    assert_eq!(b["data"]["challengeId"], json!(challenge));
    let second = code_in(outbox_message(&app, "user_8742@example.com", 2).await["body"].as_str().unwrap());
    if second != first {
        let (s, b) =
            kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": first, "challengeId": challenge})))
                .await;
        assert_kumu(s, &b, 401, "03");
        assert_eq!(b["data"]["attemptsRemaining"], 3, "the count survives the resend: {b}");
    }
    let (s, b) =
        kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": second, "challengeId": challenge})))
            .await;
    assert_kumu(s, &b, 200, "00");
}

#[tokio::test]
async fn at_most_five_sends_per_challenge() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (challenge, user, _) = kumu_challenge(&app, &tag).await;
    let body = json!({"userId": user, "challengeId": challenge});
    for _ in 0..4 {
        app.clock.advance(31);
        let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(body.clone())).await;
        assert_kumu(s, &b, 200, "00");
    }
    app.clock.advance(31);
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(body)).await;
    assert_kumu(s, &b, 429, "05");
}

#[tokio::test]
async fn unknown_inactive_or_unserved_tag_is_06() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, "NO_SUCH_TAG").await;
    assert_kumu(s, &b, 403, "06");
    let client_id = {
        let (_, apps) = app.admin(Method::GET, &format!("/tenants/{slug}/applications"), None).await;
        apps.as_array().unwrap()[0]["client_id"].as_str().unwrap().to_string()
    };
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{slug}/applications/{client_id}"), Some(json!({"active": false}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 403, "06");
    // A tag in a tenant that the kumusoft dialect does not serve.
    let (kora, _) = kora_tenant(&app).await;
    kumu_app(&app, &kora, "KORA_TAG_1").await;
    let (s, b) = kumu_login(&app, "user@example.com", PASSWORD, "KORA_TAG_1").await;
    assert_kumu(s, &b, 403, "06");
}

#[tokio::test]
async fn a_totp_user_gets_channel_totp_and_no_message() {
    let app = spawn_app().await;
    let (slug, tag, user_id) = kumu_tenant(&app).await;
    let (s, t) = app.admin(Method::POST, &format!("/tenants/{slug}/users/{user_id}/totp"), None).await;
    assert!(s == 200 || s == 201, "{t}");
    let secret = t["secret"].as_str().unwrap();
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(b["data"]["channel"], "totp");
    assert_eq!(b["data"]["destination"], "");
    let challenge = b["data"]["challengeId"].clone();
    let (s, r) = kumu(&app, Method::POST, "/otp/resend", None, Some(json!({"userId": user_id, "challengeId": challenge}))).await;
    assert_kumu(s, &r, 400, "90");
    let (s, b) = kumu(
        &app,
        Method::POST,
        "/otp/verify",
        None,
        Some(json!({"userId": user_id, "otp": code(&app, secret, 0), "challengeId": challenge})),
    )
    .await;
    assert_kumu(s, &b, 200, "00");
    assert_eq!(outbox_count(&app, "user_8742@example.com").await, 0, "nothing was sent");
}

#[tokio::test]
async fn wrong_password_and_unknown_identifier_are_01_and_five_failures_lock_02() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let (s1, unknown) = kumu_login(&app, "nobody@example.com", KUMU_PASSWORD, &tag).await;
    let (s2, wrong) = kumu_login(&app, "user_8742", "Wrong-password-1", &tag).await;
    assert_kumu(s1, &unknown, 401, "01");
    assert_kumu(s2, &wrong, 401, "01");
    assert_eq!(unknown, wrong, "the two failures must be indistinguishable");
    for _ in 0..3 {
        kumu_login(&app, "user_8742", "Wrong-password-1", &tag).await;
    }
    let (s, b) = kumu_login(&app, "user_8742", "Wrong-password-1", &tag).await;
    assert_kumu(s, &b, 423, "02");
    let (s, b) = kumu_login(&app, "user_8742", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 423, "02");
    assert!(b["data"]["retryAfterSeconds"].as_i64().unwrap() > 0, "{b}");
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_ends_the_session() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let first = kumu_tokens(&app, &tag).await;
    let r1 = first["refreshToken"].as_str().unwrap();
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": r1}))).await;
    assert_kumu(s, &b, 200, "00");
    let second = b["data"].clone();
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert_eq!(second["expiresIn"], 3600);
    let access2 = second["accessToken"].as_str().unwrap();
    let (s, b) = kumu(&app, Method::GET, "/me", Some(access2), None).await;
    assert_kumu(s, &b, 200, "00");

    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": r1}))).await;
    assert_kumu(s, &b, 401, "07");
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": second["refreshToken"]}))).await;
    assert_kumu(s, &b, 401, "07");
    let (s, b) = kumu(&app, Method::GET, "/me", Some(access2), None).await;
    assert_kumu(s, &b, 401, "08");
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": "not-a-token"}))).await;
    assert_kumu(s, &b, 401, "07");
}

#[tokio::test]
async fn a_deactivated_applications_refresh_token_is_refused_unspent_and_works_once_the_application_is_back() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let tokens = kumu_tokens(&app, &tag).await;
    let refresh = json!({"refreshToken": tokens["refreshToken"]});
    let (_, apps) = app.admin(Method::GET, &format!("/tenants/{slug}/applications"), None).await;
    let application = format!("/tenants/{slug}/applications/{}", apps[0]["client_id"].as_str().unwrap());
    let successes = || async {
        let (s, list) = app.admin(Method::GET, &format!("/tenants/{slug}/audit?action=refresh&limit=1000"), None).await;
        assert_eq!(s, 200, "{list}");
        list.as_array().unwrap().iter().filter(|e| e["outcome"] == "success").count()
    };

    let (s, b) = app.admin(Method::PATCH, &application, Some(json!({"active": false}))).await;
    assert_eq!(s, 200, "{b}");
    for _ in 0..2 {
        let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(refresh.clone())).await;
        assert_kumu(s, &b, 403, "06");
        assert!(b["data"].is_null(), "{b}");
    }
    assert_eq!(successes().await, 0, "a refused refresh records no success");
    // Its access tokens are refused too while it is inactive.
    let access = tokens["accessToken"].as_str().unwrap();
    let (s, b) = kumu(&app, Method::GET, "/me", Some(access), None).await;
    assert_kumu(s, &b, 401, "08");

    let (s, b) = app.admin(Method::PATCH, &application, Some(json!({"active": true}))).await;
    assert_eq!(s, 200, "{b}");
    // The session was not ended: its access token works again.
    let (s, b) = kumu(&app, Method::GET, "/me", Some(access), None).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(refresh.clone())).await;
    assert_kumu(s, &b, 200, "00");
    assert_ne!(b["data"]["refreshToken"], tokens["refreshToken"]);
    assert_eq!(successes().await, 1);
    // Spent now: presented again, it is a reuse.
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(refresh)).await;
    assert_kumu(s, &b, 401, "07");
}

#[tokio::test]
async fn logout_by_bearer_or_by_refresh_token_ends_the_session() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let t = kumu_tokens(&app, &tag).await;
    let access = t["accessToken"].as_str().unwrap();
    let (s, b) = kumu(&app, Method::POST, "/logout", Some(access), None).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu(&app, Method::GET, "/me", Some(access), None).await;
    assert_kumu(s, &b, 401, "08");
    let (s, b) = kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": t["refreshToken"]}))).await;
    assert_kumu(s, &b, 401, "07");

    let t = kumu_tokens(&app, &tag).await;
    let (s, b) = kumu(&app, Method::POST, "/logout", None, Some(json!({"refreshToken": t["refreshToken"]}))).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu(&app, Method::GET, "/me", Some(t["accessToken"].as_str().unwrap()), None).await;
    assert_kumu(s, &b, 401, "08");
    let (s, b) = kumu(&app, Method::POST, "/logout", None, None).await;
    assert_kumu(s, &b, 401, "08");
    let (s, b) = kumu(&app, Method::GET, "/me", None, None).await;
    assert_kumu(s, &b, 401, "08");
}

#[tokio::test]
async fn malformed_requests_get_90_naming_the_field_never_a_500() {
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let cases = [
        (json!({"password": "x", "tagId": tag}), "/login", "identifier"),
        (json!({"identifier": "x", "tagId": tag}), "/login", "password"),
        (json!({"identifier": "x", "password": "x"}), "/login", "tagId"),
        (json!({"identifier": 5, "password": "x", "tagId": tag}), "/login", "identifier"),
        (json!({"userId": "nope", "otp": "1", "challengeId": uuid::Uuid::new_v4()}), "/otp/verify", "userId"),
        (json!({"userId": uuid::Uuid::new_v4(), "challengeId": uuid::Uuid::new_v4()}), "/otp/verify", "otp"),
        (json!({"userId": uuid::Uuid::new_v4()}), "/otp/resend", "challengeId"),
        (json!({}), "/token/refresh", "refreshToken"),
    ];
    for (body, path, field) in cases {
        let (s, b) = kumu(&app, Method::POST, path, None, Some(body)).await;
        assert_kumu(s, &b, 400, "90");
        assert!(b["status"]["returnMessage"].as_str().unwrap().starts_with(field), "{path}: {b}");
        assert_eq!(b["data"], Value::Null);
    }
    let r = app
        .request(Method::POST, "/v1/auth/login")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"]["returnCode"], "90");
    let (s, b) = kumu(
        &app,
        Method::POST,
        "/otp/verify",
        None,
        Some(json!({"userId": uuid::Uuid::new_v4(), "otp": "123456", "challengeId": uuid::Uuid::new_v4()})),
    )
    .await;
    assert_kumu(s, &b, 401, "04");
    let (s, b) = kumu(&app, Method::GET, "/no-such-endpoint", None, None).await;
    assert_eq!(s, 404, "{b}");
    assert!(b["status"]["returnCode"].is_string(), "{b}");
}

#[tokio::test]
async fn jwks_is_served_at_the_root_under_the_prefix_and_per_tenant_with_cache_headers() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let t = kumu_tokens(&app, &tag).await;
    let kid = header_of(t["accessToken"].as_str().unwrap())["kid"].as_str().unwrap().to_string();
    for path in ["/.well-known/jwks.json", "/v1/auth/.well-known/jwks.json", &format!("/t/{slug}/.well-known/jwks.json")] {
        let r = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=300");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let set: Value = r.json().await.unwrap();
        assert!(set["keys"].as_array().unwrap().iter().any(|k| k["kid"] == json!(kid)), "{path}: {set}");
    }
    // Another tenant's set does not carry this tenant's keys; the shared one carries both.
    let (other, other_tag, _) = kumu_tenant(&app).await;
    kumu_tokens(&app, &other_tag).await;
    let (_, set) = castellan_testkit::send(app.request(Method::GET, &format!("/t/{other}/.well-known/jwks.json"))).await;
    assert!(set["keys"].as_array().unwrap().iter().all(|k| k["kid"] != json!(kid)), "{set}");
    let (s, _) = castellan_testkit::send(app.request(Method::GET, "/t/no-such-tenant/.well-known/jwks.json")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn es256_and_eddsa_keys_sign_after_a_rotation_and_verify_through_jwks() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    for alg in ["ES256", "EdDSA", "RS256"] {
        let (s, k) = app.admin(Method::POST, &format!("/tenants/{slug}/keys/rotate"), Some(json!({"alg": alg}))).await;
        assert!(s == 200 || s == 201, "{k}");
        let t = kumu_tokens(&app, &tag).await;
        let access = t["accessToken"].as_str().unwrap();
        assert_eq!(header_of(access)["alg"], alg);
        assert_eq!(header_of(access)["kid"], k["kid"], "{k}");
        verify_with_jwks(&app.url(&format!("/t/{slug}/.well-known/jwks.json")), access, &app.address, &format!("kumusoft:{tag}"))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let (s, b) = kumu(&app, Method::GET, "/me", Some(access), None).await;
        assert_kumu(s, &b, 200, "00");
    }
}

#[tokio::test]
async fn a_configured_prefix_issuer_and_audience_template_are_honoured() {
    let app = spawn_app_with(TestOptions {
        settings: Some(Box::new(|s| {
            s.kumusoft_prefix = "/kumu/auth/".into();
            s.kumusoft_audience = "urn:kumusoft:{tagId}".into();
        })),
        ..Default::default()
    })
    .await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let (s, b) =
        app.admin(Method::PATCH, &format!("/tenants/{slug}"), Some(json!({"issuer": "https://auth.kumusoft.com"}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = castellan_testkit::send(
        app.request(Method::POST, "/kumu/auth/login")
            .json(&json!({"identifier": "user_8742", "password": KUMU_PASSWORD, "tagId": tag})),
    )
    .await;
    assert_kumu(s, &b, 200, "00");
    let m = outbox_message(&app, "user_8742@example.com", 1).await;
    let (s, t) = castellan_testkit::send(app.request(Method::POST, "/kumu/auth/otp/verify").json(&json!({
        "userId": b["data"]["userId"], "otp": code_in(m["body"].as_str().unwrap()), "challengeId": b["data"]["challengeId"]
    })))
    .await;
    assert_kumu(s, &t, 200, "00");
    let access = t["data"]["accessToken"].as_str().unwrap();
    verify_with_jwks(
        &app.url("/kumu/auth/.well-known/jwks.json"),
        access,
        "https://auth.kumusoft.com",
        &format!("urn:kumusoft:{tag}"),
    )
    .await
    .unwrap();
    let (_, doc) = castellan_testkit::send(app.request(Method::GET, "/openapi.json")).await;
    assert!(doc["paths"]["/kumu/auth/otp/verify"]["post"].is_object());
    assert!(doc["paths"]["/v1/auth/otp/verify"].is_null());
    let (s, _) = kumu(&app, Method::POST, "/login", None, Some(json!({}))).await;
    assert_eq!(s, 404, "the default prefix is not mounted");
}

#[tokio::test]
async fn a_relying_party_with_only_the_jwks_url_refuses_tampered_downgraded_foreign_and_expired_tokens() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let jwks = app.url("/.well-known/jwks.json");
    let aud = format!("kumusoft:{tag}");
    // A token issued two hours ago (the server's clock set back) has expired for the relying party.
    app.clock.advance(-7200);
    let old = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    app.clock.advance(7200);
    let err = verify_with_jwks(&jwks, &old, &app.address, &aud).await.unwrap_err();
    assert!(err.contains("Expired"), "{err}");
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    assert!(verify_with_jwks(&jwks, &access, &app.address, &aud).await.is_ok());
    assert!(verify_with_jwks(&jwks, &access, &app.address, "kumusoft:ANOTHER_TAG").await.is_err());
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!(uuid::Uuid::new_v4());
    let tampered = format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
    assert!(verify_with_jwks(&jwks, &tampered, &app.address, &aud).await.is_err());
    let mut header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    for alg in ["none", "HS256"] {
        header["alg"] = json!(alg);
        let downgraded = format!("{}.{}.{}", B64.encode(header.to_string()), parts[1], parts[2]);
        assert!(verify_with_jwks(&jwks, &downgraded, &app.address, &aud).await.is_err(), "{alg}");
    }
}

/// The server remembers a token whose signature it checked; a copy with other claims or another
/// signature is not that token, and the remembered one still expires and still ends with its
/// session.
#[tokio::test]
async fn a_token_taken_once_is_taken_again_only_as_it_was_and_while_it_lasts() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use castellan_core::clock::Clock;
    let app = spawn_app().await;
    let (_, tag, _) = kumu_tenant(&app).await;
    let access = kumu_tokens(&app, &tag).await["accessToken"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (s, b) = kumu(&app, Method::GET, "/me", Some(&access), None).await;
        assert_kumu(s, &b, 200, "00");
    }
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    claims["exp"] = json!(exp + 86_400);
    let longer = format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
    let mut signature = B64.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let resigned = format!("{}.{}.{}", parts[0], parts[1], B64.encode(&signature));
    for forged in [&longer, &resigned] {
        let (s, b) = kumu(&app, Method::GET, "/me", Some(forged), None).await;
        assert_kumu(s, &b, 401, "08");
    }
    // Past its expiry (and the leeway) the remembered token is refused; before it, taken again.
    let left = exp - app.clock.now();
    app.clock.advance(left + 31);
    let (s, b) = kumu(&app, Method::GET, "/me", Some(&access), None).await;
    assert_kumu(s, &b, 401, "08");
    app.clock.advance(-(left + 31));
    let (s, b) = kumu(&app, Method::GET, "/me", Some(&access), None).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu(&app, Method::POST, "/logout", Some(&access), None).await;
    assert_kumu(s, &b, 200, "00");
    let (s, b) = kumu(&app, Method::GET, "/me", Some(&access), None).await;
    assert_kumu(s, &b, 401, "08");
}
