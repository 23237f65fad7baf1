//! The OpenID Connect workloads beyond the code flow: client credentials with a DPoP proof per
//! request (made by the load generator, as a client makes them), and devices polling the token
//! endpoint while their users have not decided; each on Castellan and on oidc-provider.

use crate::http::{Call, Conn, Result, expect_ok};
use crate::load::Script;
use crate::oidc::basic;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The load generator's DPoP key: Ed25519, one proof per request.
pub struct ProofKey {
    pair: Ed25519KeyPair,
    header: String,
}

static PROOFS: AtomicU64 = AtomicU64::new(0);

impl ProofKey {
    pub fn new() -> Result<Arc<ProofKey>> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "no Ed25519 key")?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "no Ed25519 key")?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        Ok(Arc::new(ProofKey { pair, header: URL_SAFE_NO_PAD.encode(header.to_string()) }))
    }

    /// A proof for a POST to `htu`, with the server's nonce if known.
    pub fn proof(&self, htu: &str, nonce: Option<&str>) -> String {
        let n = PROOFS.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut claims = json!({"jti": format!("{}-{n}-{}", std::process::id(), now.as_nanos()), "htm": "POST", "htu": htu,
                                "iat": now.as_secs()});
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!("{}.{}", self.header, URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// Proofs made per second on one core: the client's share of a DPoP request.
pub fn proofs_per_second(key: &ProofKey, for_: std::time::Duration) -> f64 {
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < for_ {
        std::hint::black_box(key.proof("http://127.0.0.1/token", Some("n")));
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The same token request again and again, each with a fresh proof.
struct WithProof {
    call: Call,
    key: Arc<ProofKey>,
    htu: String,
    nonce: Option<String>,
}

impl Script for WithProof {
    fn next(&mut self) -> Call {
        self.call.clone().header("dpop", self.key.proof(&self.htu, self.nonce.as_deref()))
    }
}

/// The server's DPoP nonce, from the answer to a proof without one (`None` if it asks for none).
async fn nonce_of(addr: SocketAddr, call: &Call, key: &ProofKey, htu: &str) -> Result<Option<String>> {
    let mut conn = Conn::open(addr).await?;
    let (_, headers, _) = conn.exchange(&call.clone().header("dpop", key.proof(htu, None))).await?;
    Ok(headers.get("dpop-nonce").and_then(|v| v.to_str().ok()).map(str::to_string))
}

/// Client credentials with a DPoP proof per request, at `path` of the server at `addr` (whose
/// public URL is `origin`).
pub async fn dpop_client_credentials(
    addr: SocketAddr,
    origin: &str,
    path: &str,
    call: Call,
    concurrency: usize,
) -> Result<Vec<Box<dyn Script>>> {
    let key = ProofKey::new()?;
    let htu = format!("{origin}{path}");
    let nonce = nonce_of(addr, &call, &key, &htu).await?;
    Ok((0..concurrency)
        .map(|_| {
            Box::new(WithProof { call: call.clone(), key: key.clone(), htu: htu.clone(), nonce: nonce.clone() })
                as Box<dyn Script>
        })
        .collect())
}

/// Each worker polls for a device code of its own that no user will ever approve.
pub async fn device_pollers(
    addr: SocketAddr,
    authorize_path: &str,
    token_path: &str,
    client_id: &str,
    concurrency: usize,
) -> Result<Vec<Box<dyn Script>>> {
    let mut scripts: Vec<Box<dyn Script>> = Vec::new();
    for _ in 0..concurrency {
        let body = format!("client_id={client_id}&scope=openid");
        let d = expect_ok(addr, &Call::post_form(authorize_path, body)).await?;
        let code = d["device_code"].as_str().ok_or(format!("no device code: {d}"))?;
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id={client_id}&device_code={}",
            url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
        );
        scripts.push(Box::new(crate::load::Repeat(Call::post_form(token_path, body))));
    }
    Ok(scripts)
}

/// The Castellan service client's token request (client credentials).
pub fn service_token_call(token_path: &str, client_id: &str, secret: &str) -> Call {
    Call::post_form(token_path, "grant_type=client_credentials".into()).header("authorization", basic(client_id, secret))
}
