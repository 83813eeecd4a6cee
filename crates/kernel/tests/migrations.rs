//! Both backends end with the same tables and columns after every crate's migrations
//! (each app adds its own set to `all_migrations`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use trellis_kernel::db::{Db, StoreError};
use trellis_kernel::on_tx;
use trellis_kernel::testing::{Backend, platform, services};

async fn columns(db: &Db) -> Vec<(String, String)> {
    let mut cols: Vec<(String, String)> = match db {
        Db::Sqlite(p) => {
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
            )
            .fetch_all(&p.read)
            .await
            .unwrap();
            let mut out = Vec::new();
            for (t,) in tables {
                let cs: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info($1)")
                    .bind(&t)
                    .fetch_all(&p.read)
                    .await
                    .unwrap();
                out.extend(cs.into_iter().map(|(c,)| (t.clone(), c)));
            }
            out
        }
        Db::Postgres(p) => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(p)
        .await
        .unwrap(),
    };
    cols.sort();
    cols
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let Some(_) = services() else {
        eprintln!("TEST_DATABASE_URL unset: schema parity not checked");
        return;
    };
    let lite = platform(Backend::Embedded, &[]).await;
    let pg = platform(Backend::Services, &[]).await;
    for t in [&lite, &pg] {
        for m in all_migrations() {
            t.platform.db.migrate(&m).await.unwrap();
        }
    }
    let (a, b) = (
        columns(&lite.platform.db).await,
        columns(&pg.platform.db).await,
    );
    for table in ["users", "sessions", "plugins", "plugin_versions", "backups"] {
        assert!(a.iter().any(|(t, _)| t == table), "{table} missing");
    }
    assert_eq!(a, b);
}

/// A unique violation names the same constraint on both backends (the naming rule of
/// `docs/DATABASE.md`: `<table>_<columns>_key`), so apps map violations by name, not by
/// guessing from messages.
#[tokio::test]
async fn unique_violations_name_the_same_constraint_on_both_backends() {
    let mut backends = vec![platform(Backend::Embedded, &[]).await];
    if services().is_some() {
        backends.push(platform(Backend::Services, &[]).await);
    }
    for t in &backends {
        let db = &t.platform.db;
        for m in all_migrations() {
            db.migrate(&m).await.unwrap();
        }
        let now = chrono::Utc::now();
        let insert_user = async |id: uuid::Uuid, username: &str, email: &str| {
            let mut tx = db.begin().await.unwrap();
            let r = on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO users (id, username, username_key, email, password_hash, status, role, created_at, updated_at) \
                 VALUES ($1, $2, $2, $3, 'x', 'active', 'user', $4, $4)")
                .bind(id).bind(username).bind(email).bind(now).execute(&mut *c).await.map(|_| ()));
            match r {
                Ok(()) => tx.commit().await.map_err(|e| e.to_string()),
                Err(e) => Err(StoreError::from(e).to_string()),
            }
        };
        insert_user(uuid::Uuid::now_v7(), "ann", "ann@example.com")
            .await
            .unwrap();
        let taken = insert_user(uuid::Uuid::now_v7(), "ann", "other@example.com")
            .await
            .unwrap_err();
        assert!(
            taken.contains("users_username_key_key"),
            "{} {taken}",
            db.kind()
        );
        let taken = insert_user(uuid::Uuid::now_v7(), "bob", "ann@example.com")
            .await
            .unwrap_err();
        assert!(taken.contains("users_email_key"), "{} {taken}", db.kind());

        let mut tx = db.begin().await.unwrap();
        let version = async |tx: &mut trellis_kernel::db::Tx| -> Result<(), StoreError> {
            on_tx!(tx, c => sqlx::query(
                "INSERT INTO plugin_versions (plugin_name, version, file_name, file_path, file_size, file_hash, \
                 dependencies, engines, created_at) VALUES ('com.a.b', '1.0.0', 'f', 'p', 1, 'h', '{}', '{}', $1)")
                .bind(now).execute(&mut *c).await.map(|_| ()))?;
            Ok(())
        };
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO plugins (name, main_dll, entry_class, current_version, upload_key_hash, created_at, updated_at) \
             VALUES ('com.a.b', 'M.dll', 'M', '1.0.0', 'h', $1, $1)")
            .bind(now).execute(&mut *c).await.map(|_| ())).unwrap();
        version(&mut tx).await.unwrap();
        let err = version(&mut tx).await.unwrap_err();
        assert!(
            err.violates("plugin_versions_plugin_name_version_key"),
            "{} {err}",
            db.kind()
        );
    }
}

/// The kernel depends on no app, so the test reads their migration folders directly.
fn all_migrations() -> Vec<trellis_kernel::db::Migrations> {
    vec![
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../identity/migrations/sqlite"),
            sqlx::migrate!("../identity/migrations/postgres"),
        ),
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../../apps/workflow/migrations/sqlite"),
            sqlx::migrate!("../../apps/workflow/migrations/postgres"),
        ),
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../../apps/microdock/migrations/sqlite"),
            sqlx::migrate!("../../apps/microdock/migrations/postgres"),
        ),
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../../apps/momentum/migrations/sqlite"),
            sqlx::migrate!("../../apps/momentum/migrations/postgres"),
        ),
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../engine/migrations/sqlite"),
            sqlx::migrate!("../engine/migrations/postgres"),
        ),
    ]
}
