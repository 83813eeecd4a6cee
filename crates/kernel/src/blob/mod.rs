//! Blob storage for plugin zips and backups: streams in, streams out, never a whole file in
//! memory. Two backends behind one [`BlobStore`]: a local directory (the default) and an
//! S3-compatible bucket (AWS, MinIO, Ceph, R2, …), chosen by `TRELLIS_BLOB_URL`.
//!
//! Writing is two steps so callers can look at an upload before it becomes visible:
//!
//! 1. [`BlobStore::spool`] streams the body into a local temporary file, enforcing the size
//!    limit on the bytes actually received and hashing (SHA-256) on the way. The file is on the
//!    local disk for both backends, so callers that need `Seek` (zip inspection) can open it.
//! 2. [`BlobStore::commit`] moves the spooled file to its key: a link on the local backend,
//!    a streamed (multipart) upload on S3. A commit never replaces an existing blob.
//!
//! [`BlobStore::put`] does both for callers with nothing to inspect.
//!
//! Keys are relative, `/`-separated, and validated on every backend: no absolute paths, no
//! `..`, no empty or hidden (`.`-prefixed) segments, no `\`, `:` or NUL, at most 1024 bytes.
//! Hidden names are therefore free for the store's own use (the local spool is `<root>/.tmp`).

mod local;
mod s3;

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key (or list prefix) breaks the key rules in the module docs.
    #[error("invalid blob key")]
    InvalidKey,
    /// `TRELLIS_BLOB_URL` (or the URL given to [`BlobStore::from_url`]) cannot be used.
    #[error("invalid blob store URL: {0}")]
    InvalidUrl(String),
    /// The upload stream carried more than `limit` bytes; nothing was kept.
    #[error("blob larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// No blob has this key (or the source of a rename is missing).
    #[error("blob not found")]
    NotFound,
    /// A blob already has the target key of a commit or rename; it was left untouched.
    #[error("blob already exists")]
    Exists,
    /// A byte range outside the blob, or with its start after its end.
    #[error("range {start}..{end} is outside the {size}-byte blob")]
    InvalidRange {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// Size of the blob in bytes.
        size: u64,
    },
    /// The upload stream itself failed (client disconnected, malformed body, …).
    #[error("upload stream failed: {0}")]
    Source(String),
    /// Local file-system failure (spool or local backend).
    #[error("blob storage i/o: {0}")]
    Io(#[from] io::Error),
    /// Free space on the spool's disk is below `TRELLIS_MIN_FREE_DISK_BYTES`; the upload was
    /// refused (or stopped) and nothing was kept. Apps answer 507 `insufficient_storage`.
    #[error("free disk space below the {floor}-byte floor")]
    DiskFull {
        /// The configured floor, in bytes.
        floor: u64,
    },
    /// The remote object store failed (network, credentials, server error, …).
    #[error("blob backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What a completed put or commit wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutInfo {
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content, computed while streaming.
    pub sha256: String,
}

/// A finished upload held in a local temporary file, waiting for [`BlobStore::commit`].
///
/// The file is removed when the value is dropped, committed or not, so an early return on an
/// error path leaves nothing behind. It must be committed by the store that spooled it.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    /// Size in bytes of what was received.
    pub size: u64,
    /// Lower-case hex SHA-256 of what was received.
    pub sha256: String,
}

impl Spooled {
    /// The local temporary file: open it (it supports `Seek`) to inspect the upload. Do not
    /// move or delete it; [`BlobStore::commit`] and `Drop` do.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size and hash as a [`PutInfo`].
    pub fn info(&self) -> PutInfo {
        PutInfo {
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        // After a local commit the spool is a second link to the blob (or already renamed
        // away): removing it never touches the committed blob.
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::debug!(error = %e, path = %self.path.display(), "spool file not removed");
            }
            _ => {}
        }
    }
}

/// A stream of a blob's bytes, as handed to an HTTP body.
pub type ByteStream = BoxStream<'static, Result<Bytes, io::Error>>;

/// An opened blob: its size now, its bytes when [`BlobReader::into_stream`] is called.
pub struct BlobReader {
    /// Size of the blob in bytes.
    pub size: u64,
    source: ReaderSource,
}

enum ReaderSource {
    Local(tokio::fs::File),
    S3(s3::S3Reader),
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.source {
            ReaderSource::Local(_) => "local",
            ReaderSource::S3(_) => "s3",
        };
        f.debug_struct("BlobReader")
            .field("size", &self.size)
            .field("backend", &backend)
            .finish()
    }
}

impl BlobReader {
    /// Streams the whole blob (`None`) or the half-open byte range `start..end` of it.
    ///
    /// Memory stays bounded by the chunk size (64 KiB locally, the server's chunks on S3);
    /// an empty range gives an empty stream. On S3 the bytes come from the version that
    /// [`BlobStore::get`] saw: a blob replaced in between fails the stream instead of mixing
    /// two versions.
    ///
    /// # Errors
    /// [`BlobError::InvalidRange`] when `end > size` or `start > end`. Failures while reading
    /// arrive as `io::Error` items of the stream.
    pub fn into_stream(self, range: Option<Range<u64>>) -> Result<ByteStream, BlobError> {
        let range = range.unwrap_or(0..self.size);
        if range.start > range.end || range.end > self.size {
            return Err(BlobError::InvalidRange {
                start: range.start,
                end: range.end,
                size: self.size,
            });
        }
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        Ok(match self.source {
            ReaderSource::Local(file) => local::stream(file, range),
            ReaderSource::S3(reader) => reader.stream(range, self.size),
        })
    }
}

/// The blob store apps hold: cheap to clone, one per process.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// Where [`BlobStore::spool`] writes: on the local backend inside its root (so a commit
    /// is a link on the same file system), else `<data dir>/tmp`.
    spool_dir: PathBuf,
    /// Uploads are refused while the spool's disk has less free space than this (bytes).
    min_free: u64,
}

enum Backend {
    Local(local::LocalStore),
    S3(s3::S3Store),
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl BlobStore {
    /// Opens the store named by `url` (the value of `TRELLIS_BLOB_URL`):
    ///
    /// - `None` or empty: `file://<data_dir>/blobs`;
    /// - `file://<dir>`: a local directory (created on first write);
    /// - `s3://<bucket>[/<prefix>]`: an S3-compatible bucket, keys under `<prefix>/`. Settings
    ///   come from the standard variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    ///   (`AWS_SESSION_TOKEN`), `AWS_REGION` (else `AWS_DEFAULT_REGION`, else `us-east-1`) and
    ///   `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`) for MinIO/Ceph/R2-style servers, reached with
    ///   path-style requests; an `http://` endpoint is allowed. Uploads are spooled under
    ///   `<data_dir>/tmp`.
    ///
    /// Nothing is contacted here: a wrong endpoint or credential shows on first use.
    ///
    /// # Errors
    /// [`BlobError::InvalidUrl`] for another scheme, an empty bucket or path, an invalid
    /// prefix, or S3 settings the client refuses.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<BlobStore, BlobError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(BlobStore::local(data_dir.join("blobs")));
        };
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(BlobError::InvalidUrl("file:// needs a directory".into()));
            }
            return Ok(BlobStore::local(dir));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let store = s3::S3Store::from_env(rest)?;
            return Ok(BlobStore {
                inner: Arc::new(Inner {
                    backend: Backend::S3(store),
                    spool_dir: data_dir.join("tmp"),
                    min_free: 0,
                }),
            });
        }
        Err(BlobError::InvalidUrl(format!(
            "{url:?} is neither file://<dir> nor s3://<bucket>[/<prefix>]"
        )))
    }

    /// A store in the local directory `root` (created on first write); uploads spool in
    /// `<root>/.tmp`, which no key can name.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        BlobStore {
            inner: Arc::new(Inner {
                spool_dir: root.join(".tmp"),
                min_free: 0,
                backend: Backend::Local(local::LocalStore::new(root)),
            }),
        }
    }

    /// Sets the free-space floor (`TRELLIS_MIN_FREE_DISK_BYTES`): [`BlobStore::spool`] refuses
    /// to start, and stops, an upload while the spool's file system has fewer than `bytes`
    /// available, so anonymous uploads cannot fill the disk the database lives on.
    pub fn with_min_free(mut self, bytes: u64) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.min_free = bytes;
        }
        self
    }

    /// Removes what crashed uploads left in the spool directory (and, on the local backend,
    /// the hidden `.upload-*` files of earlier releases in its root). Called once at start-up,
    /// before the server accepts connections: the spool directory belongs to this instance
    /// (`<data dir>/tmp`, or `<blob root>/.tmp`, which instances must not share while one of
    /// them starts). Returns how many files were removed; failures are logged and skipped.
    pub async fn sweep_spool(&self) -> usize {
        let mut dirs = vec![(self.inner.spool_dir.clone(), None)];
        if let Backend::Local(l) = &self.inner.backend {
            dirs.push((l.root().to_path_buf(), Some(".upload-")));
        }
        let mut removed = 0;
        for (dir, prefix) in dirs {
            let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
                continue; // not created yet: nothing to sweep
            };
            while let Ok(Some(entry)) = entries.next_entry().await {
                let name = entry.file_name();
                let matches = match prefix {
                    Some(p) => name.to_string_lossy().starts_with(p),
                    None => true,
                };
                let is_file = entry
                    .file_type()
                    .await
                    .map(|t| t.is_file())
                    .unwrap_or(false);
                if !matches || !is_file {
                    continue;
                }
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, file = %entry.path().display(), "cannot remove a leftover upload file")
                    }
                }
            }
        }
        if removed > 0 {
            tracing::info!(files = removed, "removed files left by interrupted uploads");
        }
        removed
    }

    /// Where blobs live, as a URL (`file://…` or `s3://bucket/prefix`), for logs.
    pub fn describe(&self) -> String {
        match &self.inner.backend {
            Backend::Local(l) => format!("file://{}", l.root().display()),
            Backend::S3(s) => s.url().to_string(),
        }
    }

    /// Streams `body` into a local temporary file, enforcing `limit` (bytes) on what is
    /// actually received and computing the SHA-256 on the way; the disk is written on a
    /// blocking thread. Nothing is visible under any key until [`BlobStore::commit`].
    ///
    /// # Errors
    /// [`BlobError::TooLarge`] past `limit`, [`BlobError::Source`] when `body` yields an
    /// error, [`BlobError::Io`] for the local disk. On any error the file is already gone.
    pub async fn spool<S, E>(&self, body: S, limit: u64) -> Result<Spooled, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        tokio::fs::create_dir_all(&self.inner.spool_dir).await?;
        let floor = DiskFloor {
            dir: self.inner.spool_dir.clone(),
            min_free: self.inner.min_free,
        };
        floor.check()?;
        let mut spooled = Spooled {
            path: self
                .inner
                .spool_dir
                .join(format!("{}.part", uuid::Uuid::new_v4().simple())),
            size: 0,
            sha256: String::new(),
        };
        // `spooled` removes the file on every early return below.
        let info = write_stream(&spooled.path, body, limit, &floor).await?;
        spooled.size = info.size;
        spooled.sha256 = info.sha256;
        Ok(spooled)
    }

    /// Makes a spooled upload the blob `key`, never replacing an existing one, and removes
    /// the spool file (on success and on failure).
    ///
    /// Local: a hard link, atomic (one `rename` after an existence check where the file
    /// system has no hard links). S3: one conditional `PUT` (`If-None-Match: *`) up to
    /// 8 MiB; above that a multipart upload in 8 MiB parts, one in flight, after an
    /// existence check: S3 offers no create-only multipart upload through our client, so two
    /// commits racing for one key must be kept apart by the caller (e.g. a key-value lock).
    /// A commit cancelled half-way (its future dropped) can leave an unfinished multipart
    /// upload on the server, invisible but billed: give the bucket a lifecycle rule that
    /// aborts incomplete multipart uploads.
    ///
    /// # Errors
    /// [`BlobError::InvalidKey`], [`BlobError::Exists`], [`BlobError::Io`],
    /// [`BlobError::Backend`].
    pub async fn commit(&self, spooled: Spooled, key: &str) -> Result<PutInfo, BlobError> {
        validate_key(key)?;
        match &self.inner.backend {
            Backend::Local(l) => l.link_new(&spooled.path, key).await?,
            Backend::S3(s) => s.upload(&spooled.path, spooled.size, key).await?,
        }
        Ok(spooled.info())
    }

    /// [`BlobStore::spool`] then [`BlobStore::commit`]: streams `body` into `key`, at most
    /// `limit` bytes. The blob appears only when complete; on any failure nothing is left.
    ///
    /// # Errors
    /// Those of `spool` and `commit`; an invalid key fails before `body` is read.
    pub async fn put<S, E>(&self, key: &str, body: S, limit: u64) -> Result<PutInfo, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        validate_key(key)?;
        let spooled = self.spool(body, limit).await?;
        self.commit(spooled, key).await
    }

    /// Opens `key` for streaming: [`BlobReader::size`] is known now, the bytes flow when
    /// [`BlobReader::into_stream`] is called (S3: one `HEAD` now, one ranged `GET` then).
    ///
    /// # Errors
    /// [`BlobError::InvalidKey`], [`BlobError::NotFound`], [`BlobError::Io`],
    /// [`BlobError::Backend`].
    pub async fn get(&self, key: &str) -> Result<BlobReader, BlobError> {
        validate_key(key)?;
        match &self.inner.backend {
            Backend::Local(l) => l.open(key).await,
            Backend::S3(s) => s.open(key).await,
        }
    }

    /// Moves blob `from` to key `to`, never replacing an existing `to`.
    ///
    /// Local: hard link + unlink (atomic). S3: server-side copy then delete; the copy is
    /// create-only where `AWS_COPY_IF_NOT_EXISTS` configures it for the server, else it
    /// follows an existence check (same caveat as [`BlobStore::commit`]).
    ///
    /// # Errors
    /// [`BlobError::NotFound`] when `from` is missing, [`BlobError::Exists`] when `to` is
    /// taken, plus [`BlobError::InvalidKey`], [`BlobError::Io`], [`BlobError::Backend`].
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        validate_key(from)?;
        validate_key(to)?;
        match &self.inner.backend {
            Backend::Local(l) => l.rename(from, to).await,
            Backend::S3(s) => s.rename(from, to).await,
        }
    }

    /// Deletes `key`; deleting a missing blob is not an error.
    ///
    /// # Errors
    /// [`BlobError::InvalidKey`], [`BlobError::Io`], [`BlobError::Backend`].
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        match &self.inner.backend {
            Backend::Local(l) => l.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        }
    }

    /// Whether a blob has this key.
    ///
    /// # Errors
    /// [`BlobError::InvalidKey`], [`BlobError::Io`], [`BlobError::Backend`].
    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        validate_key(key)?;
        match &self.inner.backend {
            Backend::Local(l) => l.exists(key).await,
            Backend::S3(s) => s.exists(key).await,
        }
    }

    /// Whether the store answers: for S3 one `HEAD` of a key that does not exist (a 404 is a
    /// healthy answer), bounded by `timeout`; a local directory is always reachable.
    pub async fn ping(&self, timeout: std::time::Duration) -> bool {
        match &self.inner.backend {
            Backend::Local(_) => true,
            Backend::S3(s) => matches!(
                tokio::time::timeout(timeout, s.exists("health-probe")).await,
                Ok(Ok(_))
            ),
        }
    }

    /// `local` or `s3`, for `/health` and start-up lines.
    pub fn kind(&self) -> &'static str {
        match &self.inner.backend {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
        }
    }

    /// Every key under `prefix`, sorted, relative to the store root. The prefix matches
    /// whole segments (`a/b` lists `a/b/c` but not `a/bc`); `""` lists the whole store.
    /// Spool files and other hidden names are never listed.
    ///
    /// # Errors
    /// [`BlobError::InvalidKey`] for an invalid non-empty prefix, [`BlobError::Io`],
    /// [`BlobError::Backend`].
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        let mut keys = match &self.inner.backend {
            Backend::Local(l) => l.list(prefix).await?,
            Backend::S3(s) => s.list(prefix).await?,
        };
        keys.sort();
        Ok(keys)
    }
}

impl BlobStore {
    /// The keys under `prefix` (as [`BlobStore::list`]) last written before `before`, for
    /// reconciling the store with the database after a crash: an object younger than that
    /// may belong to an upload whose row another instance is writing right now.
    ///
    /// # Errors
    /// As [`BlobStore::list`].
    pub async fn list_written_before(
        &self,
        prefix: &str,
        before: std::time::SystemTime,
    ) -> Result<Vec<String>, BlobError> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        let listed = match &self.inner.backend {
            Backend::Local(l) => l.list_times(prefix).await?,
            Backend::S3(s) => s.list_times(prefix).await?,
        };
        let mut keys: Vec<String> = listed
            .into_iter()
            .filter(|(_, t)| *t < before)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        Ok(keys)
    }
}

/// Checks the key rules in the module docs.
fn validate_key(key: &str) -> Result<(), BlobError> {
    let valid = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty() && !seg.starts_with('.') && !seg.contains(['\\', '\0', ':'])
        });
    if valid {
        Ok(())
    } else {
        Err(BlobError::InvalidKey)
    }
}

/// The free-space floor of a spool directory.
struct DiskFloor {
    dir: PathBuf,
    min_free: u64,
}

impl DiskFloor {
    /// [`BlobError::DiskFull`] when the file system holding `dir` has fewer than `min_free`
    /// bytes available to us; a failing `statvfs` is not a refusal.
    fn check(&self) -> Result<(), BlobError> {
        if self.min_free == 0 {
            return Ok(());
        }
        match rustix::fs::statvfs(&self.dir) {
            Ok(st) => {
                let available = st.f_bavail.saturating_mul(st.f_frsize);
                if available < self.min_free {
                    tracing::warn!(
                        available,
                        floor = self.min_free,
                        "upload refused: free disk space below TRELLIS_MIN_FREE_DISK_BYTES"
                    );
                    return Err(BlobError::DiskFull {
                        floor: self.min_free,
                    });
                }
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = %e, "statvfs failed; free space not checked");
                Ok(())
            }
        }
    }
}

/// Bytes gathered before a write is handed to the blocking pool.
const BATCH: usize = 1024 * 1024;

struct Sink {
    out: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    size: u64,
}

/// Receives chunks on the async side and writes them in batches of up to 1 MiB, each on a
/// short blocking task, while the next batch is received. A batch is written as soon as the
/// client pauses (no chunk ready), so a spool file never lags far behind the socket.
///
/// The blocking pool is used only while there are bytes to write, never while waiting for a
/// client (issue 7, item 9: trickling uploads held one blocking thread each for their whole
/// duration and starved downloads, which share the pool).
async fn write_stream<S, E>(
    tmp: &Path,
    mut body: S,
    limit: u64,
    floor: &DiskFloor,
) -> Result<PutInfo, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures::FutureExt as _;

    let file = std::fs::File::create(tmp)?;
    let mut sink = Some(Sink {
        out: std::io::BufWriter::with_capacity(256 * 1024, file),
        hasher: Sha256::new(),
        size: 0,
    });
    let mut writing: Option<tokio::task::JoinHandle<io::Result<Sink>>> = None;
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0usize;
    let mut received = 0u64;
    let mut ended = false;
    while !ended {
        // Take what is ready without waiting; wait only with nothing to write.
        let next = match body.next().now_or_never() {
            Some(item) => Some(item),
            None if batch.is_empty() => Some(body.next().await),
            None => None,
        };
        match next {
            Some(Some(Ok(chunk))) => {
                received += chunk.len() as u64;
                if received > limit {
                    return Err(finish(writing, BlobError::TooLarge { limit }).await);
                }
                batched += chunk.len();
                batch.push(chunk);
                if batched < BATCH {
                    continue;
                }
            }
            Some(Some(Err(e))) => {
                return Err(finish(writing, BlobError::Source(e.to_string())).await);
            }
            Some(None) => ended = true,
            None => {} // the client paused: write what we have
        }
        if let Some(w) = writing.take() {
            sink = Some(join(w).await?);
        }
        floor.check()?;
        let Some(mut s) = sink.take() else {
            return Err(BlobError::Io(io::Error::other("spool writer lost")));
        };
        let chunks = std::mem::take(&mut batch);
        batched = 0;
        writing = Some(tokio::task::spawn_blocking(move || -> io::Result<Sink> {
            for chunk in chunks {
                s.hasher.update(&chunk);
                s.out.write_all(&chunk)?;
                s.size += chunk.len() as u64;
            }
            Ok(s)
        }));
    }
    let s = match writing.take() {
        Some(w) => join(w).await?,
        None => sink.ok_or_else(|| BlobError::Io(io::Error::other("spool writer lost")))?,
    };
    tokio::task::spawn_blocking(move || -> io::Result<PutInfo> {
        let file = s.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(PutInfo {
            size: s.size,
            sha256: hex::encode(s.hasher.finalize()),
        })
    })
    .await
    .map_err(|e| BlobError::Io(io::Error::other(e.to_string())))?
    .map_err(BlobError::Io)
}

async fn join(w: tokio::task::JoinHandle<io::Result<Sink>>) -> Result<Sink, BlobError> {
    w.await
        .map_err(|e| BlobError::Io(io::Error::other(e.to_string())))?
        .map_err(BlobError::Io)
}

/// Waits for a write in flight (so the caller can remove the file) and returns `err`.
async fn finish(
    writing: Option<tokio::task::JoinHandle<io::Result<Sink>>>,
    err: BlobError,
) -> BlobError {
    if let Some(w) = writing
        && let Err(e) = join(w).await
    {
        tracing::debug!(error = %e, "spool write failed while the upload was failing anyway");
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

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
        let r = store.get("a/b@1.0.0.zip").await.unwrap();
        assert_eq!(r.size, 11);
        let body: Vec<Bytes> = r.into_stream(None).unwrap().try_collect().await.unwrap();
        assert_eq!(body.concat(), b"hello world");
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
        assert!(!dir.join("x").exists(), "blob directory created");
        let left: Vec<_> = std::fs::read_dir(dir.join(".tmp")).unwrap().collect();
        assert!(left.is_empty(), "temp file left behind");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        for key in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            "a//b",
            ".hidden",
            "a/.tmp/x",
            "a\\b",
            "c:x",
            "",
        ] {
            assert!(
                matches!(validate_key(key), Err(BlobError::InvalidKey)),
                "{key} accepted"
            );
        }
        assert!(validate_key("microdock/plugins/a/a@1.0.0.zip").is_ok());
    }

    #[test]
    fn urls_choose_the_backend() {
        let data = Path::new("/srv/trellis");
        assert_eq!(
            BlobStore::from_url(None, data).unwrap().describe(),
            "file:///srv/trellis/blobs"
        );
        assert_eq!(
            BlobStore::from_url(Some("file:///var/blobs"), data)
                .unwrap()
                .describe(),
            "file:///var/blobs"
        );
        for bad in [
            "http://x",
            "s3://",
            "s3:///prefix",
            "s3://b/../x",
            "file://",
        ] {
            assert!(
                matches!(
                    BlobStore::from_url(Some(bad), data),
                    Err(BlobError::InvalidUrl(_))
                ),
                "{bad} accepted"
            );
        }
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("trellis-blob-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
