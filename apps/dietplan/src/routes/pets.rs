//! `/api/v1/pets`, `/api/v1/pets/{id}`: the caller's pets.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::routes::{Deleted, page_of, paging};
use crate::service::pets::{self as svc, PetBody};
use crate::state::DietState;
use crate::store::pets::Pet;

/// The routes of `/api/v1/pets`.
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

/// The page of `GET /pets`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's pets, oldest first.
#[utoipa::path(get, path = "/api/v1/pets", tag = "dietplan", params(ListQuery),
    responses((status = 200, body = Page<Pet>), (status = 401, description = "Not signed in")),
    security(("bearer" = [])))]
async fn list(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Pet>> {
    let (page, size) = paging(q.page, q.page_size)?;
    let (items, total) = crate::store::pets::list(
        &s.platform.db,
        p.user_id,
        size,
        (page - 1).saturating_mul(size),
    )
    .await
    .map_err(crate::error::DietError::from)?;
    Ok(Done::ok(page_of(items, total, page, size), "获取成功"))
}

/// Add a pet (`name`, `type`, `age_months`, `weight_kg` required; a food toxic to the
/// species in `allergies` or `food_preferences` is refused with 422 naming it).
#[utoipa::path(post, path = "/api/v1/pets", tag = "dietplan", request_body = PetBody,
    responses((status = 201, body = Pet), (status = 422, description = "Invalid fields")),
    security(("bearer" = [])))]
async fn create(State(s): State<DietState>, p: Principal, Json(b): Json<PetBody>) -> Reply<Pet> {
    Ok(Done::created(svc::create(&s, &p, b).await?, "宠物已添加"))
}

/// One pet.
#[utoipa::path(get, path = "/api/v1/pets/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Pet id")),
    responses((status = 200, body = Pet), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Pet> {
    Ok(Done::ok(svc::get(&s, &p, id).await?, "获取成功"))
}

/// Change the fields the body names.
#[utoipa::path(put, path = "/api/v1/pets/{id}", tag = "dietplan", request_body = PetBody,
    params(("id" = Uuid, Path, description = "Pet id")),
    responses((status = 200, body = Pet), (status = 404, description = "Not found"),
              (status = 422, description = "Invalid fields")), security(("bearer" = [])))]
async fn update(
    State(s): State<DietState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<PetBody>,
) -> Reply<Pet> {
    Ok(Done::ok(svc::update(&s, &p, id, b).await?, "宠物已更新"))
}

/// Remove a pet (soft delete: its plans and meal history stay).
#[utoipa::path(delete, path = "/api/v1/pets/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Pet id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn delete(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Deleted> {
    svc::delete(&s, &p, id).await?;
    Ok(Done::ok(Deleted { id }, "宠物已删除"))
}
