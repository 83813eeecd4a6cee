//! Sending codes (`POST /auth/send-code`, `/auth/password/send-code`) through identity,
//! answered with the seed's `{email, code_type, cooldown_seconds, remaining_daily_sends,
//! expire_minutes}`.

use std::net::IpAddr;

use trellis_identity::IdentityError;
use trellis_identity::domain::Email;

use super::checks::{Problems, seed_error};
use super::{CODE_EXPIRE_MINUTES, CodeChecked, CodeSent, CodeType, DAILY_SENDS};
use crate::error::DietError;
use crate::state::DietState;

/// Sends a `code_type` code to `email` (`POST /auth/send-code`). Errors: 422 naming `email`
/// or `code_type`; 429 `verification_code_cooldown`, `verification_code_daily_limit` or
/// `verification_code_ip_limit` with `Retry-After`.
pub async fn send_code(
    st: &DietState,
    email: &str,
    code_type: &str,
    ip: IpAddr,
) -> Result<CodeSent, DietError> {
    let mut p = Problems::default();
    let parsed = p.parse("email", email, "invalid_email", Email::parse);
    let kind = code_type_of(&mut p, code_type);
    p.finish()?;
    let (Some(email), Some(kind)) = (parsed, kind) else {
        return Err(DietError::field("body", "invalid", "invalid request"));
    };
    st.identity
        .send_code(&email, kind.purpose(), ip)
        .await
        .map_err(|e| seed_error(e, "password"))?;
    let sent_today = sends_today(st, &email).await?;
    Ok(CodeSent {
        email: email.as_str().to_string(),
        code_type: kind,
        cooldown_seconds: st.identity.settings().code_cooldown_seconds,
        remaining_daily_sends: (DAILY_SENDS - sent_today).max(0),
        expire_minutes: CODE_EXPIRE_MINUTES,
    })
}

/// Codes sent to `email` today (UTC), read from identity's daily counter (key
/// `code_day:<email>:<YYYYMMDD>` of identity's `codes.rs`, which counts every send whether
/// or not it was mailed, so the number says nothing about the account). `tests/api/auth.rs`
/// pins it: `remaining_daily_sends` counts down to 0 and the eleventh send is refused.
async fn sends_today(st: &DietState, email: &Email) -> Result<i64, DietError> {
    let key = format!(
        "code_day:{}:{}",
        email,
        st.platform.clock.now().format("%Y%m%d")
    );
    let count = st
        .platform
        .kv
        .get(&key)
        .await
        .map_err(IdentityError::from)?;
    Ok(count.and_then(|c| c.parse().ok()).unwrap_or(0))
}

/// Sends a `password_reset` code (`POST /auth/password/send-code`): the same answer whether
/// or not an account has the e-mail (only a real account is mailed). Errors: 422 naming
/// `email`; the same 429s as [`send_code`], for every e-mail alike.
pub async fn send_reset_code(
    st: &DietState,
    email: &str,
    ip: IpAddr,
) -> Result<CodeSent, DietError> {
    send_code(st, email, CodeType::PasswordReset.as_str(), ip).await
}

/// Checks a code without spending it (`POST /auth/verify-code`), so the registration or
/// reset that follows can use it (the original spent it here, and its verify-register then
/// failed). A wrong code counts toward the code's 3 attempts just as at registration.
/// Errors: 422 naming `email`, `code` or `code_type`; 422 `invalid_verification_code` or
/// `verification_code_expired` naming `code`; 429 `verification_code_attempts_exceeded`.
pub async fn verify_code(
    st: &DietState,
    email: &str,
    code: &str,
    code_type: &str,
) -> Result<CodeChecked, DietError> {
    let mut p = Problems::default();
    let parsed = p.parse("email", email, "invalid_email", Email::parse);
    p.code("code", code);
    let kind = code_type_of(&mut p, code_type);
    p.finish()?;
    let (Some(email), Some(kind)) = (parsed, kind) else {
        return Err(DietError::field("body", "invalid", "invalid request"));
    };
    st.identity
        .check_code(&email, kind.purpose(), code)
        .await
        .map_err(|e| seed_error(e, "password"))?;
    Ok(CodeChecked {
        is_valid: true,
        message: "验证码有效",
    })
}

/// `code_type` parsed, or a problem noted.
fn code_type_of(p: &mut Problems, code_type: &str) -> Option<CodeType> {
    let kind = CodeType::parse(code_type);
    if kind.is_none() {
        if code_type.is_empty() {
            p.add("code_type", "required", "code_type is required");
        } else {
            p.add(
                "code_type",
                "invalid_code_type",
                "code_type must be register or password_reset",
            );
        }
    }
    kind
}
