//! Blob storage for plugin zips and backups: streams in, streams out, never a whole file in
//! memory. Local directory now; the interface is the one an S3-compatible store will fill.
//!
//! Keys are relative, `/`-separated, and validated: no absolute paths, no `..`, no empty or
//! hidden segments, so nothing is ever written outside the root.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::io::Write;

/// Why a put failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key")]
    InvalidKey,
    #[error("blob larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("blob not found")]
    NotFound,
    #[error("upload stream failed: {0}")]
    Source(String),
    #[error("blob storage i/o: {0}")]
    Io(#[from] io::Error),
}

/// What a completed put wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutInfo {
    pub size: u64,
    /// Lower-case hex SHA-256 of the content, computed while streaming.
    pub sha256: String,
}

/// An opened blob for streaming to a client.
pub struct BlobReader {
    pub file: tokio::fs::File,
    pub size: u64,
}

/// Local-directory blob store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn local(root: impl Into<PathBuf>) -> Self {
        BlobStore { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        let valid = !key.is_empty()
            && key.len() <= 1024
            && key.split('/').all(|seg| {
                !seg.is_empty() && !seg.starts_with('.') && !seg.contains(['\\', '\0', ':'])
            });
        if !valid {
            return Err(BlobError::InvalidKey);
        }
        Ok(self.root.join(Path::new(key)))
    }

    /// Streams `body` into `key`, enforcing `limit` on bytes actually received. The file
    /// appears only when complete (temp file + rename); on any failure nothing is left.
    pub async fn put<S, E>(&self, key: &str, body: S, limit: u64) -> Result<PutInfo, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let dest = self.path(key)?;
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        let tmp = dir.join(format!(".upload-{}", uuid::Uuid::new_v4().simple()));
        let result = write_stream(&tmp, body, limit).await;
        match result {
            Ok(info) => {
                tokio::fs::rename(&tmp, &dest).await.inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })?;
                Ok(info)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// Opens `key` for reading.
    pub async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => BlobError::NotFound,
                _ => BlobError::Io(e),
            })?;
        let size = file.metadata().await?.len();
        Ok(BlobReader { file, size })
    }

    /// Moves a blob to another key (same store, so no copy).
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let (src, dest) = (self.path(from)?, self.path(to)?);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&src, &dest)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => BlobError::NotFound,
                _ => BlobError::Io(e),
            })
    }

    /// Deletes `key`; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BlobError::Io(e)),
            _ => Ok(()),
        }
    }
}

/// Receives chunks on the async side and hands them to one blocking thread that hashes and
/// writes them, so the runtime never waits on the disk and no chunk is copied twice.
async fn write_stream<S, E>(tmp: &Path, mut body: S, limit: u64) -> Result<PutInfo, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file = std::fs::File::create(tmp)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || -> io::Result<PutInfo> {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            hasher.update(&chunk);
            out.write_all(&chunk)?;
            size += chunk.len() as u64;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(PutInfo {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    });
    let mut received = 0u64;
    let mut failure = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failure = Some(BlobError::Source(e.to_string()));
                break;
            }
        };
        received += chunk.len() as u64;
        if received > limit {
            failure = Some(BlobError::TooLarge { limit });
            break;
        }
        if tx.send(chunk).await.is_err() {
            break; // the writer failed; its error is reported below
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| BlobError::Io(io::Error::other(e.to_string())))?;
    match failure {
        Some(f) => Err(f),
        None => Ok(written?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let dir = tempdir();
        let store = BlobStore::local(&dir);
        let info = store
            .put("a/b@1.0.0.zip", chunks(&[b"hello ", b"world"]), 100)
            .await
            .unwrap();
        assert_eq!(info.size, 11);
        assert_eq!(
            info.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let mut r = store.get("a/b@1.0.0.zip").await.unwrap();
        assert_eq!(r.size, 11);
        let mut s = String::new();
        r.file.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "hello world");
        store.delete("a/b@1.0.0.zip").await.unwrap();
        assert!(matches!(
            store.get("a/b@1.0.0.zip").await,
            Err(BlobError::NotFound)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn over_limit_leaves_nothing() {
        let dir = tempdir();
        let store = BlobStore::local(&dir);
        let err = store
            .put("x/big.zip", chunks(&[b"12345", b"67890"]), 7)
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { limit: 7 }));
        let left: Vec<_> = std::fs::read_dir(dir.join("x")).unwrap().collect();
        assert!(left.is_empty(), "temp file left behind");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let store = BlobStore::local(tempdir());
        for key in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            "a//b",
            ".hidden",
            "a\\b",
            "",
        ] {
            assert!(
                matches!(store.path(key), Err(BlobError::InvalidKey)),
                "{key} accepted"
            );
        }
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("trellis-blob-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
