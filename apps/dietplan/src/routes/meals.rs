//! `/api/v1/meals`: a pet's meals of today or of a date, and marking a meal fed.

use axum::extract::State;
use chrono::NaiveDate;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::service::meals::{self as svc, Day};
use crate::state::DietState;
use crate::store::meals::Meal;

/// The routes of `/api/v1/meals`.
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(today))
        .routes(routes!(of_date))
        .routes(routes!(complete, uncomplete))
}

/// Query of `GET /meals/today`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct TodayQuery {
    /// The pet.
    pub pet_id: Uuid,
}

/// Query of `GET /meals`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct DateQuery {
    /// The pet.
    pub pet_id: Uuid,
    /// `YYYY-MM-DD` (default today in `TRELLIS_DIET_TIMEZONE`).
    pub date: Option<NaiveDate>,
}

/// `POST /meals/{id}/complete` body (optional).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = DietMealCompleteBody)]
pub struct CompleteBody {
    /// A note (≤ 500 characters).
    pub notes: Option<String>,
}

/// Today's meals of the pet (in `TRELLIS_DIET_TIMEZONE`, default Asia/Shanghai).
#[utoipa::path(get, path = "/api/v1/meals/today", tag = "dietplan", params(TodayQuery),
    responses((status = 200, body = Day), (status = 404, description = "Pet not found")), security(("bearer" = [])))]
async fn today(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<TodayQuery>,
) -> Reply<Day> {
    Ok(Done::ok(
        svc::day(&s, &p, q.pet_id, None).await?,
        "获取成功",
    ))
}

/// The pet's meals of a date.
#[utoipa::path(get, path = "/api/v1/meals", tag = "dietplan", params(DateQuery),
    responses((status = 200, body = Day), (status = 404, description = "Pet not found")), security(("bearer" = [])))]
async fn of_date(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<DateQuery>,
) -> Reply<Day> {
    Ok(Done::ok(
        svc::day(&s, &p, q.pet_id, q.date).await?,
        "获取成功",
    ))
}

/// Mark a meal fed (the body is optional).
#[utoipa::path(post, path = "/api/v1/meals/{id}/complete", tag = "dietplan", request_body = Option<CompleteBody>,
    params(("id" = Uuid, Path, description = "Meal id")),
    responses((status = 200, body = Meal), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn complete(
    State(s): State<DietState>,
    p: Principal,
    Path(id): Path<Uuid>,
    b: Option<Json<Option<CompleteBody>>>,
) -> Reply<Meal> {
    // No body, `null` and `{}` all mean "no note".
    let notes = b.and_then(|Json(b)| b).and_then(|b| b.notes);
    Ok(Done::ok(
        svc::set_completed(&s, &p, id, true, notes).await?,
        "已标记完成",
    ))
}

/// Mark a meal not fed.
#[utoipa::path(delete, path = "/api/v1/meals/{id}/complete", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Meal id")),
    responses((status = 200, body = Meal), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn uncomplete(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Meal> {
    Ok(Done::ok(
        svc::set_completed(&s, &p, id, false, None).await?,
        "已取消完成",
    ))
}
