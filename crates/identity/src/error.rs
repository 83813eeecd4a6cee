//! Identity errors: one variant per client-visible condition, each with a stable code and a
//! status. Internal causes are logged once when converted, never sent to clients.

use axum::http::StatusCode;
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::kv::KvError;

/// Everything identity operations can fail with; converts into the API's error envelope.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// 422 `validation_error`: malformed input; carries the message shown to the client.
    #[error("{0}")]
    Invalid(String),
    /// 422 `weak_password`: the password fails the policy; carries which rule.
    #[error("{0}")]
    WeakPassword(String),
    /// 409 `username_taken`.
    #[error("username already taken")]
    UsernameTaken,
    /// 409 `email_taken`.
    #[error("email already registered")]
    EmailTaken,
    /// 401 `invalid_credentials`: unknown account or wrong password (deliberately not told
    /// apart, so accounts cannot be enumerated).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 400 `wrong_password`: the current password given to change it is wrong.
    #[error("current password is incorrect")]
    WrongPassword,
    /// 429 `account_locked`: too many failed logins; locked for a while.
    #[error("account locked")]
    AccountLocked {
        /// Seconds until the lock ends (`Retry-After`).
        retry_after: u64,
    },
    /// 403 `account_not_active`: the account is not active; carries its status
    /// (e.g. `suspended`).
    #[error("account is {0}")]
    AccountNotActive(&'static str),
    /// 400 `invalid_verification_code`: wrong code, attempts remain.
    #[error("verification code is invalid")]
    CodeInvalid,
    /// 400 `verification_code_expired`: no live code for this email and purpose (codes last
    /// 10 minutes and are single-use).
    #[error("verification code expired or not requested")]
    CodeExpired,
    /// 400 `verification_code_attempts_exceeded`: the 3rd wrong attempt deleted the code.
    #[error("too many wrong attempts")]
    CodeBurned,
    /// 429 `verification_code_cooldown`: a code for this email and purpose was sent recently.
    #[error("code resend cooldown")]
    CodeCooldown {
        /// Seconds until another code may be requested.
        retry_after: u64,
    },
    /// 429 `verification_code_daily_limit`: 10 codes for this email today (UTC).
    #[error("daily code limit")]
    CodeDailyLimit {
        /// Seconds until UTC midnight.
        retry_after: u64,
    },
    /// 429 `verification_code_ip_limit`: too many codes requested from this IP this hour.
    #[error("code ip limit")]
    CodeIpLimit {
        /// Seconds until this IP may request another code.
        retry_after: u64,
    },
    /// 429 `login_rate_limited`: too many login attempts from this IP this minute.
    #[error("login ip limit")]
    LoginIpLimit {
        /// Seconds until this IP may try again.
        retry_after: u64,
    },
    /// 401 `not_authenticated`: no bearer token was sent.
    #[error("authentication required")]
    Unauthenticated,
    /// 401 `invalid_token`: the access token is malformed or its signature is wrong.
    #[error("invalid token")]
    InvalidToken,
    /// 401 `token_expired`: the access token is past its `exp`; refresh it.
    #[error("token expired")]
    TokenExpired,
    /// 401 `token_revoked`: the token's session was signed out.
    #[error("token revoked")]
    TokenRevoked,
    /// 401 `invalid_refresh_token`: unknown or expired refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// 401 `refresh_token_reused`: an already-rotated refresh token came back, a sign of
    /// theft; the whole session is revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// 403 `insufficient_permissions`: authenticated, but the role does not allow this.
    #[error("insufficient permissions")]
    Forbidden,
    /// 404 `user_not_found`.
    #[error("user not found")]
    UserNotFound,
    /// 404 `session_not_found`: no such session of this user.
    #[error("session not found")]
    SessionNotFound,
    /// 503 `server_busy` with `Retry-After: 1`: the password-hashing pool stayed full for its
    /// whole admission wait.
    #[error("server busy")]
    Busy,
    /// A database failure not mapped to a condition above: NUL in text is 422, an unreachable
    /// database 503, anything else a logged 500.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A key-value store failure: logged, 503.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A bug or broken environment (key material, hash threads); logged, 500 without the
    /// detail.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        use IdentityError as E;
        let msg = e.to_string();
        let (status, code, message): (StatusCode, &'static str, String) = match e {
            E::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_error", m),
            E::WeakPassword(m) => (StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m),
            E::UsernameTaken => (StatusCode::CONFLICT, "username_taken", msg),
            E::EmailTaken => (StatusCode::CONFLICT, "email_taken", msg),
            E::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid username/email or password".into(),
            ),
            E::WrongPassword => (StatusCode::BAD_REQUEST, "wrong_password", msg),
            E::AccountLocked { retry_after } => {
                return ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "account_locked",
                    "too many failed logins; the account is temporarily locked",
                )
                .with_retry_after(retry_after);
            }
            E::AccountNotActive(s) => (
                StatusCode::FORBIDDEN,
                "account_not_active",
                format!("account is {s}"),
            ),
            E::CodeInvalid => (
                StatusCode::BAD_REQUEST,
                "invalid_verification_code",
                "verification code is incorrect".into(),
            ),
            E::CodeExpired => (
                StatusCode::BAD_REQUEST,
                "verification_code_expired",
                "verification code has expired or was not requested".into(),
            ),
            E::CodeBurned => (
                StatusCode::BAD_REQUEST,
                "verification_code_attempts_exceeded",
                "too many wrong attempts; request a new code".into(),
            ),
            E::CodeCooldown { retry_after } => {
                return limited(
                    "verification_code_cooldown",
                    "please wait before requesting another code",
                    retry_after,
                );
            }
            E::CodeDailyLimit { retry_after } => {
                return limited(
                    "verification_code_daily_limit",
                    "daily verification code limit reached for this email",
                    retry_after,
                );
            }
            E::CodeIpLimit { retry_after } => {
                return limited(
                    "verification_code_ip_limit",
                    "too many verification codes requested from this address",
                    retry_after,
                );
            }
            E::LoginIpLimit { retry_after } => {
                return limited(
                    "login_rate_limited",
                    "too many login attempts from this address",
                    retry_after,
                );
            }
            E::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "not_authenticated",
                "authentication required".into(),
            ),
            E::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "access token is invalid".into(),
            ),
            E::TokenExpired => (
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "access token has expired".into(),
            ),
            E::TokenRevoked => (
                StatusCode::UNAUTHORIZED,
                "token_revoked",
                "session has been signed out".into(),
            ),
            E::InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "refresh token is invalid or expired".into(),
            ),
            E::RefreshTokenReused => (
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "refresh token was already used; the session has been revoked".into(),
            ),
            E::Forbidden => (
                StatusCode::FORBIDDEN,
                "insufficient_permissions",
                "insufficient permissions".into(),
            ),
            E::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found", msg),
            E::SessionNotFound => (StatusCode::NOT_FOUND, "session_not_found", msg),
            E::Busy => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_busy",
                    "server is busy, retry shortly",
                )
                .with_retry_after(1);
            }
            E::Store(e) => return e.into(),
            E::Kv(e) => return e.into(),
            E::Internal(e) => return ApiError::internal(e),
        };
        ApiError::new(status, code, message)
    }
}

fn limited(code: &'static str, message: &'static str, retry_after: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message).with_retry_after(retry_after)
}
