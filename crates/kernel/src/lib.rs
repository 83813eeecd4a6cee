//! The platform shared by every Trellis app. It knows no app: apps build on [`Platform`]
//! (config, database, key-value, blobs, mail, clock, metrics, tracked tasks), describe
//! themselves with an [`app::App`], render bodies through their [`envelope::Profile`], and are
//! wrapped by [`http::assemble`] into the served router.

pub mod app;
pub mod blob;
pub mod clock;
pub mod config;
pub mod db;
pub mod docs;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod json_int;
pub mod kv;
pub mod mail;
pub mod realtime;
pub mod tasks;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use error::ApiError;

use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::http::metrics::Metrics;
use crate::kv::Kv;
use crate::mail::Mailer;
use crate::tasks::Tasks;

/// Everything an app needs from the platform. One shared allocation: a clone is one reference
/// count, which matters because axum clones the state of every handler and middleware for
/// every request (measured: cloning the parts one by one, the token's mutex included, cost
/// about a fifth of a cached MicroDock list request). Fields are reached through `Deref`
/// (`platform.db`).
#[derive(Clone)]
pub struct Platform(Arc<PlatformParts>);

impl std::ops::Deref for Platform {
    type Target = PlatformParts;
    fn deref(&self) -> &PlatformParts {
        &self.0
    }
}

/// The parts of a [`Platform`].
#[derive(Clone)]
pub struct PlatformParts {
    /// The kernel's configuration (apps read their own settings from `config.vars`).
    pub config: Arc<Config>,
    /// SQLite or PostgreSQL.
    pub db: Db,
    /// In-process or Redis key-value, rate limits, pub/sub.
    pub kv: Kv,
    /// Plugin files and backups.
    pub blobs: BlobStore,
    /// SMTP or the outbox directory.
    pub mailer: Mailer,
    /// The time source (tests advance it).
    pub clock: Clock,
    /// Prometheus registry of this server.
    pub metrics: Arc<Metrics>,
    /// Tracked background tasks and the shutdown token.
    pub tasks: Tasks,
    /// The cap on concurrent uploads (`TRELLIS_MAX_CONCURRENT_UPLOADS`), enforced with the
    /// per-IP upload limit by [`http::slow::upload_layer`] on apps' upload routes.
    pub uploads: http::slow::ConcurrencyCap,
}

/// A failure while opening the platform's resources at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// `TRELLIS_DATA_DIR` cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `DATABASE_URL` cannot be opened.
    #[error("cannot open database: {0}")]
    Database(#[from] sqlx::Error),
    /// `REDIS_URL` cannot be reached.
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] kv::KvError),
    /// The SMTP settings are unusable.
    #[error("mail configuration: {0}")]
    Mail(#[from] mail::MailError),
    /// `TRELLIS_BLOB_URL` names a store that cannot be opened.
    #[error("blob storage (TRELLIS_BLOB_URL): {0}")]
    Blobs(#[from] blob::BlobError),
    /// A migration failed.
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Platform {
    /// Opens the database, key-value store, blob store and mailer named by `config`.
    pub async fn open(config: Config) -> Result<Platform, StartupError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let db = Db::connect(&config.database_url).await?;
        let kv = match &config.redis_url {
            Some(url) => Kv::redis(url, "trellis:").await?,
            None => Kv::memory(),
        };
        Self::with_parts(config, db, kv)
    }

    /// This platform with another clock (a test runs two instances on one clock).
    pub fn with_clock(mut self, clock: Clock) -> Platform {
        Arc::make_mut(&mut self.0).clock = clock;
        self
    }

    /// This platform with another key-value store (a test puts Redis behind a relay it cuts).
    pub fn with_kv(mut self, kv: Kv) -> Platform {
        Arc::make_mut(&mut self.0).kv = kv;
        self
    }

    /// Assembles a platform from an opened database and key-value store (tests use this).
    pub fn with_parts(config: Config, db: Db, kv: Kv) -> Result<Platform, StartupError> {
        let blobs = BlobStore::from_url(config.blob_url.as_deref(), &config.data_dir)?
            .with_min_free(config.min_free_disk_bytes);
        let uploads = http::slow::ConcurrencyCap::new(config.max_concurrent_uploads);
        let mailer = Mailer::from_config(config.smtp.as_ref(), &config.data_dir)?;
        Ok(Platform(Arc::new(PlatformParts {
            config: Arc::new(config),
            db,
            kv,
            blobs,
            mailer,
            clock: Clock::default(),
            metrics: Arc::default(),
            tasks: Tasks::default(),
            uploads,
        })))
    }
}
