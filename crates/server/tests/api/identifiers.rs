//! Identifiers and the text that reaches the database: look-alike and invisible spellings of an
//! existing identifier make no second account, a conflict names the field that clashed, and
//! control characters get each dialect's validation answer on SQLite and PostgreSQL alike.

use castellan_testkit::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const INVISIBLE: &str = "must not contain control or format characters";
const CONTROL: &str = "must not contain control characters";

async fn kora_register(app: &TestApp, tenant: &str, email: &str, phone: Option<&str>) -> (u16, Value) {
    let mut body = json!({"email": email, "password": PASSWORD, "firstName": "Vic", "lastName": "Tim"});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    app.kora(Method::POST, "/api/v1/registration/register", tenant, None, Some(body)).await
}

async fn user_count(app: &TestApp, tenant: &str) -> usize {
    let (s, list) = app.admin(Method::GET, &format!("/tenants/{tenant}/users?limit=1000"), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().len()
}

fn assert_validation(status: u16, body: &Value, field: &str, reason: &str) {
    assert_error(status, body, 400, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"][field], json!(reason), "{body}");
}

fn assert_admin(status: u16, body: &Value, want_status: u16, code: &str, message: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body, &json!({"error": {"code": code, "message": message}}));
}

// Item 3: look-alike emails.

#[tokio::test]
async fn look_alike_and_invisible_spellings_of_an_email_register_no_second_account() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = kora_register(&app, &slug, "victim@example.com", None).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = kora_register(&app, &slug, "jos\u{00E9}@example.com", None).await;
    assert_eq!(s, 201, "{b}");
    for look_alike in [
        "\u{FF56}\u{FF49}\u{FF43}\u{FF54}\u{FF49}\u{FF4D}@example.com", // fullwidth letters
        "vi\u{0441}tim@example.com",                                    // Cyrillic es for c
        "vict\u{0456}m@\u{0435}xample.com",                             // Cyrillic i and ie
        "jose\u{0301}@example.com",                                     // NFD of an NFC address
    ] {
        let (s, b) = kora_register(&app, &slug, look_alike, None).await;
        assert_error(s, &b, 409, "EMAIL_TAKEN");
    }
    for invisible in [
        "vic\u{200B}tim@example.com", // zero-width space
        "vic\u{00AD}tim@example.com", // soft hyphen
        "\u{202E}victim@example.com", // right-to-left override
    ] {
        let (s, b) = kora_register(&app, &slug, invisible, None).await;
        assert_validation(s, &b, "email", INVISIBLE);
    }
    // The tenant's first user, the victim and José: nobody else.
    assert_eq!(user_count(&app, &slug).await, 3);
}

#[tokio::test]
async fn a_user_registered_in_nfd_signs_in_with_nfc_and_the_other_way_round() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = kora_register(&app, &slug, "Jose\u{0301}@example.com", None).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["data"]["user"]["email"], "jos\u{00E9}@example.com");
    let (s, b) = kora_register(&app, &slug, "ren\u{00E9}e@example.com", None).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = login(&app, &slug, "jos\u{00E9}@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = login(&app, &slug, "rene\u{0301}e@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn look_alike_usernames_are_taken_in_the_admin_api_but_not_in_another_tenant() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (other, _) = kora_tenant(&app).await;
    let create = |tenant: String, username: &'static str| {
        let app = &app;
        async move {
            let body = json!({"username": username, "password": PASSWORD});
            app.admin(Method::POST, &format!("/tenants/{tenant}/users"), Some(body)).await
        }
    };
    let (s, b) = create(slug.clone(), "admin").await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = create(slug.clone(), "\u{0430}dmin").await; // Cyrillic a
    assert_admin(s, &b, 409, "conflict", "username already taken");
    let (s, b) = create(slug.clone(), "ad\u{200D}min").await; // zero-width joiner
    assert_admin(s, &b, 400, "invalid_request", &format!("username: {INVISIBLE}"));
    let (s, b) = create(other.clone(), "\u{0430}dmin").await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn fastapi_users_registration_answers_a_look_alike_as_an_existing_user() {
    let app = spawn_app().await;
    crate::fastapi_users::kyc(&app).await;
    let register = |email: &'static str| {
        let app = &app;
        async move {
            let body = json!({"email": email, "password": crate::fastapi_users::PASSWORD});
            castellan_testkit::send(app.request(Method::POST, "/auth/register").json(&body)).await
        }
    };
    let (s, b) = register("us\u{0435}r@example.com").await; // Cyrillic ie for the e of user@example.com
    assert_eq!((s, b), (400, json!({"detail": "REGISTER_USER_ALREADY_EXISTS"})));
}

#[tokio::test]
async fn eauthenticator_enable_does_not_create_a_user_for_a_look_alike_email() {
    use crate::eauthenticator::{api, console_account, enable, hosted_app};
    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let app = spawn_app().await;
    let console = console_account(&app, "biz@example.com").await;
    let h = hosted_app(&app, &console, "http://127.0.0.1:9/cb", &["127.0.0.1", "::1"]).await;
    let (s, b) = enable(&app, &h, "jane@example.com", SECRET, "SHA1", 6).await;
    assert_eq!((s, b), (200, json!({"code": "SUCCESS", "message": "Success", "data": ""})));
    let failed = json!({"code": "INVALID_REQUEST", "message": "toggle failed", "data": ""});
    for look_alike in ["j\u{0430}ne@example.com", "ja\u{200B}ne@example.com"] {
        let (s, b) = enable(&app, &h, look_alike, SECRET, "SHA1", 6).await;
        assert_eq!((s, b), (400, failed.clone()), "{look_alike:?}");
        let body = json!({"email": look_alike, "client_id": h.client_id});
        let (s, b) = api(&app, "/session-token", Some(&h.api_key), body).await;
        assert_eq!((s, b["code"].clone()), (400, json!("INVALID_REQUEST")), "{look_alike:?}");
    }
}

// Item 5: conflicts name their field.

#[tokio::test]
async fn concurrent_registrations_with_one_phone_leave_one_account_and_answer_phone_taken() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let emails: Vec<String> = (0..8).map(|i| format!("racer{i}@example.com")).collect();
    let answers =
        join_all(emails.iter().map(|e| kora_register(&app, &slug, e, Some("+2348012345678"))).collect::<Vec<_>>()).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_error(*s, b, 409, "PHONE_TAKEN");
    }
    // Look-alikes racing each other: one account, the others EMAIL_TAKEN.
    let look_alikes = ["racer@example.com", "r\u{0430}cer@example.com", "rac\u{0435}r@example.com", "\u{FF52}acer@example.com"];
    let answers = join_all(look_alikes.iter().map(|e| kora_register(&app, &slug, e, None)).collect::<Vec<_>>()).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_error(*s, b, 409, "EMAIL_TAKEN");
    }
    assert_eq!(user_count(&app, &slug).await, 3);
}

#[tokio::test]
async fn a_phone_taken_at_korastratum_registration_is_phone_taken_not_email_taken() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = kora_register(&app, &slug, "first@example.com", Some("+2348012345678")).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = kora_register(&app, &slug, "second@example.com", Some("+234 801 234 5678")).await;
    let b_phone = b.clone();
    assert_error(s, &b, 409, "PHONE_TAKEN");
    assert!(b_phone["error"]["message"].as_str().unwrap().contains("phone"), "{b_phone}");
    let (s, b) = kora_register(&app, &slug, "FIRST@example.com", Some("+2348099999999")).await;
    assert_error(s, &b, 409, "EMAIL_TAKEN");
    assert_eq!(user_count(&app, &slug).await, 2);
}

#[tokio::test]
async fn admin_conflicts_name_the_field_that_clashed() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let path = format!("/tenants/{slug}/users");
    let body = json!({"email": "a@example.com", "username": "alice", "phone": "+256700000001", "attributes": {"uin": "42"}});
    let (s, b) = app.admin(Method::POST, &path, Some(body)).await;
    assert_eq!(s, 201, "{b}");
    for (body, field) in [
        (json!({"email": "a@example.com"}), "email"),
        (json!({"email": "b@example.com", "phone": "+256 700 000 001"}), "phone"),
        (json!({"email": "c@example.com", "username": "ALICE"}), "username"),
        (json!({"email": "d@example.com", "attributes": {"uin": "42"}}), "uin"),
    ] {
        let (s, b) = app.admin(Method::POST, &path, Some(body)).await;
        assert_admin(s, &b, 409, "conflict", &format!("{field} already taken"));
    }
    // An update that takes another user's phone or username says which, too.
    let (s, b) = app.admin(Method::POST, &path, Some(json!({"email": "e@example.com"}))).await;
    assert_eq!(s, 201, "{b}");
    let user = format!("{path}/{}", b["id"].as_str().unwrap());
    let (s, b) = app.admin(Method::PATCH, &user, Some(json!({"phone": "+256700000001"}))).await;
    assert_admin(s, &b, 409, "conflict", "phone already taken");
    let (s, b) = app.admin(Method::PATCH, &user, Some(json!({"username": "alice"}))).await;
    assert_admin(s, &b, 409, "conflict", "username already taken");
}

// Item 14: control characters, NUL above all, never reach the database.

#[tokio::test]
async fn a_nul_identifier_at_korastratum_login_is_a_validation_error() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let (s, b) = login(&app, &slug, "\u{0000}\u{0001}", PASSWORD).await;
    assert_validation(s, &b, "email", INVISIBLE);
    let (s, b) = login(&app, &slug, "user\u{0000}@example.com", PASSWORD).await;
    assert_validation(s, &b, "email", INVISIBLE);
    // The user is unharmed: no lockout was counted, the right password still works.
    let (s, b) = login(&app, &slug, "user@example.com", PASSWORD).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn control_characters_at_login_get_each_dialects_validation_answer() {
    let app = spawn_app().await;
    // fastapi-users: FastAPI's 422 list, on the form's field.
    crate::fastapi_users::kyc(&app).await;
    let (s, b) = crate::fastapi_users::form_login(&app, &[("username", "\u{0000}\u{0001}"), ("password", "x")]).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b, json!({"detail": [{"type": "value_error", "loc": ["body", "username"], "msg": INVISIBLE, "input": null}]}));
    // kumusoft: 90, naming the field.
    let (_, tag, _) = kumu_tenant(&app).await;
    let (s, b) = kumu_login(&app, "\u{0000}\u{0001}", KUMU_PASSWORD, &tag).await;
    assert_kumu(s, &b, 400, "90");
    assert_eq!(b["status"]["returnMessage"], json!(format!("identifier: {INVISIBLE}")));
    let (s, b) = kumu_login(&app, "user_8742@example.com", KUMU_PASSWORD, "TAG\u{0000}").await;
    assert_kumu(s, &b, 400, "90");
    assert_eq!(b["status"]["returnMessage"], json!(format!("tagId: {CONTROL}")));
    // MOSIP: KER-ATH-004 in its envelope, for the user name and the appId alike.
    let realm = crate::mosip::realm(&app).await;
    let request = json!({"appId": "admin", "clientId": "mosip-admin-client", "clientSecret": realm.admin_secret,
                         "password": crate::mosip::ADMIN_PASSWORD, "userName": "110006\u{0000}"});
    let (s, b, _) = crate::mosip::post(&app, "/authenticate/internal/useridPwd", "string", request).await;
    crate::mosip::assert_error(s, &b, "KER-ATH-004");
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("userName"), "{b}");
    let request = json!({"appId": "ida\u{0000}", "otpChannel": ["email"], "userId": crate::mosip::UIN, "useridtype": "UIN"});
    let (s, b, _) = crate::mosip::post(&app, "/authenticate/sendotp", "string", request).await;
    crate::mosip::assert_error(s, &b, "KER-ATH-004");
    let request = json!({"appId": "ida", "otpChannel": ["email"], "userId": "\u{0000}", "useridtype": "USERID"});
    let (s, b, _) = crate::mosip::post(&app, "/authenticate/sendotp", "string", request).await;
    crate::mosip::assert_error(s, &b, "KER-ATH-004");
    // The eauthenticator console API: its invalid_request.
    let body = json!({"email": "\u{0000}\u{0001}", "password": "x"});
    let (s, b) = castellan_testkit::send(app.request(Method::POST, "/console/api/sign-in").json(&body)).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "invalid_request", "{b}");
}

#[tokio::test]
async fn control_characters_are_refused_wherever_text_reaches_the_database() {
    let app = spawn_app().await;
    let (slug, _) = kora_tenant(&app).await;
    let users = format!("/tenants/{slug}/users");
    let apps = format!("/tenants/{slug}/applications");
    // Names, roles and attributes of users.
    for (body, field) in [
        (json!({"email": "n1@example.com", "first_name": "Jo\u{0000}hn"}), "first_name"),
        (json!({"email": "n2@example.com", "last_name": "Doe\u{0007}"}), "last_name"),
        (json!({"email": "n3@example.com", "role": "user\u{0000}"}), "role"),
        (json!({"email": "n4@example.com", "permissions": ["transfer\u{0000}"]}), "permissions"),
        (json!({"email": "n5@example.com", "attributes": {"uin": "1\u{0000}"}}), "attributes.uin"),
        (json!({"email": "n6@example.com", "password_hash": "$argon2id$\u{0000}"}), "password_hash"),
    ] {
        let (s, b) = app.admin(Method::POST, &users, Some(body)).await;
        assert_admin(s, &b, 400, "invalid_request", &format!("{field}: {CONTROL}"));
    }
    let (s, b) = app.admin(Method::GET, &format!("{users}?username=%00"), None).await;
    assert_admin(s, &b, 400, "invalid_request", &format!("username: {INVISIBLE}"));
    // Tenants: by path and in what they store.
    // A tenant or client id in a path that holds a control character names nothing.
    let (s, b) = app.admin(Method::GET, "/tenants/ab%00", None).await;
    assert_eq!((s, &b["error"]["code"]), (404, &json!("tenant_not_found")), "{b}");
    let body = json!({"slug": "nul-tenant", "display_name": "Bank\u{0000}"});
    let (s, b) = app.admin(Method::POST, "/tenants", Some(body)).await;
    assert_admin(s, &b, 400, "invalid_request", &format!("display_name: {CONTROL}"));
    // Applications: names, client ids, aliases, URLs, lists; on creation and on update.
    for (extra, field) in [
        (json!({"name": "App\u{0000}"}), "name"),
        (json!({"kumusoft_tag": "TAG\u{0000}"}), "kumusoft_tag"),
        (json!({"mosip_app_id": "ida\u{0000}"}), "mosip_app_id"),
        (json!({"callback_url": "https://example.com/\u{0000}"}), "callback_url"),
        (json!({"redirect_uris": ["https://example.com/\u{0000}"]}), "redirect_uris"),
        (json!({"allowed_ips": ["10.0.0.1\u{0000}"]}), "allowed_ips"),
    ] {
        let mut body = json!({"name": "App", "kind": "public"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (s, b) = app.admin(Method::POST, &apps, Some(body)).await;
        assert_admin(s, &b, 400, "invalid_request", &format!("{field}: {CONTROL}"));
    }
    let (s, b) = app.admin(Method::POST, &apps, Some(json!({"name": "App", "kind": "public", "client_id": "app-1"}))).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) =
        app.admin(Method::PATCH, &format!("{apps}/app-1"), Some(json!({"callback_url": "https://x.example/\u{0000}"}))).await;
    assert_admin(s, &b, 400, "invalid_request", &format!("callback_url: {CONTROL}"));
    let (s, b) = app.admin(Method::GET, &format!("{apps}/app%00"), None).await;
    assert_eq!((s, &b["error"]["code"]), (404, &json!("not_found")), "{b}");
    // korastratum: a name at registration, a session id in the path.
    let body = json!({"email": "new@example.com", "password": PASSWORD, "firstName": "Ne\u{0000}w", "lastName": "User"});
    let (s, b) = app.kora(Method::POST, "/api/v1/registration/register", &slug, None, Some(body)).await;
    assert_validation(s, &b, "first_name", CONTROL);
    let (access, _) = tokens(&app, &slug).await;
    let (s, b) = app.kora(Method::DELETE, "/api/v1/auth/sessions/sess_%00", &slug, Some(&access), None).await;
    assert_validation(s, &b, "id", CONTROL);
    // Nothing of the above was stored.
    assert_eq!(user_count(&app, &slug).await, 1);
}
