//! Administration of other accounts. Admins manage users; only a super admin may act on
//! admins or change roles; nobody acts on their own account through these operations.

use serde::Serialize;
use uuid::Uuid;

use crate::Identity;
use crate::auth::Principal;
use crate::domain::{Role, UserStatus};
use crate::error::IdentityError;
use crate::store::users::{self, ListFilter, User};

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The entries of this page, newest first.
    pub items: Vec<T>,
    /// Entries matching the filter across all pages.
    pub total: i64,
    /// This page's number, from 1.
    pub page: i64,
    /// Entries per page as applied (1 to 100).
    pub page_size: i64,
    /// Number of pages (0 when nothing matches).
    pub pages: i64,
}

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;

impl<T> Page<T> {
    /// Page `page` (from 1) of `size` entries: `items` out of `total`.
    pub fn of(items: Vec<T>, total: i64, page: i64, size: i64) -> Page<T> {
        Page {
            items,
            total,
            page,
            page_size: size,
            pages: if size > 0 {
                (total + size - 1) / size
            } else {
                0
            },
        }
    }
}

impl Identity {
    /// Loads the target and checks the actor may act on it.
    async fn target(&self, actor: &Principal, id: Uuid) -> Result<User, IdentityError> {
        actor.require_admin()?;
        if actor.user_id == id {
            return Err(IdentityError::Invalid(
                "administrators cannot change their own account here".into(),
            ));
        }
        let user = self.user(id).await?;
        if user.role.is_admin() && actor.role != Role::SuperAdmin {
            return Err(IdentityError::Forbidden);
        }
        Ok(user)
    }

    /// One page of accounts matching `filter` (admins only); `page` below 1 is read as 1 and
    /// `page_size` is clamped to 1..=[`MAX_PAGE_SIZE`]. A search over 100 characters or with
    /// control characters is [`IdentityError::Invalid`].
    pub async fn list_users(
        &self,
        actor: &Principal,
        filter: ListFilter,
        page: i64,
        page_size: i64,
    ) -> Result<Page<User>, IdentityError> {
        actor.require_admin()?;
        if let Some(s) = &filter.search
            && (s.chars().count() > 100 || s.chars().any(char::is_control))
        {
            return Err(IdentityError::Invalid(
                "search must be at most 100 characters without control characters".into(),
            ));
        }
        let page = page.max(1);
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        let (items, total) = users::list(
            &self.inner.platform.db,
            &filter,
            page_size,
            (page - 1).saturating_mul(page_size),
        )
        .await?;
        Ok(Page {
            items,
            total,
            page,
            page_size,
            pages: (total + page_size - 1) / page_size,
        })
    }

    /// Sets a user's status; anything but `active` signs out all their sessions.
    pub async fn set_status(
        &self,
        actor: &Principal,
        id: Uuid,
        status: UserStatus,
    ) -> Result<User, IdentityError> {
        let before = self.target(actor, id).await?;
        let mut tx = self.inner.platform.db.begin().await?;
        users::set_status(&mut tx, id, status, self.now()).await?;
        let revoked = if status != UserStatus::Active {
            self.revoke_sessions(&mut tx, id, None, "status_changed")
                .await?
        } else {
            Vec::new()
        };
        self.audit(
            &mut tx,
            Some(id),
            Some(actor.user_id),
            "status_changed",
            None,
            Some(serde_json::json!({"from": before.status.as_str(), "to": status.as_str()})),
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&revoked, Some(id));
        self.user(id).await
    }

    /// Changes a role (super admin only). Authorization reads the current role on every
    /// request, so a promotion takes effect in the user's open sessions; a demotion also signs
    /// every session out (issue 7 item 1: what removes access holds at once, everywhere).
    pub async fn set_role(
        &self,
        actor: &Principal,
        id: Uuid,
        role: Role,
    ) -> Result<User, IdentityError> {
        if actor.role != Role::SuperAdmin {
            return Err(IdentityError::Forbidden);
        }
        let before = self.target(actor, id).await?;
        let mut tx = self.inner.platform.db.begin().await?;
        users::set_role(&mut tx, id, role, self.now()).await?;
        let rank = |r: Role| match r {
            Role::User => 0,
            Role::Admin => 1,
            Role::SuperAdmin => 2,
        };
        let revoked = if rank(role) < rank(before.role) {
            self.revoke_sessions(&mut tx, id, None, "role_changed")
                .await?
        } else {
            Vec::new()
        };
        self.audit(
            &mut tx,
            Some(id),
            Some(actor.user_id),
            "role_changed",
            None,
            Some(serde_json::json!({"from": before.role.as_str(), "to": role.as_str()})),
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&revoked, Some(id));
        self.user(id).await
    }

    /// Clears the lockouts of every source on the account (issue 7 item 12: admin unlock).
    pub async fn unlock_user(&self, actor: &Principal, id: Uuid) -> Result<User, IdentityError> {
        self.target(actor, id).await?;
        let mut tx = self.inner.platform.db.begin().await?;
        users::lock_until(&mut tx, id, None, true).await?;
        crate::store::attempts::clear(&mut tx, id).await?;
        self.audit(
            &mut tx,
            Some(id),
            Some(actor.user_id),
            "account_unlocked",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        self.user(id).await
    }

    /// Deletes an account with its sessions.
    pub async fn delete_user(&self, actor: &Principal, id: Uuid) -> Result<(), IdentityError> {
        let user = self.target(actor, id).await?;
        let mut tx = self.inner.platform.db.begin().await?;
        let revoked = self
            .revoke_sessions(&mut tx, id, None, "user_deleted")
            .await?;
        if !users::delete(&mut tx, id).await? {
            return Err(IdentityError::UserNotFound);
        }
        self.audit(
            &mut tx,
            Some(id),
            Some(actor.user_id),
            "user_deleted",
            None,
            Some(serde_json::json!({"username": user.username})),
        )
        .await?;
        tx.commit().await?;
        self.forget_sessions(&revoked, Some(id));
        Ok(())
    }

    /// The newest audit entries about an account (admins only).
    pub async fn audit_log(
        &self,
        actor: &Principal,
        id: Uuid,
    ) -> Result<Vec<crate::store::audit::Stored>, IdentityError> {
        actor.require_admin()?;
        Ok(crate::store::audit::for_user(&self.inner.platform.db, id, 100).await?)
    }
}

impl Identity {
    /// Creates an administrator from the command line (no actor; the policy still applies).
    pub async fn create_admin(
        &self,
        username: &str,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User, IdentityError> {
        let username = crate::domain::Username::parse(username)?;
        let email = crate::domain::Email::parse(email)?;
        crate::password::check_policy(password, username.as_str(), email.as_str())?;
        let mut tx = self.inner.platform.db.begin().await?;
        let id = self
            .create_account(&mut tx, &username, email.as_str(), password, role)
            .await?;
        self.audit(
            &mut tx,
            Some(id),
            None,
            "admin_created",
            None,
            Some(serde_json::json!({"role": role.as_str()})),
        )
        .await?;
        tx.commit().await?;
        self.user(id).await
    }
}
