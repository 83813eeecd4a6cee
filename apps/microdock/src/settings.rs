//! MicroDock's own settings (names from the seed, defaults that match it).

use std::collections::HashMap;

use secrecy::SecretString;
use trellis_kernel::config::Reader;

/// Zip-bomb and zip-slip limits for uploaded plugins.
#[derive(Clone, Debug)]
pub struct ZipLimits {
    /// Most entries an archive may list (`MICRODOCK_ZIP_MAX_ENTRIES`, default 10 000).
    pub max_entries: usize,
    /// Most bytes all entries may expand to together (`MICRODOCK_ZIP_MAX_UNCOMPRESSED`,
    /// default 1 GiB).
    pub max_total_uncompressed: u64,
    /// Entries at least this large (uncompressed) must not compress better than `max_ratio`
    /// (`MICRODOCK_ZIP_RATIO_MIN_SIZE`, bytes, default 1 MiB).
    pub ratio_min_size: u64,
    /// Largest uncompressed/compressed size ratio for such entries
    /// (`MICRODOCK_ZIP_MAX_RATIO`, default 100).
    pub max_ratio: u64,
    /// `plugin.json` is read at most this far, in bytes (1 MiB; not configurable).
    pub max_manifest: u64,
}

/// MicroDock's settings, read with the kernel's [`Reader`] so problems are reported beside the
/// kernel's.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lifetime in minutes of the admin token issued by `/api/auth/login`
    /// (`JWT_EXPIRE_MINUTES`, default 1440).
    pub jwt_expire_minutes: i64,
    /// Largest plugin or backup file in bytes, enforced while the body streams
    /// (`MAX_UPLOAD_SIZE`, default 100 MiB).
    pub max_upload_size: u64,
    /// When set (`UPLOAD_SECRET_KEY`), uploads must carry it as `upload_secret`.
    pub upload_secret: Option<SecretString>,
    /// Keep only the newest N backups per user and type (`BACKUP_MAX_PER_USER`; 0 or unset:
    /// keep all).
    pub backup_max_per_user: Option<u32>,
    /// Total bytes of backups per user (`BACKUP_QUOTA_BYTES`; 0 or unset: unlimited); more
    /// answers 507.
    pub backup_quota_bytes: Option<u64>,
    /// Total bytes of all backups together (`BACKUP_TOTAL_BYTES`, default 20 GiB; 0:
    /// unlimited); more answers 507 `backup_storage_full`.
    pub backup_total_bytes: Option<u64>,
    /// Limits checked on every uploaded plugin archive.
    pub zip: ZipLimits,
    /// Stored files with no row are removed at start-up once older than this
    /// (`MICRODOCK_ORPHAN_GRACE_SECONDS`, default 3600), see [`crate::service::reconcile`].
    pub orphan_grace_seconds: u64,
    /// The secret backup owners' keys are hashed with (`MICRODOCK_BACKUP_KEY_SECRET`). Unset:
    /// derived from `JWT_SECRET_KEY`, else generated once in the data directory. Set it
    /// explicitly where the JWT secret may be rotated: changing it makes existing backups
    /// unreachable by their keys.
    pub backup_key_secret: Option<SecretString>,
    /// `JWT_SECRET_KEY` (alias `JWT_SECRET`), the fallback for `backup_key_secret`.
    pub jwt_secret: Option<SecretString>,
}

impl Settings {
    /// Reads the settings from `vars`; the error lists one message per bad variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, Vec<String>> {
        let mut r = Reader::new(vars);
        let jwt_expire_minutes = r.parse(
            &["JWT_EXPIRE_MINUTES"],
            1440i64,
            "a whole number of minutes",
        );
        if jwt_expire_minutes <= 0 {
            r.errors.push("JWT_EXPIRE_MINUTES must be positive".into());
        }
        let max_upload_size = r.parse(
            &["MAX_UPLOAD_SIZE"],
            100 * 1024 * 1024u64,
            "a size in bytes",
        );
        let upload_secret = r
            .raw(&["UPLOAD_SECRET_KEY"])
            .map(|(_, v)| SecretString::from(v));
        // Defaults that keep anonymous backups from filling the disk (issue 7, item 9); 0
        // turns a limit off.
        let per_user: u32 = r.parse(&["BACKUP_MAX_PER_USER"], 20, "a whole number");
        let quota: u64 = r.parse(
            &["BACKUP_QUOTA_BYTES"],
            1024 * 1024 * 1024,
            "a size in bytes",
        );
        let total: u64 = r.parse(
            &["BACKUP_TOTAL_BYTES"],
            20 * 1024 * 1024 * 1024,
            "a size in bytes",
        );
        let zip = ZipLimits {
            max_entries: r.parse(
                &["MICRODOCK_ZIP_MAX_ENTRIES"],
                10_000usize,
                "a whole number",
            ),
            max_total_uncompressed: r.parse(
                &["MICRODOCK_ZIP_MAX_UNCOMPRESSED"],
                1024 * 1024 * 1024u64,
                "a size in bytes",
            ),
            ratio_min_size: r.parse(
                &["MICRODOCK_ZIP_RATIO_MIN_SIZE"],
                1024 * 1024u64,
                "a size in bytes",
            ),
            max_ratio: r.parse(&["MICRODOCK_ZIP_MAX_RATIO"], 100u64, "a whole number"),
            max_manifest: 1024 * 1024,
        };
        let orphan_grace_seconds = r.parse(
            &["MICRODOCK_ORPHAN_GRACE_SECONDS"],
            3600u64,
            "a whole number of seconds",
        );
        let backup_key_secret = r
            .raw(&["MICRODOCK_BACKUP_KEY_SECRET"])
            .map(|(_, v)| SecretString::from(v));
        let jwt_secret = r
            .raw(&["JWT_SECRET_KEY", "JWT_SECRET"])
            .map(|(_, v)| SecretString::from(v));
        if !r.errors.is_empty() {
            return Err(r.errors);
        }
        Ok(Settings {
            orphan_grace_seconds,
            jwt_expire_minutes,
            max_upload_size,
            upload_secret,
            backup_max_per_user: (per_user > 0).then_some(per_user),
            backup_quota_bytes: (quota > 0).then_some(quota),
            backup_total_bytes: (total > 0).then_some(total),
            zip,
            backup_key_secret,
            jwt_secret,
        })
    }
}
