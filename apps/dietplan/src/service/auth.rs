//! The seed-003 auth API (`/api/v1/auth`, originals.md §3.1 and §3.7) as a facade over the
//! shared identity: one account works in every Trellis app (identity's `users` table), the
//! seed's extra user fields live in `diet_profiles`, and every rule about codes, passwords,
//! sessions and limits is identity's.
//!
//! What the facade adds is the seed's shapes and statuses:
//! - the user object `{id, username, email, nickname, phone, avatar_url, is_active,
//!   is_superuser, created_at}` and `tokens {access_token, refresh_token, token_type:
//!   "bearer", expires_in}`;
//! - per-field 422s (`detail: [{field, message, type}]`) for every input problem, checked
//!   here with identity's own parsers and password policy before identity is called, so no
//!   code is spent on a request that cannot succeed;
//! - identity's errors in the seed's statuses ([`seed_error`]): a wrong, expired or missing
//!   code is 422 (identity: 400), the third wrong attempt 429 (identity: 400), a wrong current
//!   password 422 (the original's `ValidationException`), an inactive account at login 401.
//!
//! Codes (identity's `codes.rs`): 6 digits, bound to e-mail and purpose, 10 minutes, single
//! use, 3 wrong attempts burn a code, a new code replaces the old one, a cooldown of
//! `TRELLIS_CODE_COOLDOWN_SECONDS` (60) per e-mail and purpose, 10 sends per e-mail per UTC
//! day, `TRELLIS_CODE_IP_PER_HOUR` (20) per client IP. Sending answers the same whether or
//! not an account has the e-mail; the code is mailed only where it can be used.
//!
//! Layout: this module holds the shapes; `checks` the per-field checks and the error
//! mapping, `codes` sending codes, `account` registration, login, refresh and profile,
//! `password` the forgotten and changed password.

mod account;
mod checks;
mod codes;
mod password;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trellis_identity::auth::TokenPair;
use trellis_identity::domain::{CodePurpose, Role, UserStatus};
use trellis_identity::store::users::User;
use uuid::Uuid;

use crate::error::DietError;
use crate::state::DietState;
use crate::store::profiles::{self, Profile};

pub use account::{login, me, refresh, register, update_profile};
pub use checks::seed_error;
pub use codes::{send_code, send_reset_code, verify_code};
pub use password::{change_password, reset_password};

/// Minutes a code stays valid (identity's `codes.rs` TTL: 600 s; seed 003
/// `verification_code_expire_minutes = 10`).
pub const CODE_EXPIRE_MINUTES: i64 = 10;

/// Codes one e-mail may be sent per UTC day, all purposes together (identity's `codes.rs`
/// `DAILY_LIMIT`; seed 003 `verification_code_max_daily_sends = 10`).
pub const DAILY_SENDS: i64 = 10;

/// Longest nickname, in characters (originals.md §3.1 `nickname?(1-50)`).
pub const NICKNAME_MAX: usize = 50;

/// What a code is for, as seed 003 spells it (`code_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DietCodeType)]
pub enum CodeType {
    /// Proves an e-mail before an account is registered with it (mailed only if no account
    /// has it).
    Register,
    /// Authorizes a password reset (mailed only if an account has the e-mail).
    PasswordReset,
}

impl CodeType {
    /// The type spelled `s` exactly, if any.
    pub fn parse(s: &str) -> Option<CodeType> {
        match s {
            "register" => Some(CodeType::Register),
            "password_reset" => Some(CodeType::PasswordReset),
            _ => None,
        }
    }

    /// The seed's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeType::Register => "register",
            CodeType::PasswordReset => "password_reset",
        }
    }

    /// Identity's purpose for it.
    fn purpose(self) -> CodePurpose {
        match self {
            CodeType::Register => CodePurpose::Register,
            CodeType::PasswordReset => CodePurpose::ResetPassword,
        }
    }
}

/// An account as seed 003 shows it (originals.md §3.7 `user`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietUser)]
pub struct DietUser {
    /// Account id (UUIDv7), the same in every Trellis app.
    pub id: Uuid,
    /// Username as registered (identity's rule: 3–50 of `[A-Za-z0-9_]`, unique ignoring case).
    pub username: String,
    /// E-mail address, lower-cased.
    pub email: String,
    /// Nickname (1–50 characters), null until set with `PUT /api/v1/auth/profile`.
    pub nickname: Option<String>,
    /// Phone number (11 digits), null until set with `PUT /api/v1/auth/profile`.
    pub phone: Option<String>,
    /// Profile picture URL; null (this app has no avatar upload; an avatar set in another
    /// Trellis app shows here).
    pub avatar_url: Option<String>,
    /// Whether the account may sign in (identity status `active`).
    pub is_active: bool,
    /// Whether the account administers Trellis (identity role `admin` or `super_admin`).
    pub is_superuser: bool,
    /// Registration time (UTC).
    pub created_at: DateTime<Utc>,
}

impl DietUser {
    fn new(u: User, p: Profile) -> DietUser {
        DietUser {
            id: u.id,
            username: u.username,
            email: u.email,
            nickname: p.nickname,
            phone: p.phone,
            avatar_url: u.avatar_url,
            is_active: u.status == UserStatus::Active,
            is_superuser: matches!(u.role, Role::Admin | Role::SuperAdmin),
            created_at: u.created_at,
        }
    }
}

/// A session's tokens in seed 003's shape (originals.md §3.7 `tokens`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietTokens)]
pub struct DietTokens {
    /// JWT for `Authorization: Bearer <token>` (valid for every `/api/v1` app).
    pub access_token: String,
    /// Opaque single-use token for `POST /api/v1/auth/refresh`; each refresh answers a new
    /// one. The spent one presented again more than 10 s later revokes the session
    /// (identity's reuse detection); within 10 s it answers the same successor.
    pub refresh_token: String,
    /// Always `bearer` (the seed's spelling).
    pub token_type: &'static str,
    /// Access token lifetime in seconds (`JWT_ACCESS_TOKEN_EXPIRE_MINUTES` × 60, 1800).
    pub expires_in: i64,
}

impl From<TokenPair> for DietTokens {
    fn from(t: TokenPair) -> DietTokens {
        DietTokens {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "bearer",
            expires_in: t.expires_in,
        }
    }
}

/// A registration or login: the account and its new session's tokens.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietSignedIn)]
pub struct SignedIn {
    /// The account.
    pub user: DietUser,
    /// The new session's tokens.
    pub tokens: DietTokens,
}

/// The answer to a code request (originals.md §3.7 send response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DietCodeSent)]
pub struct CodeSent {
    /// The e-mail address, normalized (trimmed, lower-cased).
    pub email: String,
    /// What the code is for.
    pub code_type: CodeType,
    /// Seconds before another code for this e-mail and type may be requested
    /// (`TRELLIS_CODE_COOLDOWN_SECONDS`, default 60).
    pub cooldown_seconds: u64,
    /// Codes this e-mail may still be sent today (UTC), out of 10.
    pub remaining_daily_sends: i64,
    /// Minutes the code stays valid (10).
    pub expire_minutes: i64,
}

/// The answer to a code check (the original's `VerifyCodeResponse`); a wrong code is an
/// error, never `is_valid: false`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietCodeChecked)]
pub struct CodeChecked {
    /// Always true (a wrong, expired or burned code is answered with an error).
    pub is_valid: bool,
    /// What the check found, for people.
    pub message: &'static str,
}

/// A confirmation with nothing else to return (the seed's `{message}` data).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietNotice)]
pub struct Notice {
    /// What happened, for people.
    pub message: &'static str,
}

/// A registration as clients send it (`POST /auth/register`, `/auth/verify-register`).
pub struct Signup<'a> {
    /// Wanted username.
    pub username: &'a str,
    /// E-mail address the code was sent to.
    pub email: &'a str,
    /// Password in clear (identity's policy).
    pub password: &'a str,
    /// The 6-digit `register` code.
    pub code: &'a str,
}

/// Profile fields to change; `None` keeps a field as it is.
pub struct ProfileChange {
    /// New nickname: 1–50 characters, not blank, no control characters; stored trimmed.
    pub nickname: Option<String>,
    /// New phone number: exactly 11 ASCII digits.
    pub phone: Option<String>,
}

fn access_life(st: &DietState) -> chrono::Duration {
    chrono::Duration::minutes(st.identity.settings().access_token_minutes)
}

/// The account with its diet-planner profile.
async fn diet_user(st: &DietState, user: User) -> Result<DietUser, DietError> {
    let profile = profiles::get(&st.platform.db, user.id)
        .await?
        .unwrap_or_default();
    Ok(DietUser::new(user, profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_types_round_trip() {
        for t in [CodeType::Register, CodeType::PasswordReset] {
            assert_eq!(CodeType::parse(t.as_str()), Some(t));
        }
        assert_eq!(CodeType::parse("reset_password"), None);
    }
}
