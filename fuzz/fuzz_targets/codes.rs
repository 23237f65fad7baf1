//! Base32 (TOTP secrets given by a business, otpauth URIs) and one-time codes as typed: decoding
//! never panics, what encodes decodes back, and a typed code matches only when it is the code.
#![no_main]

use castellan_core::crypto::base32;
use castellan_core::crypto::totp::{self, TotpAlgorithm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert_eq!(base32::decode(&base32::encode(data)).as_deref(), Some(data), "Base32 round trip");
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(secret) = base32::decode(text) {
        // What decodes encodes to the canonical form, which decodes to the same bytes.
        assert_eq!(base32::decode(&base32::encode(&secret)).as_deref(), Some(&secret[..]));
    }
    let secret = b"12345678901234567890";
    let now = 1_700_000_000;
    for (alg, digits) in [(TotpAlgorithm::Sha1, 6), (TotpAlgorithm::Sha256, 8), (TotpAlgorithm::Sha512, 8)] {
        if let Some(step) = totp::matching_step(alg, secret, text, now, 30, digits, 1) {
            // Only the code of the step it names, as typed (whitespace around it aside).
            assert_eq!(totp::hotp(alg, secret, step as u64, digits), text.trim(), "{text:?} matched step {step}");
            assert!((step - totp::step(now, 30)).abs() <= 1);
        }
    }
    let _ = TotpAlgorithm::parse(text);
});
