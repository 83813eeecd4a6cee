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
    /// Up to 4 read-only connections, used concurrently.
    pub read: SqlitePool,
    /// The one writer connection; writes queue for it in-process instead of meeting
    /// `SQLITE_BUSY`.
    pub write: SqlitePool,
}

/// The database of one server.
#[derive(Clone, Debug)]
pub enum Db {
    /// The embedded default: a file under the data directory.
    Sqlite(SqlitePools),
    /// A PostgreSQL server (one pool of up to 16 connections).
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the writer pool of whichever backend `$db` is.
/// The body is expanded once per backend, so the same query text serves both.
///
/// For single statements that need no transaction of the caller's; anything that writes
/// more than one row, or writes beside an audit row, takes a [`Tx`] and uses [`on_tx!`].
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

/// Runs `$body` with `$conn` bound to the connection of the open transaction `$tx`
/// (a `&mut Tx`), on whichever backend it is. Use `&mut *$conn` as the executor; the body is
/// expanded once per backend, so the same query text serves both.
///
/// ```ignore
/// on_tx!(tx, c => sqlx::query("UPDATE t SET x = $1").bind(1).execute(&mut *c).await)?;
/// ```
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $conn: &mut ::sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $conn: &mut ::sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

/// An open transaction on either backend, begun with [`Db::begin`].
///
/// Store functions that write take `&mut Tx`, so the caller decides what commits together:
/// a business row, its audit row, its change-log entry and its job are written in one
/// transaction or not at all (windmill's rule, see `docs/DATABASE.md`). Dropping a `Tx`
/// without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub enum Tx {
    /// A SQLite transaction on the single writer connection (`BEGIN IMMEDIATE`).
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A PostgreSQL transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    /// Commits every write made through this transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back every write made through this transaction (dropping it does the same).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// Whether a constraint violation was a unique, foreign-key or check constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    /// A `UNIQUE` constraint or primary key.
    Unique,
    /// A `REFERENCES` constraint.
    ForeignKey,
    /// A `CHECK` constraint.
    Check,
}

/// A storage failure, with sqlx hidden behind it (atuin's `DbError` shape).
///
/// Stores return this and never an HTTP error; each app maps the variants it expects (a
/// named constraint to its 409, say) and everything else to a 500 logged once.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A named constraint refused the write. `constraint` is the name the migrations give it;
    /// see [`constraint_name`] for how SQLite's messages are mapped to the same name.
    #[error("{kind:?} constraint {constraint} violated")]
    Constraint {
        /// Unique, foreign key or check.
        kind: ConstraintKind,
        /// The constraint's name (empty when the backend does not say, as SQLite for foreign keys).
        constraint: String,
    },
    /// Text the database cannot store (PostgreSQL refuses NUL bytes, SQLSTATE 22021/22P05):
    /// the client's input, not our fault.
    #[error("text contains a NUL character")]
    InvalidText,
    /// The database could not be reached in time (pool timeout, connection refused).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or an outage, logged once at the boundary.
    #[error("database: {0}")]
    Other(String),
}

impl StoreError {
    /// Whether this is a violation of the constraint named `name` (see `docs/DATABASE.md`).
    pub fn violates(&self, name: &str) -> bool {
        matches!(self, StoreError::Constraint { constraint, .. } if constraint == name)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) => {
                if matches!(d.code().as_deref(), Some("22021" | "22P05")) {
                    return StoreError::InvalidText;
                }
                let kind = match d.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => ConstraintKind::Unique,
                    sqlx::error::ErrorKind::ForeignKeyViolation => ConstraintKind::ForeignKey,
                    sqlx::error::ErrorKind::CheckViolation => ConstraintKind::Check,
                    _ => return StoreError::Other(e.to_string()),
                };
                StoreError::Constraint {
                    kind,
                    constraint: constraint_name(d.constraint(), d.message(), kind),
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// The name of a violated constraint, the same on both backends.
///
/// PostgreSQL reports the name. SQLite reports a CHECK constraint's name but, for a unique
/// violation, only the columns (`UNIQUE constraint failed: t.a, t.b`); those map to
/// `t_a_b_key`, which is PostgreSQL's default name for `UNIQUE (a, b)` on `t`. So every
/// unique constraint a client can violate is named `<table>_<columns>_key` in both dialects'
/// migrations (`docs/DATABASE.md`), and one name serves both. SQLite does not name foreign
/// keys: those come back with an empty name.
pub fn constraint_name(reported: Option<&str>, message: &str, kind: ConstraintKind) -> String {
    if let Some(name) = reported {
        return name.to_string();
    }
    let detail = message
        .split_once("constraint failed: ")
        .map(|(_, rest)| rest.trim())
        .unwrap_or("");
    match kind {
        ConstraintKind::Unique if !detail.is_empty() => {
            let mut table = "";
            let mut columns = Vec::new();
            for item in detail.split(',') {
                let (t, c) = item.trim().split_once('.').unwrap_or(("", item.trim()));
                table = t;
                columns.push(c);
            }
            format!("{table}_{}_key", columns.join("_"))
        }
        ConstraintKind::Check => detail.to_string(),
        _ => String::new(),
    }
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
    /// Pairs a crate's SQLite and PostgreSQL migrators (usually two `sqlx::migrate!` dirs),
    /// telling both to ignore versions applied by other crates.
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

    /// Begins a transaction: on SQLite on the single writer connection with
    /// `BEGIN IMMEDIATE` (the write lock is taken now, so no statement inside can fail with
    /// `SQLITE_BUSY` halfway), on PostgreSQL at the default READ COMMITTED level.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }
}
