//! What the fuzz targets share: the whole server, in-process, on a fresh SQLite database with
//! the demo data (every dialect's documented example tenant, application and user), and the
//! textual request format the `http_request` target and its seeds use.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use castellan_server::settings::Secret;
use castellan_server::{Application, Settings};
use tower::ServiceExt;

/// The admin token of the fuzzed server: seeds of the admin API carry it.
pub const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789";
/// 32 bytes, base64: a fixed master key, so that a crash reproduces.
const MASTER_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

pub struct Server {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("fuzz harness: {what}: {e}");
    std::process::exit(2)
}

/// The server, started on first use.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| fail("runtime", e));
        let router = runtime.block_on(start());
        Server { runtime, router }
    })
}

async fn start() -> Router {
    let dir = std::env::temp_dir().join(format!("castellan-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail("data dir", e));
    let mut settings = Settings::for_test();
    settings.data_dir = dir.clone();
    settings.master_key = Some(Secret(MASTER_KEY.into()));
    settings.admin_token = Some(Secret(ADMIN_TOKEN.into()));
    let url = format!("sqlite://{}", dir.join("castellan.db").display());
    settings.database_url = Some(Secret(url.clone()));
    let store = castellan_store::SqlStore::connect(&url).await.unwrap_or_else(|e| fail("store", e));
    let listener = tokio::net::TcpListener::bind(settings.listen).await.unwrap_or_else(|e| fail("bind", e));
    let bound = listener.local_addr().unwrap_or_else(|e| fail("addr", e));
    let clock = Arc::new(castellan_core::clock::SystemClock);
    let public_url = castellan_server::bootstrap::public_url(&settings, bound);
    let core =
        castellan_server::bootstrap::core(&settings, Arc::new(store), clock, public_url).unwrap_or_else(|e| fail("core", e));
    castellan_cli::demo::run(&core, true).await.unwrap_or_else(|e| fail("demo data", e));
    let transports = castellan_server::bootstrap::transports(&settings).unwrap_or_else(|e| fail("transports", e));
    let app = Application::build_on(listener, settings, core, transports, castellan_server::dialects::all())
        .await
        .unwrap_or_else(|e| fail("build", e));
    app.service()
}

/// A request written as text: `METHOD /path?query`, header lines `name: value`, an empty line,
/// the body (bytes, as they are). `None` where the text is no request at all.
pub fn parse_request(data: &[u8]) -> Option<Request<Body>> {
    let (head, body) = match find(data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri: Uri = target.trim_end().parse().ok()?;
    if uri.scheme().is_some() || !uri.path().starts_with('/') {
        return None;
    }
    let mut req = Request::builder().method(method).uri(uri).body(Body::from(body.to_vec())).ok()?;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim())) else {
            continue;
        };
        req.headers_mut().append(name, value);
    }
    if !req.headers().contains_key("host") {
        req.headers_mut().insert("host", HeaderValue::from_static("127.0.0.1"));
    }
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    Some(req)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Server {
    /// Sends the request; its status. A panic in a handler surfaces here, as the fuzzer's crash.
    pub fn send(&self, req: Request<Body>) -> u16 {
        let router = self.router.clone();
        self.runtime.block_on(async move {
            match router.oneshot(req).await {
                Ok(r) => r.status().as_u16(),
                Err(never) => match never {},
            }
        })
    }
}
