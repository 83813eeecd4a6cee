//! Input checks and error mapping of the auth facade: every input problem becomes one 422
//! listing each field (identity's parsers and password policy, so the messages are
//! identity's), and identity's errors take seed 003's statuses ([`seed_error`]).

use axum::http::StatusCode;
use trellis_identity::IdentityError;
use trellis_kernel::ApiError;
use trellis_kernel::error::FieldError;

use crate::error::DietError;

/// Input problems collected field by field, answered together as one 422.
#[derive(Default)]
pub(super) struct Problems(Vec<FieldError>);

impl Problems {
    pub(super) fn add(&mut self, field: &str, kind: &'static str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, kind, message));
    }

    /// `raw` parsed by identity's `parse`; a blank value is `required`, a bad one `kind`
    /// with identity's message.
    pub(super) fn parse<T>(
        &mut self,
        field: &str,
        raw: &str,
        kind: &'static str,
        parse: impl FnOnce(&str) -> Result<T, IdentityError>,
    ) -> Option<T> {
        if raw.trim().is_empty() {
            self.add(field, "required", format!("{field} is required"));
            return None;
        }
        match parse(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, kind, e.to_string());
                None
            }
        }
    }

    /// A code must be six ASCII digits (seed 003 `code(^\d{6}$)`).
    pub(super) fn code(&mut self, field: &str, raw: &str) {
        if raw.trim().is_empty() {
            self.add(field, "required", format!("{field} is required"));
        } else if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            self.add(
                field,
                "invalid_code",
                "验证码必须是 6 位数字 (code must be 6 digits)",
            );
        }
    }

    /// A new password must pass identity's policy (8–128 characters, two classes, not the
    /// username or e-mail, not common), reported with identity's message.
    pub(super) fn password(&mut self, field: &str, raw: &str, username: &str, email: &str) {
        if raw.is_empty() {
            self.add(field, "required", format!("{field} is required"));
        } else if let Err(e) = trellis_identity::password::check_policy(raw, username, email) {
            self.add(field, "weak_password", e.to_string());
        }
    }

    pub(super) fn finish(self) -> Result<(), DietError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DietError::Fields(self.0))
        }
    }
}

/// An error of `status` with a stable code, optionally naming the field at fault.
fn api(status: StatusCode, code: &'static str, message: String, field: Option<&str>) -> DietError {
    let e = ApiError::new(status, code, message.clone());
    DietError::Api(match field {
        Some(f) => e.with_fields(vec![FieldError::new(f, code, message)]),
        None => e,
    })
}

/// Identity's errors in seed 003's statuses (see [`crate::service::auth`]): wrong or expired
/// code 422 naming `code`, third wrong code 429, cooldown and daily cap 429 with
/// `Retry-After`, taken username or e-mail 409, bad login or inactive account 401, wrong
/// current password 422 naming `old_password`, weak password 422 naming `password_field`
/// (`password` or `new_password`). Everything else keeps identity's status and code (401
/// token errors, 429 lockout and per-IP limits, 503 busy).
pub fn seed_error(e: IdentityError, password_field: &'static str) -> DietError {
    use IdentityError as E;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match e {
        E::UsernameTaken => {
            DietError::conflict("username_taken", "用户名已存在 (username already taken)")
        }
        E::EmailTaken => {
            DietError::conflict("email_taken", "邮箱已被注册 (email already registered)")
        }
        E::InvalidCredentials => api(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "用户名或密码错误 (invalid username/email or password)".into(),
            None,
        ),
        E::AccountNotActive(status) => api(
            StatusCode::UNAUTHORIZED,
            "account_not_active",
            format!("用户已被禁用 (account is {status})"),
            None,
        ),
        E::WrongPassword => api(
            unprocessable,
            "wrong_password",
            "旧密码错误 (current password is incorrect)".into(),
            Some("old_password"),
        ),
        E::WeakPassword(m) => api(unprocessable, "weak_password", m, Some(password_field)),
        E::Invalid(m) => {
            let field = ["username", "email"]
                .into_iter()
                .find(|f| m.contains(f))
                .unwrap_or("body");
            DietError::field(field, "invalid", m)
        }
        E::CodeInvalid => api(
            unprocessable,
            "invalid_verification_code",
            "验证码错误 (verification code is incorrect)".into(),
            Some("code"),
        ),
        E::CodeExpired => api(
            unprocessable,
            "verification_code_expired",
            "验证码已过期或不存在，请重新获取 (verification code expired, used or not requested)"
                .into(),
            Some("code"),
        ),
        E::CodeBurned => DietError::Limited {
            code: "verification_code_attempts_exceeded",
            message: "验证码错误次数过多，请重新获取 (too many wrong attempts; request a new code)"
                .into(),
            retry_after: None,
        },
        E::CodeCooldown { retry_after } => DietError::Limited {
            code: "verification_code_cooldown",
            message: format!(
                "发送过于频繁，请 {retry_after} 秒后再试 (wait {retry_after} s before requesting another code)"
            ),
            retry_after: Some(retry_after),
        },
        E::CodeDailyLimit { retry_after } => DietError::Limited {
            code: "verification_code_daily_limit",
            message:
                "今日验证码发送次数已达上限 (daily verification code limit reached for this email)"
                    .into(),
            retry_after: Some(retry_after),
        },
        other => DietError::Identity(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_identity::domain::{Email, Username};

    fn status_and_code(e: DietError) -> (u16, String, Option<u64>) {
        let a = ApiError::from(e);
        (a.status.as_u16(), a.code.to_string(), a.retry_after)
    }

    #[test]
    fn identity_errors_get_seed_statuses() {
        let cases = [
            (IdentityError::CodeInvalid, 422, "invalid_verification_code"),
            (IdentityError::CodeExpired, 422, "verification_code_expired"),
            (
                IdentityError::CodeBurned,
                429,
                "verification_code_attempts_exceeded",
            ),
            (IdentityError::UsernameTaken, 409, "username_taken"),
            (IdentityError::EmailTaken, 409, "email_taken"),
            (
                IdentityError::InvalidCredentials,
                401,
                "invalid_credentials",
            ),
            (
                IdentityError::AccountNotActive("banned"),
                401,
                "account_not_active",
            ),
            (IdentityError::WrongPassword, 422, "wrong_password"),
            (IdentityError::Unauthenticated, 401, "not_authenticated"),
        ];
        for (e, status, code) in cases {
            let (s, c, _) = status_and_code(seed_error(e, "password"));
            assert_eq!((s, c.as_str()), (status, code));
        }
        let (s, c, retry) = status_and_code(seed_error(
            IdentityError::CodeCooldown { retry_after: 42 },
            "password",
        ));
        assert_eq!(
            (s, c.as_str(), retry),
            (429, "verification_code_cooldown", Some(42))
        );
    }

    #[test]
    fn weak_passwords_name_their_field() {
        let a = ApiError::from(seed_error(
            IdentityError::WeakPassword("too short".into()),
            "new_password",
        ));
        assert_eq!(a.status.as_u16(), 422);
        let fields = a.fields.unwrap_or_default();
        assert_eq!(fields[0].field, "new_password");
    }

    #[test]
    fn problems_list_every_field() {
        let mut p = Problems::default();
        p.parse("username", "a b", "invalid_username", Username::parse);
        p.parse("email", "", "invalid_email", Email::parse);
        p.code("code", "12345");
        p.password("password", "short", "", "");
        let Err(DietError::Fields(f)) = p.finish() else {
            panic!("expected field errors");
        };
        let names: Vec<_> = f.iter().map(|f| (f.field.as_str(), &*f.code)).collect();
        assert_eq!(
            names,
            [
                ("username", "invalid_username"),
                ("email", "required"),
                ("code", "invalid_code"),
                ("password", "weak_password")
            ]
        );
    }
}
