//! The diet planner's typed state, with `FromRef` sub-states for the extractors that need
//! one part (the `Principal` extractor needs `Identity`).

use axum::extract::FromRef;
use trellis_engine::Engine;
use trellis_identity::Identity;
use trellis_kernel::Platform;

use crate::settings::DietSettings;

/// What every diet-planner handler can reach.
#[derive(Clone)]
pub struct DietState {
    /// Database, key-value, blobs, mail, clock.
    pub platform: Platform,
    /// Accounts, sessions, tokens, codes, audit.
    pub identity: Identity,
    /// The durable engine running plan tasks (queue `dietplan`).
    pub engine: Engine,
    /// The LLM client, when a provider key is configured.
    pub llm: Option<trellis_llm::Llm>,
    /// The app's settings.
    pub settings: DietSettings,
    /// Shared per-task event feeds for SSE followers.
    pub hub: crate::stream::Hub,
}

impl FromRef<DietState> for Identity {
    fn from_ref(s: &DietState) -> Identity {
        s.identity.clone()
    }
}

impl FromRef<DietState> for Platform {
    fn from_ref(s: &DietState) -> Platform {
        s.platform.clone()
    }
}
