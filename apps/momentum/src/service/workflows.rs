//! Workflows, their states and their transition rules (issue 8 "Workflows and states").
//!
//! A workflow belongs to a team and is seen by whoever sees the team (see
//! [`super::teams`]); team admins and workspace admins change workflows and states, only
//! workspace admins change transition rules. A team has one default workflow (new issues
//! use it) and every workflow one default state (new issues start there) and at least one
//! state; states are numbered `0..n` by `position` after every change, and their names are
//! unique in the workflow. A new workflow starts with the six states provisioning gives a
//! team.
//!
//! Every change locks the team row (workflow-level changes) and then the workflow row
//! (state and rule changes) before reading what it checks, so concurrent changes of one
//! workflow apply one after the other and the one-default rules hold.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::teams::{self as team_service, is_foreign_key, require_manager};
use super::{Action, Scope, log_change, provision};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, Patch, StateCategory, WorkspaceRole};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::teams;
use crate::store::workflows::{
    self, StateCategoryColumn, TransitionRule, Workflow, WorkflowAccess, WorkflowState,
};

/// Most transition rules a workflow may have.
pub const MAX_RULES: usize = 1000;

/// A workflow with its states in position order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumWorkflowDetail)]
pub struct WorkflowDetail {
    /// The workflow.
    #[serde(flatten)]
    pub workflow: Workflow,
    /// Its states, by position.
    pub states: Vec<WorkflowState>,
}

/// `POST /workflows`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumNewWorkflow)]
pub struct NewWorkflow {
    /// The team (one the caller manages).
    #[serde(default)]
    #[schema(required = true, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub team_id: String,
    /// 1–100 characters, unique in the team.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// Make it the team's default workflow (the others stop being default).
    #[serde(default)]
    pub is_default: bool,
}

/// `POST /teams/{id}/workflows`: the team is the path's.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumNewTeamWorkflow)]
pub struct NewTeamWorkflow {
    /// 1–100 characters, unique in the team.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// Make it the team's default workflow (the others stop being default).
    #[serde(default)]
    pub is_default: bool,
}

/// `PUT /workflows/{id}`: absent fields stay; `null` clears `description`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumWorkflowChange)]
pub struct WorkflowChange {
    /// 1–100 characters, unique in the team.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// At most 10,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// `true` makes it the team's default (the others stop being default); a team always
    /// has one, so `false` on the default is refused.
    pub is_default: Option<bool>,
}

/// `POST /workflows/{id}/states`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumNewState)]
pub struct NewState {
    /// 1–100 characters, unique in the workflow.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// `triage, backlog, unstarted, started, completed, canceled`.
    #[serde(default)]
    #[schema(required = true, value_type = StateCategory)]
    pub category: String,
    /// `#RRGGBB`.
    #[serde(default)]
    #[schema(required = true, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: String,
    /// Where to insert it, 0–10000 (0 first; default and anything past the end: last). The
    /// states after it move down one.
    #[serde(default, deserialize_with = "trellis_kernel::json_int::opt_i64")]
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// Make it the workflow's default state (the others stop being default).
    #[serde(default)]
    pub is_default: bool,
}

/// `PUT /workflows/{id}/states/{state_id}`: absent fields stay; `null` clears
/// `description`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumStateChange)]
pub struct StateChange {
    /// 1–100 characters, unique in the workflow.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// `triage, backlog, unstarted, started, completed, canceled`.
    #[schema(value_type = Option<StateCategory>)]
    pub category: Option<String>,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
    /// Move it there, 0–10000 (0 first; anything past the end: last); the others close up.
    #[serde(default, deserialize_with = "trellis_kernel::json_int::opt_i64")]
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
    /// At most 10,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// `true` makes it the default state (the others stop being default); a workflow always
    /// has one, so `false` on the default is refused.
    pub is_default: Option<bool>,
}

/// `PUT /workflows/{id}/states/reorder`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumStateOrder)]
pub struct StateOrder {
    /// Every state of the workflow exactly once, in the new order.
    #[serde(default)]
    #[schema(required = true, value_type = Vec<uuid::Uuid>)]
    pub state_ids: Vec<String>,
}

/// One rule of `PUT /workflows/{id}/transitions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumTransitionInput)]
pub struct TransitionInput {
    /// A state of the workflow; null or absent: from any state.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub from_state_id: Option<String>,
    /// A state of the workflow.
    #[serde(default)]
    #[schema(required = true, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub to_state_id: String,
    /// Workspace roles (`owner, admin, member, guest`) allowed to make the move; absent or
    /// null: everyone.
    #[schema(value_type = Option<Vec<WorkspaceRole>>, min_items = 1)]
    pub roles: Option<Vec<String>>,
}

/// `PUT /workflows/{id}/transitions`: the new rule set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumTransitionSet)]
pub struct TransitionSet {
    /// The rules (at most 1000); empty: every move allowed.
    #[serde(default)]
    #[schema(required = true, max_items = 1000)]
    pub transitions: Vec<TransitionInput>,
}

/// A workflow's transition rules. With none every move is allowed; with some, a move X → Y
/// needs a rule (X, Y) or (null, Y) listing the caller's role (or no roles).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumTransitions)]
pub struct Transitions {
    /// The rules, in the order they were given.
    pub transitions: Vec<TransitionRule>,
}

/// Which workflow a request names: by id, or a team's default (the original's
/// `/teams/{id}/workflows/default/…`).
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// `/workflows/{id}`.
    Workflow(Uuid),
    /// `/teams/{id}/workflows/default`.
    TeamDefault(Uuid),
}

fn workflow_gone() -> MomentumError {
    MomentumError::NotFound("workflow")
}

fn state_gone() -> MomentumError {
    MomentumError::NotFound("workflow state")
}

/// The workflow a request names, as the caller sees it: 404 when missing, in another
/// workspace, or of a team private to others.
pub async fn resolve(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
) -> Result<WorkflowAccess, MomentumError> {
    match target {
        Target::Workflow(id) => {
            match workflows::access(&st.platform.db, scope.workspace_id, id, scope.actor).await? {
                Some(a) if team_service::can_see(scope, a.team_private, a.my_team_role) => Ok(a),
                _ => Err(workflow_gone()),
            }
        }
        Target::TeamDefault(team_id) => {
            let t = team_service::access(st, scope, team_id).await?;
            let w = workflows::default_of_team(&st.platform.db, team_id)
                .await?
                .ok_or_else(workflow_gone)?;
            Ok(WorkflowAccess {
                workflow: w,
                team_private: t.team.is_private,
                my_team_role: t.my_role,
            })
        }
    }
}

async fn detail(
    st: &MomentumState,
    list: Vec<Workflow>,
) -> Result<Vec<WorkflowDetail>, MomentumError> {
    let ids: Vec<Uuid> = list.iter().map(|w| w.id).collect();
    let mut by_workflow: HashMap<Uuid, Vec<WorkflowState>> = HashMap::new();
    for s in workflows::states_of(&st.platform.db, &ids).await? {
        by_workflow.entry(s.workflow_id).or_default().push(s);
    }
    Ok(list
        .into_iter()
        .map(|w| WorkflowDetail {
            states: by_workflow.remove(&w.id).unwrap_or_default(),
            workflow: w,
        })
        .collect())
}

/// The workflows of the teams the caller sees (of one team with `team_id`), each with its
/// states; two queries whatever the count.
pub async fn list(
    st: &MomentumState,
    scope: &Scope,
    team_id: Option<Uuid>,
) -> Result<Vec<WorkflowDetail>, MomentumError> {
    let list = workflows::list_visible(
        &st.platform.db,
        scope.workspace_id,
        scope.actor,
        scope.role.is_admin(),
        team_id,
    )
    .await?;
    detail(st, list).await
}

/// The workflows of one team (404 when the caller does not see it).
pub async fn list_of_team(
    st: &MomentumState,
    scope: &Scope,
    team_id: Uuid,
) -> Result<Vec<WorkflowDetail>, MomentumError> {
    team_service::access(st, scope, team_id).await?;
    list(st, scope, Some(team_id)).await
}

/// One workflow with its states.
pub async fn get(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<WorkflowDetail, MomentumError> {
    let a = resolve(st, scope, Target::Workflow(id)).await?;
    let states = workflows::states(&st.platform.db, id).await?;
    Ok(WorkflowDetail {
        workflow: a.workflow,
        states,
    })
}

/// The team a new workflow goes to: named in the body (422 when the caller does not see
/// it) or in the path (404).
#[derive(Clone, Debug)]
pub enum TeamRef {
    /// `team_id` of the body, unparsed.
    Body(String),
    /// `/teams/{id}/workflows`.
    Path(Uuid),
}

fn name_taken() -> MomentumError {
    MomentumError::conflict(
        "WORKFLOW_EXISTS",
        "the team already has a workflow with this name",
    )
}

fn state_name_taken() -> MomentumError {
    MomentumError::conflict(
        "STATE_EXISTS",
        "the workflow already has a state with this name",
    )
}

fn description(check: &mut Check, v: &str) -> Option<String> {
    check
        .text("description", v, 0, LONG_TEXT)
        .filter(|s| !s.is_empty())
}

/// Creates a workflow with the six default states (team admins, workspace admins); with
/// `is_default` (or when the team has no default) it becomes the team's default.
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    team: TeamRef,
    b: NewTeamWorkflow,
) -> Result<WorkflowDetail, MomentumError> {
    if let TeamRef::Path(id) = &team {
        // 404, then 403, before any look at the body.
        let t = team_service::access(st, scope, *id).await?;
        require_manager(scope, t.my_role)?;
    }
    let mut check = Check::new();
    let team_id = match &team {
        TeamRef::Path(id) => Some(*id),
        TeamRef::Body(s) if s.trim().is_empty() => {
            check.fail("team_id", "required", "is required");
            None
        }
        TeamRef::Body(s) => check.uuid("team_id", s),
    };
    let name = check.text("name", &b.name, 1, 100);
    let desc = b
        .description
        .as_deref()
        .and_then(|d| description(&mut check, d));
    check.finish()?;
    let (Some(team_id), Some(name)) = (team_id, name) else {
        return Err(MomentumError::field("name", "required", "is required"));
    };
    let t = match (team_service::access(st, scope, team_id).await, &team) {
        (Ok(t), _) => t,
        (Err(MomentumError::NotFound(_)), TeamRef::Body(_)) => {
            return Err(MomentumError::unknown_ref("team_id", "team"));
        }
        (Err(e), _) => return Err(e),
    };
    require_manager(scope, t.my_role)?;
    let mut tx = st.platform.db.begin().await?;
    if !teams::lock(&mut tx, team_id).await? {
        return Err(MomentumError::NotFound("team"));
    }
    let existing = workflows::of_team_in(&mut tx, team_id).await?;
    let is_default = b.is_default || !existing.iter().any(|w| w.is_default);
    if is_default {
        for mut w in existing.into_iter().filter(|w| w.is_default) {
            w.is_default = false;
            w.updated_at = scope.now;
            workflows::update(&mut tx, &w).await?;
            log_change(&mut tx, scope, "workflow", w.id, Action::Update, &w).await?;
        }
    }
    let w = Workflow {
        id: Uuid::now_v7(),
        team_id,
        name,
        description: desc,
        is_default,
        created_at: scope.now,
        updated_at: scope.now,
    };
    workflows::insert(&mut tx, &w).await.map_err(|e| {
        if e.violates(workflows::WORKFLOW_NAME_KEY) {
            name_taken()
        } else {
            e.into()
        }
    })?;
    log_change(&mut tx, scope, "workflow", w.id, Action::Create, &w).await?;
    let states = provision::default_states(&mut tx, scope, w.id).await?;
    tx.commit().await?;
    Ok(WorkflowDetail {
        workflow: w,
        states,
    })
}

/// Changes a workflow's name, description or default flag (team admins, workspace admins).
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: WorkflowChange,
) -> Result<WorkflowDetail, MomentumError> {
    let a = resolve(st, scope, Target::Workflow(id)).await?;
    require_manager(scope, a.my_team_role)?;
    let mut check = Check::new();
    let name = b.name.as_deref().map(|n| check.text("name", n, 1, 100));
    let desc = b.description.map(|d| description(&mut check, &d));
    check.finish()?;
    let team_id = a.workflow.team_id;
    let mut tx = st.platform.db.begin().await?;
    if !teams::lock(&mut tx, team_id).await? {
        return Err(workflow_gone());
    }
    let mut w = workflows::get_in(&mut tx, id)
        .await?
        .ok_or_else(workflow_gone)?;
    match b.is_default {
        Some(false) if w.is_default => {
            return Err(MomentumError::field(
                "is_default",
                "default_required",
                "a team always has a default workflow; make another one the default instead",
            ));
        }
        Some(true) if !w.is_default => {
            for mut other in workflows::of_team_in(&mut tx, team_id)
                .await?
                .into_iter()
                .filter(|o| o.is_default && o.id != id)
            {
                other.is_default = false;
                other.updated_at = scope.now;
                workflows::update(&mut tx, &other).await?;
                log_change(&mut tx, scope, "workflow", other.id, Action::Update, &other).await?;
            }
            w.is_default = true;
        }
        _ => {}
    }
    if let Some(Some(n)) = name {
        w.name = n;
    }
    w.description = match desc {
        Patch::Absent => w.description,
        Patch::Null => None,
        Patch::Value(v) => v,
    };
    w.updated_at = scope.now;
    workflows::update(&mut tx, &w).await.map_err(|e| {
        if e.violates(workflows::WORKFLOW_NAME_KEY) {
            name_taken()
        } else {
            e.into()
        }
    })?;
    log_change(&mut tx, scope, "workflow", w.id, Action::Update, &w).await?;
    let states = workflows::states_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(WorkflowDetail {
        workflow: w,
        states,
    })
}

/// Deletes a workflow with its states and rules (team admins, workspace admins). The
/// team's default is refused (409 `DEFAULT_WORKFLOW`), and so is a workflow issues still
/// use (409 `IN_USE`).
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<(), MomentumError> {
    let a = resolve(st, scope, Target::Workflow(id)).await?;
    require_manager(scope, a.my_team_role)?;
    let mut tx = st.platform.db.begin().await?;
    if !teams::lock(&mut tx, a.workflow.team_id).await? || !workflows::lock(&mut tx, id).await? {
        return Err(workflow_gone());
    }
    let w = workflows::get_in(&mut tx, id)
        .await?
        .ok_or_else(workflow_gone)?;
    if w.is_default {
        return Err(MomentumError::conflict(
            "DEFAULT_WORKFLOW",
            "the team's default workflow cannot be deleted; make another one the default first",
        ));
    }
    if workflows::in_use(&mut tx, id).await? {
        return Err(in_use("issues still use this workflow"));
    }
    let states = workflows::states_in(&mut tx, id).await?;
    workflows::delete(&mut tx, id).await.map_err(|e| {
        if is_foreign_key(&e) {
            in_use("issues still use this workflow")
        } else {
            e.into()
        }
    })?;
    for s in &states {
        log_change(&mut tx, scope, "workflow_state", s.id, Action::Delete, s).await?;
    }
    log_change(&mut tx, scope, "workflow", w.id, Action::Delete, &w).await?;
    tx.commit().await?;
    Ok(())
}

fn in_use(message: &str) -> MomentumError {
    MomentumError::conflict("IN_USE", message.to_string())
}

/// The states of a workflow, by position.
pub async fn states(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
) -> Result<Vec<WorkflowState>, MomentumError> {
    let a = resolve(st, scope, target).await?;
    Ok(workflows::states(&st.platform.db, a.workflow.id).await?)
}

/// Resolves the workflow of a state change and checks the caller (team admin or workspace
/// admin): 404 before 403 before any look at the body.
async fn authorize_state_change(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
) -> Result<Uuid, MomentumError> {
    let a = resolve(st, scope, target).await?;
    require_manager(scope, a.my_team_role)?;
    Ok(a.workflow.id)
}

/// Opens the transaction of a state change: locks the workflow and reads its states.
async fn begin_state_change(
    st: &MomentumState,
    id: Uuid,
) -> Result<(trellis_kernel::db::Tx, Vec<WorkflowState>), MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    if !workflows::lock(&mut tx, id).await? {
        return Err(workflow_gone());
    }
    let states = workflows::states_in(&mut tx, id).await?;
    Ok((tx, states))
}

/// Numbers `states` `0..n` in their order and makes `default` (or, when `None` and no state
/// is default, the first) the only default state; returns which entries changed.
fn settle(states: &mut [WorkflowState], default: Option<Uuid>) -> Vec<bool> {
    let default = default
        .or_else(|| states.iter().find(|s| s.is_default).map(|s| s.id))
        .or_else(|| states.first().map(|s| s.id));
    states
        .iter_mut()
        .enumerate()
        .map(|(i, s)| {
            let position = i as i32;
            let is_default = Some(s.id) == default;
            let changed = s.position != position || s.is_default != is_default;
            s.position = position;
            s.is_default = is_default;
            changed
        })
        .collect()
}

/// Writes and logs the states `settle` changed (except `skip`, written by the caller).
async fn write_settled(
    tx: &mut trellis_kernel::db::Tx,
    scope: &Scope,
    states: &mut [WorkflowState],
    changed: &[bool],
    skip: Option<Uuid>,
) -> Result<(), MomentumError> {
    for (s, changed) in states.iter_mut().zip(changed) {
        if *changed && Some(s.id) != skip {
            s.updated_at = scope.now;
            workflows::update_state(tx, s).await?;
            log_change(tx, scope, "workflow_state", s.id, Action::Update, &*s).await?;
        }
    }
    Ok(())
}

/// Highest `position` a request may name (anything past the last state means last).
pub const POSITION_MAX: i64 = 10_000;

fn position(check: &mut Check, p: Option<i64>) -> Option<usize> {
    match p {
        Some(p) if !(0..=POSITION_MAX).contains(&p) => {
            check.fail(
                "position",
                "out_of_range",
                format!("must be between 0 and {POSITION_MAX}"),
            );
            None
        }
        Some(p) => Some(usize::try_from(p).unwrap_or(usize::MAX)),
        None => None,
    }
}

/// Adds a state (team admins, workspace admins): at `position` (default last), the
/// workflow's default with `is_default`; a taken name is 409 `STATE_EXISTS`.
pub async fn add_state(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
    b: NewState,
) -> Result<WorkflowState, MomentumError> {
    let workflow_id = authorize_state_change(st, scope, target).await?;
    let mut check = Check::new();
    let name = check.text("name", &b.name, 1, 100);
    let category = if b.category.trim().is_empty() {
        check.fail("category", "required", "is required");
        None
    } else {
        check.one_of(
            "category",
            &b.category,
            StateCategory::parse,
            StateCategory::names,
        )
    };
    let color = check.color("color", &b.color);
    let at = position(&mut check, b.position);
    let desc = b
        .description
        .as_deref()
        .and_then(|d| description(&mut check, d));
    check.finish()?;
    let (Some(name), Some(category), Some(color)) = (name, category, color) else {
        return Err(MomentumError::field("name", "required", "is required"));
    };
    let (mut tx, mut states) = begin_state_change(st, workflow_id).await?;
    let new = WorkflowState {
        id: Uuid::now_v7(),
        workflow_id,
        name,
        description: desc,
        color,
        category: StateCategoryColumn(category),
        position: 0,
        is_default: false,
        created_at: scope.now,
        updated_at: scope.now,
    };
    let at = at.unwrap_or(states.len()).min(states.len());
    let new_id = new.id;
    states.insert(at, new);
    let changed = settle(&mut states, b.is_default.then_some(new_id));
    let new = states[at].clone();
    workflows::insert_state(&mut tx, &new).await.map_err(|e| {
        if e.violates(workflows::STATE_NAME_KEY) {
            state_name_taken()
        } else if is_foreign_key(&e) {
            workflow_gone()
        } else {
            e.into()
        }
    })?;
    log_change(
        &mut tx,
        scope,
        "workflow_state",
        new.id,
        Action::Create,
        &new,
    )
    .await?;
    write_settled(&mut tx, scope, &mut states, &changed, Some(new.id)).await?;
    tx.commit().await?;
    Ok(new)
}

/// Changes a state (team admins, workspace admins): name, category, color, description,
/// position (the others close up), default flag.
pub async fn update_state(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
    state_id: Uuid,
    b: StateChange,
) -> Result<WorkflowState, MomentumError> {
    let workflow_id = authorize_state_change(st, scope, target).await?;
    let mut check = Check::new();
    let name = b.name.as_deref().map(|n| check.text("name", n, 1, 100));
    let category = b
        .category
        .as_deref()
        .map(|c| check.one_of("category", c, StateCategory::parse, StateCategory::names));
    let color = b.color.as_deref().map(|c| check.color("color", c));
    let at = position(&mut check, b.position);
    let desc = b.description.map(|d| description(&mut check, &d));
    check.finish()?;
    let (mut tx, mut states) = begin_state_change(st, workflow_id).await?;
    let idx = states
        .iter()
        .position(|s| s.id == state_id)
        .ok_or_else(state_gone)?;
    let mut s = states.remove(idx);
    let default = match b.is_default {
        Some(false) if s.is_default => {
            return Err(MomentumError::field(
                "is_default",
                "default_required",
                "a workflow always has a default state; make another one the default instead",
            ));
        }
        Some(true) => Some(s.id),
        _ => None,
    };
    if let Some(Some(n)) = name {
        s.name = n;
    }
    if let Some(Some(c)) = category {
        s.category = StateCategoryColumn(c);
    }
    if let Some(Some(c)) = color {
        s.color = c;
    }
    s.description = match desc {
        Patch::Absent => s.description,
        Patch::Null => None,
        Patch::Value(v) => v,
    };
    s.updated_at = scope.now;
    let at = at.unwrap_or(idx).min(states.len());
    states.insert(at, s);
    let changed = settle(&mut states, default);
    let s = states[at].clone();
    workflows::update_state(&mut tx, &s).await.map_err(|e| {
        if e.violates(workflows::STATE_NAME_KEY) {
            state_name_taken()
        } else {
            e.into()
        }
    })?;
    log_change(&mut tx, scope, "workflow_state", s.id, Action::Update, &s).await?;
    write_settled(&mut tx, scope, &mut states, &changed, Some(s.id)).await?;
    tx.commit().await?;
    Ok(s)
}

/// Deletes a state (team admins, workspace admins). Refused with 409 `LAST_STATE` for a
/// workflow's only state and `IN_USE` while issues are in it or transition rules name it;
/// the others close up, and when it was the default the first remaining state becomes it.
pub async fn delete_state(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
    state_id: Uuid,
) -> Result<(), MomentumError> {
    let workflow_id = authorize_state_change(st, scope, target).await?;
    let (mut tx, mut states) = begin_state_change(st, workflow_id).await?;
    let idx = states
        .iter()
        .position(|s| s.id == state_id)
        .ok_or_else(state_gone)?;
    if states.len() == 1 {
        return Err(MomentumError::conflict(
            "LAST_STATE",
            "a workflow keeps at least one state",
        ));
    }
    let (issues, rules) = workflows::state_refs(&mut tx, state_id).await?;
    if issues {
        return Err(in_use("issues are in this state; move them first"));
    }
    if rules {
        return Err(in_use(
            "transition rules name this state; change the rules first",
        ));
    }
    let gone = states.remove(idx);
    workflows::delete_state(&mut tx, state_id)
        .await
        .map_err(|e| {
            if is_foreign_key(&e) {
                in_use("issues are in this state; move them first")
            } else {
                e.into()
            }
        })?;
    log_change(
        &mut tx,
        scope,
        "workflow_state",
        gone.id,
        Action::Delete,
        &gone,
    )
    .await?;
    let changed = settle(&mut states, None);
    write_settled(&mut tx, scope, &mut states, &changed, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Puts the states in the order of `state_ids` (positions `0..n`), which must list every
/// state of the workflow exactly once (team admins, workspace admins).
pub async fn reorder(
    st: &MomentumState,
    scope: &Scope,
    target: Target,
    b: StateOrder,
) -> Result<Vec<WorkflowState>, MomentumError> {
    let workflow_id = authorize_state_change(st, scope, target).await?;
    let mut check = Check::new();
    let ids: Vec<Option<Uuid>> = b
        .state_ids
        .iter()
        .enumerate()
        .map(|(i, s)| check.uuid(&format!("state_ids[{i}]"), s))
        .collect();
    check.finish()?;
    let (mut tx, states) = begin_state_change(st, workflow_id).await?;
    let mut check = Check::new();
    let mut seen = HashSet::new();
    let mut ordered = Vec::with_capacity(states.len());
    for (i, id) in ids.iter().enumerate() {
        let Some(id) = id else { continue };
        let field = format!("state_ids[{i}]");
        match states.iter().find(|s| s.id == *id) {
            None => check.fail(&field, "not_found", "state of this workflow not found"),
            Some(_) if !seen.insert(*id) => check.fail(&field, "duplicate", "listed twice"),
            Some(s) => ordered.push(s.clone()),
        }
    }
    let missing = states.iter().filter(|s| !seen.contains(&s.id)).count();
    if missing > 0 {
        check.fail(
            "state_ids",
            "incomplete",
            format!("must list every state of the workflow; {missing} missing"),
        );
    }
    check.finish()?;
    let changed = settle(&mut ordered, None);
    write_settled(&mut tx, scope, &mut ordered, &changed, None).await?;
    tx.commit().await?;
    Ok(ordered)
}

/// The transition rules of a workflow.
pub async fn transitions(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<Transitions, MomentumError> {
    let a = resolve(st, scope, Target::Workflow(id)).await?;
    Ok(Transitions {
        transitions: workflows::transitions(&st.platform.db, a.workflow.id).await?,
    })
}

/// Replaces the transition rules of a workflow (workspace owners and admins). Every state
/// must be one of the workflow's (422 naming `transitions[i].to_state_id` and so on), every
/// role one of `owner, admin, member, guest`.
pub async fn replace_transitions(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: TransitionSet,
) -> Result<Transitions, MomentumError> {
    let a = resolve(st, scope, Target::Workflow(id)).await?;
    scope.require_admin()?;
    if b.transitions.len() > MAX_RULES {
        return Err(MomentumError::field(
            "transitions",
            "too_many",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    let mut check = Check::new();
    struct Parsed {
        from: Option<Option<Uuid>>,
        to: Option<Uuid>,
        roles: Option<Option<Vec<WorkspaceRole>>>,
    }
    let parsed: Vec<Parsed> = b
        .transitions
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let from = match t.from_state_id.as_deref() {
                None => Some(None),
                Some(s) => check
                    .uuid(&format!("transitions[{i}].from_state_id"), s)
                    .map(Some),
            };
            let to = if t.to_state_id.trim().is_empty() {
                check.fail(
                    &format!("transitions[{i}].to_state_id"),
                    "required",
                    "is required",
                );
                None
            } else {
                check.uuid(&format!("transitions[{i}].to_state_id"), &t.to_state_id)
            };
            let roles = match &t.roles {
                None => Some(None),
                Some(list) if list.is_empty() => {
                    check.fail(
                        &format!("transitions[{i}].roles"),
                        "required",
                        "must list at least one role; leave it out to allow everyone",
                    );
                    None
                }
                Some(list) => {
                    let mut out: Vec<WorkspaceRole> = Vec::new();
                    let mut ok = true;
                    for (j, r) in list.iter().enumerate() {
                        match check.one_of(
                            &format!("transitions[{i}].roles[{j}]"),
                            r,
                            WorkspaceRole::parse,
                            WorkspaceRole::names,
                        ) {
                            Some(r) if !out.contains(&r) => out.push(r),
                            Some(_) => {}
                            None => ok = false,
                        }
                    }
                    ok.then_some(Some(out))
                }
            };
            Parsed { from, to, roles }
        })
        .collect();
    check.finish()?;
    let mut tx = st.platform.db.begin().await?;
    if !workflows::lock(&mut tx, a.workflow.id).await? {
        return Err(workflow_gone());
    }
    let states: HashSet<Uuid> = workflows::states_in(&mut tx, a.workflow.id)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut check = Check::new();
    let mut rules = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.into_iter().enumerate() {
        let (Some(from), Some(to), Some(roles)) = (p.from, p.to, p.roles) else {
            continue;
        };
        if let Some(f) = from
            && !states.contains(&f)
        {
            check.fail(
                &format!("transitions[{i}].from_state_id"),
                "not_found",
                "state of this workflow not found",
            );
        }
        if !states.contains(&to) {
            check.fail(
                &format!("transitions[{i}].to_state_id"),
                "not_found",
                "state of this workflow not found",
            );
        }
        rules.push(TransitionRule {
            from_state_id: from,
            to_state_id: to,
            roles,
        });
    }
    check.finish()?;
    workflows::replace_transitions(&mut tx, a.workflow.id, &rules, scope.now).await?;
    let out = Transitions { transitions: rules };
    log_change(
        &mut tx,
        scope,
        "workflow_transitions",
        a.workflow.id,
        Action::Update,
        &serde_json::json!({"workflow_id": a.workflow.id, "transitions": &out.transitions}),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}
