//! MicroDock's client-visible errors: one variant per condition, each with the seed's status
//! (§8.1, Appendix B), a Chinese message and a stable code ([`MicroDockError::code`]).
//! Internal causes (storage, blobs) are logged once when converted, never sent to clients.

use axum::http::StatusCode;
use trellis_identity::IdentityError;
use trellis_kernel::ApiError;
use trellis_kernel::blob::BlobError;
use trellis_kernel::db::StoreError;
use trellis_kernel::kv::KvError;

/// Everything a MicroDock operation can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum MicroDockError {
    /// 400 `invalid_plugin_file`: the archive or its `plugin.json` is refused.
    #[error("文件验证失败：{0}")]
    InvalidFile(String),
    /// 422 `validation_error`: a parameter is missing or malformed.
    #[error("参数验证失败：{0}")]
    InvalidParams(String),
    /// 422 `validation_error`: `backup_type` is not `program` or `plugin`.
    #[error("备份类型必须是 program 或 plugin")]
    InvalidBackupType,
    /// 400 `invalid_form`: the multipart body is malformed or was cut off.
    #[error("{0}")]
    InvalidForm(String),
    /// 404 `plugin_not_found`.
    #[error("插件不存在")]
    PluginNotFound,
    /// 404 `version_not_found`.
    #[error("插件版本不存在")]
    VersionNotFound,
    /// 404 `backup_not_found` (also for a wrong `user_key`, so ids cannot be probed).
    #[error("备份不存在")]
    BackupNotFound,
    /// 409 `version_exists`: versions are immutable.
    #[error("插件版本 {0} 已存在")]
    VersionExists(String),
    /// 409 `plugin_name_taken`: a plugin with this name in another letter case exists
    /// (names are unique in ASCII lower case).
    #[error("插件名称与已有插件 {0} 仅大小写不同，请使用相同的名称")]
    NameTaken(String),
    /// 403 `invalid_plugin_key`.
    #[error("插件密钥错误，无权更新此插件")]
    WrongKey,
    /// 403 `invalid_upload_secret` (`UPLOAD_SECRET_KEY`).
    #[error("上传密钥错误")]
    WrongUploadSecret,
    /// 403 `plugin_disabled`.
    #[error("插件已被禁用")]
    PluginDisabled,
    /// 413 `file_too_large`: over `MAX_UPLOAD_SIZE` (bytes).
    #[error("文件大小超过 {} 限制", human_size(*.0))]
    TooLarge(u64),
    /// 412 `precondition_failed`: `If-Match` names another version of the file
    /// (RFC 9110 §13.1.1).
    #[error("文件已变更（If-Match 不匹配）")]
    PreconditionFailed,
    /// 416 `range_not_satisfiable`: the `Range` starts past the end of the file
    /// (RFC 9110 §15.5.17); the response carries `Content-Range: bytes */{size}`.
    #[error("请求的范围超出文件大小")]
    RangeNotSatisfiable,
    /// 401 `not_authenticated`.
    #[error("令牌无效或已过期")]
    NotLoggedIn,
    /// 403 `admin_required`.
    #[error("需要管理员权限")]
    NotAdmin,
    /// 507 `backup_quota_exceeded`: over `BACKUP_QUOTA_BYTES` (bytes).
    #[error("备份空间不足：每个用户最多 {}", human_size(*.0))]
    QuotaExceeded(u64),
    /// 507 `backup_storage_full`: all backups together would exceed `BACKUP_TOTAL_BYTES`
    /// (bytes).
    #[error("备份存储空间已满：所有备份合计最多 {}", human_size(*.0))]
    BackupStorageFull(u64),
    /// Identity's own errors (login, hashing queue), in identity's codes.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Storage failures.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Blob store failures.
    #[error("blob storage: {0}")]
    Blob(#[from] BlobError),
    /// Key-value failures.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A bug: logged, answered 500.
    #[error("internal: {0}")]
    Internal(String),
}

impl MicroDockError {
    /// The stable code clients see (`plugin_not_found`); internal causes have theirs from the
    /// kernel (`internal_error`, `service_unavailable`).
    pub fn code(&self) -> &'static str {
        use MicroDockError as E;
        match self {
            E::InvalidFile(_) => "invalid_plugin_file",
            E::InvalidParams(_) | E::InvalidBackupType => "validation_error",
            E::InvalidForm(_) => "invalid_form",
            E::PluginNotFound => "plugin_not_found",
            E::VersionNotFound => "version_not_found",
            E::BackupNotFound => "backup_not_found",
            E::VersionExists(_) => "version_exists",
            E::NameTaken(_) => "plugin_name_taken",
            E::WrongKey => "invalid_plugin_key",
            E::WrongUploadSecret => "invalid_upload_secret",
            E::PluginDisabled => "plugin_disabled",
            E::TooLarge(_) => "file_too_large",
            E::NotLoggedIn => "not_authenticated",
            E::PreconditionFailed => "precondition_failed",
            E::RangeNotSatisfiable => "range_not_satisfiable",
            E::NotAdmin => "admin_required",
            E::QuotaExceeded(_) => "backup_quota_exceeded",
            E::BackupStorageFull(_) => "backup_storage_full",
            E::Identity(_) | E::Store(_) | E::Blob(_) | E::Kv(_) | E::Internal(_) => {
                "internal_error"
            }
        }
    }

    /// The HTTP status of a client-visible condition.
    pub fn status(&self) -> StatusCode {
        use MicroDockError as E;
        match self {
            E::InvalidFile(_) | E::InvalidForm(_) => StatusCode::BAD_REQUEST,
            E::InvalidParams(_) | E::InvalidBackupType => StatusCode::UNPROCESSABLE_ENTITY,
            E::PluginNotFound | E::VersionNotFound | E::BackupNotFound => StatusCode::NOT_FOUND,
            E::VersionExists(_) | E::NameTaken(_) => StatusCode::CONFLICT,
            E::WrongKey | E::WrongUploadSecret | E::PluginDisabled | E::NotAdmin => {
                StatusCode::FORBIDDEN
            }
            E::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            E::NotLoggedIn => StatusCode::UNAUTHORIZED,
            E::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            E::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            E::QuotaExceeded(_) | E::BackupStorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            E::Identity(_) | E::Store(_) | E::Blob(_) | E::Kv(_) | E::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl From<MicroDockError> for ApiError {
    fn from(e: MicroDockError) -> Self {
        match e {
            MicroDockError::Identity(e) => e.into(),
            MicroDockError::Store(e) => e.into(),
            MicroDockError::Kv(e) => e.into(),
            // Storage that does not answer is an outage to retry, not a bug (issue 7 item 10).
            MicroDockError::Blob(BlobError::Backend(e)) => {
                tracing::error!(error = %e, "blob storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "存储服务暂时不可用，请稍后重试",
                )
                .with_retry_after(5)
            }
            MicroDockError::Blob(e) => ApiError::internal(e),
            MicroDockError::Internal(e) => ApiError::internal(e),
            other => ApiError::new(other.status(), other.code(), other.to_string()),
        }
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{}MB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} 字节")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client-visible condition, with its status and code: the list clients can rely on.
    #[test]
    fn every_code_and_status() {
        use MicroDockError as E;
        let table: Vec<(MicroDockError, u16, &str)> = vec![
            (E::InvalidFile("x".into()), 400, "invalid_plugin_file"),
            (E::InvalidForm("x".into()), 400, "invalid_form"),
            (E::InvalidParams("x".into()), 422, "validation_error"),
            (E::InvalidBackupType, 422, "validation_error"),
            (E::PluginNotFound, 404, "plugin_not_found"),
            (E::VersionNotFound, 404, "version_not_found"),
            (E::BackupNotFound, 404, "backup_not_found"),
            (E::VersionExists("1.0.0".into()), 409, "version_exists"),
            (E::NameTaken("a.b".into()), 409, "plugin_name_taken"),
            (E::WrongKey, 403, "invalid_plugin_key"),
            (E::WrongUploadSecret, 403, "invalid_upload_secret"),
            (E::PluginDisabled, 403, "plugin_disabled"),
            (E::NotAdmin, 403, "admin_required"),
            (E::TooLarge(10 * 1024 * 1024), 413, "file_too_large"),
            (E::NotLoggedIn, 401, "not_authenticated"),
            (E::PreconditionFailed, 412, "precondition_failed"),
            (E::RangeNotSatisfiable, 416, "range_not_satisfiable"),
            (E::QuotaExceeded(1024), 507, "backup_quota_exceeded"),
            (E::BackupStorageFull(1024), 507, "backup_storage_full"),
        ];
        for (e, status, code) in table {
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.code, code);
            assert!(!api.message.is_empty());
        }
        assert_eq!(
            ApiError::from(E::TooLarge(10 * 1024 * 1024)).message,
            "文件大小超过 10MB 限制"
        );
    }
}
