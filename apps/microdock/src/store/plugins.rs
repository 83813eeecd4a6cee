//! `plugins` and `plugin_versions` rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use semver::Version;
use serde::Serialize;
use trellis_kernel::db::Db;
use trellis_kernel::{ApiError, on_db, on_db_read};

use crate::error;

/// A plugin as clients see it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Plugin {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub license: Option<String>,
    pub homepage: Option<String>,
    pub main_dll: String,
    pub entry_class: String,
    pub current_version: String,
    pub is_enabled: bool,
    pub is_deprecated: bool,
    pub deprecation_message: Option<String>,
    pub replacement: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const PLUGIN_COLUMNS: &str = "name, display_name, description, author, license, homepage, main_dll, entry_class, \
    current_version, is_enabled, is_deprecated, deprecation_message, replacement, created_at, updated_at";

/// A version as clients see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PluginVersion {
    pub plugin_name: String,
    pub version: String,
    pub file_name: String,
    /// Storage key relative to the plugin store, never a server path.
    pub file_path: String,
    pub file_size: i64,
    pub file_hash: String,
    pub changelog: Option<String>,
    pub dependencies: BTreeMap<String, String>,
    pub engines: BTreeMap<String, String>,
    pub is_deprecated: bool,
    pub deprecation_message: Option<String>,
    pub replacement: Option<String>,
    pub download_count: i64,
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

const VERSION_COLUMNS: &str = "plugin_name, version, file_name, file_path, file_size, file_hash, changelog, \
    dependencies, engines, is_deprecated, deprecation_message, replacement, download_count, created_at";

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

/// Recomputes `current_version` inside the caller's transaction.
macro_rules! recompute_current {
    ($tx:ident, $name:expr, $now:expr) => {{
        let rows: Vec<(String, bool)> = sqlx::query_as(
            "SELECT version, is_deprecated FROM plugin_versions WHERE plugin_name = $1",
        )
        .bind($name)
        .fetch_all(&mut *$tx)
        .await?;
        if let Some(current) = current_version(&rows) {
            sqlx::query("UPDATE plugins SET current_version = $2, updated_at = $3 WHERE name = $1")
                .bind($name)
                .bind(current)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

pub async fn get(db: &Db, name: &str) -> Result<Option<Plugin>, ApiError> {
    let sql = format!("SELECT {PLUGIN_COLUMNS} FROM plugins WHERE name = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?)
}

/// The stored hash of a plugin's upload key.
pub async fn key_hash(db: &Db, name: &str) -> Result<Option<String>, ApiError> {
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
) -> Result<Vec<Plugin>, ApiError> {
    let pattern = search.map(|s| {
        let esc = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{esc}%")
    });
    let sql = format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugins WHERE ($1 OR is_enabled) \
         AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE $2 ESCAPE '\\' \
              OR LOWER(COALESCE(description, '')) LIKE $2 ESCAPE '\\') \
         ORDER BY name LIMIT $3 OFFSET $4"
    );
    Ok(
        on_db_read!(db, pool => sqlx::query_as(&sql).bind(include_disabled).bind(&pattern).bind(limit).bind(offset)
        .fetch_all(pool).await)?,
    )
}

pub async fn versions(db: &Db, name: &str) -> Result<Vec<PluginVersion>, ApiError> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE plugin_name = $1");
    let rows: Vec<VersionRow> =
        on_db!(db, pool => sqlx::query_as(&sql).bind(name).fetch_all(pool).await)?;
    let mut out: Vec<PluginVersion> = rows.into_iter().map(Into::into).collect();
    sort_newest_first(&mut out);
    Ok(out)
}

pub async fn version(
    db: &Db,
    name: &str,
    version: &str,
) -> Result<Option<PluginVersion>, ApiError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE plugin_name = $1 AND version = $2"
    );
    let row: Option<VersionRow> = on_db!(db, pool => sqlx::query_as(&sql).bind(name).bind(version).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// Everything a new release writes.
pub struct Release<'a> {
    pub plugin: &'a Plugin,
    /// Set only when the plugin is new.
    pub key_hash: &'a str,
    pub version: &'a PluginVersion,
}

/// Publishes a release in one transaction: creates the plugin or refreshes its display
/// fields from the newest manifest, adds the immutable version (409 if it exists) and
/// recomputes the current version.
pub async fn publish(db: &Db, r: &Release<'_>) -> Result<(), ApiError> {
    let p = r.plugin;
    let v = r.version;
    let deps = serde_json::to_string(&v.dependencies).map_err(ApiError::internal)?;
    let engines = serde_json::to_string(&v.engines).map_err(ApiError::internal)?;
    let result: Result<(), sqlx::Error> = on_db!(db, pool => async {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO plugins (name, display_name, description, author, license, homepage, main_dll, entry_class, \
             current_version, is_enabled, is_deprecated, upload_key_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, FALSE, $10, $11, $11) \
             ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name, description = excluded.description, \
             author = excluded.author, license = excluded.license, homepage = excluded.homepage, \
             main_dll = excluded.main_dll, entry_class = excluded.entry_class, updated_at = excluded.updated_at")
            .bind(&p.name).bind(&p.display_name).bind(&p.description).bind(&p.author).bind(&p.license)
            .bind(&p.homepage).bind(&p.main_dll).bind(&p.entry_class).bind(&v.version).bind(r.key_hash)
            .bind(p.updated_at)
            .execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO plugin_versions (plugin_name, version, file_name, file_path, file_size, file_hash, changelog, \
             dependencies, engines, is_deprecated, download_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, 0, $10)")
            .bind(&v.plugin_name).bind(&v.version).bind(&v.file_name).bind(&v.file_path).bind(v.file_size)
            .bind(&v.file_hash).bind(&v.changelog).bind(&deps).bind(&engines).bind(v.created_at)
            .execute(&mut *tx).await?;
        recompute_current!(tx, &p.name, p.updated_at);
        tx.commit().await
    }.await);
    match result {
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            Err(error::version_exists(&v.version))
        }
        other => Ok(other?),
    }
}

/// Sets `is_enabled`; `None` if the plugin does not exist.
pub async fn set_enabled(
    db: &Db,
    name: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<Option<Plugin>, ApiError> {
    let n = on_db!(db, pool => sqlx::query("UPDATE plugins SET is_enabled = $2, updated_at = $3 WHERE name = $1")
        .bind(name).bind(enabled).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        Ok(None)
    } else {
        get(db, name).await
    }
}

/// Deprecation state: `Some((message, replacement))` deprecates, `None` reverses it.
pub type Deprecation<'a> = Option<(Option<&'a str>, Option<&'a str>)>;

pub async fn set_deprecated(
    db: &Db,
    name: &str,
    dep: Deprecation<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Plugin>, ApiError> {
    let (flag, msg, repl) = match dep {
        Some((m, r)) => (true, m, r),
        None => (false, None, None),
    };
    let n = on_db!(db, pool => sqlx::query(
        "UPDATE plugins SET is_deprecated = $2, deprecation_message = $3, replacement = $4, updated_at = $5 WHERE name = $1")
        .bind(name).bind(flag).bind(msg).bind(repl).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        Ok(None)
    } else {
        get(db, name).await
    }
}

/// Deprecates (or restores) one version and recomputes the plugin's current version.
pub async fn set_version_deprecated(
    db: &Db,
    name: &str,
    version: &str,
    dep: Deprecation<'_>,
    now: DateTime<Utc>,
) -> Result<Option<PluginVersion>, ApiError> {
    let (flag, msg, repl) = match dep {
        Some((m, r)) => (true, m, r),
        None => (false, None, None),
    };
    let n: u64 = on_db!(db, pool => async {
        let mut tx = pool.begin().await?;
        let n = sqlx::query(
            "UPDATE plugin_versions SET is_deprecated = $3, deprecation_message = $4, replacement = $5 \
             WHERE plugin_name = $1 AND version = $2")
            .bind(name).bind(version).bind(flag).bind(msg).bind(repl)
            .execute(&mut *tx).await?.rows_affected();
        recompute_current!(tx, name, now);
        tx.commit().await?;
        Ok::<u64, sqlx::Error>(n)
    }.await)?;
    if n == 0 {
        Ok(None)
    } else {
        self::version(db, name, version).await
    }
}

/// Deletes a plugin and (by cascade) its versions and counters.
pub async fn delete(db: &Db, name: &str) -> Result<bool, ApiError> {
    let n = on_db!(db, pool => sqlx::query("DELETE FROM plugins WHERE name = $1").bind(name).execute(pool).await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn set_key_hash(
    db: &Db,
    name: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let n = on_db!(db, pool => sqlx::query("UPDATE plugins SET upload_key_hash = $2, updated_at = $3 WHERE name = $1")
        .bind(name).bind(hash).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Counts one completed download.
pub async fn count_download(db: &Db, name: &str, version: &str) -> Result<(), ApiError> {
    on_db!(db, pool => sqlx::query(
        "UPDATE plugin_versions SET download_count = download_count + 1 WHERE plugin_name = $1 AND version = $2")
        .bind(name).bind(version).execute(pool).await.map(|_| ()))?;
    Ok(())
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
