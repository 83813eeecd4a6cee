//! Registration, login, refresh and the caller's own account (`/auth/register`,
//! `/auth/verify-register`, `/auth/login`, `/auth/refresh`, `/auth/me`, `/auth/profile`).

use trellis_identity::accounts::Registration;
use trellis_identity::domain::{Email, Username};
use trellis_identity::tokens::AUD_API;
use trellis_identity::{ClientCtx, Principal};

use super::checks::{Problems, seed_error};
use super::{
    DietTokens, DietUser, NICKNAME_MAX, ProfileChange, SignedIn, Signup, access_life, diet_user,
};
use crate::error::DietError;
use crate::state::DietState;
use crate::store::profiles::{self, Profile};

/// Registers with a `register` code and signs the new account in (`POST /auth/register`,
/// `/auth/verify-register`). Every input problem is one 422 listing each field; a taken
/// username or e-mail is 409 without spending the code; code errors as [`seed_error`].
pub async fn register(
    st: &DietState,
    s: Signup<'_>,
    ctx: &ClientCtx,
) -> Result<SignedIn, DietError> {
    let mut p = Problems::default();
    let username = p.parse("username", s.username, "invalid_username", Username::parse);
    let email = p.parse("email", s.email, "invalid_email", Email::parse);
    p.password(
        "password",
        s.password,
        username.as_ref().map_or(s.username, Username::as_str),
        email.as_ref().map_or(s.email, Email::as_str),
    );
    p.code("code", s.code);
    p.finish()?;
    let user = st
        .identity
        .register(
            Registration {
                username: s.username,
                email: s.email,
                password: s.password,
                code: s.code,
            },
            ctx,
        )
        .await
        .map_err(|e| seed_error(e, "password"))?;
    let tokens = st
        .identity
        .sign_in_new_account(user.id, ctx, AUD_API, access_life(st))
        .await
        .map_err(|e| seed_error(e, "password"))?;
    Ok(SignedIn {
        user: DietUser::new(user, Profile::default()),
        tokens: tokens.into(),
    })
}

/// Signs in by username or e-mail (`POST /auth/login`). Unknown account and wrong password
/// are the same 401 `invalid_credentials`; a deactivated or banned account is 401
/// `account_not_active`; identity's lockout (10 failures per account and IP) and per-IP limit
/// are 429 with `Retry-After`.
pub async fn login(
    st: &DietState,
    who: &str,
    password: &str,
    ctx: &ClientCtx,
) -> Result<SignedIn, DietError> {
    let out = st
        .identity
        .login(who, password, ctx)
        .await
        .map_err(|e| seed_error(e, "password"))?;
    Ok(SignedIn {
        user: diet_user(st, out.user).await?,
        tokens: out.tokens.into(),
    })
}

/// A new token pair for a refresh token (`POST /auth/refresh`); the presented one is spent
/// (see [`DietTokens::refresh_token`]). Errors: 401 `invalid_refresh_token`,
/// `refresh_token_reused`.
pub async fn refresh(st: &DietState, token: &str) -> Result<DietTokens, DietError> {
    let pair = st
        .identity
        .refresh_with(token, access_life(st))
        .await
        .map_err(|e| seed_error(e, "password"))?;
    Ok(pair.into())
}

/// The caller's account (`GET /auth/me`).
pub async fn me(st: &DietState, p: &Principal) -> Result<DietUser, DietError> {
    let user = st.identity.user(p.user_id).await?;
    diet_user(st, user).await
}

/// Changes the caller's nickname and/or phone (`PUT /auth/profile`); absent fields stay.
/// Errors: 422 naming `nickname` or `phone`.
pub async fn update_profile(
    st: &DietState,
    p: &Principal,
    change: ProfileChange,
) -> Result<DietUser, DietError> {
    let mut problems = Problems::default();
    let nickname = change.nickname.as_deref().map(str::trim);
    if let Some(n) = nickname {
        let len = n.chars().count();
        if len == 0 || len > NICKNAME_MAX || n.chars().any(char::is_control) {
            problems.add(
                "nickname",
                "invalid_nickname",
                format!("昵称须为 1-{NICKNAME_MAX} 个字符，不含控制字符 (nickname must be 1-{NICKNAME_MAX} characters without control characters)"),
            );
        }
    }
    if let Some(phone) = change.phone.as_deref()
        && (phone.len() != 11 || !phone.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.add(
            "phone",
            "invalid_phone",
            "手机号必须是 11 位数字 (phone must be 11 digits)",
        );
    }
    problems.finish()?;
    if nickname.is_some() || change.phone.is_some() {
        let mut tx = st.platform.db.begin().await?;
        profiles::upsert(
            &mut tx,
            p.user_id,
            nickname,
            change.phone.as_deref(),
            st.platform.clock.now(),
        )
        .await?;
        tx.commit().await?;
    }
    me(st, p).await
}
