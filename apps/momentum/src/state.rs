//! Momentum's typed state and the `FromRef` parts extractors need.

use std::sync::Arc;

use axum::extract::FromRef;
use trellis_identity::Identity;
use trellis_kernel::Platform;

use uuid::Uuid;

use crate::domain::WorkspaceRole;
use crate::settings::Settings;

/// What every Momentum handler can reach; cheap to clone.
#[derive(Clone)]
pub struct MomentumState {
    /// Database, key-value, mail, clock, tasks.
    pub platform: Platform,
    /// Accounts, sessions, tokens (shared with every Trellis app).
    pub identity: Identity,
    /// Rate limits, token lifetimes, invitation expiry.
    pub settings: Arc<Settings>,
    /// Recently read (workspace, role) of each user.
    pub memberships: Arc<MembershipCache>,
}

/// How long (seconds) a request may reuse what an earlier one read about the caller's
/// workspace and role. Changes made through this process clear it at once
/// ([`MembershipCache::forget`]); changes made by another instance sharing the database are
/// seen within this time — the same rule as identity's session cache
/// (`trellis_identity::auth::AUTHORITY_TTL_SECONDS`).
pub const MEMBERSHIP_TTL_SECONDS: u64 = 5;

/// The caller's current workspace and role, by user id, for [`MEMBERSHIP_TTL_SECONDS`]: the
/// one query every authenticated request would otherwise run before its own.
pub struct MembershipCache(moka::sync::Cache<Uuid, (Uuid, WorkspaceRole)>);

impl Default for MembershipCache {
    fn default() -> Self {
        MembershipCache(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(MEMBERSHIP_TTL_SECONDS))
                .build(),
        )
    }
}

impl MembershipCache {
    /// The cached (workspace, role) of `user`.
    pub fn get(&self, user: Uuid) -> Option<(Uuid, WorkspaceRole)> {
        self.0.get(&user)
    }

    /// Remembers what was just read from the database.
    pub fn put(&self, user: Uuid, workspace: Uuid, role: WorkspaceRole) {
        self.0.insert(user, (workspace, role));
    }

    /// Forgets `user`'s entry (after switching, joining, leaving, a role change).
    pub fn forget(&self, user: Uuid) {
        self.0.invalidate(&user);
    }

    /// Forgets every entry (after a workspace is deleted or members removed in bulk).
    pub fn forget_all(&self) {
        self.0.invalidate_all();
    }
}

impl MomentumState {
    /// The platform clock's now, to the microsecond: what PostgreSQL's `TIMESTAMPTZ` keeps,
    /// so an object a write answers equals the one a later read answers.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::SubsecRound::trunc_subsecs(self.platform.clock.now(), 6)
    }
}

impl FromRef<MomentumState> for Identity {
    fn from_ref(s: &MomentumState) -> Identity {
        s.identity.clone()
    }
}

impl FromRef<MomentumState> for Platform {
    fn from_ref(s: &MomentumState) -> Platform {
        s.platform.clone()
    }
}
