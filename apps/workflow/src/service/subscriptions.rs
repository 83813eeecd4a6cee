//! The subscription lifecycle (seed 000 "订阅管理 API", `docs/WORKFLOWS.md`
//! "Subscriptions"): every account is on Free until it subscribes; `subscribe` starts a
//! paid period, `upgrade` moves to a dearer plan at once with a proration line, `cancel`
//! ends at the period's end or now; admins set plan, state and per-meter limits.
//!
//! Time moves the lifecycle lazily: whenever a subscription is read for an operation, a
//! period that has ended is settled first ([`settle`]): a pending cancellation takes effect,
//! otherwise the period renews (Free stays `active`, paid plans become `past_due` under the
//! manual provider until an admin records the payment).

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use trellis_identity::Identity;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::error::FieldError;
use uuid::Uuid;

use super::provider::provider;
use crate::domain::plans::{Catalogue, Entitlements, Limits, Meter, Plan, catalogue};
use crate::domain::subscription::{BillingCycle, Status};
use crate::error::WorkflowError;
use crate::store::billing::{self, BillingLine, LineKind};
use crate::store::subscriptions::{self as store, Subscription};

/// A subscription as the API shows it: the stored state plus what it gives now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WorkflowSubscription)]
pub struct SubscriptionView {
    /// Id.
    pub id: Uuid,
    /// The subscriber.
    pub user_id: Uuid,
    /// The subscribed plan.
    pub plan_id: String,
    /// The subscribed plan's name.
    pub plan_name: String,
    /// `trialing`, `active`, `past_due` or `canceled`.
    pub status: Status,
    /// `monthly` or `yearly`.
    pub billing_cycle: BillingCycle,
    /// Start of the current period.
    pub current_period_start: DateTime<Utc>,
    /// End of the current period (renewal or, with `cancel_at_period_end`, the end).
    pub current_period_end: DateTime<Utc>,
    /// Whether the subscription ends with the current period.
    pub cancel_at_period_end: bool,
    /// When it was canceled.
    pub canceled_at: Option<DateTime<Utc>>,
    /// Payment provider (`manual`).
    pub provider: String,
    /// Admin overrides of single meters, `{meter: limit}`.
    #[schema(value_type = HashMap<String, i64>)]
    pub limits: Limits,
    /// The plan whose entitlements apply now: the subscribed one, or `free` once canceled.
    pub effective_plan_id: String,
    /// The limits in force: the effective plan's with the overrides applied.
    pub entitlements: Entitlements,
    /// The effective plan's feature switches.
    #[schema(value_type = HashMap<String, bool>)]
    pub features: BTreeMap<String, bool>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What `POST /upgrade` did: the subscription after it and the proration line.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WorkflowUpgrade)]
pub struct Upgraded {
    /// The subscription on its new plan.
    pub subscription: SubscriptionView,
    /// The old plan's unused part credited, the new plan's charged.
    pub proration: BillingLine,
}

/// An admin's change to a user's subscription; absent fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct AdminPatch {
    /// New plan (no proration: the admin's word).
    pub plan_id: Option<String>,
    /// New state; `active` records the manual provider's payment.
    pub status: Option<String>,
    /// Replaces every override, `{meter: limit}`; `{}` clears them.
    pub limits: Option<BTreeMap<String, i64>>,
}

/// `now` as both backends store it: PostgreSQL keeps microseconds, so answers built from
/// the written values equal what a later read returns.
fn stored(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// The Free subscription a user starts with: a monthly period from `now`.
fn free_row(user: Uuid, now: DateTime<Utc>) -> Subscription {
    Subscription {
        id: Uuid::now_v7(),
        user_id: user,
        plan_id: crate::domain::plans::FREE.into(),
        status: Status::Active,
        billing_cycle: BillingCycle::Monthly,
        current_period_start: now,
        current_period_end: BillingCycle::Monthly.period_end(now),
        cancel_at_period_end: false,
        canceled_at: None,
        provider: provider().name().into(),
        limits: Limits::new(),
        created_at: now,
        updated_at: now,
    }
}

/// Puts the user on Free unless they already have a subscription (idempotent:
/// `INSERT … ON CONFLICT DO NOTHING`); true if it did. Called lazily by `/current` and
/// `/usage`, so every account is on Free without a migration of existing users.
pub async fn ensure_free(tx: &mut Tx, user: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let now = stored(now);
    store::insert_if_absent(tx, &free_row(user, now)).await
}

/// The registration hook the event dispatcher calls in the registering transaction: the
/// new account starts on Free (the same as [`ensure_free`]; calling it twice is harmless).
pub async fn on_user_registered(
    tx: &mut Tx,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    ensure_free(tx, user, now).await.map(|_| ())
}

/// Applies what time did to `s` by `now`; true if anything changed. A period that has
/// ended either ends the subscription (`cancel_at_period_end`) or renews: the period
/// moves forward in whole cycles until it holds `now`, and the provider decides the state
/// (manual: Free `active`, paid `past_due`).
pub fn settle(s: &mut Subscription, plans: &Catalogue, now: DateTime<Utc>) -> bool {
    if s.status == Status::Canceled || now < s.current_period_end {
        return false;
    }
    if s.cancel_at_period_end {
        s.status = Status::Canceled;
        s.canceled_at = Some(s.current_period_end);
        s.cancel_at_period_end = false;
    } else {
        let plan = plans.get(&s.plan_id).unwrap_or_else(|| plans.free());
        // Whole cycles, so renewal dates stay on the subscription's anniversary; a
        // subscription untouched for ages restarts at `now` instead of looping.
        let mut start = s.current_period_end;
        for _ in 0..240 {
            let end = s.billing_cycle.period_end(start);
            if now < end {
                break;
            }
            start = end;
        }
        if now >= s.billing_cycle.period_end(start) {
            start = now;
        }
        s.current_period_start = start;
        s.current_period_end = s.billing_cycle.period_end(start);
        s.status = provider().renewal_status(plan);
    }
    s.updated_at = now;
    true
}

/// The plan whose entitlements `s` gives at `now` (settled): Free when there is no
/// subscription, when it is canceled, or when its plan has left the catalogue.
fn effective_plan<'a>(
    s: Option<&Subscription>,
    plans: &'a Catalogue,
    now: DateTime<Utc>,
) -> &'a Plan {
    let Some(s) = s else {
        return plans.free();
    };
    let mut s = s.clone();
    settle(&mut s, plans, now);
    if s.status == Status::Canceled {
        return plans.free();
    }
    plans.get(&s.plan_id).unwrap_or_else(|| {
        tracing::warn!(plan.id = %s.plan_id, user.id = %s.user_id, "subscribed plan not in the catalogue; Free applies");
        plans.free()
    })
}

/// The limits in force for `s` at `now`: the effective plan's, with the user's overrides
/// (which apply on Free too).
fn entitlements_of(
    s: Option<&Subscription>,
    plans: &Catalogue,
    now: DateTime<Utc>,
) -> Entitlements {
    let base = effective_plan(s, plans, now).entitlements;
    match s {
        Some(s) => base.with_overrides(&s.limits),
        None => base,
    }
}

/// The user's entitlements at `now`: their plan's limits with admin overrides applied; a
/// canceled subscription (or none yet) gives the Free plan's. Reads only; for the engine's
/// checks before it starts work.
pub async fn entitlements(
    db: &Db,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Entitlements, StoreError> {
    let s = store::by_user(db, user).await?;
    Ok(entitlements_of(s.as_ref(), &catalogue(), now))
}

/// [`entitlements`] inside the caller's transaction (for `quota::reserve`).
pub(crate) async fn entitlements_tx(
    tx: &mut Tx,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Entitlements, StoreError> {
    let s = store::by_user_tx(tx, user).await?;
    Ok(entitlements_of(s.as_ref(), &catalogue(), now))
}

/// The user's subscription in `tx`, created as Free if missing and settled at `now`.
pub(crate) async fn load_settled(
    tx: &mut Tx,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Subscription, WorkflowError> {
    let now = stored(now);
    ensure_free(tx, user, now).await?;
    let mut s = store::by_user_tx(tx, user)
        .await?
        .ok_or(WorkflowError::NotFound("subscription"))?;
    if settle(&mut s, &catalogue(), now) {
        store::update(tx, &s).await?;
    }
    Ok(s)
}

/// The API's view of `s` at `now`.
pub(crate) fn view(s: Subscription, plans: &Catalogue, now: DateTime<Utc>) -> SubscriptionView {
    let effective = effective_plan(Some(&s), plans, now);
    let entitlements = entitlements_of(Some(&s), plans, now);
    SubscriptionView {
        plan_name: plans
            .get(&s.plan_id)
            .map_or_else(|| s.plan_id.clone(), |p| p.name.clone()),
        effective_plan_id: effective.id.clone(),
        features: effective.features.clone(),
        entitlements,
        id: s.id,
        user_id: s.user_id,
        plan_id: s.plan_id,
        status: s.status,
        billing_cycle: s.billing_cycle,
        current_period_start: s.current_period_start,
        current_period_end: s.current_period_end,
        cancel_at_period_end: s.cancel_at_period_end,
        canceled_at: s.canceled_at,
        provider: s.provider,
        limits: s.limits,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// `GET /current`: the user's subscription (Free on first sight).
pub async fn current(
    db: &Db,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, WorkflowError> {
    let now = stored(now);
    let mut tx = db.begin().await?;
    let s = load_settled(&mut tx, user, now).await?;
    tx.commit().await?;
    Ok(view(s, &catalogue(), now))
}

fn parse_plan(plans: &Catalogue, id: &str) -> Result<Plan, FieldError> {
    plans.get(id).cloned().ok_or_else(|| {
        let known: Vec<&str> = plans.plans().iter().map(|p| p.id.as_str()).collect();
        FieldError::new(
            "plan_id",
            "unknown_plan",
            format!("unknown plan; one of {}", known.join(", ")),
        )
    })
}

fn parse_cycle(s: &str) -> Result<BillingCycle, FieldError> {
    BillingCycle::parse(s).ok_or_else(|| {
        FieldError::new(
            "billing_cycle",
            "invalid_choice",
            "must be monthly or yearly",
        )
    })
}

fn no_paid_subscription() -> WorkflowError {
    WorkflowError::conflict(
        "NO_PAID_SUBSCRIPTION",
        "no paid subscription: subscribe first (POST /api/v1/subscription/subscribe)",
    )
}

/// `POST /subscribe`: starts a period of `plan_id` billed per `billing_cycle` from `now`.
/// Allowed from Free or a canceled subscription; a current paid subscription is 409
/// `ALREADY_SUBSCRIBED` (change it with `/upgrade`, or cancel first). A paid plan records a
/// `subscription` billing line for the period's price.
pub async fn subscribe(
    db: &Db,
    events: &trellis_engine::Engine,
    user: Uuid,
    plan_id: &str,
    billing_cycle: &str,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, WorkflowError> {
    let now = stored(now);
    let plans = catalogue();
    let (plan, cycle) = match (parse_plan(&plans, plan_id), parse_cycle(billing_cycle)) {
        (Ok(p), Ok(c)) => (p, c),
        (p, c) => {
            return Err(WorkflowError::Fields(
                [p.err(), c.err()].into_iter().flatten().collect(),
            ));
        }
    };
    let mut tx = db.begin().await?;
    let mut s = load_settled(&mut tx, user, now).await?;
    let current_is_free = plans.get(&s.plan_id).is_none_or(Plan::is_free);
    let allowed = s.status == Status::Canceled || (current_is_free && !plan.is_free());
    if !allowed {
        return Err(WorkflowError::conflict(
            "ALREADY_SUBSCRIBED",
            format!(
                "already subscribed to {}; use /upgrade or /cancel",
                s.plan_id
            ),
        ));
    }
    let p = provider();
    s.plan_id = plan.id.clone();
    s.billing_cycle = cycle;
    s.status = p.initial_status(&plan);
    s.current_period_start = now;
    s.current_period_end = cycle.period_end(now);
    s.cancel_at_period_end = false;
    s.canceled_at = None;
    s.provider = p.name().into();
    s.updated_at = now;
    store::update(&mut tx, &s).await?;
    let price = plan.price(cycle);
    if price > 0 {
        let seconds = (s.current_period_end - now).num_seconds();
        billing::insert(
            &mut tx,
            &line(
                &s,
                LineKind::Subscription,
                None,
                &plan,
                0,
                price,
                seconds,
                seconds,
                now,
            ),
        )
        .await?;
    }
    // Outbox: the engine updates the user's running limit (issue 10 §4).
    events
        .emit(
            &mut tx,
            "subscription.changed",
            &serde_json::json!({"user_id": user}),
        )
        .await?;
    tx.commit().await?;
    Ok(view(s, &plans, now))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one billing line's fields, named at the call"
)]
fn line(
    s: &Subscription,
    kind: LineKind,
    from: Option<String>,
    to: &Plan,
    credit: i64,
    charge: i64,
    unused_seconds: i64,
    period_seconds: i64,
    now: DateTime<Utc>,
) -> BillingLine {
    BillingLine {
        id: Uuid::now_v7(),
        user_id: s.user_id,
        subscription_id: s.id,
        kind,
        from_plan_id: from,
        to_plan_id: to.id.clone(),
        billing_cycle: s.billing_cycle,
        currency: to.currency.clone(),
        credit,
        charge,
        amount: charge - credit,
        unused_seconds,
        period_seconds,
        provider: s.provider.clone(),
        created_at: now,
    }
}

/// `price × unused / period`, rounded half up, in minor units.
pub fn pro_rata(price: i64, unused_seconds: i64, period_seconds: i64) -> i64 {
    if period_seconds <= 0 {
        return 0;
    }
    let (p, u, l) = (
        i128::from(price),
        i128::from(unused_seconds.clamp(0, period_seconds)),
        i128::from(period_seconds),
    );
    i64::try_from((2 * p * u + l) / (2 * l)).unwrap_or(i64::MAX)
}

/// `POST /upgrade`: moves a paid subscription to a dearer plan now, keeping its period. The
/// proration line credits the old plan's price for the unused part of the period and
/// charges the new plan's for the same part (both of the subscription's cycle). A plan that
/// is not dearer is 422 (`plan_id: not_an_upgrade`): downgrades are a cancellation at the
/// period's end followed by a new subscription, or an admin's change. From Free (or a
/// canceled subscription) it is 409 `NO_PAID_SUBSCRIPTION`: there is no period to prorate.
pub async fn upgrade(
    db: &Db,
    events: &trellis_engine::Engine,
    user: Uuid,
    plan_id: &str,
    now: DateTime<Utc>,
) -> Result<Upgraded, WorkflowError> {
    let now = stored(now);
    let plans = catalogue();
    let target = parse_plan(&plans, plan_id).map_err(|e| WorkflowError::Fields(vec![e]))?;
    let mut tx = db.begin().await?;
    let mut s = load_settled(&mut tx, user, now).await?;
    let old = effective_plan(Some(&s), &plans, now).clone();
    if old.is_free() {
        return Err(no_paid_subscription());
    }
    let cycle = s.billing_cycle;
    if target.price(cycle) <= old.price(cycle) {
        return Err(WorkflowError::field(
            "plan_id",
            "not_an_upgrade",
            format!(
                "{} does not cost more than {}; downgrade by canceling at period end",
                target.id, old.id
            ),
        ));
    }
    let period = (s.current_period_end - s.current_period_start).num_seconds();
    let unused = (s.current_period_end - now)
        .num_seconds()
        .clamp(0, period.max(0));
    let credit = pro_rata(old.price(cycle), unused, period);
    let charge = pro_rata(target.price(cycle), unused, period);
    s.plan_id = target.id.clone();
    // An upgrade is a renewed commitment: a pending cancellation is withdrawn.
    s.cancel_at_period_end = false;
    s.updated_at = now;
    store::update(&mut tx, &s).await?;
    let proration = line(
        &s,
        LineKind::Proration,
        Some(old.id),
        &target,
        credit,
        charge,
        unused,
        period,
        now,
    );
    billing::insert(&mut tx, &proration).await?;
    // Outbox: the engine updates the user's running limit (issue 10 §4).
    events
        .emit(
            &mut tx,
            "subscription.changed",
            &serde_json::json!({"user_id": user}),
        )
        .await?;
    tx.commit().await?;
    Ok(Upgraded {
        subscription: view(s, &plans, now),
        proration,
    })
}

/// `POST /cancel`: at the period's end (default; the plan stays until then) or now (state
/// `canceled`, Free entitlements at once). No refund line is made. Free cannot be canceled
/// (409 `NO_PAID_SUBSCRIPTION`); a canceled subscription is 409 `ALREADY_CANCELED`.
pub async fn cancel(
    db: &Db,
    events: &trellis_engine::Engine,
    user: Uuid,
    at_period_end: bool,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, WorkflowError> {
    let now = stored(now);
    let plans = catalogue();
    let mut tx = db.begin().await?;
    let mut s = load_settled(&mut tx, user, now).await?;
    if s.status == Status::Canceled {
        return Err(WorkflowError::conflict(
            "ALREADY_CANCELED",
            "the subscription is already canceled",
        ));
    }
    if plans.get(&s.plan_id).is_none_or(Plan::is_free) {
        return Err(no_paid_subscription());
    }
    if at_period_end {
        s.cancel_at_period_end = true;
    } else {
        s.status = Status::Canceled;
        s.canceled_at = Some(now);
        s.cancel_at_period_end = false;
    }
    s.updated_at = now;
    store::update(&mut tx, &s).await?;
    // Outbox: the engine updates the user's running limit (issue 10 §4).
    events
        .emit(
            &mut tx,
            "subscription.changed",
            &serde_json::json!({"user_id": user}),
        )
        .await?;
    tx.commit().await?;
    Ok(view(s, &plans, now))
}

/// An admin patch, checked.
type Parsed = (Option<Plan>, Option<Status>, Option<Limits>);

/// Checks an admin patch into typed values, listing every problem.
fn parse_patch(plans: &Catalogue, patch: &AdminPatch) -> Result<Parsed, WorkflowError> {
    let mut errors = Vec::new();
    let plan = patch
        .plan_id
        .as_deref()
        .and_then(|id| parse_plan(plans, id).map_err(|e| errors.push(e)).ok());
    let status = patch.status.as_deref().and_then(|s| {
        let parsed = Status::parse(s);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "status",
                "invalid_choice",
                "must be trialing, active, past_due or canceled",
            ));
        }
        parsed
    });
    let limits = patch.limits.as_ref().map(|l| {
        let mut out = Limits::new();
        for (k, v) in l {
            match Meter::parse(k) {
                None => errors.push(FieldError::new(
                    format!("limits.{k}"),
                    "unknown_meter",
                    "not a meter",
                )),
                Some(_) if *v < 0 => errors.push(FieldError::new(
                    format!("limits.{k}"),
                    "negative",
                    "must be 0 or more",
                )),
                Some(m) => {
                    out.insert(m, *v);
                }
            }
        }
        out
    });
    if errors.is_empty() {
        Ok((plan, status, limits))
    } else {
        Err(WorkflowError::Fields(errors))
    }
}

/// `GET /admin/users/{user_id}`: a user's subscription (Free on first sight); unknown
/// users are 404 `USER_NOT_FOUND`.
pub async fn admin_get(
    identity: &Identity,
    db: &Db,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, WorkflowError> {
    identity.user(user).await?;
    current(db, user, now).await
}

/// `PUT /admin/users/{user_id}`: sets plan, state and overrides, with an audit row in the
/// same transaction. `status: active` is the manual provider's "paid": a canceled
/// subscription restarts with a period from now. `status: canceled` ends it now.
pub async fn admin_update(
    identity: &Identity,
    db: &Db,
    events: &trellis_engine::Engine,
    admin: Uuid,
    user: Uuid,
    patch: AdminPatch,
    now: DateTime<Utc>,
) -> Result<SubscriptionView, WorkflowError> {
    let now = stored(now);
    let plans = catalogue();
    let (plan, status, limits) = parse_patch(&plans, &patch)?;
    identity.user(user).await?;
    let mut tx = db.begin().await?;
    let mut s = load_settled(&mut tx, user, now).await?;
    if let Some(p) = &plan {
        s.plan_id = p.id.clone();
    }
    if let Some(st) = status {
        if s.status == Status::Canceled && st != Status::Canceled {
            s.current_period_start = now;
            s.current_period_end = s.billing_cycle.period_end(now);
            s.canceled_at = None;
        }
        if st == Status::Canceled && s.status != Status::Canceled {
            s.canceled_at = Some(now);
        }
        s.cancel_at_period_end = s.cancel_at_period_end && st != Status::Canceled;
        s.status = st;
    }
    if let Some(l) = limits {
        s.limits = l;
    }
    s.updated_at = now;
    store::update(&mut tx, &s).await?;
    let detail = serde_json::json!({
        "user_id": user,
        "plan_id": s.plan_id,
        "status": s.status.as_str(),
        "limits": s.limits,
    });
    identity
        .audit_event(
            &mut tx,
            Some(admin),
            "subscription.admin_update",
            None,
            detail,
        )
        .await?;
    // Outbox: the engine updates the user's running limit (issue 10 §4).
    events
        .emit(
            &mut tx,
            "subscription.changed",
            &serde_json::json!({"user_id": user}),
        )
        .await?;
    tx.commit().await?;
    Ok(view(s, &plans, now))
}
