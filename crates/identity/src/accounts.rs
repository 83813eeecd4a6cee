//! Account operations of a user on their own account: register, log in, refresh, reset and
//! change the password, read and update the profile.

use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::auth::{Principal, TokenPair};
use crate::domain::{CodePurpose, Email, Role, UserStatus, Username};
use crate::error::IdentityError;
use crate::password::{Verified, check_policy};
use crate::store::attempts::{self, Reservation};
use crate::store::sessions;
use crate::store::users::{self, ProfilePatch, User, UserRecord};
use crate::tokens::{AUD_API, hash_refresh_token};
use crate::{ClientCtx, Identity};
use trellis_kernel::db::Tx;

/// Consecutive failures from one source (client IP) that lock that source out of an account;
/// other sources are not affected (issue 7 item 12), and each further failure after a lock
/// doubles the wait ([`lock_duration`]).
pub const LOCK_AFTER: i32 = 10;
/// A spent refresh token presented again within this window is a concurrent refresh, not theft.
const REUSE_GRACE: chrono::Duration = chrono::Duration::seconds(10);

/// A successful login.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LoginOutcome {
    /// The signed-in account.
    pub user: User,
    /// The new session's tokens, as top-level fields beside `user`.
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// How an app signs users in: the audience and lifetime of its access tokens, and whether
/// only administrators may sign in.
#[derive(Clone, Debug)]
pub struct LoginPolicy<'a> {
    /// The `aud` of the access tokens ([`AUD_API`] for `/api/v1`, or the app's own); other
    /// APIs refuse them.
    pub audience: &'a str,
    /// Access token lifetime, capped to the session's refresh lifetime.
    pub access: chrono::Duration,
    /// Refuse (with [`IdentityError::Forbidden`]) accounts that are not `admin` or
    /// `super_admin`, before any session is opened or a `login` audit row written.
    pub admins_only: bool,
}

/// Registration input, as clients send it.
pub struct Registration<'a> {
    /// Wanted username, unparsed (see [`Username::parse`]).
    pub username: &'a str,
    /// Email address, unparsed (see [`Email::parse`]); must match the code's.
    pub email: &'a str,
    /// Password in clear; checked against the password policy, then hashed.
    pub password: &'a str,
    /// The 6-digit code emailed for [`CodePurpose::Register`].
    pub code: &'a str,
}

/// A new account's checked credentials and password hash ([`Identity::prepare_account`]).
pub struct NewAccount {
    username: Username,
    email: Email,
    password_hash: String,
}

impl NewAccount {
    /// The username as it will be stored.
    pub fn username(&self) -> &str {
        self.username.as_str()
    }

    /// The normalized (lower-cased) e-mail address.
    pub fn email(&self) -> &str {
        self.email.as_str()
    }
}

fn map_taken(e: trellis_kernel::db::StoreError) -> IdentityError {
    if e.violates(users::USERNAME_KEY) {
        IdentityError::UsernameTaken
    } else if e.violates(users::EMAIL_KEY) {
        IdentityError::EmailTaken
    } else {
        e.into()
    }
}

/// The source a login attempt is counted against: an IPv4 address, or the /64 network of an
/// IPv6 address (one host commonly holds a whole /64, so per-address counting would let it
/// rotate addresses; RFC 4291 §2.5.1 interface identifiers). IPv4-mapped addresses count as
/// IPv4.
pub fn source_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// How long the `n`-th consecutive failure (n >= LOCK_AFTER) locks the account: one minute,
/// doubling with each further failure, at most a day.
fn lock_duration(failures: i32) -> chrono::Duration {
    let exp = (failures - LOCK_AFTER).clamp(0, 11) as u32;
    chrono::Duration::minutes((1i64 << exp).min(1440))
}

impl Identity {
    /// Whether `username` is valid and nobody has it (compared case-insensitively).
    pub async fn username_available(&self, username: &str) -> Result<bool, IdentityError> {
        let u = Username::parse(username)?;
        Ok(!users::username_exists(&self.inner.platform.db, &u.key()).await?)
    }

    /// Whether `email` is valid and no account uses it.
    pub async fn email_available(&self, email: &str) -> Result<bool, IdentityError> {
        let e = Email::parse(email)?;
        Ok(!users::email_exists(&self.inner.platform.db, e.as_str()).await?)
    }

    /// Creates an active account after checking the emailed code.
    pub async fn register(
        &self,
        r: Registration<'_>,
        ctx: &ClientCtx,
    ) -> Result<User, IdentityError> {
        let username = Username::parse(r.username)?;
        let email = Email::parse(r.email)?;
        check_policy(r.password, username.as_str(), email.as_str())?;
        let db = &self.inner.platform.db;
        // Check availability before spending the code, so a taken name does not burn it.
        if users::username_exists(db, &username.key()).await? {
            return Err(IdentityError::UsernameTaken);
        }
        if users::email_exists(db, email.as_str()).await? {
            return Err(IdentityError::EmailTaken);
        }
        self.consume_code(&email, CodePurpose::Register, r.code)
            .await?;
        let mut tx = db.begin().await?;
        let id = self
            .create_account(&mut tx, &username, email.as_str(), r.password, Role::User)
            .await?;
        self.audit(&mut tx, Some(id), Some(id), "register", Some(ctx.ip), None)
            .await?;
        tx.commit().await?;
        self.user(id).await
    }

    /// Checks and hashes a new account's credentials outside any transaction (Argon2id is
    /// slow; on SQLite an open transaction holds the only writer), for
    /// [`Identity::insert_account`]. For apps whose seed registers without an emailed code
    /// (seed 002 `POST /auth/register`). Errors: invalid username or email, weak password,
    /// `UsernameTaken`/`EmailTaken` when already known to be taken.
    pub async fn prepare_account(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<NewAccount, IdentityError> {
        let username = Username::parse(username)?;
        let email = Email::parse(email)?;
        check_policy(password, username.as_str(), email.as_str())?;
        let db = &self.inner.platform.db;
        if users::username_exists(db, &username.key()).await? {
            return Err(IdentityError::UsernameTaken);
        }
        if users::email_exists(db, email.as_str()).await? {
            return Err(IdentityError::EmailTaken);
        }
        let password_hash = self.inner.hasher.hash(password).await?;
        Ok(NewAccount {
            username,
            email,
            password_hash,
        })
    }

    /// Stores a prepared account (active, role `user`) in the caller's transaction with its
    /// `register` audit row, so an app can provision the account's own rows in the same
    /// transaction (all or nothing). A username or e-mail taken meanwhile is
    /// `UsernameTaken` / `EmailTaken`.
    pub async fn insert_account(
        &self,
        tx: &mut Tx,
        a: &NewAccount,
        ctx: &ClientCtx,
    ) -> Result<Uuid, IdentityError> {
        let id = Uuid::now_v7();
        let now = self.now();
        users::insert(
            tx,
            &users::NewUser {
                id,
                username: a.username.as_str(),
                username_key: &a.username.key(),
                email: a.email.as_str(),
                password_hash: &a.password_hash,
                status: UserStatus::Active,
                role: Role::User,
                now,
            },
        )
        .await
        .map_err(map_taken)?;
        self.audit(tx, Some(id), Some(id), "register", Some(ctx.ip), None)
            .await?;
        Ok(id)
    }

    /// Changes the account's username and/or e-mail in the caller's transaction (same rules
    /// as registration; comparisons ignore case). Taken: `UsernameTaken` / `EmailTaken`.
    pub async fn rename_account(
        &self,
        tx: &mut Tx,
        user_id: Uuid,
        username: Option<&str>,
        email: Option<&str>,
    ) -> Result<(), IdentityError> {
        let username = username.map(Username::parse).transpose()?;
        let email = email.map(Email::parse).transpose()?;
        users::rename(
            tx,
            user_id,
            username.as_ref().map(|u| (u.as_str(), u.key())),
            email.as_ref().map(Email::as_str),
            self.now(),
        )
        .await
        .map_err(map_taken)?;
        Ok(())
    }

    /// Logs in by username or email to the `/api/v1` user API ([`AUD_API`], the configured
    /// access lifetime).
    pub async fn login(
        &self,
        who: &str,
        password: &str,
        ctx: &ClientCtx,
    ) -> Result<LoginOutcome, IdentityError> {
        let policy = LoginPolicy {
            audience: AUD_API,
            access: self.access_lifetime(),
            admins_only: false,
        };
        self.login_with(who, password, ctx, &policy).await
    }

    /// Logs in under an app's [`LoginPolicy`].
    ///
    /// Lockout (issue 7 items 2 and 12): each attempt on a known account is first reserved
    /// in `login_attempts` for the pair (account, client IP) — refused without verifying the
    /// password while that pair is locked — so a concurrent burst gets at most
    /// [`LOCK_AFTER`] password checks; the [`LOCK_AFTER`]-th failure locks the pair for a
    /// minute, doubling with each further failure up to a day. A success clears the pair's
    /// count; other IPs (the real user) are never locked by it; admins unlock everything.
    pub async fn login_with(
        &self,
        who: &str,
        password: &str,
        ctx: &ClientCtx,
        policy: &LoginPolicy<'_>,
    ) -> Result<LoginOutcome, IdentityError> {
        let access = policy.access.min(self.refresh_lifetime());
        let p = &self.inner.platform;
        let per_minute = self.inner.settings.login_ip_per_minute;
        if per_minute > 0 {
            let d =
                p.kv.throttle(
                    &format!("login_ip:{}", source_key(ctx.ip)),
                    per_minute,
                    Duration::from_secs(60),
                )
                .await?;
            if !d.allowed {
                return Err(IdentityError::LoginIpLimit {
                    retry_after: d.retry_after.as_secs().max(1),
                });
            }
        }
        let Some(record) = self.find_login(who).await? else {
            self.inner.hasher.verify_dummy(password).await?;
            self.audit_alone(
                None,
                None,
                "login_failed",
                Some(ctx.ip),
                Some(serde_json::json!({"reason": "unknown_account"})),
            )
            .await?;
            return Err(IdentityError::InvalidCredentials);
        };
        let user = &record.user;
        let now = self.now();
        let source = source_key(ctx.ip);
        let attempt = self.reserve_attempt(user.id, &source, now).await?;
        let verified = match self
            .inner
            .hasher
            .verify(password, &record.password_hash)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                // Never judged (the hashing queue was full): give the attempt back.
                self.release_attempt(user.id, &source).await?;
                return Err(e);
            }
        };
        if verified == Verified::No {
            return Err(self.login_failed(user.id, ctx, attempt).await?);
        }
        if user.status != UserStatus::Active {
            self.release_attempt(user.id, &source).await?;
            return Err(IdentityError::AccountNotActive(user.status.as_str()));
        }
        if policy.admins_only && !user.role.is_admin() {
            // The right password of an account this app does not admit: no session, no
            // `login` audit row, and the attempt does not count against the account.
            self.release_attempt(user.id, &source).await?;
            return Err(IdentityError::Forbidden);
        }
        if verified == Verified::YesRehash {
            let hash = self.inner.hasher.hash(password).await?;
            let mut tx = p.db.begin().await?;
            users::set_password(&mut tx, user.id, &hash, now).await?;
            tx.commit().await?;
        }
        let tokens = self
            .open_session(user.id, user.role, ctx, now, policy.audience, access)
            .await?;
        let mut user = record.user;
        user.last_login_at = Some(now);
        Ok(LoginOutcome { user, tokens })
    }

    /// Reserves a login attempt of `source` on `user_id` (see [`Identity::login_with`]);
    /// returns its consecutive number, or [`IdentityError::AccountLocked`].
    async fn reserve_attempt(
        &self,
        user_id: Uuid,
        source: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<i32, IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        match attempts::reserve(&mut tx, user_id, source, LOCK_AFTER, now).await? {
            Reservation::Locked(until) => Err(IdentityError::AccountLocked {
                retry_after: (until - now).num_seconds().max(1) as u64,
            }),
            Reservation::Granted(n) => {
                if n >= LOCK_AFTER {
                    // Lock now, before the password is checked, so that concurrent attempts
                    // are refused while this one runs; a success clears it.
                    attempts::lock(&mut tx, user_id, source, now + lock_duration(n)).await?;
                }
                tx.commit().await?;
                Ok(n)
            }
        }
    }

    async fn release_attempt(&self, user_id: Uuid, source: &str) -> Result<(), IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        attempts::release(&mut tx, user_id, source).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_login(&self, who: &str) -> Result<Option<UserRecord>, IdentityError> {
        let db = &self.inner.platform.db;
        let who = who.trim();
        if who.contains('@') {
            match Email::parse(who) {
                Ok(e) => Ok(users::by_email(db, e.as_str()).await?),
                Err(_) => Ok(None),
            }
        } else {
            match Username::parse(who) {
                Ok(u) => Ok(users::by_username_key(db, &u.key()).await?),
                Err(_) => Ok(None),
            }
        }
    }

    /// Records a failed (already counted) attempt and says what to answer.
    async fn login_failed(
        &self,
        user_id: Uuid,
        ctx: &ClientCtx,
        failures: i32,
    ) -> Result<IdentityError, IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        self.audit(
            &mut tx,
            Some(user_id),
            None,
            "login_failed",
            Some(ctx.ip),
            Some(serde_json::json!({"consecutive": failures})),
        )
        .await?;
        if failures < LOCK_AFTER {
            tx.commit().await?;
            return Ok(IdentityError::InvalidCredentials);
        }
        let lock = lock_duration(failures);
        self.audit(
            &mut tx,
            Some(user_id),
            None,
            "account_locked",
            Some(ctx.ip),
            Some(serde_json::json!({"minutes": lock.num_minutes()})),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(user.id = %user_id, lock_minutes = lock.num_minutes(), "login source locked out of an account after failed logins");
        Ok(IdentityError::AccountLocked {
            retry_after: lock.num_seconds() as u64,
        })
    }

    /// Exchanges a refresh token for a new pair; the old one is spent. Its successor is
    /// derived from it ([`crate::tokens::Keys::successor`]) and recorded, so presenting the
    /// spent token again within [`REUSE_GRACE`] (a concurrent refresh or a retried request)
    /// answers with that same successor: one token never forks a session into parallel
    /// chains (issue 7 item 14). After the grace window it revokes the whole session (it was
    /// probably stolen).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        self.refresh_with(refresh_token, self.access_lifetime())
            .await
    }

    /// [`Identity::refresh`] issuing an access token valid for `access` (an app's own
    /// lifetime, capped to the refresh lifetime).
    pub async fn refresh_with(
        &self,
        refresh_token: &str,
        access: chrono::Duration,
    ) -> Result<TokenPair, IdentityError> {
        let db = &self.inner.platform.db;
        let now = self.now();
        let old_hash = hash_refresh_token(refresh_token);
        let found = sessions::find_refresh(db, &old_hash)
            .await?
            .ok_or(IdentityError::InvalidRefreshToken)?;
        let session = found.session;
        if !session.is_live(now) {
            return Err(IdentityError::InvalidRefreshToken);
        }
        if let Some(used) = found.used_at
            && now - used > REUSE_GRACE
        {
            let mut tx = db.begin().await?;
            sessions::revoke(
                &mut tx,
                session.user_id,
                session.id,
                "refresh_token_reuse",
                now,
            )
            .await?;
            self.audit(
                &mut tx,
                Some(session.user_id),
                None,
                "refresh_token_reuse",
                None,
                Some(serde_json::json!({"session_id": session.id})),
            )
            .await?;
            tx.commit().await?;
            self.forget_sessions(&[session.id], None);
            tracing::warn!(user.id = %session.user_id, session.id = %session.id, "spent refresh token presented; session revoked");
            return Err(IdentityError::RefreshTokenReused);
        }
        let record = users::by_id(db, session.user_id)
            .await?
            .ok_or(IdentityError::InvalidRefreshToken)?;
        if record.user.status != UserStatus::Active {
            return Err(IdentityError::AccountNotActive(record.user.status.as_str()));
        }
        let new = self.inner.keys.successor(refresh_token);
        let new_hash = hash_refresh_token(&new);
        if found.used_at.is_some() {
            // Spent within the grace window: answer with the successor it was spent for.
            // (A token spent before successors were recorded has none: refuse it.)
            if found.successor_hash.as_deref() != Some(new_hash.as_str()) {
                return Err(IdentityError::InvalidRefreshToken);
            }
        } else {
            let expires = now + self.refresh_lifetime();
            let mut tx = db.begin().await?;
            // `false`: a concurrent request spent it a moment ago, recording this same
            // successor; answer with it.
            if sessions::rotate(&mut tx, session.id, &old_hash, &new_hash, now, expires).await? {
                tx.commit().await?;
            }
        }
        self.token_pair(
            record.user.id,
            session.id,
            record.user.role,
            &session.audience,
            new,
            access.min(self.refresh_lifetime()),
        )
    }

    /// Sets a new password with an emailed code; signs out every session and unlocks.
    pub async fn reset_password(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
        ctx: &ClientCtx,
    ) -> Result<(), IdentityError> {
        let email = Email::parse(email)?;
        let db = &self.inner.platform.db;
        let record = users::by_email(db, email.as_str()).await?;
        let username = record
            .as_ref()
            .map(|r| r.user.username.clone())
            .unwrap_or_default();
        check_policy(new_password, &username, email.as_str())?;
        self.consume_code(&email, CodePurpose::ResetPassword, code)
            .await?;
        // A code for an unknown email was never mailed; guessing it is no different from a
        // wrong code, so the answer is the same.
        let record = record.ok_or(IdentityError::CodeInvalid)?;
        let id = record.user.id;
        let hash = self.inner.hasher.hash(new_password).await?;
        let mut tx = db.begin().await?;
        users::set_password(&mut tx, id, &hash, self.now()).await?;
        users::lock_until(&mut tx, id, None, true).await?;
        attempts::clear(&mut tx, id).await?;
        let revoked = self
            .revoke_sessions(&mut tx, id, None, "password_reset")
            .await?;
        self.audit(
            &mut tx,
            Some(id),
            Some(id),
            "password_reset",
            Some(ctx.ip),
            None,
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&revoked, None);
        Ok(())
    }

    /// Changes the password; every other session is signed out.
    pub async fn change_password(
        &self,
        p: &Principal,
        old: &str,
        new: &str,
        ctx: &ClientCtx,
    ) -> Result<(), IdentityError> {
        let db = &self.inner.platform.db;
        let record = users::by_id(db, p.user_id)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        if self.inner.hasher.verify(old, &record.password_hash).await? == Verified::No {
            return Err(IdentityError::WrongPassword);
        }
        if crate::password::nfc(old) == crate::password::nfc(new) {
            return Err(IdentityError::WeakPassword(
                "new password must differ from the current one".into(),
            ));
        }
        check_policy(new, &record.user.username, &record.user.email)?;
        let hash = self.inner.hasher.hash(new).await?;
        let mut tx = db.begin().await?;
        users::set_password(&mut tx, p.user_id, &hash, self.now()).await?;
        let revoked = self
            .revoke_sessions(&mut tx, p.user_id, Some(p.session_id), "password_changed")
            .await?;
        self.audit(
            &mut tx,
            Some(p.user_id),
            Some(p.user_id),
            "password_changed",
            Some(ctx.ip),
            None,
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&revoked, None);
        Ok(())
    }

    /// The account of `id`.
    pub async fn user(&self, id: Uuid) -> Result<User, IdentityError> {
        users::by_id(&self.inner.platform.db, id)
            .await?
            .map(|r| r.user)
            .ok_or(IdentityError::UserNotFound)
    }

    /// Updates profile fields; absent fields stay as they are.
    pub async fn update_profile(
        &self,
        p: &Principal,
        patch: ProfilePatch,
    ) -> Result<User, IdentityError> {
        validate_profile(&patch)?;
        let mut tx = self.inner.platform.db.begin().await?;
        users::update_profile(&mut tx, p.user_id, &patch, self.now()).await?;
        tx.commit().await?;
        self.user(p.user_id).await
    }
}

fn validate_profile(p: &ProfilePatch) -> Result<(), IdentityError> {
    let limits = [
        ("display_name", &p.display_name, 100),
        ("avatar_url", &p.avatar_url, 500),
        ("bio", &p.bio, 500),
        ("timezone", &p.timezone, 64),
        ("language", &p.language, 16),
    ];
    for (name, value, max) in limits {
        if let Some(v) = value
            && (v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(IdentityError::Invalid(format!(
                "{name} must be at most {max} characters without control characters"
            )));
        }
    }
    if let Some(url) = &p.avatar_url
        && !url.is_empty()
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(IdentityError::Invalid(
            "avatar_url must be an http(s) URL".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_ipv4_addresses_or_ipv6_networks() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_key(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(source_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(
            source_key(ip("2001:db8:1:2:aaaa::1")),
            source_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            source_key(ip("2001:db8:1:2::1")),
            source_key(ip("2001:db8:1:3::1"))
        );
    }

    #[test]
    fn lock_grows_from_a_minute_to_a_day() {
        assert_eq!(lock_duration(10).num_minutes(), 1);
        assert_eq!(lock_duration(11).num_minutes(), 2);
        assert_eq!(lock_duration(13).num_minutes(), 8);
        assert_eq!(lock_duration(40).num_minutes(), 1440);
    }
}
