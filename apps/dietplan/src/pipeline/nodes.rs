//! The deterministic nodes: `assess`, `week_N` and `finalize`, thin wrappers over
//! [`crate::nutrition`] that read earlier nodes' outputs and store the plan.

use serde_json::{Value, json};
use trellis_engine::{StepCtx, StepError, StepHandler, StepOutput};
use trellis_kernel::Platform;
use uuid::Uuid;

use crate::nutrition::{self, Assessment, Narrative, Week};
use crate::store::{plans, tasks};

/// The task's progress (0–100) when `node` starts.
pub fn progress_of(node: &str) -> i64 {
    match node {
        "assess" => 5,
        "week_1" => 15,
        "week_2" => 30,
        "week_3" => 45,
        "week_4" => 60,
        "narrative" => 75,
        "finalize" => 95,
        _ => 0,
    }
}

/// The run's pet profile (`input.pet`).
pub(crate) fn pet_of(ctx: &StepCtx) -> Result<nutrition::Pet, StepError> {
    serde_json::from_value(ctx.input["pet"].clone())
        .map_err(|e| StepError::Fatal(format!("task input has no valid pet: {e}")))
}

fn output<T: serde::de::DeserializeOwned>(ctx: &StepCtx, node: &str) -> Result<T, StepError> {
    let v = ctx
        .outputs
        .get(node)
        .ok_or_else(|| StepError::Fatal(format!("node {node} has no output")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| StepError::Fatal(format!("node {node} output unreadable: {e}")))
}

fn fatal(e: impl std::fmt::Display) -> StepError {
    StepError::Fatal(e.to_string())
}

/// `assess`: energy, targets and ingredient choice.
pub struct Assess(pub Platform);

#[async_trait::async_trait]
impl StepHandler for Assess {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        super::started(
            &self.0,
            &ctx,
            "计算能量与营养目标 (energy and nutrient targets)",
        )
        .await;
        let pet = pet_of(&ctx)?;
        let a = nutrition::assess(&pet).map_err(|r| fatal(format!("{}: {}", r.code, r.message)))?;
        Ok(StepOutput::value(serde_json::to_value(&a).map_err(fatal)?))
    }
}

/// `week_N`: one week of daily plans.
pub struct WeekNode(pub Platform);

#[async_trait::async_trait]
impl StepHandler for WeekNode {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let n = ctx.step.params["week"].as_u64().unwrap_or(1).clamp(1, 4) as u8;
        super::started(
            &self.0,
            &ctx,
            &format!("编排第 {n} 周食谱 (planning week {n})"),
        )
        .await;
        let pet = pet_of(&ctx)?;
        let a: Assessment = output(&ctx, "assess")?;
        let w = nutrition::plan_week(&pet, &a, n);
        Ok(StepOutput::value(serde_json::to_value(&w).map_err(fatal)?))
    }
}

/// `finalize`: assembles the `PetDietPlan`, stores it and completes the task in one
/// transaction. Run again after a crash, it finds the plan its first try stored.
pub struct Finalize(pub Platform);

#[async_trait::async_trait]
impl StepHandler for Finalize {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        super::started(&self.0, &ctx, "生成并保存饮食计划 (saving the plan)").await;
        let pet = pet_of(&ctx)?;
        let a: Assessment = output(&ctx, "assess")?;
        let weeks = (1..=4)
            .map(|n| output::<Week>(&ctx, &format!("week_{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        let narrative: Option<Narrative> = ctx
            .outputs
            .get("narrative")
            .and_then(|v| v.get("narrative"))
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut data = nutrition::assemble(&pet, &a, &weeks, narrative.as_ref());
        // Say why a plan has no narrative: the node was not planned (no provider when the
        // task was created) or it gave up (budget, providers, a reply that never fit).
        let omitted = match ctx.outputs.get("narrative") {
            None => Some("no LLM provider is configured"),
            Some(v) => v.get("omitted").and_then(Value::as_str),
        };
        if let Some(why) = omitted
            && let Some(obj) = data.as_object_mut()
        {
            obj.insert("narrative_omitted".into(), json!(why));
        }
        let user = ctx.owner_id;
        let pet_id = ctx.input["pet_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok());
        let now = self.0.clock.now();
        let mut tx = self.0.db.begin().await.map_err(retry)?;
        let plan_id = match plans::by_task(&mut tx, ctx.run_id).await.map_err(retry)? {
            Some(id) => id,
            None => {
                let id = Uuid::now_v7();
                let species = if pet.species == nutrition::Species::Cat {
                    "cat"
                } else {
                    "dog"
                };
                plans::insert(
                    &mut tx,
                    &plans::NewPlan {
                        id,
                        user_id: user,
                        task_id: ctx.run_id,
                        pet_id,
                        pet_type: species,
                        pet_breed: pet.breed.as_deref(),
                        pet_age: i64::from(pet.age_months),
                        pet_weight: pet.weight_kg,
                        health_status: pet.health_notes.as_deref(),
                        plan_data: &data,
                        now,
                    },
                )
                .await
                .map_err(retry)?;
                id
            }
        };
        tasks::complete(
            &mut tx,
            ctx.run_id,
            plan_id,
            &json!({"plan_id": plan_id, "plan_data": data}),
            now,
        )
        .await
        .map_err(retry)?;
        tx.commit().await.map_err(retry)?;
        Ok(StepOutput::value(json!({"plan_id": plan_id})))
    }
}

fn retry(e: impl std::fmt::Display) -> StepError {
    StepError::Retryable(e.to_string())
}
