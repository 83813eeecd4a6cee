//! A `trellis` process under test: scratch data dir, ephemeral port, RSS readings.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub base: String,
    dir: PathBuf,
    log: Option<PathBuf>,
}

pub const ADMIN_PASSWORD: &str = "Bench-Admin-Password-1";

impl Server {
    /// Starts `bin` with the given extra environment; `cpus` pins it with `taskset` if set.
    pub fn start(bin: &str, cpus: Option<&str>, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("trellis-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Self::start_in(dir, bin, cpus, env, false)
    }

    /// Starts `bin` unpinned with its log (stderr) kept in a file, for [`Server::log_lines`].
    pub fn start_logged(bin: &str, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let dir = std::env::temp_dir().join(format!("trellis-bench-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Self::start_in(dir, bin, None, env, true)
    }

    /// Lines of the kept log containing `needle` (0 without a kept log).
    pub fn log_lines(&self, needle: &str) -> usize {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map_or(0, |s| s.lines().filter(|l| l.contains(needle)).count())
    }

    /// Stops this server and starts the same binary on the same data directory (a restart:
    /// the database already exists, the admin account too).
    pub fn restart(mut self, bin: &str, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::take(&mut self.dir);
        Self::start_in(dir, bin, None, env, false)
    }

    fn start_in(
        dir: PathBuf,
        bin: &str,
        cpus: Option<&str>,
        env: &[(&str, &str)],
        keep_log: bool,
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
        let log = keep_log.then(|| dir.join("server.log"));
        let mut child = cmd.spawn()?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut reader = BufReader::new(out);
        let mut base = None;
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            if let Some(rest) = line.trim_end().strip_prefix("trellis: listening on ") {
                base = rest.split_whitespace().next().map(str::to_string);
                break;
            }
            line.clear();
        }
        // The log is on stdout after the start-up line: keep draining it (into a file when
        // asked for), so the server never writes into a closed pipe.
        let mut sink: Box<dyn std::io::Write + Send> = match &log {
            Some(path) => Box::new(std::fs::File::create(path)?),
            None => Box::new(std::io::sink()),
        };
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut reader, &mut sink);
        });
        let base = base.ok_or_else(|| anyhow::anyhow!("server did not start"))?;
        Ok(Server {
            child,
            base,
            dir,
            log,
        })
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
