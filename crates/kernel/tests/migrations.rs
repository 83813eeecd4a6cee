//! Both backends end with the same tables and columns after every crate's migrations
//! (each app adds its own set to `all_migrations`).

use trellis_kernel::db::Db;
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
                let cs: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{t}')"))
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

/// The kernel depends on no app, so the test reads their migration folders directly.
fn all_migrations() -> Vec<trellis_kernel::db::Migrations> {
    vec![
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../identity/migrations/sqlite"),
            sqlx::migrate!("../identity/migrations/postgres"),
        ),
        trellis_kernel::db::Migrations::new(
            sqlx::migrate!("../../apps/microdock/migrations/sqlite"),
            sqlx::migrate!("../../apps/microdock/migrations/postgres"),
        ),
    ]
}
