//! MicroDock's client-visible errors: seed status codes (§8.1, Appendix B), Chinese messages,
//! stable codes.

use axum::http::StatusCode;
use trellis_kernel::ApiError;

pub fn invalid_file(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_plugin_file",
        format!("文件验证失败：{detail}"),
    )
}

pub fn invalid_params(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
        format!("参数验证失败：{detail}"),
    )
}

pub fn plugin_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "plugin_not_found", "插件不存在")
}

pub fn version_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "version_not_found", "插件版本不存在")
}

pub fn backup_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "backup_not_found", "备份不存在")
}

pub fn version_exists(version: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "version_exists",
        format!("插件版本 {version} 已存在"),
    )
}

pub fn wrong_key() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_plugin_key",
        "插件密钥错误，无权更新此插件",
    )
}

pub fn wrong_upload_secret() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_upload_secret",
        "上传密钥错误",
    )
}

pub fn plugin_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "plugin_disabled",
        "插件已被禁用，无法下载",
    )
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("文件大小超过 {} 限制", human_size(limit)),
    )
}

pub fn not_logged_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        "令牌无效或已过期",
    )
}

pub fn not_admin() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "admin_required", "需要管理员权限")
}

pub fn quota_exceeded(quota: u64) -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "backup_quota_exceeded",
        format!("备份空间不足：每个用户最多 {}", human_size(quota)),
    )
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{}MB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} 字节")
    }
}
