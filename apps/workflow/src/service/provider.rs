//! Payment providers: who collects what a subscription costs, and so which state a paid
//! subscription starts and renews in.
//!
//! Only `manual` exists: no card data ever reaches Trellis; an operator collects payment
//! outside it and records it as an admin (`PUT /api/v1/subscription/admin/users/{id}` with
//! `status: active`). A card provider would implement the same trait with webhooks moving
//! the states.

use crate::domain::plans::Plan;
use crate::domain::subscription::Status;

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// The stored name (`wf_subscriptions.provider`).
    fn name(&self) -> &'static str;
    /// The state a new subscription to `plan` starts in.
    fn initial_status(&self, plan: &Plan) -> Status;
    /// The state a subscription to `plan` is in after its period renews, before any payment
    /// for the new period has been recorded.
    fn renewal_status(&self, plan: &Plan) -> Status;
}

/// The manual provider: paid plans start `active` (nothing is collected up front; the
/// billing line records what is owed) and renew `past_due` until an admin records the
/// payment; Free stays `active`.
pub struct Manual;

impl PaymentProvider for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn initial_status(&self, _plan: &Plan) -> Status {
        Status::Active
    }

    fn renewal_status(&self, plan: &Plan) -> Status {
        if plan.price_monthly == 0 && plan.price_yearly == 0 {
            Status::Active
        } else {
            Status::PastDue
        }
    }
}

/// The provider new subscriptions use.
pub fn provider() -> &'static dyn PaymentProvider {
    &Manual
}
