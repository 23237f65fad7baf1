//! The korastratum workloads: the tenant and users they need, and one script per worker.

use crate::http::{Call, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;

pub const TENANT: &str = "bench";
pub const PASSWORD: &str = "Bench-Passw0rd!";
/// Enough users that no worker at the highest concurrency shares one (sessions are capped per user).
pub const USERS: usize = 64;

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn kora(call: Call) -> Call {
    call.header("x-tenant-id", TENANT)
}

pub fn login_email(i: usize) -> String {
    format!("login-{i}@bench.example")
}

pub fn token_email(i: usize) -> String {
    format!("token-{i}@bench.example")
}

/// The tenant, a lockout threshold no benchmark reaches (W1b sends wrong passwords on purpose), and
/// two sets of users: one that logs in under load, one whose sessions the token workloads use.
pub async fn prepare(addr: SocketAddr) -> Result<()> {
    let body = json!({ "slug": TENANT, "display_name": "Benchmarks", "profile": "korastratum" });
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    let path = format!("/admin/v1/tenants/{TENANT}/policy");
    let mut policy = expect_ok(addr, &admin(Call::get(&path))).await?;
    policy["lockout"]["threshold"] = json!(1_000_000_000u32);
    expect_ok(addr, &admin(Call::get(&path).method(Method::PUT).json(policy.to_string()))).await?;
    for i in 0..USERS {
        for email in [login_email(i), token_email(i)] {
            let user = json!({ "email": email, "password": PASSWORD, "email_verified": true, "active": true });
            expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/users"), user.to_string()))).await?;
        }
    }
    Ok(())
}

pub fn login_call(email: &str, password: &str) -> Call {
    kora(Call::post_json("/api/v1/auth/login", json!({ "email": email, "password": password }).to_string()))
}

pub fn health(concurrency: usize) -> Vec<Box<dyn Script>> {
    (0..concurrency).map(|_| Box::new(Repeat(Call::get("/health"))) as Box<dyn Script>).collect()
}

pub enum Credentials {
    Correct,
    WrongPassword,
    UnknownUser,
}

pub fn logins(concurrency: usize, credentials: Credentials) -> Vec<Box<dyn Script>> {
    (0..concurrency)
        .map(|i| {
            let call = match credentials {
                Credentials::Correct => login_call(&login_email(i), PASSWORD),
                Credentials::WrongPassword => login_call(&login_email(i), "Wrong-Passw0rd!"),
                Credentials::UnknownUser => login_call(&format!("nobody-{i}@bench.example"), PASSWORD),
            };
            Box::new(Repeat(call)) as Box<dyn Script>
        })
        .collect()
}

/// The access and refresh tokens of a login or refresh answer.
pub fn tokens_of(body: &Value) -> Option<(String, String)> {
    let t = &body["data"]["tokens"];
    Some((t["accessToken"].as_str()?.to_string(), t["refreshToken"].as_str()?.to_string()))
}

/// Fresh sessions for the token workloads, one user each.
async fn sessions(addr: SocketAddr, concurrency: usize) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for i in 0..concurrency {
        let body = expect_ok(addr, &login_call(&token_email(i), PASSWORD)).await?;
        out.push(tokens_of(&body).ok_or("login answer without tokens")?);
    }
    Ok(out)
}

/// W3: a bearer call that validates the token and reads the session list.
pub async fn session_lists(addr: SocketAddr, concurrency: usize) -> Result<Vec<Box<dyn Script>>> {
    Ok(sessions(addr, concurrency)
        .await?
        .into_iter()
        .map(|(access, _)| Box::new(Repeat(session_list_call(&access))) as Box<dyn Script>)
        .collect())
}

pub fn session_list_call(access: &str) -> Call {
    kora(Call::get("/api/v1/auth/sessions")).header("authorization", format!("Bearer {access}"))
}

pub fn refresh_call(refresh: &str) -> Call {
    kora(Call::post_json("/api/v1/auth/refresh", json!({ "refreshToken": refresh }).to_string()))
}

/// W4: each worker spends its refresh token and goes on with the one it gets back.
struct RefreshChain {
    token: String,
}

impl Script for RefreshChain {
    fn next(&mut self) -> Call {
        refresh_call(&self.token)
    }

    fn learn(&mut self, status: StatusCode, body: &Bytes) {
        if status.is_success()
            && let Some((_, refresh)) = serde_json::from_slice(body).ok().as_ref().and_then(tokens_of)
        {
            self.token = refresh;
        }
    }
}

pub async fn refreshes(addr: SocketAddr, concurrency: usize) -> Result<Vec<Box<dyn Script>>> {
    Ok(sessions(addr, concurrency)
        .await?
        .into_iter()
        .map(|(_, refresh)| Box::new(RefreshChain { token: refresh }) as Box<dyn Script>)
        .collect())
}
