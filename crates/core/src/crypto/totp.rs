//! RFC 6238 TOTP over RFC 4226 HOTP, with SHA-1, SHA-256 and SHA-512.

use aws_lc_rs::hmac;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// HOTP value of `counter` (RFC 4226 §5.3), `digits` 6..=8.
pub fn hotp(alg: TotpAlgorithm, secret: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(alg.hmac(), secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    let digits = digits.clamp(6, 8);
    format!("{:0width$}", bin % 10u32.pow(digits), width = digits as usize)
}

/// The time step of `t` (epoch seconds).
pub fn step(t: i64, period: u32) -> i64 {
    t.div_euclid(i64::from(period.max(1)))
}

pub fn totp(alg: TotpAlgorithm, secret: &[u8], t: i64, period: u32, digits: u32) -> String {
    hotp(alg, secret, step(t, period).max(0) as u64, digits)
}

/// Finds the step (within ±`window` of now) whose code equals `code`, comparing in constant time.
pub fn matching_step(
    alg: TotpAlgorithm,
    secret: &[u8],
    code: &str,
    now: i64,
    period: u32,
    digits: u32,
    window: i64,
) -> Option<i64> {
    let code = code.trim();
    if code.len() != digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step(now, period);
    let mut found = None;
    // Every candidate is computed and compared, so timing does not reveal which step matched.
    for s in (current - window)..=(current + window) {
        if s < 0 {
            continue;
        }
        let candidate = hotp(alg, secret, s as u64, digits);
        if super::ct_eq(candidate.as_bytes(), code.as_bytes()) {
            found = Some(s);
        }
    }
    found
}

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=…&digits=…&period=…`
pub fn otpauth_url(issuer: &str, account: &str, secret_b32: &str, alg: TotpAlgorithm, digits: u32, period: u32) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        pct(issuer),
        pct(account),
        secret_b32,
        pct(issuer),
        alg.as_str(),
        digits,
        period
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `@`, common in labels).
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_sha1() {
        for (t, code) in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")] {
            assert_eq!(totp(TotpAlgorithm::Sha1, SEED20, t, 30, 8), code, "t={t}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha256_and_sha512() {
        assert_eq!(totp(TotpAlgorithm::Sha256, SEED32, 59, 30, 8), "46119246");
        assert_eq!(totp(TotpAlgorithm::Sha512, SEED64, 59, 30, 8), "90693936");
        assert_eq!(totp(TotpAlgorithm::Sha256, SEED32, 1111111109, 30, 8), "68084774");
        assert_eq!(totp(TotpAlgorithm::Sha512, SEED64, 20000000000, 30, 8), "47863826");
    }

    #[test]
    fn rfc4226_appendix_d() {
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (c, code) in expected.iter().enumerate() {
            assert_eq!(hotp(TotpAlgorithm::Sha1, SEED20, c as u64, 6), *code);
        }
    }

    #[test]
    fn window_accepts_previous_step_and_refuses_two_back() {
        let now = 1_700_000_000;
        let prev = totp(TotpAlgorithm::Sha1, SEED20, now - 30, 30, 6);
        let two_back = totp(TotpAlgorithm::Sha1, SEED20, now - 60, 30, 6);
        assert_eq!(matching_step(TotpAlgorithm::Sha1, SEED20, &prev, now, 30, 6, 1), Some(step(now, 30) - 1));
        assert_eq!(matching_step(TotpAlgorithm::Sha1, SEED20, &two_back, now, 30, 6, 1), None);
        assert_eq!(matching_step(TotpAlgorithm::Sha1, SEED20, "12345", now, 30, 6, 1), None);
        assert_eq!(matching_step(TotpAlgorithm::Sha1, SEED20, "abcdef", now, 30, 6, 1), None);
    }
}
