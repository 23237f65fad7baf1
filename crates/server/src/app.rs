//! `Application`: binds the listeners (port 0 picks a free one), assembles the router and serves
//! until told to stop, letting in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::Core;
use castellan_core::delivery::Transports;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::Api;
use crate::client::TrustedProxies;
use crate::connections::Limits;
use crate::dialects::{DialectMount, mount};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;
use crate::state::AppState;
use crate::{admin, connections, dialects, middleware, openapi, ops, pages};

/// Every route, with what it mounts.
pub fn routes(settings: &Settings, dialects: &[&'static dyn DialectMount]) -> Api {
    let mounted = dialects.iter().fold(Api::default(), |api, d| api.merge(d.router(settings)));
    ops::router(settings).merge(openapi::router()).merge(mounted).merge(admin::router()).merge(pages::router())
}

/// An unknown path: in the shape of the dialect whose prefix holds it, if it has one.
async fn fallback(axum::extract::State(state): axum::extract::State<AppState>, uri: axum::http::Uri) -> Response {
    mount::answer_for(&state.dialects, &state.settings, uri.path(), |d| d.not_found()).unwrap_or_else(|| {
        (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "code": "not_found", "message": "not found" } }))).into_response()
    })
}

pub struct Application {
    stop: watch::Sender<bool>,
    listener: TcpListener,
    port: u16,
    /// The listener of `metrics_listen`, when `/metrics` has one of its own.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    transports: Transports,
}

/// Stops a running application gracefully.
#[derive(Clone)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Binds `settings.listen` (and `metrics_listen`) and mounts every dialect of
    /// [`dialects::all`]; the core must already be wired to its store.
    pub async fn build(settings: Settings, core: Arc<Core>, transports: Transports) -> std::io::Result<Application> {
        Self::build_with_dialects(settings, core, transports, dialects::all()).await
    }

    /// As [`build`](Self::build), mounting these dialects instead.
    pub async fn build_with_dialects(
        settings: Settings,
        core: Arc<Core>,
        transports: Transports,
        dialects: Vec<&'static dyn DialectMount>,
    ) -> std::io::Result<Application> {
        let listener = TcpListener::bind(settings.listen).await?;
        Self::build_on(listener, settings, core, transports, dialects).await
    }

    /// As [`build_with_dialects`](Self::build_with_dialects), serving on a listener the caller
    /// has bound already (one that needed the port before the core was made, as the tests do:
    /// binding, dropping and binding again would race other processes for the port).
    pub async fn build_on(
        listener: TcpListener,
        settings: Settings,
        core: Arc<Core>,
        transports: Transports,
        dialects: Vec<&'static dyn DialectMount>,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| std::io::Error::new(e.kind(), format!("metrics_listen {addr}: {e}")))?,
            ),
            None => None,
        };
        let proxies = TrustedProxies::parse(&settings.trusted_proxies).map_err(std::io::Error::other)?;
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            shutdown,
            core,
            auth_limiter: Arc::new(RateLimiter::new(settings.auth_rate_limit_per_minute)),
            user_code_limiter: Arc::new(RateLimiter::new(crate::rate_limit::USER_CODE_FAILURES_PER_MINUTE)),
            user_code_tenant_limiter: Arc::new(RateLimiter::new(crate::rate_limit::USER_CODE_TENANT_FAILURES_PER_MINUTE)),
            registration_limiter: Arc::new(RateLimiter::new(crate::rate_limit::REGISTRATIONS_PER_MINUTE)),
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::default()),
            proxies: Arc::new(proxies),
            dialects: dialects.into(),
        };
        Ok(Application { stop, listener, port, metrics_listener, state, transports })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound address of `metrics_listen`, if set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The whole application as a service, to be called in-process (the fuzz targets): every
    /// route and middleware of the listener's, without the connection limits. Requests should
    /// carry `ConnectInfo`, as the listener's do; without it the peer reads as loopback.
    pub fn service(&self) -> Router {
        Self::router(self.state.clone())
    }

    fn router(state: AppState) -> Router {
        let settings = state.settings.clone();
        routes(&settings, &state.dialects)
            .router
            .fallback(fallback)
            .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
            .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::deadline))
            .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::refuse_oversized))
            .layer(axum::middleware::from_fn(middleware::security_headers))
            .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe))
            .with_state(state)
    }

    /// `/metrics` alone, for `metrics_listen`.
    fn metrics_router(state: AppState) -> Router {
        Router::new()
            .route("/metrics", axum::routing::get(ops::metrics))
            .fallback(|| async {
                (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "code": "not_found", "message": "not found" } })))
            })
            .layer(axum::middleware::from_fn(middleware::security_headers))
            .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe))
            .with_state(state)
    }

    fn limits(settings: &Settings) -> Limits {
        Limits {
            max_connections: settings.max_connections,
            max_per_ip: settings.max_connections_per_ip,
            exempt: settings.trusted_proxies.iter().filter_map(|p| castellan_core::net::Cidr::parse(p)).collect(),
            header_read_timeout: settings.header_read_timeout(),
            keep_alive_timeout: settings.keep_alive_timeout(),
        }
    }

    /// Serves until `stop` is signalled (or SIGTERM/Ctrl-C when `signals` is set), then lets
    /// in-flight requests finish and the delivery worker end its batch.
    pub async fn run(self, signals: bool) -> (StopHandle, impl Future<Output = std::io::Result<()>>) {
        let tx = self.stop;
        let rx = tx.subscribe();
        let handle = StopHandle(tx.clone());
        let worker =
            tokio::spawn(castellan_core::delivery::worker::run(self.state.core.clone(), self.transports.clone(), rx.clone()));
        let callbacks = tokio::spawn(castellan_core::delivery::callbacks::run(self.state.core.clone(), rx.clone()));
        if signals {
            let tx = tx.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = tx.send(true);
            });
        }
        let core = self.state.core.clone();
        let metrics = self.state.metrics.clone();
        let limits = Self::limits(&self.state.settings);
        let metrics_app = self.metrics_listener.map(|l| (l, Self::metrics_router(self.state.clone())));
        let app = Self::router(self.state);
        let listener = self.listener;
        let serve = async move {
            let main = connections::serve(listener, app, limits.clone(), metrics.clone(), rx.clone());
            let side = async move {
                if let Some((listener, app)) = metrics_app {
                    connections::serve(listener, app, limits, metrics, rx).await;
                }
            };
            tokio::join!(main, side);
            let _ = worker.await;
            let _ = callbacks.await;
            // Audit events still queued are written before the process may exit.
            core.audit_settled().await;
            Ok(())
        };
        (handle, serve)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
