//! Shared middleware: request ids, access logging and metrics, security headers, the refusal of
//! bodies declared larger than the limit.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use crate::dialects::mount::answer_for;
use crate::state::AppState;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (kept if the caller sent a sane one), writes one access-log line
/// once it is answered (target `castellan::access`), and counts it per route. The line names the
/// route template, never the path or query as sent: hosted pages carry session tokens there.
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
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(req).instrument(span).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record_request(&method, &route, status, elapsed);
    let latency_ms = (elapsed * 100_000.0).round() / 100.0;
    if status >= 500 {
        tracing::error!(target: "castellan::access", %method, %route, status, latency_ms, request_id = %id, "request failed");
    } else {
        tracing::info!(target: "castellan::access", %method, %route, status, latency_ms, request_id = %id, "request");
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
    // Every "not now" says when to come back, whichever dialect's shape it is in (a database
    // away or out of space, the deadline): clients and load balancers back off instead of retrying at once.
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key("retry-after") {
        response.headers_mut().insert(HeaderName::from_static("retry-after"), HeaderValue::from_static("5"));
    }
    response
}

/// Ends a request that runs past the configured timeout with 503. A dialect's long paths wait
/// for a result callback (eauthenticator's hosted form posts), so they get the callback window
/// (and a little) instead.
pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let long = state.dialects.iter().any(|d| d.long_paths().contains(&path));
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

/// Answers 413 at once, and closes the connection, when a request declares a body larger than
/// the limit: waiting for a body that will be refused anyway would hold the connection until
/// the request timeout. The answer is in the shape of the dialect the path belongs to.
pub async fn refuse_oversized(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let limit = state.settings.body_limit_bytes;
    if declared.is_none_or(|n| n <= limit as u64) {
        return next.run(req).await;
    }
    let reason = format!("larger than {limit} bytes");
    let path = req.uri().path();
    let mut response = answer_for(&state.dialects, &state.settings, path, |d| d.body_too_large(&reason)).unwrap_or_else(|| {
        Json(json!({ "error": { "code": "payload_too_large", "message": format!("request body {reason}") } })).into_response()
    });
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
