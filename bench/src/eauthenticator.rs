//! The eauthenticator workloads: session tokens per second (API key, allow-list, one write and
//! an HS256 signature per request), and the time from code submit to the redirect, which
//! includes the signed callback to a receiver that answers in 5 ms.

use crate::http::{Call, Conn, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::server::ADMIN_TOKEN;
use aws_lc_rs::hmac;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &[u8] = b"12345678901234567890";
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const EMAIL: &str = "bench-console@example.com";
const PASSWORD: &str = "bench-console-pass";

pub struct Fixture {
    pub api_key: String,
    pub client_id: String,
}

/// A callback receiver on loopback that answers 200 after 5 ms.
pub async fn receiver() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut filled = 0;
                loop {
                    let Ok(n) = sock.read(&mut buf[filled..]).await else { return };
                    if n == 0 {
                        return;
                    }
                    filled += n;
                    if buf[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                        filled = 0;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        if sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn code(t: u64) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET), &(t / 30).to_be_bytes());
    let m = tag.as_ref();
    let o = (m[19] & 0x0f) as usize;
    let bin = (u32::from(m[o] & 0x7f) << 24) | (u32::from(m[o + 1]) << 16) | (u32::from(m[o + 2]) << 8) | u32::from(m[o + 3]);
    format!("{:06}", bin % 1_000_000)
}

fn email(i: usize) -> String {
    format!("user-{i}@bench.example")
}

/// A console account, an application calling back to `callback`, and `users` users with TOTP.
pub async fn prepare(addr: SocketAddr, callback: SocketAddr, users: usize) -> Result<Fixture> {
    let cred = json!({"email": EMAIL, "password": PASSWORD}).to_string();
    expect_ok(addr, &Call::post_json("/console/api/register", cred.clone())).await?;
    let outbox = expect_ok(
        addr,
        &Call::get(&format!("/admin/v1/outbox?to={EMAIL}")).header("authorization", format!("Bearer {ADMIN_TOKEN}")),
    )
    .await?;
    let body = outbox[0]["body"].as_str().ok_or("no confirmation mail")?;
    let token = body.split("token=").nth(1).and_then(|t| t.split_whitespace().next()).ok_or("no token in the mail")?;
    expect_ok(addr, &Call::post_json("/console/api/verify-email", json!({"token": token}).to_string())).await?;
    let session = expect_ok(addr, &Call::post_json("/console/api/sign-in", cred)).await?;
    let bearer = format!("Bearer {}", session["token"].as_str().ok_or("no console token")?);
    let app = json!({"name": "Bench Portal", "allowed_ips": ["127.0.0.1"], "callback_url": format!("http://{callback}/cb"),
        "redirect_uris": ["https://portal.bench.example/done"]});
    let created =
        expect_ok(addr, &Call::post_json("/console/api/applications", app.to_string()).header("authorization", bearer)).await?;
    let f = Fixture {
        api_key: created["api_key"].as_str().ok_or("no key")?.to_string(),
        client_id: created["application"]["client_id"].as_str().ok_or("no client id")?.to_string(),
    };
    for i in 0..users {
        let body = json!({"email": email(i), "client_id": f.client_id, "secret": SECRET_B32, "action": "ENABLE", "type": "TOTP",
            "algorithm": "SHA1", "digits": 6, "period": 30});
        expect_ok(addr, &api(&f, "/mfa/toggle", body.to_string())).await?;
    }
    Ok(f)
}

fn api(f: &Fixture, path: &str, body: String) -> Call {
    Call::post_json(&format!("/authen-api/api/v1{path}"), body).header("x-api-key", f.api_key.clone())
}

pub fn session_tokens(f: &Fixture, concurrency: usize, users: usize) -> Vec<Box<dyn Script>> {
    (0..concurrency)
        .map(|i| {
            let body = json!({"email": email(i % users), "client_id": f.client_id}).to_string();
            Box::new(Repeat(api(f, "/session-token", body))) as Box<dyn Script>
        })
        .collect()
}

/// `n` sequential sign-ins, each by a user whose code of this time step is unspent; returns the
/// submit → 302 times in milliseconds.
pub async fn submit_to_redirect(addr: SocketAddr, f: &Fixture, n: usize) -> Result<Vec<f64>> {
    let mut conn = Conn::open(addr).await?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let body = json!({"email": email(i), "client_id": f.client_id}).to_string();
        let answer = expect_ok(addr, &api(f, "/session-token", body)).await?;
        let token = answer["data"]["session_token"].as_str().ok_or("no session token")?;
        let form = format!(
            "signin_method=redirect&session_token={token}&redirect_uri=https%3A%2F%2Fportal.bench.example%2Fdone&code={}",
            code(now)
        );
        let call = Call::post_form("/start-authentication/verify", form);
        let started = Instant::now();
        let (status, _) = conn.send(&call).await?;
        let took = started.elapsed().as_secs_f64() * 1000.0;
        if status.as_u16() != 302 {
            return Err(format!("verify answered {status}").into());
        }
        times.push(took);
    }
    Ok(times)
}
