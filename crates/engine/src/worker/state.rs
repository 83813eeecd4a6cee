//! The executing run's state: which steps are done, running, waiting for a retry or
//! skipped; their tries and outputs; and the writes and events of the current turn, which
//! commit together ([`apply`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trellis_kernel::db::{StoreError, Tx};

use super::Finished;
use crate::Engine;
use crate::handler::{StepError, StepOutput};
use crate::model::{Run, RunStatus, StepSpec, StepStatus, ms};
use crate::store::{self, NewEvent};

/// One pending write of a turn.
pub(super) enum Write {
    /// A try starts: `running`, tries = n.
    Start(String, i64),
    /// A step ends: status, output, error, proceed, tries made.
    End(String, StepStatus, Option<Value>, Option<String>, bool, i64),
}

/// Applies a turn's writes and events in the caller's transaction.
pub(super) async fn apply(
    tx: &mut Tx,
    run: &Run,
    writes: &[Write],
    events: &[NewEvent],
    now: i64,
) -> Result<(), StoreError> {
    for w in writes {
        match w {
            Write::Start(id, tries) => {
                store::step_started(tx, run.id, run.attempt, id, *tries, now).await?
            }
            Write::End(id, status, out, err, proceed, tries) => {
                store::step_finished(
                    tx,
                    run.id,
                    run.attempt,
                    id,
                    store::StepEnd {
                        status: *status,
                        output: out.as_ref(),
                        error: err.as_deref(),
                        proceed: *proceed,
                        tries: *tries,
                    },
                    now,
                )
                .await?
            }
        }
    }
    store::append_events(tx, run.id, run.attempt, events, now).await?;
    Ok(())
}

/// The executing run's view of its steps, and the writes of the current turn.
pub(super) struct State {
    pub(super) specs: HashMap<String, StepSpec>,
    pub(super) order: Vec<String>,
    pub(super) status: HashMap<String, StepStatus>,
    pub(super) tries: HashMap<String, i64>,
    /// Outputs of the finished steps. Shared with the running steps' contexts (a step gets
    /// the map as it was when it started, without a copy); a step's completion copies it only
    /// while another step still holds the old map (a copy per step start used to keep each
    /// running diet-plan task's weeks twice in memory, issue 12).
    pub(super) outputs: std::sync::Arc<BTreeMap<String, Value>>,
    pub(super) in_flight: HashSet<String>,
    pub(super) waiting: HashSet<String>,
    /// Completed steps whose dependents are skipped (a false condition).
    pub(super) halted: HashSet<String>,
    pub(super) failure: Option<(String, String)>,
    /// Steps whose try was in flight when an earlier worker died.
    pub(super) crashed: Vec<String>,
    pub(super) writes: Vec<Write>,
    pub(super) events: Vec<NewEvent>,
}

impl State {
    pub(super) fn new(run: &Run, records: Vec<crate::model::StepRecord>) -> State {
        let mut st = State {
            specs: run
                .plan
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.clone()))
                .collect(),
            order: run.plan.steps.iter().map(|s| s.id.clone()).collect(),
            status: HashMap::new(),
            tries: HashMap::new(),
            outputs: std::sync::Arc::new(BTreeMap::new()),
            in_flight: HashSet::new(),
            waiting: HashSet::new(),
            halted: HashSet::new(),
            failure: None,
            crashed: Vec::new(),
            writes: Vec::new(),
            events: Vec::new(),
        };
        for r in records {
            st.tries.insert(r.step_id.clone(), r.tries);
            match r.status {
                StepStatus::Completed | StepStatus::Reused => {
                    if !r.proceed {
                        st.halted.insert(r.step_id.clone());
                    }
                    std::sync::Arc::make_mut(&mut st.outputs)
                        .insert(r.step_id.clone(), r.output.clone().unwrap_or(Value::Null));
                }
                // A try in flight when its worker died: it counts as made.
                StepStatus::Running => st.crashed.push(r.step_id.clone()),
                StepStatus::Failed | StepStatus::TimedOut => {
                    st.failure = Some((r.step_id.clone(), r.error.clone().unwrap_or_default()))
                }
                _ => {}
            }
            if r.status != StepStatus::Running {
                st.status.insert(r.step_id, r.status);
            }
        }
        st
    }

    pub(super) fn max_tries(&self, id: &str) -> i64 {
        self.specs
            .get(id)
            .and_then(|s| s.retry.as_ref())
            .map_or(1, |r| i64::from(r.max_attempts.max(1)))
    }

    pub(super) fn logs(&mut self, step: &str, logs: Vec<String>) {
        for line in logs {
            self.events
                .push(NewEvent::step("step.log", step, json!({"message": line})));
        }
    }

    pub(super) fn interrupt(&mut self, ids: &[String], status: StepStatus, reason: &str) {
        for id in ids {
            self.status.insert(id.clone(), status);
            self.writes.push(Write::End(
                id.clone(),
                status,
                None,
                Some(reason.into()),
                true,
                self.tries.get(id.as_str()).copied().unwrap_or(0),
            ));
            self.events.push(NewEvent::step(
                "step.interrupted",
                id,
                json!({"status": status.as_str(), "reason": reason}),
            ));
        }
    }

    /// Marks skips, and returns the steps ready to start (all dependencies done).
    pub(super) fn advance(&mut self) -> Vec<String> {
        let mut ready_now = Vec::new();
        if self.failure.is_some() {
            return ready_now;
        }
        loop {
            let mut changed = false;
            for id in self.order.clone() {
                if self.status.contains_key(&id)
                    || self.in_flight.contains(&id)
                    || self.waiting.contains(&id)
                    || ready_now.contains(&id)
                {
                    continue;
                }
                let Some(spec) = self.specs.get(&id) else {
                    continue;
                };
                let settled = spec.depends_on.iter().all(|d| {
                    self.status
                        .get(d)
                        .is_some_and(|s| s.is_done() || *s == StepStatus::Skipped)
                });
                if !settled {
                    continue;
                }
                let skip = spec.depends_on.iter().any(|d| {
                    self.status.get(d) == Some(&StepStatus::Skipped) || self.halted.contains(d)
                });
                if skip {
                    self.status.insert(id.clone(), StepStatus::Skipped);
                    self.writes.push(Write::End(
                        id.clone(),
                        StepStatus::Skipped,
                        None,
                        None,
                        true,
                        self.tries.get(&id).copied().unwrap_or(0),
                    ));
                    self.events.push(NewEvent::step(
                        "step.skipped",
                        &id,
                        json!({"reason": "a condition it depends on was false"}),
                    ));
                    changed = true;
                    continue;
                }
                // A try lost with its worker already used its slot.
                let used = self.tries.get(&id).copied().unwrap_or(0);
                if self.crashed.contains(&id) && used >= self.max_tries(&id) {
                    let msg = "the worker running this step was lost and no tries remain";
                    self.status.insert(id.clone(), StepStatus::Failed);
                    self.writes.push(Write::End(
                        id.clone(),
                        StepStatus::Failed,
                        None,
                        Some(msg.into()),
                        true,
                        self.tries.get(&id).copied().unwrap_or(0),
                    ));
                    self.events.push(NewEvent::step(
                        "step.failed",
                        &id,
                        json!({"error": msg, "tries": used}),
                    ));
                    self.failure = Some((id.clone(), msg.into()));
                    return Vec::new();
                }
                ready_now.push(id);
            }
            if !changed {
                break;
            }
        }
        ready_now
    }

    /// The run's final state once nothing is in flight and nothing is ready.
    pub(super) fn outcome(&self) -> (RunStatus, Option<String>, Option<String>) {
        match &self.failure {
            Some((step, err)) => (
                RunStatus::Failed,
                Some(format!("step {step} failed")),
                Some(err.clone()),
            ),
            None => (RunStatus::Completed, None, None),
        }
    }

    pub(super) fn complete(&mut self, step: &str, out: StepOutput) {
        self.status.insert(step.to_string(), StepStatus::Completed);
        if !out.proceed {
            self.halted.insert(step.to_string());
        }
        self.writes.push(Write::End(
            step.to_string(),
            StepStatus::Completed,
            Some(out.output.clone()),
            None,
            out.proceed,
            self.tries.get(step).copied().unwrap_or(0),
        ));
        self.events.push(NewEvent::step(
            "step.completed",
            step,
            json!({"output": out.output, "proceed": out.proceed}),
        ));
        std::sync::Arc::make_mut(&mut self.outputs).insert(step.to_string(), out.output);
    }

    /// Takes in one finished try (or a retry whose delay passed).
    pub(super) fn absorb(
        &mut self,
        engine: &Engine,
        f: Finished,
        set: &mut JoinSet<Finished>,
        cancel: &CancellationToken,
    ) {
        let (step, result, logs, took) = match f {
            Finished::RetryDue(step) => {
                self.waiting.remove(&step);
                return;
            }
            Finished::Try {
                step,
                result,
                logs,
                took,
            } => (step, result, logs, took),
        };
        self.in_flight.remove(&step);
        engine.inner.metrics.step_took(took);
        self.logs(&step, logs);
        let e = match result {
            Ok(out) => return self.complete(&step, out),
            Err(e) => e,
        };
        let tries = self.tries.get(&step).copied().unwrap_or(1);
        let retryable = matches!(e, StepError::Retryable(_));
        if retryable && tries < self.max_tries(&step) && self.failure.is_none() {
            let policy = self.specs.get(&step).and_then(|s| s.retry.clone());
            let delay = policy.map_or(0, |p| {
                p.delay_before(tries as u32 + 1, rand::random::<f64>())
            });
            engine.inner.metrics.retry();
            self.writes.push(Write::End(
                step.clone(),
                StepStatus::Running,
                None,
                Some(e.to_string()),
                true,
                self.tries.get(&step).copied().unwrap_or(0),
            ));
            self.events.push(NewEvent::step(
                "step.retrying",
                &step,
                json!({"error": e.to_string(), "try": tries, "delay_ms": delay}),
            ));
            self.waiting.insert(step.clone());
            let clock = engine.inner.platform.clock.clone();
            let until = ms(clock.now()) + delay as i64;
            let cancel = cancel.clone();
            set.spawn(async move {
                crate::sleep_until(&clock, until, &cancel).await;
                Finished::RetryDue(step)
            });
            return;
        }
        self.status.insert(step.clone(), StepStatus::Failed);
        self.writes.push(Write::End(
            step.clone(),
            StepStatus::Failed,
            None,
            Some(e.to_string()),
            true,
            self.tries.get(&step).copied().unwrap_or(0),
        ));
        self.events.push(NewEvent::step(
            "step.failed",
            &step,
            json!({"error": e.to_string(), "tries": tries}),
        ));
        if self.failure.is_none() {
            self.failure = Some((step, e.to_string()));
        }
        // Siblings still running are asked to stop; what they return is still recorded.
        cancel.cancel();
    }
}
