//! A `trellis` process under test: scratch data dir, ephemeral port, RSS readings.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub base: String,
    dir: PathBuf,
}

pub const ADMIN_PASSWORD: &str = "Bench-Admin-Password-1";

impl Server {
    /// Starts `bin` with the given extra environment; `cpus` pins it with `taskset` if set.
    pub fn start(bin: &str, cpus: Option<&str>, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("trellis-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Self::start_in(dir, bin, cpus, env)
    }

    /// Stops this server and starts the same binary on the same data directory (a restart:
    /// the database already exists, the admin account too).
    pub fn restart(mut self, bin: &str, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::take(&mut self.dir);
        Self::start_in(dir, bin, None, env)
    }

    fn start_in(
        dir: PathBuf,
        bin: &str,
        cpus: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let mut cmd = match cpus {
            Some(c) => {
                let mut t = Command::new("taskset");
                t.args(["-c", c, bin]);
                t
            }
            None => Command::new(bin),
        };
        cmd.env("TRELLIS_DATA_DIR", &dir)
            .env("PORT", "0")
            .env("LOG_LEVEL", "warn")
            .env(
                "JWT_SECRET_KEY",
                "bench-secret-bench-secret-bench-secret-0123",
            )
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut base = None;
        for line in BufReader::new(out).lines() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("trellis: listening on ") {
                base = rest.split_whitespace().next().map(str::to_string);
                break;
            }
        }
        let base = base.ok_or_else(|| anyhow::anyhow!("server did not start"))?;
        Ok(Server { child, base, dir })
    }

    /// Resident set size in KiB (of the server, not of `taskset`, which execs it).
    pub fn rss_kib(&self) -> u64 {
        status_field(self.child.id(), "VmRSS:")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
