//! Identity errors: one variant per client-visible condition, each with a stable code and a
//! status. Internal causes are logged once when converted, never sent to clients.

use axum::http::StatusCode;
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::kv::KvError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("username already taken")]
    UsernameTaken,
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("current password is incorrect")]
    WrongPassword,
    #[error("account locked")]
    AccountLocked { retry_after: u64 },
    #[error("account is {0}")]
    AccountNotActive(&'static str),
    #[error("verification code is invalid")]
    CodeInvalid,
    #[error("verification code expired or not requested")]
    CodeExpired,
    #[error("too many wrong attempts")]
    CodeBurned,
    #[error("code resend cooldown")]
    CodeCooldown { retry_after: u64 },
    #[error("daily code limit")]
    CodeDailyLimit { retry_after: u64 },
    #[error("code ip limit")]
    CodeIpLimit { retry_after: u64 },
    #[error("login ip limit")]
    LoginIpLimit { retry_after: u64 },
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("token revoked")]
    TokenRevoked,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("insufficient permissions")]
    Forbidden,
    #[error("user not found")]
    UserNotFound,
    #[error("session not found")]
    SessionNotFound,
    #[error("server busy")]
    Busy,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kv(#[from] KvError),
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
