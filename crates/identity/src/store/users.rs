//! `users` rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::{Role, UserStatus};

/// An account as clients see it (never the password hash).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Account id (UUIDv7).
    pub id: Uuid,
    /// Username as registered (3–50 of `[A-Za-z0-9_]`, unique ignoring case).
    pub username: String,
    /// Email address, lower-cased; unique.
    pub email: String,
    /// Whether the account may sign in; only `active` may.
    pub status: UserStatus,
    /// What the account may administer.
    pub role: Role,
    /// Name to show instead of the username (at most 100 characters).
    pub display_name: Option<String>,
    /// http(s) URL of a profile picture (at most 500 characters).
    pub avatar_url: Option<String>,
    /// Free text about the user (at most 500 characters).
    pub bio: Option<String>,
    /// Preferred time zone as the client sent it, e.g. an IANA name (at most 64 characters).
    pub timezone: Option<String>,
    /// Preferred language as the client sent it, e.g. a BCP 47 tag (at most 16 characters).
    pub language: Option<String>,
    /// Last successful sign-in (UTC); null if never.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Registration time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change to the account (UTC).
    pub updated_at: DateTime<Utc>,
}

/// An account with what only the server may see.
#[derive(Clone, Debug)]
pub struct UserRecord {
    /// The client-visible part.
    pub user: User,
    /// Argon2 PHC string (or a legacy bcrypt hash, re-hashed at the next sign-in).
    pub password_hash: String,
    /// Consecutive failed logins; reset by a successful one.
    pub failed_logins: i32,
    /// Sign-in refused until this time, after too many failures.
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    username: String,
    email: String,
    password_hash: String,
    status: String,
    role: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
    bio: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
    failed_logins: i32,
    locked_until: Option<DateTime<Utc>>,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for UserRecord {
    fn from(r: Row) -> Self {
        UserRecord {
            user: User {
                id: r.id,
                username: r.username,
                email: r.email,
                // The CHECK constraints guarantee known values.
                status: UserStatus::parse(&r.status).unwrap_or(UserStatus::Inactive),
                role: Role::parse(&r.role).unwrap_or(Role::User),
                display_name: r.display_name,
                avatar_url: r.avatar_url,
                bio: r.bio,
                timezone: r.timezone,
                language: r.language,
                last_login_at: r.last_login_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            password_hash: r.password_hash,
            failed_logins: r.failed_logins,
            locked_until: r.locked_until,
        }
    }
}

/// The columns of [`Row`], as a literal so queries stay `&'static str` (sqlx's `SqlSafeStr`).
macro_rules! columns {
    () => {
        "id, username, email, password_hash, status, role, display_name, avatar_url, bio, \
         timezone, language, failed_logins, locked_until, last_login_at, created_at, updated_at"
    };
}

/// A new account.
pub struct NewUser<'a> {
    /// Account id (UUIDv7, so id order is creation order).
    pub id: Uuid,
    /// Username as spelled.
    pub username: &'a str,
    /// Lower-cased username, the uniqueness key ([`USERNAME_KEY`]).
    pub username_key: &'a str,
    /// Normalized email ([`EMAIL_KEY`]).
    pub email: &'a str,
    /// Password hash (PHC string).
    pub password_hash: &'a str,
    /// Initial status.
    pub status: UserStatus,
    /// Initial role.
    pub role: Role,
    /// Creation time, also the first `updated_at`.
    pub now: DateTime<Utc>,
}

/// The unique constraints a new account can violate (`docs/DATABASE.md` naming rule).
pub const USERNAME_KEY: &str = "users_username_key_key";
/// See [`USERNAME_KEY`].
pub const EMAIL_KEY: &str = "users_email_key";

/// Inserts an account; a taken name or e-mail is [`StoreError::Constraint`] naming
/// [`USERNAME_KEY`] or [`EMAIL_KEY`].
pub async fn insert(tx: &mut Tx, u: &NewUser<'_>) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO users (id, username, username_key, email, password_hash, status, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
        .bind(u.id).bind(u.username).bind(u.username_key).bind(u.email).bind(u.password_hash)
        .bind(u.status.as_str()).bind(u.role.as_str()).bind(u.now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The account with `id`.
pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
        .bind(id).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// The account whose canonical username is `key`.
pub async fn by_username_key(db: &Db, key: &str) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM users WHERE username_key = $1"))
        .bind(key).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// The account with this (lower-cased) e-mail.
pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM users WHERE email = $1"))
        .bind(email).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// Whether an account has the canonical (lower-cased) username `key`.
pub async fn username_exists(db: &Db, key: &str) -> Result<bool, StoreError> {
    let n: i64 = on_db_read!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username_key = $1").bind(key).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// Whether an account has this (lower-cased) e-mail.
pub async fn email_exists(db: &Db, email: &str) -> Result<bool, StoreError> {
    let n: i64 = on_db_read!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1").bind(email).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// Replaces the password hash (the caller revokes sessions as needed).
pub async fn set_password(
    tx: &mut Tx,
    id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets or clears (`None`) the login lock; `reset_count` also zeroes the failure count.
pub async fn lock_until(
    tx: &mut Tx,
    id: Uuid,
    until: Option<DateTime<Utc>>,
    reset_count: bool,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET locked_until = $2, failed_logins = CASE WHEN $3 THEN 0 ELSE failed_logins END WHERE id = $1")
        .bind(id).bind(until).bind(reset_count).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Profile fields; `None` leaves a field unchanged.
#[derive(Default)]
pub struct ProfilePatch {
    /// New display name (at most 100 characters).
    pub display_name: Option<String>,
    /// New avatar URL, http(s) (at most 500 characters).
    pub avatar_url: Option<String>,
    /// New bio (at most 500 characters).
    pub bio: Option<String>,
    /// New time zone (at most 64 characters).
    pub timezone: Option<String>,
    /// New language (at most 16 characters).
    pub language: Option<String>,
}

/// Applies the set fields of `p` (limits are checked by the caller) and stamps `updated_at`.
pub async fn update_profile(
    tx: &mut Tx,
    id: Uuid,
    p: &ProfilePatch,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET display_name = COALESCE($2, display_name), avatar_url = COALESCE($3, avatar_url), \
         bio = COALESCE($4, bio), timezone = COALESCE($5, timezone), language = COALESCE($6, language), \
         updated_at = $7 WHERE id = $1")
        .bind(id).bind(&p.display_name).bind(&p.avatar_url).bind(&p.bio).bind(&p.timezone).bind(&p.language).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets a new username (display form and lower-cased key) and/or e-mail; absent ones stay.
pub async fn rename(
    tx: &mut Tx,
    id: Uuid,
    username: Option<(&str, String)>,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (name, key) = match username {
        Some((n, k)) => (Some(n), Some(k)),
        None => (None, None),
    };
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET username = COALESCE($2, username), username_key = COALESCE($3, username_key), \
         email = COALESCE($4, email), updated_at = $5 WHERE id = $1")
        .bind(id).bind(name).bind(key).bind(email).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Returns whether the user existed.
pub async fn set_status(
    tx: &mut Tx,
    id: Uuid,
    status: UserStatus,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = on_tx!(tx, c => sqlx::query("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(status.as_str()).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Changes the role; returns whether the user existed.
pub async fn set_role(
    tx: &mut Tx,
    id: Uuid,
    role: Role,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = on_tx!(tx, c => sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(role.as_str()).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Deletes the account; sessions and refresh tokens go with it (ON DELETE CASCADE).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let r = on_tx!(tx, c => sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Filters for the admin list.
#[derive(Default)]
pub struct ListFilter {
    /// Only accounts with this status.
    pub status: Option<UserStatus>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Substring of username or email.
    pub search: Option<String>,
}

/// One page of users, newest first (ids are UUID v7, so id order is creation order).
pub async fn list(
    db: &Db,
    f: &ListFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), StoreError> {
    let search = f.search.as_ref().map(|s| {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let status = f.status.map(|s| s.as_str());
    let role = f.role.map(|r| r.as_str());
    macro_rules! filter {
        () => {
            "WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR role = $2) \
             AND ($3 IS NULL OR username_key LIKE $3 ESCAPE '\\' OR email LIKE $3 ESCAPE '\\')"
        };
    }
    let (rows, total): (Vec<Row>, i64) = on_db_read!(db, pool => {
        let rows = sqlx::query_as(concat!("SELECT ", columns!(), " FROM users ", filter!(), " ORDER BY id DESC LIMIT $4 OFFSET $5")).bind(status).bind(role).bind(&search).bind(limit).bind(offset)
            .fetch_all(pool).await?;
        let total = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM users ", filter!())).bind(status).bind(role).bind(&search).fetch_one(pool).await?;
        (rows, total)
    });
    Ok((
        rows.into_iter().map(|r| UserRecord::from(r).user).collect(),
        total,
    ))
}
