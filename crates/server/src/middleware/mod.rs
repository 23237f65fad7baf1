//! Shared middleware: request ids, access logging and metrics, security headers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (kept if the caller sent a sane one), logs it once finished, and
/// counts it per route.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let mut response = {
        let _enter = span.enter();
        drop(_enter);
        next.run(req).await
    };
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record_request(&method, &route, status, elapsed);
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %route, status, elapsed_ms = elapsed * 1000.0, "request failed");
    } else {
        tracing::debug!(request_id = %id, %method, %route, status, elapsed_ms = elapsed * 1000.0, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    response
}

/// Headers every answer carries (pages add their own CSP).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let defaults: [(&str, &str); 5] = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in defaults {
        if !h.contains_key(name) {
            h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
    }
    response
}

/// Ends a request that runs past the configured timeout with 503. The hosted page's form posts
/// wait for a result callback, so they get the callback window (and a little) instead.
pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let long = crate::dialects::eauthenticator::LONG_PATHS.contains(&req.uri().path());
    let limit = if long {
        std::time::Duration::from_secs(state.settings.callback_window_seconds.clamp(1, 600) + 15)
    } else {
        state.settings.request_timeout()
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
