//! Momentum's SQL, one module per table group. Reads take `&Db`, writes `&mut Tx`; every
//! query is written once with `$N` placeholders for both backends (`docs/DATABASE.md`).
//! Tables are prefixed `mm_`.

pub mod changes;
pub mod comments;
pub mod cycles;
pub mod invitations;
pub mod issues;
pub mod labels;
pub mod live;
pub mod members;
pub mod profiles;
pub mod project_statuses;
pub mod projects;
pub mod teams;
pub mod workflows;
pub mod workspaces;

use serde::Serialize;
use uuid::Uuid;

/// A person as other members see them: `{id, email, username, name, avatar_url}`
/// (originals §2.3's login `user`).
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = MomentumUser)]
pub struct UserSummary {
    /// Account id.
    pub id: Uuid,
    /// E-mail address (lower-cased).
    pub email: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Avatar URL, if set.
    pub avatar_url: Option<String>,
}

/// Columns of [`UserSummary`] from `users u` joined with `mm_profiles p`.
#[macro_export]
macro_rules! user_summary_columns {
    () => {
        "u.id, u.email, u.username, COALESCE(p.name, u.username) AS name, p.avatar_url"
    };
}

/// A list of ids bound as one parameter, for `… IN (…)` on either backend (the list
/// endpoints load related rows for a whole page in one query, never one per row).
///
/// The two dialects take it differently, so a query using it is written twice side by side
/// (`docs/DATABASE.md`): PostgreSQL `col = ANY($n)` binding [`IdList::pg`] (a `uuid[]`),
/// SQLite `col IN (SELECT unhex(value) FROM json_each($n))` binding [`IdList::sqlite`] (a
/// JSON array of hex strings; SQLite stores UUIDs as 16-byte blobs, `unhex` needs 3.41+,
/// the bundled one is 3.46).
pub struct IdList<'a>(pub &'a [Uuid]);

impl IdList<'_> {
    /// The PostgreSQL parameter.
    pub fn pg(&self) -> Vec<Uuid> {
        self.0.to_vec()
    }

    /// The SQLite parameter.
    pub fn sqlite(&self) -> String {
        let hex: Vec<String> = self.0.iter().map(|u| u.simple().to_string()).collect();
        serde_json::to_string(&hex).unwrap_or_else(|_| "[]".into())
    }
}
