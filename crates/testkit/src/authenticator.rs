//! A software WebAuthn authenticator and client, for tests without a browser: it answers the
//! server's options (WebAuthn JSON) as a browser and an authenticator would — client data,
//! authenticator data, a `none` attestation, ES256 signatures — and lets a test bend any part
//! of that (origin, RP ID, user verification, counter, user handle) to see the server refuse.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// One credential the authenticator holds.
pub struct SoftCredential {
    pub id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    key: EcdsaKeyPair,
    pub counter: u32,
}

/// How the next ceremony is answered; the defaults are an honest platform authenticator.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The origin the client reports (the page's).
    pub origin: String,
    /// The RP ID the authenticator hashes; `None`: the options' (registration) or the
    /// credential's (assertion).
    pub rp_id: Option<String>,
    pub user_verified: bool,
    /// Backup eligible and backed up (a synced passkey).
    pub backup: bool,
    pub aaguid: [u8; 16],
    /// How much the counter moves at each use (0: the authenticator keeps none).
    pub counter_step: u32,
}

impl Behaviour {
    pub fn at(origin: &str) -> Behaviour {
        Behaviour {
            origin: origin.to_string(),
            rp_id: None,
            user_verified: true,
            backup: false,
            aaguid: [0x5a; 16],
            counter_step: 1,
        }
    }
}

#[derive(Default)]
pub struct SoftAuthenticator {
    pub credentials: Vec<SoftCredential>,
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn b64url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' | b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| acc | (val(*c) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Minimal CBOR: what an attestation object and a COSE key need.
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 { cbor_head(out, 0, v as u64) } else { cbor_head(out, 1, (-1 - v) as u64) }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend(s.as_bytes());
}

/// The COSE_Key of a P-256 public key (uncompressed point).
fn cose_es256(point: &[u8]) -> Vec<u8> {
    let mut k = Vec::new();
    cbor_head(&mut k, 5, 5);
    cbor_int(&mut k, 1);
    cbor_int(&mut k, 2); // kty: EC2
    cbor_int(&mut k, 3);
    cbor_int(&mut k, -7); // alg: ES256
    cbor_int(&mut k, -1);
    cbor_int(&mut k, 1); // crv: P-256
    cbor_int(&mut k, -2);
    cbor_bytes(&mut k, &point[1..33]);
    cbor_int(&mut k, -3);
    cbor_bytes(&mut k, &point[33..65]);
    k
}

fn flags(b: &Behaviour, attested: bool) -> u8 {
    let mut f = 0x01; // user present
    if b.user_verified {
        f |= 0x04;
    }
    if b.backup {
        f |= 0x08 | 0x10;
    }
    if attested {
        f |= 0x40;
    }
    f
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}).to_string().into_bytes()
}

impl SoftAuthenticator {
    pub fn new() -> SoftAuthenticator {
        SoftAuthenticator::default()
    }

    /// `navigator.credentials.create()` on these options (the server's JSON, with or without
    /// the `publicKey` wrapper): the registration response as WebAuthn JSON.
    pub fn register(&mut self, options: &Value, b: &Behaviour) -> Value {
        let pk = options.get("publicKey").unwrap_or(options);
        let challenge = pk["challenge"].as_str().expect("challenge");
        let rp_id = b.rp_id.clone().unwrap_or_else(|| pk["rp"]["id"].as_str().expect("rp.id").to_string());
        let user_handle = b64url_decode(pk["user"]["id"].as_str().expect("user.id"));
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key");
        let id: Vec<u8> = aws_lc_rs::rand::generate::<[u8; 32]>(&rng).expect("rng").expose().to_vec();
        let counter = b.counter_step;
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(flags(b, true));
        auth_data.extend(counter.to_be_bytes());
        auth_data.extend(b.aaguid);
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(cose_es256(key.public_key().as_ref()));
        let mut att = Vec::new();
        cbor_head(&mut att, 5, 3);
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        cbor_head(&mut att, 5, 0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        let cdj = client_data("webauthn.create", challenge, &b.origin);
        self.credentials.push(SoftCredential { id: id.clone(), user_handle, rp_id, key, counter });
        json!({
            "id": b64url(&id), "rawId": b64url(&id), "type": "public-key", "extensions": {},
            "response": {"attestationObject": b64url(&att), "clientDataJSON": b64url(&cdj), "transports": ["internal"]}
        })
    }

    /// `navigator.credentials.get()` with the credential at `index`: the assertion as WebAuthn
    /// JSON. The counter moves by `counter_step` first.
    pub fn assert(&mut self, index: usize, options: &Value, b: &Behaviour) -> Value {
        let pk = options.get("publicKey").unwrap_or(options);
        let challenge = pk["challenge"].as_str().expect("challenge").to_string();
        let cred = &mut self.credentials[index];
        cred.counter = cred.counter.wrapping_add(b.counter_step);
        let rp_id = b.rp_id.clone().unwrap_or_else(|| cred.rp_id.clone());
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(flags(b, false));
        auth_data.extend(cred.counter.to_be_bytes());
        let cdj = client_data("webauthn.get", &challenge, &b.origin);
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, &cdj).as_ref());
        let sig = cred.key.sign(&SystemRandom::new(), &signed).expect("sign");
        json!({
            "id": b64url(&cred.id), "rawId": b64url(&cred.id), "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": b64url(&auth_data), "clientDataJSON": b64url(&cdj),
                "signature": b64url(sig.as_ref()), "userHandle": b64url(&cred.user_handle)
            }
        })
    }

    /// Sets a credential's counter (a clone's, say, that lags behind the original).
    pub fn set_counter(&mut self, index: usize, counter: u32) {
        self.credentials[index].counter = counter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(b64url_decode(&b64url(&data)), data);
        }
    }
}
