//! JWT verification against one key of each algorithm, and the unverified peek that picks the
//! tenant: nothing panics, and no token is accepted that the keys did not sign.
#![no_main]

use std::sync::OnceLock;

use castellan_core::crypto::jwt::{self, Expectations, LoadedKey};
use castellan_core::model::KeyAlg;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static Vec<LoadedKey> {
    static KEYS: OnceLock<Vec<LoadedKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [KeyAlg::HS256, KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA]
            .into_iter()
            .filter_map(|alg| {
                let kid = alg.as_str().to_lowercase();
                let (private, jwk) = jwt::generate(alg, &kid).ok()?;
                jwt::load(&kid, alg, &private, &jwk, true).ok()
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = jwt::peek_claims(token);
    let want = Expectations {
        algs: &[KeyAlg::HS256, KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA],
        typ: "JWT",
        issuer: "https://issuer.example",
        audience: "aud",
        now: 1_700_000_000,
        leeway: 60,
    };
    // The keys are made here, at random: no input can carry their signature.
    assert!(jwt::verify(keys(), token, &want).is_err(), "accepted a token the keys never signed: {token}");
});
