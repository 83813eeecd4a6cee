//! Authenticating requests: the `Principal` extractor (Bearer access token of the `/api/v1`
//! audience), and the session operations that revoke tokens.
//!
//! Invariant (issue 7 item 1): what removes access is stored in the database — the session
//! row's `revoked_at`, the user row's role and status — and every authentication reads it
//! from there (through a cache of [`AUTHORITY_TTL_SECONDS`] that this process clears whenever
//! it revokes or changes an account). Nothing depends on the key-value store, so revocations
//! survive restarts and Redis flushes, and a demoted or banned admin's old token carries no
//! authority.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::ApiError;
use uuid::Uuid;

use crate::Identity;
use crate::domain::{Role, UserStatus};
use crate::error::IdentityError;
use crate::store::sessions;
use crate::tokens::{AUD_API, Claims, hash_refresh_token, new_refresh_token};
use trellis_kernel::db::Tx;
use trellis_kernel::kv::Kv;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The caller's user id (the token's `sub`).
    pub user_id: Uuid,
    /// The session the token was issued for (the token's `sid`).
    pub session_id: Uuid,
    /// The caller's current role (read from the users row, not from the token).
    pub role: Role,
    /// When the presented access token expires (Unix seconds, its `exp`); apps that renew
    /// tokens before expiry (Momentum's `X-New-Access-Token`) read it.
    pub expires_at: i64,
    /// The presented token's audience (`aud`), for [`Identity::reissue_access`].
    pub audience: String,
}

impl Principal {
    /// `Ok` for `admin` and `super_admin`, else [`IdentityError::Forbidden`].
    pub fn require_admin(&self) -> Result<(), IdentityError> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(IdentityError::Forbidden)
        }
    }
}

impl<S> FromRequestParts<S> for Principal
where
    Identity: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_ref(state);
        let token = bearer(parts).ok_or(IdentityError::Unauthenticated)?;
        Ok(identity.authenticate(token, AUD_API).await?)
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Access and refresh token of a login or refresh.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// JWT to send as `Authorization: Bearer <token>` on every authenticated request.
    pub access_token: String,
    /// Opaque single-use token for the app's refresh endpoint; each refresh returns a new
    /// one, and presenting a spent one again revokes the whole session.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// A session as its owner sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Session id, for signing this session out.
    pub id: Uuid,
    /// Client IP address at sign-in, if known.
    pub ip: Option<String>,
    /// `User-Agent` header sent at sign-in, if any.
    pub user_agent: Option<String>,
    /// When the user signed in (UTC).
    pub created_at: DateTime<Utc>,
    /// Last sign-in or token refresh (UTC).
    pub last_used_at: DateTime<Utc>,
    /// When the session ends unless refreshed before (UTC); each refresh extends it.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// How long (seconds, by the platform clock) an authentication may reuse what it read about
/// a session and its user. Changes made by this process clear the cache at once; changes made
/// by another instance are seen within this time.
pub const AUTHORITY_TTL_SECONDS: i64 = 5;

/// The key-value pub/sub channel revocations travel on between instances.
pub const REVOCATIONS_TOPIC: &str = "identity:revoked";

/// Sessions that ended: these `sessions`, and with `user` every session of that user.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    /// Session ids revoked.
    pub sessions: Vec<Uuid>,
    /// Every session of this user (ban, deletion).
    pub user: Option<Uuid>,
    /// The instance that made the change.
    pub origin: Uuid,
}

/// Entries kept before the authority cache is emptied (bounds its memory).
const AUTHORITY_CACHE_MAX: usize = 10_000;

/// Recently read [`sessions::Authority`] by session id, with when each was read.
#[derive(Default)]
pub(crate) struct AuthorityCache(Mutex<HashMap<Uuid, (DateTime<Utc>, sessions::Authority)>>);

impl AuthorityCache {
    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, (DateTime<Utc>, sessions::Authority)>> {
        // A panic while holding the lock leaves a plain map behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, sid: Uuid, now: DateTime<Utc>) -> Option<sessions::Authority> {
        let map = self.map();
        let (read_at, a) = map.get(&sid)?;
        let age = now - *read_at;
        (age >= chrono::Duration::zero() && age < chrono::Duration::seconds(AUTHORITY_TTL_SECONDS))
            .then(|| a.clone())
    }

    fn put(&self, sid: Uuid, now: DateTime<Utc>, a: sessions::Authority) {
        let mut map = self.map();
        if map.len() >= AUTHORITY_CACHE_MAX {
            map.clear();
        }
        map.insert(sid, (now, a));
    }

    /// Forgets the given sessions, or every session of `user`.
    pub(crate) fn forget(&self, sids: &[Uuid], user: Option<Uuid>) {
        let mut map = self.map();
        for sid in sids {
            map.remove(sid);
        }
        if let Some(u) = user {
            map.retain(|_, (_, a)| a.user_id != u);
        }
    }
}

impl Identity {
    /// Verifies an access token for the API `audience` ([`AUD_API`] or an app's own, e.g.
    /// MicroDock's): its `kid`, signature, expiry and `aud` (RFC 7519 §4.1.3), then that its
    /// session is still open and its user still active, and answers with the user's
    /// *current* role. Errors: [`IdentityError::InvalidToken`] (bad, foreign or other
    /// audience), [`IdentityError::TokenExpired`], [`IdentityError::TokenRevoked`] (signed
    /// out, revoked, or account deleted), [`IdentityError::AccountNotActive`] (banned or
    /// deactivated since).
    pub async fn authenticate(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Principal, IdentityError> {
        let claims = self.inner.keys.verify_for(token, audience)?;
        self.principal(&claims).await
    }

    /// The session id of a validly signed, unexpired access token of `audience`, without
    /// reading the database (the console's CSRF binding; authentication itself is
    /// [`Identity::authenticate`]).
    pub fn session_of(&self, token: &str, audience: &str) -> Option<Uuid> {
        self.inner
            .keys
            .verify_for(token, audience)
            .ok()
            .map(|c| c.sid)
    }

    /// The CSRF token for `binding` (OWASP synchronizer token, signed): what the console's
    /// forms carry in `csrf_token`.
    pub fn csrf_token(&self, binding: &str) -> String {
        self.inner.keys.csrf_mac(binding)
    }

    /// Whether `token` is the CSRF token of `binding`, compared in constant time.
    pub fn csrf_valid(&self, binding: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let expected = self.inner.keys.csrf_mac(binding);
        expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    /// [`Identity::authenticate`] for a token of any Trellis audience (status endpoints that
    /// only report who is signed in); returns the principal and the token's audience.
    pub async fn authenticate_any(
        &self,
        token: &str,
    ) -> Result<(Principal, String), IdentityError> {
        let claims = self.inner.keys.verify(token)?;
        let p = self.principal(&claims).await?;
        Ok((p, claims.aud))
    }

    /// Checks again, from current data, a principal authenticated earlier (a WebSocket
    /// ticket's, a live connection's): its session still open, its user still active; answers
    /// it with the user's current role. Errors as [`Identity::authenticate`].
    pub async fn recheck(&self, p: &Principal) -> Result<Principal, IdentityError> {
        let claims = Claims {
            sub: p.user_id,
            sid: p.session_id,
            jti: Uuid::nil(),
            role: p.role,
            aud: p.audience.clone(),
            iat: 0,
            exp: p.expires_at,
        };
        self.principal(&claims).await
    }

    async fn principal(&self, claims: &Claims) -> Result<Principal, IdentityError> {
        let now = self.now();
        if claims.exp <= now.timestamp() {
            return Err(IdentityError::TokenExpired);
        }
        let cache = &self.inner.authority;
        let a = match cache.get(claims.sid, now) {
            Some(a) => a,
            None => {
                let a = sessions::authority(&self.inner.platform.db, claims.sid)
                    .await?
                    .ok_or(IdentityError::TokenRevoked)?;
                cache.put(claims.sid, now, a.clone());
                a
            }
        };
        if a.revoked || a.user_id != claims.sub {
            return Err(IdentityError::TokenRevoked);
        }
        let status = UserStatus::parse(&a.status).unwrap_or(UserStatus::Inactive);
        if status != UserStatus::Active {
            return Err(IdentityError::AccountNotActive(status.as_str()));
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            // The CHECK constraint guarantees a known role; an unknown one gets the least.
            role: Role::parse(&a.role).unwrap_or(Role::User),
            expires_at: claims.exp,
            audience: claims.aud.clone(),
        })
    }

    /// A fresh access token for the principal's session and audience, valid for `life`
    /// (capped to the refresh lifetime): the token renewal of seed 002 ("令牌自动续期"),
    /// which hands a client a new token before its current one expires. The session stays
    /// the same, so signing it out revokes both.
    pub fn reissue_access(
        &self,
        p: &Principal,
        life: chrono::Duration,
    ) -> Result<String, IdentityError> {
        let life = life.min(self.refresh_lifetime());
        let now = self.now();
        self.inner.keys.sign(&Claims {
            sub: p.user_id,
            sid: p.session_id,
            jti: Uuid::new_v4(),
            role: p.role,
            aud: p.audience.clone(),
            iat: now.timestamp(),
            exp: (now + life).timestamp(),
        })
    }

    pub(crate) fn access_lifetime(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.inner.settings.access_token_minutes)
    }

    pub(crate) fn refresh_lifetime(&self) -> chrono::Duration {
        chrono::Duration::days(self.inner.settings.refresh_token_days)
    }

    /// Signs an access token for `session` and pairs it with `refresh`.
    pub(crate) fn token_pair(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        role: Role,
        audience: &str,
        refresh: String,
        life: chrono::Duration,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.now();
        let access = self.inner.keys.sign(&Claims {
            sub: user_id,
            sid: session_id,
            jti: Uuid::new_v4(),
            role,
            aud: audience.to_string(),
            iat: now.timestamp(),
            exp: (now + life).timestamp(),
        })?;
        Ok(TokenPair {
            access_token: access,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: life.num_seconds(),
        })
    }

    /// Opens a session for an account this request just created (an app whose seed signs
    /// the user in on registration, seed 002), with the app's audience and access lifetime.
    pub async fn sign_in_new_account(
        &self,
        user_id: Uuid,
        ctx: &crate::ClientCtx,
        audience: &str,
        access: chrono::Duration,
    ) -> Result<TokenPair, IdentityError> {
        let access = access.min(self.refresh_lifetime());
        self.open_session(user_id, Role::User, ctx, self.now(), audience, access)
            .await
    }

    /// Opens a session for a user who just proved who they are, recording the login and
    /// clearing the failed attempts of its source ([`crate::accounts::source_key`]).
    pub(crate) async fn open_session(
        &self,
        user_id: Uuid,
        role: Role,
        ctx: &crate::ClientCtx,
        now: DateTime<Utc>,
        audience: &str,
        life: chrono::Duration,
    ) -> Result<TokenPair, IdentityError> {
        let refresh = new_refresh_token();
        let session = sessions::Session {
            id: Uuid::now_v7(),
            user_id,
            ip: Some(ctx.ip.to_string()),
            user_agent: ctx.user_agent.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.refresh_lifetime(),
            revoked_at: None,
            audience: audience.to_string(),
        };
        let mut tx = self.inner.platform.db.begin().await?;
        let source = crate::accounts::source_key(ctx.ip);
        sessions::open(&mut tx, &session, &hash_refresh_token(&refresh), &source).await?;
        self.audit(
            &mut tx,
            Some(user_id),
            Some(user_id),
            "login",
            Some(ctx.ip),
            None,
        )
        .await?;
        tx.commit().await?;
        self.token_pair(user_id, session.id, role, audience, refresh, life)
    }

    /// Drops what this process cached about the sessions `ids` (and, with `user`, about
    /// every session of that user), once a transaction revoking them or changing the user has
    /// committed: the next request reads the database again.
    pub(crate) fn forget_sessions(&self, ids: &[Uuid], user: Option<Uuid>) {
        self.inner.authority.forget(ids, user);
        if ids.is_empty() && user.is_none() {
            return;
        }
        let r = Revocation {
            sessions: ids.to_vec(),
            user,
            origin: self.inner.instance,
        };
        // No receiver is fine: nothing live to close.
        let _ = self.inner.revoked.send(r.clone());
        if let Kv::Redis(_) = self.inner.platform.kv {
            let kv = self.inner.platform.kv.clone();
            tokio::spawn(async move {
                let Ok(body) = serde_json::to_vec(&r) else {
                    return;
                };
                if let Err(e) = kv.publish(REVOCATIONS_TOPIC, body.into()).await {
                    tracing::warn!(error = %e, "cannot tell other instances about a revocation; they see it within the authority cache's TTL");
                }
            });
        }
    }

    /// Revocations from now on — sessions signed out, revoked or expired by a password
    /// change, users banned or deleted — made by this process or, with Redis, any instance
    /// (delivered within the pub/sub latency). Live connections (WebSocket, SSE) close on
    /// them (issue 9 "Typed closes": within a second, on every instance).
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<Revocation> {
        self.inner.revoked.subscribe()
    }

    /// With Redis: receives other instances' revocations, drops what this process cached
    /// about those sessions (so they are refused at once, not after the cache's TTL) and
    /// passes them on to [`Identity::revocations`]. Resubscribes after a lost connection.
    pub(crate) fn listen_for_revocations(&self) {
        if !matches!(self.inner.platform.kv, Kv::Redis(_)) {
            return;
        }
        let this = self.clone();
        let shutdown = self.inner.platform.tasks.token();
        tokio::spawn(async move {
            loop {
                let sub = tokio::select! {
                    () = shutdown.cancelled() => return,
                    s = this.inner.platform.kv.subscribe(REVOCATIONS_TOPIC) => s,
                };
                match sub {
                    Ok(mut sub) => loop {
                        let msg = tokio::select! {
                            () = shutdown.cancelled() => return,
                            m = sub.recv() => m,
                        };
                        let Some(msg) = msg else { break };
                        let Ok(r) = serde_json::from_slice::<Revocation>(&msg) else {
                            continue;
                        };
                        if r.origin == this.inner.instance {
                            continue;
                        }
                        this.inner.authority.forget(&r.sessions, r.user);
                        let _ = this.inner.revoked.send(r);
                    },
                    Err(e) => tracing::warn!(error = %e, "revocation channel: cannot subscribe"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        });
    }

    /// Revokes every session of `user_id` but `keep` in the caller's transaction; returns
    /// their ids, for [`Identity::forget_sessions`] once the transaction has committed.
    pub(crate) async fn revoke_sessions(
        &self,
        tx: &mut Tx,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &str,
    ) -> Result<Vec<Uuid>, IdentityError> {
        Ok(sessions::revoke_all(tx, user_id, keep, reason, self.now()).await?)
    }

    /// The caller's live sessions, newest first.
    pub async fn list_sessions(&self, p: &Principal) -> Result<Vec<SessionInfo>, IdentityError> {
        let now = self.now();
        let rows = sessions::list_unrevoked(&self.inner.platform.db, p.user_id).await?;
        Ok(rows
            .into_iter()
            .filter(|s| s.is_live(now))
            .map(|s| SessionInfo {
                current: s.id == p.session_id,
                id: s.id,
                ip: s.ip,
                user_agent: s.user_agent,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Signs out one of the caller's sessions (404 for anyone else's).
    pub async fn revoke_session(&self, p: &Principal, id: Uuid) -> Result<(), IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        if !sessions::revoke(&mut tx, p.user_id, id, "user_revoked", self.now()).await? {
            return Err(IdentityError::SessionNotFound);
        }
        self.audit(
            &mut tx,
            Some(p.user_id),
            Some(p.user_id),
            "session_revoked",
            None,
            Some(serde_json::json!({"session_id": id})),
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&[id], None);
        Ok(())
    }

    /// Signs out every session of the caller but the current one; returns how many.
    pub async fn revoke_other_sessions(&self, p: &Principal) -> Result<usize, IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        let ids = self
            .revoke_sessions(
                &mut tx,
                p.user_id,
                Some(p.session_id),
                "user_revoked_others",
            )
            .await?;
        self.audit(
            &mut tx,
            Some(p.user_id),
            Some(p.user_id),
            "sessions_revoked",
            None,
            Some(serde_json::json!({"count": ids.len()})),
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&ids, None);
        Ok(ids.len())
    }

    /// Signs out the caller's current session.
    pub async fn logout_principal(&self, p: &Principal) -> Result<(), IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        sessions::revoke(&mut tx, p.user_id, p.session_id, "logout", self.now()).await?;
        self.audit(
            &mut tx,
            Some(p.user_id),
            Some(p.user_id),
            "logout",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&[p.session_id], None);
        Ok(())
    }

    /// Signs out the session a refresh token belongs to; unknown tokens are ignored so the
    /// public logout is idempotent.
    pub async fn logout_refresh(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let db = &self.inner.platform.db;
        if let Some(found) = sessions::find_refresh(db, &hash_refresh_token(refresh_token)).await? {
            let s = found.session;
            let mut tx = db.begin().await?;
            if sessions::revoke(&mut tx, s.user_id, s.id, "logout", self.now()).await? {
                self.audit(
                    &mut tx,
                    Some(s.user_id),
                    Some(s.user_id),
                    "logout",
                    None,
                    None,
                )
                .await?;
                tx.commit().await?;
                self.forget_sessions(&[s.id], None);
            }
        }
        Ok(())
    }
}
