//! `/api/v1/subscription/admin/users/{user_id}`: any user's subscription (admins).

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::service::subscriptions::{self as subs, AdminPatch, SubscriptionView};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new().routes(routes!(get_user, put_user))
}

/// A user's subscription (admins).
#[utoipa::path(get, path = "/api/v1/subscription/admin/users/{user_id}", tag = "workflow", params(("user_id" = Uuid, Path)),
    responses((status = 200, body = SubscriptionView), (status = 403), (status = 404, description = "USER_NOT_FOUND")),
    security(("bearer" = [])))]
async fn get_user(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
) -> Reply<SubscriptionView> {
    p.require_admin().map_err(WorkflowError::from)?;
    let now = s.platform.clock.now();
    Ok(Done::ok(
        subs::admin_get(&s.identity, &s.platform.db, user_id, now).await?,
        "获取成功",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AdminBody {
    /// A plan id (no proration).
    pub plan_id: Option<String>,
    /// `trialing`, `active` (the manual provider's "paid"), `past_due` or `canceled`.
    #[schema(pattern = "^(trialing|active|past_due|canceled)$")]
    pub status: Option<String>,
    /// Replaces the user's overrides: `{meter: limit}`; `{}` clears them.
    pub limits: Option<BTreeMap<String, i64>>,
}

/// Set a user's plan, state or per-meter limits (admins); absent fields stay.
#[utoipa::path(put, path = "/api/v1/subscription/admin/users/{user_id}", tag = "workflow", params(("user_id" = Uuid, Path)),
    request_body = AdminBody,
    responses((status = 200, body = SubscriptionView), (status = 403), (status = 404, description = "USER_NOT_FOUND"),
        (status = 422, description = "Unknown plan, state or meter")),
    security(("bearer" = [])))]
async fn put_user(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
    Json(b): Json<AdminBody>,
) -> Reply<SubscriptionView> {
    p.require_admin().map_err(WorkflowError::from)?;
    let now = s.platform.clock.now();
    let patch = AdminPatch {
        plan_id: b.plan_id,
        status: b.status,
        limits: b.limits,
    };
    let v = subs::admin_update(
        &s.identity,
        &s.platform.db,
        &s.engine,
        p.user_id,
        user_id,
        patch,
        now,
    )
    .await?;
    Ok(Done::ok(v, "订阅已更新"))
}
