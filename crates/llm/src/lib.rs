//! OpenAI-compatible chat completions for the diet planner (issue 12): providers configured
//! from the environment (DashScope, DeepSeek, Moonshot, Z.ai, SiliconFlow), streaming and
//! not, with retries on 429/5xx honouring `Retry-After`, fallback across providers, a
//! cooldown for a failing provider, and token usage and cost on every answer.
//!
//! Shape: [`Llm::from_vars`] reads the settings ([`config`] lists the variables and their
//! defaults) and builds one shared `reqwest` client (rustls, connect timeout 10 s, the
//! whole-attempt timeout of `TRELLIS_LLM_TIMEOUT_SECONDS`). [`Llm::chat`] and
//! [`Llm::chat_stream`] POST `{base}/chat/completions` with a bearer key and walk the
//! providers in order:
//!
//! - 408, 429, 5xx, connect/timeout/reset errors, malformed bodies, an error inside a 200 and
//!   a stream cut mid-answer are retried on the same provider, up to
//!   `TRELLIS_LLM_MAX_RETRIES` times, after `Retry-After` (seconds or an HTTP date, capped at
//!   30 s) or an exponential backoff with jitter (500 ms doubling, capped at 8 s);
//! - other 4xx move on to the next provider at once (401, 402, 403, 404 also start the
//!   cooldown);
//! - a provider that used up its retries is skipped for `TRELLIS_LLM_COOLDOWN_SECONDS` by
//!   every call of this client (and its clones);
//! - when a stream fails after deltas reached the sink, the next attempt's first delta is
//!   preceded by [`StreamDelta::Restart`].
//!
//! Cancelling stops every wait and read at once and drops the in-flight request, which
//! closes its connection. Keys are [`secrecy::SecretString`]: not in `Debug`, logs or error
//! messages (a reason that echoes a key has it replaced by `[redacted]`).
//!
//! The feature `fixtures` adds [`fixtures::FakeOpenAi`], a local OpenAI-compatible server for
//! tests of this crate and of its users.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

mod attempt;
mod call;
pub mod config;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod retry;
mod stream;
mod usage;

/// Connect timeout of the shared client.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// A chat completion request (the model comes from the provider's settings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Upper bound on completion tokens.
    pub max_tokens: Option<u32>,
    /// Ask for a JSON object (`response_format: {"type": "json_object"}`).
    pub json_mode: bool,
}

/// Token counts reported by the provider (or estimated when it reports none).
///
/// The estimate, used only when a provider sends no `usage`, is about four characters per
/// token: `ceil(chars / 4)` of the messages' contents for the prompt and of the answer plus
/// reasoning for the completion (rough for Chinese text; a log line marks estimated usage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

/// What a streaming call reports while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamDelta {
    /// A piece of the answer.
    Content(String),
    /// A piece of the model's reasoning (`reasoning_content`), not part of the answer.
    Reasoning(String),
    /// The provider failed mid-stream and the request starts again on `provider`: discard
    /// the content received so far.
    Restart {
        /// The provider taking over.
        provider: String,
        /// Why the previous one was abandoned.
        reason: String,
    },
}

/// A finished completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer.
    pub content: String,
    /// The reasoning, when the model streamed one.
    pub reasoning: String,
    /// Tokens of the call that produced the answer plus every abandoned attempt.
    pub usage: Usage,
    /// The provider that answered (`deepseek`).
    pub provider: String,
    /// Its model.
    pub model: String,
    /// Estimated cost in US dollars from the configured prices (0 without prices).
    pub cost_usd: f64,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The caller cancelled; the upstream request was dropped.
    #[error("cancelled")]
    Cancelled,
    /// Every configured provider failed (or is cooling down); the message lists why, one
    /// `provider: reason` per provider joined by `; ` (never a key).
    #[error("all LLM providers failed: {0}")]
    Exhausted(String),
}

/// The client; cheap to clone (clones share the connection pool and the cooldowns).
///
/// `Debug` shows the settings with every key as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct Llm {
    providers: Vec<String>,
    engine: Arc<call::Engine>,
}

impl Llm {
    /// The client for the providers whose keys are set, or `None` when none is.
    ///
    /// `vars` are environment variables (see [`config`] for names and defaults); keys that
    /// are empty or placeholders like `your-deepseek-api-key` count as unset.
    ///
    /// Errors: one message per bad variable, naming it (never containing a key); or the
    /// HTTP client cannot be built (its TLS backend fails to initialise).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Option<Llm>, Vec<String>> {
        let Some(settings) = config::parse(vars)? else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("trellis-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| vec![format!("cannot build the LLM HTTP client: {e}")])?;
        let providers = settings
            .providers
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        Ok(Some(Llm {
            providers,
            engine: Arc::new(call::Engine::new(settings, client)),
        }))
    }

    /// The configured providers, in fallback order.
    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    /// A completion, not streamed.
    ///
    /// Errors: [`LlmError::Cancelled`] as soon as `cancel` fires; [`LlmError::Exhausted`]
    /// when every provider failed or is cooling down.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<ChatResponse, LlmError> {
        self.engine.run(req, cancel, None, false).await
    }

    /// A streamed completion: `sink` sees every delta as it arrives.
    ///
    /// After a [`StreamDelta::Restart`] the sink must drop what it received before; the
    /// returned [`ChatResponse`] holds only the answer of the attempt that finished.
    ///
    /// Errors: as [`Llm::chat`].
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        cancel: &CancellationToken,
        sink: &mut (dyn FnMut(StreamDelta) + Send),
    ) -> Result<ChatResponse, LlmError> {
        self.engine.run(req, cancel, Some(sink), true).await
    }
}

/// Problems in the LLM settings, for start-up (empty when they are fine or absent).
pub fn check_settings(vars: &HashMap<String, String>) -> Vec<String> {
    Llm::from_vars(vars).err().unwrap_or_default()
}
