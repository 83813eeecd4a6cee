//! `/api/v1/users/public/*` and the code-sending endpoint shared with `/auth`.

use axum::extract::State;
use serde::Deserialize;

use trellis_identity::Identity;
use trellis_identity::domain::{CodePurpose, Email};
use trellis_kernel::extract::{ClientIp, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Done, Reply};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(send_code_public))
        .routes(routes!(logout_public))
}

/// Body of the send-verification-code endpoints.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SendCodeBody {
    /// An e-mail address (RFC 5322 addr-spec, at most 254 characters; trimmed, lower-cased).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// `register`, `reset_password` or `change_email`.
    pub purpose: CodePurpose,
}

/// Sends a 6-digit code; the answer is the same whether or not the account exists.
pub async fn send_code(identity: &Identity, ip: ClientIp, body: SendCodeBody) -> Reply<()> {
    let email = Email::parse(&body.email)?;
    identity.send_code(&email, body.purpose, ip.0).await?;
    Ok(Done::ok((), "验证码已发送，请查收邮件"))
}

/// Send a verification code (no authentication).
#[utoipa::path(post, path = "/api/v1/users/public/send-verification-code", tag = "workflow",
    request_body = SendCodeBody,
    responses((status = 200, description = "Code sent (or silently withheld)"), (status = 429, description = "Cooldown, daily or per-IP limit")))]
async fn send_code_public(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    ip: ClientIp,
    Json(body): Json<SendCodeBody>,
) -> Reply<()> {
    send_code(&id, ip, body).await
}

/// Body of logout.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct LogoutBody {
    pub refresh_token: Option<String>,
}

/// Log out with a refresh token; idempotent, needs no access token.
#[utoipa::path(post, path = "/api/v1/users/public/logout", tag = "workflow",
    request_body = Option<LogoutBody>, responses((status = 200, description = "Signed out")))]
async fn logout_public(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    // No body, `null` and `{}` all mean "no refresh token" (the document marks the body
    // optional and nullable; `null` was refused, issue 7 item 13).
    body: Option<Json<Option<LogoutBody>>>,
) -> Reply<()> {
    if let Some(Json(Some(LogoutBody {
        refresh_token: Some(t),
    }))) = body
    {
        id.logout_refresh(&t).await?;
    }
    Ok(Done::ok((), "已登出"))
}
