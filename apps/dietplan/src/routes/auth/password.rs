//! Forgotten and changed passwords: `POST /api/v1/auth/password/send-code`,
//! `POST /password/reset`, `PUT /password`.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::{ClientCtx, Principal};
use trellis_kernel::extract::{ClientIp, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Done, Reply};
use crate::service::auth::{self, CodeSent, Notice};
use crate::state::DietState;

pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(send_reset_code))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
}

/// `POST /auth/password/send-code`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietResetCodeBody)]
struct ResetCodeBody {
    /// The account's e-mail address (at most 254 characters).
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
}

/// Send a password-reset code. The answer is the same whether or not an account has the
/// e-mail (only an account's address is mailed); limits as `POST /auth/send-code`.
#[utoipa::path(post, path = "/api/v1/auth/password/send-code", tag = "dietplan", request_body = ResetCodeBody,
    responses((status = 200, body = CodeSent, description = "Code sent if the e-mail has an account"),
        (status = 422, description = "`email` invalid"),
        (status = 429, description = "Cooldown, daily or per-IP limit, with Retry-After")))]
async fn send_reset_code(
    State(st): State<DietState>,
    ip: ClientIp,
    Json(b): Json<ResetCodeBody>,
) -> Reply<CodeSent> {
    let sent = auth::send_reset_code(&st, &b.email, ip.0).await?;
    Ok(Done::ok(sent, "如果该邮箱已注册，您将收到验证码"))
}

/// `POST /auth/password/reset`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietResetBody)]
struct ResetBody {
    /// The account's e-mail address.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// The 6-digit code sent by `POST /auth/password/send-code`.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{6}$")]
    code: String,
    /// The new password (identity's policy, as at registration).
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    new_password: String,
}

/// Set a new password with an e-mailed code; every session of the account is signed out. An
/// unknown e-mail answers like a wrong code.
#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "dietplan", request_body = ResetBody,
    responses((status = 200, body = Notice, description = "Password reset; log in with the new one"),
        (status = 422, description = "Invalid field, weak password, wrong or expired code (detail names each)"),
        (status = 429, description = "`verification_code_attempts_exceeded`")))]
async fn reset_password(
    State(st): State<DietState>,
    ctx: ClientCtx,
    Json(b): Json<ResetBody>,
) -> Reply<Notice> {
    auth::reset_password(&st, &b.email, &b.code, &b.new_password, &ctx).await?;
    let message = "密码重置成功，请使用新密码登录";
    Ok(Done::ok(Notice { message }, message))
}

/// `PUT /auth/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietChangePasswordBody)]
struct ChangePasswordBody {
    /// The current password.
    #[serde(default)]
    #[schema(required = true)]
    old_password: String,
    /// The new password (identity's policy; must differ from the current one).
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    new_password: String,
}

/// Change the password; every other session of the account is signed out, this one stays.
#[utoipa::path(put, path = "/api/v1/auth/password", tag = "dietplan", request_body = ChangePasswordBody,
    responses((status = 200, body = Notice, description = "Password changed"),
        (status = 422, description = "`wrong_password` (old_password) or `weak_password` (new_password)")),
    security(("bearer" = [])))]
async fn change_password(
    State(st): State<DietState>,
    p: Principal,
    ctx: ClientCtx,
    Json(b): Json<ChangePasswordBody>,
) -> Reply<Notice> {
    auth::change_password(&st, &p, &b.old_password, &b.new_password, &ctx).await?;
    let message = "密码修改成功";
    Ok(Done::ok(Notice { message }, message))
}
