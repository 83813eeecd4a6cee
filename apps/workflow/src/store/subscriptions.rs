//! `wf_subscriptions`: one current subscription per user.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::plans::Limits;
use crate::domain::subscription::{BillingCycle, Status};

/// The unique constraint on `user_id`: one current subscription per user.
pub const USER_KEY: &str = "wf_subscriptions_user_id_key";

/// A user's current subscription as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    /// Id.
    pub id: Uuid,
    /// The subscriber.
    pub user_id: Uuid,
    /// The plan (an id of the catalogue).
    pub plan_id: String,
    /// Lifecycle state.
    pub status: Status,
    /// How the plan is billed.
    pub billing_cycle: BillingCycle,
    /// Start of the current billing period.
    pub current_period_start: DateTime<Utc>,
    /// End of the current billing period.
    pub current_period_end: DateTime<Utc>,
    /// Whether the subscription ends when the current period does.
    pub cancel_at_period_end: bool,
    /// When it was canceled (asked to end now, or ended at its period's end).
    pub canceled_at: Option<DateTime<Utc>>,
    /// The payment provider's name (`manual`).
    pub provider: String,
    /// Admin overrides of single meters.
    pub limits: Limits,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    user_id: Uuid,
    plan_id: String,
    status: String,
    billing_cycle: String,
    current_period_start: DateTime<Utc>,
    current_period_end: DateTime<Utc>,
    cancel_at_period_end: bool,
    canceled_at: Option<DateTime<Utc>>,
    provider: String,
    limits: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Subscription {
    fn from(r: Row) -> Subscription {
        Subscription {
            id: r.id,
            user_id: r.user_id,
            plan_id: r.plan_id,
            // CHECK constraints admit only the parsed names.
            status: Status::parse(&r.status).unwrap_or(Status::Canceled),
            billing_cycle: BillingCycle::parse(&r.billing_cycle).unwrap_or(BillingCycle::Monthly),
            current_period_start: r.current_period_start,
            current_period_end: r.current_period_end,
            cancel_at_period_end: r.cancel_at_period_end,
            canceled_at: r.canceled_at,
            provider: r.provider,
            // Written only by `update` from a typed map; an unreadable value means no
            // overrides rather than a failed request.
            limits: r
                .limits
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

macro_rules! columns {
    () => {
        "id, user_id, plan_id, status, billing_cycle, current_period_start, current_period_end, \
         cancel_at_period_end, canceled_at, provider, limits, created_at, updated_at"
    };
}

fn limits_text(l: &Limits) -> Option<String> {
    if l.is_empty() {
        None
    } else {
        serde_json::to_string(l).ok()
    }
}

/// Inserts `s` unless the user already has a subscription; true if it was inserted.
pub async fn insert_if_absent(tx: &mut Tx, s: &Subscription) -> Result<bool, StoreError> {
    let done = on_tx!(tx, c => sqlx::query(concat!("INSERT INTO wf_subscriptions (", columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (user_id) DO NOTHING"))
        .bind(s.id).bind(s.user_id).bind(&s.plan_id).bind(s.status.as_str()).bind(s.billing_cycle.as_str())
        .bind(s.current_period_start).bind(s.current_period_end).bind(s.cancel_at_period_end)
        .bind(s.canceled_at).bind(&s.provider).bind(limits_text(&s.limits))
        .bind(s.created_at).bind(s.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// The user's subscription, read inside the caller's transaction.
pub async fn by_user_tx(tx: &mut Tx, user: Uuid) -> Result<Option<Subscription>, StoreError> {
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM wf_subscriptions WHERE user_id = $1"))
        .bind(user).fetch_optional(&mut *c).await)?;
    Ok(row.map(Into::into))
}

/// The user's subscription.
pub async fn by_user(db: &Db, user: Uuid) -> Result<Option<Subscription>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM wf_subscriptions WHERE user_id = $1"))
        .bind(user).fetch_optional(pool).await)?;
    Ok(row.map(Into::into))
}

/// Writes every changeable field of `s` (found by its id).
pub async fn update(tx: &mut Tx, s: &Subscription) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_subscriptions SET plan_id = $2, status = $3, billing_cycle = $4, \
         current_period_start = $5, current_period_end = $6, cancel_at_period_end = $7, \
         canceled_at = $8, provider = $9, limits = $10, updated_at = $11 WHERE id = $1")
        .bind(s.id).bind(&s.plan_id).bind(s.status.as_str()).bind(s.billing_cycle.as_str())
        .bind(s.current_period_start).bind(s.current_period_end).bind(s.cancel_at_period_end)
        .bind(s.canceled_at).bind(&s.provider).bind(limits_text(&s.limits)).bind(s.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Accounts without a subscription row yet (registered since the last pass), at most
/// `limit`: the registration handler puts each on Free.
pub async fn users_without_subscription(db: &Db, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(Uuid,)> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT u.id FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM wf_subscriptions s WHERE s.user_id = u.id) LIMIT $1")
        .bind(limit).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
