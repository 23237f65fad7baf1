//! Korastratum extractors: the tenant header, JSON bodies and the bearer principal, each refusing
//! in the korastratum envelope.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use castellan_core::model::UserId;
use castellan_core::model::{Session, Tenant};
use castellan_core::services::access_tokens::Locator;
use serde::de::DeserializeOwned;

use super::DIALECT;
use super::error::KoraError;
use super::handlers::PROFILE;
use crate::dialects::json::parse_json;
use crate::state::AppState;

/// The tenant named by `X-Tenant-ID` (UUID or slug), if korastratum serves it.
pub struct KTenant(pub Tenant);

impl FromRequestParts<AppState> for KTenant {
    type Rejection = KoraError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, KoraError> {
        let header = parts.headers.get("x-tenant-id").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
        if header.is_empty() {
            return Err(KoraError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "TENANT_REQUIRED",
                "The X-Tenant-ID header is required",
            ));
        }
        let tenant = state.core.tenants().find_tenant(header).await?;
        if !tenant.serves(DIALECT) {
            return Err(castellan_core::CoreError::TenantNotFound.into());
        }
        Ok(KTenant(tenant))
    }
}

/// A JSON body parsed into `T`, or VALIDATION_ERROR naming the field.
pub struct KJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for KJson<T> {
    type Rejection = KoraError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, KoraError> {
        Ok(KJson(parse_json(req, state).await?))
    }
}

/// The caller of an authenticated endpoint: a valid korastratum access token of this tenant
/// whose session is alive.
pub struct Principal {
    pub tenant: Tenant,
    pub user_id: UserId,
    pub session: Session,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = KoraError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, KoraError> {
        let KTenant(tenant) = KTenant::from_request_parts(parts, state).await?;
        let unauthorized = || KoraError::from(castellan_core::CoreError::Unauthorized);
        let token = crate::dialects::bearer(&parts.headers).ok_or_else(unauthorized)?;
        let locator = Locator::Tenant { tenant: &tenant, audience: &tenant.audience };
        let access = state.core.tokens().locate_and_verify(token, &PROFILE, locator).await?;
        let session = access.require_session()?.clone();
        let user_id = access
            .claims
            .text("userId")
            .and_then(|s| s.parse::<UserId>().ok())
            .filter(|u| *u == session.user_id)
            .ok_or_else(unauthorized)?;
        Ok(Principal { tenant: access.tenant, user_id, session })
    }
}
