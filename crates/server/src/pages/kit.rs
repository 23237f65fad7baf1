//! The page kit every server-rendered page shares: the layout (embedded stylesheet, nothing
//! fetched from elsewhere), the security headers (strict CSP, no framing, COOP), and the
//! cross-site request check of forms.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub use super::escape;

pub const STYLE_PATH: &str = "/static/castellan.css";
pub const PASSKEYS_JS_PATH: &str = "/static/passkeys.js";

const STYLE: &str = include_str!("assets/castellan.css");
const PASSKEYS_JS: &str = include_str!("assets/passkeys.js");

/// How a page may relate to the window that opened it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `Cross-Origin-Opener-Policy: same-origin`: no other origin keeps a handle on this window.
    Isolated,
    /// The hosted page in a popup must keep `window.opener` to post its result back.
    Kept,
}

/// A page: strict CSP (own scripts and styles only, no framing), COOP, and whatever extra
/// `form-action` targets the page's forms may end at (a redirect after a POST counts).
pub fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    script: Option<&str>,
    form_targets: &[String],
    opener: Opener,
) -> Response {
    page_with_scripts(status, title, body, script.as_slice(), form_targets, opener)
}

/// A [`page`] with several of the server's own scripts.
pub fn page_with_scripts(
    status: StatusCode,
    title: &str,
    body: &str,
    scripts: &[&str],
    form_targets: &[String],
    opener: Opener,
) -> Response {
    let script_tag: String = scripts.iter().map(|s| format!("<script src=\"{s}\"></script>")).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <link rel=\"stylesheet\" href=\"{STYLE_PATH}\">{script_tag}</head><body><main>{body}</main></body></html>",
        t = escape(title)
    );
    let mut r = (status, Html(html)).into_response();
    let targets: String = form_targets.iter().map(|t| format!(" {t}")).collect();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'{targets}; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    let coop = if opener == Opener::Isolated { "same-origin" } else { "unsafe-none" };
    h.insert("cross-origin-opener-policy", HeaderValue::from_static(coop));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    r
}

/// The stylesheet, cacheable for an hour.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The passkey script every page with passkey or security-key forms loads.
pub async fn passkeys_js() -> Response {
    asset("text/javascript; charset=utf-8", PASSKEYS_JS)
}

/// An embedded asset, cacheable for an hour.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// Whether a state-changing request comes from another site: `Sec-Fetch-Site` says so, or its
/// `Origin` is neither the public URL's nor the host it was sent to. `Origin: null` (what a
/// browser sends under `Referrer-Policy: no-referrer`) passes only when `Sec-Fetch-Site` vouches
/// for the same origin. Requests with neither header (non-browser clients) pass.
pub fn cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let Ok(origin) = origin.to_str() else { return true };
    if origin == "null" {
        return site != Some("same-origin");
    }
    if origin.eq_ignore_ascii_case(public_origin(public_url)) {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
    host.is_empty() || !origin_host.eq_ignore_ascii_case(host)
}

/// `scheme://host[:port]` of a URL.
pub fn public_origin(url: &str) -> &str {
    match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => &url[..i + 3 + j],
            None => url,
        },
        None => url,
    }
}

pub fn forbidden_page() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "<h1>Request refused</h1><p>This form must be sent from this site.</p>",
        None,
        &[],
        Opener::Isolated,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h, "https://auth.example"));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://auth.example"));
        assert!(!cross_site(&h, "https://auth.example/"));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cross_site(&h, "https://auth.example"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h, "https://auth.example"));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h, "https://auth.example"), "a same-origin form under no-referrer");
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cross_site(&h, "https://auth.example"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h, "https://auth.example"));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!cross_site(&h, "https://auth.example"));
    }
}
