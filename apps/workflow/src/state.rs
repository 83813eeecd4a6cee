//! The workflow app's typed state, with `FromRef` sub-states for the extractors that need one
//! part (the `Principal` extractor needs `Identity`).

use axum::extract::FromRef;
use trellis_engine::Engine;
use trellis_identity::Identity;
use trellis_kernel::Platform;

use crate::runtime::StepTypesOf;

/// What every workflow handler can reach.
#[derive(Clone)]
pub struct WorkflowState {
    /// Database, key-value, blobs, mail, clock.
    pub platform: Platform,
    /// Accounts, sessions, tokens, codes, audit.
    pub identity: Identity,
    /// The durable engine running executions (queue `workflow`).
    pub engine: Engine,
    /// Proxy pools: live leases and reports, tests, periodic validation.
    pub proxies: crate::proxy::validate::Proxies,
    /// Collector settings and fetcher.
    pub collectors: crate::collectors::run::Collectors,
}

impl WorkflowState {
    /// The step types definitions are validated against.
    pub fn step_types(&self) -> StepTypesOf {
        StepTypesOf(self.engine.registry().clone())
    }
}

impl FromRef<WorkflowState> for Identity {
    fn from_ref(s: &WorkflowState) -> Identity {
        s.identity.clone()
    }
}

impl FromRef<WorkflowState> for Platform {
    fn from_ref(s: &WorkflowState) -> Platform {
        s.platform.clone()
    }
}
