//! Momentum's typed state and the `FromRef` parts extractors need.

use std::sync::Arc;

use axum::extract::FromRef;
use trellis_identity::Identity;
use trellis_kernel::Platform;

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
