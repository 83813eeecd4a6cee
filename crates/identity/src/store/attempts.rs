//! `login_attempts` rows: failed logins per account and source (client IP). An attempt is
//! reserved (counted) before the slow password check, so a burst of concurrent guesses cannot
//! all be verified (issue 7 items 2 and 12).

use chrono::{DateTime, Utc};
use trellis_kernel::db::{StoreError, Tx};
use trellis_kernel::on_tx;
use uuid::Uuid;

/// The outcome of [`reserve`].
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may go ahead; it is the `n`-th consecutive one from this source.
    Granted(i32),
    /// This source is locked out of this account until the given time.
    Locked(DateTime<Utc>),
}

/// Counts an attempt of `source` on `user_id` unless the pair is locked at `now`: granted
/// while fewer than `limit` failures are counted, or once a lock has run out. The caller sets
/// the lock (in the same transaction) when the grant reaches `limit`. Concurrent reservations
/// serialize on the row (PostgreSQL's `ON CONFLICT DO UPDATE` locks it; SQLite writes one at a
/// time), so each sees the count the previous one left.
pub async fn reserve(
    tx: &mut Tx,
    user_id: Uuid,
    source: &str,
    limit: i32,
    now: DateTime<Utc>,
) -> Result<Reservation, StoreError> {
    let n: Option<i32> = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO login_attempts (user_id, source, failures, locked_until, updated_at) VALUES ($1, $2, 1, NULL, $3) \
         ON CONFLICT (user_id, source) DO UPDATE SET failures = login_attempts.failures + 1, updated_at = $3 \
         WHERE login_attempts.failures < $4 OR (login_attempts.locked_until IS NOT NULL AND login_attempts.locked_until <= $3) \
         RETURNING failures")
        .bind(user_id).bind(source).bind(now).bind(limit).fetch_optional(&mut *c).await)?;
    if let Some(n) = n {
        return Ok(Reservation::Granted(n));
    }
    let until: Option<DateTime<Utc>> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT locked_until FROM login_attempts WHERE user_id = $1 AND source = $2")
        .bind(user_id).bind(source).fetch_one(&mut *c).await)?;
    // Refused without a lock time cannot happen (a full count always sets one); answer with
    // a short lock rather than let the attempt through.
    Ok(Reservation::Locked(
        until.unwrap_or(now + chrono::Duration::minutes(1)),
    ))
}

/// Locks `source` out of `user_id` until `until`.
pub async fn lock(
    tx: &mut Tx,
    user_id: Uuid,
    source: &str,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE login_attempts SET locked_until = $3 WHERE user_id = $1 AND source = $2")
        .bind(user_id).bind(source).bind(until).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Gives back a reserved attempt that was never judged (the password check could not run).
pub async fn release(tx: &mut Tx, user_id: Uuid, source: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE login_attempts SET failures = failures - 1 WHERE user_id = $1 AND source = $2 AND failures > 0")
        .bind(user_id).bind(source).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Clears every source's failures and locks on `user_id` (admin unlock, password reset).
pub async fn clear(tx: &mut Tx, user_id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM login_attempts WHERE user_id = $1")
        .bind(user_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
