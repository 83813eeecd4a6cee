//! Momentum's SQL, one module per table group. Reads take `&Db`, writes `&mut Tx`; every
//! query is written once with `$N` placeholders for both backends (`docs/DATABASE.md`).
//! Tables are prefixed `mm_`.

pub mod changes;
pub mod labels;
pub mod members;
pub mod profiles;
pub mod project_statuses;
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
