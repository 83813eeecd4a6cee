//! Sealing secrets at rest: proxy credentials and Xiaohongshu cookies are stored encrypted
//! with XChaCha20-Poly1305 (RFC 8439 AEAD with the 24-byte extended nonce of
//! draft-irtf-cfrg-xchacha) under a 32-byte key, and never returned by any endpoint.
//!
//! The key is `TRELLIS_SECRETS_KEY` (64 hex characters). Without it, development generates
//! one and keeps it in `<data dir>/secrets.key` (mode 0600, like `jwt.secret`); production
//! (`TRELLIS_ENV=production`) refuses to start without it, since losing a generated key
//! loses every sealed secret. A sealed value is `nonce (24 bytes) ‖ ciphertext ‖ tag`; the
//! record's id is the associated data, so a sealed value copied onto another row does not
//! open.

use std::path::Path;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use trellis_kernel::config::Environment;
use uuid::Uuid;

/// The variable holding the key.
pub const KEY_VAR: &str = "TRELLIS_SECRETS_KEY";

/// Seals and opens secrets with the deployment's key. Cheap to clone.
#[derive(Clone)]
pub struct Secrets {
    cipher: Arc<XChaCha20Poly1305>,
    salt: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// A sealed value that does not open: wrong key, another record's value, or corruption.
#[derive(Debug, Clone, thiserror::Error)]
#[error("a stored secret cannot be opened (was TRELLIS_SECRETS_KEY changed?)")]
pub struct Unreadable;

/// Problems with the key setting, without touching the data directory: a malformed
/// `TRELLIS_SECRETS_KEY`, or none in production.
pub fn check(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    match vars.get(KEY_VAR).filter(|v| !v.trim().is_empty()) {
        Some(v) => parse_key(v).err().into_iter().collect(),
        None if Environment::from_vars(vars) == Environment::Production => vec![format!(
            "{KEY_VAR} must be set in production (64 hex characters, e.g. `openssl rand -hex 32`)"
        )],
        None => Vec::new(),
    }
}

fn parse_key(hex_key: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(hex_key.trim())
        .map_err(|_| format!("{KEY_VAR} must be 64 hexadecimal characters"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{KEY_VAR} must be 64 hexadecimal characters (32 bytes)"))
}

impl Secrets {
    /// From a 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"trellis pseudonym salt v1");
        h.update(key);
        Secrets {
            cipher: Arc::new(XChaCha20Poly1305::new(&key.into())),
            salt: h.finalize().into(),
        }
    }

    /// The deployment's key: `TRELLIS_SECRETS_KEY`, else (development only) the key kept in
    /// `data_dir/secrets.key`, generated on first use. Errors name the variable.
    pub fn from_config(
        vars: &std::collections::HashMap<String, String>,
        data_dir: &Path,
    ) -> Result<Self, String> {
        if let Some(v) = vars.get(KEY_VAR).filter(|v| !v.trim().is_empty()) {
            return Ok(Secrets::new(parse_key(v)?));
        }
        if Environment::from_vars(vars) == Environment::Production {
            return Err(format!(
                "{KEY_VAR} must be set in production (64 hex characters, e.g. `openssl rand -hex 32`)"
            ));
        }
        let path = data_dir.join("secrets.key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(Secrets::new(
                parse_key(&existing).map_err(|e| format!("{}: {e}", path.display()))?,
            ));
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private(&path, &hex::encode(key))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        tracing::warn!(file = %path.display(), "TRELLIS_SECRETS_KEY unset: using a generated key kept in the data directory");
        Ok(Secrets::new(key))
    }

    /// A salt derived from the key (SHA-256 of a label and the key), stable per deployment:
    /// for pseudonyms that must not be reversible without the key.
    pub fn pseudonym_salt(&self) -> [u8; 32] {
        self.salt
    }

    /// Encrypts `plain` for the record `record` (its id is the associated data).
    pub fn seal(&self, record: Uuid, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: record.as_bytes(),
        };
        // Encryption only fails for messages over ~256 GiB, far beyond any secret here.
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(24 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a value sealed for `record`.
    pub fn open(&self, record: Uuid, sealed: &[u8]) -> Result<Vec<u8>, Unreadable> {
        if sealed.len() < 24 + 16 {
            return Err(Unreadable);
        }
        let (nonce, body) = sealed.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: record.as_bytes(),
                },
            )
            .map_err(|_| Unreadable)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_bound_to_the_record() {
        let s = Secrets::new([7; 32]);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = s.seal(a, b"user:pass");
        assert_ne!(&sealed[24..], b"user:pass");
        assert_eq!(s.open(a, &sealed).unwrap(), b"user:pass");
        assert!(
            s.open(b, &sealed).is_err(),
            "another record's value must not open"
        );
        assert!(Secrets::new([8; 32]).open(a, &sealed).is_err());
        assert!(s.open(a, &sealed[..10]).is_err());
        // Two seals of the same value differ (random nonce).
        assert_ne!(s.seal(a, b"x"), s.seal(a, b"x"));
    }

    #[test]
    fn key_from_config_or_generated_once() {
        let dir = std::env::temp_dir().join(format!("trellis-secrets-{}", Uuid::now_v7()));
        let mut vars = std::collections::HashMap::new();
        let one = Secrets::from_config(&vars, &dir).unwrap();
        let sealed = one.seal(Uuid::nil(), b"v");
        let two = Secrets::from_config(&vars, &dir).unwrap();
        assert_eq!(two.open(Uuid::nil(), &sealed).unwrap(), b"v");
        vars.insert(KEY_VAR.into(), "zz".into());
        assert!(
            Secrets::from_config(&vars, &dir)
                .unwrap_err()
                .contains(KEY_VAR)
        );
        vars.insert(KEY_VAR.into(), "ab".repeat(32));
        assert!(Secrets::from_config(&vars, &dir).is_ok());
        vars.remove(KEY_VAR);
        vars.insert("TRELLIS_ENV".into(), "production".into());
        assert!(
            Secrets::from_config(&vars, &dir)
                .unwrap_err()
                .contains("production")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
