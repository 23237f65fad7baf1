//! The OpenID Connect dialect, driven as a browser and a client would: a small cookie jar, the
//! hosted pages' forms read from their HTML, the token endpoint called with client credentials.

mod assertions;
mod backchannel;
mod conformance;
mod device;
mod dpop;
mod exchange;
mod flows;
mod jar;
mod par;
mod passkeys;
mod registration;
mod rp_authlib;
mod rp_openid_client;
mod rp_openidconnect;
mod security;

use std::collections::BTreeMap;

use base64::Engine as _;
use castellan_testkit::TestApp;
use reqwest::Method;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

pub const PASSWORD: &str = "Wonderland-2026!";
pub const EMAIL: &str = "alice@example.com";
pub const WEB_REDIRECT: &str = "https://app.example.com/callback";
pub const SPA_REDIRECT: &str = "http://127.0.0.1/spa/callback";

/// A realm with a user, a confidential third-party client (`web`), a public first-party client
/// (`spa`) and a service client (`svc`).
pub struct Realm {
    pub slug: String,
    pub user_id: String,
    /// The confidential client's id: `web`, or `web-<suffix>` in a second realm.
    pub web: String,
    pub web_secret: String,
    pub svc: String,
    pub svc_secret: String,
}

impl Realm {
    pub fn base(&self) -> String {
        format!("/realms/{}", self.slug)
    }
    pub fn endpoint(&self, name: &str) -> String {
        format!("/realms/{}/protocol/openid-connect/{name}", self.slug)
    }
}

pub async fn create_client(app: &TestApp, slug: &str, body: Value) -> Value {
    let (s, b) = app.admin(Method::POST, &format!("/tenants/{slug}/applications"), Some(body)).await;
    assert_eq!(s, 201, "{b}");
    b
}

pub async fn realm(app: &TestApp) -> Realm {
    realm_with_suffix(app, "").await
}

/// A realm like `realm`'s whose client ids end in `suffix`: client ids are unique across the
/// server, so a second realm on the same server needs other ones (`web-b`, `spa-b`, `svc-b`).
pub async fn realm_with_suffix(app: &TestApp, suffix: &str) -> Realm {
    let slug = format!("acme-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (s, t) =
        app.admin(Method::POST, "/tenants", Some(json!({"slug": slug, "display_name": "Acme", "profile": "oidc"}))).await;
    assert_eq!(s, 201, "{t}");
    let body = json!({"email": EMAIL, "password": PASSWORD, "first_name": "Alice", "last_name": "Liddell",
                      "username": "alice", "email_verified": true});
    let (s, u) = app.admin(Method::POST, &format!("/tenants/{slug}/users"), Some(body)).await;
    assert_eq!(s, 201, "{u}");
    let (web_id, spa_id, svc_id) = (format!("web{suffix}"), format!("spa{suffix}"), format!("svc{suffix}"));
    let web = create_client(
        app,
        &slug,
        json!({"name": "Acme Web", "kind": "confidential", "client_id": web_id, "redirect_uris": [WEB_REDIRECT],
               "post_logout_redirect_uris": ["https://app.example.com/bye"]}),
    )
    .await;
    create_client(
        app,
        &slug,
        json!({"name": "Acme SPA", "kind": "public", "client_id": spa_id, "redirect_uris": [SPA_REDIRECT], "first_party": true}),
    )
    .await;
    let svc = create_client(app, &slug, json!({"name": "Acme Service", "kind": "service", "client_id": svc_id})).await;
    Realm {
        slug,
        user_id: u["id"].as_str().unwrap().to_string(),
        web: web_id,
        web_secret: web["client_secret"].as_str().unwrap().to_string(),
        svc: svc_id,
        svc_secret: svc["client_secret"].as_str().unwrap().to_string(),
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("v{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// An answer as a browser sees it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of a form field of the page (`name="…" value="…"`), unescaped.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let rest = &self.body[at..];
        let start = rest.find("value=\"")? + 7;
        let end = rest[start..].find('"')?;
        Some(unescape(&rest[start..start + end]))
    }

    /// The message of the page's error paragraph (`id="error"`), if it has one.
    pub fn error_text(&self) -> Option<String> {
        let at = self.body.find("id=\"error\">")? + "id=\"error\">".len();
        let end = self.body[at..].find("</p>")?;
        Some(unescape(&self.body[at..at + end]))
    }

    /// A header of the answer, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> url::Url {
        let l = self.headers.get(LOCATION).unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body));
        url::Url::parse(l.to_str().unwrap()).unwrap()
    }

    /// A parameter of the Location the page redirects to.
    pub fn sent_back(&self, name: &str) -> Option<String> {
        self.location().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A browser: its own cookies, same-origin form posts, no redirects followed.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser { app, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let rb = if self.cookies.is_empty() { rb } else { rb.header("cookie", self.cookie_header()) };
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page { status, headers, body: r.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let url = if path.starts_with("http") { path.to_string() } else { self.app.url(path) };
        self.send(self.app.client.get(url)).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let rb = self.app.client.post(self.app.url(path)).header("origin", &self.app.address).form(fields);
        self.send(rb).await
    }

    /// A form post with the browser's cookies and exactly these headers besides: what another
    /// site's page, or a client without browser headers, sends.
    pub async fn post_with(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut rb = self.app.client.post(self.app.url(path)).form(fields);
        for (name, value) in headers {
            rb = rb.header(*name, *value);
        }
        self.send(rb).await
    }

    /// The sign-in form of `page` (a first one, or one shown again after a refusal), sent with
    /// these credentials.
    pub async fn sign_in(&mut self, realm: &Realm, page: &Page, email: &str, password: &str) -> Page {
        assert!(page.body.contains("id=\"login-form\""), "no sign-in page ({}): {}", page.status, page.body);
        let (csrf, request) = (page.field("csrf").unwrap(), page.field("request").unwrap());
        let path = format!("{}/login", realm.base());
        self.post(&path, &[("csrf", &csrf), ("request", &request), ("identifier", email), ("password", password)]).await
    }

    /// The consent page's answer.
    pub async fn decide(&mut self, realm: &Realm, page: &Page, decision: &str) -> Page {
        assert!(page.body.contains("id=\"consent-form\""), "no consent page: {}", page.body);
        let (csrf, request) = (page.field("csrf").unwrap(), page.field("request").unwrap());
        self.post(&format!("{}/consent", realm.base()), &[("csrf", &csrf), ("request", &request), ("decision", decision)]).await
    }
}

/// An authorization request's path with these parameters (and `response_type=code`).
pub fn authorize_path(realm: &Realm, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().append_pair("response_type", "code").extend_pairs(params);
    format!("{}?{}", realm.endpoint("auth"), url.query().unwrap_or_default())
}

/// `path` with this query.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(params);
    format!("{path}?{}", url.query().unwrap_or_default())
}

/// The realm's issuer as its discovery document states it.
pub async fn discovered_issuer(app: &TestApp, realm: &Realm) -> String {
    let r = app.client.get(app.url(&format!("{}/.well-known/openid-configuration", realm.base()))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true, "{doc}");
    doc["issuer"].as_str().unwrap().to_string()
}

/// The web client's parameters for a code flow with PKCE: (params, verifier).
pub fn web_params(scope: &str) -> (Vec<(String, String)>, String) {
    client_params("web", scope)
}

/// A confidential client's parameters for a code flow with PKCE on `WEB_REDIRECT`.
pub fn client_params(client_id: &str, scope: &str) -> (Vec<(String, String)>, String) {
    let (verifier, challenge) = pkce();
    let params = vec![
        ("client_id".to_string(), client_id.to_string()),
        ("redirect_uri".into(), WEB_REDIRECT.into()),
        ("scope".into(), scope.into()),
        ("state".into(), "st-123".into()),
        ("nonce".into(), "n-456".into()),
        ("code_challenge".into(), challenge),
        ("code_challenge_method".into(), "S256".into()),
    ];
    (params, verifier)
}

pub fn as_refs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A token endpoint call: form fields, and Basic credentials if given. (status, JSON, headers)
pub async fn token_call(
    app: &TestApp,
    realm: &Realm,
    endpoint: &str,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value, HeaderMap) {
    let mut rb = app.client.post(app.url(&realm.endpoint(endpoint))).form(fields);
    if let Some((id, secret)) = basic {
        rb = rb.basic_auth(id, Some(secret));
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

/// Signs alice in for the realm's web client, allows consent, and returns (code, verifier, browser).
pub async fn web_code<'a>(app: &'a TestApp, realm: &Realm, scope: &str) -> (String, String, Browser<'a>) {
    let (params, verifier) = client_params(&realm.web, scope);
    let mut browser = Browser::new(app);
    let login = browser.get(&authorize_path(realm, &as_refs(&params))).await;
    let after = browser.sign_in(realm, &login, EMAIL, PASSWORD).await;
    let back = browser.decide(realm, &after, "allow").await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(back.sent_back("state").as_deref(), Some("st-123"));
    (back.sent_back("code").unwrap(), verifier, browser)
}

/// Exchanges the web client's code: the token response.
pub async fn web_tokens(app: &TestApp, realm: &Realm, code: &str, verifier: &str) -> Value {
    let fields =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", WEB_REDIRECT), ("code_verifier", verifier)];
    let (s, t, _) = token_call(app, realm, "token", &fields, Some((&realm.web, &realm.web_secret))).await;
    assert_eq!(s, 200, "{t}");
    t
}

/// The realm's discovery document.
pub async fn discovery(app: &TestApp, realm: &Realm) -> Value {
    let url = app.url(&format!("{}/.well-known/openid-configuration", realm.base()));
    app.client.get(url).send().await.unwrap().json().await.unwrap()
}

/// The realm's key set, for verifying tokens as a relying party does.
pub async fn jwks(app: &TestApp, realm: &Realm) -> jsonwebtoken::jwk::JwkSet {
    let r = app.client.get(app.url(&realm.endpoint("certs"))).send().await.unwrap();
    r.json().await.unwrap()
}

/// Verifies a token against the realm's keys (signature, issuer, audience): its claims.
pub async fn verify(app: &TestApp, realm: &Realm, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let set = jwks(app, realm).await;
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[format!("{}{}", app.address, realm.base())]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &v).unwrap().claims
}
