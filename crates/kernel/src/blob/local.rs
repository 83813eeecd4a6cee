//! The local-directory backend: a blob is the file `<root>/<key>`. Keys are validated by
//! the caller ([`super::validate_key`]), so every path built here stays under the root.
//!
//! New blobs appear by hard link, which fails if the target exists: "never replace" is then
//! atomic, with no window in which two writers can both think they won.

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{BlobError, BlobReader, ByteStream, ReaderSource};

/// Read buffer of a download stream.
const CHUNK: usize = 256 * 1024;

pub(super) struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub(super) fn new(root: PathBuf) -> Self {
        LocalStore { root }
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(Path::new(key))
    }

    /// Gives the file `src` the name `key` without ever replacing an existing blob. `src`
    /// keeps its own name too; the caller removes it.
    pub(super) async fn link_new(&self, src: &Path, key: &str) -> Result<(), BlobError> {
        let dest = self.path(key);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        match tokio::fs::hard_link(src, &dest).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(BlobError::Exists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound),
            // File systems without hard links (FAT, some network mounts) answer EPERM or
            // "unsupported": fall back to check-then-rename, which is not atomic.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                ) =>
            {
                if tokio::fs::try_exists(&dest).await? {
                    return Err(BlobError::Exists);
                }
                tokio::fs::rename(src, &dest).await.map_err(not_found)
            }
            Err(e) => Err(BlobError::Io(e)),
        }
    }

    pub(super) async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let src = self.path(from);
        if !is_file(&src).await? {
            return Err(BlobError::NotFound);
        }
        self.link_new(&src, to).await?;
        match tokio::fs::remove_file(&src).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BlobError::Io(e)),
            _ => Ok(()),
        }
    }

    pub(super) async fn open(&self, key: &str) -> Result<BlobReader, BlobError> {
        let file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(not_found)?;
        let meta = file.metadata().await?;
        // Opening a directory succeeds on Unix; it is not a blob.
        if !meta.is_file() {
            return Err(BlobError::NotFound);
        }
        Ok(BlobReader {
            size: meta.len(),
            source: ReaderSource::Local(file),
        })
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e)
                if !matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                ) =>
            {
                Err(BlobError::Io(e))
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        is_file(&self.path(key)).await
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let base = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.path(prefix)
        };
        let start = prefix.to_string();
        let keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&base, &start, &mut keys).map(|()| keys)
        })
        .await
        .map_err(|e| BlobError::Io(io::Error::other(e.to_string())))??;
        Ok(keys)
    }
}

impl LocalStore {
    /// [`LocalStore::list`] with each file's modification time.
    pub(super) async fn list_times(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, std::time::SystemTime)>, BlobError> {
        let keys = self.list(prefix).await?;
        let paths: Vec<(String, PathBuf)> = keys
            .into_iter()
            .map(|k| {
                let p = self.path(&k);
                (k, p)
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            paths
                .into_iter()
                .filter_map(|(k, p)| {
                    let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok()?;
                    Some((k, modified))
                })
                .collect()
        })
        .await
        .map_err(|e| BlobError::Io(io::Error::other(e.to_string())))
    }
}

/// Collects the files under `dir` as keys `<key_prefix>/<name>…`, skipping hidden names
/// (spool files, leftovers of older temp-file schemes). A missing `dir` lists nothing.
fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue; // not UTF-8, so no key could have made it
        };
        if name.starts_with('.') {
            continue;
        }
        let key = if key_prefix.is_empty() {
            name
        } else {
            format!("{key_prefix}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &key, out)?;
        } else if kind.is_file() {
            out.push(key);
        }
    }
    Ok(())
}

async fn is_file(path: &Path) -> Result<bool, BlobError> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(m.is_file()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(BlobError::Io(e)),
    }
}

fn not_found(e: io::Error) -> BlobError {
    match e.kind() {
        io::ErrorKind::NotFound => BlobError::NotFound,
        _ => BlobError::Io(e),
    }
}

/// `range` of `file` (already checked against its size) in 64 KiB chunks.
pub(super) fn stream(mut file: tokio::fs::File, range: Range<u64>) -> ByteStream {
    let open = async move {
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start)).await?;
        }
        let len = range.end - range.start;
        Ok::<_, io::Error>(ReaderStream::with_capacity(file.take(len), CHUNK))
    };
    futures::stream::once(open).try_flatten().boxed()
}
