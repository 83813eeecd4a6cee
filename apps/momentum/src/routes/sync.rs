//! `GET /sync/delta`: the change log after a `sync_id` (issue 8 "Change log").

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::Query;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::Caller;
use crate::domain::Check;
use crate::envelope::{ListReply, Listed};
use crate::state::MomentumState;
use crate::store::changes::{self, Change};

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new().routes(routes!(delta))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct DeltaQuery {
    /// Entries with a larger `sync_id` than this (0, the default: from the start).
    #[serde(default)]
    #[param(minimum = 0)]
    after: i64,
    /// At most this many (1–1000, default 100). When a page is full, ask again with the
    /// last `sync_id`.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// What changed in the caller's workspace after `after`, oldest first; `meta.next_cursor` is
/// the last `sync_id` when more may follow.
#[utoipa::path(get, path = "/sync/delta", tag = "momentum", params(DeltaQuery),
    responses((status = 200, body = Vec<Change>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn delta(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<DeltaQuery>,
) -> ListReply<Change> {
    let mut check = Check::new();
    if q.after < 0 {
        check.fail("after", "out_of_range", "must be 0 or more");
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        check.fail("limit", "out_of_range", "must be from 1 to 1000");
    }
    check.finish()?;
    let items = changes::after(&st.platform.db, c.workspace_id(), q.after, limit)
        .await
        .map_err(crate::error::MomentumError::from)?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|c| c.sync_id.to_string()))
        .flatten();
    Ok(Listed {
        items,
        pagination: None,
        next_cursor: next,
        message: "changes",
    })
}
