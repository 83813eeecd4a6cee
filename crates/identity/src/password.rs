//! Password policy and hashing.
//!
//! Argon2id with OWASP parameters (m=19456 KiB, t=2, p=1) runs on the blocking pool behind a
//! semaphore of `cores` permits, so hashing never blocks the async runtime and memory stays
//! bounded at permits x 19 MiB. A request that cannot get a permit within the configured wait
//! gets 503. Legacy bcrypt hashes verify and are flagged for re-hashing.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::IdentityError;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// Checks the password policy: 8–128 characters, at least two character classes, not the
/// username or email, not a common password.
pub fn check_policy(password: &str, username: &str, email: &str) -> Result<(), IdentityError> {
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

/// Result of a verification.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with an old scheme or parameters: re-hash and store.
    YesRehash,
}

/// The bounded hashing pool.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    wait: Duration,
    /// A hash of a random password, verified against when the account does not exist so
    /// unknown and known usernames take the same time.
    dummy: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    // OWASP: m=19 MiB, t=2, p=1. The parameters are constants, so `new` cannot fail.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Internal(format!("argon2: {e}")))
}

fn verify_now(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::YesRehash,
            _ => Verified::No,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.params.get_decimal("m") == Some(19_456)
        && parsed.params.get_decimal("t") == Some(2)
        && parsed.params.get_decimal("p") == Some(1);
    if current {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

impl Hasher {
    /// `concurrency` permits (normally the core count); `wait` before answering busy.
    pub fn new(concurrency: usize, wait: Duration) -> Result<Self, IdentityError> {
        let random: String = {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(&rand::distributions::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        };
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
            dummy: Arc::new(hash_now(&random)?),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, IdentityError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| IdentityError::Busy)?
            .map_err(|_| IdentityError::Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| IdentityError::Internal(format!("hash task: {e}")))?;
        Ok(out)
    }

    pub async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let pw = password.to_string();
        self.run(move || hash_now(&pw)).await?
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified, IdentityError> {
        let (pw, stored) = (password.to_string(), stored.to_string());
        self.run(move || verify_now(&pw, &stored)).await
    }

    /// Burns the same time as a real verification, for accounts that do not exist.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), IdentityError> {
        self.verify(password, &self.dummy.clone()).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = Hasher::new(2, Duration::from_secs(5)).unwrap();
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

    #[tokio::test]
    async fn full_pool_answers_busy() {
        let h = Hasher::new(1, Duration::from_millis(1)).unwrap();
        let hold = h.permits.clone().acquire_owned().await.unwrap();
        assert!(matches!(
            h.hash("Whatever-1").await,
            Err(IdentityError::Busy)
        ));
        drop(hold);
        assert!(h.hash("Whatever-1").await.is_ok());
    }
}
