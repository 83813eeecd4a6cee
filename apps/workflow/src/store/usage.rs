//! `wf_usage` and `wf_usage_events`: per-period meters with reservations, and the events
//! that make a reserved unit count at most once.

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_tx};
use uuid::Uuid;

/// Makes sure the meter row of this period exists (a no-op when it does).
pub async fn ensure_row(
    tx: &mut Tx,
    user: Uuid,
    meter: &str,
    period_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_usage (user_id, meter, period_start, used, reserved, updated_at) \
         VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT (user_id, meter, period_start) DO NOTHING")
        .bind(user).bind(meter).bind(period_start).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Reserves one unit if `used + reserved < limit`; true if it did.
///
/// One conditional UPDATE is the whole check: on PostgreSQL concurrent callers queue on the
/// row lock and each re-evaluates the condition against the row the previous one left (READ
/// COMMITTED re-checks an updated row), on SQLite writers are serialized, so a burst at the
/// limit admits exactly the units left.
pub async fn try_reserve(
    tx: &mut Tx,
    user: Uuid,
    meter: &str,
    period_start: DateTime<Utc>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE wf_usage SET reserved = reserved + 1, updated_at = $5 \
         WHERE user_id = $1 AND meter = $2 AND period_start = $3 AND used + reserved < $4")
        .bind(user).bind(meter).bind(period_start).bind(limit).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Counts `n` units at once if `used + reserved + n <= limit` (collected items: stored in
/// the same transaction, so there is nothing to reserve first); true if it did.
pub async fn try_use(
    tx: &mut Tx,
    user: Uuid,
    meter: &str,
    period_start: DateTime<Utc>,
    limit: i64,
    n: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE wf_usage SET used = used + $5, updated_at = $6 \
         WHERE user_id = $1 AND meter = $2 AND period_start = $3 AND used + reserved + $5 <= $4")
        .bind(user).bind(meter).bind(period_start).bind(limit).bind(n).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Records a reserved unit under the caller's event id; false if that id exists already.
pub async fn insert_event(
    tx: &mut Tx,
    id: Uuid,
    user: Uuid,
    meter: &str,
    period_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_usage_events (id, user_id, meter, period_start, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'reserved', $5, $5) ON CONFLICT (id) DO NOTHING")
        .bind(id).bind(user).bind(meter).bind(period_start).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes an event (a reservation that was refused after its row was written).
pub async fn delete_event(tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM wf_usage_events WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Moves a `reserved` event to `committed` (`commit = true`) or `released`, and its unit
/// from `reserved` to `used` or back; false (nothing changed) when the event is unknown
/// or no longer reserved.
pub async fn settle(
    tx: &mut Tx,
    id: Uuid,
    commit: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let state = if commit { "committed" } else { "released" };
    let event: Option<(Uuid, String, DateTime<Utc>)> = on_tx!(tx, c => sqlx::query_as(
        "UPDATE wf_usage_events SET state = $2, updated_at = $3 WHERE id = $1 AND state = 'reserved' \
         RETURNING user_id, meter, period_start")
        .bind(id).bind(state).bind(now).fetch_optional(&mut *c).await)?;
    let Some((user, meter, period_start)) = event else {
        return Ok(false);
    };
    let used = i64::from(commit);
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_usage SET reserved = reserved - 1, used = used + $4, updated_at = $5 \
         WHERE user_id = $1 AND meter = $2 AND period_start = $3")
        .bind(user).bind(&meter).bind(period_start).bind(used).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(true)
}

/// `(used, reserved)` of one meter in one period (zeros when nothing was reserved yet).
/// Reads the writer so a unit reserved a moment ago is seen.
pub async fn period(
    db: &Db,
    user: Uuid,
    meter: &str,
    period_start: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let row: Option<(i64, i64)> = on_db!(db, pool => sqlx::query_as(
        "SELECT used, reserved FROM wf_usage WHERE user_id = $1 AND meter = $2 AND period_start = $3")
        .bind(user).bind(meter).bind(period_start).fetch_optional(pool).await)?;
    Ok(row.unwrap_or((0, 0)))
}

/// The state of a usage event (`reserved`, `committed`, `released`), if it exists.
pub async fn event_state(db: &Db, id: Uuid) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as(
        "SELECT state FROM wf_usage_events WHERE id = $1")
        .bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}
