//! `mm_workflows`, `mm_workflow_states` and `mm_workflow_transitions`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::IdList;
use crate::domain::{StateCategory, TeamRole};

/// The unique constraint on `(team_id, name)`.
pub const WORKFLOW_NAME_KEY: &str = "mm_workflows_team_id_name_key";
/// The unique constraint on `(workflow_id, name)`.
pub const STATE_NAME_KEY: &str = "mm_workflow_states_workflow_id_name_key";

/// A team's workflow.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = MomentumWorkflow)]
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
#[schema(as = MomentumWorkflowState)]
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
#[schema(as = MomentumStateCategoryColumn)]
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

/// Columns of [`Workflow`] from `mm_workflows w`.
#[macro_export]
macro_rules! workflow_columns {
    () => {
        "w.id, w.team_id, w.name, w.description, w.is_default, w.created_at, w.updated_at"
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
#[schema(as = MomentumTransitionRule)]
pub struct TransitionRule {
    /// The state the issue is in; null means any state.
    pub from_state_id: Option<Uuid>,
    /// The state it may move to.
    pub to_state_id: Uuid,
    /// Workspace roles allowed to make the move; absent means everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<crate::domain::WorkspaceRole>>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    from_state_id: Option<Uuid>,
    to_state_id: Uuid,
    roles: Option<String>,
}

impl From<RuleRow> for TransitionRule {
    fn from(r: RuleRow) -> Self {
        TransitionRule {
            from_state_id: r.from_state_id,
            to_state_id: r.to_state_id,
            roles: r.roles.and_then(|s| {
                serde_json::from_str::<Vec<String>>(&s).ok().map(|v| {
                    v.iter()
                        .filter_map(|x| crate::domain::WorkspaceRole::parse(x))
                        .collect()
                })
            }),
        }
    }
}

/// The transition rules of a workflow (empty: every move allowed).
pub async fn transitions(db: &Db, workflow_id: Uuid) -> Result<Vec<TransitionRule>, StoreError> {
    let rows: Vec<RuleRow> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT from_state_id, to_state_id, roles FROM mm_workflow_transitions WHERE workflow_id = $1 ORDER BY created_at, id")
        .bind(workflow_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(TransitionRule::from).collect())
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

/// A workflow with what decides who sees and manages it: its team's privacy and the
/// caller's role in that team.
#[derive(Clone, Debug)]
pub struct WorkflowAccess {
    /// The workflow.
    pub workflow: Workflow,
    /// Whether its team is private.
    pub team_private: bool,
    /// The caller's role in its team; `None` when not a member.
    pub my_team_role: Option<TeamRole>,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    #[sqlx(flatten)]
    workflow: Workflow,
    is_private: bool,
    my_role: Option<String>,
}

/// The workflow `id` of a team of `workspace_id`, with the role of `user_id` in that team
/// (another workspace's workflow is `None`).
pub async fn access(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    user_id: Uuid,
) -> Result<Option<WorkflowAccess>, StoreError> {
    let row: Option<AccessRow> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::workflow_columns!(),
        ", t.is_private, m.role AS my_role FROM mm_workflows w JOIN mm_teams t ON t.id = w.team_id \
         LEFT JOIN mm_team_members m ON m.team_id = t.id AND m.user_id = $3 \
         WHERE w.id = $1 AND t.workspace_id = $2"))
        .bind(id).bind(workspace_id).bind(user_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| WorkflowAccess {
        workflow: r.workflow,
        team_private: r.is_private,
        my_team_role: r.my_role.as_deref().and_then(TeamRole::parse),
    }))
}

/// The default workflow of team `team_id` (the oldest one when none is marked).
pub async fn default_of_team(db: &Db, team_id: Uuid) -> Result<Option<Workflow>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::workflow_columns!(),
        " FROM mm_workflows w WHERE w.team_id = $1 ORDER BY w.is_default DESC, w.created_at, w.id LIMIT 1"))
        .bind(team_id).fetch_optional(pool).await)?,
    )
}

/// The workflows of the teams of `workspace_id` that `user_id` may see (public teams,
/// private ones they belong to, all when `see_private`), optionally of one team only;
/// by team age, then workflow age.
pub async fn list_visible(
    db: &Db,
    workspace_id: Uuid,
    user_id: Uuid,
    see_private: bool,
    team_id: Option<Uuid>,
) -> Result<Vec<Workflow>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::workflow_columns!(),
        " FROM mm_workflows w JOIN mm_teams t ON t.id = w.team_id \
         WHERE t.workspace_id = $1 AND ($4 IS NULL OR w.team_id = $4) AND (NOT t.is_private OR $2 \
         OR EXISTS (SELECT 1 FROM mm_team_members m WHERE m.team_id = t.id AND m.user_id = $3)) \
         ORDER BY t.created_at, t.id, w.created_at, w.id"))
        .bind(workspace_id).bind(see_private).bind(user_id).bind(team_id).fetch_all(pool).await)?,
    )
}

/// The states of every workflow in `ids`, by workflow then position: one query for a whole
/// list.
pub async fn states_of(db: &Db, ids: &[Uuid]) -> Result<Vec<WorkflowState>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = IdList(ids);
    Ok(match db {
        Db::Postgres(pg) => sqlx::query_as(concat!("SELECT ", crate::state_columns!(),
            " FROM mm_workflow_states s WHERE s.workflow_id = ANY($1) ORDER BY s.workflow_id, s.position, s.id"))
            .bind(list.pg()).fetch_all(pg).await,
        Db::Sqlite(pools) => sqlx::query_as(concat!("SELECT ", crate::state_columns!(),
            " FROM mm_workflow_states s WHERE s.workflow_id IN (SELECT unhex(value) FROM json_each($1)) \
             ORDER BY s.workflow_id, s.position, s.id"))
            .bind(list.sqlite()).fetch_all(&pools.read).await,
    }?)
}

/// The workflows of a team, read in an open transaction (oldest first).
pub async fn of_team_in(tx: &mut Tx, team_id: Uuid) -> Result<Vec<Workflow>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", crate::workflow_columns!(),
        " FROM mm_workflows w WHERE w.team_id = $1 ORDER BY w.created_at, w.id"))
        .bind(team_id).fetch_all(&mut *c).await)?,
    )
}

/// Locks the workflow row until the transaction ends (PostgreSQL; SQLite's single writer
/// already serializes), so changes to its states, positions, default and rules do not
/// interleave; `false` when the workflow is gone.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE mm_workflows SET updated_at = updated_at WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The workflow `id`, read in an open transaction (after [`lock`]).
pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Option<Workflow>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", crate::workflow_columns!(),
        " FROM mm_workflows w WHERE w.id = $1"))
        .bind(id).fetch_optional(&mut *c).await)?,
    )
}

/// Writes a workflow's name, description, default flag and updated_at.
pub async fn update(tx: &mut Tx, w: &Workflow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_workflows SET name = $2, description = $3, is_default = $4, updated_at = $5 WHERE id = $1")
        .bind(w.id).bind(&w.name).bind(&w.description).bind(w.is_default).bind(w.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a workflow; its states and rules go with it (cascades).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM mm_workflows WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Whether any issue uses the workflow or one of its states.
pub async fn in_use(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let hit: Option<i32> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT 1 FROM mm_issues WHERE workflow_id = $1 \
         OR workflow_state_id IN (SELECT id FROM mm_workflow_states WHERE workflow_id = $1) LIMIT 1")
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok(hit.is_some())
}

/// The states of a workflow in position order, read in an open transaction.
pub async fn states_in(tx: &mut Tx, workflow_id: Uuid) -> Result<Vec<WorkflowState>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", crate::state_columns!(),
        " FROM mm_workflow_states s WHERE s.workflow_id = $1 ORDER BY s.position, s.id"))
        .bind(workflow_id).fetch_all(&mut *c).await)?,
    )
}

/// Writes a state's name, description, color, category, position, default flag and
/// updated_at.
pub async fn update_state(tx: &mut Tx, s: &WorkflowState) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_workflow_states SET name = $2, description = $3, color = $4, category = $5, position = $6, \
         is_default = $7, updated_at = $8 WHERE id = $1")
        .bind(s.id).bind(&s.name).bind(&s.description).bind(&s.color).bind(s.category.0.as_str())
        .bind(s.position).bind(s.is_default).bind(s.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a state.
pub async fn delete_state(tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM mm_workflow_states WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// What still refers to a state: `(issues in it, transition rules naming it)`, each
/// counted up to one.
pub async fn state_refs(tx: &mut Tx, id: Uuid) -> Result<(bool, bool), StoreError> {
    let issue: Option<i32> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT 1 FROM mm_issues WHERE workflow_state_id = $1 LIMIT 1")
        .bind(id).fetch_optional(&mut *c).await)?;
    let rule: Option<i32> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT 1 FROM mm_workflow_transitions WHERE from_state_id = $1 OR to_state_id = $1 LIMIT 1")
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok((issue.is_some(), rule.is_some()))
}
