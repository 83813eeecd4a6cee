//! `plugins` and `plugin_versions` rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use semver::Version;
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};

/// The unique key of a version (`docs/DATABASE.md` naming rule): violated by a second upload
/// of the same version.
pub const VERSION_KEY: &str = "plugin_versions_plugin_name_version_key";

/// A plugin as clients see it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Plugin {
    /// Reverse-domain plugin id, e.g. `com.example.myplugin`; unique.
    pub name: String,
    /// Human-readable name from the newest manifest.
    pub display_name: Option<String>,
    /// Description from the newest manifest.
    pub description: Option<String>,
    /// Author from the newest manifest.
    pub author: Option<String>,
    /// License from the newest manifest.
    pub license: Option<String>,
    /// Homepage URL from the newest manifest.
    pub homepage: Option<String>,
    /// The manifest's `main`: entry DLL inside the package.
    pub main_dll: String,
    /// The manifest's `entryClass`: class the host instantiates.
    pub entry_class: String,
    /// The version clients should install: the highest non-deprecated, non-prerelease one
    /// (the highest overall when there is none).
    pub current_version: String,
    /// Disabled plugins are hidden from public listings and downloads.
    pub is_enabled: bool,
    /// Whether the whole plugin is deprecated.
    pub is_deprecated: bool,
    /// Why it was deprecated, if given.
    pub deprecation_message: Option<String>,
    /// Name of the plugin to use instead, if given.
    pub replacement: Option<String>,
    /// First upload (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change: upload, enable/disable, deprecation (UTC).
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Plugin`], as a literal so queries stay `&'static str`.
macro_rules! plugin_columns {
    () => {
        "name, display_name, description, author, license, homepage, main_dll, entry_class, \
         current_version, is_enabled, is_deprecated, deprecation_message, replacement, created_at, updated_at"
    };
}

/// A version as clients see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PluginVersion {
    /// The plugin this version belongs to.
    pub plugin_name: String,
    /// Semver 2.0 version; immutable once uploaded.
    pub version: String,
    /// Download file name, `<name>@<version>.zip`.
    pub file_name: String,
    /// Storage key relative to the plugin store, never a server path.
    pub file_path: String,
    /// Package size in bytes.
    pub file_size: i64,
    /// SHA-256 of the package, lower-case hex; verify downloads against it.
    pub file_hash: String,
    /// Changelog from this version's manifest.
    pub changelog: Option<String>,
    /// Required plugins: name -> version range (`>=`, `^`, `~`, `*` or exact).
    pub dependencies: BTreeMap<String, String>,
    /// Required host/engine versions: name -> version range.
    pub engines: BTreeMap<String, String>,
    /// Whether this version is deprecated (it is then not chosen as current).
    pub is_deprecated: bool,
    /// Why it was deprecated, if given.
    pub deprecation_message: Option<String>,
    /// Version (or plugin) to use instead, if given.
    pub replacement: Option<String>,
    /// Completed downloads of this version.
    pub download_count: i64,
    /// Upload time (UTC).
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    plugin_name: String,
    version: String,
    file_name: String,
    file_path: String,
    file_size: i64,
    file_hash: String,
    changelog: Option<String>,
    dependencies: String,
    engines: String,
    is_deprecated: bool,
    deprecation_message: Option<String>,
    replacement: Option<String>,
    download_count: i64,
    created_at: DateTime<Utc>,
}

impl From<VersionRow> for PluginVersion {
    fn from(r: VersionRow) -> Self {
        PluginVersion {
            plugin_name: r.plugin_name,
            version: r.version,
            file_name: r.file_name,
            file_path: r.file_path,
            file_size: r.file_size,
            file_hash: r.file_hash,
            changelog: r.changelog,
            // Written by this module from a BTreeMap, so it parses.
            dependencies: serde_json::from_str(&r.dependencies).unwrap_or_default(),
            engines: serde_json::from_str(&r.engines).unwrap_or_default(),
            is_deprecated: r.is_deprecated,
            deprecation_message: r.deprecation_message,
            replacement: r.replacement,
            download_count: r.download_count,
            created_at: r.created_at,
        }
    }
}

/// The columns of [`VersionRow`].
macro_rules! version_columns {
    () => {
        "plugin_name, version, file_name, file_path, file_size, file_hash, changelog, \
         dependencies, engines, is_deprecated, deprecation_message, replacement, download_count, created_at"
    };
}

/// Semver order, newest first; unparsable strings (none are stored) last.
pub fn sort_newest_first(versions: &mut [PluginVersion]) {
    versions.sort_by(
        |a, b| match (Version::parse(&a.version), Version::parse(&b.version)) {
            (Ok(x), Ok(y)) => y.cmp(&x),
            _ => b.version.cmp(&a.version),
        },
    );
}

/// The highest non-deprecated, non-prerelease version; the highest overall if there is none.
pub fn current_version(rows: &[(String, bool)]) -> Option<String> {
    let parsed: Vec<(Version, bool)> = rows
        .iter()
        .filter_map(|(v, d)| Version::parse(v).ok().map(|v| (v, *d)))
        .collect();
    parsed
        .iter()
        .filter(|(v, d)| !d && v.pre.is_empty())
        .map(|(v, _)| v)
        .max()
        .or_else(|| parsed.iter().map(|(v, _)| v).max())
        .map(Version::to_string)
}

/// The plugin-level fields one version's manifest sets; the plugin row shows those of its
/// current version (issue 7 item 6: derived, never "the last upload wins").
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub struct PluginFields {
    /// `displayName`.
    pub display_name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `homepage`.
    pub homepage: Option<String>,
    /// `main`.
    pub main_dll: String,
    /// `entryClass`.
    pub entry_class: String,
}

impl PluginFields {
    /// The fields of `p`.
    pub fn of(p: &Plugin) -> PluginFields {
        PluginFields {
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            author: p.author.clone(),
            license: p.license.clone(),
            homepage: p.homepage.clone(),
            main_dll: p.main_dll.clone(),
            entry_class: p.entry_class.clone(),
        }
    }
}

/// Recomputes `current_version` inside the caller's transaction, and copies the plugin-level
/// fields from that version's manifest (versions stored before migration 4003 carry none:
/// the plugin keeps its fields).
async fn recompute_current(tx: &mut Tx, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let rows: Vec<(String, bool, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT version, is_deprecated, plugin_fields FROM plugin_versions WHERE plugin_name = $1")
        .bind(name).fetch_all(&mut *c).await)?;
    let flags: Vec<(String, bool)> = rows.iter().map(|(v, d, _)| (v.clone(), *d)).collect();
    let Some(current) = current_version(&flags) else {
        return Ok(());
    };
    let fields: Option<PluginFields> = rows
        .iter()
        .find(|(v, _, _)| Version::parse(v).is_ok_and(|v| v.to_string() == current))
        .and_then(|(_, _, f)| f.as_deref())
        .and_then(|f| serde_json::from_str(f).ok());
    match fields {
        Some(f) => on_tx!(tx, c => sqlx::query(
            "UPDATE plugins SET current_version = $2, updated_at = $3, display_name = $4, description = $5, \
             author = $6, license = $7, homepage = $8, main_dll = $9, entry_class = $10 WHERE name = $1")
            .bind(name).bind(&current).bind(now).bind(&f.display_name).bind(&f.description).bind(&f.author)
            .bind(&f.license).bind(&f.homepage).bind(&f.main_dll).bind(&f.entry_class)
            .execute(&mut *c).await.map(|_| ()))?,
        None => {
            on_tx!(tx, c => sqlx::query("UPDATE plugins SET current_version = $2, updated_at = $3 WHERE name = $1")
            .bind(name).bind(&current).bind(now).execute(&mut *c).await.map(|_| ()))?
        }
    }
    Ok(())
}

/// One plugin (read through the writer, so a change committed a moment ago is seen).
pub async fn get(db: &Db, name: &str) -> Result<Option<Plugin>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as(concat!("SELECT ", plugin_columns!(), " FROM plugins WHERE name = $1"))
        .bind(name).fetch_optional(pool).await)?,
    )
}

/// The spelling a plugin is stored under, found by its canonical (ASCII lower-case) form.
pub async fn stored_name(db: &Db, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar("SELECT name FROM plugins WHERE LOWER(name) = LOWER($1)")
        .bind(name).fetch_optional(pool).await)?,
    )
}

/// The stored hash of a plugin's upload key.
pub async fn key_hash(db: &Db, name: &str) -> Result<Option<String>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar("SELECT upload_key_hash FROM plugins WHERE name = $1")
        .bind(name).fetch_optional(pool).await)?,
    )
}

/// Plugins by name; disabled ones only when `include_disabled`; `search` matches name,
/// display name or description (case-insensitive substring).
pub async fn list(
    db: &Db,
    include_disabled: bool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Plugin>, StoreError> {
    let pattern = search.map(|s| {
        let esc = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{esc}%")
    });
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", plugin_columns!(), " FROM plugins WHERE ($1 OR is_enabled) \
         AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE $2 ESCAPE '\\' \
              OR LOWER(COALESCE(description, '')) LIKE $2 ESCAPE '\\') \
         ORDER BY name LIMIT $3 OFFSET $4"))
        .bind(include_disabled).bind(&pattern).bind(limit).bind(offset)
        .fetch_all(pool).await)?,
    )
}

/// Every version of a plugin, newest first.
pub async fn versions(db: &Db, name: &str) -> Result<Vec<PluginVersion>, StoreError> {
    let rows: Vec<VersionRow> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", version_columns!(),
        " FROM plugin_versions WHERE plugin_name = $1"))
        .bind(name).fetch_all(pool).await)?;
    let mut out: Vec<PluginVersion> = rows.into_iter().map(Into::into).collect();
    sort_newest_first(&mut out);
    Ok(out)
}

/// One version.
pub async fn version(
    db: &Db,
    name: &str,
    version: &str,
) -> Result<Option<PluginVersion>, StoreError> {
    // `version` is canonical (no build metadata). Rows stored before issue 7 may still carry
    // it (`1.0.0+a`); they answer the canonical lookup too (semver characters are never LIKE
    // wildcards), the exact row first.
    let legacy = format!("{version}+%");
    let row: Option<VersionRow> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", version_columns!(),
        " FROM plugin_versions WHERE plugin_name = $1 AND (version = $2 OR version LIKE $3) \
         ORDER BY CASE WHEN version = $2 THEN 0 ELSE 1 END, version LIMIT 1"))
        .bind(name).bind(version).bind(&legacy).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// Everything a new release writes.
pub struct Release<'a> {
    /// The plugin's fields from the release's manifest.
    pub plugin: &'a Plugin,
    /// The hash of the uploader's key: stored when the plugin is new, else it must equal
    /// the stored one.
    pub key_hash: &'a str,
    /// The new version.
    pub version: &'a PluginVersion,
}

/// What [`publish`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    /// The version was added.
    Added,
    /// The plugin belongs to another key hash (returned; nothing was written): a concurrent
    /// first upload won the name, or the key was rotated meanwhile.
    KeyMismatch(String),
    /// Another plugin has this name in another case (returned; nothing was written).
    NameTaken(String),
}

/// Publishes a release in the caller's transaction. The plugin row is created only if the
/// name is free in any case (insert-or-nothing, `plugins_lower_name_key`), then the stored key hash is compared with the
/// uploader's inside the same transaction, so of two simultaneous first uploads exactly one
/// owns the name (issue 7 item 2). Then the immutable version is added (a second one is
/// [`StoreError::Constraint`] on [`VERSION_KEY`]) and the plugin's current version and fields
/// are derived again.
pub async fn publish(tx: &mut Tx, r: &Release<'_>) -> Result<Published, StoreError> {
    let p = r.plugin;
    let v = r.version;
    let deps =
        serde_json::to_string(&v.dependencies).map_err(|e| StoreError::Other(e.to_string()))?;
    let engines =
        serde_json::to_string(&v.engines).map_err(|e| StoreError::Other(e.to_string()))?;
    let fields = serde_json::to_string(&PluginFields::of(p))
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let stored = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO plugins (name, display_name, description, author, license, homepage, main_dll, entry_class, \
             current_version, is_enabled, is_deprecated, upload_key_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, FALSE, $10, $11, $11) \
             ON CONFLICT DO NOTHING")
            .bind(&p.name).bind(&p.display_name).bind(&p.description).bind(&p.author).bind(&p.license)
            .bind(&p.homepage).bind(&p.main_dll).bind(&p.entry_class).bind(&v.version).bind(r.key_hash)
            .bind(p.updated_at)
            .execute(&mut *c).await?;
        sqlx::query_as("SELECT name, upload_key_hash FROM plugins WHERE LOWER(name) = LOWER($1)")
            .bind(&p.name).fetch_one(&mut *c).await?
    });
    let (stored_name, stored): (String, String) = stored;
    if stored_name != p.name {
        return Ok(Published::NameTaken(stored_name));
    }
    if stored != r.key_hash {
        return Ok(Published::KeyMismatch(stored));
    }
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO plugin_versions (plugin_name, version, file_name, file_path, file_size, file_hash, changelog, \
             dependencies, engines, is_deprecated, download_count, created_at, plugin_fields) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, 0, $10, $11)")
            .bind(&v.plugin_name).bind(&v.version).bind(&v.file_name).bind(&v.file_path).bind(v.file_size)
            .bind(&v.file_hash).bind(&v.changelog).bind(&deps).bind(&engines).bind(v.created_at).bind(&fields)
            .execute(&mut *c).await?;
    });
    recompute_current(tx, &p.name, p.updated_at).await?;
    Ok(Published::Added)
}

/// Sets `is_enabled`; `false` if the plugin does not exist.
pub async fn set_enabled(
    tx: &mut Tx,
    name: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE plugins SET is_enabled = $2, updated_at = $3 WHERE name = $1")
        .bind(name).bind(enabled).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deprecation state: `Some((message, replacement))` deprecates, `None` reverses it.
pub type Deprecation<'a> = Option<(Option<&'a str>, Option<&'a str>)>;

/// Deprecates (or restores) a plugin; `false` if it does not exist.
pub async fn set_deprecated(
    tx: &mut Tx,
    name: &str,
    dep: Deprecation<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (flag, msg, repl) = match dep {
        Some((m, r)) => (true, m, r),
        None => (false, None, None),
    };
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE plugins SET is_deprecated = $2, deprecation_message = $3, replacement = $4, updated_at = $5 WHERE name = $1")
        .bind(name).bind(flag).bind(msg).bind(repl).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deprecates (or restores) one version and recomputes the plugin's current version;
/// `false` if the version does not exist.
pub async fn set_version_deprecated(
    tx: &mut Tx,
    name: &str,
    version: &str,
    dep: Deprecation<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (flag, msg, repl) = match dep {
        Some((m, r)) => (true, m, r),
        None => (false, None, None),
    };
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE plugin_versions SET is_deprecated = $3, deprecation_message = $4, replacement = $5 \
         WHERE plugin_name = $1 AND version = $2")
        .bind(name).bind(version).bind(flag).bind(msg).bind(repl)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    recompute_current(tx, name, now).await?;
    Ok(n > 0)
}

/// Deletes a plugin and (by cascade) its versions and counters.
pub async fn delete(tx: &mut Tx, name: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM plugins WHERE name = $1").bind(name).execute(&mut *c).await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Replaces the upload key's hash; `false` if the plugin does not exist.
pub async fn set_key_hash(
    tx: &mut Tx,
    name: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE plugins SET upload_key_hash = $2, updated_at = $3 WHERE name = $1")
        .bind(name).bind(hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Counts one completed download (a single atomic increment, so it needs no caller
/// transaction).
pub async fn count_download(db: &Db, name: &str, version: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "UPDATE plugin_versions SET download_count = download_count + 1 WHERE plugin_name = $1 AND version = $2")
        .bind(name).bind(version).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Every stored version's `file_path`, for reconciling the blob store at start-up.
pub async fn all_file_paths(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar("SELECT file_path FROM plugin_versions")
        .fetch_all(pool).await)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[(&str, bool)]) -> Vec<(String, bool)> {
        v.iter().map(|(s, d)| (s.to_string(), *d)).collect()
    }

    #[test]
    fn current_version_rules() {
        assert_eq!(
            current_version(&rows(&[
                ("1.0.0", false),
                ("1.10.0", false),
                ("1.9.0", false)
            ]))
            .unwrap(),
            "1.10.0"
        );
        assert_eq!(
            current_version(&rows(&[("1.0.0", false), ("2.0.0-beta.1", false)])).unwrap(),
            "1.0.0"
        );
        assert_eq!(
            current_version(&rows(&[("1.0.0", false), ("1.1.0", true)])).unwrap(),
            "1.0.0"
        );
        assert_eq!(
            current_version(&rows(&[("1.0.0", true), ("2.0.0-rc.1", false)])).unwrap(),
            "2.0.0-rc.1"
        );
        assert_eq!(current_version(&rows(&[])), None);
    }
}
