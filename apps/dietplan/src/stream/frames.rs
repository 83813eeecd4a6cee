//! What followers see: the task's engine events translated once into the seed's SSE frames
//! (issue 12 "Streaming and resume"), each keeping its event's sequence number as `id:`.
//!
//! | engine event | frame |
//! |---|---|
//! | `run.queued` | `task_created {task_id}` |
//! | `step.started` | `node_started {node}` |
//! | `step.completed` | `node_completed {node, output}` |
//! | `progress` (a node's own) | `progress {percent, node, message}` |
//! | `llm_token` (a node's own) | `llm_token {node, token}` |
//! | `run.takeover` | `progress {…, message: resumed after a restart}` |
//! | `run.completed` | `task_completed {task_id, plan_id}` |
//! | `run.failed`, `run.timed_out`, `run.crashed` | `error {task_id, error}` |
//! | `run.cancelled` | `error {task_id, error: 任务已取消}` |
//!
//! Other events (`run.started`, `step.log`, `run.cancelling`, …) have no frame but keep
//! their place in the sequence, so a follower can tell a gap from a skipped event. Every
//! frame's data carries `type` (the event name, as the original's `data:`-only clients
//! expect) and an RFC 3339 `timestamp`. After a final frame the follower sends `done`
//! (id = final + 1).

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use trellis_engine::Event;
use trellis_kernel::db::Db;
use uuid::Uuid;

use crate::store::plans;

/// One translated event.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The event's sequence number (the SSE `id:`).
    pub seq: i64,
    /// The SSE `event:`; `None` for an event that has no frame.
    pub kind: Option<&'static str>,
    /// The frame as sent (`id:`, `event:`, `data:`, blank line), rendered once and shared
    /// by every follower; empty for an event that has no frame.
    pub wire: Bytes,
    /// Where the `data:` value starts in `wire`.
    data_at: usize,
    /// The task's final event (`task_completed` or `error` of the run's end).
    pub last: bool,
}

impl Frame {
    /// The SSE `data:` (compact JSON, one line); empty for an event that has no frame.
    pub fn data(&self) -> &str {
        let end = self.wire.len().saturating_sub(2).max(self.data_at);
        std::str::from_utf8(self.wire.get(self.data_at..end).unwrap_or_default()).unwrap_or("")
    }
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn frame(seq: i64, kind: &'static str, mut data: Value, at_ms: i64, last: bool) -> Frame {
    if let Some(o) = data.as_object_mut() {
        o.insert("type".into(), json!(kind));
        o.insert("timestamp".into(), json!(rfc3339(at_ms)));
    }
    let data = data.to_string();
    // Compact JSON has no line break, so the data is one `data:` line ending the frame.
    let wire = trellis_kernel::http::sse::event(Some(seq), Some(kind), &data);
    let data_at = wire.len() - data.len() - 2;
    debug_assert!(wire[data_at..].starts_with(data.as_bytes()));
    Frame {
        seq,
        kind: Some(kind),
        data_at,
        wire,
        last,
    }
}

/// What a `node_completed` frame carries of a node's output: the whole output is stored (the
/// node's checkpoint) and the finished plan is `GET /plans/{id}`, so frames stay small for
/// every follower (a week's full output is ~100 KB; 10,000 followers would be 1 GB a week):
///
/// - `assess`: `{energy, nutrition_targets, aafco_profile, meals_per_day, warnings,
///   vet_review_required}`;
/// - `week_N`: `{week, days, daily_kcal: [kcal per day], foods: [distinct food names]}`;
/// - `narrative`: `{provider, model, repairs}` or `{omitted}`;
/// - `finalize`: `{plan_id}`.
pub fn summary(node: &str, output: &Value) -> Value {
    let data = output.get("data").unwrap_or(output);
    let pick = |keys: &[&str]| -> Value {
        let mut m = serde_json::Map::new();
        for k in keys {
            if let Some(v) = data.get(*k) {
                m.insert((*k).to_string(), v.clone());
            }
        }
        Value::Object(m)
    };
    match node {
        "assess" => pick(&[
            "energy",
            "nutrition_targets",
            "aafco_profile",
            "meals_per_day",
            "warnings",
            "vet_review_required",
        ]),
        n if n.starts_with("week_") => {
            let days = data["weekly_diet_plan"]["daily_diet_plans"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut foods: Vec<&str> = days
                .iter()
                .flat_map(|d| {
                    d["food_items"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                })
                .filter_map(|f| f["name"].as_str())
                .collect();
            foods.sort_unstable();
            foods.dedup();
            json!({"week": data.get("oder"), "days": days.len(),
                   "daily_kcal": days.iter().map(|d| d.get("kcal").cloned().unwrap_or(Value::Null)).collect::<Vec<_>>(),
                   "foods": foods})
        }
        "narrative" => {
            let mut m = serde_json::Map::new();
            for k in ["provider", "model", "repairs", "omitted"] {
                if let Some(v) = output.get(k) {
                    m.insert(k.to_string(), v.clone());
                }
            }
            Value::Object(m)
        }
        _ => output.clone(),
    }
}

/// Translates one engine event of task `task` (reads the task's plan id for its completion).
pub async fn translate(db: &Db, task: Uuid, e: &Event) -> Frame {
    let node = e.step_id.clone().unwrap_or_default();
    let at = e.at_ms;
    match e.kind.as_str() {
        "run.queued" => frame(e.seq, "task_created", json!({"task_id": task}), at, false),
        "step.started" => frame(e.seq, "node_started", json!({"node": node}), at, false),
        "step.completed" => frame(
            e.seq,
            "node_completed",
            json!({"node": node, "output": summary(&node, e.data.get("output").unwrap_or(&Value::Null))}),
            at,
            false,
        ),
        "progress" => {
            let mut d = e.data.clone();
            if let Some(o) = d.as_object_mut() {
                o.entry("node").or_insert(json!(node));
            }
            frame(e.seq, "progress", d, at, false)
        }
        "llm_token" => frame(
            e.seq,
            "llm_token",
            json!({"node": node, "token": e.data.get("token").cloned().unwrap_or(json!(""))}),
            at,
            false,
        ),
        "run.takeover" => frame(
            e.seq,
            "progress",
            json!({"percent": Value::Null, "node": Value::Null,
                   "message": "服务重启后任务从最后完成的节点继续 (resumed from the last completed node after a restart)"}),
            at,
            false,
        ),
        "run.completed" => {
            // The plan row, not the task row: the task's `plan_id` is set by the outbox
            // handler after the run ends, the plan row by `finalize` before it.
            let plan = plans::id_of_task(db, task).await.ok().flatten();
            frame(
                e.seq,
                "task_completed",
                json!({"task_id": task, "plan_id": plan}),
                at,
                true,
            )
        }
        "run.cancelled" => frame(
            e.seq,
            "error",
            json!({"task_id": task, "error": "任务已取消 (cancelled)", "status": "cancelled"}),
            at,
            true,
        ),
        "run.failed" | "run.timed_out" | "run.crashed" => {
            let error = e
                .data
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("任务失败 (failed)")
                .to_string();
            frame(
                e.seq,
                "error",
                json!({"task_id": task, "error": error, "status": "failed"}),
                at,
                true,
            )
        }
        _ => Frame {
            seq: e.seq,
            kind: None,
            wire: Bytes::new(),
            data_at: 0,
            last: false,
        },
    }
}
