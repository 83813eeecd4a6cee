//! Register, log in, refresh, and the caller's own account: `POST /api/v1/auth/register`,
//! `/verify-register`, `/login`, `/refresh`, `GET /me`, `PUT /profile`.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::{ClientCtx, Principal};
use trellis_kernel::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Done, Reply};
use crate::service::auth::{self, DietTokens, DietUser, ProfileChange, SignedIn, Signup};
use crate::state::DietState;

pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(verify_register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .routes(routes!(update_profile))
}

/// `POST /auth/register` and `/auth/verify-register`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietRegisterBody)]
struct RegisterBody {
    /// 3–50 letters, digits or underscores, unique ignoring case (identity's rule, shared by
    /// every Trellis app; the seed also allowed `-`).
    #[serde(default)]
    #[schema(required = true, pattern = "^[A-Za-z0-9_]{3,50}$")]
    username: String,
    /// The e-mail address the `register` code was sent to.
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// 8–128 characters mixing two of lower case, upper case, digits and symbols, neither the
    /// username nor the e-mail, not a common password (identity's policy; the seed allowed
    /// 6–100).
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    password: String,
    /// The 6-digit code sent with `code_type` `register`.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{6}$")]
    code: String,
}

impl RegisterBody {
    fn signup(&self) -> Signup<'_> {
        Signup {
            username: &self.username,
            email: &self.email,
            password: &self.password,
            code: &self.code,
        }
    }
}

/// Register with an e-mail code and sign in. Input problems are one 422 naming every field;
/// a wrong or expired code is 422 naming `code`, the third wrong code 429 (the code is then
/// spent); a taken username or e-mail is 409 and does not spend the code.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "dietplan", request_body = RegisterBody,
    responses((status = 200, body = SignedIn, description = "Registered and signed in"),
        (status = 409, description = "`username_taken` or `email_taken`"),
        (status = 422, description = "Invalid field, weak password, wrong or expired code (detail names each)"),
        (status = 429, description = "`verification_code_attempts_exceeded`")))]
async fn register(
    State(st): State<DietState>,
    ctx: ClientCtx,
    Json(b): Json<RegisterBody>,
) -> Reply<SignedIn> {
    Ok(Done::ok(
        auth::register(&st, b.signup(), &ctx).await?,
        "注册成功",
    ))
}

/// Register with an e-mail code and sign in (the seed's name for `POST /auth/register`;
/// same body, same answers).
#[utoipa::path(post, path = "/api/v1/auth/verify-register", tag = "dietplan", request_body = RegisterBody,
    responses((status = 200, body = SignedIn, description = "Registered and signed in"),
        (status = 409, description = "`username_taken` or `email_taken`"),
        (status = 422, description = "Invalid field, weak password, wrong or expired code (detail names each)"),
        (status = 429, description = "`verification_code_attempts_exceeded`")))]
async fn verify_register(
    State(st): State<DietState>,
    ctx: ClientCtx,
    Json(b): Json<RegisterBody>,
) -> Reply<SignedIn> {
    Ok(Done::ok(
        auth::register(&st, b.signup(), &ctx).await?,
        "注册成功",
    ))
}

/// `POST /auth/login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietLoginBody)]
struct LoginBody {
    /// Username or e-mail address (an account of any Trellis app).
    #[serde(default)]
    #[schema(required = true)]
    username: String,
    /// Password.
    #[serde(default)]
    #[schema(required = true)]
    password: String,
}

/// Log in by username or e-mail. Unknown account and wrong password are the same 401; ten
/// failures from one IP lock that IP out of the account (429, doubling from a minute).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "dietplan", request_body = LoginBody,
    responses((status = 200, body = SignedIn, description = "Signed in"),
        (status = 401, description = "`invalid_credentials` or `account_not_active`"),
        (status = 429, description = "`account_locked` or `login_rate_limited`, with Retry-After")))]
async fn login(
    State(st): State<DietState>,
    ctx: ClientCtx,
    Json(b): Json<LoginBody>,
) -> Reply<SignedIn> {
    let out = auth::login(&st, &b.username, &b.password, &ctx).await?;
    Ok(Done::ok(out, "登录成功"))
}

/// `POST /auth/refresh`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietRefreshBody)]
struct RefreshBody {
    /// The refresh token of the last login or refresh.
    #[serde(default)]
    #[schema(required = true)]
    refresh_token: String,
}

/// Exchange a refresh token for a new pair; the presented token is spent. Presenting a spent
/// token again more than 10 s later revokes the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "dietplan", request_body = RefreshBody,
    responses((status = 200, body = DietTokens, description = "New tokens"),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`")))]
async fn refresh(State(st): State<DietState>, Json(b): Json<RefreshBody>) -> Reply<DietTokens> {
    Ok(Done::ok(
        auth::refresh(&st, &b.refresh_token).await?,
        "刷新成功",
    ))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "dietplan",
    responses((status = 200, body = DietUser, description = "The caller's account")),
    security(("bearer" = [])))]
async fn me(State(st): State<DietState>, p: Principal) -> Reply<DietUser> {
    Ok(Done::ok(auth::me(&st, &p).await?, "获取成功"))
}

/// `PUT /auth/profile`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DietProfileBody)]
struct ProfileBody {
    /// 1–50 characters, not blank, no control characters (stored trimmed); absent or null
    /// keeps the current one.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    nickname: Option<String>,
    /// Exactly 11 digits; absent or null keeps the current one.
    #[schema(pattern = "^[0-9]{11}$")]
    phone: Option<String>,
}

/// Update the nickname and/or phone; absent fields are unchanged.
#[utoipa::path(put, path = "/api/v1/auth/profile", tag = "dietplan", request_body = ProfileBody,
    responses((status = 200, body = DietUser, description = "The updated account"),
        (status = 422, description = "`nickname` or `phone` invalid (detail names each)")),
    security(("bearer" = [])))]
async fn update_profile(
    State(st): State<DietState>,
    p: Principal,
    Json(b): Json<ProfileBody>,
) -> Reply<DietUser> {
    let change = ProfileChange {
        nickname: b.nickname,
        phone: b.phone,
    };
    Ok(Done::ok(
        auth::update_profile(&st, &p, change).await?,
        "更新成功",
    ))
}
