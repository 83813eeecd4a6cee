//! `GET /api/v1/workflow/executions/{execution_id}/events`: the execution's event log as
//! Server-Sent Events. Each event's `id:` is its sequence number, so a client that
//! reconnects with `Last-Event-ID` (or `?after=`) gets exactly the events after it — no
//! loss, no duplicate. The stream ends after the execution's final event, when the caller's
//! session is revoked, or at shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast;
use trellis_engine::{Engine, Event};
use trellis_identity::Principal;
use trellis_identity::auth::Revocation;
use trellis_kernel::ApiError;
use trellis_kernel::extract::{Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::WorkflowError;
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new().routes(routes!(events))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Start after this sequence number (the `Last-Event-ID` header wins when both are sent).
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// The execution's events as `text/event-stream`: `id:` = sequence number, `event:` = kind
/// (`run.started`, `step.completed`, …), `data:` = `{seq, kind, step_id, attempt, data, at_ms}`.
#[utoipa::path(get, path = "/api/v1/workflow/executions/{execution_id}/events", tag = "workflow",
    params(("execution_id" = Uuid, Path, description = "Execution id"), EventsQuery,
           ("Last-Event-ID" = Option<String>, Header, pattern = "^[0-9]{0,18}$", description = "Resume after this sequence number")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "The event stream"),
              (status = 404, description = "Not found")),
    security(("bearer" = [])))]
async fn events(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::service::executions::run(&s, &p, id).await?;
    let header = trellis_kernel::extract::last_event_id(&headers)
        .map_err(|f| WorkflowError::Fields(vec![f]))?;
    if q.after.is_some_and(|a| a < 0) {
        return Err(WorkflowError::field("after", "invalid", "after must be 0 or more").into());
    }
    let after = header.or(q.after).unwrap_or(0);
    let follow = Follow {
        engine: s.engine.clone(),
        run: id,
        last: after,
        buffer: VecDeque::new(),
        done: false,
        wake: s.engine.subscribe(),
        revoked: s.identity.revocations(),
        session: p.session_id,
        user: p.user_id,
        shutdown: s.platform.tasks.token(),
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        f.next().await.map(|ev| (Ok::<_, Infallible>(ev), f))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

struct Follow {
    engine: Engine,
    run: Uuid,
    last: i64,
    buffer: VecDeque<Event>,
    done: bool,
    wake: broadcast::Receiver<Uuid>,
    revoked: broadcast::Receiver<Revocation>,
    session: Uuid,
    user: Uuid,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Follow {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                self.last = e.seq;
                let data = serde_json::to_string(&e).unwrap_or_default();
                return Some(
                    SseEvent::default()
                        .id(e.seq.to_string())
                        .event(e.kind.clone())
                        .data(data),
                );
            }
            if self.done {
                return None;
            }
            match self.engine.events_after(self.run, self.last, 500).await {
                Ok(events) if !events.is_empty() => {
                    self.buffer.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(execution_id = %self.run, error = %e, "workflow: event stream read failed");
                    return None;
                }
            }
            // Nothing new: the stream ends once the run has ended and its last event was sent.
            match self.engine.run(self.run).await {
                Ok(Some(r)) if r.status.is_final() && r.last_seq <= self.last => self.done = true,
                Ok(None) => self.done = true,
                _ => {}
            }
            if self.done {
                continue;
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// See [`wait_for_run`].
    async fn wait(&mut self) -> bool {
        wait_for_run(
            &mut self.wake,
            &mut self.revoked,
            &self.shutdown,
            self.run,
            self.session,
            self.user,
        )
        .await
    }
}

/// Waits for a new event of `run` on this instance or a poll tick (500 ms: events written on
/// another instance): true; a revocation of `session` (or of all of `user`'s sessions) or
/// shutdown: false. Shared by the API's event stream and the console's execution page.
pub(crate) async fn wait_for_run(
    wake: &mut broadcast::Receiver<Uuid>,
    revoked: &mut broadcast::Receiver<Revocation>,
    shutdown: &tokio_util::sync::CancellationToken,
    run: Uuid,
    session: Uuid,
    user: Uuid,
) -> bool {
    let tick = tokio::time::sleep(Duration::from_millis(500));
    tokio::pin!(tick);
    loop {
        tokio::select! {
            r = wake.recv() => match r {
                Ok(id) if id == run => return true,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            },
            r = revoked.recv() => match r {
                Ok(rev) if rev.sessions.contains(&session) || rev.user == Some(user) => return false,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return false,
            },
            _ = &mut tick => return true,
            _ = shutdown.cancelled() => return false,
        }
    }
}
