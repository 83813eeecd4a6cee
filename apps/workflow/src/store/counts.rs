//! How many of the counted things (definitions, pools, schedules, running executions) a
//! user has now, for the count meters of `/api/v1/subscription/usage`.

use serde::Serialize;
use trellis_kernel::db::{Db, StoreError};
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

/// The user's current counts.
///
/// Always zero for now: the tables holding definitions, proxy pools, schedules and
/// executions arrive with the engine integration, which fills this function in (one
/// `SELECT COUNT(*)` per table, or one query with sub-selects).
pub async fn counts(db: &Db, user: Uuid) -> Result<Counts, StoreError> {
    let _ = (db, user);
    Ok(Counts::default())
}
