//! `mm_workflows`, `mm_workflow_states` and `mm_workflow_transitions`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::StateCategory;

/// The unique constraint on `(team_id, name)`.
pub const WORKFLOW_NAME_KEY: &str = "mm_workflows_team_id_name_key";
/// The unique constraint on `(workflow_id, name)`.
pub const STATE_NAME_KEY: &str = "mm_workflow_states_workflow_id_name_key";

/// A team's workflow.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Workflow {
    /// Id.
    pub id: Uuid,
    /// The team it belongs to.
    pub team_id: Uuid,
    /// Name, unique in the team.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// New issues of the team use the default workflow.
    pub is_default: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A state of a workflow.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct WorkflowState {
    /// Id.
    pub id: Uuid,
    /// The workflow it belongs to.
    pub workflow_id: Uuid,
    /// Name, unique in the workflow.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// `#RRGGBB`.
    pub color: String,
    /// One of `triage, backlog, unstarted, started, completed, canceled`.
    #[sqlx(try_from = "String")]
    pub category: StateCategoryColumn,
    /// Order in the workflow (0 first).
    pub position: i32,
    /// New issues start in the default state.
    pub is_default: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A stored state category (CHECK-constrained text), decoded for [`WorkflowState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct StateCategoryColumn(pub StateCategory);

impl TryFrom<String> for StateCategoryColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        StateCategory::parse(&s)
            .map(StateCategoryColumn)
            .ok_or_else(|| format!("unknown state category {s}"))
    }
}

/// Columns of [`WorkflowState`] from `mm_workflow_states s`.
#[macro_export]
macro_rules! state_columns {
    () => {
        "s.id, s.workflow_id, s.name, s.description, s.color, s.category, s.position, s.is_default, s.created_at, s.updated_at"
    };
}

/// Inserts a workflow.
pub async fn insert(tx: &mut Tx, w: &Workflow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_workflows (id, team_id, name, description, is_default, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(w.id).bind(w.team_id).bind(&w.name).bind(&w.description).bind(w.is_default)
        .bind(w.created_at).bind(w.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Inserts a state.
pub async fn insert_state(tx: &mut Tx, s: &WorkflowState) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_workflow_states (id, workflow_id, name, description, color, category, position, is_default, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(s.id).bind(s.workflow_id).bind(&s.name).bind(&s.description).bind(&s.color)
        .bind(s.category.0.as_str()).bind(s.position).bind(s.is_default).bind(s.created_at).bind(s.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The states of a workflow, in position order.
pub async fn states(db: &Db, workflow_id: Uuid) -> Result<Vec<WorkflowState>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::state_columns!(),
        " FROM mm_workflow_states s WHERE s.workflow_id = $1 ORDER BY s.position, s.id"))
        .bind(workflow_id).fetch_all(pool).await)?,
    )
}

/// The default workflow of a team and its default state, for a new issue.
pub async fn default_state(tx: &mut Tx, team_id: Uuid) -> Result<Option<(Uuid, Uuid)>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT w.id, s.id FROM mm_workflows w JOIN mm_workflow_states s ON s.workflow_id = w.id \
         WHERE w.team_id = $1 ORDER BY w.is_default DESC, w.created_at, s.is_default DESC, s.position LIMIT 1")
        .bind(team_id).fetch_optional(&mut *c).await)?)
}

/// A transition rule: from `from_state_id` (`None`: any state) to `to_state_id`, for the
/// workspace roles in `roles` (`None`: everyone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TransitionRule {
    /// The state the issue is in; null means any state.
    pub from_state_id: Option<Uuid>,
    /// The state it may move to.
    pub to_state_id: Uuid,
    /// Workspace roles allowed to make the move; absent means everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<crate::domain::WorkspaceRole>>,
}

/// The transition rules of a workflow (empty: every move allowed).
pub async fn transitions(db: &Db, workflow_id: Uuid) -> Result<Vec<TransitionRule>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        from_state_id: Option<Uuid>,
        to_state_id: Uuid,
        roles: Option<String>,
    }
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT from_state_id, to_state_id, roles FROM mm_workflow_transitions WHERE workflow_id = $1 ORDER BY created_at, id")
        .bind(workflow_id).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|r| TransitionRule {
            from_state_id: r.from_state_id,
            to_state_id: r.to_state_id,
            roles: r.roles.and_then(|s| {
                serde_json::from_str::<Vec<String>>(&s).ok().map(|v| {
                    v.iter()
                        .filter_map(|x| crate::domain::WorkspaceRole::parse(x))
                        .collect()
                })
            }),
        })
        .collect())
}

/// Replaces the transition rules of a workflow.
pub async fn replace_transitions(
    tx: &mut Tx,
    workflow_id: Uuid,
    rules: &[TransitionRule],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM mm_workflow_transitions WHERE workflow_id = $1")
        .bind(workflow_id).execute(&mut *c).await.map(|_| ()))?;
    for r in rules {
        let roles = r.roles.as_ref().map(|v| {
            serde_json::to_string(&v.iter().map(|x| x.as_str()).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into())
        });
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO mm_workflow_transitions (id, workflow_id, from_state_id, to_state_id, roles, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(Uuid::now_v7()).bind(workflow_id).bind(r.from_state_id).bind(r.to_state_id).bind(roles).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}
