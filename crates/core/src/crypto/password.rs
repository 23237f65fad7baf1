//! Password hashing: Argon2id on a bounded blocking pool, legacy bcrypt/PBKDF2 verification with
//! upgrade, and a dummy hash so that unknown users cost the same as known ones.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

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
    /// Whether argon2 accepts these parameters (memory at least 8 KiB per lane, and so on).
    pub fn check(&self) -> Result<(), String> {
        self.argon2().map(|_| ()).map_err(|e| e.to_string().trim_start_matches("internal: ").to_string())
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

/// A hashing thread's Argon2 working memory, allocated once at the configured cost and reused.
/// Allocating it per hash costs page faults for 19 MiB each time, and glibc keeps freed blocks in
/// per-thread arenas, so a pool of short-lived threads grows the process by a copy per thread.
pub struct Scratch {
    blocks: Vec<Block>,
    wanted: usize,
}

impl Scratch {
    /// Memory for `blocks` blocks, allocated at the first hash so that an idle server stays small.
    fn new(blocks: usize) -> Self {
        Scratch { blocks: Vec::with_capacity(0), wanted: blocks }
    }

    /// Hashes with `argon2` into `out`, in the reused memory when it is large enough; a larger cost
    /// (an imported hash) gets memory of its own for this call only.
    fn hash_into(&mut self, argon2: &Argon2<'_>, count: usize, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
        if self.blocks.len() < self.wanted {
            self.blocks = vec![Block::new(); self.wanted];
        }
        let result = if count <= self.blocks.len() {
            argon2.hash_password_into_with_memory(password, salt, out, &mut self.blocks[..count])
        } else {
            argon2.hash_password_into_with_memory(password, salt, out, vec![Block::new(); count])
        };
        result.is_ok()
    }
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

/// Hashes and verifies on `workers` dedicated threads, with at most `max_waiting` callers queued
/// behind them; past that it refuses with [`CoreError::Overloaded`] at once.
pub struct PasswordHasher {
    params: Argon2Params,
    jobs: Mutex<mpsc::Sender<Job>>,
    workers: usize,
    /// Jobs queued or running.
    outstanding: Arc<AtomicUsize>,
    max_waiting: usize,
    dummy: String,
    hashes_computed: AtomicUsize,
}

impl PasswordHasher {
    pub fn new(params: Argon2Params, workers: usize, max_waiting: usize) -> CoreResult<Self> {
        // Checking a password against it costs one real hash; that its output is random rather than
        // computed changes nothing (no password matches either way) and spares a hash at start-up.
        let dummy = phc_string(params, &super::random_bytes::<16>(), &super::random_bytes::<32>())?;
        let workers = workers.max(1);
        let blocks = params.argon2()?.params().block_count();
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("castellan-hash-{i}"))
                .spawn(move || hashing_thread(&rx, blocks))
                .map_err(CoreError::internal)?;
        }
        Ok(PasswordHasher {
            params,
            jobs: Mutex::new(tx),
            workers,
            outstanding: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            dummy,
            hashes_computed: AtomicUsize::new(0),
        })
    }

    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Callers waiting for a hashing thread right now.
    pub fn queue_depth(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed).saturating_sub(self.workers)
    }

    /// Password hashes computed since start (hash or verify; a counter for tests and metrics).
    pub fn hashes_computed(&self) -> usize {
        self.hashes_computed.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce(&mut Scratch) -> CoreResult<T> + Send + 'static) -> CoreResult<T> {
        let before = self.outstanding.fetch_add(1, Ordering::SeqCst);
        if before >= self.workers + self.max_waiting {
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            return Err(CoreError::Overloaded);
        }
        self.hashes_computed.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let outstanding = self.outstanding.clone();
        let boxed: Job = Box::new(move |scratch| {
            // A caller that went away (client disconnected) no longer needs its hash.
            if !tx.is_closed() {
                let _ = tx.send(job(scratch));
            }
            outstanding.fetch_sub(1, Ordering::SeqCst);
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(boxed),
            Err(poisoned) => poisoned.into_inner().send(boxed),
        };
        if sent.is_err() {
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            return Err(CoreError::internal("password hashing threads are gone"));
        }
        rx.await.map_err(CoreError::internal)?
    }

    /// A new Argon2id PHC string for `password`.
    pub async fn hash(&self, password: &str) -> CoreResult<String> {
        let params = self.params;
        let argon2 = params.argon2()?;
        let password = zeroize::Zeroizing::new(password.as_bytes().to_vec());
        self.run(move |scratch| {
            let salt = super::random_bytes::<16>();
            let mut out = zeroize::Zeroizing::new([0u8; 32]);
            if !scratch.hash_into(&argon2, argon2.params().block_count(), &password, &salt, &mut out[..]) {
                return Err(CoreError::internal("argon2 refused its own parameters"));
            }
            phc_string(params, &salt, &out[..])
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
        let ok = self.run(move |scratch| Ok(verify_phc_with(scratch, &password, &phc))).await?;
        let needs_rehash = match stored {
            Some(s) => !s.starts_with(&marker),
            None => false,
        };
        Ok(Verified { ok: ok && real, needs_rehash })
    }
}

fn phc_string(params: Argon2Params, salt: &[u8], output: &[u8]) -> CoreResult<String> {
    let argon2 = params.argon2()?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(CoreError::internal)?,
        salt: Some(Salt::new(salt).map_err(CoreError::internal)?),
        hash: Some(Output::new(output).map_err(CoreError::internal)?),
    }
    .to_string())
}

/// One hashing thread: niced, because a login that waits a little longer for its hash is better
/// than every other request waiting behind a hash for the scheduler's time slice. (On Linux the
/// nice value belongs to the thread; elsewhere it would belong to the whole process, so it is left.)
fn hashing_thread(jobs: &Mutex<mpsc::Receiver<Job>>, blocks: usize) {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(None, 19);
    let mut scratch = Scratch::new(blocks);
    loop {
        let next = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => job(&mut scratch),
            // The hasher was dropped: no more jobs will come.
            Err(_) => return,
        }
    }
}

/// Verifies against Argon2 (any variant/params), bcrypt (`$2a$`/`$2b$`/`$2y$`) or PBKDF2
/// (`$pbkdf2-sha256$i=…,l=…$salt$hash`, PHC base64). Unknown formats never verify.
pub fn verify_phc(password: &[u8], phc: &str) -> bool {
    verify_phc_with(&mut Scratch::new(0), password, phc)
}

fn verify_phc_with(scratch: &mut Scratch, password: &[u8], phc: &str) -> bool {
    if phc.starts_with("$argon2") {
        verify_argon2(scratch, password, phc).unwrap_or(false)
    } else if phc.starts_with("$2a$") || phc.starts_with("$2b$") || phc.starts_with("$2y$") {
        // bcrypt silently ignores bytes past 72; refuse such passwords instead of truncating.
        password.len() <= 72 && bcrypt::verify(password, phc).unwrap_or(false)
    } else if phc.starts_with("$pbkdf2-") {
        verify_pbkdf2(password, phc).unwrap_or(false)
    } else {
        false
    }
}

fn verify_argon2(scratch: &mut Scratch, password: &[u8], phc: &str) -> Option<bool> {
    let hash = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).ok()?;
    let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
    let count = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    if !scratch.hash_into(&argon2, count, password, salt, &mut out) {
        return Some(false);
    }
    Some(bool::from(out.ct_eq(expected.as_bytes())))
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
    async fn hashes_interoperate_with_the_reference_phc_code() -> CoreResult<()> {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher()?;
        let ours = h.hash("pw-pw-pw-pw").await?;
        let parsed = PasswordHash::new(&ours).map_err(CoreError::internal)?;
        assert!(Argon2::default().verify_password(b"pw-pw-pw-pw", &parsed).is_ok());
        // Costlier than the reused memory (which is sized for the test parameters), and Argon2i.
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let params = Params::new(256, 2, 1, None).map_err(CoreError::internal)?;
            let theirs = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password_with_salt(b"pw-pw-pw-pw", b"0123456789abcdef")
                .map_err(CoreError::internal)?
                .to_string();
            assert_eq!(h.verify("pw-pw-pw-pw", Some(&theirs)).await?, Verified { ok: true, needs_rehash: true });
            assert!(!h.verify("pw-pw-pw-pX", Some(&theirs)).await?.ok);
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() -> CoreResult<()> {
        let slow = Argon2Params { memory_kib: 8192, iterations: 4, parallelism: 1 };
        let h = PasswordHasher::new(slow, 1, 1)?;
        let (a, b, c) = tokio::join!(h.verify("x", None), h.verify("y", None), h.verify("z", None));
        assert!(a.is_ok() && b.is_ok(), "one running and one waiting are served");
        assert!(matches!(c, Err(CoreError::Overloaded)), "the third is refused: {c:?}");
        assert_eq!(h.queue_depth(), 0);
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
