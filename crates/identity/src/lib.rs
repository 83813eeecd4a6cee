//! Identity shared by every app: one account works everywhere. Accounts, sessions with
//! rotating refresh tokens, JWT access tokens with revocation, verification codes, lockout,
//! roles and the audit log. Apps expose these operations over HTTP in their own envelopes.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod codes;
pub mod domain;
pub mod error;
pub mod password;
pub mod settings;
pub mod store;
pub mod tokens;

use std::net::IpAddr;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use trellis_kernel::Platform;
use trellis_kernel::db::{Migrations, Tx};
use uuid::Uuid;

pub use crate::auth::Principal;
use crate::domain::{Role, UserStatus, Username};
pub use crate::error::IdentityError;
use crate::password::Hasher;
pub use crate::settings::Settings;
use crate::store::{audit, users};
use crate::tokens::Keys;

/// The identity tables' migrations (versions 2xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

/// What the server hands every app: the platform and the shared identity service (the
/// context of [`trellis_kernel::app::App`]; the engine and the LLM client join it when they
/// exist).
#[derive(Clone)]
pub struct AppContext {
    /// Database, key-value, blobs, mail, clock, metrics, tasks.
    pub platform: Platform,
    /// Accounts, sessions, tokens, audit.
    pub identity: Identity,
}

/// An app descriptor over [`AppContext`].
pub type AppDescriptor = trellis_kernel::app::App<AppContext>;

/// Where a request came from, for sessions, limits and audit rows.
#[derive(Clone, Debug)]
pub struct ClientCtx {
    /// The peer address of the connection.
    pub ip: IpAddr,
    /// The `User-Agent` header, if the client sent one.
    pub user_agent: Option<String>,
}

/// The identity service; cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

struct Inner {
    platform: Platform,
    settings: Settings,
    hasher: Hasher,
    keys: Keys,
    authority: auth::AuthorityCache,
    /// Revocations made by this process or (with Redis) another instance, for live
    /// connections to close on ([`Identity::revocations`]).
    revoked: tokio::sync::broadcast::Sender<auth::Revocation>,
    /// Tells this process's revocations apart from other instances' on the shared channel.
    instance: Uuid,
}

impl Identity {
    /// Resolves the signing secret, sizes the hashing pool and seeds the admin account.
    pub async fn start(platform: Platform, settings: Settings) -> Result<Identity, IdentityError> {
        let secret = signing_secret(&platform, &settings)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = Hasher::new(
            cores,
            Duration::from_millis(settings.hash_queue_timeout_ms),
            password::HashStats::register(&platform.metrics),
        )?;
        let id = Identity {
            inner: Arc::new(Inner {
                keys: Keys::new(&secret)?,
                platform,
                settings,
                hasher,
                authority: auth::AuthorityCache::default(),
                revoked: tokio::sync::broadcast::channel(1024).0,
                instance: Uuid::now_v7(),
            }),
        };
        id.listen_for_revocations();
        id.ensure_admin().await?;
        Ok(id)
    }

    /// Identity's settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.platform.clock.now()
    }

    /// Writes an audit row in a transaction of its own (for events that change nothing else,
    /// such as a failed login of an unknown account).
    async fn audit_alone(
        &self,
        user_id: Option<Uuid>,
        actor_id: Option<Uuid>,
        action: &str,
        ip: Option<IpAddr>,
        detail: Option<serde_json::Value>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.inner.platform.db.begin().await?;
        self.audit(&mut tx, user_id, actor_id, action, ip, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes an audit row in the caller's transaction.
    async fn audit(
        &self,
        tx: &mut Tx,
        user_id: Option<Uuid>,
        actor_id: Option<Uuid>,
        action: &str,
        ip: Option<IpAddr>,
        detail: Option<serde_json::Value>,
    ) -> Result<(), IdentityError> {
        audit::record(
            tx,
            &audit::Entry {
                user_id,
                actor_id,
                action,
                ip: ip.map(|i| i.to_string()),
                detail,
                now: self.now(),
            },
        )
        .await?;
        Ok(())
    }

    /// Hashes `password` and stores an active account in the caller's transaction; returns
    /// its id. A taken username or e-mail is `UsernameTaken` / `EmailTaken`.
    async fn create_account(
        &self,
        tx: &mut Tx,
        username: &Username,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<Uuid, IdentityError> {
        let hash = self.inner.hasher.hash(password).await?;
        let id = Uuid::now_v7();
        users::insert(
            tx,
            &users::NewUser {
                id,
                username: username.as_str(),
                username_key: &username.key(),
                email,
                password_hash: &hash,
                status: UserStatus::Active,
                role,
                now: self.now(),
            },
        )
        .await
        .map_err(|e| {
            if e.violates(users::USERNAME_KEY) {
                IdentityError::UsernameTaken
            } else if e.violates(users::EMAIL_KEY) {
                IdentityError::EmailTaken
            } else {
                e.into()
            }
        })?;
        Ok(id)
    }

    /// Hashes an application secret (a plugin upload key, say) like a password.
    pub async fn hash_secret(&self, secret: &str) -> Result<String, IdentityError> {
        self.inner.hasher.hash(secret).await
    }

    /// Checks an application secret against its stored hash, in constant time.
    pub async fn verify_secret(&self, secret: &str, stored: &str) -> Result<bool, IdentityError> {
        Ok(self.inner.hasher.verify(secret, stored).await? != password::Verified::No)
    }

    /// Records an app's event in the shared audit log, inside the app's transaction `tx`
    /// (so the event commits with the change it records, or not at all).
    pub async fn audit_event(
        &self,
        tx: &mut Tx,
        actor_id: Option<Uuid>,
        action: &str,
        ip: Option<IpAddr>,
        detail: serde_json::Value,
    ) -> Result<(), IdentityError> {
        self.audit(tx, None, actor_id, action, ip, Some(detail))
            .await
    }

    /// Creates the `ADMIN_USERNAME` account as `super_admin` if it does not exist.
    async fn ensure_admin(&self) -> Result<(), IdentityError> {
        let cfg = &self.inner.settings;
        let username = Username::parse(&cfg.admin_username)?;
        let db = &self.inner.platform.db;
        if users::by_username_key(db, &username.key()).await?.is_some() {
            return Ok(());
        }
        let mut tx = db.begin().await?;
        let created = self
            .create_account(
                &mut tx,
                &username,
                &cfg.admin_email.to_lowercase(),
                cfg.admin_password.expose_secret(),
                Role::SuperAdmin,
            )
            .await;
        match created {
            // Another instance seeded it concurrently.
            Err(IdentityError::UsernameTaken | IdentityError::EmailTaken) => Ok(()),
            Err(e) => Err(e),
            Ok(id) => {
                self.audit(&mut tx, Some(id), None, "admin_created", None, None)
                    .await?;
                tx.commit().await?;
                tracing::info!(admin.username = username.as_str(), "created admin account");
                Ok(())
            }
        }
    }
}

/// The configured secret, or in development one generated once and kept in the data dir.
fn signing_secret(platform: &Platform, settings: &Settings) -> Result<Vec<u8>, IdentityError> {
    if let Some(s) = &settings.jwt_secret {
        return Ok(s.expose_secret().as_bytes().to_vec());
    }
    let path = platform.config.data_dir.join("jwt.secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    tracing::warn!(file = %path.display(), "JWT_SECRET_KEY unset: using a generated secret kept in the data directory");
    let secret = {
        use rand::RngCore;
        let mut b = [0u8; 48];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    };
    write_private(&path, &secret)
        .map_err(|e| IdentityError::Internal(format!("writing {}: {e}", path.display())))?;
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = trellis_kernel::extract::ClientIp::from_parts(parts).0;
        let trellis_kernel::extract::UserAgent(user_agent) =
            <trellis_kernel::extract::UserAgent as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(ClientCtx { ip, user_agent })
    }
}
