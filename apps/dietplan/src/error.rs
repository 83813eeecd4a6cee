//! Every condition a diet-planner client can see that is the app's own, with its stable
//! snake_case code and status (seed 003 / originals.md §3.2: `code` in the body is the HTTP
//! status). Identity's, the store's and the kernel's errors pass through their conversions.

use axum::http::StatusCode;
use trellis_identity::IdentityError;
use trellis_kernel::ApiError;
use trellis_kernel::db::StoreError;
use trellis_kernel::error::FieldError;

/// The diet planner's errors.
#[derive(Debug, thiserror::Error)]
pub enum DietError {
    /// 404 `<what>_not_found`: missing, deleted, or another user's (never told apart).
    #[error("{1}")]
    NotFound(&'static str, &'static str),
    /// 422 `validation_error` listing every problem (`detail`).
    #[error("{}", fields_message(.0))]
    Fields(Vec<FieldError>),
    /// 409: a state conflict (`task_not_completed`, `task_finished`).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// 429 `too_many_active_tasks` / `token_budget_exceeded`.
    #[error("{message}")]
    Limited {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after: Option<u64>,
    },
    /// Account, session and token errors.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A kernel error passed through.
    #[error("{}", .0.message)]
    Api(ApiError),
}

fn fields_message(fields: &[FieldError]) -> String {
    match fields {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("请求数据验证失败 ({} problems)", many.len()),
    }
}

impl DietError {
    /// A 422 naming one field.
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        DietError::Fields(vec![FieldError::new(field, code, message)])
    }

    /// A 409 with a stable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        DietError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// 404 for a task.
    pub fn task_not_found() -> Self {
        DietError::NotFound("task_not_found", "任务不存在 (task not found)")
    }

    /// 404 for a plan.
    pub fn plan_not_found() -> Self {
        DietError::NotFound("plan_not_found", "饮食计划不存在 (plan not found)")
    }

    /// 404 for a pet.
    pub fn pet_not_found() -> Self {
        DietError::NotFound("pet_not_found", "宠物不存在 (pet not found)")
    }

    /// 404 for a meal record.
    pub fn meal_not_found() -> Self {
        DietError::NotFound("meal_not_found", "餐食记录不存在 (meal not found)")
    }
}

impl From<ApiError> for DietError {
    fn from(e: ApiError) -> Self {
        DietError::Api(e)
    }
}

impl From<DietError> for ApiError {
    fn from(e: DietError) -> ApiError {
        use DietError as E;
        match e {
            E::NotFound(code, message) => ApiError::new(StatusCode::NOT_FOUND, code, message),
            e @ E::Fields(_) => {
                let message = e.to_string();
                let E::Fields(fields) = e else {
                    unreachable!("matched above")
                };
                ApiError::validation(message).with_fields(fields)
            }
            E::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            E::Limited {
                code,
                message,
                retry_after,
            } => {
                let e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
                match retry_after {
                    Some(s) => e.with_retry_after(s),
                    None => e,
                }
            }
            E::Identity(e) => e.into(),
            E::Store(e) => e.into(),
            E::Api(e) => e,
        }
    }
}

impl axum::response::IntoResponse for DietError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_status() {
        let cases: Vec<(DietError, u16, &str)> = vec![
            (DietError::task_not_found(), 404, "task_not_found"),
            (
                DietError::field("weight_kg", "out_of_range", "x"),
                422,
                "validation_error",
            ),
            (
                DietError::conflict("task_finished", "x"),
                409,
                "task_finished",
            ),
            (
                DietError::Limited {
                    code: "too_many_active_tasks",
                    message: "x".into(),
                    retry_after: Some(5),
                },
                429,
                "too_many_active_tasks",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!(a.status.as_u16(), status);
            assert_eq!(a.code, code);
        }
    }
}
