//! The execution page's live stream: `GET /console/workflows/executions/{id}/events` reads
//! the engine's event log for that run and sends one `patch` per batch of new events (the
//! summary, actions, timeline rows and state changes re-rendered from the execution as it
//! now is, so every patch is idempotent and a replay is harmless), then `end` once the
//! execution has ended and its last event was sent. `console.js` applies the patches.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;
use trellis_console::{Ctx, Lang, Member};
use trellis_identity::Principal;
use uuid::Uuid;

use super::executions::{actions, summary, timeline, transitions};
use super::fail;
use crate::service::executions as svc;
use crate::state::WorkflowState;

/// Shortest time between two patches of one page.
const PATCH_EVERY: Duration = Duration::from_millis(500);

/// Query of the event stream.
#[derive(Deserialize)]
pub struct AfterQuery {
    after: Option<i64>,
}

/// Follows one execution's event log for the detail page.
struct Follow {
    s: WorkflowState,
    principal: Principal,
    ctx: Ctx,
    lang: Lang,
    id: Uuid,
    /// The last event the page has seen.
    last: i64,
    /// Send the page's current state before waiting (the page may have been rendered
    /// between two reads).
    first: bool,
    done: bool,
    /// No patch before this instant (see [`PATCH_EVERY`]).
    next_patch: Option<tokio::time::Instant>,
    wake: broadcast::Receiver<Uuid>,
    revoked: broadcast::Receiver<trellis_identity::auth::Revocation>,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Follow {
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.done {
                return None;
            }
            // At most one patch per [`PATCH_EVERY`]: a chatty run (many step logs) coalesces
            // into one re-render instead of one per event.
            if let Some(at) = self.next_patch.take() {
                tokio::time::sleep_until(at).await;
            }
            let fresh = match self.s.engine.events_after(self.id, self.last, 500).await {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(execution_id = %self.id, error = %e, "console: event stream read failed");
                    return None;
                }
            };
            if let Some(last) = fresh.last() {
                self.last = last.seq;
            }
            if !fresh.is_empty() || self.first {
                self.first = false;
                return self.patch().await;
            }
            let run = match self.s.engine.run(self.id).await {
                Ok(r) => r,
                Err(e) => {
                    // A passing read error: close without `end`, so the browser reconnects
                    // and resumes (`end` would stop the page for good).
                    tracing::warn!(execution_id = %self.id, error = %e, "console: event stream read failed");
                    return None;
                }
            };
            if run.is_none_or(|r| r.status.is_final() && r.last_seq <= self.last) {
                self.done = true;
                return Some(
                    SseEvent::default()
                        .id((self.last + 1).to_string())
                        .event("end")
                        .data("{}"),
                );
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// The page's live parts as they are now.
    async fn patch(&mut self) -> Option<SseEvent> {
        self.next_patch = Some(tokio::time::Instant::now() + PATCH_EVERY);
        let d = svc::detail(&self.s, &self.principal, self.id).await.ok()?;
        let (lang, ctx) = (self.lang, &self.ctx);
        let p = json!([
            {"target": "wf-summary", "mode": "replace", "html": summary(lang, &d).into_string()},
            {"target": "wf-actions", "mode": "replace", "html": actions(lang, ctx, &d).into_string()},
            {"target": "wf-steps", "mode": "replace", "html": timeline(lang, ctx, &d).into_string()},
            {"target": "wf-transitions", "mode": "replace", "html": transitions(lang, &d).into_string()},
        ]);
        Some(
            SseEvent::default()
                .id(self.last.to_string())
                .event("patch")
                .data(p.to_string()),
        )
    }

    /// See [`crate::routes::workflow::events::wait_for_run`].
    async fn wait(&mut self) -> bool {
        crate::routes::workflow::events::wait_for_run(
            &mut self.wake,
            &mut self.revoked,
            &self.shutdown,
            self.id,
            self.principal.session_id,
            self.principal.user_id,
        )
        .await
    }
}

/// `GET /console/workflows/executions/{id}/events`: page patches as Server-Sent Events
/// (`id:` = the last event's sequence number, so `Last-Event-ID` resumes), then `end`;
/// `204` when `end` was already delivered.
pub async fn events(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<AfterQuery>,
    headers: HeaderMap,
) -> Response {
    let run = match svc::run(&s, &m.principal, id).await {
        Ok(r) => r,
        Err(e) => return fail(&m, e),
    };
    let header = trellis_kernel::extract::last_event_id(&headers)
        .ok()
        .flatten();
    let asked = header.or(q.after).unwrap_or(0).max(0);
    if run.status.is_final() && asked > run.last_seq {
        return StatusCode::NO_CONTENT.into_response();
    }
    let follow = Follow {
        wake: s.engine.subscribe(),
        revoked: s.identity.revocations(),
        shutdown: s.platform.tasks.token(),
        principal: m.principal.clone(),
        ctx: m.guest.ctx.clone(),
        lang: m.lang(),
        last: asked.min(run.last_seq),
        first: true,
        done: false,
        next_patch: None,
        id,
        s,
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        f.next().await.map(|ev| (Ok::<_, Infallible>(ev), f))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
