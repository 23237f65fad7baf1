//! The reference OAuth server, panva's oidc-provider (bench/oidc-provider/server.mjs, in memory),
//! as a child process on a loopback port, and the workloads it is measured with: the same load
//! generator and the same calls as on Castellan, at its paths.

use crate::http::{Call, Conn, Result, expect_ok};
use crate::load::{Repeat, Script};
use crate::oidc::basic;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-oidc-provider-secret-4b7e1d9a0c3f";

/// The resource indicators server.mjs maps to its token formats.
pub const ES256: &str = "urn:bench:es256";
pub const RS256: &str = "urn:bench:rs256";
/// Opaque tokens: oidc-provider does not introspect the JWT ones.
pub const OPAQUE: &str = "urn:bench:opaque";

pub struct OidcProvider {
    pub addr: SocketAddr,
    child: Child,
}

impl OidcProvider {
    /// Starts `node server.mjs` in `dir` (where `npm ci` installed it), its output in `log`, and
    /// waits for its discovery document.
    pub async fn start(dir: &Path, log: &Path) -> Result<OidcProvider> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let child = Command::new("node")
            .arg("server.mjs")
            .arg(port.to_string())
            .arg(SECRET)
            .current_dir(dir)
            .env("NODE_ENV", "production")
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut op = OidcProvider { addr, child };
        let started = Instant::now();
        let probe = Call::get("/.well-known/openid-configuration");
        loop {
            if let Ok(mut conn) = Conn::open(addr).await
                && let Ok((status, _)) = conn.send(&probe).await
                && status.is_success()
            {
                return Ok(op);
            }
            if let Some(exit) = op.child.try_wait()? {
                return Err(format!("oidc-provider exited with {exit}; see {}", log.display()).into());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("oidc-provider did not answer within 30 s; see {}", log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn token_call(resource: &str) -> Call {
        let body = format!(
            "grant_type=client_credentials&resource={}",
            url::form_urlencoded::byte_serialize(resource.as_bytes()).collect::<String>()
        );
        Call::post_form("/token", body).header("authorization", basic("svc", SECRET))
    }

    /// Client credentials for JWT access tokens of this resource (ES256 or RS256).
    pub fn client_credentials(resource: &str, concurrency: usize) -> Vec<Box<dyn Script>> {
        let call = Self::token_call(resource);
        (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
    }

    /// One fresh opaque access token, for introspection.
    pub async fn opaque_token(&self) -> Result<String> {
        let answer = expect_ok(self.addr, &Self::token_call(OPAQUE)).await?;
        Ok(answer["access_token"].as_str().ok_or(format!("no access token: {answer}"))?.to_string())
    }

    pub fn introspections(token: &str, concurrency: usize) -> Vec<Box<dyn Script>> {
        let body = format!("token={}", url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>());
        let call = Call::post_form("/token/introspection", body).header("authorization", basic("svc", SECRET));
        (0..concurrency).map(|_| Box::new(Repeat(call.clone())) as Box<dyn Script>).collect()
    }

    pub fn discovery(concurrency: usize) -> Vec<Box<dyn Script>> {
        (0..concurrency).map(|_| Box::new(Repeat(Call::get("/.well-known/openid-configuration"))) as Box<dyn Script>).collect()
    }

    pub fn jwks(concurrency: usize) -> Vec<Box<dyn Script>> {
        (0..concurrency).map(|_| Box::new(Repeat(Call::get("/jwks"))) as Box<dyn Script>).collect()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            let _ = self.child.wait();
        }
    }
}
