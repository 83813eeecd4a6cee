//! The S3-compatible backend (AWS S3, MinIO, Ceph RGW, Cloudflare R2, …) on `object_store`.
//! A blob is the object `<prefix>/<key>` in one bucket.
//!
//! Memory stays bounded: uploads read the spooled file one 8 MiB part at a time and send it
//! before reading the next, so an upload holds about one part whatever the file's size;
//! downloads pass the server's chunks through.

use std::io;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

/// Time to open a connection to the S3-compatible server.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Time one request may take, body included (a part is at most 8 MiB).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Time after the first try of a request past which it is not retried.
const RETRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutPayload,
    WriteMultipart,
};

use super::{BlobError, BlobReader, ByteStream, ReaderSource};

/// Size of one multipart part, and the largest object sent in a single `PUT`.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Buffers a part is read into (and sent as).
const BODY_CHUNK: usize = 256 * 1024;
/// Parts of one upload in flight at once; memory is about `MAX_PARTS_IN_FLIGHT * PART_SIZE`
/// per upload. One keeps it at one part (measured with moto: a 20 MiB upload and download
/// raise the peak RSS by about 10 MiB); two would overlap reading and sending for 8 MiB more.
const MAX_PARTS_IN_FLIGHT: usize = 1;

type Store = Arc<PrefixStore<AmazonS3>>;

pub(super) struct S3Store {
    store: Store,
    url: String,
}

impl S3Store {
    /// `rest` is the URL after `s3://`: `<bucket>[/<prefix>]`. Everything else comes from
    /// the `AWS_*` environment (see [`super::BlobStore::from_url`]).
    pub(super) fn from_env(rest: &str) -> Result<Self, BlobError> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() {
            return Err(BlobError::InvalidUrl("s3:// needs a bucket".into()));
        }
        if !prefix.is_empty() && super::validate_key(prefix).is_err() {
            return Err(BlobError::InvalidUrl(format!(
                "s3://{bucket}/{prefix}: the prefix breaks the key rules"
            )));
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        // `from_env` reads every AWS_* variable it knows (keys, session token, region,
        // AWS_ENDPOINT_URL / AWS_ENDPOINT, AWS_COPY_IF_NOT_EXISTS, …) in no fixed order;
        // the settings below make the documented precedence explicit.
        // Outside services fail fast (issue 7 item 10): a short connect timeout, a bounded
        // request time (an 8 MiB part over a slow link fits), and a few quick retries instead
        // of object_store's default of 10 retries within 3 minutes.
        let options = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: RETRY_TIMEOUT,
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(options)
            .with_retry(retry);
        if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = env("AWS_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT")) {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let s3 = builder
            .build()
            .map_err(|e| BlobError::InvalidUrl(format!("s3://{rest}: {e}")))?;
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        Ok(S3Store {
            store: Arc::new(PrefixStore::new(s3, prefix)),
            url,
        })
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Uploads the local file `src` (`size` bytes) as a new object `key`.
    pub(super) async fn upload(&self, src: &FsPath, size: u64, key: &str) -> Result<(), BlobError> {
        let path = object_path(key)?;
        let mut file = std::fs::File::open(src)?;
        if size <= PART_SIZE as u64 {
            // Small enough to hold: one create-only PUT, atomic on servers that honour
            // `If-None-Match: *` (AWS, MinIO, R2, Ceph, moto).
            let data: PutPayload = read_part(file).await?.1.into_iter().collect();
            return match self
                .store
                .put_opts(&path, data.clone(), PutMode::Create.into())
                .await
            {
                Ok(_) => Ok(()),
                Err(object_store::Error::NotImplemented { .. }) => {
                    // Conditional puts switched off (AWS_CONDITIONAL_PUT=disabled).
                    self.refuse_existing(&path).await?;
                    self.store.put(&path, data).await.map_err(backend)?;
                    Ok(())
                }
                Err(e) => Err(backend(e)),
            };
        }
        self.refuse_existing(&path).await?;
        let upload = self.store.put_multipart(&path).await.map_err(backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        loop {
            if let Err(e) = writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await {
                abort(writer).await;
                return Err(backend(e));
            }
            let chunks;
            (file, chunks) = match read_part(file).await {
                Ok(read) => read,
                Err(e) => {
                    abort(writer).await;
                    return Err(BlobError::Io(e));
                }
            };
            let read: usize = chunks.iter().map(Bytes::len).sum();
            for chunk in chunks {
                writer.put(chunk); // the chunk completing a part starts its upload
            }
            if read < PART_SIZE {
                break;
            }
        }
        // `finish` sends the last part, completes the upload, and aborts it on failure.
        writer.finish().await.map_err(backend)?;
        Ok(())
    }

    pub(super) async fn open(&self, key: &str) -> Result<BlobReader, BlobError> {
        let path = object_path(key)?;
        let meta = self.store.head(&path).await.map_err(backend)?;
        Ok(BlobReader {
            size: meta.size,
            source: ReaderSource::S3(S3Reader {
                store: Arc::clone(&self.store),
                path,
                e_tag: meta.e_tag,
            }),
        })
    }

    pub(super) async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let (src, dest) = (object_path(from)?, object_path(to)?);
        let create = CopyOptions {
            mode: CopyMode::Create,
            ..Default::default()
        };
        match self.store.copy_opts(&src, &dest, create).await {
            Ok(()) => {}
            // No create-only copy configured for this server: check, then copy.
            Err(object_store::Error::NotSupported { .. })
            | Err(object_store::Error::NotImplemented { .. }) => {
                self.refuse_existing(&dest).await?;
                self.store.copy(&src, &dest).await.map_err(backend)?;
            }
            Err(e) => return Err(backend(e)),
        }
        self.store.delete(&src).await.map_err(backend)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&object_path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        match self.store.head(&object_path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    /// [`S3Store::list`] with each object's last-modified time.
    pub(super) async fn list_times(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, std::time::SystemTime)>, BlobError> {
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(object_path(prefix)?)
        };
        let metas: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(backend)?;
        Ok(metas
            .into_iter()
            .map(|m| {
                (
                    m.location.to_string(),
                    std::time::SystemTime::from(m.last_modified),
                )
            })
            .filter(|(k, _)| super::validate_key(k).is_ok())
            .collect())
    }

    /// Every key under `prefix` (see [`S3Store::list_times`]). Objects written by other tools
    /// may not be valid keys; they cannot be opened through this interface, so they are not
    /// listed either.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        Ok(self
            .list_times(prefix)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    async fn refuse_existing(&self, path: &Path) -> Result<(), BlobError> {
        match self.store.head(path).await {
            Ok(_) => Err(BlobError::Exists),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

/// An object opened by [`S3Store::open`]: where it is and which version was seen.
pub(super) struct S3Reader {
    store: Store,
    path: Path,
    e_tag: Option<String>,
}

impl S3Reader {
    /// `range` (checked, non-empty) as one `GET`, pinned to the version seen by `HEAD`.
    pub(super) fn stream(self, range: Range<u64>, size: u64) -> ByteStream {
        let whole = range.start == 0 && range.end == size;
        let options = GetOptions {
            if_match: self.e_tag,
            range: (!whole).then_some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let request = async move {
            let got = self
                .store
                .get_opts(&self.path, options)
                .await
                .map_err(io_error)?;
            Ok::<_, io::Error>(got.into_stream().map_err(io_error))
        };
        futures::stream::once(request).try_flatten().boxed()
    }
}

/// Reads up to one part from `file` on a blocking thread (short only at the end of file), as
/// `BODY_CHUNK`-sized buffers: the HTTP client copies each body chunk into its write buffer
/// (plain-HTTP connections), so one 8 MiB chunk would cost a second 8 MiB.
async fn read_part(file: std::fs::File) -> io::Result<(std::fs::File, Vec<Bytes>)> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut chunks = Vec::new();
        let mut left = PART_SIZE;
        while left > 0 {
            let mut buf = Vec::with_capacity(BODY_CHUNK.min(left));
            let n = (&file).take(buf.capacity() as u64).read_to_end(&mut buf)?;
            if n == 0 {
                break;
            }
            left -= n;
            chunks.push(Bytes::from(buf));
        }
        Ok((file, chunks))
    })
    .await
    .map_err(|e| io::Error::other(e.to_string()))?
}

/// A validated key as an object path (relative to the store's prefix).
fn object_path(key: &str) -> Result<Path, BlobError> {
    Path::parse(key).map_err(|_| BlobError::InvalidKey)
}

fn backend(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        object_store::Error::AlreadyExists { .. } => BlobError::Exists,
        e => BlobError::Backend(Box::new(e)),
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

/// Aborts a multipart upload after a failure; an abort that fails too leaves an unfinished
/// upload, which the bucket's lifecycle rule removes (see README), so it is only logged.
async fn abort(writer: WriteMultipart) {
    if let Err(e) = writer.abort().await {
        tracing::debug!(error = %e, "multipart upload not aborted");
    }
}
