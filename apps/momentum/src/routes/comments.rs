//! `/comments` (seed 002 "评论相关") and the original's `GET|POST /issues/{id}/comments`.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::domain::Check;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::comments::{self, NewCommentInput};
use crate::state::MomentumState;
use crate::store::comments::Comment;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_comments, create_comment))
        .routes(routes!(get_comment, update_comment, delete_comment))
        .routes(routes!(list_issue_comments, create_issue_comment))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CommentsQuery {
    /// The issue: its id or its key (`ENG-123`). Required.
    #[param(required = true, value_type = String, pattern = r"\S")]
    issue_id: Option<String>,
}

/// The comments of an issue in thread order: top-level comments oldest first, each followed
/// by its replies (depth-first, oldest first; `parent_comment_id` names the parent). Deleted
/// comments keep their place with `is_deleted: true` and empty `content`. An issue of
/// another workspace answers 404 like a missing one.
#[utoipa::path(get, path = "/comments", tag = "momentum", params(CommentsQuery),
    responses((status = 200, body = Vec<Comment>), (status = 404, description = "NOT_FOUND: no such issue"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_comments(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<CommentsQuery>,
) -> ListReply<Comment> {
    let mut check = Check::new();
    let issue = check.required("issue_id", q.issue_id.filter(|s| !s.trim().is_empty()));
    check.finish()?;
    let issue =
        comments::resolve_issue(&st, &c.scope, issue.as_deref().unwrap_or_default()).await?;
    Ok(Listed::all(
        comments::list(&st, &c.scope, issue).await?,
        "comments",
    ))
}

/// `POST /comments`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumCreateCommentBody)]
struct CreateCommentBody {
    /// The issue (UUID) of the caller's workspace.
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    issue_id: Option<String>,
    /// Markdown, 1–10,000 characters, not blank.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    content: String,
    /// The comment this one answers: a live comment of the same issue.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    parent_comment_id: Option<String>,
}

/// Posts a comment (any member, guests included). Missing or foreign `issue_id`, or a
/// parent that is not a live comment of the same issue: 422 naming the field.
#[utoipa::path(post, path = "/comments", tag = "momentum", request_body = CreateCommentBody,
    responses((status = 201, body = Comment),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn create_comment(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<CreateCommentBody>,
) -> Reply<Comment> {
    let input = NewCommentInput {
        issue_id: b.issue_id,
        content: b.content,
        parent_comment_id: b.parent_comment_id,
    };
    Ok(created(
        comments::create(&st, &c.scope, None, input).await?,
        "comment created",
    ))
}

/// One comment (a deleted one shows `is_deleted: true` and empty content).
#[utoipa::path(get, path = "/comments/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Comment id")),
    responses((status = 200, body = Comment), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn get_comment(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Comment> {
    Ok(ok(comments::get(&st, &c.scope, id).await?, "comment"))
}

/// `PUT /comments/{id}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumUpdateCommentBody)]
struct UpdateCommentBody {
    /// The new markdown, 1–10,000 characters, not blank.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    content: String,
}

/// Edits a comment: its author only (403 otherwise); it then shows `is_edited: true`.
#[utoipa::path(put, path = "/comments/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Comment id")), request_body = UpdateCommentBody,
    responses((status = 200, body = Comment), (status = 403, description = "FORBIDDEN: not the author"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "COMMENT_DELETED; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_comment(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateCommentBody>,
) -> Reply<Comment> {
    Ok(ok(
        comments::update(&st, &c.scope, id, &b.content).await?,
        "comment updated",
    ))
}

/// Deletes a comment softly (its author or a workspace owner/admin; 403 otherwise): it keeps
/// its place in the thread with `is_deleted: true` and empty content. Answers the comment.
#[utoipa::path(delete, path = "/comments/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Comment id")),
    responses((status = 200, body = Comment), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete_comment(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Comment> {
    Ok(ok(
        comments::delete(&st, &c.scope, id).await?,
        "comment deleted",
    ))
}

/// The comments of an issue (the original's route; same as `GET /comments?issue_id=`).
#[utoipa::path(get, path = "/issues/{id}/comments", tag = "momentum",
    params(("id" = String, Path, description = "Issue id or key (`ENG-123`)")),
    responses((status = 200, body = Vec<Comment>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_issue_comments(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
) -> ListReply<Comment> {
    let issue = comments::resolve_issue(&st, &c.scope, &id).await?;
    Ok(Listed::all(
        comments::list(&st, &c.scope, issue).await?,
        "comments",
    ))
}

/// `POST /issues/{id}/comments`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueCommentBody)]
struct IssueCommentBody {
    /// Markdown, 1–10,000 characters, not blank.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    content: String,
    /// The comment this one answers: a live comment of the same issue.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    parent_comment_id: Option<String>,
}

/// Posts a comment on the issue of the path (the original's route; same rules as
/// `POST /comments`).
#[utoipa::path(post, path = "/issues/{id}/comments", tag = "momentum",
    params(("id" = String, Path, description = "Issue id or key (`ENG-123`)")),
    request_body = IssueCommentBody,
    responses((status = 201, body = Comment), (status = 404, description = "NOT_FOUND: no such issue"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_issue_comment(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<String>,
    Json(b): Json<IssueCommentBody>,
) -> Reply<Comment> {
    let issue = comments::resolve_issue(&st, &c.scope, &id).await?;
    let input = NewCommentInput {
        issue_id: None,
        content: b.content,
        parent_comment_id: b.parent_comment_id,
    };
    Ok(created(
        comments::create(&st, &c.scope, Some(issue), input).await?,
        "comment created",
    ))
}
