//! Identity's own settings, read from the same variables as the kernel's (seed names first,
//! `TRELLIS_*` for our own) and reported with the kernel's problems at start-up.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use trellis_kernel::config::{Environment, Reader};

/// The password used for the admin account when `ADMIN_PASSWORD` is unset (development only).
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin";

/// Tokens, the seeded admin, password hashing and the login/code limits.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `JWT_SECRET_KEY` (alias `JWT_SECRET`). `None` means "not configured": development
    /// generates one and keeps it in the data directory; production refuses to start.
    pub jwt_secret: Option<SecretString>,
    /// `JWT_ACCESS_TOKEN_EXPIRE_MINUTES`, default 30 (seed 000 §auth).
    pub access_token_minutes: i64,
    /// `JWT_REFRESH_TOKEN_EXPIRE_DAYS`, default 7 (seed 000 §auth).
    pub refresh_token_days: i64,
    /// `ADMIN_USERNAME`, default `admin` (seed 004 §3): seeded as `super_admin` at start-up.
    pub admin_username: String,
    /// `ADMIN_PASSWORD`, default `admin` (refused in production).
    pub admin_password: SecretString,
    /// `ADMIN_EMAIL`, default `admin@trellis.local`.
    pub admin_email: String,
    /// `TRELLIS_HASH_QUEUE_TIMEOUT_MS`, default 5000: how long a request waits for a
    /// password-hashing slot before answering 503 `server_busy`.
    pub hash_queue_timeout_ms: u64,
    /// `TRELLIS_LOGIN_IP_PER_MINUTE`, default 30: login attempts per client IP and minute
    /// (0 disables).
    pub login_ip_per_minute: u32,
    /// `TRELLIS_CODE_IP_PER_HOUR`, default 20: verification-code sends per client IP and hour
    /// (0 disables).
    pub code_ip_per_hour: u32,
    /// `TRELLIS_CODE_COOLDOWN_SECONDS`, default 60 (seed 003 §5.1): seconds between two codes
    /// for the same e-mail and purpose.
    pub code_cooldown_seconds: u64,
}

impl Settings {
    /// Reads the settings; `Err` lists every problem (naming the variable).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Settings, Vec<String>> {
        let mut r = Reader::new(vars);
        let jwt_secret = r
            .raw(&["JWT_SECRET_KEY", "JWT_SECRET"])
            .map(|(_, v)| SecretString::from(v));
        let access_token_minutes = r.parse(
            &["JWT_ACCESS_TOKEN_EXPIRE_MINUTES"],
            30i64,
            "a whole number of minutes",
        );
        let refresh_token_days = r.parse(
            &["JWT_REFRESH_TOKEN_EXPIRE_DAYS"],
            7i64,
            "a whole number of days",
        );
        if access_token_minutes <= 0 {
            r.errors
                .push("JWT_ACCESS_TOKEN_EXPIRE_MINUTES must be positive".to_string());
        }
        if refresh_token_days <= 0 {
            r.errors
                .push("JWT_REFRESH_TOKEN_EXPIRE_DAYS must be positive".to_string());
        }
        let admin_username = r.string(&["ADMIN_USERNAME"], "admin");
        let admin_password =
            SecretString::from(r.string(&["ADMIN_PASSWORD"], DEFAULT_ADMIN_PASSWORD));
        let admin_email = r.string(&["ADMIN_EMAIL"], "admin@trellis.local");
        let hash_queue_timeout_ms = r.parse(
            &["TRELLIS_HASH_QUEUE_TIMEOUT_MS"],
            5_000u64,
            "a whole number of milliseconds",
        );
        let login_ip_per_minute =
            r.parse(&["TRELLIS_LOGIN_IP_PER_MINUTE"], 30u32, "a whole number");
        let code_ip_per_hour = r.parse(&["TRELLIS_CODE_IP_PER_HOUR"], 20u32, "a whole number");
        let code_cooldown_seconds = r.parse(
            &["TRELLIS_CODE_COOLDOWN_SECONDS"],
            60u64,
            "a whole number of seconds",
        );
        if Environment::from_vars(vars) == Environment::Production {
            match &jwt_secret {
                None => r
                    .errors
                    .push("JWT_SECRET_KEY must be set in production".to_string()),
                Some(s) if s.expose_secret().len() < 32 => r
                    .errors
                    .push("JWT_SECRET_KEY must be at least 32 bytes in production".to_string()),
                Some(_) => {}
            }
            if admin_password.expose_secret() == DEFAULT_ADMIN_PASSWORD {
                r.errors.push(
                    "ADMIN_PASSWORD must be set to a non-default value in production".to_string(),
                );
            }
        }
        if !r.errors.is_empty() {
            return Err(r.errors);
        }
        Ok(Settings {
            jwt_secret,
            access_token_minutes,
            refresh_token_days,
            admin_username,
            admin_password,
            admin_email,
            hash_queue_timeout_ms,
            login_ip_per_minute,
            code_ip_per_hour,
            code_cooldown_seconds,
        })
    }

    /// The effective settings as `NAME=value` pairs, secrets masked (`trellis config`).
    pub fn describe(&self) -> Vec<(String, String)> {
        let secret = match &self.jwt_secret {
            Some(_) => "********",
            None => "(unset: generated, kept in the data directory)",
        };
        [
            ("JWT_SECRET_KEY", secret.to_string()),
            (
                "JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
                self.access_token_minutes.to_string(),
            ),
            (
                "JWT_REFRESH_TOKEN_EXPIRE_DAYS",
                self.refresh_token_days.to_string(),
            ),
            ("ADMIN_USERNAME", self.admin_username.clone()),
            ("ADMIN_PASSWORD", "********".to_string()),
            ("ADMIN_EMAIL", self.admin_email.clone()),
            (
                "TRELLIS_HASH_QUEUE_TIMEOUT_MS",
                self.hash_queue_timeout_ms.to_string(),
            ),
            (
                "TRELLIS_LOGIN_IP_PER_MINUTE",
                self.login_ip_per_minute.to_string(),
            ),
            (
                "TRELLIS_CODE_IP_PER_HOUR",
                self.code_ip_per_hour.to_string(),
            ),
            (
                "TRELLIS_CODE_COOLDOWN_SECONDS",
                self.code_cooldown_seconds.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
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
    fn defaults_and_aliases() {
        let s = Settings::from_vars(&vars(&[("JWT_SECRET", "x")])).unwrap();
        assert_eq!(s.access_token_minutes, 30);
        assert_eq!(s.refresh_token_days, 7);
        assert!(s.jwt_secret.is_some());
        assert!(!format!("{:?}", s.describe()).contains("\"x\""));
    }

    #[test]
    fn production_refuses_weak_secrets_and_default_admin() {
        let err = Settings::from_vars(&vars(&[
            ("TRELLIS_ENV", "production"),
            ("JWT_SECRET_KEY", "short"),
        ]))
        .unwrap_err()
        .join("; ");
        assert!(err.contains("JWT_SECRET_KEY"));
        assert!(err.contains("ADMIN_PASSWORD"));
        assert!(
            Settings::from_vars(&vars(&[
                ("TRELLIS_ENV", "production"),
                ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
                ("ADMIN_PASSWORD", "a-strong-one-2026"),
            ]))
            .is_ok()
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let err = Settings::from_vars(&vars(&[
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("TRELLIS_LOGIN_IP_PER_MINUTE", "many"),
        ]))
        .unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
    }
}
