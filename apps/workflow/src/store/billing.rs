//! `wf_billing_lines`: what subscription changes charged (new periods, upgrade proration).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{StoreError, Tx};
use trellis_kernel::on_tx;
use uuid::Uuid;

use crate::domain::subscription::BillingCycle;

/// What a line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A new paid period (`/subscribe`).
    Subscription,
    /// An upgrade within a period: the old plan's unused part credited, the new plan
    /// charged for the same part.
    Proration,
}

impl LineKind {
    fn as_str(self) -> &'static str {
        match self {
            LineKind::Subscription => "subscription",
            LineKind::Proration => "proration",
        }
    }
}

/// One billing line. Amounts are in the currency's minor unit (fen, cents).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = WorkflowBillingLine)]
pub struct BillingLine {
    /// Id.
    pub id: Uuid,
    /// The subscriber.
    pub user_id: Uuid,
    /// The subscription it belongs to.
    pub subscription_id: Uuid,
    /// `subscription` or `proration`.
    pub kind: LineKind,
    /// The plan before (proration only).
    pub from_plan_id: Option<String>,
    /// The plan after.
    pub to_plan_id: String,
    /// The cycle whose prices were used.
    pub billing_cycle: BillingCycle,
    /// ISO 4217 code.
    pub currency: String,
    /// Credited for the old plan's unused part.
    pub credit: i64,
    /// Charged for the new plan.
    pub charge: i64,
    /// `charge - credit`: what the user owes for this line.
    pub amount: i64,
    /// Seconds left in the period when the line was made.
    pub unused_seconds: i64,
    /// Length of the period in seconds.
    pub period_seconds: i64,
    /// The payment provider that collects it (`manual`).
    pub provider: String,
    /// Made at.
    pub created_at: DateTime<Utc>,
}

/// Inserts a line.
pub async fn insert(tx: &mut Tx, l: &BillingLine) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_billing_lines (id, user_id, subscription_id, kind, from_plan_id, to_plan_id, \
         billing_cycle, currency, credit, charge, amount, unused_seconds, period_seconds, provider, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(l.id).bind(l.user_id).bind(l.subscription_id).bind(l.kind.as_str())
        .bind(l.from_plan_id.as_deref()).bind(&l.to_plan_id).bind(l.billing_cycle.as_str())
        .bind(&l.currency).bind(l.credit).bind(l.charge).bind(l.amount)
        .bind(l.unused_seconds).bind(l.period_seconds).bind(&l.provider).bind(l.created_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}
