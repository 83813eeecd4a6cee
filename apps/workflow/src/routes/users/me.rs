//! `/api/v1/users/me*`: the caller's own account and sessions.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use trellis_identity::auth::SessionInfo;
use trellis_identity::store::users::{ProfilePatch, User};
use trellis_identity::{ClientCtx, Principal};
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(update_profile))
        .routes(routes!(change_password))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_others))
}

/// The current user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "workflow",
    responses((status = 200, body = User), (status = 401, description = "Not authenticated")), security(("bearer" = [])))]
async fn me(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
) -> Reply<User> {
    Ok(Done::ok(id.user(p.user_id).await?, "获取成功"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProfileBody {
    /// Shown name. At most 100 characters, no control characters but newline (identity's profile rules).
    #[schema(max_length = 100, pattern = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$")]
    pub display_name: Option<String>,
    /// Empty, or an http(s) URL of at most 500 characters without control characters but newline.
    #[schema(
        max_length = 500,
        pattern = r"^(https?://[^\x00-\x09\x0b-\x1f\x7f-\x9f]*)?$"
    )]
    pub avatar_url: Option<String>,
    /// About the user. At most 500 characters, no control characters but newline (identity's profile rules).
    #[schema(max_length = 500, pattern = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$")]
    pub bio: Option<String>,
    /// An IANA zone name. At most 64 characters, no control characters but newline (identity's profile rules).
    #[schema(max_length = 64, pattern = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$")]
    pub timezone: Option<String>,
    /// A language tag. At most 16 characters, no control characters but newline (identity's profile rules).
    #[schema(max_length = 16, pattern = r"^[^\x00-\x09\x0b-\x1f\x7f-\x9f]*$")]
    pub language: Option<String>,
}

/// Update profile fields; absent fields are unchanged.
#[utoipa::path(put, path = "/api/v1/users/me/profile", tag = "workflow", request_body = ProfileBody,
    responses((status = 200, body = User), (status = 422, description = "Invalid field")), security(("bearer" = [])))]
async fn update_profile(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Json(b): Json<ProfileBody>,
) -> Reply<User> {
    let patch = ProfilePatch {
        display_name: b.display_name,
        avatar_url: b.avatar_url,
        bio: b.bio,
        timezone: b.timezone,
        language: b.language,
    };
    Ok(Done::ok(id.update_profile(&p, patch).await?, "资料已更新"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordBody {
    pub old_password: String,
    pub new_password: String,
}

/// Change the password; every other session is signed out.
#[utoipa::path(post, path = "/api/v1/users/me/change-password", tag = "workflow", request_body = ChangePasswordBody,
    responses((status = 200, description = "Changed"), (status = 400, description = "Wrong current password"), (status = 422, description = "Weak password")),
    security(("bearer" = [])))]
async fn change_password(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    ctx: ClientCtx,
    Json(b): Json<ChangePasswordBody>,
) -> Reply<()> {
    id.change_password(&p, &b.old_password, &b.new_password, &ctx)
        .await?;
    Ok(Done::ok((), "密码已修改"))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/v1/users/me/sessions", tag = "workflow",
    responses((status = 200, body = [SessionInfo])), security(("bearer" = [])))]
async fn sessions(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
) -> Reply<Vec<SessionInfo>> {
    Ok(Done::ok(id.list_sessions(&p).await?, "获取成功"))
}

/// Sign out one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/users/me/sessions/{id}", tag = "workflow", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Revoked"), (status = 404, description = "No such session of yours")), security(("bearer" = [])))]
async fn revoke_session(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    Path(sid): Path<Uuid>,
) -> Reply<()> {
    id.revoke_session(&p, sid).await?;
    Ok(Done::ok((), "会话已注销"))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: usize,
}

/// Sign out every other session.
#[utoipa::path(post, path = "/api/v1/users/me/sessions/revoke-others", tag = "workflow",
    responses((status = 200, body = Revoked)), security(("bearer" = [])))]
async fn revoke_others(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
) -> Reply<Revoked> {
    let revoked = id.revoke_other_sessions(&p).await?;
    Ok(Done::ok(Revoked { revoked }, "其他会话已注销"))
}
