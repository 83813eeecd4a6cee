//! `/invitations…` (seed 002 "邀请管理", and the original's get and revoke).

use std::borrow::Cow;

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Account, Caller};
use crate::domain::WorkspaceRole;
use crate::domain::check::EMAIL_PATTERN;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::invitations;
use crate::state::MomentumState;
use crate::store::invitations::Invitation;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, create_invitations))
        .routes(routes!(get_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
        .routes(routes!(revoke_invitation))
}

/// `POST /invitations`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumInviteBody)]
struct InviteBody {
    /// The addresses to invite (1–50; duplicates count once).
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 50, value_type = Vec<EmailAddress>)]
    emails: Vec<String>,
    /// The role they get: `owner` (owners only), `admin`, `member` (default) or `guest`
    /// (any case).
    #[schema(value_type = Option<WorkspaceRole>)]
    role: Option<String>,
}

/// How the document states an item of [`InviteBody::emails`]: an e-mail address of at most
/// 254 characters as identity takes them (see [`EMAIL_PATTERN`]).
struct EmailAddress;

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(254))
            .pattern(Some(EMAIL_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for EmailAddress {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MomentumEmailAddress")
    }
}

/// Invites addresses to the caller's current workspace (owners and admins), one invitation
/// each, mailed, open for `MOMENTUM_INVITATION_DAYS` (7) days. All or nothing: an address
/// of a member or with a pending invitation fails the whole request.
#[utoipa::path(post, path = "/invitations", tag = "momentum", request_body = InviteBody,
    responses((status = 201, body = Vec<Invitation>), (status = 403),
        (status = 409, description = "ALREADY_MEMBER or INVITATION_PENDING; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_invitations(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<InviteBody>,
) -> Reply<Vec<Invitation>> {
    Ok(created(
        invitations::invite(&st, &c.scope, &b.emails, b.role.as_deref()).await?,
        "invitations sent",
    ))
}

/// Invitations addressed to the caller and, for admins, those of the current workspace;
/// newest first. A pending one past its expiry shows as `expired`.
#[utoipa::path(get, path = "/invitations", tag = "momentum",
    responses((status = 200, body = Vec<Invitation>)), security(("bearer" = [])))]
async fn list_invitations(
    State(st): State<MomentumState>,
    Account(p): Account,
) -> ListReply<Invitation> {
    Ok(Listed::all(
        invitations::list(&st, p.user_id).await?,
        "invitations",
    ))
}

/// One invitation: for its invitee or an admin of its workspace; anyone else gets 404.
#[utoipa::path(get, path = "/invitations/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses((status = 200, body = Invitation)), security(("bearer" = [])))]
async fn get_invitation(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<Invitation> {
    Ok(ok(
        invitations::get(&st, p.user_id, id).await?,
        "invitation",
    ))
}

/// Accepts an invitation addressed to the caller's e-mail: the caller joins the workspace
/// with the invited role and works in it from now on.
#[utoipa::path(post, path = "/invitations/{id}/accept", tag = "momentum",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses((status = 200, body = Invitation),
        (status = 403, description = "FORBIDDEN: an admin of the workspace, not the invitee"),
        (status = 409, description = "INVITATION_CLOSED")),
    security(("bearer" = [])))]
async fn accept_invitation(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<Invitation> {
    Ok(ok(
        invitations::accept(&st, p.user_id, id).await?,
        "invitation accepted",
    ))
}

/// Declines an invitation addressed to the caller's e-mail.
#[utoipa::path(post, path = "/invitations/{id}/decline", tag = "momentum",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses((status = 200, body = Invitation),
        (status = 403, description = "FORBIDDEN: an admin of the workspace, not the invitee"),
        (status = 409, description = "INVITATION_CLOSED")),
    security(("bearer" = [])))]
async fn decline_invitation(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<Invitation> {
    Ok(ok(
        invitations::decline(&st, p.user_id, id).await?,
        "invitation declined",
    ))
}

/// Revokes a pending invitation; owners and admins of its workspace.
#[utoipa::path(post, path = "/invitations/{id}/revoke", tag = "momentum",
    params(("id" = Uuid, Path, description = "Invitation id")),
    responses((status = 200, body = Invitation), (status = 403),
        (status = 409, description = "INVITATION_CLOSED")),
    security(("bearer" = [])))]
async fn revoke_invitation(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<Invitation> {
    Ok(ok(
        invitations::revoke(&st, p.user_id, id).await?,
        "invitation revoked",
    ))
}
