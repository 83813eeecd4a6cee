//! `/api/auth/*`: admin login (token both top-level and in `data`), logout, status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use trellis_identity::accounts::LoginPolicy;
use trellis_identity::{ClientCtx, IdentityError};
use trellis_kernel::ApiError;
use trellis_kernel::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::{AUDIENCE, Admin, MaybeSignedIn};
use crate::envelope::{Reply, done};
use crate::error::MicroDockError;
use crate::state::MicroDockState;
use trellis_kernel::envelope::json_response;

pub fn router() -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// The administrator's credentials (seed 004 `POST /api/auth/login`).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MicroDockLoginBody)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenData {
    pub token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// The login answer: the envelope with the token also top-level (seed 004's clients read it
/// there), so it is documented whole rather than wrapped.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MicroDockLoginResponse)]
struct LoginResponse<'a> {
    success: bool,
    message: &'a str,
    token: &'a str,
    token_type: &'a str,
    expires_in: i64,
    data: &'a TokenData,
}

/// Administrator login. The token is returned top-level (as the seed's clients read it) and
/// in `data` (as its API reference shows).
#[utoipa::path(post, path = "/api/auth/login", tag = "microdock", request_body = LoginBody,
    responses((status = 200, body = LoginResponse), (status = 401, description = "用户名或密码错误"), (status = 403, description = "不是管理员")))]
async fn login(
    State(st): State<MicroDockState>,
    ctx: ClientCtx,
    Json(b): Json<LoginBody>,
) -> Result<Response, ApiError> {
    let policy = LoginPolicy {
        audience: AUDIENCE,
        access: chrono::Duration::minutes(st.settings.jwt_expire_minutes),
        // A non-admin's right password opens no session (issue 7 item 14).
        admins_only: true,
    };
    let out = st
        .identity
        .login_with(&b.username, &b.password, &ctx, &policy)
        .await
        .map_err(|e| match e {
            IdentityError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "用户名或密码错误",
            ),
            IdentityError::Forbidden => MicroDockError::NotAdmin.into(),
            other => other.into(),
        })?;
    let data = TokenData {
        token: out.tokens.access_token,
        token_type: "bearer",
        expires_in: out.tokens.expires_in,
    };
    let body = serde_json::to_vec(&LoginResponse {
        success: true,
        message: "登录成功",
        token: &data.token,
        token_type: data.token_type,
        expires_in: data.expires_in,
        data: &data,
    })
    .map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, body))
}

/// Administrator logout: the session is revoked, so the token stops working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "microdock",
    responses((status = 200, description = "登出成功"), (status = 401)), security(("bearer" = [])))]
async fn logout(State(st): State<MicroDockState>, Admin(p): Admin) -> Reply<()> {
    st.identity.logout_principal(&p).await?;
    Ok(done("登出成功", ()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthStatus {
    pub is_logged_in: bool,
    pub username: Option<String>,
    pub is_admin: bool,
}

/// Authentication status; works with or without a token. Any valid Trellis token counts as
/// signed in; `is_admin` says whether it is a MicroDock admin token of an account that is an
/// administrator now (issue 7 item 14: a non-admin's valid token is `is_logged_in: true`).
#[utoipa::path(get, path = "/api/auth/me", tag = "microdock", responses((status = 200, body = AuthStatus)))]
async fn me(
    State(st): State<MicroDockState>,
    MaybeSignedIn(p): MaybeSignedIn,
) -> Reply<AuthStatus> {
    let status = match p {
        Some((p, is_admin)) => AuthStatus {
            is_logged_in: true,
            username: Some(st.identity.user(p.user_id).await?.username),
            is_admin,
        },
        None => AuthStatus {
            is_logged_in: false,
            username: None,
            is_admin: false,
        },
    };
    Ok(done("认证状态获取成功", status))
}
