//! The blob store suite, run on both backends: the local directory (always) and an
//! S3-compatible server when `TEST_S3_URL` (`s3://<bucket>[/<prefix>]`, the bucket must exist)
//! and `AWS_ENDPOINT_URL` are set, as `.ci/run` does with moto. Each test gets its own data
//! directory and its own key prefix. Under `CI=true` a missing S3 configuration fails.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use trellis_kernel::blob::{BlobError, BlobStore};

/// A store for one test and the data directory its spool lives in (removed on drop).
struct Fixture {
    store: BlobStore,
    data_dir: PathBuf,
    /// The object prefix on S3 (`None` for the local backend).
    s3_prefix: Option<String>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Fixture {
    fn local() -> Fixture {
        let data_dir = temp_dir();
        Fixture {
            store: BlobStore::from_url(None, &data_dir).expect("local store"),
            data_dir,
            s3_prefix: None,
        }
    }

    /// `None` outside CI when S3 is not configured.
    fn s3() -> Option<Fixture> {
        let base = s3_url()?;
        let data_dir = temp_dir();
        let url = format!(
            "{}/t-{}",
            base.trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        );
        let store = BlobStore::from_url(Some(&url), &data_dir).expect("s3 store");
        let prefix = url.trim_start_matches("s3://").to_string();
        Some(Fixture {
            store,
            data_dir,
            s3_prefix: Some(prefix),
        })
    }

    /// Files left in the spool directory of either backend.
    fn spool_files(&self) -> usize {
        [self.data_dir.join("blobs/.tmp"), self.data_dir.join("tmp")]
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .map(|entries| entries.count())
            .sum()
    }

    /// Removes what the test stored (on S3 the bucket outlives the test).
    async fn clean(self) {
        for key in self.store.list("").await.unwrap() {
            self.store.delete(&key).await.unwrap();
        }
    }
}

/// `TEST_S3_URL` when it and `AWS_ENDPOINT_URL` are set; panics under `CI=true` otherwise,
/// so CI can never pass by skipping the S3 half of the suite.
fn s3_url() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (var("TEST_S3_URL"), var("AWS_ENDPOINT_URL")) {
        (Some(url), Some(_)) => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("CI=true but TEST_S3_URL and AWS_ENDPOINT_URL are not both set")
        }
        _ => None,
    }
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("trellis-blobs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Defines `mod <name> { local, s3 }` around `async fn <name>(Fixture)`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                super::$name(super::Fixture::local()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                let Some(fx) = super::Fixture::s3() else {
                    eprintln!("TEST_S3_URL/AWS_ENDPOINT_URL unset: S3 variant not run");
                    return;
                };
                super::$name(fx).await;
            }
        }
    )*};
}

both_backends!(
    round_trip_with_sha256,
    size_limit_leaves_nothing,
    ranges,
    commit_and_rename_never_replace,
    delete_missing_is_ok,
    list_is_sorted_and_segment_wise,
    invalid_keys_are_refused,
    large_upload_streams_in_parts,
    list_written_before_sees_only_older_objects,
);

fn body(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + use<> {
    let parts: Vec<_> = parts
        .iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    futures::stream::iter(parts)
}

async fn read(store: &BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let reader = store.get(key).await.expect("get");
    let chunks: Vec<Bytes> = reader
        .into_stream(range)
        .expect("range")
        .try_collect()
        .await
        .expect("read stream");
    chunks.concat()
}

async fn round_trip_with_sha256(fx: Fixture) {
    let s = &fx.store;
    let info = s
        .put("a/b@1.0.0.zip", body(&[b"hello ", b"world"]), 100)
        .await
        .unwrap();
    assert_eq!(info.size, 11);
    assert_eq!(
        info.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(s.get("a/b@1.0.0.zip").await.unwrap().size, 11);
    assert_eq!(read(s, "a/b@1.0.0.zip", None).await, b"hello world");
    assert!(s.exists("a/b@1.0.0.zip").await.unwrap());
    // A "directory" is not a blob.
    assert!(matches!(s.get("a").await, Err(BlobError::NotFound)));
    assert!(!s.exists("a").await.unwrap());
    // An empty blob is a blob.
    let empty = s.put("a/empty", body(&[]), 100).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(read(s, "a/empty", None).await, b"");
    s.delete("a/b@1.0.0.zip").await.unwrap();
    assert!(matches!(
        s.get("a/b@1.0.0.zip").await,
        Err(BlobError::NotFound)
    ));
    assert!(!s.exists("a/b@1.0.0.zip").await.unwrap());
    assert_eq!(fx.spool_files(), 0);
    fx.clean().await;
}

async fn size_limit_leaves_nothing(fx: Fixture) {
    let s = &fx.store;
    let err = s
        .put("x/big.zip", body(&[b"12345", b"67890"]), 7)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 7 }), "{err}");
    let err = s.spool(body(&[b"12345678"]), 7).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 7 }), "{err}");
    // Exactly at the limit is fine.
    let spooled = s.spool(body(&[b"1234567"]), 7).await.unwrap();
    assert_eq!(spooled.size, 7);
    drop(spooled); // an uncommitted spool goes away
    // A failing source stream also leaves nothing.
    let failing = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(std::io::Error::other("client went away")),
    ]);
    let err = s.put("x/cut.zip", failing, 100).await.unwrap_err();
    assert!(matches!(err, BlobError::Source(_)), "{err}");
    assert!(s.list("").await.unwrap().is_empty());
    assert!(!s.exists("x/big.zip").await.unwrap());
    assert_eq!(fx.spool_files(), 0);
    fx.clean().await;
}

async fn ranges(fx: Fixture) {
    let s = &fx.store;
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    s.put("r/data.bin", body(&[&data[..300], &data[300..]]), 1000)
        .await
        .unwrap();
    assert_eq!(read(s, "r/data.bin", Some(0..1)).await, &data[..1]);
    assert_eq!(read(s, "r/data.bin", Some(400..600)).await, &data[400..600]);
    assert_eq!(read(s, "r/data.bin", Some(999..1000)).await, &data[999..]);
    assert_eq!(read(s, "r/data.bin", Some(0..1000)).await, data);
    assert_eq!(read(s, "r/data.bin", None).await, data);
    assert_eq!(read(s, "r/data.bin", Some(5..5)).await, b"");
    for (start, end) in [(0, 1001), (1000, 1001)] {
        let r = s.get("r/data.bin").await.unwrap();
        assert!(matches!(
            r.into_stream(Some(start..end)),
            Err(BlobError::InvalidRange { size: 1000, .. })
        ));
    }
    fx.clean().await;
}

async fn commit_and_rename_never_replace(fx: Fixture) {
    let s = &fx.store;
    s.put("k/a", body(&[b"first"]), 100).await.unwrap();
    s.put("k/b", body(&[b"second"]), 100).await.unwrap();

    // A spooled upload can be inspected (the file seeks) before it is committed.
    let spooled = s.spool(body(&[b"third"]), 100).await.unwrap();
    assert_eq!(std::fs::read(spooled.path()).unwrap(), b"third");
    let spool_path = spooled.path().to_path_buf();
    let err = s.commit(spooled, "k/a").await.unwrap_err();
    assert!(matches!(err, BlobError::Exists), "{err}");
    assert!(!spool_path.exists(), "spool kept after a failed commit");
    assert_eq!(read(s, "k/a", None).await, b"first");

    let err = s.rename("k/a", "k/b").await.unwrap_err();
    assert!(matches!(err, BlobError::Exists), "{err}");
    assert_eq!(read(s, "k/a", None).await, b"first");
    assert_eq!(read(s, "k/b", None).await, b"second");

    s.rename("k/a", "k/moved/a").await.unwrap();
    assert!(!s.exists("k/a").await.unwrap());
    assert_eq!(read(s, "k/moved/a", None).await, b"first");
    let err = s.rename("k/a", "k/c").await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound), "{err}");

    let spooled = s.spool(body(&[b"fourth"]), 100).await.unwrap();
    let info = s.commit(spooled, "k/d").await.unwrap();
    assert_eq!(info.size, 6);
    assert_eq!(read(s, "k/d", None).await, b"fourth");
    assert_eq!(fx.spool_files(), 0);
    fx.clean().await;
}

async fn delete_missing_is_ok(fx: Fixture) {
    let s = &fx.store;
    s.delete("never/there").await.unwrap();
    s.put("d/x", body(&[b"x"]), 10).await.unwrap();
    s.delete("d/x").await.unwrap();
    s.delete("d/x").await.unwrap();
    assert!(s.list("").await.unwrap().is_empty());
    fx.clean().await;
}

async fn list_is_sorted_and_segment_wise(fx: Fixture) {
    let s = &fx.store;
    for key in ["p/a/2", "q/1", "p/ab", "p/a/1", "p/a/deep/3"] {
        s.put(key, body(&[key.as_bytes()]), 100).await.unwrap();
    }
    assert_eq!(
        s.list("").await.unwrap(),
        ["p/a/1", "p/a/2", "p/a/deep/3", "p/ab", "q/1"]
    );
    assert_eq!(
        s.list("p/a").await.unwrap(),
        ["p/a/1", "p/a/2", "p/a/deep/3"]
    );
    assert_eq!(s.list("p/a/").await.unwrap(), s.list("p/a").await.unwrap());
    assert_eq!(s.list("q").await.unwrap(), ["q/1"]);
    assert!(s.list("nothing/here").await.unwrap().is_empty());
    // A spool in progress is not listed.
    let spooled = s.spool(body(&[b"pending"]), 100).await.unwrap();
    assert_eq!(s.list("").await.unwrap().len(), 5);
    drop(spooled);
    fx.clean().await;
}

async fn invalid_keys_are_refused(fx: Fixture) {
    let s = &fx.store;
    s.put("ok/x", body(&[b"x"]), 10).await.unwrap();
    for key in [
        "../x",
        "/etc/passwd",
        "a/../../b",
        "a//b",
        ".hidden",
        ".tmp/x",
        "a\\b",
        "c:x",
        "",
    ] {
        let invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::InvalidKey));
        assert!(
            invalid(s.put(key, body(&[b"x"]), 10).await.map(|_| ())),
            "put {key:?}"
        );
        assert!(invalid(s.get(key).await.map(|_| ())), "get {key:?}");
        assert!(invalid(s.delete(key).await), "delete {key:?}");
        assert!(invalid(s.exists(key).await.map(|_| ())), "exists {key:?}");
        assert!(invalid(s.rename("ok/x", key).await), "rename to {key:?}");
        assert!(invalid(s.rename(key, "ok/y").await), "rename from {key:?}");
        let spooled = s.spool(body(&[b"x"]), 10).await.unwrap();
        assert!(
            invalid(s.commit(spooled, key).await.map(|_| ())),
            "commit {key:?}"
        );
        if !key.is_empty() && key != "/etc/passwd" {
            assert!(invalid(s.list(key).await.map(|_| ())), "list {key:?}");
        }
    }
    assert_eq!(s.list("").await.unwrap(), ["ok/x"]);
    assert_eq!(fx.spool_files(), 0);
    fx.clean().await;
}

/// Keeps the two large-upload variants apart so each measures its own peak memory.
static LARGE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// 20 MiB made on the fly in 64 KiB chunks: it goes through the spool and (on S3) out as a
/// multipart upload without the process ever holding the whole file.
async fn large_upload_streams_in_parts(fx: Fixture) {
    let _alone = LARGE.lock().await;
    const SIZE: usize = 20 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);
    let mut expected = Sha256::new();
    for i in 0..SIZE / CHUNK {
        expected.update(chunk(i));
    }
    let expected = hex::encode(expected.finalize());

    let peak_before = peak_rss_bytes();
    let source =
        futures::stream::iter((0..SIZE / CHUNK).map(move |i| Ok::<_, std::io::Error>(chunk(i))));
    let s = &fx.store;
    let info = s.put("big/file.bin", source, SIZE as u64).await.unwrap();
    assert_eq!(info.size, SIZE as u64);
    assert_eq!(info.sha256, expected);

    // Read it back as a stream, hashing as it comes.
    let reader = s.get("big/file.bin").await.unwrap();
    assert_eq!(reader.size, SIZE as u64);
    let mut stream = reader.into_stream(None).unwrap();
    let (mut hash, mut read) = (Sha256::new(), 0usize);
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.unwrap();
        read += bytes.len();
        hash.update(&bytes);
    }
    assert_eq!(read, SIZE);
    assert_eq!(hex::encode(hash.finalize()), expected);
    let peak_after = peak_rss_bytes();

    if let Some(prefix) = &fx.s3_prefix {
        // S3 marks a multipart object's ETag with its part count: 20 MiB in 8 MiB parts.
        let e_tag = s3_e_tag(prefix, "big/file.bin").await;
        assert!(e_tag.trim_matches('"').ends_with("-3"), "ETag {e_tag}");
    }
    if let (Some(before), Some(after)) = (peak_before, peak_after) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "peak RSS grew by {} KiB for a {} KiB blob",
            grown / 1024,
            SIZE / 1024
        );
        assert!(grown < SIZE as u64, "peak RSS grew by {grown} bytes");
    }
    assert_eq!(fx.spool_files(), 0);
    fx.clean().await;
}

/// The process's peak resident set (`VmHWM`), where `/proc` has it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The ETag S3 reports for `key` under `prefix` (`bucket/…`), read with a client of our own.
async fn s3_e_tag(prefix: &str, key: &str) -> String {
    use object_store::ObjectStoreExt;
    let (bucket, path) = prefix.split_once('/').unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(endpoint.starts_with("http://"))
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    let location = object_store::path::Path::parse(format!("{path}/{key}")).unwrap();
    let meta = s3.head(&location).await.unwrap();
    meta.e_tag.expect("an ETag")
}

#[test]
fn from_url_defaults_to_the_data_dir() {
    let store = BlobStore::from_url(None, Path::new("/srv/data")).unwrap();
    assert_eq!(store.describe(), "file:///srv/data/blobs");
}

/// Issue 7, item 11: the start-up reconciliation lists objects with their write time, so it
/// never touches an object younger than its grace period (another instance's upload).
async fn list_written_before_sees_only_older_objects(fx: Fixture) {
    let s = &fx.store;
    for key in ["r/b", "r/a", "other/c"] {
        s.put(key, body(&[b"x"]), 10).await.unwrap();
    }
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    assert_eq!(
        s.list_written_before("r", later).await.unwrap(),
        ["r/a", "r/b"]
    );
    let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    assert!(
        s.list_written_before("r", earlier)
            .await
            .unwrap()
            .is_empty()
    );
    fx.clean().await;
}
