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
