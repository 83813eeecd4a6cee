//! `/labels` (seed 002 "标签管理"): list, create, get, update, delete, and the atomic
//! `POST /labels/batch`.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::labels::{self, Batch, BatchDone, LabelChange, LabelFilter, NewLabel};
use crate::state::MomentumState;
use crate::store::labels::Label;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(batch))
        .routes(routes!(get, update, delete))
}

/// `GET /labels` filters.
#[derive(Deserialize, utoipa::IntoParams)]
struct LabelQuery {
    /// Only labels of this level: `issue` or `project` (any case).
    #[param(pattern = "^([Ii][Ss][Ss][Uu][Ee]|[Pp][Rr][Oo][Jj][Ee][Cc][Tt])?$")]
    level: Option<String>,
    /// Only labels whose name contains this (any case, at most 100 characters; blank: no
    /// filter).
    #[param(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    search: Option<String>,
}

/// The labels of the caller's workspace, by name.
#[utoipa::path(get, path = "/labels", tag = "momentum", params(LabelQuery),
    responses((status = 200, body = Vec<Label>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<LabelQuery>,
) -> ListReply<Label> {
    let f = LabelFilter {
        level: q.level,
        search: q.search,
    };
    Ok(Listed::all(
        labels::list(&st, &c.scope, &f).await?,
        "labels",
    ))
}

/// Creates a label (members and admins; `level` defaults to `issue`).
#[utoipa::path(post, path = "/labels", tag = "momentum", request_body = NewLabel,
    responses((status = 201, body = Label), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "LABEL_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<NewLabel>,
) -> Reply<Label> {
    Ok(created(
        labels::create(&st, &c.scope, &b).await?,
        "label created",
    ))
}

/// One label of the caller's workspace.
#[utoipa::path(get, path = "/labels/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Label id")),
    responses((status = 200, body = Label),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn get(State(st): State<MomentumState>, c: Caller, Path(id): Path<Uuid>) -> Reply<Label> {
    Ok(ok(labels::get(&st, &c.scope, id).await?, "label"))
}

/// Changes a label's name, color or level (absent fields stay).
#[utoipa::path(put, path = "/labels/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Label id")), request_body = LabelChange,
    responses((status = 200, body = Label), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "LABEL_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<LabelChange>,
) -> Reply<Label> {
    Ok(ok(
        labels::update(&st, &c.scope, id, &b).await?,
        "label updated",
    ))
}

/// Deletes a label; issues lose it.
#[utoipa::path(delete, path = "/labels/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Label id")),
    responses((status = 200), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete(State(st): State<MomentumState>, c: Caller, Path(id): Path<Uuid>) -> Reply<()> {
    labels::delete(&st, &c.scope, id).await?;
    Ok(ok((), "label deleted"))
}

/// Creates, changes and deletes labels in one transaction: all or nothing. Every entry is
/// checked first; failures are listed by list and index (`create[2].color`, `update[0].id`,
/// `delete[1]`). Names clashing with the workspace's labels or with each other once the
/// batch is applied: 409 `LABEL_EXISTS` listing the entries when nothing else is wrong,
/// else part of the 422 (code `label_exists`). Deletes go first and renames are applied
/// together, so two labels can swap names and a deleted label's name can be reused.
#[utoipa::path(post, path = "/labels/batch", tag = "momentum", request_body = Batch,
    responses((status = 200, body = BatchDone), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "LABEL_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn batch(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<Batch>,
) -> Reply<BatchDone> {
    Ok(ok(
        labels::batch(&st, &c.scope, &b).await?,
        "labels updated",
    ))
}
