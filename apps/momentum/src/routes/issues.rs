//! `/issues…` (seed 002 "任务管理"; originals §2.1 and §2.5): list, create, read by id or
//! key, update, delete, transitions, history, relations.

use axum::extract::State;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::Caller;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::issues::{
    self, CreateIssue, IssueDetail, ListQuery, MoveIssue, NewRelation, UpdateIssue,
};
use crate::state::MomentumState;
use crate::store::issues::{HistoryEntry, IssueItem, Relation};
use crate::store::workflows::WorkflowState;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(transitions, transition))
        .routes(routes!(history))
        .routes(routes!(relations, relate))
        .routes(routes!(unrelate))
}

/// The caller's workspace's issues, newest first unless `sort` says otherwise, each with its
/// team, state, project, assignee, creator and labels. Cursor pagination: pass
/// `meta.next_cursor` as `cursor` for the next page (absent on the last). Bad parameters: 422
/// listing every one.
#[utoipa::path(get, path = "/issues", tag = "momentum", params(ListQuery),
    responses((status = 200, body = Vec<IssueItem>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<ListQuery>,
) -> ListReply<IssueItem> {
    let page = issues::list(&st.platform.db, &c.scope, &q).await?;
    Ok(Listed {
        items: page.items,
        pagination: None,
        next_cursor: page.next_cursor,
        message: "issues",
    })
}

/// Creates an issue with the team's next key (`ENG-124`), in the team's default state unless
/// `workflow_state_id` says otherwise, with its labels. Guests: 403. An id of an object that
/// is not in the workspace (or, for cycles and states, not of the team): 422 naming the field.
#[utoipa::path(post, path = "/issues", tag = "momentum", request_body = CreateIssue,
    responses((status = 201, body = IssueItem), (status = 403, description = "FORBIDDEN: guests cannot create issues"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<CreateIssue>,
) -> Reply<IssueItem> {
    Ok(created(
        issues::create(&st.platform.db, &c.scope, b).await?,
        "issue created",
    ))
}

/// One issue by UUID or key (`ENG-123`, any case), with its parent, sub-issues and relations.
#[utoipa::path(get, path = "/issues/{id}", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    responses((status = 200, body = IssueDetail),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn get_one(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
) -> Reply<IssueDetail> {
    Ok(ok(
        issues::detail(&st.platform.db, &c.scope, &id).await?,
        "issue",
    ))
}

/// Updates an issue; each changed field is recorded in its history. A state change obeys
/// the workflow's transition rules; a team change gives the issue a new key and the new
/// team's default state.
#[utoipa::path(put, path = "/issues/{id}", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    request_body = UpdateIssue,
    responses((status = 200, body = IssueItem),
        (status = 403, description = "FORBIDDEN: guests cannot change issues"),
        (status = 409, description = "TRANSITION_NOT_ALLOWED or PARENT_CYCLE; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
    Json(b): Json<UpdateIssue>,
) -> Reply<IssueItem> {
    Ok(ok(
        issues::update(&st.platform.db, &c.scope, &id, b).await?,
        "issue updated",
    ))
}

/// Deletes an issue; its sub-issues lose their parent.
#[utoipa::path(delete, path = "/issues/{id}", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    responses((status = 200), (status = 403, description = "FORBIDDEN: guests cannot delete issues"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete(State(st): State<MomentumState>, c: Caller, Path(id): Path<String>) -> Reply<()> {
    issues::delete(&st.platform.db, &c.scope, &id).await?;
    Ok(ok((), "issue deleted"))
}

/// The states the caller may move the issue to under its workflow's transition rules (the
/// current state excluded; empty for guests).
#[utoipa::path(get, path = "/issues/{id}/transitions", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    responses((status = 200, body = Vec<WorkflowState>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn transitions(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
) -> ListReply<WorkflowState> {
    let items = issues::targets(&st.platform.db, &c.scope, &id).await?;
    Ok(Listed::all(items, "transitions"))
}

/// Moves the issue to `to_state_id`, or answers 409 `TRANSITION_NOT_ALLOWED` with the reason.
#[utoipa::path(post, path = "/issues/{id}/transitions", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    request_body = MoveIssue,
    responses((status = 200, body = IssueItem),
        (status = 403, description = "FORBIDDEN: guests cannot move issues"),
        (status = 409, description = "TRANSITION_NOT_ALLOWED; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn transition(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
    Json(b): Json<MoveIssue>,
) -> Reply<IssueItem> {
    Ok(ok(
        issues::move_to(&st.platform.db, &c.scope, &id, b).await?,
        "issue moved",
    ))
}

/// Every recorded change of the issue (actor, field, old, new, time), newest last.
#[utoipa::path(get, path = "/issues/{id}/history", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    responses((status = 200, body = Vec<HistoryEntry>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn history(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
) -> ListReply<HistoryEntry> {
    let items = issues::history(&st.platform.db, &c.scope, &id).await?;
    Ok(Listed::all(items, "history"))
}

/// The issue's relations, each as this issue sees it (`blocked_by` where the other `blocks`
/// it).
#[utoipa::path(get, path = "/issues/{id}/relations", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    responses((status = 200, body = Vec<Relation>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn relations(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
) -> ListReply<Relation> {
    let items = issues::relations(&st.platform.db, &c.scope, &id).await?;
    Ok(Listed::all(items, "relations"))
}

/// Relates the issue to another issue of the workspace; the other issue shows the inverse.
#[utoipa::path(post, path = "/issues/{id}/relations", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)")),
    request_body = NewRelation,
    responses((status = 201, body = Relation),
        (status = 403, description = "FORBIDDEN: guests cannot relate issues"),
        (status = 409, description = "RELATION_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn relate(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
    Json(b): Json<NewRelation>,
) -> Reply<Relation> {
    Ok(created(
        issues::relate(&st.platform.db, &c.scope, &id, b).await?,
        "relation created",
    ))
}

/// Deletes a relation (from either of its issues).
#[utoipa::path(delete, path = "/issues/{id}/relations/{relation_id}", tag = "momentum",
    params(("id" = String, Path, description = "Issue UUID or key (`ENG-123`)"),
        ("relation_id" = String, Path, description = "Relation id")),
    responses((status = 200), (status = 403, description = "FORBIDDEN: guests cannot change relations"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn unrelate(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, relation_id)): Path<(String, String)>,
) -> Reply<()> {
    issues::unrelate(&st.platform.db, &c.scope, &id, &relation_id).await?;
    Ok(ok((), "relation deleted"))
}
