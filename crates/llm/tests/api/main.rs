//! Integration tests of `trellis-llm` against `FakeOpenAi` (real HTTP, real SSE on
//! loopback), and the helpers they share: a client over fakes, a request, a stream
//! collector. No test asserts a duration.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed assumption is a failed test"
)]

mod chat;
mod fallback;
mod settings;
mod stream;

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;
use trellis_llm::fixtures::FakeOpenAi;
use trellis_llm::{ChatRequest, ChatResponse, Llm, LlmError, Message, StreamDelta};

/// A client over `fakes` (provider name, fake), in that order, plus `extra` variables.
pub fn llm(fakes: &[(&str, &FakeOpenAi)], extra: &[(&str, &str)]) -> Llm {
    let mut vars = HashMap::new();
    for (name, fake) in fakes {
        vars.extend(fake.vars(name));
    }
    let order: Vec<&str> = fakes.iter().map(|(name, _)| *name).collect();
    vars.insert("TRELLIS_LLM_PROVIDERS".to_string(), order.join(","));
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Llm::from_vars(&vars).unwrap().unwrap()
}

/// A one-message request.
pub fn req(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(text)],
        ..Default::default()
    }
}

/// A streamed call, returning the result and every delta the sink saw.
pub async fn stream(
    llm: &Llm,
    req: &ChatRequest,
) -> (Result<ChatResponse, LlmError>, Vec<StreamDelta>) {
    let mut deltas = Vec::new();
    let cancel = CancellationToken::new();
    let result = llm.chat_stream(req, &cancel, &mut |d| deltas.push(d)).await;
    (result, deltas)
}

/// Waits (up to 10 s, polling) until `f` holds; false if it never did.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    f()
}
