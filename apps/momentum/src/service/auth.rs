//! Accounts as Momentum sees them (seed 002 "用户认证与授权"): registration that provisions a
//! working space in one transaction, login by e-mail or username, refresh, logout, profile,
//! and which workspace a request works in.

use serde::Serialize;
use trellis_identity::accounts::LoginPolicy;
use trellis_identity::auth::TokenPair;
use trellis_identity::{ClientCtx, IdentityError, Principal};
use uuid::Uuid;

use super::provision;
use crate::domain::{Check, Patch, WorkspaceRole};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::{UserSummary, members, profiles, workspaces};

/// The audience of Momentum's access tokens (RFC 7519 §4.1.3): other apps refuse them.
pub const AUDIENCE: &str = "momentum";

/// A registration (`POST /auth/register`).
pub struct Registration<'a> {
    /// E-mail address.
    pub email: &'a str,
    /// Username (3–50 letters, digits, `_`; identity's rule, shared by every app).
    pub username: &'a str,
    /// Display name, 1–100 characters.
    pub name: &'a str,
    /// Password (identity's policy).
    pub password: &'a str,
}

/// A signed-in session: `{access_token, refresh_token, token_type, expires_in, user,
/// current_workspace_url_key}` (originals §2.3).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MomentumSession)]
pub struct SignedIn {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque single-use token for `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime, seconds.
    pub expires_in: i64,
    /// The account.
    pub user: UserSummary,
    /// URL key of the workspace the user works in.
    pub current_workspace_url_key: Option<String>,
}

/// The profile (`GET /auth/profile`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MomentumProfile)]
pub struct Profile {
    /// The account.
    #[serde(flatten)]
    pub user: UserSummary,
    /// The workspace the user works in.
    pub current_workspace_id: Option<Uuid>,
    /// Its URL key.
    pub current_workspace_url_key: Option<String>,
    /// The user's role there.
    pub current_workspace_role: Option<WorkspaceRole>,
}

fn access_life(st: &MomentumState) -> chrono::Duration {
    chrono::Duration::minutes(st.settings.access_token_minutes)
}

fn policy(st: &MomentumState) -> LoginPolicy<'static> {
    LoginPolicy {
        audience: AUDIENCE,
        access: access_life(st),
        admins_only: false,
    }
}

/// Creates the account, its profile and its workspace (owner, first team with its workflow,
/// project statuses, labels) in one transaction, then signs the user in.
pub async fn register(
    st: &MomentumState,
    r: Registration<'_>,
    ctx: &ClientCtx,
) -> Result<SignedIn, MomentumError> {
    let mut check = Check::new();
    let name = check.text("name", r.name, 1, 100);
    check.finish()?;
    let name = name.unwrap_or_default();
    let account = st
        .identity
        .prepare_account(r.username, r.email, r.password)
        .await
        .map_err(taken)?;
    let now = st.now();
    // The workspace's URL key is picked free in the transaction; a concurrent registration
    // with a name of the same slug can still take it first: try again with a fresh pick.
    let mut attempt = 0;
    let user_id = loop {
        attempt += 1;
        match provision_account(st, &account, &name, ctx, now).await {
            Err(MomentumError::Conflict {
                code: "WORKSPACE_URL_KEY_EXISTS",
                ..
            }) if attempt < 5 => continue,
            other => break other?,
        }
    };
    let tokens = st
        .identity
        .sign_in_new_account(user_id, ctx, AUDIENCE, access_life(st))
        .await?;
    signed_in(st, user_id, tokens).await
}

/// One registration transaction: the account, its profile and its provisioned workspace.
async fn provision_account(
    st: &MomentumState,
    account: &trellis_identity::accounts::NewAccount,
    name: &str,
    ctx: &ClientCtx,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Uuid, MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    let user_id = st
        .identity
        .insert_account(&mut tx, account, ctx)
        .await
        .map_err(taken)?;
    profiles::insert(&mut tx, user_id, name, None, now).await?;
    let url_key = provision::free_url_key(&mut tx, &provision::slug(account.username())).await?;
    provision::workspace(
        &mut tx,
        user_id,
        &format!("{name}'s Workspace"),
        &url_key,
        None,
        &format!("{name}'s Team"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Identity's "taken" errors in the original's codes (`USER_EMAIL_EXISTS`,
/// `USER_USERNAME_EXISTS`, originals §2.2).
fn taken(e: IdentityError) -> MomentumError {
    match e {
        IdentityError::EmailTaken => {
            MomentumError::conflict("USER_EMAIL_EXISTS", "a user with this email already exists")
        }
        IdentityError::UsernameTaken => MomentumError::conflict(
            "USER_USERNAME_EXISTS",
            "a user with this username already exists",
        ),
        IdentityError::Invalid(m) => {
            let field = if m.contains("email") {
                "email"
            } else if m.contains("username") {
                "username"
            } else {
                "body"
            };
            MomentumError::field(field, "invalid", m)
        }
        IdentityError::WeakPassword(m) => MomentumError::field("password", "weak_password", m),
        other => other.into(),
    }
}

/// Signs in by e-mail or username; an account from another Trellis app gets its Momentum
/// profile and workspace on its first sign-in here.
pub async fn login(
    st: &MomentumState,
    who: &str,
    password: &str,
    ctx: &ClientCtx,
) -> Result<SignedIn, MomentumError> {
    let out = st
        .identity
        .login_with(who, password, ctx, &policy(st))
        .await?;
    ensure_profile(st, out.user.id, &out.user.username).await?;
    signed_in(st, out.user.id, out.tokens).await
}

/// A new token pair for a refresh token (rotation and reuse detection as in identity).
pub async fn refresh(st: &MomentumState, token: &str) -> Result<TokenPair, MomentumError> {
    Ok(st.identity.refresh_with(token, access_life(st)).await?)
}

async fn signed_in(
    st: &MomentumState,
    user_id: Uuid,
    tokens: TokenPair,
) -> Result<SignedIn, MomentumError> {
    let user = profiles::summary(&st.platform.db, user_id)
        .await?
        .ok_or(MomentumError::Identity(IdentityError::UserNotFound))?;
    let current = match current_workspace(st, user_id).await {
        Ok((ws, _)) => workspaces::get(&st.platform.db, ws)
            .await?
            .map(|w| w.url_key),
        Err(MomentumError::NoWorkspace) => None,
        Err(e) => return Err(e),
    };
    Ok(SignedIn {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
        user,
        current_workspace_url_key: current,
    })
}

/// Gives an account registered through another app its Momentum profile and workspace.
pub async fn ensure_profile(
    st: &MomentumState,
    user_id: Uuid,
    username: &str,
) -> Result<(), MomentumError> {
    if profiles::exists(&st.platform.db, user_id).await? {
        return Ok(());
    }
    let now = st.now();
    let mut tx = st.platform.db.begin().await?;
    if !profiles::insert(&mut tx, user_id, username, None, now).await? {
        // A concurrent first sign-in of the same account got here first (on PostgreSQL this
        // insert waited for its commit): its workspace is the account's; add none.
        return Ok(());
    }
    let url_key = provision::free_url_key(&mut tx, &provision::slug(username)).await?;
    provision::workspace(
        &mut tx,
        user_id,
        &format!("{username}'s Workspace"),
        &url_key,
        None,
        &format!("{username}'s Team"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The workspace a request of `user_id` works in and the user's role there, read from the
/// database: the current workspace if still a member, else the oldest other membership
/// (which becomes current), so a user whose workspace was deleted or who left it is never
/// stuck. [`MomentumError::NoWorkspace`] only when the user belongs to none. Answers from
/// [`crate::state::MembershipCache`] for a few seconds after a read; every operation that
/// changes memberships or the current workspace forgets the entries it affects.
pub async fn current_workspace(
    st: &MomentumState,
    user_id: Uuid,
) -> Result<(Uuid, WorkspaceRole), MomentumError> {
    if let Some(hit) = st.memberships.get(user_id) {
        return Ok(hit);
    }
    let ticket = st.memberships.ticket();
    let db = &st.platform.db;
    let (current, role) = members::current(db, user_id).await?.unwrap_or_default();
    if let (Some(ws), Some(role)) = (current, role.as_deref().and_then(WorkspaceRole::parse)) {
        st.memberships.put(ticket, user_id, ws, role);
        return Ok((ws, role));
    }
    let Some((ws, role)) = members::first_other(db, user_id, current).await? else {
        return Err(MomentumError::NoWorkspace);
    };
    let mut tx = db.begin().await?;
    profiles::set_current_workspace(&mut tx, user_id, Some(ws), st.now()).await?;
    tx.commit().await?;
    let role = WorkspaceRole::parse(&role).unwrap_or(WorkspaceRole::Guest);
    st.memberships.put(ticket, user_id, ws, role);
    Ok((ws, role))
}

/// The caller's profile.
pub async fn profile(st: &MomentumState, p: &Principal) -> Result<Profile, MomentumError> {
    let user = profiles::summary(&st.platform.db, p.user_id)
        .await?
        .ok_or(MomentumError::Identity(IdentityError::UserNotFound))?;
    let (ws, role) = match current_workspace(st, p.user_id).await {
        Ok((ws, role)) => (Some(ws), Some(role)),
        Err(MomentumError::NoWorkspace) => (None, None),
        Err(e) => return Err(e),
    };
    let url_key = match ws {
        Some(id) => workspaces::get(&st.platform.db, id)
            .await?
            .map(|w| w.url_key),
        None => None,
    };
    Ok(Profile {
        user,
        current_workspace_id: ws,
        current_workspace_url_key: url_key,
        current_workspace_role: role,
    })
}

/// A profile change (`PUT /auth/profile`, `PUT /users/profile`).
pub struct ProfileChange {
    /// New display name.
    pub name: Option<String>,
    /// New username.
    pub username: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New avatar URL (`null` clears).
    pub avatar_url: Patch<String>,
}

/// Applies a profile change in one transaction (username and e-mail in the shared account,
/// name and avatar in Momentum's profile).
pub async fn update_profile(
    st: &MomentumState,
    p: &Principal,
    c: ProfileChange,
) -> Result<Profile, MomentumError> {
    let mut check = Check::new();
    let name = c
        .name
        .as_deref()
        .and_then(|n| check.text("name", n, 1, 100));
    let avatar = match &c.avatar_url {
        Patch::Value(v) => check
            .url("avatar_url", v)
            .map(|v| Some(v).filter(|v| !v.is_empty())),
        Patch::Null => Some(None),
        Patch::Absent => None,
    };
    check.finish()?;
    let mut tx = st.platform.db.begin().await?;
    if c.username.is_some() || c.email.is_some() {
        st.identity
            .rename_account(
                &mut tx,
                p.user_id,
                c.username.as_deref(),
                c.email.as_deref(),
            )
            .await
            .map_err(taken)?;
    }
    profiles::update(
        &mut tx,
        p.user_id,
        name.as_deref(),
        avatar.as_ref().map(|a| a.as_deref()),
        st.now(),
    )
    .await?;
    tx.commit().await?;
    profile(st, p).await
}
