//! `diet_profiles`: the diet planner's part of an account, the seed's extra user columns
//! (`nickname`, `phone`; originals.md §3.3) that identity's `users` table does not have.
//!
//! A row exists only once the user has set one of them (`PUT /api/v1/auth/profile`); no row
//! reads as both null. Deleting the account deletes the row (`ON DELETE CASCADE`).

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// The seed-003 profile fields of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Profile {
    /// Display name, 1–50 characters (checked by the service), or null.
    pub nickname: Option<String>,
    /// Phone number, 11 digits (checked by the service), or null.
    pub phone: Option<String>,
}

/// The profile of `user_id`; `None` when the user never set one.
pub async fn get(db: &Db, user_id: Uuid) -> Result<Option<Profile>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_as::<_, Profile>(
        "SELECT nickname, phone FROM diet_profiles WHERE user_id = $1")
        .bind(user_id).fetch_optional(pool).await)?)
}

/// Sets the given fields of `user_id`'s profile, creating the row if needed; `None` keeps a
/// field as it is (null for a new row).
pub async fn upsert(
    tx: &mut Tx,
    user_id: Uuid,
    nickname: Option<&str>,
    phone: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO diet_profiles (user_id, nickname, phone, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET \
         nickname = COALESCE(excluded.nickname, diet_profiles.nickname), \
         phone = COALESCE(excluded.phone, diet_profiles.phone), \
         updated_at = excluded.updated_at")
        .bind(user_id).bind(nickname).bind(phone).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
