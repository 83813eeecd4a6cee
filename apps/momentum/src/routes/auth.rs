//! `/auth/*` (seed 002 "认证相关") and the original's alias `PUT /users/profile`.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::ClientCtx;
use trellis_identity::auth::TokenPair;
use trellis_kernel::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::Account;
use crate::domain::Patch;
use crate::envelope::{Reply, created, ok};
use crate::error::MomentumError;
use crate::service::auth::{self, Profile, ProfileChange, Registration, SignedIn};
use crate::state::MomentumState;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(get_profile, update_profile))
        .routes(routes!(update_user_profile))
}

/// `POST /auth/register`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumRegisterBody)]
struct RegisterBody {
    /// E-mail address.
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 3–50 letters, digits and `_`, unique ignoring case.
    #[serde(default)]
    #[schema(min_length = 3, max_length = 50)]
    username: String,
    /// Display name, 1–100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// At least 8 characters (identity's password policy).
    #[serde(default)]
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// Registers an account and provisions its workspace (owner), first team with its default
/// workflow, project statuses and labels, in one transaction; answers signed in.
#[utoipa::path(post, path = "/auth/register", tag = "momentum", request_body = RegisterBody,
    responses((status = 201, body = SignedIn), (status = 409, description = "USER_EMAIL_EXISTS or USER_USERNAME_EXISTS")))]
async fn register(
    State(st): State<MomentumState>,
    ctx: ClientCtx,
    Json(b): Json<RegisterBody>,
) -> Reply<SignedIn> {
    let r = Registration {
        email: &b.email,
        username: &b.username,
        name: &b.name,
        password: &b.password,
    };
    Ok(created(auth::register(&st, r, &ctx).await?, "registered"))
}

/// `POST /auth/login`: one of `email`, `username`, `username_or_email`, and the password.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumLoginBody)]
struct LoginBody {
    /// E-mail address (the original's field).
    email: Option<String>,
    /// Username.
    username: Option<String>,
    /// Either.
    username_or_email: Option<String>,
    /// Password.
    #[serde(default)]
    password: String,
}

/// Signs in. Wrong credentials: 401 `INVALID_CREDENTIALS` (unknown account and wrong password
/// are not told apart); repeated failures lock the source out for a while (429).
#[utoipa::path(post, path = "/auth/login", tag = "momentum", request_body = LoginBody,
    responses((status = 200, body = SignedIn)))]
async fn login(
    State(st): State<MomentumState>,
    ctx: ClientCtx,
    Json(b): Json<LoginBody>,
) -> Reply<SignedIn> {
    let who = b
        .username_or_email
        .or(b.email)
        .or(b.username)
        .filter(|w| !w.trim().is_empty())
        .ok_or_else(|| {
            MomentumError::field(
                "email",
                "required",
                "email, username or username_or_email is required",
            )
        })?;
    Ok(ok(
        auth::login(&st, &who, &b.password, &ctx).await?,
        "login successful",
    ))
}

/// `POST /auth/refresh`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumRefreshBody)]
struct RefreshBody {
    /// The refresh token of the last login or refresh.
    refresh_token: String,
}

/// Exchanges a refresh token for a new pair. Each refresh token works once; presenting a
/// spent one again (after a 10 s grace for concurrent refreshes) signs the session out.
#[utoipa::path(post, path = "/auth/refresh", tag = "momentum", request_body = RefreshBody,
    responses((status = 200, body = TokenPair)))]
async fn refresh(State(st): State<MomentumState>, Json(b): Json<RefreshBody>) -> Reply<TokenPair> {
    Ok(ok(
        auth::refresh(&st, &b.refresh_token).await?,
        "token refreshed",
    ))
}

/// Signs the session out: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "momentum",
    responses((status = 200)), security(("bearer" = [])))]
async fn logout(State(st): State<MomentumState>, Account(p): Account) -> Reply<()> {
    st.identity
        .logout_principal(&p)
        .await
        .map_err(MomentumError::from)?;
    Ok(ok((), "logged out"))
}

/// The caller's profile and current workspace.
#[utoipa::path(get, path = "/auth/profile", tag = "momentum",
    responses((status = 200, body = Profile)), security(("bearer" = [])))]
async fn get_profile(State(st): State<MomentumState>, Account(p): Account) -> Reply<Profile> {
    Ok(ok(auth::profile(&st, &p).await?, "profile"))
}

/// `PUT /auth/profile`: absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumProfileBody)]
struct ProfileBody {
    /// Display name, 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    /// New username.
    username: Option<String>,
    /// New e-mail address.
    email: Option<String>,
    /// Avatar URL (http(s)); `null` or `""` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    avatar_url: Patch<String>,
}

impl From<ProfileBody> for ProfileChange {
    fn from(b: ProfileBody) -> Self {
        ProfileChange {
            name: b.name,
            username: b.username,
            email: b.email,
            avatar_url: b.avatar_url,
        }
    }
}

/// Updates the caller's name, username, e-mail or avatar.
#[utoipa::path(put, path = "/auth/profile", tag = "momentum", request_body = ProfileBody,
    responses((status = 200, body = Profile), (status = 409)), security(("bearer" = [])))]
async fn update_profile(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<ProfileBody>,
) -> Reply<Profile> {
    Ok(ok(
        auth::update_profile(&st, &p, b.into()).await?,
        "profile updated",
    ))
}

/// The original's path for [`update_profile`].
#[utoipa::path(put, path = "/users/profile", tag = "momentum", request_body = ProfileBody,
    responses((status = 200, body = Profile), (status = 409)), security(("bearer" = [])))]
async fn update_user_profile(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<ProfileBody>,
) -> Reply<Profile> {
    Ok(ok(
        auth::update_profile(&st, &p, b.into()).await?,
        "profile updated",
    ))
}
