//! The app's typed state: the platform (database, blobs, key-value, clock), identity (admin
//! tokens, key hashing, audit), settings, and the cached public plugin list; `FromRef`
//! sub-states for extractors that need one part.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use bytes::Bytes;
use trellis_identity::Identity;
use trellis_kernel::Platform;

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::settings::Settings;
use crate::store::backups::OwnerKey;

/// What every MicroDock handler can reach; cheap to clone.
#[derive(Clone)]
pub struct MicroDockState {
    /// Database, blobs, key-value, clock, tracked tasks.
    pub platform: Platform,
    /// Admin tokens, secret hashing, the audit log.
    pub identity: Identity,
    /// `MAX_UPLOAD_SIZE`, `UPLOAD_SECRET_KEY`, backup limits, archive limits.
    pub settings: Arc<Settings>,
    /// The serialized public plugin list.
    pub list_cache: Arc<ListCache>,
    /// The key backup owners' keys are hashed with ([`crate::store::backups::OwnerKey`]).
    pub backup_secret: Arc<SecretString>,
}

impl MicroDockState {
    /// The stored forms of a backup owner's key.
    pub fn owner_key(&self, user_key: &str) -> OwnerKey {
        OwnerKey::new(self.backup_secret.expose_secret().as_bytes(), user_key)
    }
}

/// The backup-key secret: `MICRODOCK_BACKUP_KEY_SECRET`; else HMAC-SHA256 of a fixed label
/// under `JWT_SECRET_KEY` (so it never equals the token-signing key); else one generated
/// on first start and kept in `<data dir>/microdock-backup-key.secret` (development).
///
/// # Errors
/// The generated file cannot be written.
pub fn backup_secret(settings: &Settings, data_dir: &Path) -> Result<SecretString, String> {
    if let Some(s) = &settings.backup_key_secret {
        return Ok(s.clone());
    }
    if let Some(jwt) = &settings.jwt_secret {
        let derived = OwnerKey::new(
            jwt.expose_secret().as_bytes(),
            "trellis microdock backup owner keys v1",
        );
        return Ok(SecretString::from(derived.hash));
    }
    let path = data_dir.join("microdock-backup-key.secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(SecretString::from(existing.trim().to_string()));
    }
    let fresh = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    std::fs::create_dir_all(data_dir)
        .and_then(|()| write_private(&path, &fresh))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    tracing::warn!(file = %path.display(), "MICRODOCK_BACKUP_KEY_SECRET and JWT_SECRET_KEY unset: backup keys hashed with a generated secret kept in the data directory");
    Ok(SecretString::from(fresh))
}

impl FromRef<MicroDockState> for Identity {
    fn from_ref(s: &MicroDockState) -> Identity {
        s.identity.clone()
    }
}

impl FromRef<MicroDockState> for Platform {
    fn from_ref(s: &MicroDockState) -> Platform {
        s.platform.clone()
    }
}

impl FromRef<MicroDockState> for Arc<Settings> {
    fn from_ref(s: &MicroDockState) -> Arc<Settings> {
        s.settings.clone()
    }
}

/// The serialized public list (no search, no paging), the request desktop clients repeat.
/// Any change through this instance invalidates it at once; a change made by another
/// instance sharing the database shows within `MAX_AGE`.
#[derive(Default)]
pub struct ListCache {
    generation: AtomicU64,
    slot: Mutex<Option<Cached>>,
}

/// One cached list body.
#[derive(Clone)]
pub struct Cached {
    /// The cache generation it was built in (stale once another change bumped it).
    pub generation: u64,
    /// When it was built.
    pub at: Instant,
    /// The serialized envelope.
    pub body: Bytes,
    /// Its strong ETag.
    pub etag: String,
}

const MAX_AGE: Duration = Duration::from_secs(2);

impl ListCache {
    /// Marks every cached body stale (after any change to plugins).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current generation; read it before building a body to put.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached body, if fresh.
    pub fn get(&self) -> Option<Cached> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|c| c.generation == self.generation() && c.at.elapsed() < MAX_AGE)
            .cloned()
    }

    /// Stores a body built in `c.generation`.
    pub fn put(&self, c: Cached) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }
}

/// Writes `contents` to a file only its owner can read (Unix mode 0600).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)?.write_all(contents.as_bytes())
}
