//! `POST /api/v1/auth/send-code` and `/verify-code`: a 6-digit e-mail code for registration or
//! a password reset, and checking it before use.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{ClientIp, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Done, Reply};
use crate::service::auth::{self, CodeChecked, CodeSent, CodeType};
use crate::state::DietState;

pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(send_code))
        .routes(routes!(verify_code))
}

/// `POST /auth/send-code`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietSendCodeBody)]
struct SendCodeBody {
    /// An e-mail address (at most 254 characters; trimmed, lower-cased).
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// `register` or `password_reset`.
    #[serde(default)]
    #[schema(required = true, value_type = CodeType)]
    code_type: String,
}

/// Send a verification code: 6 digits, valid 10 minutes, 3 attempts. The answer is the same
/// whether or not an account has the e-mail; a `register` code is mailed only to a free
/// address, a `password_reset` code only to an account's. 60 s between two codes per e-mail
/// and type, 10 codes per e-mail per UTC day, 20 per client IP per hour.
#[utoipa::path(post, path = "/api/v1/auth/send-code", tag = "dietplan", request_body = SendCodeBody,
    responses((status = 200, body = CodeSent, description = "Code sent (or, where it could not be used, silently withheld)"),
        (status = 422, description = "`email` or `code_type` invalid (detail names each)"),
        (status = 429, description = "`verification_code_cooldown`, `verification_code_daily_limit` or `verification_code_ip_limit`, with Retry-After")))]
async fn send_code(
    State(st): State<DietState>,
    ip: ClientIp,
    Json(b): Json<SendCodeBody>,
) -> Reply<CodeSent> {
    let sent = auth::send_code(&st, &b.email, &b.code_type, ip.0).await?;
    Ok(Done::ok(sent, "验证码已发送"))
}

/// `POST /auth/verify-code`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietVerifyCodeBody)]
struct VerifyCodeBody {
    /// The e-mail address the code was sent to.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// The 6-digit code.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{6}$")]
    code: String,
    /// `register` or `password_reset`, as it was requested.
    #[serde(default)]
    #[schema(required = true, value_type = CodeType)]
    code_type: String,
}

/// Check a code without spending it: the registration or reset that follows uses the same
/// code. A wrong code counts toward its 3 attempts (the third burns it, 429).
#[utoipa::path(post, path = "/api/v1/auth/verify-code", tag = "dietplan", request_body = VerifyCodeBody,
    responses((status = 200, body = CodeChecked, description = "The code is right; it stays usable"),
        (status = 422, description = "Invalid field, wrong or expired code (detail names each)"),
        (status = 429, description = "`verification_code_attempts_exceeded`")))]
async fn verify_code(
    State(st): State<DietState>,
    Json(b): Json<VerifyCodeBody>,
) -> Reply<CodeChecked> {
    let checked = auth::verify_code(&st, &b.email, &b.code, &b.code_type).await?;
    Ok(Done::ok(checked, "验证成功"))
}
