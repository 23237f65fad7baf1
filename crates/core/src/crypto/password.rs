//! Password hashing: Argon2id on a bounded blocking pool, legacy bcrypt/PBKDF2 verification with
//! upgrade, and a dummy hash so that unknown users cost the same as known ones.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::sync::Semaphore;

use crate::error::{CoreError, CoreResult};

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Argon2Params { memory_kib: 19456, iterations: 2, parallelism: 1 }
    }
}

impl Argon2Params {
    /// Cheap parameters for tests only.
    pub fn for_tests() -> Self {
        Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 }
    }
    fn argon2(&self) -> CoreResult<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32)).map_err(CoreError::internal)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
    fn phc_marker(&self) -> String {
        format!("$argon2id$v=19$m={},t={},p={}$", self.memory_kib, self.iterations, self.parallelism)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash is legacy (bcrypt, PBKDF2) or uses other Argon2 parameters.
    pub needs_rehash: bool,
}

/// Hashes and verifies on tokio's blocking pool, at most `workers` at a time, with at most
/// `max_waiting` callers queued; past that it refuses with [`CoreError::Overloaded`] at once.
pub struct PasswordHasher {
    params: Argon2Params,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    dummy: String,
    hashes_computed: AtomicUsize,
}

impl PasswordHasher {
    pub fn new(params: Argon2Params, workers: usize, max_waiting: usize) -> CoreResult<Self> {
        let salt = super::random_bytes::<16>();
        let dummy = params
            .argon2()?
            .hash_password_with_salt(&super::random_bytes::<32>(), &salt)
            .map_err(CoreError::internal)?
            .to_string();
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(workers.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            dummy,
            hashes_computed: AtomicUsize::new(0),
        })
    }

    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Callers waiting for a hashing slot right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Password hashes computed since start (hash or verify; a counter for tests and metrics).
    pub fn hashes_computed(&self) -> usize {
        self.hashes_computed.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> CoreResult<T> + Send + 'static) -> CoreResult<T> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(CoreError::Overloaded);
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = permit.map_err(CoreError::internal)?;
        self.hashes_computed.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(CoreError::internal)?
    }

    /// A new Argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> CoreResult<String> {
        let argon2 = self.params.argon2()?;
        let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
        self.run(move || {
            let salt = super::random_bytes::<16>();
            argon2.hash_password_with_salt(&password, &salt).map(|h| h.to_string()).map_err(CoreError::internal)
        })
        .await
    }

    /// Verifies `password` against `stored`; with no stored hash (unknown user, no password set)
    /// the dummy hash is checked instead, so the answer takes as long and is always false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> CoreResult<Verified> {
        let (phc, real) = match stored {
            Some(s) => (s.to_string(), true),
            None => (self.dummy.clone(), false),
        };
        let marker = self.params.phc_marker();
        let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
        let ok = self.run(move || Ok(verify_phc(&password, &phc))).await?;
        let needs_rehash = match stored {
            Some(s) => !s.starts_with(&marker),
            None => false,
        };
        Ok(Verified { ok: ok && real, needs_rehash })
    }
}

/// Verifies against Argon2 (any variant/params), bcrypt (`$2a$`/`$2b$`/`$2y$`) or PBKDF2
/// (`$pbkdf2-sha256$i=…,l=…$salt$hash`, PHC base64). Unknown formats never verify.
pub fn verify_phc(password: &[u8], phc: &str) -> bool {
    if phc.starts_with("$argon2") {
        Argon2::default().verify_password(password, phc).is_ok()
    } else if phc.starts_with("$2a$") || phc.starts_with("$2b$") || phc.starts_with("$2y$") {
        // bcrypt silently ignores bytes past 72; refuse such passwords instead of truncating.
        password.len() <= 72 && bcrypt::verify(password, phc).unwrap_or(false)
    } else if phc.starts_with("$pbkdf2-") {
        verify_pbkdf2(password, phc).unwrap_or(false)
    } else {
        false
    }
}

fn verify_pbkdf2(password: &[u8], phc: &str) -> Option<bool> {
    let mut parts = phc.split('$').skip(1);
    let alg = match parts.next()? {
        "pbkdf2-sha256" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        "pbkdf2-sha512" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return None,
    };
    let params = parts.next()?;
    let iterations =
        params.split(',').find_map(|kv| kv.strip_prefix("i=")).and_then(|v| v.parse::<u32>().ok()).and_then(NonZeroU32::new)?;
    let salt = decode_phc_b64(parts.next()?)?;
    let hash = decode_phc_b64(parts.next()?)?;
    Some(aws_lc_rs::pbkdf2::verify(alg, iterations, &salt, password, &hash).is_ok())
}

/// PHC strings use standard base64 without padding; passlib writes `.` for `+`.
fn decode_phc_b64(s: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(s.replace('.', "+").trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> CoreResult<PasswordHasher> {
        PasswordHasher::new(Argon2Params::for_tests(), 2, 16)
    }

    #[tokio::test]
    async fn argon2id_round_trip_with_distinct_salts() -> CoreResult<()> {
        let h = hasher()?;
        let a = h.hash("correct horse").await?;
        let b = h.hash("correct horse").await?;
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(a, b);
        assert_eq!(h.verify("correct horse", Some(&a)).await?, Verified { ok: true, needs_rehash: false });
        assert!(!h.verify("correct hors", Some(&a)).await?.ok);
        Ok(())
    }

    #[tokio::test]
    async fn unknown_user_never_verifies_but_costs_a_hash() -> CoreResult<()> {
        let h = hasher()?;
        let before = h.hashes_computed();
        assert!(!h.verify("anything", None).await?.ok);
        assert_eq!(h.hashes_computed(), before + 1);
        Ok(())
    }

    #[tokio::test]
    async fn legacy_hashes_verify_and_ask_for_rehash() -> CoreResult<()> {
        let h = hasher()?;
        let bc = bcrypt::hash_with_salt("Legacy#Pass1", 4, [1u8; 16])
            .map_err(CoreError::internal)?
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(h.verify("Legacy#Pass1", Some(&bc)).await?, Verified { ok: true, needs_rehash: true });
        assert!(!h.verify("Legacy#Pass", Some(&bc)).await?.ok);

        let salt = b"saltsaltsaltsalt";
        let mut out = [0u8; 32];
        aws_lc_rs::pbkdf2::derive(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(1000).ok_or(CoreError::NotFound)?,
            salt,
            b"Legacy#Pass1",
            &mut out,
        );
        let phc = format!("$pbkdf2-sha256$i=1000,l=32${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out));
        assert_eq!(h.verify("Legacy#Pass1", Some(&phc)).await?, Verified { ok: true, needs_rehash: true });
        assert!(!h.verify("wrong", Some(&phc)).await?.ok);
        assert!(!h.verify("x", Some("plaintext")).await?.ok);
        Ok(())
    }

    #[tokio::test]
    async fn other_argon2_parameters_ask_for_rehash() -> CoreResult<()> {
        let strong = PasswordHasher::new(Argon2Params { memory_kib: 128, iterations: 1, parallelism: 1 }, 1, 4)?;
        let phc = strong.hash("pw-pw-pw-pw").await?;
        assert_eq!(hasher()?.verify("pw-pw-pw-pw", Some(&phc)).await?, Verified { ok: true, needs_rehash: true });
        Ok(())
    }
}

/// Legacy hashes made the way other systems make them, for import tests.
pub mod test_support {
    use std::num::NonZeroU32;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    /// A cost-4 `$2b$` bcrypt hash.
    pub fn bcrypt_hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap_or_default()
    }

    /// A `$pbkdf2-sha256$` PHC string with 1,000 rounds.
    pub fn pbkdf2_hash(password: &str) -> String {
        let salt = super::super::random_bytes::<16>();
        let mut out = [0u8; 32];
        if let Some(rounds) = NonZeroU32::new(1000) {
            aws_lc_rs::pbkdf2::derive(aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &mut out);
        }
        format!("$pbkdf2-sha256$i=1000,l=32${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out))
    }
}
