//! Typed configuration read from the environment (and an optional `.env`).
//!
//! Every field has a default that works with nothing installed. Names come from the seeds, with
//! aliases (`HOST`/`API_HOST`, `JWT_SECRET_KEY`/`JWT_SECRET`). Parsing collects *every* problem so
//! start-up fails once with a message naming all offending variables.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use secrecy::SecretString;

/// Deployment mode (`TRELLIS_ENV`); production refuses weak secrets and the default admin
/// password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// `development` (alias `dev`), the default.
    Development,
    /// `production` (alias `prod`).
    Production,
}

impl Environment {
    /// Parses `development|dev|production|prod`.
    pub fn parse(s: &str) -> Option<Environment> {
        match s {
            "development" | "dev" => Some(Environment::Development),
            "production" | "prod" => Some(Environment::Production),
            _ => None,
        }
    }

    /// The mode named by `TRELLIS_ENV` in `vars` (development when unset or invalid; the
    /// kernel's configuration reports an invalid value).
    pub fn from_vars(vars: &HashMap<String, String>) -> Environment {
        vars.get("TRELLIS_ENV")
            .and_then(|v| Environment::parse(v.trim()))
            .unwrap_or(Environment::Development)
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `pretty`: human-readable multi-line output for a terminal (the default).
    Pretty,
    /// `json`: one JSON object per line, for log collectors.
    Json,
}

/// SMTP settings; present only when `SMTP_HOST` is set.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Relay host name (`SMTP_HOST`).
    pub host: String,
    /// Relay port (`SMTP_PORT`, default 587); 465 means implicit TLS, others use STARTTLS.
    pub port: u16,
    /// Login user (`SMTP_USERNAME`); credentials are sent only when a password is set too.
    pub username: Option<String>,
    /// Login password (`SMTP_PASSWORD`), masked in [`Config::describe`].
    pub password: Option<SecretString>,
    /// Sender address (`SMTP_FROM_EMAIL`; defaults to the username, else `trellis@localhost`).
    pub from_email: String,
    /// Whether to encrypt the connection (`SMTP_USE_TLS`, default true); false sends in clear.
    pub use_tls: bool,
}

/// Global per-IP rate limit applied to every API request.
#[derive(Clone, Copy, Debug)]
pub struct RateLimitConfig {
    /// Whether the limit applies at all (`RATE_LIMIT_ENABLED`, default true).
    pub enabled: bool,
    /// Requests allowed per window per client IP (`RATE_LIMIT_TIMES`, default 100; positive).
    pub times: u32,
    /// Window length in seconds (`RATE_LIMIT_SECONDS`, default 60; positive).
    pub seconds: u64,
}

/// Connection and body limits against slow or idle clients (slowloris, trickled uploads).
#[derive(Clone, Copy, Debug)]
pub struct SlowClientConfig {
    /// Seconds a client gets to send a complete request head, counted from when the
    /// connection is ready for one; an idle keep-alive connection is closed after the same
    /// time (`TRELLIS_HEADER_TIMEOUT_SECONDS`, default 10; positive).
    pub header_timeout_seconds: u64,
    /// Seconds a request body may take before the minimum rate applies
    /// (`TRELLIS_BODY_GRACE_SECONDS`, default 10).
    pub body_grace_seconds: u64,
    /// Average bytes per second a request body must keep after the grace period, or the
    /// request fails with 408 `request_timeout` and the connection closes
    /// (`TRELLIS_BODY_MIN_BYTES_PER_SECOND`, default 1024; 0 turns the check off).
    pub body_min_bytes_per_second: u64,
}

/// An IP network in CIDR form (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr[/prefix]`; `None` for a bad address or a prefix longer than the family's.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The effective configuration of one `trellis` process.
#[derive(Clone, Debug)]
pub struct Config {
    /// Deployment mode (`TRELLIS_ENV`, default development).
    pub env: Environment,
    /// Address to listen on (`HOST`/`API_HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// TCP port to listen on (`PORT`/`API_PORT`, default 8000; 0 picks a free port).
    pub port: u16,
    /// Directory for the SQLite file, blobs and the mail outbox (`TRELLIS_DATA_DIR`, default
    /// `./data`).
    pub data_dir: PathBuf,
    /// `sqlite:` or `postgres(ql)://` URL (`DATABASE_URL`, default
    /// `sqlite://<data dir>/trellis.db`).
    pub database_url: String,
    /// `redis://` or `rediss://` URL (`REDIS_URL`); unset means the in-process key-value store,
    /// which is not shared between instances.
    pub redis_url: Option<String>,
    /// `TRELLIS_BLOB_URL`: where plugin files and backups live, `file://<dir>` or
    /// `s3://<bucket>[/<prefix>]`; `None` means `<data dir>/blobs` (see
    /// [`crate::blob::BlobStore::from_url`]).
    pub blob_url: Option<String>,
    /// Mail relay; `None` (no `SMTP_HOST`) writes mail to `<data dir>/outbox` instead.
    pub smtp: Option<SmtpConfig>,
    /// Browser origins allowed by CORS (`CORS_ORIGINS`/`CORS_ALLOWED_ORIGINS`); empty disables
    /// CORS, `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// The global per-IP rate limit (`RATE_LIMIT_*`).
    pub rate_limit: RateLimitConfig,
    /// Default request body limit in bytes (`MAX_REQUEST_SIZE`, default 10 MiB); upload routes
    /// set their own.
    pub max_request_size: usize,
    /// `tracing` filter directive (`LOG_LEVEL`/`RUST_LOG`, default `info`); an invalid one falls
    /// back to `info`.
    pub log_level: String,
    /// Log output format (`LOG_FORMAT`, `pretty` or `json`).
    pub log_format: LogFormat,
    /// Apps to mount; empty means all.
    pub apps: Vec<String>,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Limits that stop slow or idle clients from holding connections (issue 7, item 9).
    pub slow_clients: SlowClientConfig,
    /// Most uploads served at once by this instance (`TRELLIS_MAX_CONCURRENT_UPLOADS`, default
    /// 16; 0 = no cap); more are refused at once with 503 `too_many_uploads`.
    pub max_concurrent_uploads: usize,
    /// Uploads one client IP may start per hour (`TRELLIS_UPLOADS_PER_IP_PER_HOUR`, default
    /// 60; 0 = no limit); more get 429 `upload_rate_limited`.
    pub uploads_per_ip_per_hour: u32,
    /// Uploads are refused with 507 `insufficient_storage` (and stopped) while the upload
    /// spool's disk has less free space than this (`TRELLIS_MIN_FREE_DISK_BYTES`, default
    /// 1 GiB; 0 = no check).
    pub min_free_disk_bytes: u64,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// (`TRELLIS_TRUSTED_PROXIES`, comma list of CIDRs or addresses, default empty: the socket
    /// peer is the client). See [`crate::extract::ClientIp`].
    pub trusted_proxies: Vec<Cidr>,
    /// The variables this configuration was read from, for apps' own settings.
    pub vars: std::sync::Arc<HashMap<String, String>>,
}

/// Every problem found in the environment, reported together.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads variables, remembering which name (of aliases) supplied each value and every error.
/// Apps use it for their own settings so their problems are reported with the kernel's.
pub struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    /// One message per problem found so far, naming the variable and the expected form.
    pub errors: Vec<String>,
}

impl<'a> Reader<'a> {
    /// A reader over `vars` with no errors yet.
    pub fn new(vars: &'a HashMap<String, String>) -> Self {
        Reader {
            vars,
            errors: Vec::new(),
        }
    }

    /// The first of `names` that is set to a non-blank value, with that value trimmed.
    pub fn raw<'n>(&self, names: &[&'n str]) -> Option<(&'n str, String)> {
        names.iter().find_map(|n| {
            self.vars
                .get(*n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (*n, v))
        })
    }

    /// The value of the first set name in `names`, or `default`.
    pub fn string(&self, names: &[&str], default: &str) -> String {
        self.raw(names)
            .map(|(_, v)| v)
            .unwrap_or_else(|| default.to_string())
    }

    /// The value of the first set name parsed as `T`, or `default`; an unparsable value records
    /// an error saying it is not `what` (e.g. "a port number") and yields `default`.
    pub fn parse<T: std::str::FromStr>(&mut self, names: &[&str], default: T, what: &str) -> T {
        match self.raw(names) {
            None => default,
            Some((name, v)) => match v.parse() {
                Ok(x) => x,
                Err(_) => {
                    self.errors.push(format!("{name}={v:?} is not {what}"));
                    default
                }
            },
        }
    }

    /// A boolean (`1|true|yes|on` or `0|false|no|off`, any case), or `default`; anything else
    /// records an error.
    pub fn boolean(&mut self, names: &[&str], default: bool) -> bool {
        match self.raw(names) {
            None => default,
            Some((name, v)) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    self.errors
                        .push(format!("{name}={v:?} is not a boolean (true/false)"));
                    default
                }
            },
        }
    }
}

impl Config {
    /// Loads `.env` (if present) and then reads the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Parses a configuration from a map of variables (the environment, or a test's map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(vars);
        let env = match Environment::parse(&r.string(&["TRELLIS_ENV"], "development")) {
            Some(e) => e,
            None => {
                r.errors.push(format!(
                    "TRELLIS_ENV={:?} is not one of development|production",
                    r.string(&["TRELLIS_ENV"], "")
                ));
                Environment::Development
            }
        };
        let host = r.parse(
            &["HOST", "API_HOST"],
            IpAddr::from([127, 0, 0, 1]),
            "an IP address",
        );
        let port = r.parse(&["PORT", "API_PORT"], 8000u16, "a port number (0-65535)");
        let data_dir = PathBuf::from(r.string(&["TRELLIS_DATA_DIR"], "./data"));
        let database_url = r.string(
            &["DATABASE_URL"],
            &format!("sqlite://{}/trellis.db", data_dir.display()),
        );
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            r.errors.push(
                "DATABASE_URL must start with sqlite:, postgres:// or postgresql://".to_string(),
            );
        }
        let redis_url = r.raw(&["REDIS_URL"]).map(|(_, v)| v);
        if let Some(u) = &redis_url
            && !(u.starts_with("redis://") || u.starts_with("rediss://"))
        {
            r.errors
                .push("REDIS_URL must start with redis:// or rediss://".to_string());
        }
        let blob_url = r.raw(&["TRELLIS_BLOB_URL"]).map(|(_, v)| v);
        if let Some(u) = &blob_url
            && !(u.starts_with("file://") || u.starts_with("s3://"))
        {
            r.errors
                .push("TRELLIS_BLOB_URL must start with file:// or s3://".to_string());
        }
        let smtp = match r.raw(&["SMTP_HOST"]) {
            None => None,
            Some((_, host)) => {
                let port = r.parse(&["SMTP_PORT"], 587u16, "a port number");
                let username = r.raw(&["SMTP_USERNAME"]).map(|(_, v)| v);
                let password = r
                    .raw(&["SMTP_PASSWORD"])
                    .map(|(_, v)| SecretString::from(v));
                let from_email = r.string(
                    &["SMTP_FROM_EMAIL"],
                    username.as_deref().unwrap_or("trellis@localhost"),
                );
                let use_tls = r.boolean(&["SMTP_USE_TLS"], true);
                Some(SmtpConfig {
                    host,
                    port,
                    username,
                    password,
                    from_email,
                    use_tls,
                })
            }
        };
        let cors_origins = parse_list(&r.string(&["CORS_ORIGINS", "CORS_ALLOWED_ORIGINS"], ""));
        let rate_limit = RateLimitConfig {
            enabled: r.boolean(&["RATE_LIMIT_ENABLED"], true),
            times: r.parse(&["RATE_LIMIT_TIMES"], 100u32, "a whole number"),
            seconds: r.parse(&["RATE_LIMIT_SECONDS"], 60u64, "a whole number of seconds"),
        };
        if rate_limit.enabled && (rate_limit.times == 0 || rate_limit.seconds == 0) {
            r.errors
                .push("RATE_LIMIT_TIMES and RATE_LIMIT_SECONDS must be positive".to_string());
        }
        let max_request_size = r.parse(
            &["MAX_REQUEST_SIZE"],
            10 * 1024 * 1024usize,
            "a size in bytes",
        );
        let log_level = r.string(&["LOG_LEVEL", "RUST_LOG"], "info");
        let log_format = match r.string(&["LOG_FORMAT"], "pretty").as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                r.errors
                    .push(format!("LOG_FORMAT={other:?} is not one of pretty|json"));
                LogFormat::Pretty
            }
        };
        let apps = parse_list(&r.string(&["TRELLIS_APPS"], "all"))
            .into_iter()
            .filter(|a| a != "all")
            .collect();
        let shutdown_grace_seconds = r.parse(
            &["TRELLIS_SHUTDOWN_GRACE_SECONDS"],
            10u64,
            "a whole number of seconds",
        );
        let slow_clients = SlowClientConfig {
            header_timeout_seconds: r.parse(
                &["TRELLIS_HEADER_TIMEOUT_SECONDS"],
                10u64,
                "a whole number of seconds",
            ),
            body_grace_seconds: r.parse(
                &["TRELLIS_BODY_GRACE_SECONDS"],
                10u64,
                "a whole number of seconds",
            ),
            body_min_bytes_per_second: r.parse(
                &["TRELLIS_BODY_MIN_BYTES_PER_SECOND"],
                1024u64,
                "a whole number of bytes per second",
            ),
        };
        if slow_clients.header_timeout_seconds == 0 {
            r.errors
                .push("TRELLIS_HEADER_TIMEOUT_SECONDS must be positive".to_string());
        }
        let max_concurrent_uploads = r.parse(
            &["TRELLIS_MAX_CONCURRENT_UPLOADS"],
            16usize,
            "a whole number",
        );
        let uploads_per_ip_per_hour = r.parse(
            &["TRELLIS_UPLOADS_PER_IP_PER_HOUR"],
            60u32,
            "a whole number",
        );
        let min_free_disk_bytes = r.parse(
            &["TRELLIS_MIN_FREE_DISK_BYTES"],
            1024 * 1024 * 1024u64,
            "a size in bytes",
        );
        let mut trusted_proxies = Vec::new();
        for item in parse_list(&r.string(&["TRELLIS_TRUSTED_PROXIES"], "")) {
            match Cidr::parse(&item) {
                Some(c) => trusted_proxies.push(c),
                None => r.errors.push(format!(
                    "TRELLIS_TRUSTED_PROXIES: {item:?} is not an IP address or CIDR (10.0.0.0/8)"
                )),
            }
        }

        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(Config {
            env,
            host,
            port,
            data_dir,
            database_url,
            redis_url,
            blob_url,
            smtp,
            cors_origins,
            rate_limit,
            max_request_size,
            log_level,
            log_format,
            apps,
            shutdown_grace_seconds,
            slow_clients,
            max_concurrent_uploads,
            uploads_per_ip_per_hour,
            min_free_disk_bytes,
            trusted_proxies,
            vars: std::sync::Arc::new(vars.clone()),
        })
    }

    /// Whether the app named `name` should be mounted.
    pub fn app_enabled(&self, name: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == name)
    }

    /// The effective configuration as `NAME=value` lines, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mask = |s: &Option<SecretString>| match s {
            Some(_) => "********".to_string(),
            None => "(unset)".to_string(),
        };
        let mut out = vec![
            ("TRELLIS_ENV", format!("{:?}", self.env).to_lowercase()),
            ("HOST", self.host.to_string()),
            ("PORT", self.port.to_string()),
            ("TRELLIS_DATA_DIR", self.data_dir.display().to_string()),
            ("DATABASE_URL", mask_url(&self.database_url)),
            (
                "REDIS_URL",
                self.redis_url
                    .as_deref()
                    .map(mask_url)
                    .unwrap_or_else(|| "(unset: in-process)".into()),
            ),
            (
                "TRELLIS_BLOB_URL",
                self.blob_url
                    .as_deref()
                    .map(mask_url)
                    .unwrap_or_else(|| "(unset: <data dir>/blobs)".into()),
            ),
            ("CORS_ORIGINS", self.cors_origins.join(",")),
            ("RATE_LIMIT_ENABLED", self.rate_limit.enabled.to_string()),
            ("RATE_LIMIT_TIMES", self.rate_limit.times.to_string()),
            ("RATE_LIMIT_SECONDS", self.rate_limit.seconds.to_string()),
            ("MAX_REQUEST_SIZE", self.max_request_size.to_string()),
            ("LOG_LEVEL", self.log_level.clone()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            (
                "TRELLIS_APPS",
                if self.apps.is_empty() {
                    "all".into()
                } else {
                    self.apps.join(",")
                },
            ),
            (
                "TRELLIS_TRUSTED_PROXIES",
                self.trusted_proxies
                    .iter()
                    .map(Cidr::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "TRELLIS_MAX_CONCURRENT_UPLOADS",
                self.max_concurrent_uploads.to_string(),
            ),
            (
                "TRELLIS_UPLOADS_PER_IP_PER_HOUR",
                self.uploads_per_ip_per_hour.to_string(),
            ),
            (
                "TRELLIS_MIN_FREE_DISK_BYTES",
                self.min_free_disk_bytes.to_string(),
            ),
            (
                "TRELLIS_HEADER_TIMEOUT_SECONDS",
                self.slow_clients.header_timeout_seconds.to_string(),
            ),
            (
                "TRELLIS_BODY_GRACE_SECONDS",
                self.slow_clients.body_grace_seconds.to_string(),
            ),
            (
                "TRELLIS_BODY_MIN_BYTES_PER_SECOND",
                self.slow_clients.body_min_bytes_per_second.to_string(),
            ),
        ];
        match &self.smtp {
            None => out.push((
                "SMTP_HOST",
                "(unset: mail goes to <data dir>/outbox)".into(),
            )),
            Some(s) => {
                out.push(("SMTP_HOST", s.host.clone()));
                out.push(("SMTP_PORT", s.port.to_string()));
                out.push(("SMTP_USERNAME", s.username.clone().unwrap_or_default()));
                out.push(("SMTP_PASSWORD", mask(&s.password)));
                out.push(("SMTP_FROM_EMAIL", s.from_email.clone()));
                out.push(("SMTP_USE_TLS", s.use_tls.to_string()));
            }
        }
        out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Accepts `a,b`, `a b` and the seed's JSON-ish `["a","b"]` forms.
fn parse_list(s: &str) -> Vec<String> {
    s.trim_matches(|c| c == '[' || c == ']')
        .split([',', ' '])
        .map(|p| p.trim().trim_matches('"').trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Hides the password part of a connection URL.
fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:****{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_with_nothing_set() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(c.port, 8000);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.database_url, "sqlite://./data/trellis.db");
        assert!(c.redis_url.is_none());
        assert!(c.blob_url.is_none());
        assert_eq!(c.max_request_size, 10 * 1024 * 1024);
        assert!(c.app_enabled("microdock"));
    }

    #[test]
    fn aliases_are_read() {
        let c = Config::from_vars(&vars(&[("API_PORT", "9001"), ("API_HOST", "0.0.0.0")])).unwrap();
        assert_eq!(c.port, 9001);
        assert_eq!(c.host.to_string(), "0.0.0.0");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Config::from_vars(&vars(&[
            ("PORT", "eighty"),
            ("RATE_LIMIT_ENABLED", "maybe"),
            ("LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://x"),
            ("TRELLIS_BLOB_URL", "/var/blobs"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for name in [
            "PORT",
            "RATE_LIMIT_ENABLED",
            "LOG_FORMAT",
            "DATABASE_URL",
            "TRELLIS_BLOB_URL",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert_eq!(err.0.len(), 5);
    }

    #[test]
    fn lists_and_masks() {
        assert_eq!(
            parse_list(r#"["http://a:1", "http://b"]"#),
            vec!["http://a:1", "http://b"]
        );
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:****@h:5432/db"
        );
        let c =
            Config::from_vars(&vars(&[("DATABASE_URL", "postgres://u:topsecret@h/db")])).unwrap();
        let text = format!("{:?}", c.describe());
        assert!(!text.contains("topsecret"));
    }
}
