//! Project statuses (the original's `/project-statuses`, issue 8 "Projects"): every member
//! reads them, workspace owners and admins create, change and delete them. Names are unique
//! in the workspace (409 `PROJECT_STATUS_EXISTS`); a status some project has cannot be
//! deleted (409 `IN_USE`).

use serde::Deserialize;
use trellis_kernel::db::{ConstraintKind, StoreError};
use uuid::Uuid;

use super::{Action, Scope, log_change, stamp};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, Patch, ProjectCategory};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::project_statuses::{self, ProjectStatus};

/// Longest status name.
pub const NAME_MAX: usize = 100;
/// Largest position.
pub const POSITION_MAX: i64 = 10_000;

/// `POST /project-statuses`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectStatusCreate)]
pub struct NewStatus {
    /// 1–100 characters, unique in the workspace.
    #[schema(required = true, value_type = String, max_length = 100, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// `#RRGGBB`.
    #[schema(required = true, value_type = String, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
    /// `backlog, planned, in_progress, completed, canceled` (any case).
    #[schema(required = true, value_type = ProjectCategory)]
    pub category: Option<String>,
    /// Display order, 0–10000 (default: after the last one).
    #[serde(default, deserialize_with = "trellis_kernel::json_int::opt_i64")]
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
}

/// `PUT /project-statuses/{id}`: absent fields stay; `description: null` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectStatusUpdate)]
pub struct StatusChange {
    /// 1–100 characters, unique in the workspace.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// At most 10,000 characters; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
    /// `backlog, planned, in_progress, completed, canceled` (any case).
    #[schema(value_type = Option<ProjectCategory>)]
    pub category: Option<String>,
    /// Display order, 0–10000.
    #[serde(default, deserialize_with = "trellis_kernel::json_int::opt_i64")]
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i64>,
}

fn taken(e: StoreError) -> MomentumError {
    if e.violates(project_statuses::NAME_KEY) {
        MomentumError::conflict(
            "PROJECT_STATUS_EXISTS",
            "a project status with this name already exists in this workspace",
        )
    } else {
        e.into()
    }
}

fn in_use() -> MomentumError {
    MomentumError::conflict(
        "IN_USE",
        "projects have this status; give them another status first",
    )
}

fn check_position(c: &mut Check, v: Option<i64>) -> Option<i32> {
    let v = v?;
    match i32::try_from(v) {
        Ok(p) if (0..=POSITION_MAX).contains(&v) => Some(p),
        _ => {
            c.fail(
                "position",
                "out_of_range",
                format!("must be between 0 and {POSITION_MAX}"),
            );
            None
        }
    }
}

fn check_description(c: &mut Check, v: &str) -> Option<Option<String>> {
    c.text("description", v, 0, LONG_TEXT)
        .map(|s| Some(s).filter(|s| !s.is_empty()))
}

fn category(c: &mut Check, v: &str) -> Option<ProjectCategory> {
    c.one_of(
        "category",
        v,
        ProjectCategory::parse,
        ProjectCategory::names,
    )
}

/// The workspace's statuses in display order.
pub async fn list(st: &MomentumState, scope: &Scope) -> Result<Vec<ProjectStatus>, MomentumError> {
    Ok(project_statuses::list(&st.platform.db, scope.workspace_id).await?)
}

/// The status `id` (404 for another workspace's).
pub async fn get(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<ProjectStatus, MomentumError> {
    project_statuses::get(&st.platform.db, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project status"))
}

/// Creates a status (owners and admins).
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    b: &NewStatus,
) -> Result<ProjectStatus, MomentumError> {
    scope.require_admin()?;
    let mut c = Check::new();
    let name = c
        .required("name", b.name.as_deref())
        .and_then(|v| c.text("name", v, 1, NAME_MAX));
    let description = match b.description.as_deref() {
        Some(v) => check_description(&mut c, v),
        None => Some(None),
    };
    let color = c
        .required("color", b.color.as_deref())
        .and_then(|v| c.color("color", v));
    let category = c
        .required("category", b.category.as_deref())
        .and_then(|v| category(&mut c, v));
    let position = check_position(&mut c, b.position);
    c.finish()?;
    let (Some(name), Some(description), Some(color), Some(category)) =
        (name, description, color, category)
    else {
        return Err(MomentumError::field("body", "invalid", "invalid status"));
    };
    let mut tx = st.platform.db.begin().await?;
    let position = match position {
        Some(p) => p,
        None => project_statuses::next_position(&mut tx, scope.workspace_id).await?,
    };
    let s = ProjectStatus {
        id: Uuid::now_v7(),
        workspace_id: scope.workspace_id,
        name,
        description,
        color,
        category,
        position,
        created_at: stamp(scope),
        updated_at: stamp(scope),
    };
    project_statuses::insert(&mut tx, &s).await.map_err(taken)?;
    log_change(&mut tx, scope, "project_status", s.id, Action::Create, &s).await?;
    tx.commit().await?;
    Ok(s)
}

/// Changes a status (owners and admins).
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: &StatusChange,
) -> Result<ProjectStatus, MomentumError> {
    // Members get 404 for what does not exist, 403 for what does.
    let mut c = Check::new();
    let name = b
        .name
        .as_deref()
        .and_then(|v| c.text("name", v, 1, NAME_MAX));
    let description = match &b.description {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(v) => check_description(&mut c, v),
    };
    let color = b.color.as_deref().and_then(|v| c.color("color", v));
    let category = b.category.as_deref().and_then(|v| category(&mut c, v));
    let position = check_position(&mut c, b.position);
    let mut tx = st.platform.db.begin().await?;
    let mut s = project_statuses::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project status"))?;
    scope.require_admin()?;
    c.finish()?;
    if let Some(v) = name {
        s.name = v;
    }
    if let Some(v) = description {
        s.description = v;
    }
    if let Some(v) = color {
        s.color = v;
    }
    if let Some(v) = category {
        s.category = v;
    }
    if let Some(v) = position {
        s.position = v;
    }
    s.updated_at = stamp(scope);
    project_statuses::update(&mut tx, &s).await.map_err(taken)?;
    log_change(&mut tx, scope, "project_status", s.id, Action::Update, &s).await?;
    tx.commit().await?;
    Ok(s)
}

/// Deletes a status no project has (owners and admins).
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<(), MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    let s = project_statuses::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project status"))?;
    scope.require_admin()?;
    if project_statuses::projects_using(&mut tx, id).await? > 0 {
        return Err(in_use());
    }
    project_statuses::delete(&mut tx, scope.workspace_id, id)
        .await
        .map_err(|e| match e {
            // A project given this status in a race: the foreign key refuses.
            StoreError::Constraint {
                kind: ConstraintKind::ForeignKey,
                ..
            } => in_use(),
            e => e.into(),
        })?;
    log_change(&mut tx, scope, "project_status", s.id, Action::Delete, &s).await?;
    tx.commit().await?;
    Ok(())
}
