//! Passkey sign-ins beside password sign-ins, on the same server in the same run: each worker
//! signs in again and again on the OpenID Connect sign-in page, with a passkey of its own (the
//! options, a software authenticator's ES256 assertion, the answer) or with a password (Argon2id
//! at the server's default cost). Every sign-in ends in a new session and an authorization code.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use castellan_testkit::authenticator::{Behaviour, SoftAuthenticator};
use hyper::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::http::{Call, Conn, Result, expect_ok};
use crate::server::ADMIN_TOKEN;

const TENANT: &str = "pk";
const PASSWORD: &str = "Bench-Passw0rd!";
const REDIRECT: &str = "http://localhost/cb";

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn form(path: &str, fields: &[(&str, &str)]) -> Call {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    Call::post_form(path, body)
}

/// A form field's value in a page (`name="…" value="…"`).
fn field(html: &str, name: &str) -> Result<String> {
    let at = html.find(&format!("name=\"{name}\"")).ok_or(format!("no field {name}"))?;
    let rest = &html[at..];
    let start = rest.find("value=\"").ok_or(format!("no value of {name}"))? + 7;
    let end = rest[start..].find('"').ok_or("unterminated value")?;
    Ok(rest[start..start + end].replace("&amp;", "&").replace("&quot;", "\""))
}

/// A browser's cookies, as few as these pages set.
#[derive(Default, Clone)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, headers: &HeaderMap) {
        for c in headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            if let Some((k, v)) = c.split(';').next().and_then(|p| p.split_once('=')) {
                self.0.retain(|(n, _)| n != k);
                self.0.push((k.to_string(), v.to_string()));
            }
        }
    }

    fn on(&self, call: Call) -> Call {
        let header = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        if header.is_empty() { call } else { call.header("cookie", header) }
    }
}

async fn page(conn: &mut Conn, jar: &mut Jar, call: Call) -> Result<(StatusCode, String)> {
    let (status, headers, body) = conn.exchange(&jar.on(call)).await?;
    jar.take(&headers);
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One worker's sign-in page (its sealed request and form token, reused for every sign-in) and,
/// for a passkey worker, its authenticator.
struct Worker {
    conn: Conn,
    jar: Jar,
    csrf: String,
    request: String,
    email: String,
    authenticator: Option<SoftAuthenticator>,
    behaviour: Behaviour,
}

fn base() -> String {
    format!("/realms/{TENANT}")
}

/// The realm (its relying party on `origin`), a first-party client, and `workers` users of each
/// kind.
pub async fn prepare(addr: SocketAddr, origin: &str, workers: usize) -> Result<()> {
    let body = json!({"slug": TENANT, "display_name": "Passkeys", "profile": "oidc"});
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    let path = format!("/admin/v1/tenants/{TENANT}/policy");
    let mut policy = expect_ok(addr, &admin(Call::get(&path))).await?;
    policy["webauthn"] = json!({"rp_id": "localhost", "origins": [origin]});
    policy["lockout"]["threshold"] = json!(1_000_000_000u32);
    expect_ok(addr, &admin(Call::get(&path).method(Method::PUT).json(policy.to_string()))).await?;
    let client =
        json!({"name": "Bench", "kind": "public", "client_id": "pk-spa", "first_party": true, "redirect_uris": [REDIRECT]});
    expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/applications"), client.to_string()))).await?;
    for i in 0..workers {
        for kind in ["passkey", "password"] {
            let user = json!({"email": format!("{kind}-{i}@bench.example"), "password": PASSWORD, "email_verified": true});
            expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/users"), user.to_string()))).await?;
        }
    }
    Ok(())
}

impl Worker {
    /// A worker with the client's sign-in page open; a passkey worker first adds its passkey on
    /// the account page (signed in with the password once).
    async fn new(addr: SocketAddr, origin: &str, i: usize, passkey: bool) -> Result<Worker> {
        let mut conn = Conn::open(addr).await?;
        let email = format!("{}-{i}@bench.example", if passkey { "passkey" } else { "password" });
        let behaviour = Behaviour::at(origin);
        let mut authenticator = None;
        if passkey {
            let mut jar = Jar::default();
            let (_, login) = page(&mut conn, &mut jar, Call::get(&format!("{}/account", base()))).await?;
            let fields = [
                ("csrf", field(&login, "csrf")?),
                ("request", field(&login, "request")?),
                ("identifier", email.clone()),
                ("password", PASSWORD.to_string()),
            ];
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            page(&mut conn, &mut jar, form(&format!("{}/login", base()), &refs)).await?;
            let (_, account) = page(&mut conn, &mut jar, Call::get(&format!("{}/account", base()))).await?;
            let csrf = field(&account, "csrf")?;
            let options_path = format!("{}/account/passkeys/options", base());
            let (status, body) = page(&mut conn, &mut jar, form(&options_path, &[("csrf", &csrf), ("kind", "passkey")])).await?;
            let options: Value = serde_json::from_str(&body).map_err(|_| format!("account options ({status}): {body}"))?;
            let mut auth = SoftAuthenticator::new();
            let made = auth.register(&options, &behaviour).to_string();
            let ceremony = options["ceremony"].as_str().ok_or("no ceremony")?;
            let fields = [("csrf", csrf.as_str()), ("kind", "passkey"), ("ceremony", ceremony), ("credential", &made)];
            let (status, body) = page(&mut conn, &mut jar, form(&format!("{}/account/passkeys", base()), &fields)).await?;
            if status != StatusCode::SEE_OTHER {
                return Err(format!("passkey not added ({status}): {body}").into());
            }
            authenticator = Some(auth);
        }
        let mut jar = Jar::default();
        let auth = format!(
            "{}/protocol/openid-connect/auth?response_type=code&client_id=pk-spa&scope=openid&redirect_uri={}\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            base(),
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let (_, login) = page(&mut conn, &mut jar, Call::get(&auth)).await?;
        Ok(Worker {
            csrf: field(&login, "csrf")?,
            request: field(&login, "request")?,
            conn,
            jar,
            email,
            authenticator,
            behaviour,
        })
    }

    /// One sign-in: true if it ended in a code.
    async fn sign_in(&mut self) -> Result<bool> {
        let (csrf, request) = (self.csrf.clone(), self.request.clone());
        let call = match self.authenticator.as_mut() {
            Some(auth) => {
                let path = format!("{}/login/passkey/options", base());
                let c = self.jar.on(form(&path, &[("csrf", &csrf), ("request", &request)]));
                let (status, _, body) = self.conn.exchange(&c).await?;
                let options: Value = serde_json::from_slice(&body)
                    .map_err(|_| format!("sign-in options ({status}): {}", String::from_utf8_lossy(&body)))?;
                let assertion = auth.assert(0, &options, &self.behaviour).to_string();
                let ceremony = options["ceremony"].as_str().ok_or("no ceremony")?.to_string();
                let fields =
                    [("csrf", csrf.as_str()), ("request", &request), ("ceremony", &ceremony), ("credential", &assertion)];
                form(&format!("{}/login/passkey", base()), &fields)
            }
            None => {
                let fields =
                    [("csrf", csrf.as_str()), ("request", &request), ("identifier", &self.email), ("password", PASSWORD)];
                form(&format!("{}/login", base()), &fields)
            }
        };
        // The SSO cookie each sign-in sets is not kept: every sign-in is a new one.
        let (status, headers, _) = self.conn.exchange(&self.jar.on(call)).await?;
        let location = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
        Ok(status == StatusCode::SEE_OTHER && location.contains("code="))
    }
}

/// Sign-ins per second and their latency.
pub struct Measured {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub refused: u64,
}

/// `workers` workers (each with its passkey, or password) ready to sign in.
async fn workers(addr: SocketAddr, origin: &str, count: usize, passkey: bool) -> Result<Vec<Worker>> {
    let mut ready = Vec::new();
    for i in 0..count {
        ready.push(Worker::new(addr, origin, i, passkey).await?);
    }
    Ok(ready)
}

/// The workers signing in for `seconds` after `warmup`; they come back for the next round.
async fn measure(ready: Vec<Worker>, seconds: f64, warmup: f64) -> Result<(Measured, Vec<Worker>)> {
    let start = Instant::now() + Duration::from_secs_f64(warmup);
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for mut w in ready {
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut refused) = (Vec::new(), 0u64);
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let ok = w.sign_in().await?;
                if began >= start {
                    if ok { latencies.push(began.elapsed().as_secs_f64() * 1000.0) } else { refused += 1 }
                }
            }
            Ok::<_, crate::http::BoxError>((latencies, refused, w))
        }));
    }
    let (mut all, mut refused, mut back) = (Vec::new(), 0, Vec::new());
    for t in tasks {
        let (l, r, w) = t.await??;
        all.extend(l);
        refused += r;
        back.push(w);
    }
    all.sort_by(f64::total_cmp);
    let at = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0.0);
    Ok((Measured { per_second: all.len() as f64 / seconds, p50_ms: at(0.5), p99_ms: at(0.99), refused }, back))
}

/// The `p` rows: passkey and password sign-ins on one server per engine, interleaved rounds, the
/// median of each.
pub async fn rows(
    castellan: &std::path::Path,
    work_dir: &std::path::Path,
    postgres: Option<&str>,
    rounds: usize,
    seconds: f64,
    warmup: f64,
) -> Result<String> {
    const WORKERS: usize = 8;
    let mut out = String::from("| workload | what | figure | beside |\n|---|---|---|---|\n");
    for (engine, url) in [("SQLite", None), ("PostgreSQL", postgres)] {
        if engine == "PostgreSQL" && url.is_none() {
            continue;
        }
        eprintln!("== passkeys ({engine})");
        let dir = work_dir.join(format!("passkeys-{}", engine.to_lowercase()));
        let (server, _) = crate::server::Server::start(castellan, &dir, url).await?;
        let origin = format!("http://localhost:{}", server.addr.port());
        prepare(server.addr, &origin, WORKERS).await?;
        let (mut keys, mut passwords) =
            (workers(server.addr, &origin, WORKERS, true).await?, workers(server.addr, &origin, WORKERS, false).await?);
        let (mut with_key, mut with_password) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (m, back) = measure(keys, seconds, warmup).await?;
            keys = back;
            with_key.push(m);
            let (m, back) = measure(passwords, seconds, warmup).await?;
            passwords = back;
            with_password.push(m);
        }
        let median = |v: &mut Vec<Measured>| {
            v.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
            v.remove(v.len() / 2)
        };
        let (k, p) = (median(&mut with_key), median(&mut with_password));
        out.push_str(&format!(
            "| P | passkey sign-in (options + ES256 assertion → session and code), c={WORKERS}, {engine} | {:.0}/s ({:.0} requests/s), p50 {:.1} ms, p99 {:.1} ms, {} refused | {:.1} × password sign-in |\n",
            k.per_second,
            2.0 * k.per_second,
            k.p50_ms,
            k.p99_ms,
            k.refused,
            k.per_second / p.per_second.max(f64::MIN_POSITIVE)
        ));
        out.push_str(&format!(
            "| P | password sign-in (Argon2id, server default cost → session and code), c={WORKERS}, {engine} | {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} refused | 1 |\n",
            p.per_second, p.p50_ms, p.p99_ms, p.refused
        ));
    }
    Ok(out)
}
