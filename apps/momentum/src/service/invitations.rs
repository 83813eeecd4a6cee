//! Invitations (seed 002 "邀请管理", issue 8 "Invitations"): admins invite addresses to the
//! current workspace (one pending invitation per address, mailed, open for
//! `MOMENTUM_INVITATION_DAYS`); the invited address accepts (becoming a member with the
//! invited role, the workspace becoming current) or declines; admins revoke.
//!
//! An invitation is visible to its invitee (the account whose e-mail, read now from the
//! users table, is the invited address) and to the admins of its workspace; to anyone else it
//! answers 404.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_identity::IdentityError;
use trellis_identity::domain::Email;
use uuid::Uuid;

use super::auth::current_workspace;
use super::{Action, Scope, log_change};
use crate::domain::{Check, InvitationStatus, WorkspaceRole};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::invitations::{self, Invitation, NewInvitation};
use crate::store::{members, profiles};

/// Most addresses one `POST /invitations` may invite.
pub const MAX_EMAILS: usize = 50;

/// What the change log records of an invitation: everything but the address (the log is
/// readable by every member; invitations only by admins and the invitee).
#[derive(Serialize)]
struct Logged {
    id: Uuid,
    workspace_id: Uuid,
    role: WorkspaceRole,
    status: InvitationStatus,
    invited_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

fn logged(i: &Invitation) -> Logged {
    Logged {
        id: i.id,
        workspace_id: i.workspace_id,
        role: i.role,
        status: i.status,
        invited_by: i.invited_by,
        created_at: i.created_at,
        updated_at: i.updated_at,
        expires_at: i.expires_at,
    }
}

fn not_found() -> MomentumError {
    MomentumError::NotFound("invitation")
}

fn closed() -> MomentumError {
    MomentumError::conflict(
        "INVITATION_CLOSED",
        "this invitation is no longer open (accepted, declined, revoked or expired)",
    )
}

/// The caller's e-mail address as the users table has it now.
async fn my_email(st: &MomentumState, user_id: Uuid) -> Result<String, MomentumError> {
    Ok(profiles::summary(&st.platform.db, user_id)
        .await?
        .ok_or(MomentumError::Identity(IdentityError::UserNotFound))?
        .email)
}

/// Invites `emails` to the caller's current workspace with `role` (default `member`):
/// admins only, and only owners invite owners. All or nothing: an address of a member is
/// 409 `ALREADY_MEMBER`, one with a pending invitation 409 `INVITATION_PENDING` (a pending
/// one that expired is replaced). Each invitee gets a mail after the commit.
pub async fn invite(
    st: &MomentumState,
    scope: &Scope,
    emails: &[String],
    role: Option<&str>,
) -> Result<Vec<Invitation>, MomentumError> {
    scope.require_admin()?;
    let mut check = Check::new();
    if emails.is_empty() {
        check.fail("emails", "required", "list at least one address");
    } else if emails.len() > MAX_EMAILS {
        check.fail(
            "emails",
            "too_many",
            format!("at most {MAX_EMAILS} addresses at once"),
        );
    }
    let mut addresses: Vec<String> = Vec::with_capacity(emails.len());
    for (i, e) in emails.iter().enumerate() {
        match Email::parse(e) {
            Ok(a) => {
                if !addresses.iter().any(|x| x == a.as_str()) {
                    addresses.push(a.as_str().to_string());
                }
            }
            Err(_) => check.fail(
                &format!("emails[{i}]"),
                "invalid_email",
                "must be an e-mail address",
            ),
        }
    }
    let role = match role {
        Some(r) => check.one_of("role", r, WorkspaceRole::parse, WorkspaceRole::names),
        None => Some(WorkspaceRole::Member),
    };
    check.finish()?;
    let role = role.unwrap_or(WorkspaceRole::Member);
    if role == WorkspaceRole::Owner && scope.role != WorkspaceRole::Owner {
        return Err(MomentumError::Forbidden("only an owner can invite owners"));
    }
    let expires_at = scope.now + chrono::Duration::days(st.settings.invitation_days);
    let mut tx = st.platform.db.begin().await?;
    let mut out = Vec::with_capacity(addresses.len());
    for email in &addresses {
        if members::has_email(&mut tx, scope.workspace_id, email).await? {
            return Err(MomentumError::conflict(
                "ALREADY_MEMBER",
                format!("{email} is already a member of this workspace"),
            ));
        }
        for gone in
            invitations::delete_expired(&mut tx, scope.workspace_id, email, scope.now).await?
        {
            log_change(
                &mut tx,
                scope,
                "invitation",
                gone,
                Action::Delete,
                &serde_json::json!({"id": gone, "workspace_id": scope.workspace_id}),
            )
            .await?;
        }
        let new = NewInvitation {
            id: Uuid::now_v7(),
            workspace_id: scope.workspace_id,
            email: email.clone(),
            role,
            invited_by: scope.actor,
            created_at: scope.now,
            expires_at,
        };
        invitations::insert(&mut tx, &new).await.map_err(|e| {
            if e.violates(invitations::PENDING_KEY) {
                MomentumError::conflict(
                    "INVITATION_PENDING",
                    format!("{email} already has a pending invitation to this workspace"),
                )
            } else {
                e.into()
            }
        })?;
        let inv = invitations::get_tx(&mut tx, new.id, scope.now)
            .await?
            .ok_or_else(not_found)?;
        log_change(
            &mut tx,
            scope,
            "invitation",
            inv.id,
            Action::Create,
            &logged(&inv),
        )
        .await?;
        out.push(inv);
    }
    tx.commit().await?;
    for inv in &out {
        send_mail(st, inv);
    }
    Ok(out)
}

/// Mails an invitation in the background (tracked, so a shutdown waits for it).
fn send_mail(st: &MomentumState, inv: &Invitation) {
    let mailer = st.platform.mailer.clone();
    let to = inv.email.clone();
    let subject = format!("You are invited to {} on Momentum", inv.workspace_name);
    // Short lines: the body stays 7-bit text, readable as it is.
    let body = format!(
        "{inviter} invited you to a Momentum workspace.\n\n\
         Workspace: {ws} ({key})\n\
         Role: {role}\n\
         Invitation id: {id}\n\
         Open until: {expires} UTC\n\n\
         Sign in (or register) with this address, then accept:\n\
         POST /invitations/{id}/accept\n\n\
         Or decline it, or ignore this message.\n",
        inviter = inv.invited_by_name.as_deref().unwrap_or("Someone"),
        ws = inv.workspace_name,
        key = inv.workspace_url_key,
        role = inv.role,
        id = inv.id,
        expires = inv.expires_at.format("%Y-%m-%d %H:%M"),
    );
    st.platform.tasks.spawn(async move {
        if let Err(e) = mailer.send(&to, &subject, &body).await {
            tracing::error!(error = %e, "sending a Momentum invitation failed");
        }
    });
}

/// Invitations addressed to the caller and, when the caller is an admin of the current
/// workspace, that workspace's; newest first.
pub async fn list(st: &MomentumState, user_id: Uuid) -> Result<Vec<Invitation>, MomentumError> {
    let email = my_email(st, user_id).await?;
    let workspace = match current_workspace(st, user_id).await {
        Ok((ws, role)) if role.is_admin() => Some(ws),
        Ok(_) | Err(MomentumError::NoWorkspace) => None,
        Err(e) => return Err(e),
    };
    Ok(invitations::list_for(&st.platform.db, &email, workspace, st.now()).await?)
}

/// Who the caller is to an invitation.
enum Seen {
    /// The invited address.
    Invitee,
    /// An admin (or owner) of its workspace.
    Admin(WorkspaceRole),
}

/// The invitation `id` and how the caller sees it; 404 unless invitee or admin.
async fn visible(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<(Invitation, Seen), MomentumError> {
    let inv = invitations::get(&st.platform.db, id, st.now())
        .await?
        .ok_or_else(not_found)?;
    let role = members::role(&st.platform.db, inv.workspace_id, user_id)
        .await?
        .and_then(|r| WorkspaceRole::parse(&r));
    if let Some(r) = role.filter(|r| r.is_admin()) {
        return Ok((inv, Seen::Admin(r)));
    }
    if inv.email == my_email(st, user_id).await? {
        return Ok((inv, Seen::Invitee));
    }
    Err(not_found())
}

/// One invitation, for its invitee or an admin of its workspace.
pub async fn get(st: &MomentumState, user_id: Uuid, id: Uuid) -> Result<Invitation, MomentumError> {
    Ok(visible(st, user_id, id).await?.0)
}

/// The invitee's answer. Only the invitee answers: an admin of the workspace (who sees the
/// invitation) gets 403, anyone else 404.
async fn respond(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
    accept: bool,
) -> Result<Invitation, MomentumError> {
    let (inv, seen) = visible(st, user_id, id).await?;
    if inv.email != my_email(st, user_id).await? {
        return Err(match seen {
            Seen::Admin(_) => MomentumError::Forbidden("only the invited address can answer"),
            Seen::Invitee => not_found(),
        });
    }
    let now = st.now();
    let status = if accept {
        InvitationStatus::Accepted
    } else {
        InvitationStatus::Declined
    };
    let mut tx = st.platform.db.begin().await?;
    if !invitations::close(&mut tx, id, status, true, now).await? {
        return Err(closed());
    }
    let scope = Scope {
        workspace_id: inv.workspace_id,
        actor: user_id,
        role: inv.role,
        now,
    };
    let inv = invitations::get_tx(&mut tx, id, now)
        .await?
        .ok_or_else(not_found)?;
    log_change(
        &mut tx,
        &scope,
        "invitation",
        id,
        Action::Update,
        &logged(&inv),
    )
    .await?;
    if accept {
        if members::insert(&mut tx, inv.workspace_id, user_id, inv.role.as_str(), now).await? {
            let m = members::get_tx(&mut tx, inv.workspace_id, user_id)
                .await?
                .ok_or(MomentumError::NotFound("member"))?;
            log_change(&mut tx, &scope, "member", user_id, Action::Create, &m).await?;
        }
        profiles::set_current_workspace(&mut tx, user_id, Some(inv.workspace_id), now).await?;
    }
    tx.commit().await?;
    st.memberships.forget(user_id);
    Ok(inv)
}

/// Accepts an invitation addressed to the caller: the caller becomes a member with the
/// invited role (an existing membership is kept as it is) and the workspace becomes current.
/// 403 for the workspace's admins, 404 for anyone else but the invitee; 409
/// `INVITATION_CLOSED` unless pending and unexpired.
pub async fn accept(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<Invitation, MomentumError> {
    respond(st, user_id, id, true).await
}

/// Declines an invitation addressed to the caller (same rules as [`accept`]).
pub async fn decline(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<Invitation, MomentumError> {
    respond(st, user_id, id, false).await
}

/// Revokes a pending (or expired) invitation: admins of its workspace; the invitee gets 403,
/// anyone else 404; 409 `INVITATION_CLOSED` once it was answered or revoked.
pub async fn revoke(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<Invitation, MomentumError> {
    let (_, seen) = visible(st, user_id, id).await?;
    let Seen::Admin(role) = seen else {
        return Err(MomentumError::Forbidden(
            "only workspace owners and admins can revoke an invitation",
        ));
    };
    let now = st.now();
    let mut tx = st.platform.db.begin().await?;
    if !invitations::close(&mut tx, id, InvitationStatus::Revoked, false, now).await? {
        return Err(closed());
    }
    let inv = invitations::get_tx(&mut tx, id, now)
        .await?
        .ok_or_else(not_found)?;
    let scope = Scope {
        workspace_id: inv.workspace_id,
        actor: user_id,
        role,
        now,
    };
    log_change(
        &mut tx,
        &scope,
        "invitation",
        id,
        Action::Update,
        &logged(&inv),
    )
    .await?;
    tx.commit().await?;
    Ok(inv)
}
