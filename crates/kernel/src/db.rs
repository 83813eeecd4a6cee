//! One store layer over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries are written once with `$N` placeholders (they mean the same on both) and run on
//! either pool through [`on_db!`]. SQLite gets WAL, a busy timeout, foreign keys, and a
//! single-connection writer pool so writes queue in-process and `SQLITE_BUSY` never reaches a
//! user; reads use a separate pool and proceed concurrently.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// SQLite pools: many readers, one writer.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub read: SqlitePool,
    pub write: SqlitePool,
}

/// The database of one server.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the writer pool of whichever backend `$db` is.
/// The body is expanded once per backend, so the same query text serves both.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            $crate::db::Db::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Like [`on_db!`] but on the SQLite read pool: for queries that never write.
#[macro_export]
macro_rules! on_db_read {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::db::Db::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Migrations of one crate for both backends; same version numbers on both.
///
/// Several crates share one database and one `_sqlx_migrations` table, so each crate numbers
/// its migrations in its own range (identity 2xxx, workflow 3xxx, microdock 4xxx, ...) and each
/// migrator ignores the versions applied by the others.
pub struct Migrations {
    sqlite: Migrator,
    postgres: Migrator,
}

impl Migrations {
    pub fn new(mut sqlite: Migrator, mut postgres: Migrator) -> Self {
        sqlite.set_ignore_missing(true);
        postgres.set_ignore_missing(true);
        Migrations { sqlite, postgres }
    }
}

impl Db {
    /// Opens the database named by `url` (`sqlite:…` or `postgres://…`), creating a SQLite
    /// file and its directory when missing.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            return Self::connect_pg(opts).await;
        }
        let opts = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = opts.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        Self::connect_sqlite(opts).await
    }

    /// Opens PostgreSQL with the given options (tests add a `search_path`).
    pub async fn connect_pg(opts: PgConnectOptions) -> Result<Db, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Db::Postgres(pool))
    }

    async fn connect_sqlite(opts: SqliteConnectOptions) -> Result<Db, sqlx::Error> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Db::Sqlite(SqlitePools { read, write }))
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies one crate's migrations.
    pub async fn migrate(&self, m: &Migrations) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(p) => m.sqlite.run(&p.write).await,
            Db::Postgres(p) => m.postgres.run(p).await,
        }
    }

    /// A trivial query, for `/health`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db_read!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// Closes every pool (graceful shutdown).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => {
                p.write.close().await;
                p.read.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Whether `e` is a unique-constraint violation (mapped to 409 by callers).
    pub fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
}
