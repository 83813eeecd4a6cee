//! Every condition a Momentum client can see that is Momentum's own, with its stable code
//! (upper snake case, as the original's `USER_EMAIL_EXISTS`, originals §2.2) and status.
//! Identity's, the store's and the kernel's errors pass through their own conversions.

use axum::http::StatusCode;
use trellis_identity::IdentityError;
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::error::FieldError;

/// Momentum's errors.
#[derive(Debug, thiserror::Error)]
pub enum MomentumError {
    /// 404 `NOT_FOUND`: missing, or in a workspace the caller is not in (never told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 403 `FORBIDDEN`: the caller's workspace or team role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 409 `NO_WORKSPACE`: the caller belongs to no workspace (create one or accept an
    /// invitation).
    #[error("you are not a member of any workspace; create one or accept an invitation")]
    NoWorkspace,
    /// 422 `VALIDATION_ERROR` naming one field of the body (a reference to an object that
    /// does not exist for the caller, say).
    #[error("{field}: {message}")]
    Field {
        /// The body field.
        field: String,
        /// Stable code (`not_found`, …).
        code: &'static str,
        /// The human message.
        message: String,
    },
    /// 422 `VALIDATION_ERROR` naming several fields.
    #[error("{} fields are invalid", .0.len())]
    Fields(Vec<FieldError>),
    /// 409: a uniqueness or state conflict; carries the stable code and message.
    #[error("{message}")]
    Conflict {
        /// Stable code: `LABEL_EXISTS`, `TEAM_KEY_EXISTS`, `PROJECT_KEY_EXISTS`,
        /// `WORKSPACE_URL_KEY_EXISTS`, `PROJECT_STATUS_EXISTS`, `WORKFLOW_EXISTS`,
        /// `STATE_EXISTS`, `INVITATION_PENDING`, `ALREADY_MEMBER`, `LAST_OWNER`,
        /// `TRANSITION_NOT_ALLOWED`, `IN_USE`, `CYCLE_OVERLAP`, `RELATION_EXISTS`,
        /// `INVITATION_CLOSED`, `PARENT_CYCLE`, `LAST_STATE`, `CYCLE_COMPLETED`,
        /// `COMMENT_DELETED`.
        /// `DEFAULT_WORKFLOW`.
        code: &'static str,
        /// The human message.
        message: String,
    },
    /// 429 `RATE_LIMITED`: the caller's token bucket is empty.
    #[error("too many requests; slow down")]
    RateLimited {
        /// Seconds until one more request is allowed.
        retry_after: u64,
    },
    /// Account, session and token errors (identity's codes, upper-cased).
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A store failure (constraint not mapped by the service, outage, bug).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A kernel error passed through as is.
    #[error("{}", .0.message)]
    Api(ApiError),
}

/// Every code [`MomentumError`] itself answers (identity's and the kernel's come upper-cased).
pub const CODES: &[&str] = &[
    "NOT_FOUND",
    "FORBIDDEN",
    "NO_WORKSPACE",
    "VALIDATION_ERROR",
    "RATE_LIMITED",
];

impl MomentumError {
    /// A 409 with a stable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        MomentumError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 422 naming `field`: the object it refers to does not exist for the caller (same
    /// answer for another workspace's id as for a missing one).
    pub fn unknown_ref(field: &str, what: &str) -> Self {
        MomentumError::Field {
            field: field.to_string(),
            code: "not_found",
            message: format!("{what} not found"),
        }
    }

    /// A 422 naming `field` with a stable code.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        MomentumError::Field {
            field: field.to_string(),
            code,
            message: message.into(),
        }
    }
}

impl From<ApiError> for MomentumError {
    fn from(e: ApiError) -> Self {
        MomentumError::Api(e)
    }
}

impl From<MomentumError> for ApiError {
    fn from(e: MomentumError) -> ApiError {
        use MomentumError as E;
        match e {
            E::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("{what} not found"),
            ),
            E::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", m),
            e @ E::NoWorkspace => {
                ApiError::new(StatusCode::CONFLICT, "NO_WORKSPACE", e.to_string())
            }
            E::Field {
                field,
                code,
                message,
            } => ApiError::validation(format!("{field}: {message}"))
                .with_fields(vec![FieldError::new(field, code, message)]),
            E::Fields(fields) => {
                let message = match fields.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid", many.len()),
                };
                ApiError::validation(message).with_fields(fields)
            }
            E::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            e @ E::RateLimited { retry_after } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", e.to_string())
                    .with_retry_after(retry_after)
            }
            E::Identity(e) => e.into(),
            E::Store(e) => e.into(),
            E::Api(e) => e,
        }
    }
}

impl axum::response::IntoResponse for MomentumError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_status() {
        let cases: Vec<(MomentumError, u16, &str)> = vec![
            (MomentumError::NotFound("issue"), 404, "NOT_FOUND"),
            (MomentumError::Forbidden("no"), 403, "FORBIDDEN"),
            (MomentumError::NoWorkspace, 409, "NO_WORKSPACE"),
            (
                MomentumError::unknown_ref("team_id", "team"),
                422,
                "validation_error",
            ),
            (
                MomentumError::conflict("LABEL_EXISTS", "x"),
                409,
                "LABEL_EXISTS",
            ),
            (
                MomentumError::RateLimited { retry_after: 2 },
                429,
                "RATE_LIMITED",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!(a.status.as_u16(), status);
            assert_eq!(a.code, code);
        }
    }
}
