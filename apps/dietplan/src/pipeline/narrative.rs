//! `narrative`: an LLM adds the narrative (overall suggestions, each week's principle, note
//! and suggestions) on top of the engine's numbers (issue 12 "The planner").
//!
//! - The reply must be a JSON object valid against [`nutrition::narrative_schema`]; one
//!   that is not is sent back with the validation errors for repair, at most
//!   `TRELLIS_DIET_LLM_REPAIRS` times; a reply that still does not fit — or providers that
//!   all fail — leave the engine's plan complete with the narrative omitted (the output says
//!   why). The plan's numbers never come from the model: only the narrative's text fields
//!   are read ([`crate::nutrition::assemble`]).
//! - The answer is streamed: content deltas become `llm_token` events, coalesced to at most
//!   `TRELLIS_DIET_TOKEN_FRAMES_PER_SECOND` (20) per task. Reasoning deltas are not sent.
//!   When a provider fails mid-stream and another takes over, a `progress` event says so and
//!   the tokens start again.
//! - Tokens and cost are recorded per task and node (`diet_llm_usage`); a user past
//!   `TRELLIS_DIET_DAILY_TOKEN_BUDGET` today gets the engine's plan without a narrative.
//! - Cancelling the task cancels the upstream request at once (the LLM client drops it).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use trellis_engine::{StepCtx, StepError, StepHandler, StepOutput};
use trellis_kernel::Platform;
use trellis_llm::{ChatRequest, ChatResponse, Llm, LlmError, Message, StreamDelta};

use crate::nutrition::{self, Narrative};
use crate::settings::DietSettings;
use crate::store::usage;

/// The `narrative` node.
pub struct NarrativeNode {
    /// Database and clock.
    pub platform: Platform,
    /// The LLM client (`None`: the node answers "omitted").
    pub llm: Option<Llm>,
    /// Budget, repairs, frame rate.
    pub settings: DietSettings,
}

const SYSTEM: &str = "你是一名宠物营养师助手。你只负责为一份已经由营养引擎计算好的宠物饮食计划撰写说明文字。\
不要修改、重新计算或给出任何能量、重量或营养素数值；计划中的数字已经确定。\
只输出一个 JSON 对象，不要输出 Markdown 或其它文字。\
You write the narrative of a pet diet plan whose numbers are final; never change or restate energy, weights or nutrient amounts. Reply with one JSON object only.";

fn omitted(why: impl Into<String>) -> StepOutput {
    StepOutput::value(json!({"omitted": why.into()}))
}

#[async_trait::async_trait]
impl StepHandler for NarrativeNode {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        super::started(&self.platform, &ctx, "生成营养建议 (writing the narrative)").await;
        let Some(llm) = &self.llm else {
            return Ok(omitted("no LLM provider is configured"));
        };
        let today = self.platform.clock.now().date_naive();
        let spent = usage::tokens_on(&self.platform.db, ctx.owner_id, today)
            .await
            .map_err(|e| StepError::Retryable(e.to_string()))?;
        if spent >= self.settings.daily_token_budget {
            return Ok(omitted(format!(
                "the daily LLM token budget ({}) is spent",
                self.settings.daily_token_budget
            )));
        }
        let schema = nutrition::narrative_schema();
        let validator = jsonschema::draft202012::new(&schema)
            .map_err(|e| StepError::Fatal(format!("narrative schema: {e}")))?;
        let mut messages = vec![
            Message::system(SYSTEM),
            Message::user(prompt(&ctx, &schema)),
        ];
        let first = self.stream(llm, &ctx, &messages).await;
        let mut reply = match first {
            Ok(r) => r,
            Err(LlmError::Cancelled) => return Err(StepError::Fatal("cancelled".into())),
            Err(e) => return Ok(omitted(e.to_string())),
        };
        for repair in 0..=self.settings.llm_repairs {
            self.record(&ctx, &reply).await;
            let problems = match serde_json::from_str::<Value>(strip_fences(&reply.content)) {
                Ok(v) => {
                    let errs: Vec<String> = validator
                        .iter_errors(&v)
                        .take(10)
                        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
                        .collect();
                    if errs.is_empty() {
                        match serde_json::from_value::<Narrative>(v) {
                            Ok(n) => {
                                return Ok(StepOutput::value(json!({
                                    "narrative": n,
                                    "provider": reply.provider,
                                    "model": reply.model,
                                    "repairs": repair,
                                })));
                            }
                            Err(e) => vec![e.to_string()],
                        }
                    } else {
                        errs
                    }
                }
                Err(e) => vec![format!("not JSON: {e}")],
            };
            if repair == self.settings.llm_repairs {
                return Ok(omitted(format!(
                    "the LLM reply did not fit the narrative schema after {repair} repairs: {}",
                    problems.join("; ")
                )));
            }
            messages.push(Message::assistant(reply.content.clone()));
            messages.push(Message::user(format!(
                "你的回复不符合要求的 JSON Schema，请只输出修正后的 JSON 对象。问题 (problems): {}",
                problems.join("; ")
            )));
            let req = ChatRequest {
                messages: messages.clone(),
                temperature: Some(0.2),
                max_tokens: Some(2048),
                json_mode: true,
            };
            reply = match llm.chat(&req, &ctx.cancel).await {
                Ok(r) => r,
                Err(LlmError::Cancelled) => return Err(StepError::Fatal("cancelled".into())),
                Err(e) => return Ok(omitted(e.to_string())),
            };
        }
        Ok(omitted("no repair left"))
    }
}

impl NarrativeNode {
    /// One streamed call; content deltas become coalesced `llm_token` events.
    async fn stream(
        &self,
        llm: &Llm,
        ctx: &StepCtx,
        messages: &[Message],
    ) -> Result<ChatResponse, LlmError> {
        let req = ChatRequest {
            messages: messages.to_vec(),
            temperature: Some(0.4),
            max_tokens: Some(2048),
            json_mode: true,
        };
        let (tx, rx) = mpsc::unbounded_channel::<StreamDelta>();
        let cancel = ctx.cancel.clone();
        let llm = llm.clone();
        let call = async move {
            let mut sink = move |d: StreamDelta| {
                let _ = tx.send(d);
            };
            llm.chat_stream(&req, &cancel, &mut sink).await
        };
        let every =
            Duration::from_millis(1000 / u64::from(self.settings.token_frames_per_second.max(1)));
        let (result, ()) = tokio::join!(call, forward(ctx, rx, every));
        result
    }

    async fn record(&self, ctx: &StepCtx, r: &ChatResponse) {
        let row = usage::UsageRow {
            user_id: ctx.owner_id,
            task_id: ctx.run_id,
            node: &ctx.step.id,
            provider: &r.provider,
            model: &r.model,
            prompt_tokens: r.usage.prompt_tokens as i64,
            completion_tokens: r.usage.completion_tokens as i64,
            cost_usd: r.cost_usd,
            now: self.platform.clock.now(),
        };
        if let Err(e) = usage::record(&self.platform.db, &row).await {
            tracing::warn!(task_id = %ctx.run_id, error = %e, "dietplan: LLM usage not recorded");
        }
    }
}

/// Sends the stream's content as `llm_token` events, at most one per `every`: tokens that
/// arrive in between are joined into the next frame. Ends when the call ends (the sender is
/// dropped), after flushing what is left.
async fn forward(ctx: &StepCtx, mut rx: mpsc::UnboundedReceiver<StreamDelta>, every: Duration) {
    let node = ctx.step.id.clone();
    let mut last: Option<tokio::time::Instant> = None;
    while let Some(first) = rx.recv().await {
        let mut buf = String::new();
        let mut restart = None;
        let take = |d: StreamDelta, buf: &mut String, restart: &mut Option<String>| match d {
            StreamDelta::Content(t) => buf.push_str(&t),
            StreamDelta::Reasoning(_) => {}
            StreamDelta::Restart { provider, reason } => {
                *restart = Some(format!("{provider} ({reason})"));
            }
        };
        take(first, &mut buf, &mut restart);
        if let Some(at) = last
            && restart.is_none()
        {
            tokio::time::sleep_until(at + every).await;
        }
        while restart.is_none()
            && let Ok(d) = rx.try_recv()
        {
            take(d, &mut buf, &mut restart);
        }
        if !buf.is_empty() {
            let _ = ctx
                .events
                .emit("llm_token", json!({"node": node, "token": buf}))
                .await;
            last = Some(tokio::time::Instant::now());
        }
        if let Some(who) = restart {
            let _ = ctx
                .events
                .emit(
                    "progress",
                    json!({"percent": super::progress_of(&node), "node": node,
                           "message": format!("模型服务中断，改由 {who} 重新生成 (restarted on another provider)"),
                           "restart": true}),
                )
                .await;
        }
    }
}

/// The user prompt: the engine's facts (never to be changed) and the reply's schema.
fn prompt(ctx: &StepCtx, schema: &Value) -> String {
    let pet = &ctx.input["pet"];
    let targets = ctx
        .outputs
        .get("assess")
        .map(|a| a["data"]["nutrition_targets"].clone())
        .unwrap_or(Value::Null);
    let weeks: Vec<Value> = (1..=4)
        .map(|n| {
            let w = ctx
                .outputs
                .get(&format!("week_{n}"))
                .map(|w| &w["data"])
                .cloned()
                .unwrap_or(Value::Null);
            let foods: Vec<String> = w["weekly_diet_plan"]["daily_diet_plans"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["food_items"].as_array().into_iter().flatten())
                .filter_map(|f| f["name"].as_str().map(str::to_string))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            json!({"week": n, "foods": foods})
        })
        .collect();
    format!(
        "宠物 (pet): {pet}\n营养目标 (targets, final): {targets}\n每周食材 (foods per week): {}\n\
         请按以下 JSON Schema 输出中文说明 (reply in Chinese, one JSON object matching): {schema}",
        Value::Array(weeks)
    )
}

/// The JSON inside a Markdown code fence, if the model wrapped it in one.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .unwrap_or(t);
    t.strip_suffix("```").unwrap_or(t).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
