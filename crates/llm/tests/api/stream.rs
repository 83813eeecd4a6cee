//! Streamed calls: keep-alives, blank lines, reasoning, the usage chunk and `[DONE]`; edge
//! cases of real providers; errors inside the stream; cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use trellis_llm::fixtures::{FAKE_USAGE, FakeOpenAi, Scripted};
use trellis_llm::{LlmError, StreamDelta};

use crate::{eventually, llm, req, stream};

fn content(s: &str) -> StreamDelta {
    StreamDelta::Content(s.to_string())
}

#[tokio::test]
async fn a_stream_with_keepalives_reasoning_usage_and_done() {
    let fake = FakeOpenAi::start(vec![Scripted::Stream {
        content: vec!["Two meals".into(), " a day.".into()],
        reasoning: vec!["The dog is ".into(), "an adult.".into()],
        keepalive: true,
        delay_ms: 5,
        usage: true,
    }])
    .await;
    let llm = llm(&[("deepseek", &fake)], &[]);
    let (result, deltas) = stream(&llm, &req("How often?")).await;
    let answer = result.unwrap();
    assert_eq!(
        deltas,
        [
            StreamDelta::Reasoning("The dog is ".into()),
            StreamDelta::Reasoning("an adult.".into()),
            content("Two meals"),
            content(" a day."),
        ]
    );
    assert_eq!(answer.content, "Two meals a day.");
    assert_eq!(answer.reasoning, "The dog is an adult.");
    assert_eq!(answer.usage, FAKE_USAGE);
    assert_eq!(answer.provider, "deepseek");
    let body = &fake.bodies()[0];
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(fake.aborted(), 0);
}

#[tokio::test]
async fn a_stream_tolerates_what_real_providers_send() {
    // Comments, blank lines, CRLF, `choices: []`, `content: null`, a role-only delta, usage
    // inside the choice (Moonshot), a null `usage`, a finish_reason chunk, `[DONE]`.
    let body = concat!(
        ": keep-alive\n\n",
        "\n\n",
        "data: {\"choices\":[]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":null}}]}\n\n",
        ": ping\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}]}\n\n",
        "data: [DONE]\n\n",
    );
    let fake = FakeOpenAi::start(vec![Scripted::Sse { body: body.into() }]).await;
    let llm = llm(&[("moonshot", &fake)], &[]);
    let (result, deltas) = stream(&llm, &req("hi")).await;
    let answer = result.unwrap();
    assert_eq!(deltas, [content("ok")]);
    assert_eq!(answer.usage.total_tokens, 4);
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated() {
    let fake = FakeOpenAi::start(vec![Scripted::Stream {
        content: vec!["abcdefgh".into()],
        reasoning: vec![],
        keepalive: false,
        delay_ms: 0,
        usage: false,
    }])
    .await;
    let llm = llm(&[("zai", &fake)], &[]);
    let (result, _) = stream(&llm, &req("1234")).await;
    let usage = result.unwrap().usage;
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1, 2));
}

#[tokio::test]
async fn an_error_chunk_after_content_restarts() {
    let error =
        json!({"error": {"message": "model overloaded", "type": "server_error"}}).to_string();
    let fake = FakeOpenAi::start(vec![
        Scripted::ErrorChunk {
            content: vec!["par".into()],
            body: error,
        },
        Scripted::stream(&["whole"]),
    ])
    .await;
    let llm = llm(&[("dashscope", &fake)], &[]);
    let (result, deltas) = stream(&llm, &req("hi")).await;
    assert_eq!(result.unwrap().content, "whole");
    assert_eq!(deltas.len(), 3, "{deltas:?}");
    assert_eq!(deltas[0], content("par"));
    let StreamDelta::Restart { provider, reason } = &deltas[1] else {
        panic!("{deltas:?}")
    };
    assert_eq!(provider, "dashscope");
    assert!(reason.contains("model overloaded"), "{reason}");
    assert_eq!(deltas[2], content("whole"));
}

#[tokio::test]
async fn a_json_error_in_a_200_to_a_streamed_call_is_retried_without_restart() {
    let fake = FakeOpenAi::start(vec![
        Scripted::ErrorIn200 {
            body: json!({"error": {"message": "busy"}}).to_string(),
        },
        Scripted::stream(&["fine"]),
    ])
    .await;
    let llm = llm(&[("siliconflow", &fake)], &[]);
    let (result, deltas) = stream(&llm, &req("hi")).await;
    assert_eq!(result.unwrap().content, "fine");
    assert_eq!(deltas, [content("fine")]);
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn cancel_during_a_hang_returns_cancelled_and_closes_the_connection() {
    let fake = FakeOpenAi::start(vec![Scripted::Hang {
        content: vec!["partial".into()],
    }])
    .await;
    let llm = llm(&[("deepseek", &fake)], &[]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut seen = Vec::new();
    // The sink cancels on the first delta: the call is then blocked on a hanging stream.
    let result = llm
        .chat_stream(&req("hi"), &cancel, &mut |d| {
            seen.push(d);
            trigger.cancel();
        })
        .await;
    assert_eq!(result, Err(LlmError::Cancelled));
    assert_eq!(seen, [content("partial")]);
    assert!(
        eventually(|| fake.aborted() == 1).await,
        "the fake never saw the client go"
    );
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn cancel_while_waiting_for_a_non_streamed_answer() {
    let fake = FakeOpenAi::start(vec![Scripted::Hang { content: vec![] }]).await;
    let llm = llm(&[("deepseek", &fake)], &[]);
    let cancel = CancellationToken::new();
    let call = {
        let (llm, cancel) = (llm.clone(), cancel.clone());
        tokio::spawn(async move { llm.chat(&req("hi"), &cancel).await })
    };
    assert!(eventually(|| fake.requests() == 1).await);
    cancel.cancel();
    assert_eq!(call.await.unwrap(), Err(LlmError::Cancelled));
    assert!(
        eventually(|| fake.aborted() == 1).await,
        "the fake never saw the client go"
    );
}

#[tokio::test]
async fn cancel_stops_a_retry_wait() {
    let fake = FakeOpenAi::start(vec![Scripted::Status {
        status: 429,
        retry_after: Some(30),
        body: String::new(),
    }])
    .await;
    let llm = llm(&[("deepseek", &fake)], &[]);
    let cancel = CancellationToken::new();
    let call = {
        let (llm, cancel) = (llm.clone(), cancel.clone());
        tokio::spawn(async move { llm.chat(&req("hi"), &cancel).await })
    };
    assert!(eventually(|| fake.requests() == 1).await);
    cancel.cancel();
    assert_eq!(call.await.unwrap(), Err(LlmError::Cancelled));
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn a_cancelled_token_sends_nothing() {
    let fake = FakeOpenAi::start(vec![Scripted::stream(&["never"])]).await;
    let llm = llm(&[("deepseek", &fake)], &[]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let result = llm
        .chat_stream(&req("hi"), &cancel, &mut move |_| {
            flag.store(true, Ordering::SeqCst)
        })
        .await;
    assert_eq!(result, Err(LlmError::Cancelled));
    assert!(!called.load(Ordering::SeqCst));
    assert_eq!(fake.requests(), 0);
}
