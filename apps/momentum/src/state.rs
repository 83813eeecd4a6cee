//! Momentum's typed state and the `FromRef` parts extractors need.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Sockets, topics and change-log feeds (issue 9).
    pub live: Arc<crate::realtime::Live>,
}

/// How long (seconds) a request may reuse what an earlier one read about the caller's
/// workspace and role. Changes made through this process clear it at once
/// ([`MembershipCache::forget`]); changes made by another instance sharing the database are
/// seen within this time — the same rule as identity's session cache
/// (`trellis_identity::auth::AUTHORITY_TTL_SECONDS`).
pub const MEMBERSHIP_TTL_SECONDS: u64 = 5;

/// The caller's current workspace and role, by user id, for [`MEMBERSHIP_TTL_SECONDS`]: the
/// one query every authenticated request would otherwise run before its own.
///
/// A read that began before a change must not be cached after the change forgot the entry
/// (a member removed while one of their requests was reading would keep their access for
/// the TTL): readers take a [`Ticket`] before querying, every forget moves an epoch on, and
/// [`MembershipCache::put`] drops what it stored when the epoch moved since the ticket.
pub struct MembershipCache {
    entries: moka::sync::Cache<Uuid, (Uuid, WorkspaceRole)>,
    epoch: AtomicU64,
}

/// When a database read of a membership began (see [`MembershipCache::ticket`]).
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl Default for MembershipCache {
    fn default() -> Self {
        MembershipCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(MEMBERSHIP_TTL_SECONDS))
                .build(),
            epoch: AtomicU64::new(0),
        }
    }
}

impl MembershipCache {
    /// The cached (workspace, role) of `user`.
    pub fn get(&self, user: Uuid) -> Option<(Uuid, WorkspaceRole)> {
        self.entries.get(&user)
    }

    /// Taken before reading a membership from the database, and handed to [`Self::put`].
    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::SeqCst))
    }

    /// Remembers what was just read from the database, unless a change was forgotten since
    /// `ticket` was taken (the read may predate it).
    pub fn put(&self, ticket: Ticket, user: Uuid, workspace: Uuid, role: WorkspaceRole) {
        self.entries.insert(user, (workspace, role));
        // Checked after the insert: a forget that moved the epoch before this load is seen
        // here; one that moves it later invalidates the entry itself.
        if self.epoch.load(Ordering::SeqCst) != ticket.0 {
            self.entries.invalidate(&user);
        }
    }

    /// Forgets `user`'s entry (after switching, joining, leaving, a role change).
    pub fn forget(&self, user: Uuid) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(&user);
    }

    /// Forgets every entry (after a workspace is deleted or members removed in bulk).
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (tenancy walk): a membership read that began before a removal, stored
    /// after the removal forgot the user, kept the removed member in for the cache's TTL.
    #[test]
    fn a_read_older_than_a_change_is_not_cached() {
        let cache = MembershipCache::default();
        let (user, other, ws) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let before = cache.ticket();
        cache.forget(user);
        cache.put(before, user, ws, WorkspaceRole::Member);
        assert_eq!(cache.get(user), None);
        let before = cache.ticket();
        cache.forget_all();
        cache.put(before, other, ws, WorkspaceRole::Admin);
        assert_eq!(cache.get(other), None);
        // Reads that began after the change are cached as before.
        let after = cache.ticket();
        cache.put(after, user, ws, WorkspaceRole::Member);
        assert_eq!(cache.get(user), Some((ws, WorkspaceRole::Member)));
    }
}
