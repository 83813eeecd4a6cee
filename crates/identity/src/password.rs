//! Password policy and hashing.
//!
//! Argon2id with OWASP parameters (m=19456 KiB, t=2, p=1) runs on `cores` dedicated threads,
//! never on the async runtime. The threads share at most one reusable 19 MiB work area each,
//! so memory is at most threads x 19 MiB however many logins arrive (a fresh allocation per
//! hash leaves allocator arenas holding hundreds of MiB under load), and the areas are freed
//! after a minute without a hash. The threads run at a lower scheduling
//! priority so that, with every core hashing, requests that need no hash still answer quickly.
//! A request that cannot get a slot within the configured wait gets 503. Legacy bcrypt hashes
//! verify and are flagged for re-hashing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, oneshot};
use trellis_kernel::http::metrics::Metrics;

use crate::error::IdentityError;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// OWASP Argon2id parameters.
const M_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Hashes stored with a larger memory cost than this are refused rather than computed.
const MAX_M_KIB: u32 = 262_144;
/// How long a hashing thread keeps its work area without a job.
const IDLE_RELEASE: Duration = Duration::from_secs(60);
/// Niceness of the hashing threads (0 is normal, 19 lowest).
const HASH_NICE: i32 = 19;

/// Checks the password policy: 8–128 characters, at least two character classes, not the
/// username or email, not a common password.
pub fn check_policy(password: &str, username: &str, email: &str) -> Result<(), IdentityError> {
    // Judged in the form that gets hashed.
    let password = nfc(password);
    let password = password.as_str();
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Err(IdentityError::WeakPassword(
            "password must be 8-128 characters".into(),
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if classes < 2 {
        return Err(IdentityError::WeakPassword(
            "password must mix at least two of: lower case, upper case, digits, symbols".into(),
        ));
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() || lower == email.to_lowercase() {
        return Err(IdentityError::WeakPassword(
            "password must differ from the username and email".into(),
        ));
    }
    if COMMON.contains(lower.as_str()) {
        return Err(IdentityError::WeakPassword("password is too common".into()));
    }
    Ok(())
}

/// The Unicode NFC form of a secret (UAX #15), so that the same password typed on systems
/// that compose characters differently (`é` as U+00E9 or as `e` + U+0301) hashes the same
/// (RFC 8265 §4.1 prepares passwords with NFC; issue 7 item 3).
pub fn nfc(secret: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    secret.nfc().collect()
}

/// Result of a verification.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or an unreadable stored hash).
    No,
    /// Correct, and stored with the current scheme and parameters.
    Yes,
    /// Correct, but stored with an old scheme or parameters: re-hash and store.
    YesRehash,
}

/// The reusable work area of one hashing thread.
struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }
}

fn argon2_with(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn owasp() -> Params {
    // The parameters are constants within the crate's bounds, so `new` cannot fail.
    Params::new(M_KIB, T_COST, P_COST, Some(32)).unwrap_or_default()
}

fn hash_now(password: &str, mem: &mut Memory) -> Result<String, IdentityError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let params = owasp();
    let mut out = [0u8; 32];
    argon2_with(params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            mem.blocks(params.block_count()),
        )
        .map_err(|e| IdentityError::Internal(format!("argon2: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={M_KIB},t={T_COST},p={P_COST}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

fn verify_now(password: &str, stored: &str, mem: &mut Memory) -> Verified {
    if stored.starts_with("$2") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::YesRehash,
            _ => Verified::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Verified::No;
    };
    let decimal = |k: &str| parsed.params.get_decimal(k);
    let (Some(m), Some(t), Some(p)) = (decimal("m"), decimal("t"), decimal("p")) else {
        return Verified::No;
    };
    let algorithm = match parsed.algorithm.as_str() {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return Verified::No,
    };
    let expected = expected.as_bytes();
    let Ok(params) = Params::new(m, t, p, Some(expected.len())) else {
        return Verified::No;
    };
    if m > MAX_M_KIB {
        return Verified::No;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return Verified::No;
    };
    let version = match parsed.version {
        Some(0x10) => Version::V0x10,
        _ => Version::V0x13,
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, mem.blocks(blocks))
        .is_err()
    {
        return Verified::No;
    }
    if !bool::from(out.ct_eq(expected)) {
        return Verified::No;
    }
    let current = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && (m, t, p) == (M_KIB, T_COST, P_COST);
    if current {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Counters exported on `/metrics`: how many hashes ran and how long they took in total, so
/// operators (and the bench) can see the real per-hash cost under load.
pub struct HashStats {
    /// Hashes and verifications computed (`trellis_password_hashes_total`).
    pub count: Arc<AtomicU64>,
    /// Total hashing time in microseconds (`trellis_password_hash_seconds_total`, exported in
    /// seconds).
    pub micros: Arc<AtomicU64>,
}

impl HashStats {
    /// Registers both counters with `metrics` and returns handles to them.
    pub fn register(metrics: &Metrics) -> Self {
        HashStats {
            count: metrics.counter(
                "trellis_password_hashes_total",
                "Argon2/bcrypt computations (hashes and verifications).",
                1.0,
            ),
            micros: metrics.counter(
                "trellis_password_hash_seconds_total",
                "Time spent computing password hashes.",
                1e6,
            ),
        }
    }
}

/// The bounded hashing pool.
#[derive(Clone)]
pub struct Hasher {
    stats: Arc<HashStats>,
    permits: Arc<Semaphore>,
    wait: Duration,
    jobs: SyncSender<Job>,
    /// A hash of a random password, verified against when the account does not exist so
    /// unknown and known usernames take the same time.
    dummy: Arc<String>,
}

/// The hashing threads' work areas, shared: a thread takes one for a job and puts it back;
/// the thread that has waited [`IDLE_RELEASE`] for a job frees them all. (Kept per thread,
/// only the thread waiting in `recv_timeout` could ever time out: the others wait on the
/// receiver's lock.)
type Areas = Arc<Mutex<Vec<Memory>>>;

fn worker(jobs: Arc<Mutex<Receiver<Job>>>, areas: Areas) {
    // Best effort: without the permission to renice, hashing still works at normal priority.
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASH_NICE)
    {
        tracing::debug!(error = %e, "could not lower the hashing thread's priority");
    }
    // Work areas are allocated on the first jobs and kept while jobs keep coming (reusing one
    // saves a 19 MiB allocation and its page faults per hash); after [`IDLE_RELEASE`] without
    // a job they are freed, so a server that logged someone in an hour ago does not hold
    // threads x 19 MiB (the SSE bench's RSS, issue 12; mimalloc returns them to the system).
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv_timeout(IDLE_RELEASE)
        };
        match job {
            Ok(job) => {
                let taken = areas.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let mut mem = taken.unwrap_or_else(|| Memory(Vec::new()));
                job(&mut mem);
                areas.lock().unwrap_or_else(|p| p.into_inner()).push(mem);
            }
            Err(RecvTimeoutError::Timeout) => {
                areas.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Hasher {
    /// `concurrency` threads (normally the core count); `wait` before answering busy.
    pub fn new(
        concurrency: usize,
        wait: Duration,
        stats: HashStats,
    ) -> Result<Self, IdentityError> {
        let n = concurrency.max(1);
        // Admission allows one job waiting per thread beyond the one it runs, so a thread that
        // finishes a hash starts the next at once instead of idling while the async side hands
        // the slot over. Memory stays `n` work areas: waiting jobs hold none.
        let slots = 2 * n;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(slots);
        let rx = Arc::new(Mutex::new(rx));
        let areas: Areas = Arc::default();
        for i in 0..n {
            let rx = rx.clone();
            let areas = areas.clone();
            std::thread::Builder::new()
                .name(format!("trellis-hash-{i}"))
                .spawn(move || worker(rx, areas))
                .map_err(|e| IdentityError::Internal(format!("spawning hash thread: {e}")))?;
        }
        let random = {
            let mut b = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut b);
            hex::encode(b)
        };
        let dummy = hash_now(&random, &mut Memory(Vec::new()))?;
        Ok(Hasher {
            stats: Arc::new(stats),
            permits: Arc::new(Semaphore::new(slots)),
            wait,
            jobs: tx,
            dummy: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, IdentityError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| IdentityError::Busy)?
            .map_err(|_| IdentityError::Busy)?;
        let (tx, rx) = oneshot::channel();
        let stats = self.stats.clone();
        let job: Job = Box::new(move |mem| {
            let started = Instant::now();
            let out = f(mem);
            stats.count.fetch_add(1, Ordering::Relaxed);
            stats
                .micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let _ = tx.send(out);
        });
        // There are as many permits as channel slots, so the channel is never full.
        self.jobs
            .try_send(job)
            .map_err(|e| IdentityError::Internal(format!("hash queue: {e}")))?;
        let out = rx
            .await
            .map_err(|_| IdentityError::Internal("hash thread dropped a job".into()));
        drop(permit);
        out
    }

    /// Argon2id PHC string of `password`, NFC-normalized ([`nfc`]), with a fresh salt;
    /// [`IdentityError::Busy`] when no hashing slot frees up within the configured wait.
    pub async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let pw = nfc(password);
        self.run(move |mem| hash_now(&pw, mem)).await?
    }

    /// Checks `password` against a stored Argon2 or legacy bcrypt hash (constant-time compare),
    /// in its NFC form and, for hashes stored before secrets were normalized, as typed; a
    /// match only as typed answers [`Verified::YesRehash`] so the NFC form gets stored.
    /// [`IdentityError::Busy`] when no hashing slot frees up within the configured wait.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, IdentityError> {
        let normalized = nfc(password);
        let as_typed = (normalized != password).then(|| password.to_string());
        let stored = stored.to_string();
        self.run(move |mem| match verify_now(&normalized, &stored, mem) {
            Verified::No => match as_typed {
                Some(typed) if verify_now(&typed, &stored, mem) != Verified::No => {
                    Verified::YesRehash
                }
                _ => Verified::No,
            },
            yes => yes,
        })
        .await
    }

    /// Burns the same time as a real verification, for accounts that do not exist.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), IdentityError> {
        self.verify(password, &self.dummy.clone()).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

    #[test]
    fn policy() {
        assert!(check_policy("Str0ng-enough", "bob", "bob@x.io").is_ok());
        for (bad, why) in [
            ("short1A", "length"),
            ("alllowercaseletters", "one class"),
            ("password123", "common"),
            ("Bobbybobby1", "username"),
        ] {
            let r = check_policy(bad, "bobbybobby1", "bob@x.io");
            assert!(r.is_err(), "{why}: {bad}");
        }
        assert!(check_policy(&"aA1".repeat(43), "u", "e@x.io").is_err());
    }

    #[tokio::test]
    async fn argon2_round_trip_and_bcrypt_upgrade() {
        let h = Hasher::new(
            2,
            Duration::from_secs(5),
            HashStats::register(&Metrics::default()),
        )
        .unwrap();
        let stored = h.hash("Correct-Horse-1").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            h.verify("Correct-Horse-1", &stored).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(h.verify("wrong", &stored).await.unwrap(), Verified::No);
        let legacy = bcrypt::hash("Legacy-Pass-1", 4).unwrap();
        assert_eq!(
            h.verify("Legacy-Pass-1", &legacy).await.unwrap(),
            Verified::YesRehash
        );
        assert_eq!(h.verify("nope", &legacy).await.unwrap(), Verified::No);
        assert_eq!(h.verify("x", "garbage").await.unwrap(), Verified::No);
    }

    /// Issue 7 item 3: secrets are NFC-normalized; hashes stored before (of the password as
    /// typed, possibly decomposed) still verify, and ask for a re-hash in NFC.
    #[tokio::test]
    async fn secrets_are_nfc_normalized_and_old_hashes_verify_as_typed() {
        let h = Hasher::new(
            1,
            Duration::from_secs(5),
            HashStats::register(&Metrics::default()),
        )
        .unwrap();
        let (decomposed, composed) = ("Cafe\u{301}-Pass-1", "Caf\u{e9}-Pass-1");
        assert_eq!(nfc(decomposed), composed);
        let new = h.hash(decomposed).await.unwrap();
        assert_eq!(h.verify(composed, &new).await.unwrap(), Verified::Yes);
        assert_eq!(h.verify(decomposed, &new).await.unwrap(), Verified::Yes);
        // A hash of the decomposed form as typed, stored before normalization.
        let legacy = hash_now(decomposed, &mut Memory(Vec::new())).unwrap();
        assert_eq!(
            h.verify(decomposed, &legacy).await.unwrap(),
            Verified::YesRehash
        );
        assert_eq!(
            h.verify("Cafe-Pass-1", &legacy).await.unwrap(),
            Verified::No
        );
        // The policy counts characters of the normalized form.
        assert!(check_policy("e\u{301}e\u{301}e\u{301}e\u{301}A1", "u", "u@x.io").is_err());
    }

    #[tokio::test]
    async fn phc_strings_interoperate_with_the_reference_implementation() {
        let h = Hasher::new(
            1,
            Duration::from_secs(5),
            HashStats::register(&Metrics::default()),
        )
        .unwrap();
        // Ours verifies with the argon2 crate's own verifier...
        let ours = h.hash("Interop-Pass-1").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Interop-Pass-1", &parsed)
                .is_ok()
        );
        // ...and theirs (other parameters) verifies with ours and asks for a re-hash.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = argon2_with(Params::new(8192, 3, 1, None).unwrap())
            .hash_password(b"Interop-Pass-1", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            h.verify("Interop-Pass-1", &theirs).await.unwrap(),
            Verified::YesRehash
        );
        assert_eq!(
            h.verify("Interop-Pass-2", &theirs).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn full_pool_answers_busy() {
        let h = Hasher::new(
            1,
            Duration::from_millis(1),
            HashStats::register(&Metrics::default()),
        )
        .unwrap();
        let hold = h.permits.clone().acquire_many_owned(2).await.unwrap();
        assert!(matches!(
            h.hash("Whatever-1").await,
            Err(IdentityError::Busy)
        ));
        drop(hold);
        assert!(h.hash("Whatever-1").await.is_ok());
    }
}
