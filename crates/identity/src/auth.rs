//! Authenticating requests: the `Principal` extractor (Bearer access token, checked against
//! the revocation list), and the session operations that revoke tokens.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::ApiError;
use uuid::Uuid;

use crate::Identity;
use crate::domain::Role;
use crate::error::IdentityError;
use crate::store::sessions;
use crate::tokens::{Claims, hash_refresh_token, new_refresh_token};
use trellis_kernel::db::Tx;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
}

impl Principal {
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
        Ok(identity.authenticate(token).await?)
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
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// A session as its owner sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

fn revoked_key(sid: Uuid) -> String {
    format!("revoked_sid:{sid}")
}

impl Identity {
    /// Verifies an access token and that its session was not signed out.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, IdentityError> {
        let claims = self.inner.keys.verify(token)?;
        if claims.exp <= self.now().timestamp() {
            return Err(IdentityError::TokenExpired);
        }
        if self
            .inner
            .platform
            .kv
            .get(&revoked_key(claims.sid))
            .await?
            .is_some()
        {
            return Err(IdentityError::TokenRevoked);
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            role: claims.role,
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
        refresh: String,
        life: chrono::Duration,
    ) -> Result<TokenPair, IdentityError> {
        let now = self.now();
        let access = self.inner.keys.sign(&Claims {
            sub: user_id,
            sid: session_id,
            jti: Uuid::new_v4(),
            role,
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

    /// Opens a session for a user who just proved who they are, recording the login.
    pub(crate) async fn open_session(
        &self,
        user_id: Uuid,
        role: Role,
        ctx: &crate::ClientCtx,
        now: DateTime<Utc>,
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
        };
        let mut tx = self.inner.platform.db.begin().await?;
        sessions::open(&mut tx, &session, &hash_refresh_token(&refresh)).await?;
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
        self.token_pair(user_id, session.id, role, refresh, life)
    }

    /// Marks sessions revoked in the key-value store so their access tokens stop working now
    /// rather than at expiry. No access token outlives its session's refresh lifetime (custom
    /// lifetimes are capped to it), so that is how long the mark must last.
    pub(crate) async fn mark_revoked(&self, ids: &[Uuid]) -> Result<(), IdentityError> {
        let ttl = Duration::from_secs(self.refresh_lifetime().num_seconds().max(1) as u64 + 60);
        for sid in ids {
            self.inner
                .platform
                .kv
                .set(&revoked_key(*sid), "1", Some(ttl))
                .await?;
        }
        Ok(())
    }

    /// Revokes every session of `user_id` but `keep` in the caller's transaction; returns
    /// their ids, for [`Identity::mark_revoked`] once the transaction has committed.
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
        self.mark_revoked(&[id]).await
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
        self.mark_revoked(&ids).await?;
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
        self.mark_revoked(&[p.session_id]).await
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
                self.mark_revoked(&[s.id]).await?;
            }
        }
        Ok(())
    }
}
