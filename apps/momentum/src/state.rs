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
    /// The platform clock's now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.platform.clock.now()
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
