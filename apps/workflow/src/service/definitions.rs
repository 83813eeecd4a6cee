//! Workflow definitions: create, save a new version, delete, read — each owner sees only
//! their own (admins see all; another user's id answers 404, never 403).

use trellis_identity::Principal;
use uuid::Uuid;

use crate::domain::definition::{self, DefinitionBody};
use crate::error::WorkflowError;
use crate::state::WorkflowState;
use crate::store::definitions::{self as store, Definition, Version};

/// Whether the caller may see an object owned by `owner`.
pub fn visible(p: &Principal, owner: Uuid) -> bool {
    p.user_id == owner || p.role.is_admin()
}

/// A definition the caller may see.
pub async fn get(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<Definition, WorkflowError> {
    store::get(&s.platform.db, id)
        .await?
        .filter(|d| visible(p, d.owner_id))
        .ok_or(WorkflowError::NotFound("workflow definition"))
}

fn map_name(e: trellis_kernel::db::StoreError) -> WorkflowError {
    if e.violates("wf_definitions_owner_id_name_key") {
        WorkflowError::conflict(
            "DEFINITION_EXISTS",
            "you already have a definition with this name",
        )
    } else {
        e.into()
    }
}

/// Creates a definition (version 1) after validating it and checking the plan's
/// `workflow_definitions` entitlement.
pub async fn create(
    s: &WorkflowState,
    p: &Principal,
    body: DefinitionBody,
) -> Result<Definition, WorkflowError> {
    definition::validate(&body, &s.step_types()).map_err(WorkflowError::Fields)?;
    let now = s.platform.clock.now();
    let ent = crate::service::subscriptions::entitlements(&s.platform.db, p.user_id, now).await?;
    let id = Uuid::now_v7();
    let mut tx = s.platform.db.begin().await?;
    let n = store::count_in(&mut tx, p.user_id).await?;
    crate::service::quota::check_count(&ent, crate::domain::plans::Meter::WorkflowDefinitions, n)?;
    store::insert(&mut tx, id, p.user_id, &body, now)
        .await
        .map_err(map_name)?;
    tx.commit().await?;
    tracing::info!(definition_id = %id, "workflow: definition created");
    get(s, p, id).await
}

/// Saves a new version.
pub async fn update(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    body: DefinitionBody,
) -> Result<Definition, WorkflowError> {
    get(s, p, id).await?;
    definition::validate(&body, &s.step_types()).map_err(WorkflowError::Fields)?;
    let now = s.platform.clock.now();
    let mut tx = s.platform.db.begin().await?;
    store::update(&mut tx, id, &body, now)
        .await
        .map_err(map_name)?;
    tx.commit().await?;
    get(s, p, id).await
}

/// Deletes a definition; its executions and their pinned plans stay.
pub async fn delete(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<(), WorkflowError> {
    get(s, p, id).await?;
    let mut tx = s.platform.db.begin().await?;
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Every saved version.
pub async fn versions(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
) -> Result<Vec<Version>, WorkflowError> {
    get(s, p, id).await?;
    Ok(store::versions(&s.platform.db, id).await?)
}
