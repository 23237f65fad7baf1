//! Logout: RP-initiated (GET or POST, OpenID Connect RP-Initiated Logout 1.0) with its
//! confirmation page, and Keycloak's back-end logout (a client's POST with a refresh token).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use castellan_core::services::provider::{LogoutRequest, LogoutStep};

use super::authorize::{fault, form};
use super::pages::{self, Realm};
use super::{SSO_COOKIE, base_path, cookie, pairs, realm, set_cookie};
use crate::client::Ctx;
use crate::pages::kit::cross_site;
use crate::state::AppState;

fn field(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// RP-initiated logout (GET).
#[utoipa::path(get, path = "/realms/{tenant}/protocol/openid-connect/logout", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RP-initiated logout: id_token_hint, client_id, post_logout_redirect_uri (registered for the client), state, \
        logout_hint, ui_locales. With a valid hint the sign-in ends at once; without, a confirmation page first.",
    responses((status = 303, description = "Signed out: to post_logout_redirect_uri with state", headers(("Location" = String, description = "The registered post_logout_redirect_uri with state"))),
        (status = 200, description = "The confirmation page, or the signed-out page", content_type = "text/html", body = String),
        (status = 400, description = "An unregistered post_logout_redirect_uri or a bad hint: an error page, never a redirect", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String)))]
pub async fn logout_get(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.unwrap_or_default().as_bytes());
    rp_logout(&state, &ctx, &headers, &slug, &params, false).await
}

/// Logout by form: RP-initiated, its confirmation, or Keycloak's back-end logout.
#[utoipa::path(post, path = "/realms/{tenant}/protocol/openid-connect/logout", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RP-initiated logout by form (as GET), the confirmation page's form (csrf, confirm=yes), or Keycloak's \
        back-end logout: client authentication and refresh_token → 204, that token's session ends.",
    request_body(content = super::schemas::OidcLogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 204, description = "Back-end logout: the session ended"),
        (status = 303, description = "Signed out: to post_logout_redirect_uri with state", headers(("Location" = String, description = "The registered post_logout_redirect_uri with state"))),
        (status = 200, description = "A page", content_type = "text/html", body = String),
        (status = 400, description = "An error: a page, or for the back-end logout invalid_request / invalid_grant", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "Back-end logout: invalid_client", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "A cross-site confirmation", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn logout_post(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let Some(params) = form(&headers, &body) else {
        return pages::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "The request must be a form.");
    };
    // An unknown realm is the same page whichever kind of logout was asked for.
    match realm(&state, &slug).await {
        Ok(Some(_)) => {}
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, "There is no such realm here."),
        Err(e) => return fault(e),
    }
    if field(&params, "refresh_token").is_some() {
        return super::token::backend_logout(&state, &ctx, &headers, &slug, &body).await;
    }
    let confirmed = field(&params, "confirm").as_deref() == Some("yes");
    rp_logout(&state, &ctx, &headers, &slug, &params, confirmed).await
}

async fn rp_logout(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    slug: &str,
    params: &[(String, String)],
    confirmed: bool,
) -> Response {
    let tenant = match realm(state, slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return pages::error(StatusCode::NOT_FOUND, "There is no such realm here."),
        Err(e) => return fault(e),
    };
    let oidc = state.core.provider();
    let signed_in = match oidc.signed_in(&tenant, cookie(headers, SSO_COOKIE)).await {
        Ok(s) => s,
        Err(e) => return fault(e),
    };
    if confirmed {
        let genuine = signed_in.as_ref().is_some_and(|s| {
            !cross_site(headers, &state.core.config.public_url)
                && oidc.check_csrf(&s.session.id, field(params, "csrf").as_deref().unwrap_or_default())
        });
        if signed_in.is_some() && !genuine {
            return crate::pages::kit::forbidden_page();
        }
    }
    let request = LogoutRequest {
        id_token_hint: field(params, "id_token_hint"),
        client_id: field(params, "client_id"),
        post_logout_redirect_uri: field(params, "post_logout_redirect_uri"),
        state: field(params, "state"),
    };
    let base = base_path(state, &tenant);
    let realm = Realm { base: &base, name: &tenant.display_name };
    match oidc.logout(&tenant, &request, signed_in.as_ref(), confirmed, &ctx.client).await {
        Ok(LogoutStep::Confirm { client_name }) => {
            let csrf = signed_in.as_ref().map(|s| oidc.csrf_token(&s.session.id)).unwrap_or_default();
            let keep: Vec<(&str, &str)> = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"]
                .into_iter()
                .filter_map(|k| params.iter().find(|(n, _)| n == k).map(|(_, v)| (k, v.as_str())))
                .collect();
            pages::logout_confirm(&realm, client_name.as_deref(), &keep, &csrf)
        }
        Ok(LogoutStep::Done { redirect }) => {
            let mut r = match redirect {
                Some(to) => pages::see_other(&to),
                None => pages::signed_out(&realm),
            };
            // The cookie goes with the session it named.
            set_cookie(state, &mut r, &base, SSO_COOKIE, "", Some(0), "Lax");
            r
        }
        Ok(LogoutStep::Refused(why)) => pages::logout_error(StatusCode::BAD_REQUEST, &why),
        Err(e) => fault(e),
    }
}
