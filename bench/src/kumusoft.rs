//! The kumusoft workloads: W5 (the shared JWKS) and W6 (one-time code → tokens, no password
//! hash in the measured path), the latter once per signing algorithm, with the signing time the
//! server itself reports on /metrics.

use crate::http::{Call, Conn, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use hyper::Method;
use serde_json::{Value, json};
use std::net::SocketAddr;

pub const TENANT: &str = "kumu-bench";
pub const TAG: &str = "BENCH_MEMBER_PORTAL";
const PASSWORD: &str = "Bench-Passw0rd!";
const TASKS: usize = 8;

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn email(i: usize) -> String {
    format!("kumu-{i}@bench.example")
}

/// Runs `f(i)` for every i in 0..n on `TASKS` connections.
async fn each<F, Fut>(addr: SocketAddr, n: usize, f: F) -> Result<Vec<Value>>
where
    F: Fn(usize, Conn) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(Value, Conn)>> + Send,
{
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut conn: Option<Conn> = None;
            for i in (t..n).step_by(TASKS) {
                let c = match conn.take() {
                    Some(c) => c,
                    None => Conn::open(addr).await?,
                };
                let (v, c) = f(i, c).await?;
                conn = Some(c);
                out.push((i, v));
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(out)
        }));
    }
    let mut all = vec![Value::Null; n];
    for h in handles {
        for (i, v) in h.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())? {
            all[i] = v;
        }
    }
    Ok(all)
}

async fn send_ok(mut conn: Conn, call: Call) -> Result<(Value, Conn)> {
    let (status, body) = conn.send(&call).await?;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{} {} answered {status}: {json}", call.method, call.path).into());
    }
    Ok((json, conn))
}

/// The tenant, its application and `users` users with verified emails.
pub async fn prepare(addr: SocketAddr, users: usize) -> Result<()> {
    let body = json!({ "slug": TENANT, "display_name": "Kumusoft benchmarks", "profile": "kumusoft" });
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    let path = format!("/admin/v1/tenants/{TENANT}/policy");
    let mut policy = expect_ok(addr, &admin(Call::get(&path))).await?;
    policy["lockout"]["threshold"] = json!(1_000_000_000u32);
    expect_ok(addr, &admin(Call::get(&path).method(Method::PUT).json(policy.to_string()))).await?;
    let app = json!({ "name": "Bench Member Portal", "kind": "public", "kumusoft_tag": TAG });
    expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/applications"), app.to_string()))).await?;
    each(addr, users, move |i, conn| {
        let user = json!({ "email": email(i), "password": PASSWORD, "email_verified": true });
        send_ok(conn, admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/users"), user.to_string())))
    })
    .await?;
    Ok(())
}

/// One fresh challenge for each of the users `first..first + users`, and its code from the
/// development outbox: the `round`-th message each of them got.
pub async fn verify_calls(addr: SocketAddr, first: usize, users: usize, round: usize) -> Result<Vec<Call>> {
    let started = each(addr, users, move |i, conn| {
        let i = first + i;
        let body = json!({ "identifier": email(i), "password": PASSWORD, "tagId": TAG });
        send_ok(conn, Call::post_json("/v1/auth/login", body.to_string()))
    })
    .await?;
    let codes = each(addr, users, move |i, conn| async move {
        let i = first + i;
        let mut conn = conn;
        // The outbox worker may still be delivering the newest messages.
        for _ in 0..500 {
            let (list, c) = send_ok(conn, admin(Call::get(&format!("/admin/v1/outbox?to={}&limit=100", email(i))))).await?;
            conn = c;
            let list = list.as_array().cloned().unwrap_or_default();
            if list.len() >= round {
                let body = list[list.len() - round]["body"].as_str().unwrap_or_default().to_string();
                let code = body.split_whitespace().find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit())).unwrap_or("");
                return Ok((json!(code), conn));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(format!("no code for {}", email(i)).into())
    })
    .await?;
    Ok(started
        .iter()
        .zip(codes)
        .map(|(s, code)| {
            let body = json!({ "userId": s["data"]["userId"], "challengeId": s["data"]["challengeId"], "otp": code });
            Call::post_json("/v1/auth/otp/verify", body.to_string())
        })
        .collect())
}

/// Each worker verifies its own challenges, one after the other (each code works once).
struct Verifications {
    calls: Vec<Call>,
    next: usize,
}

impl Script for Verifications {
    fn next(&mut self) -> Call {
        let i = self.next.min(self.calls.len().saturating_sub(1));
        self.next += 1;
        self.calls[i].clone()
    }
}

pub fn verifications(calls: Vec<Call>, concurrency: usize) -> Vec<Box<dyn Script>> {
    let mut per: Vec<Vec<Call>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, c) in calls.into_iter().enumerate() {
        per[i % concurrency].push(c);
    }
    per.into_iter().map(|calls| Box::new(Verifications { calls, next: 0 }) as Box<dyn Script>).collect()
}

pub fn jwks(concurrency: usize) -> Vec<Box<dyn Script>> {
    (0..concurrency).map(|_| Box::new(Repeat(Call::get("/.well-known/jwks.json"))) as Box<dyn Script>).collect()
}

pub async fn rotate(addr: SocketAddr, alg: &str) -> Result<()> {
    let body = json!({ "alg": alg });
    expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/keys/rotate"), body.to_string()))).await?;
    Ok(())
}

/// (tokens signed, seconds spent signing) with `alg`, as the server's /metrics says.
pub async fn sign_totals(addr: SocketAddr, alg: &str) -> Result<(f64, f64)> {
    let (_, body) = Conn::open(addr).await?.send(&Call::get("/metrics")).await?;
    let text = String::from_utf8_lossy(&body);
    let read = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{alg=\"{alg}\"}}")))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((read("castellan_token_sign_seconds_count"), read("castellan_token_sign_seconds_sum")))
}

/// W3 on kumusoft's check path: `GET /v1/auth/me` (RS256 or the tenant's current algorithm, the
/// live session, the user), each worker with the token of its own sign-in: the users from
/// `first` on, their `round`-th code.
pub async fn me_calls(addr: SocketAddr, first: usize, concurrency: usize, round: usize) -> Result<Vec<Box<dyn Script>>> {
    let verifies = verify_calls(addr, first, concurrency, round).await?;
    let mut scripts = Vec::new();
    for call in verifies {
        let conn = Conn::open(addr).await?;
        let (body, _) = send_ok(conn, call).await?;
        let token = body["data"]["accessToken"].as_str().ok_or("otp/verify answer without a token")?.to_string();
        let me = Call::get("/v1/auth/me").header("authorization", format!("Bearer {token}"));
        scripts.push(Box::new(Repeat(me)) as Box<dyn Script>);
    }
    Ok(scripts)
}
