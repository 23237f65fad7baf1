//! The admin REST API (`/admin/v1`): tenants, policy, applications, users (their sessions and
//! consents), audit, keys and the development outbox. Every handler takes an
//! [`auth::AdminAccess`], which only the token check can produce.

mod auth;
mod dto;
mod error;
mod handlers;
mod schemas;

use crate::api::Api;

pub use auth::AQuery;
pub use handlers::ApiDoc;

pub fn router() -> Api {
    use handlers::*;
    Api::default()
        .post("/admin/v1/tenants", create_tenant)
        .get("/admin/v1/tenants", list_tenants)
        .get("/admin/v1/tenants/{t}", get_tenant)
        .patch("/admin/v1/tenants/{t}", patch_tenant)
        .delete("/admin/v1/tenants/{t}", delete_tenant)
        .get("/admin/v1/tenants/{t}/policy", get_policy)
        .put("/admin/v1/tenants/{t}/policy", put_policy)
        .post("/admin/v1/tenants/{t}/applications", create_application)
        .get("/admin/v1/tenants/{t}/applications", list_applications)
        .get("/admin/v1/tenants/{t}/applications/{client_id}", get_application)
        .patch("/admin/v1/tenants/{t}/applications/{client_id}", patch_application)
        .delete("/admin/v1/tenants/{t}/applications/{client_id}", delete_application)
        .post("/admin/v1/tenants/{t}/applications/{client_id}/api-keys", create_api_key)
        .post("/admin/v1/tenants/{t}/applications/{client_id}/secret", rotate_secret)
        .post("/admin/v1/tenants/{t}/applications/{client_id}/callback-secret", rotate_callback_secret)
        .post("/admin/v1/tenants/{t}/users", create_user)
        .get("/admin/v1/tenants/{t}/users", list_users)
        .get("/admin/v1/tenants/{t}/users/{id}", get_user)
        .patch("/admin/v1/tenants/{t}/users/{id}", patch_user)
        .delete("/admin/v1/tenants/{t}/users/{id}", delete_user)
        .post("/admin/v1/tenants/{t}/users/{id}/unlock", unlock_user)
        .get("/admin/v1/tenants/{t}/users/{id}/sessions", list_user_sessions)
        .delete("/admin/v1/tenants/{t}/users/{id}/sessions", revoke_user_sessions)
        .get("/admin/v1/tenants/{t}/users/{id}/consents", list_user_consents)
        .delete("/admin/v1/tenants/{t}/users/{id}/consents/{client_id}", revoke_user_consent)
        .get("/admin/v1/tenants/{t}/users/{id}/credentials", list_user_credentials)
        .delete("/admin/v1/tenants/{t}/users/{id}/credentials/{credential}", delete_user_credential)
        .post("/admin/v1/tenants/{t}/users/{id}/totp", enroll_totp)
        .delete("/admin/v1/tenants/{t}/users/{id}/totp", remove_totp)
        .get("/admin/v1/tenants/{t}/audit", list_audit)
        .post("/admin/v1/tenants/{t}/registration-tokens", create_registration_token)
        .get("/admin/v1/tenants/{t}/keys", list_keys)
        .post("/admin/v1/tenants/{t}/keys/rotate", rotate_key)
        .get("/admin/v1/tenants/{t}/keys/hs256", export_hs256)
        .get("/admin/v1/outbox", outbox)
}
