//! `/api/v1/users/admin/*`: user administration (admins; roles by super admins).

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_identity::domain::{Role, UserStatus};
use trellis_identity::store::audit::Stored;
use trellis_identity::store::users::{ListFilter, User};
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(set_status))
        .routes(routes!(set_role))
        .routes(routes!(unlock))
        .routes(routes!(delete_user))
        .routes(routes!(audit))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    /// Substring of username or email: at most 100 characters, no control characters.
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]{0,100}$")]
    pub search: Option<String>,
    /// 1-based page (default 1).
    pub page: Option<i64>,
    /// Page size (default 20, at most 100).
    pub page_size: Option<i64>,
}

/// List users, newest first, filtered by status and role.
#[utoipa::path(get, path = "/api/v1/users/admin/users", tag = "workflow", params(ListQuery),
    responses((status = 200, body = Page<User>, description = "A page of users"), (status = 403, description = "Not an admin")), security(("bearer" = [])))]
async fn list_users(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<User>> {
    let filter = ListFilter {
        status: q.status,
        role: q.role,
        // Blank means no filter; control characters are refused even in an otherwise blank
        // search (`\t` was dropped as blank although the document forbids it).
        search: q
            .search
            .filter(|s| !s.trim().is_empty() || s.chars().any(char::is_control)),
    };
    let page = id
        .list_users(&p, filter, q.page.unwrap_or(1), q.page_size.unwrap_or(20))
        .await?;
    Ok(Done::ok(page, "获取成功"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    pub status: UserStatus,
}

/// Set a user's status; anything but `active` signs them out everywhere.
#[utoipa::path(put, path = "/api/v1/users/admin/users/{user_id}/status", tag = "workflow", params(("user_id" = Uuid, Path)),
    request_body = StatusBody, responses((status = 200, body = User), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn set_status(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
    Json(b): Json<StatusBody>,
) -> Reply<User> {
    Ok(Done::ok(
        id.set_status(&p, user_id, b.status).await?,
        "状态已更新",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleBody {
    pub role: Role,
}

/// Set a user's role (super admin only).
#[utoipa::path(put, path = "/api/v1/users/admin/users/{user_id}/role", tag = "workflow", params(("user_id" = Uuid, Path)),
    request_body = RoleBody, responses((status = 200, body = User), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn set_role(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
    Json(b): Json<RoleBody>,
) -> Reply<User> {
    Ok(Done::ok(
        id.set_role(&p, user_id, b.role).await?,
        "角色已更新",
    ))
}

/// Clear a login lockout.
#[utoipa::path(post, path = "/api/v1/users/admin/users/{user_id}/unlock", tag = "workflow", params(("user_id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn unlock(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
) -> Reply<User> {
    Ok(Done::ok(id.unlock_user(&p, user_id).await?, "账户已解锁"))
}

/// Delete a user and their sessions.
#[utoipa::path(delete, path = "/api/v1/users/admin/users/{user_id}", tag = "workflow", params(("user_id" = Uuid, Path)),
    responses((status = 200, description = "Deleted"), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn delete_user(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
) -> Reply<()> {
    id.delete_user(&p, user_id).await?;
    Ok(Done::ok((), "用户已删除"))
}

/// The newest audit entries about a user.
#[utoipa::path(get, path = "/api/v1/users/admin/users/{user_id}/audit", tag = "workflow", params(("user_id" = Uuid, Path)),
    responses((status = 200, body = [Stored]), (status = 403)), security(("bearer" = [])))]
async fn audit(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(user_id): Path<Uuid>,
) -> Reply<Vec<Stored>> {
    Ok(Done::ok(id.audit_log(&p, user_id).await?, "获取成功"))
}
