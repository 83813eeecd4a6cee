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
            })
        } else {
            Err(r.errors)
        }
    }
}
