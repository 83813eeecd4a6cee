//! `sessions` and `refresh_tokens` rows. A session is one login on one device; its refresh
//! token rotates on every use and only the SHA-256 of each token is stored.

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};
use uuid::Uuid;

/// A session row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The columns of [`Session`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, user_id, ip, user_agent, created_at, last_used_at, expires_at, revoked_at"
    };
}

/// Inserts a refresh token and slides its session's expiry.
async fn insert_token(
    tx: &mut Tx,
    session_id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(hash).bind(session_id).bind(now).execute(&mut *c).await?;
        sqlx::query("UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1")
            .bind(session_id).bind(now).bind(expires).execute(&mut *c).await?;
    });
    Ok(())
}

/// Records a successful login: clears the failure count and stamps the login time, and
/// creates the session with its first refresh token (the caller writes the audit row in the
/// same transaction).
pub async fn open(tx: &mut Tx, s: &Session, token_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1")
            .bind(s.user_id).bind(s.created_at).execute(&mut *c).await?;
        sqlx::query("INSERT INTO sessions (id, user_id, ip, user_agent, created_at, last_used_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6)")
            .bind(s.id).bind(s.user_id).bind(&s.ip).bind(&s.user_agent).bind(s.created_at).bind(s.expires_at)
            .execute(&mut *c).await?;
    });
    insert_token(tx, s.id, token_hash, s.created_at, s.expires_at).await
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Session>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1"))
        .bind(id).fetch_optional(pool).await)?,
    )
}

/// A refresh token looked up by hash: its session and when it was spent, if it was.
pub struct RefreshLookup {
    pub session: Session,
    pub used_at: Option<DateTime<Utc>>,
}

pub async fn find_refresh(db: &Db, token_hash: &str) -> Result<Option<RefreshLookup>, StoreError> {
    let found: Option<(Uuid, Option<DateTime<Utc>>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash).fetch_optional(pool).await)?;
    let Some((sid, used_at)) = found else {
        return Ok(None);
    };
    // Read through the writer: a rotation committed a moment ago must be visible.
    let session: Option<Session> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1"))
        .bind(sid).fetch_optional(pool).await)?;
    Ok(session.map(|session| RefreshLookup { session, used_at }))
}

/// Spends `old_hash` and issues `new_hash`. Returns `false` (and writes nothing) when
/// `old_hash` was already spent by a concurrent request.
pub async fn rotate(
    tx: &mut Tx,
    session_id: Uuid,
    old_hash: &str,
    new_hash: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let spent = on_tx!(tx, c => sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(old_hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if spent != 1 {
        return Ok(false);
    }
    insert_token(tx, session_id, new_hash, now, expires).await?;
    Ok(true)
}

/// Issues another token on a session (the concurrent-refresh grace path).
pub async fn add_token(
    tx: &mut Tx,
    session_id: Uuid,
    new_hash: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_token(tx, session_id, new_hash, now, expires).await
}

/// Revokes one session of `user_id`; returns whether it existed and was live.
pub async fn revoke(
    tx: &mut Tx,
    user_id: Uuid,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = on_tx!(tx, c => sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
        .bind(id).bind(user_id).bind(now).bind(reason).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(r > 0)
}

/// Revokes every live session of `user_id` except `keep`; returns the revoked ids.
pub async fn revoke_all(
    tx: &mut Tx,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<Uuid> = on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2) RETURNING id")
        .bind(user_id).bind(keep).bind(now).bind(reason).fetch_all(&mut *c).await)?;
    Ok(ids)
}

/// Sessions not revoked, newest first (expired ones are filtered by the caller's clock).
pub async fn list_unrevoked(db: &Db, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC"))
        .bind(user_id).fetch_all(pool).await)?,
    )
}
