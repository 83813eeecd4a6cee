//! The plan task as an engine run (queue `dietplan`): a chain of nodes, each an engine step
//! whose output is stored when it completes, so a crash or restart resumes the task from the
//! last completed node (the engine's takeover) and its followers' streams continue.
//!
//! ```text
//! assess → week_1 → week_2 → week_3 → week_4 → [narrative] → finalize
//! ```
//!
//! `narrative` is planned only when an LLM provider is configured. Each node marks the task
//! `running` at its progress and emits a `progress` event; the engine records
//! `step.started` / `step.completed` (the SSE `node_started` / `node_completed`). The
//! outcome of a run that does not complete (failed, cancelled, timed out) reaches the task
//! row through the outbox topic `run.finished` ([`SettleTask`]).

mod narrative;
mod nodes;

use std::sync::Arc;

use serde_json::{Value, json};
use trellis_engine::{
    Engine, EngineConfig, EngineRef, OutboxEvent, OutboxHandler, Plan, Registry, StepCtx, StepSpec,
};
use trellis_kernel::Platform;
use uuid::Uuid;

use crate::settings::DietSettings;
use crate::store::tasks::{self, TaskStatus};

pub use nodes::progress_of;

/// The engine queue plan tasks run on.
pub const QUEUE: &str = "dietplan";

/// The step kinds of the plan pipeline.
fn registry(
    platform: &Platform,
    llm: Option<trellis_llm::Llm>,
    settings: DietSettings,
) -> Registry {
    Registry::new(vec![
        ("diet.assess", Arc::new(nodes::Assess(platform.clone()))),
        ("diet.week", Arc::new(nodes::WeekNode(platform.clone()))),
        (
            "diet.narrative",
            Arc::new(narrative::NarrativeNode {
                platform: platform.clone(),
                llm,
                settings,
            }),
        ),
        ("diet.finalize", Arc::new(nodes::Finalize(platform.clone()))),
    ])
}

/// The steps of a plan task (`narrative` only with an LLM).
pub fn plan(with_narrative: bool) -> Plan {
    // Every node may run three times: a try lost with its process (a crash, a restart) uses
    // one, and the node runs again on the worker that takes the task over; storage hiccups
    // are retried too. Nodes are idempotent (`finalize` reuses the plan an earlier try stored).
    let retry = trellis_engine::model::RetryPolicy {
        max_attempts: 3,
        backoff: trellis_engine::model::Backoff::Exponential,
        delay_ms: 500,
        max_delay_ms: Some(5000),
        jitter: Some(0.2),
    };
    let step = |id: &str, kind: &str, after: Option<&str>, params: Value| StepSpec {
        id: id.to_string(),
        kind: kind.to_string(),
        depends_on: after.map(|a| vec![a.to_string()]).unwrap_or_default(),
        params,
        retry: Some(retry.clone()),
        timeout_seconds: None,
    };
    let mut steps = vec![step("assess", "diet.assess", None, Value::Null)];
    for n in 1..=4 {
        let prev = if n == 1 {
            "assess".to_string()
        } else {
            format!("week_{}", n - 1)
        };
        steps.push(step(
            &format!("week_{n}"),
            "diet.week",
            Some(&prev),
            json!({"week": n}),
        ));
    }
    let mut last = "week_4";
    if with_narrative {
        steps.push(step(
            "narrative",
            "diet.narrative",
            Some("week_4"),
            Value::Null,
        ));
        last = "narrative";
    }
    steps.push(step("finalize", "diet.finalize", Some(last), Value::Null));
    Plan {
        steps,
        timeout_seconds: Some(3600),
    }
}

/// Builds and starts the diet planner's engine.
pub fn start_engine(
    platform: &Platform,
    llm: Option<trellis_llm::Llm>,
    settings: DietSettings,
) -> Result<Engine, String> {
    let cfg = EngineConfig::from_vars(QUEUE, &platform.config.vars).map_err(|e| e.join("; "))?;
    let cell = EngineRef::default();
    let engine = Engine::builder(platform, cfg, registry(platform, llm, settings))
        .on(
            "run.finished",
            Arc::new(SettleTask {
                platform: platform.clone(),
                engine: cell.clone(),
            }),
        )
        .build();
    cell.set(&engine);
    engine.start();
    Ok(engine)
}

/// `run.finished`: a run that did not complete ends its task `failed` or `cancelled`, with
/// the error and the completed nodes' outputs as partial output (a completed run already
/// completed its task in `finalize`'s transaction). Idempotent.
struct SettleTask {
    platform: Platform,
    engine: EngineRef,
}

#[async_trait::async_trait]
impl OutboxHandler for SettleTask {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        let p = &ev.payload;
        let Some(run) = p
            .get("run_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            return Err("run.finished without run_id".into());
        };
        let status = match p.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(()),
            Some("cancelled") => TaskStatus::Cancelled,
            _ => TaskStatus::Failed,
        };
        let Some(engine) = self.engine.get() else {
            return Err("engine stopped".into());
        };
        let run_row = engine.run(run).await.map_err(|e| e.to_string())?;
        let error = match status {
            TaskStatus::Cancelled => "任务已取消 (cancelled)".to_string(),
            _ => run_row
                .as_ref()
                .and_then(|r| r.error.clone().or(r.reason.clone()))
                .unwrap_or_else(|| "任务失败 (failed)".into()),
        };
        let partial = partial_output(&engine, run).await;
        let now = self.platform.clock.now();
        tasks::finish(&self.platform.db, run, status, &error, &partial, now)
            .await
            .map_err(|e| e.to_string())
    }
}

/// `{partial: {node: output}}` of the nodes that completed in the run's last attempt.
pub async fn partial_output(engine: &Engine, run: Uuid) -> Value {
    let steps = engine.steps(run).await.unwrap_or_default();
    let last = steps.iter().map(|s| s.attempt).max().unwrap_or(1);
    let done: serde_json::Map<String, Value> = steps
        .into_iter()
        .filter(|s| s.attempt == last && s.status == trellis_engine::StepStatus::Completed)
        .filter_map(|s| s.output.map(|o| (s.step_id, o)))
        .collect();
    json!({"partial": done})
}

/// Marks the node started on the task row and emits its `progress` event. Failures are
/// logged, never fatal: the node's work matters more than its progress report.
async fn started(platform: &Platform, ctx: &StepCtx, message: &str) {
    let node = ctx.step.id.as_str();
    let percent = progress_of(node);
    let now = platform.clock.now();
    if let Err(e) = tasks::node_started(&platform.db, ctx.run_id, node, percent, now).await {
        tracing::warn!(task_id = %ctx.run_id, node, error = %e, "dietplan: progress not stored");
    }
    if let Err(e) = ctx
        .events
        .emit(
            "progress",
            json!({"percent": percent, "node": node, "message": message}),
        )
        .await
    {
        tracing::warn!(task_id = %ctx.run_id, node, error = %e, "dietplan: progress event not stored");
    }
}
