//! MicroDock scenarios (issue 3), server pinned to CPU 0 and this load generator meant to run
//! on CPU 1 (`taskset -c 1 trellis-bench microdock`):
//! 1. `GET /api/plugins/list` with 50 plugins at 64 connections: requests/s and p99, side by
//!    side with the FastAPI + SQLAlchemy + Pydantic reference in `bench/reference/`;
//! 2. a 100 MiB plugin upload (one, then four at once): server RSS growth and throughput
//!    against `cat file > file` on the same disk;
//! 3. a 100 MiB download: throughput and RSS.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::probe::{median, percentile};
use crate::server::{ADMIN_PASSWORD, Server, status_field};
use crate::wire;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    #[arg(long, default_value = "bench/reference/microdock_list.py")]
    reference: String,
    #[arg(long, default_value = "python3")]
    python: String,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Size of the large upload/download, MiB.
    #[arg(long, default_value_t = 100)]
    mib: usize,
}

/// A small valid plugin archive (stored entries, so building it is cheap).
pub(crate) fn small_zip(name: &str, version: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let manifest = json!({"name": name, "version": version, "main": "Main.dll", "entryClass": "Main.Entry",
        "displayName": format!("插件 {name}"), "description": "基准测试用插件，带一些描述文字。", "author": "bench",
        "license": "MIT", "homepage": "https://example.com", "dependencies": {"com.other.plugin": ">=1.0.0"}});
    w.start_file("plugin.json", opts).expect("zip");
    w.write_all(manifest.to_string().as_bytes()).expect("zip");
    w.start_file("Main.dll", opts).expect("zip");
    w.write_all(b"MZ bench").expect("zip");
    w.finish().expect("zip").into_inner()
}

/// A `mib` MiB plugin archive on disk: random stored payload, as real DLL bundles mostly are.
fn big_zip(path: &Path, version: &str, mib: usize) -> anyhow::Result<u64> {
    let f = std::fs::File::create(path)?;
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let manifest = json!({"name": "com.bench.big", "version": version, "main": "Main.dll", "entryClass": "Main.Entry"});
    w.start_file("plugin.json", opts)?;
    w.write_all(manifest.to_string().as_bytes())?;
    w.start_file("Main.dll", opts)?;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut block = vec![0u8; 1024 * 1024];
    for _ in 0..mib.saturating_sub(1) {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        w.write_all(&block)?;
    }
    w.finish()?;
    Ok(std::fs::metadata(path)?.len())
}

async fn upload(client: &reqwest::Client, base: &str, path: &Path) -> anyhow::Result<()> {
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        )),
        len,
    )
    .file_name("plugin.zip");
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("plugin_key", "bench-key");
    let r = client
        .post(format!("{base}/api/plugins/upload"))
        .multipart(form)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_success(),
        "upload failed: {} {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
    Ok(())
}

/// `connections` keep-alive clients GETting `path` for `secs`; returns (requests/s, p99 ms).
async fn get_load(addr: &str, path: &str, connections: usize, secs: u64) -> (f64, f64) {
    let stop = Instant::now() + Duration::from_secs(secs);
    let request = Arc::new(wire::get(addr, path));
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, request) = (addr.to_string(), request.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let Ok(mut c) = wire::Conn::open(&addr).await else {
                    return lat;
                };
                while Instant::now() < stop {
                    let t = Instant::now();
                    match c.send(&request).await {
                        Ok(200) => lat.push(t.elapsed()),
                        _ => break,
                    }
                }
                lat
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap_or_default());
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (rate, percentile(&mut all, 99.0).as_secs_f64() * 1000.0)
}

/// Peak RSS (KiB) of `pid` while `fut` runs, sampled every 10 ms.
async fn peak_rss<F: std::future::Future>(pid: u32, fut: F) -> (F::Output, u64) {
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(status_field(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let out = fut.await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    (out, peak.load(Ordering::Relaxed))
}

struct Reference(Child);

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_reference(a: &Args, data: &Path) -> anyhow::Result<(Reference, String)> {
    let port = free_port()?;
    let child = Command::new("taskset")
        .args([
            "-c",
            "0",
            &a.python,
            &a.reference,
            &port.to_string(),
            data.to_str().unwrap_or_default(),
        ])
        .stdout(Stdio::null())
        .spawn()?;
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return Ok((Reference(child), addr));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "reference server did not start (pip install fastapi uvicorn 'sqlalchemy[asyncio]' aiosqlite)"
    )
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let env = [
        ("RATE_LIMIT_ENABLED", "false"),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0"),
    ];
    let s = Server::start(&a.server, Some("0"), &env)?;
    let addr = s.base.trim_start_matches("http://").to_string();
    let client = reqwest::Client::builder().no_proxy().build()?;
    for i in 0..50 {
        let zip = small_zip(&format!("com.bench.plugin{i:02}"), "1.0.0");
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("p.zip"),
            )
            .text("plugin_key", "bench-key");
        let r = client
            .post(format!("{}/api/plugins/upload", s.base))
            .multipart(form)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "seeding failed: {}",
            r.text().await?
        );
    }
    let list: serde_json::Value = client
        .get(format!("{}/api/plugins/list", s.base))
        .send()
        .await?
        .json()
        .await?;
    let scratch = std::env::temp_dir().join(format!("trellis-bench-md-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let data = scratch.join("plugins.json");
    std::fs::write(&data, list["data"].to_string())?;
    let (reference, ref_addr) = start_reference(&a, &data).await?;
    get_load(&addr, "/api/plugins/list", 8, 1).await;
    get_load(&ref_addr, "/api/plugins/list", 8, 1).await;
    let (mut ours_rps, mut ours_p99, mut ref_rps, mut ref_p99, mut ratio) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..a.runs {
        let (r1, p1) = get_load(&addr, "/api/plugins/list", a.connections, a.seconds).await;
        let (r2, p2) = get_load(&ref_addr, "/api/plugins/list", a.connections, a.seconds).await;
        ours_rps.push(r1);
        ours_p99.push(p1);
        ref_rps.push(r2);
        ref_p99.push(p2);
        ratio.push(r1 / r2.max(0.001));
    }
    drop(reference);

    // Uploads: files made first, the `cat` baseline on the same disk, then the uploads.
    let mut files: Vec<PathBuf> = Vec::new();
    for i in 0..5 {
        let p = scratch.join(format!("big{i}.zip"));
        big_zip(&p, &format!("1.0.{i}"), a.mib)?;
        files.push(p);
    }
    let size = std::fs::metadata(&files[0])?.len();
    // The server makes an upload durable (fsync) before answering, so the fair baseline is
    // `cat` followed by `sync` of the copy; plain `cat` (page cache only) is shown too.
    let mut cat_mbps = Vec::new();
    let mut cat_plain_mbps = Vec::new();
    for _ in 0..a.runs {
        for (sync, out) in [(true, &mut cat_mbps), (false, &mut cat_plain_mbps)] {
            let copy = scratch.join("copy.zip");
            let cmd = if sync {
                format!(
                    "cat '{}' > '{}' && sync '{}'",
                    files[0].display(),
                    copy.display(),
                    copy.display()
                )
            } else {
                format!("cat '{}' > '{}'", files[0].display(), copy.display())
            };
            let t = Instant::now();
            anyhow::ensure!(
                Command::new("sh").args(["-c", &cmd]).status()?.success(),
                "cat failed"
            );
            out.push(size as f64 / t.elapsed().as_secs_f64() / 1e6);
            let _ = std::fs::remove_file(copy);
        }
    }
    let before = s.rss_kib();
    let t = Instant::now();
    let (res, peak1) = peak_rss(s.pid(), upload(&client, &s.base, &files[0])).await;
    res?;
    let up_mbps = size as f64 / t.elapsed().as_secs_f64() / 1e6;
    let growth1 = peak1.saturating_sub(before) as f64 / 1024.0;
    // SHA-256 alone over the same bytes, on this CPU: the floor under any checksummed upload.
    let bytes = std::fs::read(&files[0])?;
    let t = Instant::now();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    let sha_mbps = size as f64 / t.elapsed().as_secs_f64() / 1e6;
    drop((bytes, digest));
    let before4 = s.rss_kib();
    let four = futures::future::join_all(files[1..5].iter().map(|f| upload(&client, &s.base, f)));
    let (results, peak4) = peak_rss(s.pid(), four).await;
    for r in results {
        r?;
    }
    let growth4 = peak4.saturating_sub(before4) as f64 / 1024.0;

    // Download of the big plugin (current version = the highest uploaded).
    let body = json!({"name": "com.bench.big", "version": "1.0.0"}).to_string();
    let request = wire::post_json(&addr, "/api/plugins/version/download", &body);
    let mut down = Vec::new();
    let before_dl = s.rss_kib();
    let mut peak_dl = 0;
    for _ in 0..a.runs {
        let mut c = wire::Conn::open(&addr).await?;
        let t = Instant::now();
        let (res, peak) = peak_rss(s.pid(), c.send_discard(&request)).await;
        let (status, len) = res?;
        anyhow::ensure!(
            status == 200 && len == size,
            "download failed: {status} {len}"
        );
        down.push(len as f64 / t.elapsed().as_secs_f64() / 1e9);
        peak_dl = peak_dl.max(peak);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = ADMIN_PASSWORD;

    println!(
        "server on CPU 0, load generator on the other CPU; runs: {}; medians reported\n",
        a.runs
    );
    println!("| scenario | figure | target | result |");
    println!("|---|---|---|---|");
    println!(
        "| list, 50 plugins, {} connections | {:.0} req/s, p99 {:.2} ms | p99 <= 25 ms | {} |",
        a.connections,
        median(ours_rps.clone()),
        median(ours_p99.clone()),
        if median(ours_p99) <= 25.0 {
            "met"
        } else {
            "missed"
        }
    );
    println!(
        "| list, FastAPI + SQLAlchemy + Pydantic reference | {:.0} req/s, p99 {:.2} ms | | |",
        median(ref_rps),
        median(ref_p99)
    );
    println!(
        "| list, ratio to the reference | | >= 15x | {:.1}x |",
        median(ratio)
    );
    println!(
        "| upload {} MiB, one | {:.0} MB/s vs cat+sync {:.0} MB/s; RSS +{:.1} MiB | >= 60%; <= 16 MiB | {:.0}% |",
        a.mib,
        up_mbps,
        median(cat_mbps.clone()),
        growth1,
        up_mbps / median(cat_mbps) * 100.0
    );
    println!(
        "| upload {} MiB, four at once | RSS +{:.1} MiB | <= 32 MiB | {} |",
        a.mib,
        growth4,
        if growth4 <= 32.0 { "met" } else { "missed" }
    );
    println!(
        "| upload context | plain cat {:.0} MB/s; SHA-256 alone {:.0} MB/s | | upload = {:.0}% of plain cat |",
        median(cat_plain_mbps.clone()),
        sha_mbps,
        up_mbps / median(cat_plain_mbps) * 100.0
    );
    println!(
        "| download {} MiB | {:.2} GB/s; RSS {:.1} -> peak {:.1} MiB | >= 1 GB/s, flat | |",
        a.mib,
        median(down),
        before_dl as f64 / 1024.0,
        peak_dl as f64 / 1024.0
    );
    Ok(())
}
