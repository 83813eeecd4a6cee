//! `POST /api/v1/plans/stream` (create a plan task and follow it) and
//! `GET /api/v1/plans/stream?task_id=` (follow or resume it) as Server-Sent Events.
//!
//! The task runs in the engine; these streams only follow its event log
//! ([`crate::stream`]), so a disconnect never cancels it and any number of clients may
//! follow one task. Frames: `id: <seq>` on every frame, `event: <type>`, `data: <json>`
//! (types in [`crate::stream::frames`]), then `done`. A `retry:` hint comes with the first
//! frame and a `: keep-alive` comment every 15 s; responses are never compressed and carry
//! `Cache-Control: no-cache` and `X-Accel-Buffering: no`.
//!
//! Resume: `Last-Event-ID` (or `?last_event_id=`) replays exactly the frames after it, then
//! follows live. Without one, `GET` sends `resumed {status, progress, current_node}` (id 0)
//! and replays from the start. A finished task replays and ends with its final frame and
//! `done`; asking after `done` answers 204 (EventSource stops reconnecting). When the event
//! history has expired (engine retention), or the id is beyond the log, a `reset` frame
//! carries the task's current snapshot.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use trellis_identity::Principal;
use trellis_kernel::ApiError;
use trellis_kernel::extract::{Json, Query};
use trellis_kernel::http::sse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::DietError;
use crate::service::tasks::{self as task_svc, PlanRequest};
use crate::state::DietState;
use crate::store::tasks::Task;
use crate::stream::follow::{Caller, Follower, done_frame, lead_frame};

/// The streaming routes.
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new().routes(routes!(resume, create_and_stream))
}

/// Query of `GET /plans/stream`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// The task to follow.
    pub task_id: Uuid,
    /// Resume after this frame id (the `Last-Event-ID` header wins when both are sent).
    #[param(minimum = 0)]
    pub last_event_id: Option<i64>,
}

/// Create a plan task and stream it (`task_created` first). Same body, limits and
/// `Idempotency-Key` as `POST /plans`; a repeated key streams the earlier task from the start.
#[utoipa::path(post, path = "/api/v1/plans/stream", tag = "dietplan", request_body = PlanRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation key")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "The task's frames"),
              (status = 404, description = "Pet not found"), (status = 422, description = "Invalid pet info"),
              (status = 429, description = "Too many active tasks")),
    security(("bearer" = [])))]
async fn create_and_stream(
    State(s): State<DietState>,
    p: Principal,
    headers: HeaderMap,
    Json(b): Json<PlanRequest>,
) -> Result<Response, ApiError> {
    let key = crate::routes::plans::idempotency_key(&headers)?;
    let created = task_svc::create(&s, &p, &b, key).await?;
    let f = Follower::start(
        &s.hub,
        created.task_id,
        0,
        Vec::new(),
        false,
        caller(&s, &p),
    )
    .await;
    Ok(sse(f))
}

/// Follow or resume a task's stream (see the module docs for `Last-Event-ID`).
#[utoipa::path(get, path = "/api/v1/plans/stream", tag = "dietplan",
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{0,18}$", description = "Resume after this frame id")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "The task's frames"),
              (status = 204, description = "The stream already ended (done was delivered)"),
              (status = 404, description = "Not found"), (status = 422, description = "Bad Last-Event-ID")),
    security(("bearer" = [])))]
async fn resume(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let header =
        trellis_kernel::extract::last_event_id(&headers).map_err(|f| DietError::Fields(vec![f]))?;
    if q.last_event_id.is_some_and(|a| a < 0) {
        return Err(
            DietError::field("last_event_id", "invalid", "last_event_id is 0 or more").into(),
        );
    }
    let after = header.or(q.last_event_id);
    let (task, run) = task_svc::get_with_run(&s, &p, q.task_id).await?;
    let Some(run) = run else {
        // The event history is gone (retention): the snapshot, then done.
        let reset = sse::with_retry(
            Duration::from_millis(crate::stream::follow::RETRY_MS),
            &snapshot("reset", &task, 0),
        );
        let frames = vec![reset, done_frame(task.id, 1)];
        return Ok(sse_of(futures::stream::iter(frames)));
    };
    let last = run.last_seq;
    let finished = run.status.is_final();
    let (from, lead, done_now) = match after {
        Some(n) if finished && n == last + 1 => return Ok(StatusCode::NO_CONTENT.into_response()),
        Some(n) if n > last + 1 || (n == last + 1 && !finished) => {
            // An id the log never had: start over from the snapshot at the log's end.
            (last, vec![snapshot("reset", &task, last)], finished)
        }
        Some(n) => (n, Vec::new(), finished && n >= last),
        None => (0, vec![snapshot("resumed", &task, 0)], false),
    };
    let f = Follower::start(&s.hub, task.id, from, lead, done_now, caller(&s, &p)).await;
    Ok(sse(f))
}

fn caller(s: &DietState, p: &Principal) -> Caller {
    Caller {
        session: p.session_id,
        user: p.user_id,
        revoked: s.identity.revocations(),
    }
}

/// A `resumed` or `reset` frame with the task's snapshot.
fn snapshot(kind: &'static str, t: &Task, id: i64) -> Bytes {
    let data = json!({
        "type": kind,
        "task_id": t.id,
        "status": t.status,
        "progress": t.progress,
        "current_node": t.current_node,
        "plan_id": t.plan_id,
        "error": t.error_message,
        "has_history": kind == "resumed",
        "timestamp": crate::stream::frames::rfc3339(chrono::Utc::now().timestamp_millis()),
    });
    lead_frame(id, kind, &data)
}

fn sse(f: Follower) -> Response {
    let stream = futures::stream::unfold(f, |mut f| async move { f.next().await.map(|b| (b, f)) });
    sse_of(stream)
}

/// An SSE response of rendered `frames`: `: keep-alive` every 15 s of silence,
/// `Cache-Control: no-cache`, `X-Accel-Buffering: no` (also the console's task stream).
pub(crate) fn sse_of<S>(frames: S) -> Response
where
    S: futures::Stream<Item = Bytes> + Send + 'static,
{
    sse::response(frames, KEEP_ALIVE)
}

/// Silence after which a stream gets a `: keep-alive` comment (issue 12).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
