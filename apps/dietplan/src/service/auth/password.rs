//! Forgotten and changed passwords (`/auth/password/reset`, `PUT /auth/password`).

use trellis_identity::domain::Email;
use trellis_identity::{ClientCtx, Principal};

use super::checks::{Problems, seed_error};
use crate::error::DietError;
use crate::state::DietState;

/// Sets a new password with a `password_reset` code (`POST /auth/password/reset`); every
/// session of the account is signed out. An unknown e-mail answers like a wrong code (422
/// `invalid_verification_code`), so resets do not reveal accounts.
pub async fn reset_password(
    st: &DietState,
    email: &str,
    code: &str,
    new_password: &str,
    ctx: &ClientCtx,
) -> Result<(), DietError> {
    let mut p = Problems::default();
    let parsed = p.parse("email", email, "invalid_email", Email::parse);
    p.code("code", code);
    // Identity checks the username rule too once it knows the account.
    p.password(
        "new_password",
        new_password,
        "",
        parsed.as_ref().map_or(email, Email::as_str),
    );
    p.finish()?;
    st.identity
        .reset_password(email, code, new_password, ctx)
        .await
        .map_err(|e| seed_error(e, "new_password"))
}

/// Changes the caller's password (`PUT /auth/password`); every other session is signed out
/// (identity's rule), this one stays. Errors: 422 `wrong_password` naming `old_password`,
/// 422 `weak_password` naming `new_password` (also when it equals the old one).
pub async fn change_password(
    st: &DietState,
    p: &Principal,
    old_password: &str,
    new_password: &str,
    ctx: &ClientCtx,
) -> Result<(), DietError> {
    let mut problems = Problems::default();
    if old_password.is_empty() {
        problems.add("old_password", "required", "old_password is required");
    }
    if new_password.is_empty() {
        problems.add("new_password", "required", "new_password is required");
    }
    problems.finish()?;
    st.identity
        .change_password(p, old_password, new_password, ctx)
        .await
        .map_err(|e| seed_error(e, "new_password"))
}
