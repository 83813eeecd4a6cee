//! `mm_cycles`, and the cycle side of `mm_issues` (membership, stats, rollover).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::IdList;

/// A cycle as stored (its status is computed from the dates, see the service).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct CycleRow {
    /// Id.
    pub id: Uuid,
    /// The workspace.
    pub workspace_id: Uuid,
    /// The team.
    pub team_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Goal.
    pub goal: Option<String>,
    /// First day.
    pub start_date: NaiveDate,
    /// Last day (inclusive).
    pub end_date: NaiveDate,
    /// When it was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`CycleRow`] from `mm_cycles c`.
macro_rules! cycle_columns {
    () => {
        "c.id, c.workspace_id, c.team_id, c.name, c.description, c.goal, c.start_date, c.end_date, \
         c.completed_at, c.created_at, c.updated_at"
    };
}

/// The cycles of a workspace (of one team when `team_id` is given), by start date.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    team_id: Option<Uuid>,
) -> Result<Vec<CycleRow>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", cycle_columns!(),
        " FROM mm_cycles c WHERE c.workspace_id = $1 AND ($2 IS NULL OR c.team_id = $2) \
         ORDER BY c.start_date, c.id"))
        .bind(workspace_id).bind(team_id).fetch_all(pool).await)?,
    )
}

/// The cycle `id` of `workspace_id`.
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Option<CycleRow>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", cycle_columns!(),
        " FROM mm_cycles c WHERE c.id = $1 AND c.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?,
    )
}

/// The cycle `id` of `workspace_id`, locked until the caller's transaction ends: membership
/// changes, completion, edits and deletion of one cycle happen one after the other
/// (PostgreSQL: `FOR UPDATE`; SQLite: the write transaction already holds the only writer).
pub async fn lock(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<CycleRow>, StoreError> {
    Ok(match tx {
        Tx::Postgres(t) => {
            sqlx::query_as(concat!(
                "SELECT ",
                cycle_columns!(),
                " FROM mm_cycles c WHERE c.id = $1 AND c.workspace_id = $2 FOR UPDATE"
            ))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(&mut **t)
            .await?
        }
        Tx::Sqlite(t) => {
            sqlx::query_as(concat!(
                "SELECT ",
                cycle_columns!(),
                " FROM mm_cycles c WHERE c.id = $1 AND c.workspace_id = $2"
            ))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(&mut **t)
            .await?
        }
    })
}

/// Locks the team `team_id` of `workspace_id` for the caller's transaction, so the overlap
/// check and the write of a cycle of that team see every other such write (PostgreSQL:
/// `FOR NO KEY UPDATE`, which still lets issues reference the team meanwhile; SQLite: the
/// write transaction already holds the only writer). `false` when no such team.
pub async fn lock_team(tx: &mut Tx, workspace_id: Uuid, team_id: Uuid) -> Result<bool, StoreError> {
    let found: Option<Uuid> = match tx {
        Tx::Postgres(t) => {
            sqlx::query_scalar(
                "SELECT id FROM mm_teams WHERE id = $1 AND workspace_id = $2 FOR NO KEY UPDATE",
            )
            .bind(team_id)
            .bind(workspace_id)
            .fetch_optional(&mut **t)
            .await?
        }
        Tx::Sqlite(t) => {
            sqlx::query_scalar("SELECT id FROM mm_teams WHERE id = $1 AND workspace_id = $2")
                .bind(team_id)
                .bind(workspace_id)
                .fetch_optional(&mut **t)
                .await?
        }
    };
    Ok(found.is_some())
}

/// The first cycle of `team_id` (other than `except`) whose days meet `start..=end`.
pub async fn overlapping(
    tx: &mut Tx,
    team_id: Uuid,
    start: NaiveDate,
    end: NaiveDate,
    except: Option<Uuid>,
) -> Result<Option<CycleRow>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", cycle_columns!(),
        " FROM mm_cycles c WHERE c.team_id = $1 AND c.start_date <= $3 AND c.end_date >= $2 \
         AND ($4 IS NULL OR c.id <> $4) ORDER BY c.start_date, c.id LIMIT 1"))
        .bind(team_id).bind(start).bind(end).bind(except).fetch_optional(&mut *c).await)?,
    )
}

/// Inserts a cycle.
pub async fn insert(tx: &mut Tx, r: &CycleRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_cycles (id, workspace_id, team_id, name, description, goal, start_date, end_date, \
         completed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(r.id).bind(r.workspace_id).bind(r.team_id).bind(&r.name).bind(&r.description).bind(&r.goal)
        .bind(r.start_date).bind(r.end_date).bind(r.completed_at).bind(r.created_at).bind(r.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Stores a cycle's editable fields and completion.
pub async fn update(tx: &mut Tx, r: &CycleRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_cycles SET name = $3, description = $4, goal = $5, start_date = $6, end_date = $7, \
         completed_at = $8, updated_at = $9 WHERE id = $1 AND workspace_id = $2")
        .bind(r.id).bind(r.workspace_id).bind(&r.name).bind(&r.description).bind(&r.goal)
        .bind(r.start_date).bind(r.end_date).bind(r.completed_at).bind(r.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a cycle (its issues' `cycle_id` is cleared by the caller first, and by the
/// foreign key otherwise).
pub async fn delete(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_cycles WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The team's next cycle after one starting on `after`, by start date, that is neither
/// completed nor over by `today`; locked like [`lock`] (the rollover moves issues into it).
pub async fn next_open(
    tx: &mut Tx,
    team_id: Uuid,
    after: NaiveDate,
    today: NaiveDate,
) -> Result<Option<CycleRow>, StoreError> {
    Ok(match tx {
        Tx::Postgres(t) => sqlx::query_as(concat!("SELECT ", cycle_columns!(),
            " FROM mm_cycles c WHERE c.team_id = $1 AND c.start_date > $2 AND c.completed_at IS NULL \
             AND c.end_date >= $3 ORDER BY c.start_date, c.id LIMIT 1 FOR UPDATE"))
            .bind(team_id).bind(after).bind(today).fetch_optional(&mut **t).await?,
        Tx::Sqlite(t) => sqlx::query_as(concat!("SELECT ", cycle_columns!(),
            " FROM mm_cycles c WHERE c.team_id = $1 AND c.start_date > $2 AND c.completed_at IS NULL \
             AND c.end_date >= $3 ORDER BY c.start_date, c.id LIMIT 1"))
            .bind(team_id).bind(after).bind(today).fetch_optional(&mut **t).await?,
    })
}

/// One row of a cycle's stats: issues in a state category, and their estimates summed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CategoryCount {
    /// The state category (`backlog` for issues without a state).
    pub category: String,
    /// Issues.
    pub count: i64,
    /// Sum of their estimates (0 when none has one).
    pub estimate: f64,
}

/// The issues of a cycle counted by their workflow state's category, in one query.
pub async fn stats(
    db: &Db,
    workspace_id: Uuid,
    cycle_id: Uuid,
) -> Result<Vec<CategoryCount>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_as(
        "SELECT COALESCE(s.category, 'backlog') AS category, COUNT(*) AS count, \
         COALESCE(SUM(i.estimate), 0.0) AS estimate \
         FROM mm_issues i LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
         WHERE i.cycle_id = $1 AND i.workspace_id = $2 GROUP BY COALESCE(s.category, 'backlog')")
        .bind(cycle_id).bind(workspace_id).fetch_all(pool).await)?)
}

/// An issue as a cycle lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = MomentumCycleIssue)]
pub struct CycleIssue {
    /// Id.
    pub id: Uuid,
    /// `ENG-123`.
    pub key: String,
    /// Its number in the team.
    pub number: i64,
    /// The team.
    pub team_id: Uuid,
    /// Title.
    pub title: String,
    /// `none|low|medium|high|urgent`.
    pub priority: String,
    /// Its workflow state.
    pub workflow_state_id: Option<Uuid>,
    /// That state's category (`triage, backlog, unstarted, started, completed, canceled`).
    pub state_category: Option<String>,
    /// The assignee.
    pub assignee_id: Option<Uuid>,
    /// Estimate.
    pub estimate: Option<f64>,
    /// The cycle it is in (null once it left).
    pub cycle_id: Option<Uuid>,
    /// Manual order.
    pub sort_order: f64,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// `SELECT … ` of [`CycleIssue`] from `mm_issues i` with its team and state.
macro_rules! cycle_issue_select {
    () => {
        "SELECT i.id, t.team_key || '-' || CAST(i.number AS TEXT) AS key, i.number, i.team_id, i.title, \
         i.priority, i.workflow_state_id, s.category AS state_category, i.assignee_id, i.estimate, i.cycle_id, \
         i.sort_order, i.created_at, i.updated_at \
         FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
         LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id "
    };
}

/// The issues of a cycle, by sort order then number.
pub async fn issues(
    db: &Db,
    workspace_id: Uuid,
    cycle_id: Uuid,
) -> Result<Vec<CycleIssue>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!(cycle_issue_select!(),
        "WHERE i.cycle_id = $1 AND i.workspace_id = $2 ORDER BY i.sort_order, i.number, i.id"))
        .bind(cycle_id).bind(workspace_id).fetch_all(pool).await)?,
    )
}

/// The issues among `ids` that belong to `workspace_id`, read in the caller's transaction
/// (one query).
pub async fn issues_by_ids(
    tx: &mut Tx,
    workspace_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<CycleIssue>, StoreError> {
    let list = IdList(ids);
    Ok(match tx {
        Tx::Postgres(t) => {
            sqlx::query_as(concat!(
                cycle_issue_select!(),
                "WHERE i.workspace_id = $1 AND i.id = ANY($2)"
            ))
            .bind(workspace_id)
            .bind(list.pg())
            .fetch_all(&mut **t)
            .await?
        }
        Tx::Sqlite(t) => {
            sqlx::query_as(concat!(
                cycle_issue_select!(),
                "WHERE i.workspace_id = $1 AND i.id IN (SELECT unhex(value) FROM json_each($2))"
            ))
            .bind(workspace_id)
            .bind(list.sqlite())
            .fetch_all(&mut **t)
            .await?
        }
    })
}

/// The ids of a cycle's issues; only those not finished (state category neither
/// `completed` nor `canceled`, or no state) when `unfinished`.
pub async fn issue_ids(
    tx: &mut Tx,
    cycle_id: Uuid,
    unfinished: bool,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT i.id FROM mm_issues i LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
         WHERE i.cycle_id = $1 AND (NOT $2 OR s.category IS NULL OR s.category NOT IN ('completed', 'canceled')) \
         ORDER BY i.sort_order, i.number, i.id")
        .bind(cycle_id).bind(unfinished).fetch_all(&mut *c).await)?)
}

/// Puts the issues `ids` in `cycle_id` (`None`: in no cycle), in one statement.
pub async fn set_issue_cycle(
    tx: &mut Tx,
    ids: &[Uuid],
    cycle_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = IdList(ids);
    match tx {
        Tx::Postgres(t) => {
            sqlx::query("UPDATE mm_issues SET cycle_id = $1, updated_at = $2 WHERE id = ANY($3)")
                .bind(cycle_id)
                .bind(now)
                .bind(list.pg())
                .execute(&mut **t)
                .await?;
        }
        Tx::Sqlite(t) => {
            sqlx::query(
                "UPDATE mm_issues SET cycle_id = $1, updated_at = $2 \
                 WHERE id IN (SELECT unhex(value) FROM json_each($3))",
            )
            .bind(cycle_id)
            .bind(now)
            .bind(list.sqlite())
            .execute(&mut **t)
            .await?;
        }
    }
    Ok(())
}

/// Records an issue's move between cycles in its history (`field` `cycle_id`; old and new
/// values as JSON strings, SQL NULL for none).
pub async fn record_move(
    tx: &mut Tx,
    issue_id: Uuid,
    actor: Uuid,
    from: Option<Uuid>,
    to: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let json = |v: Option<Uuid>| v.map(|u| format!("\"{u}\""));
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_issue_history (id, issue_id, actor_id, field, old_value, new_value, created_at) \
         VALUES ($1, $2, $3, 'cycle_id', $4, $5, $6)")
        .bind(Uuid::now_v7()).bind(issue_id).bind(actor).bind(json(from)).bind(json(to)).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
