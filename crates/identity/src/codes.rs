//! Verification codes: 6 digits, bound to a purpose and an email, stored only as an HMAC in
//! the key-value store for 10 minutes. 3 wrong attempts burn a code; a new code replaces the
//! old one; a cooldown (60 s by default) between sends, 10 sends per email per day, and a per-IP limit.
//!
//! Sending answers the same whether or not an account exists: a code is generated and stored
//! either way, and only mailed when it can be used, so neither the answer nor a later
//! verification attempt tells an outsider which emails are registered.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Timelike;
use rand::Rng;
use subtle::ConstantTimeEq;

use crate::Identity;
use crate::domain::{CodePurpose, Email};
use crate::error::IdentityError;
use crate::store::users;

const TTL: Duration = Duration::from_secs(600);
const MAX_ATTEMPTS: i64 = 3;
const DAILY_LIMIT: i64 = 10;

fn code_key(purpose: CodePurpose, email: &Email) -> String {
    format!("code:{}:{}", purpose.as_str(), email)
}

fn attempts_key(purpose: CodePurpose, email: &Email) -> String {
    format!("code_try:{}:{}", purpose.as_str(), email)
}

impl Identity {
    /// Sends (or silently withholds) a code, enforcing every limit first.
    pub async fn send_code(
        &self,
        email: &Email,
        purpose: CodePurpose,
        ip: IpAddr,
    ) -> Result<(), IdentityError> {
        let p = &self.inner.platform;
        let kv = &p.kv;
        let per_hour = self.inner.settings.code_ip_per_hour;
        if per_hour > 0 {
            let d = kv
                .throttle(
                    &format!("code_ip:{ip}"),
                    per_hour,
                    Duration::from_secs(3600),
                )
                .await?;
            if !d.allowed {
                return Err(IdentityError::CodeIpLimit {
                    retry_after: d.retry_after.as_secs().max(1),
                });
            }
        }
        let cooldown = Duration::from_secs(self.inner.settings.code_cooldown_seconds);
        let cooldown_key = format!("code_cd:{}:{}", purpose.as_str(), email);
        if !cooldown.is_zero() && !kv.set_nx(&cooldown_key, "1", cooldown).await? {
            let left = kv.ttl(&cooldown_key).await?.unwrap_or(cooldown);
            return Err(IdentityError::CodeCooldown {
                retry_after: left.as_secs().max(1),
            });
        }
        let now = self.now();
        let day_key = format!("code_day:{}:{}", email, now.format("%Y%m%d"));
        if kv.incr(&day_key, Duration::from_secs(86_400)).await? > DAILY_LIMIT {
            let to_midnight = 86_400 - now.num_seconds_from_midnight() as u64;
            return Err(IdentityError::CodeDailyLimit {
                retry_after: to_midnight,
            });
        }

        let exists = users::email_exists(&p.db, email.as_str()).await?;
        let deliver = match purpose {
            CodePurpose::ResetPassword => exists,
            CodePurpose::Register | CodePurpose::ChangeEmail => !exists,
        };
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
        let expires_ms =
            (now + chrono::Duration::from_std(TTL).unwrap_or_default()).timestamp_millis();
        let mac = self
            .inner
            .keys
            .code_mac(purpose.as_str(), email.as_str(), &code);
        kv.set(
            &code_key(purpose, email),
            &format!("{mac}:{expires_ms}"),
            Some(TTL),
        )
        .await?;
        kv.del(&attempts_key(purpose, email)).await?;
        self.audit_alone(
            None,
            None,
            "verification_code_sent",
            Some(ip),
            Some(serde_json::json!({"purpose": purpose.as_str(), "delivered": deliver})),
        )
        .await?;
        if deliver {
            let mailer = p.mailer.clone();
            let to = email.to_string();
            let subject = "Trellis 验证码 / verification code";
            let body = format!(
                "Your verification code is {code}.\n\nIt is valid for 10 minutes and can be used once ({}).\nIf you did not ask for it, ignore this message.\n",
                purpose.as_str()
            );
            // Sent in the background: the answer must not depend on mail latency (or reveal,
            // by its timing, whether a mail was sent at all).
            // Tracked, so a shutdown waits for the send instead of dropping it.
            p.tasks.spawn(async move {
                if let Err(e) = mailer.send(&to, subject, &body).await {
                    tracing::error!(error = %e, "sending verification code failed");
                }
            });
        }
        Ok(())
    }

    /// Checks and consumes a code; single use.
    pub(crate) async fn consume_code(
        &self,
        email: &Email,
        purpose: CodePurpose,
        code: &str,
    ) -> Result<(), IdentityError> {
        self.match_code(email, purpose, code, true).await
    }

    /// Checks a code without spending it, for an app's "is this code right?" step before the
    /// registration or reset that spends it (seed 003 `POST /auth/verify-code`). A wrong code
    /// counts toward the same 3 attempts as when it is used, and the third burns it. Errors:
    /// [`IdentityError::CodeExpired`] (none live), [`IdentityError::CodeInvalid`],
    /// [`IdentityError::CodeBurned`].
    pub async fn check_code(
        &self,
        email: &Email,
        purpose: CodePurpose,
        code: &str,
    ) -> Result<(), IdentityError> {
        self.match_code(email, purpose, code, false).await
    }

    /// Compares `code` with the live code of `email` and `purpose`; a match is spent when
    /// `spend`, a mismatch counts as an attempt.
    async fn match_code(
        &self,
        email: &Email,
        purpose: CodePurpose,
        code: &str,
        spend: bool,
    ) -> Result<(), IdentityError> {
        let kv = &self.inner.platform.kv;
        let key = code_key(purpose, email);
        let Some(stored) = kv.get(&key).await? else {
            return Err(IdentityError::CodeExpired);
        };
        let (mac, expires_ms) = stored.split_once(':').unwrap_or((&stored, "0"));
        if self.now().timestamp_millis() > expires_ms.parse::<i64>().unwrap_or(0) {
            kv.del(&key).await?;
            return Err(IdentityError::CodeExpired);
        }
        let given = self
            .inner
            .keys
            .code_mac(purpose.as_str(), email.as_str(), code.trim());
        if bool::from(given.as_bytes().ct_eq(mac.as_bytes())) {
            if !spend {
                return Ok(());
            }
            // Whoever deletes the key owns the code: concurrent submissions succeed once.
            if !kv.del(&key).await? {
                return Err(IdentityError::CodeExpired);
            }
            kv.del(&attempts_key(purpose, email)).await?;
            return Ok(());
        }
        let tries = kv.incr(&attempts_key(purpose, email), TTL).await?;
        if tries >= MAX_ATTEMPTS {
            kv.del(&key).await?;
            return Err(IdentityError::CodeBurned);
        }
        Err(IdentityError::CodeInvalid)
    }
}
