//! `/api/v1/subscription/*`: plans (public), and the caller's own subscription and usage.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_kernel::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::plans::{Plan, catalogue};
use crate::envelope::{Done, Reply};
use crate::service::quota::{self, MeterUsage};
use crate::service::subscriptions::{self as subs, SubscriptionView, Upgraded};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(plans))
        .routes(routes!(subscribe))
        .routes(routes!(current))
        .routes(routes!(upgrade))
        .routes(routes!(cancel))
        .routes(routes!(usage))
}

/// The plans on offer, with prices (minor units), entitlements and features.
#[utoipa::path(get, path = "/api/v1/subscription/plans", tag = "workflow",
    responses((status = 200, body = [Plan], description = "The catalogue")))]
async fn plans() -> Reply<Vec<Plan>> {
    Ok(Done::ok(catalogue().plans().to_vec(), "获取成功"))
}

fn monthly() -> String {
    "monthly".into()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubscribeBody {
    /// A plan id of `GET /plans`.
    pub plan_id: String,
    /// `monthly` (default) or `yearly`.
    #[serde(default = "monthly")]
    #[schema(pattern = "^(monthly|yearly)$")]
    pub billing_cycle: String,
}

/// Subscribe to a plan from Free (or after a cancellation); a paid plan starts `active`
/// under the manual provider.
#[utoipa::path(post, path = "/api/v1/subscription/subscribe", tag = "workflow", request_body = SubscribeBody,
    responses((status = 200, body = SubscriptionView), (status = 401), (status = 409, description = "ALREADY_SUBSCRIBED"),
        (status = 422, description = "Unknown plan or billing cycle")), security(("bearer" = [])))]
async fn subscribe(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<SubscribeBody>,
) -> Reply<SubscriptionView> {
    let now = s.platform.clock.now();
    let v = subs::subscribe(
        &s.platform.db,
        &s.engine,
        p.user_id,
        &b.plan_id,
        &b.billing_cycle,
        now,
    )
    .await?;
    Ok(Done::ok(v, "订阅成功"))
}

/// The caller's subscription; every account starts on Free.
#[utoipa::path(get, path = "/api/v1/subscription/current", tag = "workflow",
    responses((status = 200, body = SubscriptionView), (status = 401)), security(("bearer" = [])))]
async fn current(State(s): State<WorkflowState>, p: Principal) -> Reply<SubscriptionView> {
    let now = s.platform.clock.now();
    Ok(Done::ok(
        subs::current(&s.platform.db, p.user_id, now).await?,
        "获取成功",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpgradeBody {
    /// A plan that costs more than the current one.
    pub plan_id: String,
}

/// Move to a dearer plan now; the proration line credits the old plan's unused part and
/// charges the new plan's. Downgrades are 422.
#[utoipa::path(post, path = "/api/v1/subscription/upgrade", tag = "workflow", request_body = UpgradeBody,
    responses((status = 200, body = Upgraded), (status = 401), (status = 409, description = "NO_PAID_SUBSCRIPTION"),
        (status = 422, description = "Unknown plan, or not an upgrade")), security(("bearer" = [])))]
async fn upgrade(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<UpgradeBody>,
) -> Reply<Upgraded> {
    let now = s.platform.clock.now();
    Ok(Done::ok(
        subs::upgrade(&s.platform.db, &s.engine, p.user_id, &b.plan_id, now).await?,
        "升级成功",
    ))
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CancelBody {
    /// End with the current period (default) or now.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub at_period_end: bool,
}

/// Cancel at the end of the period (default) or now (Free entitlements at once).
#[utoipa::path(post, path = "/api/v1/subscription/cancel", tag = "workflow", request_body = CancelBody,
    responses((status = 200, body = SubscriptionView), (status = 401),
        (status = 409, description = "NO_PAID_SUBSCRIPTION or ALREADY_CANCELED")), security(("bearer" = [])))]
async fn cancel(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<CancelBody>,
) -> Reply<SubscriptionView> {
    let now = s.platform.clock.now();
    let v = subs::cancel(&s.platform.db, &s.engine, p.user_id, b.at_period_end, now).await?;
    Ok(Done::ok(v, "订阅已取消"))
}

/// Every meter of the caller: used, reserved, limit, remaining and when it resets.
#[utoipa::path(get, path = "/api/v1/subscription/usage", tag = "workflow",
    responses((status = 200, body = [MeterUsage]), (status = 401)), security(("bearer" = [])))]
async fn usage(State(s): State<WorkflowState>, p: Principal) -> Reply<Vec<MeterUsage>> {
    let now = s.platform.clock.now();
    Ok(Done::ok(
        quota::usage(&s.platform.db, p.user_id, now).await?,
        "获取成功",
    ))
}
