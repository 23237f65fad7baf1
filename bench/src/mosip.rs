//! The MOSIP workloads: W3 as validateToken (token check plus one session read) and W4 as
//! clientidsecretkey (an RS256 token per request), with yardstick S, single-thread RS256 signing,
//! measured in this process.

use crate::http::{Call, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const TENANT: &str = "mosip-bench";
const PASSWORD: &str = "Bench-Passw0rd!";

fn admin(call: Call) -> Call {
    call.header("authorization", format!("Bearer {ADMIN_TOKEN}"))
}

/// What the workloads need: a user's access token and a service client's secret.
pub struct Fixture {
    pub user_token: String,
    pub service_secret: String,
}

async fn application(addr: SocketAddr, body: serde_json::Value) -> Result<serde_json::Value> {
    expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/applications"), body.to_string()))).await
}

/// The realm, an appId, a confidential and a service client, a user, and that user's token.
pub async fn prepare(addr: SocketAddr) -> Result<Fixture> {
    let body = json!({ "slug": TENANT, "display_name": "MOSIP benchmarks", "profile": "mosip" });
    expect_ok(addr, &admin(Call::post_json("/admin/v1/tenants", body.to_string()))).await?;
    application(addr, json!({ "name": "bench", "kind": "public", "client_id": "bench", "mosip_app_id": "bench" })).await?;
    let confidential = application(addr, json!({ "name": "portal", "kind": "confidential", "client_id": "portal" })).await?;
    let service =
        application(addr, json!({ "name": "svc", "kind": "service", "client_id": "svc", "roles": ["OTP_MANAGER"] })).await?;
    let user = json!({ "username": "110006", "password": PASSWORD, "roles": ["REGISTRATION_ADMIN"] });
    expect_ok(addr, &admin(Call::post_json(&format!("/admin/v1/tenants/{TENANT}/users"), user.to_string()))).await?;
    let login = json!({ "id": "bench", "request": { "appId": "bench", "clientId": "portal",
        "clientSecret": confidential["client_secret"], "userName": "110006", "password": PASSWORD } });
    let answer = expect_ok(addr, &Call::post_json("/v1/authmanager/authenticate/internal/useridPwd", login.to_string())).await?;
    let user_token = answer["response"]["token"].as_str().ok_or(format!("no token: {answer}"))?.to_string();
    let service_secret = service["client_secret"].as_str().ok_or("no client secret")?.to_string();
    Ok(Fixture { user_token, service_secret })
}

pub fn validations(f: &Fixture, concurrency: usize) -> Vec<Box<dyn Script>> {
    let call = Call::get("/v1/authmanager/authorize/admin/validateToken")
        .header("cookie", format!("Authorization=Mosip-Token{}", f.user_token));
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

pub fn client_credentials(f: &Fixture, concurrency: usize) -> Vec<Box<dyn Script>> {
    let body = json!({ "id": "bench", "request": { "appId": "bench", "clientId": "svc", "secretKey": f.service_secret } });
    let call = Call::post_json("/v1/authmanager/authenticate/clientidsecretkey", body.to_string());
    (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
}

/// Yardstick S: RS256 (RSA-2048, PKCS#1 v1.5, SHA-256) signatures per second on one thread.
pub fn rs256_signs_per_second(duration: Duration) -> Result<f64> {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
    let rng = SystemRandom::new();
    let message = [7u8; 600];
    let mut signature = vec![0u8; key.public_modulus_len()];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        key.sign(&RSA_PKCS1_SHA256, &rng, &message, &mut signature).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
