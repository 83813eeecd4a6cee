//! `/auth/*` (seed 002 "认证相关") and the original's alias `PUT /users/profile`.

use std::borrow::Cow;

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::ClientCtx;
use trellis_identity::auth::TokenPair;
use trellis_kernel::extract::Json;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
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
    /// E-mail address, unique ignoring case (the rules of `PUT /auth/profile`'s `email`).
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 254,
        pattern = r"^[!#-'*+\-./0-9=?A-Z^-~]{1,64}@[!#-'*+\-/0-9=?A-Z^-~]+(\.[!#-'*+\-/0-9=?A-Z^-~]+)+$"
    )]
    email: String,
    /// 3–50 letters, digits and `_`, unique ignoring case.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 3,
        max_length = 50,
        pattern = "^[A-Za-z0-9_]{3,50}$"
    )]
    username: String,
    /// Display name, 1–100 characters.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// 8–128 characters mixing two of lower case, upper case, digits and symbols, not a
    /// common password nor the username or e-mail (identity's password policy).
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    password: String,
}

/// Registers an account and provisions its workspace (owner), first team with its default
/// workflow, project statuses and labels, in one transaction; answers signed in. A weak
/// password is 422 naming `password`.
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
#[schema(as = MomentumLoginFields)]
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

/// [`LoginBody`] as the document states it: its fields, of which at least one of
/// `username_or_email`, `email` and `username` is a string that is not blank.
struct LoginDoc;

impl utoipa::PartialSchema for LoginDoc {
    fn schema() -> RefOr<Schema> {
        let named_by = |field: &str| {
            ObjectBuilder::new()
                .property(
                    field,
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(r"\S")),
                )
                .required(field)
        };
        AllOfBuilder::new()
            .item(<LoginBody as utoipa::PartialSchema>::schema())
            .item(
                AnyOfBuilder::new()
                    .item(named_by("username_or_email"))
                    .item(named_by("email"))
                    .item(named_by("username")),
            )
            .description(Some(
                "`POST /auth/login`: the password and the account's name or e-mail address in \
                 `username_or_email`, `email` or `username` (the first that is not blank counts).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for LoginDoc {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MomentumLoginBody")
    }
}

/// Signs in. Wrong credentials: 401 `INVALID_CREDENTIALS` (unknown account and wrong password
/// are not told apart); a deactivated account: 403; repeated failures lock the account or
/// the source out for a while (429).
#[utoipa::path(post, path = "/auth/login", tag = "momentum", request_body = LoginDoc,
    responses((status = 200, body = SignedIn),
        (status = 401, description = "INVALID_CREDENTIALS"),
        (status = 403, description = "ACCOUNT_NOT_ACTIVE")))]
async fn login(
    State(st): State<MomentumState>,
    ctx: ClientCtx,
    Json(b): Json<LoginBody>,
) -> Reply<SignedIn> {
    let who = [b.username_or_email, b.email, b.username]
        .into_iter()
        .flatten()
        .find(|w| !w.trim().is_empty())
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
/// An unknown, expired or spent refresh token is 401.
#[utoipa::path(post, path = "/auth/refresh", tag = "momentum", request_body = RefreshBody,
    responses((status = 200, body = TokenPair),
        (status = 401, description = "INVALID_REFRESH_TOKEN or REFRESH_TOKEN_REUSED")))]
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
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    /// New username: 3–50 letters, digits and `_`, unique ignoring case.
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_]{3,50}$")]
    username: Option<String>,
    /// New e-mail address, unique ignoring case: ASCII, a local part of at most 64
    /// characters, `@`, and a dotted domain, without white space, control characters or
    /// `<>(),;:\"[]` (no format: the server takes more addresses than RFC 5322's mailboxes,
    /// such as `a.@b.c`).
    #[schema(
        max_length = 254,
        pattern = r"^[!#-'*+\-./0-9=?A-Z^-~]{1,64}@[!#-'*+\-/0-9=?A-Z^-~]+(\.[!#-'*+\-/0-9=?A-Z^-~]+)+$"
    )]
    email: Option<String>,
    /// Avatar URL (http(s) or a path); `null` or `""` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$")]
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
