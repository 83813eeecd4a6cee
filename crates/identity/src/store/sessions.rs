//! `sessions` and `refresh_tokens` rows. A session is one login on one device; its refresh
//! token rotates on every use and only the SHA-256 of each token is stored.

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};
use uuid::Uuid;

/// A session row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    /// Session id; access tokens carry it as `sid`.
    pub id: Uuid,
    /// The signed-in user.
    pub user_id: Uuid,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Sign-in or latest refresh.
    pub last_used_at: DateTime<Utc>,
    /// End of the session unless refreshed first; every refresh slides it.
    pub expires_at: DateTime<Utc>,
    /// When it was signed out or revoked; `None` while open.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The API its access tokens are for (their `aud`, see [`crate::tokens::AUD_API`]).
    pub audience: String,
}

impl Session {
    /// Not revoked and not expired at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The columns of [`Session`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, user_id, ip, user_agent, created_at, last_used_at, expires_at, revoked_at, audience"
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

/// Records a successful login: clears the failure count of its `source` and stamps
/// the login time, and
/// creates the session with its first refresh token (the caller writes the audit row in the
/// same transaction).
pub async fn open(
    tx: &mut Tx,
    s: &Session,
    token_hash: &str,
    source: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1")
            .bind(s.user_id).bind(s.created_at).execute(&mut *c).await?;
        // Success from this source clears its failures (other sources keep theirs).
        sqlx::query("DELETE FROM login_attempts WHERE user_id = $1 AND source = $2")
            .bind(s.user_id).bind(source).execute(&mut *c).await?;
        sqlx::query("INSERT INTO sessions (id, user_id, ip, user_agent, created_at, last_used_at, expires_at, audience) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6, $7)")
            .bind(s.id).bind(s.user_id).bind(&s.ip).bind(&s.user_agent).bind(s.created_at).bind(s.expires_at).bind(&s.audience)
            .execute(&mut *c).await?;
    });
    insert_token(tx, s.id, token_hash, s.created_at, s.expires_at).await
}

/// The session with `id`, live or not (read from a reader connection).
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Session>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1"))
        .bind(id).fetch_optional(pool).await)?,
    )
}

/// A refresh token looked up by hash: its session and when it was spent, if it was.
pub struct RefreshLookup {
    /// The session the token was issued for.
    pub session: Session,
    /// When the token was rotated away; `Some` means it is spent.
    pub used_at: Option<DateTime<Utc>>,
    /// The hash of the token that replaced it, once spent by a rotation (`None` for tokens
    /// spent before successors were recorded).
    pub successor_hash: Option<String>,
}

/// What an access token's holder may do now: its session's revocation and its user's
/// current role and status (issue 7 item 1: authority comes from current data, not from the
/// token's claims).
#[derive(Clone, Debug)]
pub struct Authority {
    /// The session's user.
    pub user_id: Uuid,
    /// Whether the session was signed out or revoked.
    pub revoked: bool,
    /// The user's current role, as stored (`user`, `admin`, `super_admin`).
    pub role: String,
    /// The user's current status, as stored.
    pub status: String,
}

/// The session `id` joined with its user; `None` when the session (or its user) no longer
/// exists. Read from a reader connection (every authenticated request runs it, so it must not
/// queue behind SQLite's single writer); in WAL mode each read starts from the latest commit,
/// so a revocation committed before it is seen.
pub async fn authority(db: &Db, id: Uuid) -> Result<Option<Authority>, StoreError> {
    let row: Option<(Uuid, Option<DateTime<Utc>>, String, String)> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT s.user_id, s.revoked_at, u.role, u.status FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1")
        .bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|(user_id, revoked_at, role, status)| Authority {
        user_id,
        revoked: revoked_at.is_some(),
        role,
        status,
    }))
}

/// The token with SHA-256 hex `token_hash` and its session, read through the writer so a
/// rotation committed a moment ago is seen; `None` for an unknown token.
pub async fn find_refresh(db: &Db, token_hash: &str) -> Result<Option<RefreshLookup>, StoreError> {
    let found: Option<(Uuid, Option<DateTime<Utc>>, Option<String>)> = on_db!(db, pool => sqlx::query_as(
        "SELECT session_id, used_at, successor_hash FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash).fetch_optional(pool).await)?;
    let Some((sid, used_at, successor_hash)) = found else {
        return Ok(None);
    };
    // Read through the writer: a rotation committed a moment ago must be visible.
    let session: Option<Session> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1"))
        .bind(sid).fetch_optional(pool).await)?;
    Ok(session.map(|session| RefreshLookup {
        session,
        used_at,
        successor_hash,
    }))
}

/// Spends `old_hash`, recording `new_hash` as its successor, and issues `new_hash`. Returns
/// `false` (and writes nothing) when `old_hash` was already spent by a concurrent request.
pub async fn rotate(
    tx: &mut Tx,
    session_id: Uuid,
    old_hash: &str,
    new_hash: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let spent = on_tx!(tx, c => sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2, successor_hash = $3 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(old_hash).bind(now).bind(new_hash).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if spent != 1 {
        return Ok(false);
    }
    insert_token(tx, session_id, new_hash, now, expires).await?;
    Ok(true)
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
