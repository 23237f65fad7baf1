//! The fastapi-users workloads: W1 as the form login (one Argon2id verification per request) and
//! W3 as `GET /users/me` (token check, one session read, one user read).

use crate::http::{Call, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use serde_json::json;
use std::net::SocketAddr;

const TENANT: &str = "kyc";
const PASSWORD: &str = "Bench-Passw0rd!";
const USERS: usize = 16;

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

fn email(i: usize) -> String {
    format!("kyc-{i}@bench.example")
}

fn login(i: usize) -> Call {
    // The address has no character that form encoding changes.
    Call::post_form("/auth/jwt/login", format!("username={}&password={PASSWORD}&grant_type=password", email(i)))
}

/// The `kyc` tenant (served at the root mount) with verified users and no reachable lockout.
pub async fn prepare(addr: SocketAddr) -> Result<()> {
    let body = json!({ "slug": TENANT, "display_name": "KYC benchmarks", "profile": "fastapi-users" });
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    let path = format!("/admin/v1/tenants/{TENANT}/policy");
    let mut policy = expect_ok(addr, &admin(Call::get(&path))).await?;
    policy["lockout"]["threshold"] = json!(1_000_000_000u32);
    policy["sessions"]["max_concurrent"] = json!(1000);
    expect_ok(addr, &admin(Call::get(&path).method(hyper::Method::PUT).json(policy.to_string()))).await?;
    for i in 0..USERS {
        let user = json!({ "email": email(i), "password": PASSWORD, "email_verified": true });
        expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/users"), user.to_string()))).await?;
    }
    Ok(())
}

pub fn logins(concurrency: usize) -> Vec<Box<dyn Script>> {
    (0..concurrency).map(|i| Box::new(Repeat(login(i % USERS))) as Box<dyn Script>).collect()
}

/// One token per worker, each of its own user.
pub async fn me_calls(addr: SocketAddr, concurrency: usize) -> Result<Vec<Box<dyn Script>>> {
    let mut scripts = Vec::new();
    for i in 0..concurrency {
        let body = expect_ok(addr, &login(i % USERS)).await?;
        let token = body["access_token"].as_str().ok_or("login answer without a token")?.to_string();
        let call = Call::get("/users/me").header("authorization", format!("Bearer {token}"));
        scripts.push(Box::new(Repeat(call)) as Box<dyn Script>);
    }
    Ok(scripts)
}
