//! What a new workspace and a new team start with, so the first request after registering
//! can create a project and an issue (issue 8 "Auth"; the original's new workspaces could not:
//! originals §2.3).
//!
//! A workspace gets its creator as `owner`, the project statuses `backlog, planned,
//! in_progress, completed, canceled`, the issue labels Feature / Improvement / Bug (the
//! original's colors) and a first team. A team gets its creator as team `admin` and a
//! default workflow with one state per category (Triage, Backlog, Todo, In Progress, Done,
//! Canceled; Backlog is where new issues start).

use chrono::{DateTime, Utc};
use trellis_kernel::db::Tx;
use uuid::Uuid;

use super::{Action, Scope, log_change};
use crate::domain::{LabelLevel, ProjectCategory, StateCategory, WorkspaceRole};
use crate::error::MomentumError;
use crate::store::labels::{self, Label};
use crate::store::project_statuses::{self, ProjectStatus};
use crate::store::teams::{self, Team};
use crate::store::workflows::{self, StateCategoryColumn, Workflow, WorkflowState};
use crate::store::workspaces::{self, Workspace};
use crate::store::{members, profiles};

/// The default workflow's states: name, category, color; the second is the default.
const STATES: &[(&str, StateCategory, &str)] = &[
    ("Triage", StateCategory::Triage, "#FC7840"),
    ("Backlog", StateCategory::Backlog, "#BEC2C8"),
    ("Todo", StateCategory::Unstarted, "#E2E2E2"),
    ("In Progress", StateCategory::Started, "#F2C94C"),
    ("Done", StateCategory::Completed, "#5E6AD2"),
    ("Canceled", StateCategory::Canceled, "#95A2B3"),
];

/// A workspace's project statuses.
const PROJECT_STATUSES: &[(&str, ProjectCategory, &str)] = &[
    ("Backlog", ProjectCategory::Backlog, "#BEC2C8"),
    ("Planned", ProjectCategory::Planned, "#E2E2E2"),
    ("In Progress", ProjectCategory::InProgress, "#F2C94C"),
    ("Completed", ProjectCategory::Completed, "#5E6AD2"),
    ("Canceled", ProjectCategory::Canceled, "#95A2B3"),
];

/// A workspace's labels (the original's, originals §2.3).
const LABELS: &[(&str, &str)] = &[
    ("Feature", "#BB8FCE"),
    ("Improvement", "#85C1E9"),
    ("Bug", "#FF6B6B"),
];

/// A URL key made of the lower-case ASCII letters and digits of `s`, words joined by `-`
/// (at most 40 characters); `workspace` when nothing is left.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "workspace".into()
    } else {
        out
    }
}

/// A team key from a name: the first three ASCII letters or digits, upper-cased, starting
/// with a letter (`Engineering` → `ENG`); `DEF` when fewer than two are found.
pub fn team_key(name: &str) -> String {
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .skip_while(|c| !c.is_ascii_alphabetic())
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    if key.len() >= 2 { key } else { "DEF".into() }
}

/// `base`, or `base-2`, `base-3`, … whichever no workspace has yet (checked in `tx`; a race
/// with another transaction still ends in the unique constraint).
pub async fn free_url_key(tx: &mut Tx, base: &str) -> Result<String, MomentumError> {
    if !workspaces::url_key_taken(tx, base).await? {
        return Ok(base.to_string());
    }
    for n in 2..1000 {
        let candidate = format!("{base}-{n}");
        if !workspaces::url_key_taken(tx, &candidate).await? {
            return Ok(candidate);
        }
    }
    Ok(format!(
        "{base}-{}",
        &Uuid::new_v4().simple().to_string()[..8]
    ))
}

/// A new workspace as the issue describes it, with `owner` as its owner and current
/// workspace when `make_current`; its first team is `team_name` (key from the name).
pub async fn workspace(
    tx: &mut Tx,
    owner: Uuid,
    name: &str,
    url_key: &str,
    logo_url: Option<String>,
    team_name: &str,
    now: DateTime<Utc>,
) -> Result<Workspace, MomentumError> {
    let ws = Workspace {
        id: Uuid::now_v7(),
        name: name.to_string(),
        url_key: url_key.to_string(),
        logo_url,
        created_at: now,
        updated_at: now,
    };
    workspaces::insert(tx, &ws).await.map_err(|e| {
        if e.violates(workspaces::URL_KEY_KEY) {
            MomentumError::conflict(
                "WORKSPACE_URL_KEY_EXISTS",
                "a workspace with this url_key already exists",
            )
        } else {
            e.into()
        }
    })?;
    members::insert(tx, ws.id, owner, WorkspaceRole::Owner.as_str(), now).await?;
    profiles::set_current_workspace(tx, owner, Some(ws.id), now).await?;
    let scope = Scope {
        workspace_id: ws.id,
        actor: owner,
        role: WorkspaceRole::Owner,
        now,
    };
    log_change(tx, &scope, "workspace", ws.id, Action::Create, &ws).await?;
    for (i, (sname, category, color)) in PROJECT_STATUSES.iter().enumerate() {
        let s = ProjectStatus {
            id: Uuid::now_v7(),
            workspace_id: ws.id,
            name: (*sname).to_string(),
            description: None,
            color: (*color).to_string(),
            category: *category,
            position: i as i32,
            created_at: now,
            updated_at: now,
        };
        project_statuses::insert(tx, &s).await?;
        log_change(tx, &scope, "project_status", s.id, Action::Create, &s).await?;
    }
    for (lname, color) in LABELS {
        let l = Label {
            id: Uuid::now_v7(),
            workspace_id: ws.id,
            name: (*lname).to_string(),
            color: (*color).to_string(),
            level: LabelLevel::Issue,
            created_at: now,
            updated_at: now,
        };
        labels::insert(tx, &l).await?;
        log_change(tx, &scope, "label", l.id, Action::Create, &l).await?;
    }
    let t = Team {
        id: Uuid::now_v7(),
        workspace_id: ws.id,
        name: team_name.to_string(),
        team_key: team_key(team_name),
        description: None,
        icon_url: None,
        is_private: false,
        created_at: now,
        updated_at: now,
    };
    team(tx, &scope, &t).await?;
    Ok(ws)
}

/// Stores a new team with its creator (`scope.actor`) as team admin and its default
/// workflow; returns the workflow and its states. A taken key is 409 `TEAM_KEY_EXISTS`.
pub async fn team(
    tx: &mut Tx,
    scope: &Scope,
    t: &Team,
) -> Result<(Workflow, Vec<WorkflowState>), MomentumError> {
    teams::insert(tx, t).await.map_err(|e| {
        if e.violates(teams::TEAM_KEY_KEY) {
            MomentumError::conflict(
                "TEAM_KEY_EXISTS",
                format!("team key {} is already used in this workspace", t.team_key),
            )
        } else {
            e.into()
        }
    })?;
    teams::add_member(tx, t.id, scope.actor, "admin", scope.now).await?;
    log_change(tx, scope, "team", t.id, Action::Create, t).await?;
    let wf = Workflow {
        id: Uuid::now_v7(),
        team_id: t.id,
        name: "Default".into(),
        description: Some("The team's default workflow".into()),
        is_default: true,
        created_at: scope.now,
        updated_at: scope.now,
    };
    workflows::insert(tx, &wf).await?;
    log_change(tx, scope, "workflow", wf.id, Action::Create, &wf).await?;
    let states = default_states(tx, scope, wf.id).await?;
    Ok((wf, states))
}

/// Stores the default states of a new workflow (one per category: Triage, Backlog, Todo,
/// In Progress, Done, Canceled; Backlog is the default) and logs each.
pub async fn default_states(
    tx: &mut Tx,
    scope: &Scope,
    workflow_id: Uuid,
) -> Result<Vec<WorkflowState>, MomentumError> {
    let mut states = Vec::with_capacity(STATES.len());
    for (i, (name, category, color)) in STATES.iter().enumerate() {
        let s = WorkflowState {
            id: Uuid::now_v7(),
            workflow_id,
            name: (*name).to_string(),
            description: None,
            color: (*color).to_string(),
            category: StateCategoryColumn(*category),
            position: i as i32,
            is_default: *category == StateCategory::Backlog,
            created_at: scope.now,
            updated_at: scope.now,
        };
        workflows::insert_state(tx, &s).await?;
        log_change(tx, scope, "workflow_state", s.id, Action::Create, &s).await?;
        states.push(s);
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_names() {
        assert_eq!(team_key("Engineering"), "ENG");
        assert_eq!(team_key("1 design"), "DES");
        assert_eq!(team_key("张三"), "DEF");
        assert_eq!(slug("Alice's Workspace"), "alice-s-workspace");
        assert_eq!(slug("!!!"), "workspace");
    }
}
