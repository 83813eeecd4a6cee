//! Subscription states, billing cycles and the calendar periods the usage meters count in.
//!
//! Lifecycle (`docs/WORKFLOWS.md` "Subscriptions"): a paid subscription starts `active`
//! under the manual provider (nothing to collect up front); when its period ends it renews
//! as `past_due` until an admin records the payment (`status: active`), or, when it was
//! set to cancel at period end, becomes `canceled`. `trialing` is set by admins only. A
//! `canceled` subscription gives the Free plan's entitlements.

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Where a subscription is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A trial granted by an admin: the plan's entitlements, nothing paid yet.
    Trialing,
    /// Paid (or free) and current.
    Active,
    /// The period renewed without a recorded payment; the plan's entitlements are kept
    /// until an admin records the payment or cancels.
    PastDue,
    /// Ended: the user has the Free plan's entitlements.
    Canceled,
}

impl Status {
    /// Every state, in lifecycle order.
    pub const ALL: &'static [Status] = &[
        Status::Trialing,
        Status::Active,
        Status::PastDue,
        Status::Canceled,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Canceled => "canceled",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// How often a paid plan is billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingCycle {
    /// One calendar month per period.
    Monthly,
    /// Twelve calendar months per period.
    Yearly,
}

impl BillingCycle {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "monthly",
            BillingCycle::Yearly => "yearly",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<BillingCycle> {
        match s {
            "monthly" => Some(BillingCycle::Monthly),
            "yearly" => Some(BillingCycle::Yearly),
            _ => None,
        }
    }

    /// The end of a period of this cycle that starts at `start`.
    pub fn period_end(self, start: DateTime<Utc>) -> DateTime<Utc> {
        let months = match self {
            BillingCycle::Monthly => Months::new(1),
            BillingCycle::Yearly => Months::new(12),
        };
        // Adding months clamps to the month's last day (Jan 31 + 1 month = Feb 28/29); it
        // only fails beyond year 262,143.
        start
            .checked_add_months(months)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The start of the UTC calendar month holding `t`.
pub fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// The start of the UTC day holding `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0)
        .single()
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_are_utc_calendar_units() {
        let t = at("2026-02-17T23:59:59Z");
        assert_eq!(month_start(t), at("2026-02-01T00:00:00Z"));
        assert_eq!(day_start(t), at("2026-02-17T00:00:00Z"));
        assert_eq!(
            BillingCycle::Monthly.period_end(at("2026-01-31T10:00:00Z")),
            at("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            BillingCycle::Yearly.period_end(t),
            at("2027-02-17T23:59:59Z")
        );
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
        }
        assert_eq!(BillingCycle::parse("weekly"), None);
    }
}
