//! Every attempt at a credential leaves exactly one audit event, whatever becomes of it: refused
//! for a malformed, unknown, spent or expired token, for a locked account, for a lost race, or
//! accepted. One test per dialect; each counts the events of the endpoint's actions before and
//! after a mix of failing kinds and a race.

use castellan_core::model::audit::AuditFilter;
use castellan_testkit::{HttpSink, TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::eauthenticator::{HostedApp, REDIRECT, SECRET, api, enable, page_query, session_token, submit, totp_code};
use crate::helpers::{
    code, join_all, kora_tenant, kumu, kumu_challenge, kumu_tenant, kumu_tokens, outbox_count, outbox_message, tokens,
};
use crate::korastratum::link_token;

/// The tenant's events of `action` (newest first).
async fn events(app: &TestApp, tenant: &str, action: &str) -> Vec<Value> {
    let (s, list) = app.admin(Method::GET, &format!("/tenants/{tenant}/audit?action={action}&limit=1000"), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// How many events of these actions the tenant holds.
async fn count(app: &TestApp, tenant: &str, actions: &[&str]) -> usize {
    let mut n = 0;
    for action in actions {
        n += events(app, tenant, action).await.len();
    }
    n
}

/// How many events of `action` name no tenant (an unknown token, code key or API key).
async fn unscoped(app: &TestApp, action: &str) -> usize {
    let filter = AuditFilter { action: Some(action.into()), limit: 1000, ..AuditFilter::default() };
    app.core.list_unscoped_audit(filter).await.unwrap().len()
}

/// No event carries a secret: neither a token, a code nor a key handed out in the test.
fn assert_no_secret<S: AsRef<str>>(events: &[Value], secrets: &[S]) {
    let text = serde_json::to_string(events).unwrap();
    for s in secrets.iter().map(AsRef::as_ref).filter(|s| s.len() >= 6) {
        assert!(!text.contains(s), "a secret in the audit log: {text}");
    }
}

/// Outcomes of the newest `n` events, sorted, for messages and exact checks.
fn outcomes(events: &[Value], n: usize) -> Vec<String> {
    let mut o: Vec<String> = events.iter().take(n).map(|e| e["outcome"].as_str().unwrap().to_string()).collect();
    o.sort();
    o
}

#[tokio::test]
async fn korastratum_refresh_totp_and_mailed_token_attempts_each_leave_one_event() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let refresh = |token: String| {
        let slug = slug.clone();
        let app = &app;
        async move { app.kora(Method::POST, "/api/v1/auth/refresh", &slug, None, Some(json!({"refreshToken": token}))).await }
    };

    // Refresh: malformed, unknown, fifty at once with one token, then that token again.
    let (_, token) = tokens(&app, &slug).await;
    let before = count(&app, &slug, &["refresh", "refresh.reuse"]).await;
    for bad in [String::new(), "x".repeat(300), "an-unknown-refresh-token".to_string()] {
        let (s, b) = refresh(bad).await;
        assert_ne!(s, 200, "{b}");
    }
    let answers = join_all((0..50).map(|_| refresh(token.clone())).collect()).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "{answers:?}");
    let (s, _) = refresh(token.clone()).await;
    assert_eq!(s, 401);
    assert_eq!(count(&app, &slug, &["refresh", "refresh.reuse"]).await - before, 54, "one event per attempt");
    let refreshes = events(&app, &slug, "refresh").await;
    assert_eq!(refreshes.iter().filter(|e| e["outcome"] == "success").count(), 1);
    assert!(refreshes.iter().all(|e| e["outcome"] == "success" || e["detail"]["reason"].is_string()), "{refreshes:?}");

    // 2FA setup: nothing pending, a wrong code, the right one, then again when already on.
    // The race revoked the session (a spent token came back); a new login.
    let (access, _) = tokens(&app, &slug).await;
    let verify_setup = |code: String| {
        app.kora(Method::POST, "/api/v1/auth/2fa/verify-setup", &slug, Some(&access), Some(json!({"token": code})))
    };
    let before = count(&app, &slug, &["totp.enable"]).await;
    let (s, b) = verify_setup("123456".into()).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app.kora(Method::POST, "/api/v1/auth/2fa/setup", &slug, Some(&access), None).await;
    assert_eq!(s, 200, "{b}");
    let secret = b["data"]["secret"].as_str().unwrap().to_string();
    let right = code(&app, &secret, 0);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let (s, _) = verify_setup(wrong.into()).await;
    assert_eq!(s, 401);
    let (s, b) = verify_setup(right.clone()).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = verify_setup(code(&app, &secret, 1)).await;
    assert_eq!(s, 400);
    let enables = events(&app, &slug, "totp.enable").await;
    assert_eq!(enables.len() - before, 4, "{enables:?}");
    assert_eq!(outcomes(&enables, 4), ["failure", "failure", "failure", "success"]);

    // Email verification: unknown, right, spent.
    let body = json!({"email": "new@example.com", "password": "Another@Pass9", "firstName": "Ada", "lastName": "Obi"});
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/register", &slug, None, Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let mail = outbox_message(&app, "new@example.com", 1).await;
    let link = link_token(mail["body"].as_str().unwrap(), &format!("/t/{slug}/verify-email?token="));
    let before = count(&app, &slug, &["email.verify"]).await;
    for token in ["bogus", link.as_str(), link.as_str()] {
        let (s, _) =
            app.kora(Method::POST, "/api/v1/registration/verify-email", &slug, None, Some(json!({"token": token}))).await;
        assert!(s == 200 || s == 400, "{s}");
    }
    let verifies = events(&app, &slug, "email.verify").await;
    assert_eq!(verifies.len() - before, 3, "{verifies:?}");
    assert_no_secret(&verifies, &[&link, &token, &secret, &right]);
    assert_no_secret(&enables, &[secret.as_str(), right.as_str(), wrong]);
}

#[tokio::test]
async fn kumusoft_code_resend_and_refresh_attempts_each_leave_one_event() {
    let app = spawn_app().await;
    let (slug, tag, _) = kumu_tenant(&app).await;
    let verify = |user: String, otp: String, challenge: String| {
        kumu(&app, Method::POST, "/otp/verify", None, Some(json!({"userId": user, "otp": otp, "challengeId": challenge})))
    };

    // otp/verify: an unknown challenge, another user's id, a wrong code, fifty right codes at
    // once, then the spent challenge again.
    let (challenge, user, right) = kumu_challenge(&app, &tag).await;
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let before = count(&app, &slug, &["otp.verify"]).await;
    let nobody = uuid::Uuid::new_v4().to_string();
    let (s, _) = verify(user.clone(), right.clone(), nobody.clone()).await;
    assert_eq!(s, 401);
    let (s, _) = verify(nobody.clone(), right.clone(), challenge.clone()).await;
    assert_eq!(s, 401);
    let (s, _) = verify(user.clone(), wrong.into(), challenge.clone()).await;
    assert_eq!(s, 401);
    let answers = join_all((0..50).map(|_| verify(user.clone(), right.clone(), challenge.clone())).collect()).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "{answers:?}");
    let (s, _) = verify(user.clone(), right.clone(), challenge.clone()).await;
    assert_eq!(s, 401);
    let verifies = events(&app, &slug, "otp.verify").await;
    assert_eq!(verifies.len() - before, 53, "one event per attempt: {:?}", outcomes(&verifies, 53));
    assert_eq!(verifies.iter().take(53).filter(|e| e["outcome"] == "success").count(), 1);
    assert_eq!(unscoped(&app, "otp.verify").await, 1, "the unknown challenge names no tenant");

    // otp/resend: too soon after the code, and for an unknown challenge.
    let (challenge, user, _) = kumu_challenge(&app, &tag).await;
    let resends = |events: Vec<Value>| events.into_iter().filter(|e| e["detail"]["resend"] == true).count();
    let before = resends(events(&app, &slug, "otp.sent").await);
    let (s, b) = kumu(&app, Method::POST, "/otp/resend", None, Some(json!({"userId": user, "challengeId": challenge}))).await;
    assert_eq!(s, 429, "{b}");
    let (s, _) = kumu(&app, Method::POST, "/otp/resend", None, Some(json!({"userId": user, "challengeId": nobody}))).await;
    assert_eq!(s, 401);
    assert_eq!(resends(events(&app, &slug, "otp.sent").await) - before, 1);
    assert_eq!(unscoped(&app, "otp.sent").await, 1);

    // token/refresh: an unknown token (no tenant to name), fifty at once with one token.
    let data = kumu_tokens(&app, &tag).await;
    let token = data["refreshToken"].as_str().unwrap().to_string();
    let refresh = |t: String| kumu(&app, Method::POST, "/token/refresh", None, Some(json!({"refreshToken": t})));
    let before = count(&app, &slug, &["refresh", "refresh.reuse"]).await;
    let (s, _) = refresh("an-unknown-refresh-token".into()).await;
    assert_eq!(s, 401);
    let answers = join_all((0..50).map(|_| refresh(token.clone())).collect()).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), 1, "{answers:?}");
    assert_eq!(count(&app, &slug, &["refresh", "refresh.reuse"]).await - before, 50);
    assert_eq!(unscoped(&app, "refresh").await, 1);
    assert_no_secret(&events(&app, &slug, "otp.verify").await, &[&right, &token]);
}

/// Sends the resident a code by UIN and reads it from the outbox.
async fn resident_code(app: &TestApp) -> String {
    let before = outbox_count(app, "resident@example.com").await;
    let request = json!({"appId": "ida", "otpChannel": ["email"], "context": "auth-otp", "userId": crate::mosip::UIN,
                         "useridtype": "UIN"});
    let (s, b, _) = crate::mosip::post(app, "/authenticate/sendotp", "string", request).await;
    crate::mosip::assert_success(s, &b);
    let m = outbox_message(app, "resident@example.com", before + 1).await;
    crate::helpers::code_in(m["body"].as_str().unwrap())
}

#[tokio::test]
async fn mosip_code_client_and_refresh_attempts_each_leave_one_event() {
    use crate::mosip::{UIN, admin_login, envelope, otp_generate, otp_validate, post, realm, service_token};
    let app = spawn_app().await;
    let realm = realm(&app).await;
    let user_otp = |user: &str, otp: &str, app_id: Option<&str>| {
        let mut request = json!({"userId": user, "otp": otp});
        if let Some(a) = app_id {
            request["appId"] = json!(a);
        }
        post(&app, "/authenticate/useridOTP", "string", request)
    };

    // useridOTP: a key with no code (in the realm, and without an appId), twenty right codes at
    // once, then the spent code again.
    let code = resident_code(&app).await;
    let before = count(&app, "mosip", &["otp.verify"]).await;
    user_otp("no-such-user", &code, Some("ida")).await;
    user_otp("no-such-user", &code, None).await;
    let answers = join_all((0..20).map(|_| user_otp(UIN, &code, Some("ida"))).collect()).await;
    assert_eq!(answers.iter().filter(|(_, b, _)| b["errors"].is_null()).count(), 1);
    let (_, b, _) = user_otp(UIN, &code, Some("ida")).await;
    assert!(!b["errors"].is_null());
    let verifies = events(&app, "mosip", "otp.verify").await;
    assert_eq!(verifies.len() - before, 22, "{:?}", outcomes(&verifies, 22));
    assert_eq!(unscoped(&app, "otp.verify").await, 1);

    // otpmanager validate: no code for the key, a wrong code, the right one, the right one again.
    let ida = service_token(&app, "mosip-ida-client", &realm.ida_secret).await;
    let before = count(&app, "mosip", &["otp.validate"]).await;
    otp_validate(&app, &ida, "never-generated", "123456").await;
    let (_, b) = otp_generate(&app, Some(&ida), "key-1").await;
    let otp = b["response"]["otp"].as_str().unwrap().to_string();
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    for c in [wrong, otp.as_str(), otp.as_str()] {
        otp_validate(&app, &ida, "key-1", c).await;
    }
    let validates = events(&app, "mosip", "otp.validate").await;
    assert_eq!(outcomes(&validates, validates.len() - before), ["failure", "failure", "failure", "success"]);

    // clientidsecretkey: a wrong secret and an unknown client, besides the right one above.
    let before = count(&app, "mosip", &["client.authenticate"]).await;
    for (client, secret) in [("mosip-ida-client", "wrong"), ("no-such-client", "wrong")] {
        let request = json!({"appId": "ida", "clientId": client, "secretKey": secret});
        let (_, b, _) = post(&app, "/authenticate/clientidsecretkey", "string", request).await;
        assert!(!b["errors"].is_null());
    }
    assert_eq!(count(&app, "mosip", &["client.authenticate"]).await - before, 2);

    // refreshToken: malformed, unknown, then the rotation and a reuse.
    let (_, refresh) = admin_login(&app, &realm).await;
    let before = count(&app, "mosip", &["refresh", "refresh.reuse"]).await;
    for t in ["x".repeat(300), "an-unknown-refresh-token".to_string(), refresh.clone(), refresh.clone()] {
        let body = Some(envelope("string", json!({"refreshToken": t})));
        crate::mosip::call(&app, Method::POST, "/v1/authmanager/authorize/refreshToken/admin", None, body).await;
    }
    let refreshes = count(&app, "mosip", &["refresh", "refresh.reuse"]).await;
    assert_eq!(refreshes - before, 4);
    let all = events(&app, "mosip", "otp.verify").await;
    assert_no_secret(&all, &[&code, &otp, &refresh, &ida, &realm.ida_secret]);
}

#[tokio::test]
async fn fastapi_users_verify_and_reset_attempts_each_leave_one_event() {
    let app = spawn_app().await;
    crate::fastapi_users::kyc(&app).await;
    let post = |path: &'static str, body: Value| castellan_testkit::send(app.request(Method::POST, path).json(&body));
    let app_ref = &app;
    let mailed = |to: &'static str, n: usize| async move {
        let m = outbox_message(app_ref, to, n).await;
        let body = m["body"].as_str().unwrap().to_string();
        let start = body.find("token=").unwrap() + "token=".len();
        body[start..].split_whitespace().next().unwrap().to_string()
    };

    let (s, b) = post("/auth/register", json!({"email": "new@example.com", "password": crate::fastapi_users::PASSWORD})).await;
    assert_eq!(s, 201, "{b}");
    let verify = mailed("new@example.com", 1).await;
    let before = count(&app, "kyc", &["email.verify"]).await;
    for token in ["", "bogus", verify.as_str(), verify.as_str()] {
        post("/auth/verify", json!({"token": token})).await;
    }
    let verifies = events(&app, "kyc", "email.verify").await;
    assert_eq!(verifies.len() - before, 4, "{verifies:?}");
    assert_eq!(outcomes(&verifies, 4), ["failure", "failure", "failure", "success"]);

    let (s, _) = post("/auth/forgot-password", json!({"email": "user@example.com"})).await;
    assert_eq!(s, 202);
    let reset = mailed("user@example.com", 1).await;
    let before = count(&app, "kyc", &["password.reset"]).await;
    let r = reset.as_str();
    let tries = [("bogus", "another-Passw0rd-1"), (r, "short"), (r, "another-Passw0rd-1"), (r, "third-Passw0rd-22")];
    for (token, password) in tries {
        post("/auth/reset-password", json!({"token": token, "password": password})).await;
    }
    let resets = events(&app, "kyc", "password.reset").await;
    assert_eq!(resets.len() - before, 4, "{resets:?}");
    assert_eq!(outcomes(&resets, 4), ["failure", "failure", "success", "weak_password"]);
    assert_no_secret(&resets, &[reset.as_str(), "another-Passw0rd-1", verify.as_str()]);
}

/// An eauthenticator tenant and an application with an API key, made through the admin API.
async fn eauth_app(app: &TestApp, sink: &HttpSink) -> (String, HostedApp) {
    let slug = format!("portal-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let body = json!({"slug": slug, "display_name": "Portal", "profile": "eauthenticator"});
    let (s, b) = app.admin(Method::POST, "/tenants", Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let body = json!({"name": "Portal", "kind": "public", "allowed_ips": ["127.0.0.1", "::1"],
        "callback_url": format!("{}/2fa/callback", sink.url), "redirect_uris": [REDIRECT]});
    let (s, created) = app.admin(Method::POST, &format!("/tenants/{slug}/applications"), Some(body)).await;
    assert_eq!(s, 201, "{created}");
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let (s, key) = app.admin(Method::POST, &format!("/tenants/{slug}/applications/{client_id}/api-keys"), None).await;
    assert_eq!(s, 201, "{key}");
    let h = HostedApp {
        id: String::new(),
        client_id,
        api_key: key["api_key"].as_str().unwrap().to_string(),
        callback_secret: created["callback_secret"].as_str().unwrap().to_string(),
        console: String::new(),
    };
    (slug, h)
}

#[tokio::test]
async fn eauthenticator_key_toggle_page_and_console_attempts_each_leave_one_event() {
    let app = spawn_app().await;
    let sink = HttpSink::start(200, "{}").await;
    let (slug, h) = eauth_app(&app, &sink).await;

    // API keys: unknown (no tenant to name), another application's client_id, right.
    let (s, b) = enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!(s, 200, "{b}");
    let before = count(&app, &slug, &["api_key.authenticate"]).await;
    let body = json!({"email": "jane@example.com", "client_id": h.client_id});
    let (s, _) = api(&app, "/session-token", Some("cas_key_not-a-key-at-all"), body.clone()).await;
    assert_eq!(s, 401);
    let (s, _) = api(&app, "/session-token", Some(&h.api_key), json!({"email": "jane@example.com", "client_id": "other"})).await;
    assert_eq!(s, 401);
    let token = session_token(&app, &h, "jane@example.com").await;
    assert_eq!(count(&app, &slug, &["api_key.authenticate"]).await - before, 2);
    assert_eq!(unscoped(&app, "api_key.authenticate").await, 1);

    // session-token and toggle refused after the key was accepted.
    let before = count(&app, &slug, &["hosted.session_token", "hosted.toggle"]).await;
    let (s, _) = api(&app, "/session-token", Some(&h.api_key), json!({"email": "not-an-email", "client_id": h.client_id})).await;
    assert_eq!(s, 400);
    let (s, _) = enable(&app, &h, "jane@example.com", SECRET, "SHA1", 7).await;
    assert_eq!(s, 400);
    let disable = json!({"email": "not-an-email", "client_id": h.client_id, "action": "DISABLE", "type": "TOTP"});
    let (s, _) = api(&app, "/mfa/toggle", Some(&h.api_key), disable).await;
    assert_eq!(s, 400);
    assert_eq!(count(&app, &slug, &["hosted.session_token", "hosted.toggle"]).await - before, 3);

    // The hosted page: a forged token, twenty right codes at once, then a code and a rejection
    // on the finished verification.
    let before = count(&app, &slug, &["hosted.verify"]).await;
    let (s, _, _) = submit(&app, "verify", &page_query("redirect", "abc.def.ghi", REDIRECT, None), Some("123456")).await;
    assert_eq!(s, 400);
    assert_eq!(unscoped(&app, "hosted.verify").await, 1);
    let q = page_query("redirect", &token, REDIRECT, None);
    let code = totp_code(&app, SECRET, castellan_core::crypto::totp::TotpAlgorithm::Sha1, 6);
    let answers = join_all((0..20).map(|_| submit(&app, "verify", &q, Some(&code))).collect()).await;
    assert!(answers.iter().filter(|(s, _, _)| *s == 302).count() <= 1);
    submit(&app, "verify", &q, Some(&code)).await;
    submit(&app, "reject", &q, None).await;
    let verifies = events(&app, &slug, "hosted.verify").await;
    assert_eq!(verifies.len() - before, 22, "one event per attempt: {:?}", outcomes(&verifies, 22));

    // Console sign-in: wrong passwords, then more right ones than the lockout threshold; every
    // success clears the count, so none is refused.
    let account = "biz@example.com";
    app.core.console().ensure_console_account(account, "console-pass-123", &format!("acct-{}", &slug[7..])).await.unwrap();
    let sign_in = |password: &str| {
        castellan_testkit::send(
            app.request(Method::POST, "/console/api/sign-in").json(&json!({"email": account, "password": password})),
        )
    };
    let before = count(&app, "console", &["console.sign_in"]).await;
    for _ in 0..2 {
        let (s, _) = sign_in("wrong-password").await;
        assert_eq!(s, 401);
    }
    for i in 0..7 {
        let (s, b) = sign_in("console-pass-123").await;
        assert_eq!(s, 200, "sign-in #{i}: {b}");
    }
    let sign_ins = events(&app, "console", "console.sign_in").await;
    assert_eq!(sign_ins.len() - before, 9, "{:?}", outcomes(&sign_ins, 9));
    assert_no_secret(&verifies, &[&token, &h.api_key, &code]);
}

#[tokio::test]
async fn every_change_through_the_admin_api_is_one_event_without_the_secrets_it_hands_out() {
    let app = spawn_app().await;
    let (s, _) =
        app.admin(Method::POST, "/tenants", Some(json!({"slug": "audited", "display_name": "Audited", "profile": "oidc"}))).await;
    assert_eq!(s, 201);
    let (_, policy) = app.admin(Method::GET, "/tenants/audited/policy", None).await;
    assert_eq!(app.admin(Method::PUT, "/tenants/audited/policy", Some(policy)).await.0, 200);
    assert_eq!(app.admin(Method::PATCH, "/tenants/audited", Some(json!({"display_name": "Audited Inc"}))).await.0, 200);
    let body =
        json!({"name": "Web", "kind": "confidential", "client_id": "web", "redirect_uris": ["https://web.example.com/cb"]});
    let (s, created) = app.admin(Method::POST, "/tenants/audited/applications", Some(body)).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(app.admin(Method::PATCH, "/tenants/audited/applications/web", Some(json!({"name": "Web 2"}))).await.0, 200);
    let (_, rotated) = app.admin(Method::POST, "/tenants/audited/applications/web/secret", None).await;
    let (_, key) = app.admin(Method::POST, "/tenants/audited/applications/web/api-keys", None).await;
    let (s, _) = app.admin(Method::POST, "/tenants/audited/keys/rotate", Some(json!({"alg": "HS256"}))).await;
    assert_eq!(s, 201);
    let (_, exported) = app.admin(Method::GET, "/tenants/audited/keys/hs256", None).await;
    assert_eq!(app.admin(Method::DELETE, "/tenants/audited/applications/web", None).await.0, 204);
    let user = json!({"email": "someone@example.com", "password": "a long enough password"});
    assert_eq!(app.admin(Method::POST, "/tenants/audited/users", Some(user)).await.0, 201);
    let actions = [
        "user.create",
        "tenant.create",
        "policy.update",
        "tenant.update",
        "application.create",
        "application.update",
        "application.rotate_secret",
        "application.api_key",
        "key.rotate",
        "key.export",
        "application.delete",
    ];
    let mut all = Vec::new();
    for action in actions {
        let list = events(&app, "audited", action).await;
        assert_eq!(outcomes(&list, 10), ["success"], "{action}: {list:?}");
        all.extend(list);
    }
    let secrets = [
        created["client_secret"].as_str().unwrap(),
        rotated["client_secret"].as_str().unwrap(),
        key["api_key"].as_str().unwrap(),
        exported["secret"].as_str().unwrap(),
    ];
    assert_no_secret(&all, &secrets);
    assert_eq!(app.admin(Method::DELETE, "/tenants/audited", None).await.0, 204);
    assert_eq!(unscoped(&app, "tenant.delete").await, 1, "a deleted tenant's event names no tenant");
}
