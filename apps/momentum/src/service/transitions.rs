//! Transition rules as data (issue 8 "Workflows and states"): a workflow with no rules allows
//! every move; one with rules allows X → Y only when a rule lists (X, Y) or (null, Y) for
//! the caller's workspace role. The original seeded such rules and never read them
//! (originals §2.4); here every state change (`PUT /issues/{id}`, `POST
//! /issues/{id}/transitions`, WebSocket commands) goes through [`check_move`].

use trellis_kernel::db::Db;
use uuid::Uuid;

use crate::domain::WorkspaceRole;
use crate::error::MomentumError;
use crate::store::workflows::{self, TransitionRule};

/// Whether `rules` allow `role` to move an issue from `from` to `to`.
pub fn allows(rules: &[TransitionRule], from: Option<Uuid>, to: Uuid, role: WorkspaceRole) -> bool {
    if rules.is_empty() {
        return true;
    }
    rules.iter().any(|r| {
        r.to_state_id == to
            && (r.from_state_id.is_none() || r.from_state_id == from)
            && r.roles.as_ref().is_none_or(|roles| roles.contains(&role))
    })
}

/// `Ok` when the move is allowed (staying in the same state always is), else 409
/// `TRANSITION_NOT_ALLOWED` saying why.
pub async fn check_move(
    db: &Db,
    workflow_id: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    role: WorkspaceRole,
) -> Result<(), MomentumError> {
    if from == Some(to) {
        return Ok(());
    }
    let rules = workflows::transitions(db, workflow_id).await?;
    if allows(&rules, from, to, role) {
        return Ok(());
    }
    let any_role = allows(&rules, from, to, WorkspaceRole::Owner)
        || rules
            .iter()
            .any(|r| r.to_state_id == to && (r.from_state_id.is_none() || r.from_state_id == from));
    Err(MomentumError::conflict(
        "TRANSITION_NOT_ALLOWED",
        if any_role {
            format!("the workflow's rules do not allow the {role} role to make this move")
        } else {
            "the workflow's rules do not allow moving from the current state to this one"
                .to_string()
        },
    ))
}

/// The states of `workflow_id` the caller may move an issue in state `from` to (the current
/// state excluded), in position order.
pub async fn allowed_targets(
    db: &Db,
    workflow_id: Uuid,
    from: Option<Uuid>,
    role: WorkspaceRole,
) -> Result<Vec<workflows::WorkflowState>, MomentumError> {
    let rules = workflows::transitions(db, workflow_id).await?;
    let states = workflows::states(db, workflow_id).await?;
    Ok(states
        .into_iter()
        .filter(|s| Some(s.id) != from && allows(&rules, from, s.id, role))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_allow_listed_moves_for_listed_roles() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert!(allows(&[], Some(a), b, WorkspaceRole::Guest));
        let rules = vec![
            TransitionRule {
                from_state_id: Some(a),
                to_state_id: b,
                roles: None,
            },
            TransitionRule {
                from_state_id: None,
                to_state_id: c,
                roles: Some(vec![WorkspaceRole::Admin, WorkspaceRole::Owner]),
            },
        ];
        assert!(allows(&rules, Some(a), b, WorkspaceRole::Member));
        assert!(!allows(&rules, Some(b), a, WorkspaceRole::Owner));
        assert!(allows(&rules, Some(b), c, WorkspaceRole::Admin));
        assert!(!allows(&rules, Some(b), c, WorkspaceRole::Member));
    }
}
