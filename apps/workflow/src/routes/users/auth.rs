//! `/api/v1/users/auth/*`: register, login, refresh, logout, password reset, availability.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use trellis_identity::accounts::{LoginOutcome, Registration};
use trellis_identity::auth::TokenPair;
use trellis_identity::store::users::User;
use trellis_identity::{ClientCtx, Principal};
use trellis_kernel::extract::{ClientIp, Json, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::public::{LogoutBody, SendCodeBody, send_code};
use crate::envelope::{Done, Reply};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(reset_password))
        .routes(routes!(send_code_auth))
        .routes(routes!(check_username))
        .routes(routes!(check_email))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    /// 3-50 letters, digits or underscores, unique ignoring case (docs/API.md "Rules").
    #[schema(pattern = "^[A-Za-z0-9_]{3,50}$")]
    pub username: String,
    /// An e-mail address (RFC 5322 addr-spec, at most 254 characters; trimmed, lower-cased).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8-128 characters of at least two classes, not a common password (docs/API.md "Rules").
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// The code mailed by send-verification-code with purpose `register`.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// Register an account (requires an email code); the account is active at once.
#[utoipa::path(post, path = "/api/v1/users/auth/register", tag = "workflow", request_body = RegisterBody,
    responses((status = 201, body = User), (status = 409, description = "Username or email taken"), (status = 400, description = "Bad code"), (status = 422, description = "Invalid field or weak password")))]
async fn register(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    ctx: ClientCtx,
    Json(b): Json<RegisterBody>,
) -> Reply<User> {
    let user = id
        .register(
            Registration {
                username: &b.username,
                email: &b.email,
                password: &b.password,
                code: &b.code,
            },
            &ctx,
        )
        .await?;
    Ok(Done::created(user, "注册成功"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username_or_email: String,
    pub password: String,
}

/// Log in with username or email.
#[utoipa::path(post, path = "/api/v1/users/auth/login", tag = "workflow", request_body = LoginBody,
    responses((status = 200, body = LoginOutcome), (status = 401, description = "Invalid credentials"), (status = 429, description = "Locked or rate limited")))]
async fn login(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    ctx: ClientCtx,
    Json(b): Json<LoginBody>,
) -> Reply<LoginOutcome> {
    let out = id.login(&b.username_or_email, &b.password, &ctx).await?;
    Ok(Done::ok(out, "登录成功"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair (the old one is spent).
#[utoipa::path(post, path = "/api/v1/users/auth/refresh", tag = "workflow", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid, expired or reused token")))]
async fn refresh(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    Json(b): Json<RefreshBody>,
) -> Reply<TokenPair> {
    Ok(Done::ok(id.refresh(&b.refresh_token).await?, "令牌已刷新"))
}

/// Log out the current session (and the refresh token's session, if given).
#[utoipa::path(post, path = "/api/v1/users/auth/logout", tag = "workflow", request_body = Option<LogoutBody>,
    responses((status = 200, description = "Signed out"), (status = 401, description = "Not authenticated")), security(("bearer" = [])))]
async fn logout(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    p: Principal,
    // No body, `null` and `{}` all mean "no refresh token" (the document marks the body
    // optional and nullable; `null` was refused, issue 7 item 13).
    body: Option<Json<Option<LogoutBody>>>,
) -> Reply<()> {
    id.logout_principal(&p).await?;
    if let Some(Json(Some(LogoutBody {
        refresh_token: Some(t),
    }))) = body
    {
        id.logout_refresh(&t).await?;
    }
    Ok(Done::ok((), "已登出"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetBody {
    /// An e-mail address (RFC 5322 addr-spec, at most 254 characters; trimmed, lower-cased).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The six-digit code that was mailed.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
    pub new_password: String,
}

/// Reset the password with an emailed code; signs out every session.
#[utoipa::path(post, path = "/api/v1/users/auth/reset-password", tag = "workflow", request_body = ResetBody,
    responses((status = 200, description = "Password reset"), (status = 400, description = "Bad code"), (status = 422, description = "Weak password")))]
async fn reset_password(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    ctx: ClientCtx,
    Json(b): Json<ResetBody>,
) -> Reply<()> {
    id.reset_password(&b.email, &b.code, &b.new_password, &ctx)
        .await?;
    Ok(Done::ok((), "密码已重置"))
}

/// Send a verification code (same as the public endpoint).
#[utoipa::path(post, path = "/api/v1/users/auth/send-verification-code", tag = "workflow", request_body = SendCodeBody,
    responses((status = 200, description = "Code sent (or silently withheld)"), (status = 429, description = "Limit reached")))]
async fn send_code_auth(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    ip: ClientIp,
    Json(body): Json<SendCodeBody>,
) -> Reply<()> {
    send_code(&id, ip, body).await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UsernameQuery {
    /// 3-50 letters, digits or underscores (docs/API.md "Rules").
    #[param(pattern = "^[A-Za-z0-9_]{3,50}$")]
    pub username: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Availability {
    pub value: String,
    pub available: bool,
}

/// Whether a username is free.
#[utoipa::path(get, path = "/api/v1/users/auth/check-username", tag = "workflow", params(UsernameQuery),
    responses((status = 200, body = Availability), (status = 422, description = "Not a valid username")))]
async fn check_username(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    Query(q): Query<UsernameQuery>,
) -> Reply<Availability> {
    let available = id.username_available(&q.username).await?;
    Ok(Done::ok(
        Availability {
            value: q.username,
            available,
        },
        if available {
            "用户名可用"
        } else {
            "用户名已被使用"
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EmailQuery {
    /// An e-mail address (RFC 5322 addr-spec, at most 254 characters).
    #[param(format = Email, max_length = 254)]
    pub email: String,
}

/// Whether an email is free.
#[utoipa::path(get, path = "/api/v1/users/auth/check-email", tag = "workflow", params(EmailQuery),
    responses((status = 200, body = Availability), (status = 422, description = "Not a valid email")))]
async fn check_email(
    State(WorkflowState { identity: id, .. }): State<WorkflowState>,
    Query(q): Query<EmailQuery>,
) -> Reply<Availability> {
    let available = id.email_available(&q.email).await?;
    Ok(Done::ok(
        Availability {
            value: q.email,
            available,
        },
        if available {
            "邮箱可用"
        } else {
            "邮箱已被注册"
        },
    ))
}
