//! The whole server, every route and middleware: whatever a client sends (dialect JSON bodies
//! and forms, MOSIP envelopes, cookies, OIDC authorization parameters, DPoP proofs, client
//! assertions, admin bodies), the answer is never a 5xx and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(req) = castellan_fuzz::parse_request(data) else { return };
    let described = format!("{} {}", req.method(), req.uri());
    let status = castellan_fuzz::server().send(req);
    assert!(status < 500, "{status} for {described}");
});
