//! Reading upload forms: the file part streams into a temporary blob (size limit enforced on
//! the bytes received, SHA-256 computed on the way); text parts are read with a small cap.
//! Fields may come in any order.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use futures::TryStreamExt as _;
use trellis_kernel::ApiError;
use trellis_kernel::blob::{BlobError, BlobStore, PutInfo, Spooled};

use crate::domain::disposition;
use crate::error::MicroDockError;

/// The file part, spooled to a local temporary file (removed when dropped unless committed
/// to the blob store).
pub struct TempFile {
    /// The spooled file (local, seekable: archives are inspected from it).
    pub spooled: Spooled,
    /// The file name the client sent.
    pub client_name: String,
    /// Size and SHA-256, computed while it streamed.
    pub info: PutInfo,
}

/// A parsed form: at most one file and short text fields.
pub struct Form {
    /// The `file` part, if sent.
    pub file: Option<TempFile>,
    /// Text fields (at most 16, each at most 4 KiB), trimmed.
    pub fields: HashMap<String, String>,
}

impl Form {
    /// A non-empty text field.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

fn multipart_error(e: MultipartError) -> ApiError {
    if trellis_kernel::http::slow::is_too_slow(&e) {
        return trellis_kernel::extract::too_slow();
    }
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "file_too_large", "文件大小超过限制");
    }
    MicroDockError::InvalidForm(format!("表单格式错误：{}", e.body_text())).into()
}

const TEXT_LIMIT: usize = 4096;

async fn read_text(mut field: Field<'_>) -> Result<String, ApiError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        out.extend_from_slice(&chunk);
        if out.len() > TEXT_LIMIT {
            return Err(MicroDockError::InvalidParams("表单字段过长".into()).into());
        }
    }
    String::from_utf8(out)
        .map_err(|_| MicroDockError::InvalidParams("表单字段不是 UTF-8 文本".into()).into())
}

/// Reads the whole form. On error nothing is left in storage (the spool is dropped).
pub async fn read(mut mp: Multipart, blobs: &BlobStore, limit: u64) -> Result<Form, ApiError> {
    let mut form = Form {
        file: None,
        fields: HashMap::new(),
    };
    let result: Result<(), ApiError> = async {
        while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                if form.file.is_some() {
                    return Err(MicroDockError::InvalidParams("只能上传一个文件".into()).into());
                }
                // `filename*` and RFC 2047 words first (issue 7 item 7); multer reads only
                // the plain `filename`.
                let client_name = field
                    .headers()
                    .get(axum::http::header::CONTENT_DISPOSITION)
                    .and_then(|h| disposition::file_name(h.as_bytes()))
                    .or_else(|| field.file_name().map(str::to_string))
                    .unwrap_or_default();
                // The spool sees the field's errors only as text; remember a too-slow client.
                let too_slow = std::sync::atomic::AtomicBool::new(false);
                let field = field.inspect_err(|e| {
                    if trellis_kernel::http::slow::is_too_slow(e) {
                        too_slow.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                });
                let spooled = blobs
                    .spool(Box::pin(field), limit)
                    .await
                    .map_err(|e| match e {
                        BlobError::TooLarge { limit } => MicroDockError::TooLarge(limit).into(),
                        BlobError::Source(_)
                            if too_slow.load(std::sync::atomic::Ordering::Relaxed) =>
                        {
                            trellis_kernel::extract::too_slow()
                        }
                        BlobError::Source(m) => {
                            MicroDockError::InvalidForm(format!("上传中断：{m}")).into()
                        }
                        BlobError::DiskFull { .. } => ApiError::new(
                            StatusCode::INSUFFICIENT_STORAGE,
                            "insufficient_storage",
                            "服务器存储空间不足，请稍后再试",
                        ),
                        other => ApiError::internal(other),
                    })?;
                form.file = Some(TempFile {
                    info: spooled.info(),
                    spooled,
                    client_name,
                });
            } else if !name.is_empty() && form.fields.len() < 16 {
                let text = read_text(field).await?;
                form.fields.insert(name, text.trim().to_string());
            }
        }
        Ok(())
    }
    .await;
    result?;
    Ok(form)
}
