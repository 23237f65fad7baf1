//! The OpenID Connect workloads (W4/W10 token endpoint and introspection, W5 discovery and JWKS)
//! on Castellan's `oidc` dialect, and the same calls on the reference server (oidc-provider).
//!
//! Two realms: one rotated to ES256, one left on the `oidc` profile's RS256. Each has a service
//! client (client credentials, introspection) and a first-party confidential client whose
//! refresh tokens come from one code flow per simulated connection, through the hosted sign-in
//! page as a browser drives it.

use crate::http::{Call, Conn, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;

pub const ES256_REALM: &str = "oidc-bench-es256";
pub const RS256_REALM: &str = "oidc-bench-rs256";
const PASSWORD: &str = "Bench-Passw0rd!";
const REDIRECT: &str = "http://127.0.0.1/bench/callback";

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn user_email(i: usize) -> String {
    format!("oidc-{i}@bench.example")
}

/// `Authorization: Basic` for a client, each half form-urlencoded first (RFC 6749 §2.3.1).
pub fn basic(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret))))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// A realm as the workloads use it.
/// Client ids are unique across tenants, so each realm's clients carry its slug.
pub struct Realm {
    pub slug: &'static str,
    pub svc_id: String,
    pub svc_secret: String,
    web_id: String,
    web_secret: String,
}

impl Realm {
    pub fn endpoint(&self, name: &str) -> String {
        format!("/realms/{}/protocol/openid-connect/{name}", self.slug)
    }

    fn service_call(&self, endpoint: &str, fields: &[(&str, &str)]) -> Call {
        Call::post_form(&self.endpoint(endpoint), form(fields)).header("authorization", basic(&self.svc_id, &self.svc_secret))
    }
}

async fn client(addr: SocketAddr, slug: &str, body: Value) -> Result<String> {
    let path = format!("/admin/v1/tenants/{slug}/applications");
    let made = expect_ok(addr, &admin(Call::post_json(&path, body.to_string()))).await?;
    Ok(made["client_secret"].as_str().ok_or(format!("no client secret: {made}"))?.to_string())
}

/// A realm with the `oidc` profile, a lockout threshold no workload reaches, `users` users, a
/// service client and a first-party confidential client; rotated to `alg` unless that is the
/// profile's RS256.
async fn realm(addr: SocketAddr, slug: &'static str, alg: &str, users: usize) -> Result<Realm> {
    let body = json!({ "slug": slug, "display_name": "OpenID Connect benchmarks", "profile": "oidc" });
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    let path = format!("/admin/v1/tenants/{slug}/policy");
    let mut policy = expect_ok(addr, &admin(Call::get(&path))).await?;
    policy["lockout"]["threshold"] = json!(1_000_000_000u32);
    expect_ok(addr, &admin(Call::get(&path).method(Method::PUT).json(policy.to_string()))).await?;
    if alg != "RS256" {
        let rotate = format!("/admin/v1/tenants/{slug}/keys/rotate");
        expect_ok(addr, &admin(Call::post_json(&rotate, json!({ "alg": alg }).to_string()))).await?;
    }
    for i in 0..users {
        let user = json!({ "email": user_email(i), "password": PASSWORD, "email_verified": true });
        expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{slug}/users"), user.to_string()))).await?;
    }
    let (svc_id, web_id) = (format!("{slug}-svc"), format!("{slug}-web"));
    let svc = json!({ "name": "Bench Service", "kind": "service", "client_id": svc_id });
    let svc_secret = client(addr, slug, svc).await?;
    let web = json!({ "name": "Bench Web", "kind": "confidential", "client_id": web_id, "redirect_uris": [REDIRECT],
        "first_party": true });
    let web_secret = client(addr, slug, web).await?;
    let tv = json!({ "name": "Bench TV", "kind": "public", "client_id": format!("{slug}-tv"),
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"] });
    let path = format!("/admin/v1/tenants/{slug}/applications");
    expect_ok(addr, &admin(Call::post_json(&path, tv.to_string()))).await?;
    Ok(Realm { slug, svc_id, svc_secret, web_id, web_secret })
}

pub struct Fixture {
    pub es256: Realm,
    pub rs256: Realm,
}

/// Both realms; the ES256 one with a user per simulated connection for the refresh chains.
pub async fn prepare(addr: SocketAddr, connections: usize) -> Result<Fixture> {
    let es256 = realm(addr, ES256_REALM, "ES256", connections).await?;
    let rs256 = realm(addr, RS256_REALM, "RS256", 0).await?;
    Ok(Fixture { es256, rs256 })
}

pub fn client_credentials(r: &Realm, concurrency: usize) -> Vec<Box<dyn Script>> {
    let call = r.service_call("token", &[("grant_type", "client_credentials")]);
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

/// One fresh client-credentials access token of the service client.
pub async fn service_token(addr: SocketAddr, r: &Realm) -> Result<String> {
    let answer = expect_ok(addr, &r.service_call("token", &[("grant_type", "client_credentials")])).await?;
    Ok(answer["access_token"].as_str().ok_or(format!("no access token: {answer}"))?.to_string())
}

/// The service client introspecting one of its own access tokens, again and again.
pub fn introspections(r: &Realm, token: &str, concurrency: usize) -> Vec<Box<dyn Script>> {
    let call = r.service_call("token/introspect", &[("token", token)]);
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

pub fn discovery(r: &Realm, concurrency: usize) -> Vec<Box<dyn Script>> {
    let call = Call::get(&format!("/realms/{}/.well-known/openid-configuration", r.slug));
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

pub fn certs(r: &Realm, concurrency: usize) -> Vec<Box<dyn Script>> {
    let call = Call::get(&r.endpoint("certs"));
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

/// The `name=value` of a `Set-Cookie` answered for `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next()?;
        pair.strip_prefix(&format!("{name}=")).map(|_| pair.to_string())
    })
}

/// The value of a hidden form field of a hosted page, unescaped.
fn field(page: &str, name: &str) -> Option<String> {
    let rest = &page[page.find(&format!("name=\"{name}\""))?..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    let raw = &rest[start..start + end];
    Some(raw.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn fail(step: &str, status: StatusCode, body: &Bytes) -> crate::http::BoxError {
    let text = String::from_utf8_lossy(body);
    format!("code flow, {step}: {status}: {}", text.chars().take(300).collect::<String>()).into()
}

/// A code flow for user `i` with PKCE, as a browser and the web client run it: the sign-in page,
/// the password form (first party, so no consent page), the code exchange. The refresh token.
async fn sign_in(addr: SocketAddr, r: &Realm, i: usize) -> Result<(String, String)> {
    let mut conn = Conn::open(addr).await?;
    // PKCE wants 43 to 128 characters.
    let verifier = format!("bench-code-verifier-{i:06}-{:012}-{:016}", std::process::id(), now_nanos());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(digest.as_ref());
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &r.web_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "bench"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let (status, headers, body) = conn.exchange(&Call::get(&format!("{}?{query}", r.endpoint("auth")))).await?;
    let page = String::from_utf8_lossy(&body);
    let (Some(cookie), Some(csrf), Some(request)) =
        (set_cookie(&headers, "castellan_oidc_form"), field(&page, "csrf"), field(&page, "request"))
    else {
        return Err(fail("sign-in page", status, &body));
    };
    let email = user_email(i);
    let fields = [("csrf", csrf.as_str()), ("request", &request), ("identifier", &email), ("password", PASSWORD)];
    let login = Call::post_form(&format!("/realms/{}/login", r.slug), form(&fields)).header("cookie", cookie);
    let (status, headers, body) = conn.exchange(&login).await?;
    let code = headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| query_param(l, "code"))
        .ok_or_else(|| fail("sign-in", status, &body))?;
    let fields =
        [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let exchange = Call::post_form(&r.endpoint("token"), form(&fields)).header("authorization", basic(&r.web_id, &r.web_secret));
    let (status, body) = conn.send(&exchange).await?;
    let tokens: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (tokens["access_token"].as_str(), tokens["refresh_token"].as_str()) {
        (Some(a), Some(t)) if status.is_success() => Ok((a.to_string(), t.to_string())),
        _ => Err(fail("code exchange", status, &body)),
    }
}

/// W3 on the OpenID Connect check path: UserInfo with the access token of a fresh sign-in per
/// worker (signature, live session, user).
pub async fn userinfos(addr: SocketAddr, r: &Realm, concurrency: usize) -> Result<Vec<Box<dyn Script>>> {
    let mut scripts: Vec<Box<dyn Script>> = Vec::new();
    for i in 0..concurrency {
        let (access, _) = sign_in(addr, r, i).await?;
        let call = Call::get(&r.endpoint("userinfo")).header("authorization", format!("Bearer {access}"));
        scripts.push(Box::new(Repeat(call)));
    }
    Ok(scripts)
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// Each worker spends its refresh token and goes on with the successor it gets back.
struct RefreshChain {
    token: String,
    endpoint: String,
    authorization: String,
}

impl Script for RefreshChain {
    fn next(&mut self) -> Call {
        let body = form(&[("grant_type", "refresh_token"), ("refresh_token", &self.token)]);
        Call::post_form(&self.endpoint, body).header("authorization", self.authorization.clone())
    }

    fn learn(&mut self, status: StatusCode, body: &Bytes) {
        if status.is_success()
            && let Some(next) =
                serde_json::from_slice::<Value>(body).ok().and_then(|v| v["refresh_token"].as_str().map(String::from))
        {
            self.token = next;
        }
    }
}

/// A fresh sign-in per worker (user i for worker i), then refresh chains.
pub async fn refreshes(addr: SocketAddr, r: &Realm, concurrency: usize) -> Result<Vec<Box<dyn Script>>> {
    let mut scripts: Vec<Box<dyn Script>> = Vec::new();
    for i in 0..concurrency {
        let (_, token) = sign_in(addr, r, i).await?;
        scripts.push(Box::new(RefreshChain {
            token,
            endpoint: r.endpoint("token"),
            authorization: basic(&r.web_id, &r.web_secret),
        }));
    }
    Ok(scripts)
}
