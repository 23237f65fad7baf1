//! All cryptography goes through this module: randomness, digests, constant-time comparison, the
//! master key (HMAC and AEAD), password hashing, TOTP, JWT signing and QR rendering.

pub mod base32;
pub mod jwt;
pub mod master_key;
pub mod password;
pub mod qr;
pub mod sign_stats;
pub mod totp;
pub mod verified;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use master_key::MasterKey;

/// Bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // aws-lc's RNG only fails if the OS has no entropy source; there is no safe fallback.
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        std::process::abort();
    }
    buf
}

/// An opaque token: 256 random bits, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A uniformly distributed decimal code of `digits` digits (rejection sampling, no modulo bias).
pub fn random_digits(digits: u32) -> String {
    let digits = digits.clamp(4, 10);
    let bound = 10u64.pow(digits);
    let limit = u64::MAX - (u64::MAX % bound);
    loop {
        let n = u64::from_le_bytes(random_bytes::<8>());
        if n < limit {
            return format!("{:0width$}", n % bound, width = digits as usize);
        }
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// SHA-256, as an array (a map key).
pub fn sha256_array(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_have_the_requested_length_and_spread() {
        let mut counts = [0u32; 10];
        for _ in 0..1000 {
            let code = random_digits(6);
            assert_eq!(code.len(), 6);
            for c in code.bytes() {
                counts[(c - b'0') as usize] += 1;
            }
        }
        // 6,000 digits: each should appear about 600 times; 450..750 is > 6 sigma wide.
        assert!(counts.iter().all(|&c| (450..750).contains(&c)), "{counts:?}");
    }

    #[test]
    fn tokens_are_43_chars_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
