//! Momentum's own settings, read from the same variables as the kernel's (names from seed 002
//! "速率限制" and the original's `env.example`).

use std::collections::HashMap;

use trellis_kernel::config::Reader;

/// Momentum's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Tokens added to each user's bucket per second (`RATE_LIMIT_PER_SECOND`, default 10):
    /// the sustained rate of REST writes and WebSocket commands per user (seed 002
    /// "令牌桶算法"). 0 disables the per-user limit.
    pub rate_per_second: u32,
    /// Bucket size: requests a user may send at once after being idle (`RATE_LIMIT_BURST`,
    /// default 50).
    pub rate_burst: u32,
    /// The period, in seconds, `X-RateLimit-Limit` reports on (`RATE_LIMIT_WINDOW`, default
    /// 60): the limit is `RATE_LIMIT_PER_SECOND × RATE_LIMIT_WINDOW` requests per window.
    pub rate_window: u32,
    /// Lifetime in minutes of the access tokens `/auth/login` and `/auth/refresh` issue
    /// (`MOMENTUM_ACCESS_TOKEN_MINUTES`, default 60, the original's 3600 s).
    pub access_token_minutes: i64,
    /// A response carries a fresh token in `X-New-Access-Token` when the request's token has
    /// at most this many minutes left (`MOMENTUM_TOKEN_RENEW_MINUTES`, default 15, seed 002
    /// "令牌自动续期").
    pub renew_minutes: i64,
    /// Prefix for relative avatar and logo URLs (`ASSETS_URL`, originals §2.3); unset:
    /// relative URLs are returned as stored.
    pub assets_url: Option<String>,
    /// Days an invitation stays open (`MOMENTUM_INVITATION_DAYS`, default 7).
    pub invitation_days: i64,
    /// Open WebSocket connections one instance accepts; beyond it the upgrade is refused
    /// with 503 (`WS_MAX_CONNECTIONS`, default 10,000, seed 002 "WebSocket 配置").
    pub ws_max_connections: usize,
    /// Seconds without any frame from the client (pongs included) before the server closes
    /// the socket with 4408 (`WS_CONNECTION_TIMEOUT`, default 300, seed 002).
    pub ws_connection_timeout: u64,
    /// Open WebSocket connections per user on one instance; beyond it 429
    /// (`WS_MAX_CONNECTIONS_PER_USER`, default 20, issue 9).
    pub ws_max_per_user: usize,
    /// Frames queued per socket before a slow consumer is told `resync_required` and closed
    /// (`WS_QUEUE_FRAMES`, default 1,024, issue 9).
    pub ws_queue_frames: usize,
    /// Seconds between the server's WebSocket pings (`WS_PING_INTERVAL`, default 25).
    pub ws_ping_interval: u64,
}

impl Settings {
    /// Reads the settings; the error lists one message per bad variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, Vec<String>> {
        let mut r = Reader::new(vars);
        let rate_per_second = r.parse(&["RATE_LIMIT_PER_SECOND"], 10u32, "a whole number");
        let rate_burst = r.parse(&["RATE_LIMIT_BURST"], 50u32, "a whole number");
        let rate_window = r.parse(&["RATE_LIMIT_WINDOW"], 60u32, "a number of seconds");
        let access_token_minutes = r.parse(
            &["MOMENTUM_ACCESS_TOKEN_MINUTES"],
            60i64,
            "a whole number of minutes",
        );
        let renew_minutes = r.parse(
            &["MOMENTUM_TOKEN_RENEW_MINUTES"],
            15i64,
            "a whole number of minutes",
        );
        let invitation_days = r.parse(
            &["MOMENTUM_INVITATION_DAYS"],
            7i64,
            "a whole number of days",
        );
        let ws_max_connections = r.parse(&["WS_MAX_CONNECTIONS"], 10_000usize, "a whole number");
        let ws_connection_timeout =
            r.parse(&["WS_CONNECTION_TIMEOUT"], 300u64, "a number of seconds");
        let ws_max_per_user = r.parse(&["WS_MAX_CONNECTIONS_PER_USER"], 20usize, "a whole number");
        let ws_queue_frames = r.parse(&["WS_QUEUE_FRAMES"], 1024usize, "a whole number");
        let ws_ping_interval = r.parse(&["WS_PING_INTERVAL"], 25u64, "a number of seconds");
        for (name, v) in [
            ("WS_MAX_CONNECTIONS", ws_max_connections as u64),
            ("WS_CONNECTION_TIMEOUT", ws_connection_timeout),
            ("WS_MAX_CONNECTIONS_PER_USER", ws_max_per_user as u64),
            ("WS_QUEUE_FRAMES", ws_queue_frames as u64),
            ("WS_PING_INTERVAL", ws_ping_interval),
        ] {
            if v == 0 {
                r.errors.push(format!("{name} must be positive"));
            }
        }
        let assets_url = r
            .raw(&["ASSETS_URL"])
            .map(|(_, v)| v.trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty());
        if rate_per_second > 0 && rate_burst == 0 {
            r.errors.push(
                "RATE_LIMIT_BURST must be at least 1 when RATE_LIMIT_PER_SECOND is set".into(),
            );
        }
        if rate_window == 0 {
            r.errors.push("RATE_LIMIT_WINDOW must be positive".into());
        }
        if access_token_minutes <= 0 {
            r.errors
                .push("MOMENTUM_ACCESS_TOKEN_MINUTES must be positive".into());
        }
        if !(0..=access_token_minutes.max(0)).contains(&renew_minutes) {
            r.errors.push(
                "MOMENTUM_TOKEN_RENEW_MINUTES must be between 0 and MOMENTUM_ACCESS_TOKEN_MINUTES"
                    .into(),
            );
        }
        if invitation_days <= 0 {
            r.errors
                .push("MOMENTUM_INVITATION_DAYS must be positive".into());
        }
        if r.errors.is_empty() {
            Ok(Settings {
                rate_per_second,
                rate_burst,
                rate_window,
                access_token_minutes,
                renew_minutes,
                assets_url,
                invitation_days,
                ws_max_connections,
                ws_connection_timeout,
                ws_max_per_user,
                ws_queue_frames,
                ws_ping_interval,
            })
        } else {
            Err(r.errors)
        }
    }
}
