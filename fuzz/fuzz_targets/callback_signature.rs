//! The result callback's `X-Castellan-Signature` as a receiver checks it: nothing panics, and a
//! header is accepted exactly when it is the signature written for that query and time.
#![no_main]

use castellan_core::delivery::callbacks::{signature, signature_matches};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"callback-secret-of-the-application";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (header, query) = text.split_once('\n').unwrap_or((text, "result=true&session_token=x"));
    if signature_matches(SECRET, query, header) {
        let t: i64 = header.split(',').next().and_then(|t| t.strip_prefix("t=")).and_then(|t| t.parse().ok()).unwrap_or_default();
        assert_eq!(header, signature(SECRET, t, query), "accepted a header the secret did not write");
    }
    // What the sender writes is accepted, for any query and time.
    let t = i64::from(data.len() as u32) * 7919;
    assert!(signature_matches(SECRET, query, &signature(SECRET, t, query)));
});
