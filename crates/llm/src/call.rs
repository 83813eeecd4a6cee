//! The fallback loop: providers in order, retries with backoff or `Retry-After`, cooldown of
//! a provider that used up its retries, `Restart` deltas when a stream is abandoned after it
//! reached the sink, usage and cost summed over every attempt.
//!
//! Invariants: at most `1 + max_retries` attempts per provider per call; a provider in
//! cooldown is not contacted; every wait and every read stops at once on cancel (the
//! in-flight request is dropped, which closes its connection); no reason carries a key.

use std::sync::Mutex;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::attempt::{self, AttemptError, Next};
use crate::config::Settings;
use crate::stream::Piece;
use crate::{ChatRequest, ChatResponse, LlmError, StreamDelta, Usage, usage};

/// The shared state behind [`crate::Llm`].
#[derive(Debug)]
pub(crate) struct Engine {
    /// Providers, timeout, retries, cooldown.
    pub settings: Settings,
    /// One client for every provider (rustls, connect timeout 10 s, whole-attempt timeout).
    pub client: reqwest::Client,
    /// Per provider (same index as `settings.providers`): skipped until this instant.
    cooldown_until: Mutex<Vec<Option<Instant>>>,
}

/// Hands pieces to the caller's sink, preceded by a `Restart` when an earlier attempt's
/// pieces must be discarded.
struct Emitter<'a> {
    sink: Option<&'a mut (dyn FnMut(StreamDelta) + Send)>,
    /// Why the last delivered attempt was abandoned, until the next attempt delivers.
    pending_restart: Option<String>,
    /// The provider of the running attempt.
    provider: &'static str,
}

impl Emitter<'_> {
    fn emit(&mut self, piece: Piece) {
        let Some(sink) = self.sink.as_deref_mut() else {
            return;
        };
        if let Some(reason) = self.pending_restart.take() {
            sink(StreamDelta::Restart {
                provider: self.provider.to_string(),
                reason,
            });
        }
        sink(match piece {
            Piece::Content(s) => StreamDelta::Content(s),
            Piece::Reasoning(s) => StreamDelta::Reasoning(s),
        });
    }
}

impl Engine {
    /// An engine over `settings` with `client`.
    pub fn new(settings: Settings, client: reqwest::Client) -> Engine {
        let n = settings.providers.len();
        Engine {
            settings,
            client,
            cooldown_until: Mutex::new(vec![None; n]),
        }
    }

    /// The remaining cooldown of provider `i`, if any.
    fn cooling(&self, i: usize) -> Option<std::time::Duration> {
        // A poisoned lock only means another call panicked mid-update of plain instants.
        let mut until = self
            .cooldown_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let slot = until.get_mut(i)?;
        let left = slot.and_then(|t| t.checked_duration_since(Instant::now()));
        if left.is_none() {
            *slot = None;
        }
        left.filter(|d| !d.is_zero())
    }

    fn start_cooldown(&self, i: usize) {
        if self.settings.cooldown.is_zero() {
            return;
        }
        let mut until = self
            .cooldown_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = until.get_mut(i) {
            *slot = Some(Instant::now() + self.settings.cooldown);
        }
    }

    /// One call: streamed (`sink` sees the deltas) or not.
    pub async fn run(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        sink: Option<&mut (dyn FnMut(StreamDelta) + Send)>,
        stream: bool,
    ) -> Result<ChatResponse, LlmError> {
        if cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.chars().count()).sum();
        let mut out = Emitter {
            sink,
            pending_restart: None,
            provider: "",
        };
        let (mut spent, mut cost) = (Usage::default(), 0.0);
        let mut reasons = Vec::new();
        for (i, provider) in self.settings.providers.iter().enumerate() {
            if let Some(left) = self.cooling(i) {
                reasons.push(format!(
                    "{}: cooling down ({} s left)",
                    provider.name,
                    left.as_secs().max(1)
                ));
                continue;
            }
            out.provider = provider.name;
            let attempts = self.settings.max_retries + 1;
            for n in 1..=attempts {
                let started = Instant::now();
                let result = attempt::run(
                    &self.client,
                    provider,
                    req,
                    stream,
                    prompt_chars,
                    cancel,
                    &mut |piece| out.emit(piece),
                )
                .await;
                let failure = match result {
                    Ok(answer) => {
                        let used = answer.usage.unwrap_or_else(|| {
                            usage::estimate(
                                prompt_chars,
                                answer.content.chars().count() + answer.reasoning.chars().count(),
                            )
                        });
                        spent = usage::add(spent, used);
                        cost += usage::cost(
                            used,
                            provider.price_input_per_mtok,
                            provider.price_output_per_mtok,
                        );
                        tracing::info!(
                            provider = provider.name,
                            model = %provider.model,
                            attempt = n,
                            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                            prompt_tokens = used.prompt_tokens,
                            completion_tokens = used.completion_tokens,
                            usage_estimated = answer.usage.is_none(),
                            "LLM call answered"
                        );
                        return Ok(ChatResponse {
                            content: answer.content,
                            reasoning: answer.reasoning,
                            usage: spent,
                            provider: provider.name.to_string(),
                            model: provider.model.clone(),
                            cost_usd: cost,
                        });
                    }
                    Err(AttemptError::Cancelled) => return Err(LlmError::Cancelled),
                    Err(AttemptError::Failed(f)) => f,
                };
                spent = usage::add(spent, failure.usage);
                cost += usage::cost(
                    failure.usage,
                    provider.price_input_per_mtok,
                    provider.price_output_per_mtok,
                );
                if failure.delivered {
                    out.pending_restart = Some(format!("{}: {}", provider.name, failure.reason));
                }
                tracing::warn!(
                    provider = provider.name,
                    attempt = n,
                    of = attempts,
                    reason = %failure.reason,
                    "LLM attempt failed"
                );
                let wait = match failure.next {
                    Next::Retry(after) if n < attempts => {
                        after.unwrap_or_else(|| crate::retry::backoff(n - 1))
                    }
                    Next::Retry(_) | Next::Cooldown => {
                        self.start_cooldown(i);
                        reasons.push(format!(
                            "{}: {} (after {n} attempt(s))",
                            provider.name, failure.reason
                        ));
                        break;
                    }
                    Next::Fallback => {
                        reasons.push(format!(
                            "{}: {} (not retried)",
                            provider.name, failure.reason
                        ));
                        break;
                    }
                };
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(LlmError::Cancelled),
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
        Err(LlmError::Exhausted(reasons.join("; ")))
    }
}
