//! How many of the counted things (definitions, pools, schedules, running executions) a
//! user has now, for the count meters of `/api/v1/subscription/usage`.

use serde::Serialize;
use trellis_kernel::db::{Db, StoreError};
use trellis_kernel::on_db_read;
use uuid::Uuid;

/// The current number of each counted thing of one user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Workflow definitions the user owns.
    pub workflow_definitions: i64,
    /// Proxy pools the user owns.
    pub proxy_pools: i64,
    /// Schedules the user owns.
    pub schedules: i64,
    /// The user's executions that are running now.
    pub concurrent_executions: i64,
}

/// The user's current counts: definitions, schedules, running executions and proxy pools.
pub async fn counts(db: &Db, user: Uuid) -> Result<Counts, StoreError> {
    let (definitions, schedules, running, pools): (i64, i64, i64, i64) = on_db_read!(db, p => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM wf_definitions WHERE owner_id = $1), \
                (SELECT COUNT(*) FROM engine_schedules WHERE owner_id = $1 AND queue = 'workflow'), \
                (SELECT COUNT(*) FROM engine_runs WHERE owner_id = $1 AND queue = 'workflow' \
                    AND status IN ('running', 'cancelling')), \
                (SELECT COUNT(*) FROM wf_proxy_pools WHERE owner_id = $1)")
        .bind(user).fetch_one(p).await)?;
    Ok(Counts {
        workflow_definitions: definitions,
        proxy_pools: pools,
        schedules,
        concurrent_executions: running,
    })
}
