//! Projects (seed 002 "项目管理", issue 8 "Projects"): list with filters and offset pages,
//! create, get, update, delete. A project has a `project_key` unique in the workspace (409
//! `PROJECT_KEY_EXISTS`), a status (by default the workspace's first `backlog` status, so a
//! new workspace can create projects with only a name and a key), a priority and an owner
//! (by default the caller; always a workspace member). Members and admins change projects,
//! guests read. Deleting a project keeps its issues, without a project.

use serde::Deserialize;
use trellis_kernel::db::StoreError;
use uuid::Uuid;

use super::{Action, Scope, log_change, stamp};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, Patch, Priority};
use crate::envelope::Pagination;
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::project_statuses;
use crate::store::projects::{self, Filter, Project, ProjectView};

/// Longest project name.
pub const NAME_MAX: usize = 255;
/// Longest roadmap.
pub const ROADMAP_MAX: usize = 255;
/// Longest `search`.
pub const SEARCH_MAX: usize = 100;
/// Default page size.
pub const PER_PAGE: u32 = 20;
/// Largest page size.
pub const PER_PAGE_MAX: u32 = 100;

/// `POST /projects`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectCreate)]
pub struct NewProject {
    /// 1–255 characters.
    #[schema(required = true, value_type = String, max_length = 255, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// 2–10 letters and digits starting with a letter, unique in the workspace (upper-cased).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z][A-Za-z0-9]{1,9}$")]
    pub project_key: Option<String>,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub target_date: Option<String>,
    /// A project status of the workspace (default: its first `backlog` status).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub project_status_id: Option<String>,
    /// `none` (default), `low`, `medium`, `high`, `urgent` (any case).
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// A workspace member (default: the caller).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub owner_id: Option<String>,
    /// Roadmap (free text, at most 255 characters).
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub roadmap: Option<String>,
}

/// `PUT /projects/{id}`: absent fields stay; `null` clears the nullable ones.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectUpdate)]
pub struct ProjectChange {
    /// 1–255 characters.
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// 2–10 letters and digits starting with a letter, unique in the workspace.
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9]{1,9}$")]
    pub project_key: Option<String>,
    /// At most 10,000 characters; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// `YYYY-MM-DD`; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub target_date: Patch<String>,
    /// A project status of the workspace.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub project_status_id: Option<String>,
    /// `none`, `low`, `medium`, `high`, `urgent` (any case).
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// A workspace member; `null` leaves the project without owner.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub owner_id: Patch<String>,
    /// Roadmap (at most 255 characters); `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub roadmap: Patch<String>,
}

/// `GET /projects` query, as sent (every problem is listed at once).
#[derive(Debug, Default)]
pub struct ProjectQuery {
    /// A project status id.
    pub status_id: Option<String>,
    /// A user id.
    pub owner_id: Option<String>,
    /// A priority.
    pub priority: Option<String>,
    /// Part of the name, key or description.
    pub search: Option<String>,
    /// 1-based page.
    pub page: Option<String>,
    /// Items per page (1–100, default 20).
    pub per_page: Option<String>,
}

fn key_taken(e: StoreError) -> MomentumError {
    if e.violates(projects::KEY_KEY) {
        MomentumError::conflict(
            "PROJECT_KEY_EXISTS",
            "a project with this project_key already exists in this workspace",
        )
    } else {
        e.into()
    }
}

/// Optional text of at most `max` characters ([`Check::text`]); blank is `None` (cleared).
fn optional_text(c: &mut Check, field: &str, v: &str, max: usize) -> Option<Option<String>> {
    c.text(field, v, 0, max)
        .map(|s| Some(s).filter(|s| !s.is_empty()))
}

/// A `Patch` checked by `f`: `None` = keep, `Some(None)` = clear, `Some(Some(v))` = set.
fn patch<T>(
    p: &Patch<String>,
    f: impl FnOnce(&str) -> Option<Option<T>>,
) -> Option<Option<Option<T>>> {
    match p {
        Patch::Absent => Some(None),
        Patch::Null => Some(Some(None)),
        Patch::Value(v) => f(v).map(Some),
    }
}

/// The page of projects the query asks for, with `meta.pagination`.
pub async fn list(
    st: &MomentumState,
    scope: &Scope,
    q: &ProjectQuery,
) -> Result<(Vec<ProjectView>, Pagination), MomentumError> {
    let mut c = Check::new();
    let status_id = q.status_id.as_deref().and_then(|v| c.uuid("status_id", v));
    let owner_id = q.owner_id.as_deref().and_then(|v| c.uuid("owner_id", v));
    let priority = q
        .priority
        .as_deref()
        .and_then(|v| c.one_of("priority", v, Priority::parse, Priority::names));
    let search = q
        .search
        .as_deref()
        .and_then(|v| c.text("search", v, 0, SEARCH_MAX))
        .filter(|v| !v.is_empty());
    let page = number(&mut c, "page", q.page.as_deref(), 1, 1_000_000, 1);
    let per_page = number(
        &mut c,
        "per_page",
        q.per_page.as_deref(),
        1,
        PER_PAGE_MAX,
        PER_PAGE,
    );
    c.finish()?;
    let filter = Filter {
        status_id,
        owner_id,
        priority,
        search,
    };
    let offset = i64::from(page - 1).saturating_mul(i64::from(per_page));
    let (items, total) = projects::list(
        &st.platform.db,
        scope.workspace_id,
        &filter,
        i64::from(per_page),
        offset,
    )
    .await?;
    let total = u64::try_from(total).unwrap_or(0);
    Ok((items, Pagination::new(page, per_page, total)))
}

/// A whole number in `min..=max` from a query parameter (`default` when absent or blank).
fn number(c: &mut Check, field: &str, v: Option<&str>, min: u32, max: u32, default: u32) -> u32 {
    let Some(v) = v else {
        return default;
    };
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => n,
        _ => {
            c.fail(
                field,
                "out_of_range",
                format!("must be a whole number from {min} to {max}"),
            );
            default
        }
    }
}

/// The project `id` with its status, owner and issue count (404 for another workspace's).
pub async fn get(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<ProjectView, MomentumError> {
    projects::view(&st.platform.db, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project"))
}

/// Creates a project.
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    b: &NewProject,
) -> Result<ProjectView, MomentumError> {
    scope.require_writer()?;
    let mut c = Check::new();
    let name = c
        .required("name", b.name.as_deref())
        .and_then(|v| c.text("name", v, 1, NAME_MAX));
    let key = c
        .required("project_key", b.project_key.as_deref())
        .and_then(|v| c.key("project_key", v, 2, 10));
    let description = match b.description.as_deref() {
        Some(v) => optional_text(&mut c, "description", v, LONG_TEXT),
        None => Some(None),
    };
    let target_date = match b.target_date.as_deref() {
        Some(v) => c.date("target_date", v).map(Some),
        None => Some(None),
    };
    let priority = match b.priority.as_deref() {
        Some(v) => c.one_of("priority", v, Priority::parse, Priority::names),
        None => Some(Priority::None),
    };
    let roadmap = match b.roadmap.as_deref() {
        Some(v) => optional_text(&mut c, "roadmap", v, ROADMAP_MAX),
        None => Some(None),
    };
    let status_id = b
        .project_status_id
        .as_deref()
        .map(|v| c.uuid("project_status_id", v));
    let owner_id = b.owner_id.as_deref().map(|v| c.uuid("owner_id", v));

    let mut tx = st.platform.db.begin().await?;
    let status_id = match status_id {
        Some(Some(id)) => {
            if !project_statuses::exists_in(&mut tx, scope.workspace_id, id).await? {
                c.fail("project_status_id", "not_found", "project status not found");
            }
            Some(id)
        }
        Some(None) => None,
        None => {
            let found = project_statuses::default_for_projects(&mut tx, scope.workspace_id).await?;
            if found.is_none() {
                c.fail(
                    "project_status_id",
                    "required",
                    "the workspace has no project statuses; create one or name one",
                );
            }
            found
        }
    };
    let owner_id = match owner_id {
        Some(Some(id)) => {
            if !projects::is_member(&mut tx, scope.workspace_id, id).await? {
                c.fail("owner_id", "not_found", "workspace member not found");
            }
            Some(id)
        }
        Some(None) => None,
        None => Some(scope.actor),
    };
    c.finish()?;
    let (
        Some(name),
        Some(project_key),
        Some(description),
        Some(target_date),
        Some(priority),
        Some(roadmap),
        Some(status_id),
        Some(owner_id),
    ) = (
        name,
        key,
        description,
        target_date,
        priority,
        roadmap,
        status_id,
        owner_id,
    )
    else {
        return Err(MomentumError::field("body", "invalid", "invalid project"));
    };
    let p = Project {
        id: Uuid::now_v7(),
        workspace_id: scope.workspace_id,
        name,
        project_key,
        description,
        target_date,
        project_status_id: status_id,
        priority,
        owner_id: Some(owner_id),
        roadmap,
        created_at: stamp(scope),
        updated_at: stamp(scope),
    };
    projects::insert(&mut tx, &p).await.map_err(key_taken)?;
    let view = projects::view_in(&mut tx, scope.workspace_id, p.id)
        .await?
        .ok_or(MomentumError::NotFound("project"))?;
    log_change(&mut tx, scope, "project", p.id, Action::Create, &view).await?;
    tx.commit().await?;
    Ok(view)
}

/// Changes a project.
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: &ProjectChange,
) -> Result<ProjectView, MomentumError> {
    let mut c = Check::new();
    let name = b
        .name
        .as_deref()
        .and_then(|v| c.text("name", v, 1, NAME_MAX));
    let key = b
        .project_key
        .as_deref()
        .and_then(|v| c.key("project_key", v, 2, 10));
    let description = patch(&b.description, |v| {
        optional_text(&mut c, "description", v, LONG_TEXT)
    });
    let target_date = patch(&b.target_date, |v| c.date("target_date", v).map(Some));
    let priority = b
        .priority
        .as_deref()
        .and_then(|v| c.one_of("priority", v, Priority::parse, Priority::names));
    let roadmap = patch(&b.roadmap, |v| {
        optional_text(&mut c, "roadmap", v, ROADMAP_MAX)
    });
    let status_id = b
        .project_status_id
        .as_deref()
        .and_then(|v| c.uuid("project_status_id", v));
    let owner_id = patch(&b.owner_id, |v| c.uuid("owner_id", v).map(Some));

    let mut tx = st.platform.db.begin().await?;
    // 404 for what the caller cannot see, then 403 for guests, then the fields.
    let mut p = projects::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project"))?;
    scope.require_writer()?;
    if let Some(sid) = status_id
        && !project_statuses::exists_in(&mut tx, scope.workspace_id, sid).await?
    {
        c.fail("project_status_id", "not_found", "project status not found");
    }
    if let Some(Some(Some(uid))) = owner_id
        && !projects::is_member(&mut tx, scope.workspace_id, uid).await?
    {
        c.fail("owner_id", "not_found", "workspace member not found");
    }
    c.finish()?;
    if let Some(v) = name {
        p.name = v;
    }
    if let Some(v) = key {
        p.project_key = v;
    }
    if let Some(Some(v)) = description {
        p.description = v;
    }
    if let Some(Some(v)) = target_date {
        p.target_date = v;
    }
    if let Some(v) = priority {
        p.priority = v;
    }
    if let Some(Some(v)) = roadmap {
        p.roadmap = v;
    }
    if let Some(v) = status_id {
        p.project_status_id = v;
    }
    if let Some(Some(v)) = owner_id {
        p.owner_id = v;
    }
    p.updated_at = stamp(scope);
    projects::update(&mut tx, &p).await.map_err(key_taken)?;
    let view = projects::view_in(&mut tx, scope.workspace_id, p.id)
        .await?
        .ok_or(MomentumError::NotFound("project"))?;
    log_change(&mut tx, scope, "project", p.id, Action::Update, &view).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes a project; its issues stay, without a project.
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<(), MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    if projects::get_for_update(&mut tx, scope.workspace_id, id)
        .await?
        .is_none()
    {
        return Err(MomentumError::NotFound("project"));
    }
    scope.require_writer()?;
    let view = projects::view_in(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("project"))?;
    projects::delete(&mut tx, scope.workspace_id, id).await?;
    log_change(&mut tx, scope, "project", id, Action::Delete, &view).await?;
    tx.commit().await?;
    Ok(())
}
