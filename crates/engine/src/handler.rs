//! What apps plug into the engine: a [`StepHandler`] per step kind, registered in a
//! [`Registry`]. The engine knows nothing of workflows or diet plans; it calls
//! `handler.run(ctx)` and records what comes back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use trellis_kernel::clock::Clock;
use uuid::Uuid;

use crate::model::StepSpec;

/// The result of one successful try.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// Recorded, shown, and given to later steps.
    pub output: Value,
    /// False: the steps that depend on this one are skipped (a false condition).
    pub proceed: bool,
}

impl StepOutput {
    /// An output that lets dependents run.
    pub fn value(output: Value) -> StepOutput {
        StepOutput {
            output,
            proceed: true,
        }
    }
}

/// Why a try failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StepError {
    /// Worth another try (a timeout, a 5xx, a refused connection), if the policy allows one.
    #[error("{0}")]
    Retryable(String),
    /// Never retried (bad parameters, a 4xx, a failing jq program).
    #[error("{0}")]
    Fatal(String),
}

/// What a handler gets for one try.
#[derive(Clone)]
pub struct StepCtx {
    /// The run.
    pub run_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// The run attempt (1, 2, …).
    pub attempt: i64,
    /// The try of this step within the attempt (1, 2, …).
    pub try_no: u32,
    /// The step as declared.
    pub step: StepSpec,
    /// The run's input.
    pub input: Arc<Value>,
    /// Outputs of the steps completed so far, by step id.
    pub outputs: Arc<BTreeMap<String, Value>>,
    /// Fires when the run is cancelled (or timed out, or the worker shuts down); long steps
    /// select on it and return promptly.
    pub cancel: CancellationToken,
    /// The platform clock (tests move it; waits use [`crate::sleep_until`]).
    pub clock: Clock,
    /// Lines logged by the step, recorded as `step.log` events when the try ends.
    pub logs: Arc<Mutex<Vec<String>>>,
    /// Every handler, so composite steps (`for_each`) can run another kind.
    pub registry: Registry,
    /// Appends the step's own events (progress, streamed tokens) to the run's event log.
    pub events: crate::EventSink,
}

impl StepCtx {
    /// Records a log line for this step (shown in the run's events). Never log secrets.
    pub fn log(&self, line: impl Into<String>) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if logs.len() < 100 {
            logs.push(line.into());
        }
    }

    /// The template context every parameter may refer to:
    /// `{input, steps: {<id>: output}, execution: {id, attempt}}`.
    pub fn template_context(&self) -> Value {
        serde_json::json!({
            "input": *self.input,
            "steps": *self.outputs,
            "execution": {"id": self.run_id, "attempt": self.attempt},
        })
    }
}

/// Runs one step kind.
#[async_trait::async_trait]
pub trait StepHandler: Send + Sync + 'static {
    /// One try of a step. Return promptly once `ctx.cancel` fires.
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError>;

    /// True for a kind with no effect but its output (a jq transform, a condition): the
    /// engine runs it in place and records it with the next commit instead of recording its
    /// start first, so a chain of such steps costs one commit. After a crash it is computed
    /// again (nothing outside saw it) rather than counted as a try.
    fn pure(&self) -> bool {
        false
    }
}

/// Step kinds and their handlers; cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: Arc<HashMap<String, Arc<dyn StepHandler>>>,
}

impl Registry {
    /// A registry of `(kind, handler)` pairs.
    pub fn new(pairs: Vec<(&str, Arc<dyn StepHandler>)>) -> Registry {
        Registry {
            handlers: Arc::new(pairs.into_iter().map(|(k, h)| (k.to_string(), h)).collect()),
        }
    }

    /// The handler of `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn StepHandler>> {
        self.handlers.get(kind).cloned()
    }

    /// Whether `kind` is registered and pure ([`StepHandler::pure`]).
    pub fn is_pure(&self, kind: &str) -> bool {
        self.handlers.get(kind).is_some_and(|h| h.pure())
    }

    /// Whether `kind` is registered.
    pub fn has(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }
}
