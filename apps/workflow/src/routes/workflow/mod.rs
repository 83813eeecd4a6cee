//! `/api/v1/workflow`: definitions with versions, step types, executions with their live
//! event stream, and schedules (issue 10 §2).

mod definitions;
pub(crate) mod events;
mod executions;
pub(crate) mod schedules;

use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::state::WorkflowState;

/// Every `/api/v1/workflow` route with its OpenAPI entry.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .merge(definitions::router())
        .merge(executions::router())
        .merge(events::router())
        .merge(schedules::router())
}

/// What a `DELETE` under `/api/v1/workflow` answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The deleted object's id.
    pub id: Uuid,
}
