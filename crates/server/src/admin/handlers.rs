//! Admin handlers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::model::audit::AuditFilter;
use castellan_core::model::{AppId, AuditAction, TenantId, UserId};
use castellan_core::model::{ApplicationKind, KeyAlg, NewUser, Policy, Profile, Tenant};
use castellan_core::services::ClientContext;
use castellan_core::services::tenants::{NewTenant, TenantPatch};
use castellan_core::services::users::UserPatch;
use castellan_core::store::UserFilter;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::auth::{AJson, AQuery, AdminAccess};
use super::dto::*;
use super::error::{AdminError, AdminResult};
use super::schemas::*;
use crate::client::Ctx;
use crate::openapi::schemas::{ErrorEnvelope, OutboxMessage};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(create_tenant, list_tenants, get_tenant, patch_tenant, delete_tenant, get_policy, put_policy, create_application,
          list_applications, get_application, patch_application, delete_application, create_api_key, rotate_secret, rotate_callback_secret,
          create_user, list_users, get_user, patch_user, delete_user, unlock_user, list_user_sessions,
          revoke_user_sessions, list_user_consents, revoke_user_consent, list_user_credentials, delete_user_credential, enroll_totp, remove_totp, list_audit, list_keys, rotate_key, create_registration_token, export_hs256, outbox),
    components(schemas(CreateTenant, PatchTenant, CreateApplication, PatchApplication, CreateUser, PatchUser, RotateKey, CreateRegistrationToken)),
    tags((name = "admin", description = "Operator API; Authorization: Bearer <admin token>."))
)]
pub struct ApiDoc;

fn json_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The one audit event of a change made through the admin API, after it succeeded. (The
/// `castellan` CLI works on the database as the operator and records nothing.)
async fn admin_change(
    state: &AppState,
    ctx: &Ctx,
    tenant: Option<TenantId>,
    app: Option<AppId>,
    action: AuditAction,
    detail: Value,
) {
    let caller = ClientContext { application_id: app, ..ctx.client.clone() };
    state.core.audit(tenant, None, action, "success", &caller, detail).await;
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn tenant(state: &AppState, t: &str) -> AdminResult<Tenant> {
    Ok(state.core.tenants().find_tenant(t).await?)
}

fn user_id(id: &str) -> AdminResult<UserId> {
    id.parse::<UserId>().map_err(|_| AdminError::new(StatusCode::NOT_FOUND, "not_found", "not found"))
}

/// Creates a tenant; its profile seeds the policy and dialects.
#[utoipa::path(post, path = "/admin/v1/tenants", tag = "admin", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, description = "The tenant", body = AdminTenant),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 409, description = "conflict: already taken", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn create_tenant(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    AJson(b): AJson<CreateTenant>,
) -> AdminResult<Response> {
    let profile = match b.profile.as_deref() {
        None => Profile::Default,
        Some(p) => Profile::parse(p).ok_or_else(|| AdminError::bad_request(format!("profile: unknown profile {p}")))?,
    };
    let t = state
        .core
        .tenants()
        .create_tenant(NewTenant {
            slug: b.slug,
            display_name: b.display_name,
            profile,
            dialects: b.dialects,
            issuer: b.issuer,
            audience: b.audience,
        })
        .await?;
    admin_change(&state, &ctx, Some(t.id), None, AuditAction::TenantCreate, json!({"slug": t.slug})).await;
    Ok(created(json_of(&t)))
}

/// Every tenant.
#[utoipa::path(get, path = "/admin/v1/tenants", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Tenants", body = Vec<AdminTenant>),
        AdminAuthErrors))]
pub async fn list_tenants(_: AdminAccess, State(state): State<AppState>) -> AdminResult<Json<Value>> {
    Ok(Json(json_of(&state.core.tenants().list_tenants().await?)))
}

/// One tenant.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "The tenant", body = AdminTenant),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn get_tenant(_: AdminAccess, State(state): State<AppState>, Path(t): Path<String>) -> AdminResult<Json<Value>> {
    Ok(Json(json_of(&tenant(&state, &t).await?)))
}

/// Changes a tenant's name, dialects, issuer or audience.
#[utoipa::path(patch, path = "/admin/v1/tenants/{t}", tag = "admin", security(("bearer" = [])), request_body = PatchTenant, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "The tenant", body = AdminTenant),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn patch_tenant(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(b): AJson<PatchTenant>,
) -> AdminResult<Json<Value>> {
    let patch = TenantPatch { display_name: b.display_name, dialects: b.dialects, issuer: b.issuer, audience: b.audience };
    let updated = state.core.tenants().update_tenant(&t, patch).await?;
    admin_change(&state, &ctx, Some(updated.id), None, AuditAction::TenantUpdate, json!({"slug": updated.slug})).await;
    Ok(Json(json_of(&updated)))
}

/// Deletes a tenant and everything in it.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 204, description = "Deleted"),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn delete_tenant(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
) -> AdminResult<Response> {
    let doomed = tenant(&state, &t).await?;
    state.core.tenants().delete_tenant(&t).await?;
    // Filed under no tenant (`castellan audit --unscoped`): the tenant's own events go with it.
    let detail = json!({"tenantId": doomed.id, "slug": doomed.slug});
    admin_change(&state, &ctx, None, None, AuditAction::TenantDelete, detail).await;
    Ok(no_content())
}

/// A tenant's policy.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/policy", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "The policy", body = AdminPolicy),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn get_policy(_: AdminAccess, State(state): State<AppState>, Path(t): Path<String>) -> AdminResult<Json<Value>> {
    Ok(Json(json_of(&tenant(&state, &t).await?.policy)))
}

/// Replaces a tenant's policy.
#[utoipa::path(put, path = "/admin/v1/tenants/{t}/policy", tag = "admin", security(("bearer" = [])), request_body = AdminPolicy, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "The policy", body = AdminPolicy),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn put_policy(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(p): AJson<Policy>,
) -> AdminResult<Json<Value>> {
    let updated = state.core.tenants().set_policy(&t, p).await?;
    admin_change(&state, &ctx, Some(updated.id), None, AuditAction::PolicyUpdate, json!({})).await;
    Ok(Json(json_of(&updated.policy)))
}

/// Creates an application; a confidential or service one gets its client secret, shown once.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/applications", tag = "admin", security(("bearer" = [])), request_body = CreateApplication, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 201, description = "The application, with client_secret once", body = AdminApplication),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 409, description = "conflict: already taken", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn create_application(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(b): AJson<CreateApplication>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let kind = ApplicationKind::parse(&b.kind).ok_or_else(|| AdminError::bad_request("kind: public, confidential or service"))?;
    let created = state.core.applications().create_application(&tenant, b.into_new(kind)).await?;
    let (app, detail) = (Some(created.app.id), json!({"clientId": created.app.client_id}));
    admin_change(&state, &ctx, Some(tenant.id), app, AuditAction::ApplicationCreate, detail).await;
    let mut v = json_of(&created.app);
    if let Some(s) = created.client_secret {
        v["client_secret"] = json!(s);
    }
    if let Some(s) = created.callback_secret {
        v["callback_secret"] = json!(s);
    }
    Ok(self::created(v))
}

/// A tenant's applications.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/applications", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "Applications", body = Vec<AdminApplication>),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn list_applications(_: AdminAccess, State(state): State<AppState>, Path(t): Path<String>) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    Ok(Json(json_of(&state.core.applications().list_applications(&tenant).await?)))
}

/// One application.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/applications/{client_id}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The application", body = AdminApplication),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn get_application(
    _: AdminAccess,
    State(state): State<AppState>,
    Path((t, c)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    Ok(Json(json_of(&state.core.applications().get_application(&tenant, &c).await?)))
}

/// Changes an application.
#[utoipa::path(patch, path = "/admin/v1/tenants/{t}/applications/{client_id}", tag = "admin", security(("bearer" = [])), request_body = PatchApplication, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The application", body = AdminApplication),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope),
        (status = 409, description = "conflict: already taken", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn patch_application(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, c)): Path<(String, String)>,
    AJson(b): AJson<PatchApplication>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let (app, callback_secret) = state.core.applications().update_application(&tenant, &c, b.into()).await?;
    let detail = json!({"clientId": app.client_id});
    admin_change(&state, &ctx, Some(tenant.id), Some(app.id), AuditAction::ApplicationUpdate, detail).await;
    let mut v = json_of(&app);
    if let Some(s) = callback_secret {
        v["callback_secret"] = json!(s);
    }
    Ok(Json(v))
}

/// Deletes an application.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/applications/{client_id}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Deleted"),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn delete_application(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, c)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    state.core.applications().delete_application(&tenant, &c).await?;
    admin_change(&state, &ctx, Some(tenant.id), None, AuditAction::ApplicationDelete, json!({"clientId": c})).await;
    Ok(no_content())
}

/// A new API key for the application, shown once.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/applications/{client_id}/api-keys", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 201, description = "The key and its prefix", body = AdminApiKey),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn create_api_key(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, c)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let (key, prefix) = state.core.applications().create_api_key(&tenant, &c).await?;
    let detail = json!({"clientId": c, "prefix": prefix});
    admin_change(&state, &ctx, Some(tenant.id), None, AuditAction::ApplicationApiKey, detail).await;
    Ok(created(json!({ "api_key": key, "prefix": prefix })))
}

/// A new client secret, shown once; the old one stops working.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/applications/{client_id}/secret", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The secret", body = AdminClientSecret),
        (status = 400, description = "invalid_request: a public application has no secret", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn rotate_secret(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, c)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let secret = state.core.applications().rotate_client_secret(&tenant, &c).await?;
    admin_change(&state, &ctx, Some(tenant.id), None, AuditAction::ApplicationSecretRotate, json!({"clientId": c})).await;
    Ok(Json(json!({ "client_secret": secret })))
}

/// A new callback secret, shown once; the earlier one stops signing at once.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/applications/{client_id}/callback-secret", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The secret", body = AdminCallbackSecret),
        (status = 400, description = "invalid_request: the application has no callback URL", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn rotate_callback_secret(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, c)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let app = state.core.applications().get_application(&tenant, &c).await?;
    let secret = state.core.hosted_apps().rotate_callback_secret(&tenant, &app).await?;
    let action = AuditAction::ApplicationCallbackSecretRotate;
    admin_change(&state, &ctx, Some(tenant.id), Some(app.id), action, json!({"clientId": c})).await;
    Ok(Json(json!({ "callback_secret": secret })))
}

/// Creates a user, with a password or an imported hash.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/users", tag = "admin", security(("bearer" = [])), request_body = CreateUser, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 201, description = "The user (never the hash)", body = AdminUser),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 409, description = "conflict: already taken", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn create_user(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(b): AJson<CreateUser>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let (password, password_is_hash) = match (b.password, b.password_hash) {
        (Some(_), Some(_)) => return Err(AdminError::bad_request("give password or password_hash, not both")),
        (Some(p), None) => (Some(p), false),
        (None, Some(h)) => (Some(h), true),
        (None, None) => (None, false),
    };
    let user = state
        .core
        .users()
        .create_user(
            &tenant,
            NewUser {
                email: b.email,
                username: b.username,
                phone: b.phone,
                password,
                password_is_hash,
                first_name: b.first_name,
                last_name: b.last_name,
                role: b.role,
                roles: b.roles,
                permissions: b.permissions,
                attributes: b.attributes,
                email_verified: b.email_verified,
                phone_verified: b.phone_verified,
                active: b.active.unwrap_or(true),
            },
        )
        .await?;
    let caller = ctx.client.clone();
    state.core.audit(Some(tenant.id), Some(user.id), AuditAction::UserCreate, "success", &caller, json!({})).await;
    Ok(created(json_of(&user)))
}

/// A tenant's users, filtered.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/users", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), UserQuery),
    responses((status = 200, description = "Users", body = Vec<AdminUser>),
        (status = 400, description = "invalid_request: a bad query", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn list_users(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(t): Path<String>,
    AQuery(q): AQuery<UserQuery>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let filter = UserFilter { email: q.email, username: q.username, phone: q.phone, limit: q.limit.unwrap_or(100) };
    Ok(Json(json_of(&state.core.users().list_users(&tenant, filter).await?)))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/users/{id}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "The user", body = AdminUser),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn get_user(
    _: AdminAccess,
    State(state): State<AppState>,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    Ok(Json(json_of(&state.core.users().get_user(&tenant, user_id(&id)?).await?)))
}

fn opt_string(m: &Map<String, Value>, key: &str) -> AdminResult<Option<Option<String>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(AdminError::bad_request(format!("{key}: must be a string or null"))),
    }
}

fn typed<T: serde::de::DeserializeOwned>(m: &Map<String, Value>, key: &str) -> AdminResult<Option<T>> {
    m.get(key).map(|v| serde_json::from_value(v.clone()).map_err(|e| AdminError::bad_request(format!("{key}: {e}")))).transpose()
}

/// Changes a user: a field sent as null is cleared, one left out is kept.
#[utoipa::path(patch, path = "/admin/v1/tenants/{t}/users/{id}", tag = "admin", security(("bearer" = [])), request_body = PatchUser, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "The user", body = AdminUser),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope),
        (status = 409, description = "conflict: already taken", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn patch_user(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
    AJson(PatchUser(m)): AJson<PatchUser>,
) -> AdminResult<Json<Value>> {
    const KNOWN: &[&str] = &[
        "email",
        "username",
        "phone",
        "first_name",
        "last_name",
        "role",
        "roles",
        "permissions",
        "attributes",
        "email_verified",
        "phone_verified",
        "active",
    ];
    if let Some(k) = m.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(AdminError::bad_request(format!("{k}: unknown field")));
    }
    let tenant = tenant(&state, &t).await?;
    let patch = UserPatch {
        email: opt_string(&m, "email")?,
        username: opt_string(&m, "username")?,
        phone: opt_string(&m, "phone")?,
        first_name: opt_string(&m, "first_name")?,
        last_name: opt_string(&m, "last_name")?,
        role: typed(&m, "role")?,
        roles: typed(&m, "roles")?,
        permissions: typed(&m, "permissions")?,
        attributes: typed(&m, "attributes")?,
        email_verified: typed(&m, "email_verified")?,
        phone_verified: typed(&m, "phone_verified")?,
        active: typed(&m, "active")?,
    };
    Ok(Json(json_of(&state.core.users().update_user(&tenant, user_id(&id)?, patch, &ctx.client).await?)))
}

/// Deletes a user.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/users/{id}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 204, description = "Deleted"),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn delete_user(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    state.core.users().delete_user(&tenant, user_id(&id)?, &ctx.client).await?;
    Ok(no_content())
}

/// Lifts a lockout.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/users/{id}/unlock", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 204, description = "Unlocked"),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn unlock_user(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    state.core.users().unlock_user(&tenant, user_id(&id)?, &ctx.client).await?;
    Ok(no_content())
}

/// A user's live sessions.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/users/{id}/sessions", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "Live sessions", body = Vec<AdminSession>),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn list_user_sessions(
    _: AdminAccess,
    State(state): State<AppState>,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    Ok(Json(json_of(&state.core.sessions().list_sessions(&tenant, user.id).await?)))
}

/// Ends every session of a user.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/users/{id}/sessions", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "How many ended", body = AdminRevoked),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn revoke_user_sessions(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let n = state.core.sessions().revoke_all_sessions(&tenant, user_id(&id)?, &ctx.client).await?;
    Ok(Json(json!({ "revoked": n })))
}

/// A user's remembered OpenID Connect consents: each client and the scopes it gets without asking.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/users/{id}/consents", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "Consents, oldest first", body = Vec<AdminConsent>),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn list_user_consents(
    _: AdminAccess,
    State(state): State<AppState>,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    let consents: Vec<Value> = state
        .core
        .provider()
        .list_consents(&tenant, &user)
        .await?
        .into_iter()
        .map(|(grant, client_id)| {
            json!({"client_id": client_id, "scopes": grant.scopes, "created_at": grant.created_at, "updated_at": grant.updated_at})
        })
        .collect();
    Ok(Json(Value::Array(consents)))
}

/// Withdraws a user's consent to a client: its next authorization request asks again.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/users/{id}/consents/{client_id}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Withdrawn"),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found: no such user, client or consent", body = ErrorEnvelope)))]
pub async fn revoke_user_consent(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id, c)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    let app = state.core.applications().get_application(&tenant, &c).await?;
    state.core.provider().revoke_consent(&tenant, &user, &app, &ctx.client).await?;
    Ok(no_content())
}

/// A user's passkeys and security keys (never their keys' material).
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/users/{id}/credentials", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 200, description = "Credentials, oldest first", body = Vec<AdminCredential>),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn list_user_credentials(
    _: AdminAccess,
    State(state): State<AppState>,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    let found: Vec<Value> = state
        .core
        .passkeys()
        .list(&tenant, user.id)
        .await?
        .into_iter()
        .map(|c| {
            json!({"id": c.id, "kind": c.kind.as_str(), "name": c.name, "credential_id": c.credential_id, "aaguid": c.aaguid,
                   "sign_count": c.sign_count, "backup_eligible": c.backup_eligible, "backup_state": c.backup_state,
                   "created_at": c.created_at, "last_used_at": c.last_used_at})
        })
        .collect();
    Ok(Json(Value::Array(found)))
}

/// Removes one of a user's passkeys or security keys: it signs in no more.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/users/{id}/credentials/{credential}", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)"), ("credential" = String, Path, description = "The credential's id (UUID, as listed)")),
    responses((status = 204, description = "Removed"),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn delete_user_credential(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id, credential)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    let credential =
        uuid::Uuid::parse_str(&credential).map_err(|_| castellan_core::CoreError::field("credential", "not a UUID"))?;
    state.core.passkeys().delete(&tenant, user.id, credential, &ctx.client).await?;
    Ok(no_content())
}

/// Enrols a TOTP factor for a user, active at once.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/users/{id}/totp", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 201, description = "The secret and otpauth URL", body = AdminTotp),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn enroll_totp(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    let (secret, url) = state.core.totp().enroll_totp_directly(&tenant, &user, &ctx.client).await?;
    Ok(created(json!({ "secret": secret, "otpauth_url": url })))
}

/// Removes a user's TOTP factor.
#[utoipa::path(delete, path = "/admin/v1/tenants/{t}/users/{id}/totp", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), ("id" = String, Path, description = "User id (UUID)")),
    responses((status = 204, description = "Removed"),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn remove_totp(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path((t, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let user = state.core.users().get_user(&tenant, user_id(&id)?).await?;
    state.core.totp().remove_totp(&tenant, &user, &ctx.client).await?;
    Ok(no_content())
}

/// A tenant's audit events, newest first.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/audit", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug"), AuditQuery),
    responses((status = 200, description = "Events", body = Vec<AdminAuditEvent>),
        (status = 400, description = "invalid_request: a bad query (user_id not a UUID)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn list_audit(
    _: AdminAccess,
    State(state): State<AppState>,
    Path(t): Path<String>,
    AQuery(q): AQuery<AuditQuery>,
) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let user_id = q
        .user_id
        .as_deref()
        .map(|u| u.parse::<UserId>().map_err(|_| AdminError::bad_request("user_id: not a UUID")))
        .transpose()?;
    let filter = AuditFilter { user_id, action: q.action, since: q.since, limit: q.limit.unwrap_or(100) };
    Ok(Json(json_of(&state.core.list_audit(&tenant, filter).await?)))
}

/// A tenant's signing keys (public parts only).
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/keys", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "Keys", body = Vec<AdminKey>),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope)))]
pub async fn list_keys(_: AdminAccess, State(state): State<AppState>, Path(t): Path<String>) -> AdminResult<Json<Value>> {
    let tenant = tenant(&state, &t).await?;
    let keys: Vec<Value> = state
        .core
        .signing_keys().list_keys(&tenant)
        .await?
        .into_iter()
        .map(|k| json!({ "kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "created_at": k.created_at, "public_jwk": k.public_jwk }))
        .collect();
    Ok(Json(Value::Array(keys)))
}

/// An initial access token for the tenant's OpenID Connect registration endpoint (RFC 7591),
/// for tenants whose policy has `client_registration: protected`.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/registration-tokens", tag = "admin", security(("bearer" = [])), request_body = Option<CreateRegistrationToken>, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 201, description = "The token, shown once", body = AdminRegistrationToken),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn create_registration_token(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(b): AJson<CreateRegistrationToken>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let (expires_in, count) = (b.expires_in.unwrap_or(86_400), b.count.unwrap_or(1));
    let issued = state.core.provider().issue_initial_access_token(&tenant, expires_in, count, &ctx.client).await?;
    Ok(created(json!({ "token": issued.token, "expires_at": issued.expires_at, "count": issued.uses })))
}

/// A new active signing key of that algorithm; the previous one retires.
#[utoipa::path(post, path = "/admin/v1/tenants/{t}/keys/rotate", tag = "admin", security(("bearer" = [])), request_body = RotateKey, params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 201, description = "The new key", body = AdminKey),
        (status = 400, description = "invalid_request: a bad body or value (the message names it)", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn rotate_key(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
    AJson(b): AJson<RotateKey>,
) -> AdminResult<Response> {
    let tenant = tenant(&state, &t).await?;
    let alg = KeyAlg::parse(&b.alg).ok_or_else(|| AdminError::bad_request("alg: HS256, RS256, ES256 or EdDSA"))?;
    let k = state.core.signing_keys().rotate_key(&tenant, alg).await?;
    let detail = json!({"kid": k.kid, "alg": k.alg.as_str()});
    admin_change(&state, &ctx, Some(tenant.id), None, AuditAction::KeyRotate, detail).await;
    Ok(created(json!({ "kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(), "public_jwk": k.public_jwk })))
}

/// The tenant's active HS256 secret, for services that verify tokens themselves.
#[utoipa::path(get, path = "/admin/v1/tenants/{t}/keys/hs256", tag = "admin", security(("bearer" = [])), params(("t" = String, Path, example = "fmfb", description = "Tenant id or slug")),
    responses((status = 200, description = "The secret", body = AdminHs256Secret),
        AdminAuthErrors,
        (status = 404, description = "tenant_not_found / not_found", body = ErrorEnvelope)))]
pub async fn export_hs256(
    _: AdminAccess,
    State(state): State<AppState>,
    ctx: Ctx,
    Path(t): Path<String>,
) -> AdminResult<Json<Value>> {
    use base64::Engine;
    let tenant = tenant(&state, &t).await?;
    let (kid, secret) = state.core.signing_keys().export_hs256_secret(&tenant).await?;
    admin_change(&state, &ctx, Some(tenant.id), None, AuditAction::KeyExport, json!({"kid": kid})).await;
    let text = std::str::from_utf8(&secret).ok().map(str::to_string);
    Ok(Json(
        json!({ "kid": kid, "alg": "HS256", "secret": base64::engine::general_purpose::STANDARD.encode(&secret), "secret_text": text }),
    ))
}

/// Development mode only: the messages of the development outbox, newest first.
#[utoipa::path(get, path = "/admin/v1/outbox", tag = "admin", security(("bearer" = [])), params(OutboxQuery),
    responses((status = 200, description = "Messages", body = Vec<OutboxMessage>),
        (status = 400, description = "invalid_request: a bad query", body = ErrorEnvelope),
        AdminAuthErrors,
        (status = 404, description = "not_found: not in development mode", body = ErrorEnvelope)))]
pub async fn outbox(_: AdminAccess, State(state): State<AppState>, AQuery(q): AQuery<OutboxQuery>) -> AdminResult<Json<Value>> {
    if !state.settings.dev {
        return Err(AdminError::new(StatusCode::NOT_FOUND, "not_found", "the outbox is served in development mode only"));
    }
    let messages: Vec<Value> = state
        .core
        .dev_outbox(q.to.as_deref(), q.limit.unwrap_or(50))
        .await?
        .into_iter()
        .map(|m| json!({ "id": m.id, "channel": m.channel, "to": m.recipient, "subject": m.subject, "body": m.body, "created_at": m.created_at }))
        .collect();
    Ok(Json(Value::Array(messages)))
}
