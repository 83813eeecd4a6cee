//! `/cycles` (seed 002 "周期管理") and the original's `GET /cycles/{id}/stats`,
//! `GET|POST|DELETE /cycles/{id}/issues` and `POST /cycles/auto-update-status`.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::domain::{CycleStatus, Patch};
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::cycles::{
    self, Completion, Cycle, CycleChange, CycleStats, Membership, NewCycle,
};
use crate::state::MomentumState;
use crate::store::cycles::CycleIssue;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_cycles, create_cycle))
        .routes(routes!(auto_update_status))
        .routes(routes!(get_cycle, update_cycle, delete_cycle))
        .routes(routes!(cycle_stats))
        .routes(routes!(cycle_issues, add_cycle_issues, remove_cycle_issues))
        .routes(routes!(complete_cycle))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CyclesQuery {
    /// Only this team's cycles (a team of another workspace answers 404).
    team_id: Option<String>,
    /// Only cycles with this status: `planned`, `active` or `completed` (any case).
    #[param(value_type = Option<CycleStatus>)]
    status: Option<String>,
}

/// The cycles of the caller's workspace (of one team with `team_id`), by start date, each
/// with its status computed from its dates and today's date.
#[utoipa::path(get, path = "/cycles", tag = "momentum", params(CyclesQuery),
    responses((status = 200, body = Vec<Cycle>), (status = 404, description = "NOT_FOUND: no such team"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_cycles(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<CyclesQuery>,
) -> ListReply<Cycle> {
    Ok(Listed::all(
        cycles::list(&st, &c.scope, q.team_id.as_deref(), q.status.as_deref()).await?,
        "cycles",
    ))
}

/// `POST /cycles`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumCreateCycleBody)]
struct CreateCycleBody {
    /// The team (UUID) of the caller's workspace.
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    team_id: Option<String>,
    /// 1–255 characters.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 255,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// First day, `YYYY-MM-DD`.
    #[schema(required = true, value_type = String, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    start_date: Option<String>,
    /// Last day (included), `YYYY-MM-DD`, on or after `start_date`.
    #[schema(required = true, value_type = String, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    end_date: Option<String>,
    /// Up to 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    description: Option<String>,
    /// Up to 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    goal: Option<String>,
}

/// Creates a cycle (members; not guests). Its days may not meet another cycle of the team
/// (409 `CYCLE_OVERLAP`; both ends are included).
#[utoipa::path(post, path = "/cycles", tag = "momentum", request_body = CreateCycleBody,
    responses((status = 201, body = Cycle), (status = 403, description = "FORBIDDEN: guests"),
        (status = 409, description = "CYCLE_OVERLAP; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_cycle(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<CreateCycleBody>,
) -> Reply<Cycle> {
    let input = NewCycle {
        team_id: b.team_id,
        name: b.name,
        start_date: b.start_date,
        end_date: b.end_date,
        description: b.description,
        goal: b.goal,
    };
    Ok(created(
        cycles::create(&st, &c.scope, input).await?,
        "cycle created",
    ))
}

/// The original's status refresh. Statuses are computed from the dates on every read, so
/// this changes nothing; it answers the workspace's cycles with their statuses.
#[utoipa::path(post, path = "/cycles/auto-update-status", tag = "momentum",
    responses((status = 200, body = Vec<Cycle>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn auto_update_status(State(st): State<MomentumState>, c: Caller) -> ListReply<Cycle> {
    Ok(Listed::all(
        cycles::list(&st, &c.scope, None, None).await?,
        "cycle statuses are computed from their dates",
    ))
}

/// One cycle.
#[utoipa::path(get, path = "/cycles/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")),
    responses((status = 200, body = Cycle), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn get_cycle(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Cycle> {
    Ok(ok(cycles::get(&st, &c.scope, id).await?, "cycle"))
}

/// `PUT /cycles/{id}`: absent fields keep their value.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumUpdateCycleBody)]
struct UpdateCycleBody {
    /// 1–255 characters.
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    start_date: Option<String>,
    /// Last day (included), `YYYY-MM-DD`.
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    end_date: Option<String>,
    /// Up to 10,000 characters; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    description: Patch<String>,
    /// Up to 10,000 characters; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    goal: Patch<String>,
}

/// Changes a cycle (members; not guests). New dates follow the creation rules
/// (order: 422; overlap with another cycle of the team: 409 `CYCLE_OVERLAP`).
#[utoipa::path(put, path = "/cycles/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")), request_body = UpdateCycleBody,
    responses((status = 200, body = Cycle), (status = 403, description = "FORBIDDEN: guests"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "CYCLE_OVERLAP; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_cycle(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateCycleBody>,
) -> Reply<Cycle> {
    let change = CycleChange {
        name: b.name,
        start_date: b.start_date,
        end_date: b.end_date,
        description: b.description,
        goal: b.goal,
    };
    Ok(ok(
        cycles::update(&st, &c.scope, id, change).await?,
        "cycle updated",
    ))
}

/// Deletes a cycle (members; not guests); its issues stay, in no cycle. Answers the
/// deleted cycle.
#[utoipa::path(delete, path = "/cycles/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")),
    responses((status = 200, body = Cycle), (status = 403, description = "FORBIDDEN: guests"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete_cycle(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Cycle> {
    Ok(ok(
        cycles::delete(&st, &c.scope, id).await?,
        "cycle deleted",
    ))
}

/// A cycle's issues counted by workflow state category, with their estimates summed:
/// `{total, by_category: {<category>: {count, estimate}}}`.
#[utoipa::path(get, path = "/cycles/{id}/stats", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")),
    responses((status = 200, body = CycleStats), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn cycle_stats(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<CycleStats> {
    Ok(ok(cycles::stats(&st, &c.scope, id).await?, "cycle stats"))
}

/// The issues of a cycle, in their manual order.
#[utoipa::path(get, path = "/cycles/{id}/issues", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")),
    responses((status = 200, body = Vec<CycleIssue>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn cycle_issues(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> ListReply<CycleIssue> {
    Ok(Listed::all(
        cycles::issues(&st, &c.scope, id).await?,
        "cycle issues",
    ))
}

/// `{issue_ids}` of `POST|DELETE /cycles/{id}/issues`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleIssuesBody)]
struct IssueIdsBody {
    /// 1–500 issue ids (UUIDs).
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 500, value_type = Vec<Uuid>)]
    issue_ids: Vec<String>,
}

/// Adds issues to a cycle (members; not guests). Each must be an issue of the cycle's team
/// (422 listing every `issue_ids[i]` that is not); issues in another cycle move here. A
/// completed cycle answers 409 `CYCLE_COMPLETED`.
#[utoipa::path(post, path = "/cycles/{id}/issues", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")), request_body = IssueIdsBody,
    responses((status = 200, body = Membership), (status = 403, description = "FORBIDDEN: guests"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "CYCLE_COMPLETED; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn add_cycle_issues(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<IssueIdsBody>,
) -> Reply<Membership> {
    Ok(ok(
        cycles::add_issues(&st, &c.scope, id, &b.issue_ids).await?,
        "issues added to the cycle",
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct IssueIdsQuery {
    /// The issue ids, comma-separated (for clients that cannot send a body with DELETE).
    issue_ids: Option<String>,
}

/// Removes issues from a cycle (members; not guests): the ids come as a JSON body
/// `{issue_ids}` or as `?issue_ids=a,b`. Ids that are not issues of the workspace: 422
/// listing each `issue_ids[i]`; issues not in the cycle are left alone. A completed cycle
/// answers 409 `CYCLE_COMPLETED`.
#[utoipa::path(delete, path = "/cycles/{id}/issues", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id"), IssueIdsQuery), request_body = IssueIdsBody,
    responses((status = 200, body = Membership), (status = 403, description = "FORBIDDEN: guests"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "CYCLE_COMPLETED; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn remove_cycle_issues(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<IssueIdsQuery>,
    body: Option<Json<IssueIdsBody>>,
) -> Reply<Membership> {
    let ids: Vec<String> = match (body, q.issue_ids) {
        (Some(Json(b)), _) => b.issue_ids,
        (None, Some(q)) => q
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        (None, None) => Vec::new(),
    };
    Ok(ok(
        cycles::remove_issues(&st, &c.scope, id, &ids).await?,
        "issues removed from the cycle",
    ))
}

/// Completes a cycle (members; not guests) and, in the same transaction, moves its
/// unfinished issues (state category neither completed nor canceled) into the team's next
/// cycle by start date that is not completed — or out of any cycle when there is none.
/// A completed cycle answers 409 `CYCLE_COMPLETED`.
#[utoipa::path(post, path = "/cycles/{id}/complete", tag = "momentum",
    params(("id" = Uuid, Path, description = "Cycle id")),
    responses((status = 200, body = Completion), (status = 403, description = "FORBIDDEN: guests"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "CYCLE_COMPLETED; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn complete_cycle(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Completion> {
    Ok(ok(
        cycles::complete(&st, &c.scope, id).await?,
        "cycle completed",
    ))
}
