//! Every condition a Workflow Platform client can see that is the app's own, with its stable
//! upper-case code (seed 000 "错误响应格式": `error` is `ERROR_CODE`) and status. Identity's,
//! the store's and the kernel's errors pass through their own conversions.

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use trellis_identity::IdentityError;
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::error::FieldError;

/// The workflow app's errors.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// 404 `NOT_FOUND`: missing, or owned by another user (never told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 403 `FORBIDDEN`: the caller's role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 422 `VALIDATION_ERROR` listing every problem (`details`).
    #[error("{}", fields_message(.0))]
    Fields(Vec<FieldError>),
    /// 409: a state conflict; carries the stable code and message.
    #[error("{message}")]
    Conflict {
        /// Stable code, e.g. `EXECUTION_FINISHED`, `ALREADY_SUBSCRIBED`.
        code: &'static str,
        /// The human message.
        message: String,
    },
    /// 402 `QUOTA_EXCEEDED`: the plan's entitlement `meter` is used up until `reset_at`
    /// (issue 10 §3). `details` names the meter.
    #[error("quota exceeded for {meter}: limit {limit}{}", reset_text(.reset_at))]
    QuotaExceeded {
        /// The entitlement, e.g. `executions_per_month`.
        meter: &'static str,
        /// The plan's (or the override's) limit.
        limit: i64,
        /// When the meter resets; `None` for count meters (definitions, schedules).
        reset_at: Option<DateTime<Utc>>,
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

fn fields_message(fields: &[FieldError]) -> String {
    match fields {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} problems in the request", many.len()),
    }
}

fn reset_text(at: &Option<DateTime<Utc>>) -> String {
    at.map(|t| {
        format!(
            ", resets at {}",
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    })
    .unwrap_or_default()
}

impl WorkflowError {
    /// A 409 with a stable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        WorkflowError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 422 naming one field with a stable code.
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        WorkflowError::Fields(vec![FieldError::new(field, code, message)])
    }
}

impl From<ApiError> for WorkflowError {
    fn from(e: ApiError) -> Self {
        WorkflowError::Api(e)
    }
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> ApiError {
        use WorkflowError as E;
        match e {
            E::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("{what} not found"),
            ),
            E::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", m),
            e @ E::Fields(_) => {
                let message = e.to_string();
                let E::Fields(fields) = e else {
                    unreachable!("matched above")
                };
                ApiError::validation(message).with_fields(fields)
            }
            E::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            ref e @ E::QuotaExceeded {
                meter,
                limit,
                reset_at,
            } => {
                let detail = match reset_at {
                    Some(at) => format!(
                        "limit {limit}, resets at {}",
                        at.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    None => format!("limit {limit}"),
                };
                ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "QUOTA_EXCEEDED",
                    e.to_string(),
                )
                .with_fields(vec![FieldError::new(
                    meter,
                    "quota_exceeded",
                    detail,
                )])
            }
            E::Identity(e) => e.into(),
            E::Store(e) => e.into(),
            E::Api(e) => e,
        }
    }
}

impl axum::response::IntoResponse for WorkflowError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_status() {
        let cases: Vec<(WorkflowError, u16, &str)> = vec![
            (WorkflowError::NotFound("execution"), 404, "NOT_FOUND"),
            (WorkflowError::Forbidden("no"), 403, "FORBIDDEN"),
            (
                WorkflowError::field("steps", "cycle", "x"),
                422,
                "validation_error",
            ),
            (
                WorkflowError::conflict("EXECUTION_FINISHED", "x"),
                409,
                "EXECUTION_FINISHED",
            ),
            (
                WorkflowError::QuotaExceeded {
                    meter: "executions_per_month",
                    limit: 3,
                    reset_at: None,
                },
                402,
                "QUOTA_EXCEEDED",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!(a.status.as_u16(), status);
            assert_eq!(a.code, code);
        }
    }
}
