//! A workflow definition as clients send it, and the checks run on every save (issue 10 §2):
//! each problem is reported at once, named by its JSON path — cycles, unknown step types,
//! missing dependencies, parameters that fail the step type's JSON Schema, and steps that can
//! never run because they depend on a missing or cyclic step.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::model::{Plan, RetryPolicy, StepSpec};
use trellis_kernel::error::FieldError;

/// Most steps one definition may have.
pub const MAX_STEPS: usize = 100;

/// A definition's body: `POST /api/v1/workflow/definitions` and `PUT …/{id}`.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct DefinitionBody {
    /// 1 to 100 characters, unique among the owner's definitions.
    pub name: String,
    /// At most 2,000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// 1 to 100 steps forming a DAG.
    pub steps: Vec<StepBody>,
    /// The whole execution's limit in seconds (1 to 604,800); none: no limit.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// How many executions of this definition may run at once, and what a start beyond
    /// that does.
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    /// A notification sent when an execution fails, times out or crashes (`execution.failed`,
    /// issue 10 §4): the `notify` step type's parameters (`{channel: email|webhook, …}`),
    /// whose templates see `execution` (`id`, `status`, `reason`, `error`) and `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub on_failure: Option<Value>,
}

/// One step of a definition.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct StepBody {
    /// Unique in the definition: letters, digits, `_` and `-`, at most 64.
    pub id: String,
    /// A step type from `GET /api/v1/workflow/step-types`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Ids of the steps that must complete first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The type's parameters (its JSON Schema is in the step-types list); strings may hold
    /// `{{ … }}` templates over `input`, `steps.<id>` and `execution`.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
    /// Retries of a failing try (retryable errors only).
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// One try's limit in seconds (1 to 86,400; default 300).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A definition's concurrency setting (Prefect's concurrency limit with its collision
/// strategy).
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Concurrency {
    /// Executions at once (1 to 1,000).
    pub limit: u32,
    /// What a start beyond the limit does: `enqueue` (wait, the default), `cancel_new` (the
    /// new execution is cancelled at once) or `cancel_running` (the running ones are cancelled).
    #[serde(default)]
    pub policy: CollisionPolicy,
    /// A template over `input` making the limit per key (e.g. `{{ input.host }}`): the limit
    /// then applies to executions with the same rendered key.
    #[serde(default)]
    pub key: Option<String>,
}

/// See [`Concurrency::policy`].
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollisionPolicy {
    /// Wait in `queued` for a slot.
    #[default]
    Enqueue,
    /// Cancel the new execution.
    CancelNew,
    /// Cancel the running executions and start the new one.
    CancelRunning,
}

/// What the caller's environment knows about step types.
pub trait StepTypes {
    /// Whether `kind` exists.
    fn known(&self, kind: &str) -> bool;
    /// Problems of `params` for `kind` (JSON pointers relative to `params`).
    fn check(&self, kind: &str, params: &Value) -> Result<(), Vec<String>>;
}

/// Checks a body and turns it into the plan the engine runs; every problem is returned.
pub fn validate(body: &DefinitionBody, types: &dyn StepTypes) -> Result<Plan, Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut err = |field: String, code: &'static str, message: String| {
        errs.push(FieldError::new(field, code, message));
    };
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        err(
            "name".into(),
            "invalid_length",
            "name must be 1 to 100 characters".into(),
        );
    }
    if name.chars().any(|c| c.is_control()) {
        err(
            "name".into(),
            "invalid_characters",
            "name must not contain control characters".into(),
        );
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        err(
            "description".into(),
            "too_long",
            "description must be at most 2000 characters".into(),
        );
    }
    if body.steps.is_empty() || body.steps.len() > MAX_STEPS {
        err(
            "steps".into(),
            "invalid_length",
            format!("a definition has 1 to {MAX_STEPS} steps"),
        );
    }
    if let Some(t) = body.timeout_seconds
        && !(1..=604_800).contains(&t)
    {
        err(
            "timeout_seconds".into(),
            "out_of_range",
            "timeout_seconds must be 1 to 604800".into(),
        );
    }
    if let Some(c) = &body.concurrency {
        if !(1..=1000).contains(&c.limit) {
            err(
                "concurrency.limit".into(),
                "out_of_range",
                "concurrency.limit must be 1 to 1000".into(),
            );
        }
        if let Some(k) = &c.key
            && (k.trim().is_empty() || k.len() > 500)
        {
            err(
                "concurrency.key".into(),
                "invalid_length",
                "concurrency.key must be 1 to 500 characters".into(),
            );
        }
    }
    if let Some(n) = &body.on_failure
        && let Err(problems) = types.check("notify", n)
    {
        for p in problems {
            err("on_failure".into(), "invalid_params", p);
        }
    }
    let mut seen = HashSet::new();
    let ids: HashSet<&str> = body.steps.iter().map(|s| s.id.as_str()).collect();
    for (i, s) in body.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        let id_ok = !s.id.is_empty()
            && s.id.len() <= 64
            && s.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !id_ok {
            err(
                format!("{at}.id"),
                "invalid_id",
                "a step id is 1 to 64 letters, digits, _ or -".into(),
            );
        }
        if !seen.insert(s.id.as_str()) {
            err(
                format!("{at}.id"),
                "duplicate",
                format!("step id {:?} is used twice", s.id),
            );
        }
        if !types.known(&s.kind) {
            err(
                format!("{at}.type"),
                "unknown_step_type",
                format!("unknown step type {:?}", s.kind),
            );
        } else if let Err(problems) = types.check(&s.kind, &s.params) {
            for p in problems {
                err(format!("{at}.params"), "invalid_params", p);
            }
        }
        for d in &s.depends_on {
            if d == &s.id {
                err(
                    format!("{at}.depends_on"),
                    "self_dependency",
                    format!("step {:?} depends on itself", s.id),
                );
            } else if !ids.contains(d.as_str()) {
                err(
                    format!("{at}.depends_on"),
                    "missing_dependency",
                    format!("step {:?} depends on {d:?}, which does not exist", s.id),
                );
            }
        }
        if let Some(r) = &s.retry {
            if !(1..=20).contains(&r.max_attempts) {
                err(
                    format!("{at}.retry.max_attempts"),
                    "out_of_range",
                    "max_attempts must be 1 to 20".into(),
                );
            }
            if r.delay_ms > 86_400_000 || r.max_delay_ms.is_some_and(|m| m > 86_400_000) {
                err(
                    format!("{at}.retry.delay_ms"),
                    "out_of_range",
                    "delays must be at most 86400000 ms".into(),
                );
            }
            if r.jitter.is_some_and(|j| !(0.0..=1.0).contains(&j)) {
                err(
                    format!("{at}.retry.jitter"),
                    "out_of_range",
                    "jitter must be 0 to 1".into(),
                );
            }
        }
        if let Some(t) = s.timeout_seconds
            && !(1..=86_400).contains(&t)
        {
            err(
                format!("{at}.timeout_seconds"),
                "out_of_range",
                "timeout_seconds must be 1 to 86400".into(),
            );
        }
    }
    // Cycles (Kahn's algorithm: what cannot be ordered is on or behind a cycle), then steps
    // that can never run because something they need is missing or cyclic.
    let index: HashMap<&str, usize> = body
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut indegree: Vec<usize> = body
        .steps
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()) && *d != &s.id)
                .count()
        })
        .collect();
    let mut queue: VecDeque<usize> = (0..body.steps.len())
        .filter(|i| indegree[*i] == 0)
        .collect();
    let mut ordered = vec![false; body.steps.len()];
    while let Some(i) = queue.pop_front() {
        ordered[i] = true;
        for (j, s) in body.steps.iter().enumerate() {
            if s.depends_on.iter().any(|d| d == &body.steps[i].id) && !ordered[j] && j != i {
                indegree[j] = indegree[j].saturating_sub(1);
                if indegree[j] == 0 {
                    queue.push_back(j);
                }
            }
        }
    }
    let cyclic: HashSet<usize> = on_cycles(body, &index);
    for (i, s) in body.steps.iter().enumerate() {
        if cyclic.contains(&i) {
            err(
                format!("steps[{i}].depends_on"),
                "cycle",
                format!("step {:?} is part of a dependency cycle", s.id),
            );
        } else if !ordered[i] {
            err(
                format!("steps[{i}]"),
                "unreachable",
                format!(
                    "step {:?} can never run: it depends on a step in a cycle",
                    s.id
                ),
            );
        }
    }
    let broken: HashSet<&str> = body
        .steps
        .iter()
        .filter(|s| s.depends_on.iter().any(|d| !ids.contains(d.as_str())))
        .map(|s| s.id.as_str())
        .collect();
    if !broken.is_empty() {
        // Dependents of a step with a missing dependency can never run either.
        let mut blocked: HashSet<&str> = broken.clone();
        loop {
            let before = blocked.len();
            for s in &body.steps {
                if s.depends_on.iter().any(|d| blocked.contains(d.as_str())) {
                    blocked.insert(s.id.as_str());
                }
            }
            if blocked.len() == before {
                break;
            }
        }
        for (i, s) in body.steps.iter().enumerate() {
            if blocked.contains(s.id.as_str()) && !broken.contains(s.id.as_str()) {
                err(
                    format!("steps[{i}]"),
                    "unreachable",
                    format!(
                        "step {:?} can never run: a step it depends on has a missing dependency",
                        s.id
                    ),
                );
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(to_plan(body))
}

/// The plan of a body that was validated when it was saved (starting an execution does not
/// check it again: compiling its jq programs costs milliseconds).
pub fn to_plan(body: &DefinitionBody) -> Plan {
    Plan {
        steps: body
            .steps
            .iter()
            .map(|s| StepSpec {
                id: s.id.clone(),
                kind: s.kind.clone(),
                depends_on: s.depends_on.clone(),
                params: s.params.clone(),
                retry: s.retry.clone(),
                timeout_seconds: s.timeout_seconds,
            })
            .collect(),
        timeout_seconds: body.timeout_seconds,
    }
}

/// Steps that lie on a cycle (each can reach itself through its dependencies).
fn on_cycles(body: &DefinitionBody, index: &HashMap<&str, usize>) -> HashSet<usize> {
    let n = body.steps.len();
    let deps: Vec<Vec<usize>> = body
        .steps
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let mut out = HashSet::new();
    for start in 0..n {
        let mut stack: Vec<usize> = deps[start].clone();
        let mut seen = vec![false; n];
        while let Some(i) = stack.pop() {
            if i == start {
                out.insert(start);
                break;
            }
            if !seen[i] {
                seen[i] = true;
                stack.extend(deps[i].iter().copied());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Types;
    impl StepTypes for Types {
        fn known(&self, kind: &str) -> bool {
            kind == "transform"
        }
        fn check(&self, _: &str, params: &Value) -> Result<(), Vec<String>> {
            if params.get("program").is_some() {
                Ok(())
            } else {
                Err(vec!["/program: required".into()])
            }
        }
    }

    fn body(steps: Value) -> DefinitionBody {
        serde_json::from_value(serde_json::json!({"name": "n", "steps": steps})).unwrap()
    }

    fn codes(b: &DefinitionBody) -> Vec<(String, String)> {
        validate(b, &Types)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.code.to_string()))
            .collect()
    }

    #[test]
    fn a_valid_chain_becomes_a_plan() {
        let b = body(serde_json::json!([
            {"id": "a", "type": "transform", "params": {"program": "."}},
            {"id": "b", "type": "transform", "depends_on": ["a"], "params": {"program": "."}}
        ]));
        let plan = validate(&b, &Types).unwrap();
        assert_eq!(plan.steps.len(), 2);
    }

    #[test]
    fn every_problem_is_reported() {
        let b = body(serde_json::json!([
            {"id": "a", "type": "transform", "depends_on": ["c"], "params": {"program": "."}},
            {"id": "b", "type": "nope"},
            {"id": "c", "type": "transform", "depends_on": ["a"], "params": {}},
            {"id": "d", "type": "transform", "depends_on": ["ghost"], "params": {"program": "."}},
            {"id": "e", "type": "transform", "depends_on": ["d"], "params": {"program": "."}},
            {"id": "f", "type": "transform", "depends_on": ["a"], "params": {"program": "."}}
        ]));
        let c = codes(&b);
        let has = |f: &str, code: &str| c.iter().any(|(x, y)| x == f && y == code);
        assert!(has("steps[0].depends_on", "cycle"), "{c:?}");
        assert!(has("steps[2].depends_on", "cycle"), "{c:?}");
        assert!(has("steps[1].type", "unknown_step_type"), "{c:?}");
        assert!(has("steps[2].params", "invalid_params"), "{c:?}");
        assert!(has("steps[3].depends_on", "missing_dependency"), "{c:?}");
        assert!(has("steps[4]", "unreachable"), "{c:?}");
        assert!(has("steps[5]", "unreachable"), "{c:?}");
    }

    #[test]
    fn ids_names_and_limits() {
        let mut b = body(serde_json::json!([
            {"id": "a a", "type": "transform", "params": {"program": "."}, "retry": {"max_attempts": 0}},
            {"id": "x", "type": "transform", "params": {"program": "."}, "depends_on": ["x"]},
            {"id": "x", "type": "transform", "params": {"program": "."}}
        ]));
        b.name = String::new();
        let c = codes(&b);
        let has = |f: &str, code: &str| c.iter().any(|(x, y)| x == f && y == code);
        assert!(has("name", "invalid_length"));
        assert!(has("steps[0].id", "invalid_id"));
        assert!(has("steps[0].retry.max_attempts", "out_of_range"));
        assert!(has("steps[1].depends_on", "self_dependency"));
        assert!(has("steps[2].id", "duplicate"));
    }
}
