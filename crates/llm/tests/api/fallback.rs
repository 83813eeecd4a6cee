//! Fallback across providers: a stream that breaks mid-answer restarts elsewhere, a provider
//! that used up its retries cools down (for every clone of the client).

use tokio_util::sync::CancellationToken;
use trellis_llm::fixtures::{FAKE_USAGE, FakeOpenAi, Scripted};
use trellis_llm::{LlmError, StreamDelta};

use crate::{llm, req, stream};

fn unavailable() -> Scripted {
    Scripted::Status {
        status: 503,
        retry_after: None,
        body: String::new(),
    }
}

#[tokio::test]
async fn a_mid_stream_failure_restarts_on_the_next_provider() {
    let first = FakeOpenAi::start(vec![Scripted::FailMidStream {
        content: vec!["Feed ".into(), "thr".into()],
    }])
    .await;
    let second = FakeOpenAi::start(vec![Scripted::stream(&["Feed twice."])]).await;
    let llm = llm(
        &[("deepseek", &first), ("moonshot", &second)],
        &[("TRELLIS_LLM_MAX_RETRIES", "0")],
    );
    let (result, deltas) = stream(&llm, &req("hi")).await;
    let answer = result.unwrap();
    assert_eq!(answer.content, "Feed twice.");
    assert_eq!(answer.provider, "moonshot");
    assert_eq!(deltas.len(), 4, "{deltas:?}");
    assert_eq!(
        deltas[..2],
        [
            StreamDelta::Content("Feed ".into()),
            StreamDelta::Content("thr".into())
        ]
    );
    let StreamDelta::Restart { provider, reason } = &deltas[2] else {
        panic!("{deltas:?}")
    };
    assert_eq!(provider, "moonshot");
    assert!(reason.starts_with("deepseek: "), "{reason}");
    assert_eq!(deltas[3], StreamDelta::Content("Feed twice.".into()));
    // The abandoned attempt's estimate is added to the answer's reported usage.
    assert!(
        answer.usage.total_tokens > FAKE_USAGE.total_tokens,
        "{:?}",
        answer.usage
    );
    assert_eq!((first.requests(), second.requests()), (1, 1));
}

#[tokio::test]
async fn a_mid_stream_failure_is_retried_on_the_same_provider_first() {
    let fake = FakeOpenAi::start(vec![
        Scripted::FailMidStream {
            content: vec!["a".into()],
        },
        Scripted::stream(&["b"]),
    ])
    .await;
    let llm = llm(&[("zai", &fake)], &[]);
    let (result, deltas) = stream(&llm, &req("hi")).await;
    assert_eq!(result.unwrap().content, "b");
    assert!(
        matches!(&deltas[..], [StreamDelta::Content(a), StreamDelta::Restart { provider, .. }, StreamDelta::Content(b)]
            if a == "a" && provider == "zai" && b == "b"),
        "{deltas:?}"
    );
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_failed_provider_cools_down() {
    let down = FakeOpenAi::start(vec![unavailable()]).await;
    let up = FakeOpenAi::start(vec![Scripted::Json {
        content: "up".into(),
    }])
    .await;
    let llm = llm(
        &[("dashscope", &down), ("siliconflow", &up)],
        &[("TRELLIS_LLM_MAX_RETRIES", "1")],
    );
    let cancel = CancellationToken::new();
    let answer = llm.chat(&req("hi"), &cancel).await.unwrap();
    assert_eq!(answer.provider, "siliconflow");
    assert_eq!((down.requests(), up.requests()), (2, 1));

    // The next call (from a clone too) goes straight to the provider that works.
    let clone = llm.clone();
    let answer = clone.chat(&req("again"), &cancel).await.unwrap();
    assert_eq!(answer.provider, "siliconflow");
    assert_eq!((down.requests(), up.requests()), (2, 2));
}

#[tokio::test]
async fn every_provider_cooling_down_is_exhausted_without_a_request() {
    let down = FakeOpenAi::start(vec![unavailable()]).await;
    let llm = llm(&[("deepseek", &down)], &[("TRELLIS_LLM_MAX_RETRIES", "0")]);
    let cancel = CancellationToken::new();
    let first = llm.chat(&req("hi"), &cancel).await.unwrap_err();
    assert!(
        matches!(&first, LlmError::Exhausted(why) if why.contains("HTTP 503")),
        "{first:?}"
    );
    let second = llm.chat(&req("hi"), &cancel).await.unwrap_err();
    assert!(
        matches!(&second, LlmError::Exhausted(why) if why.contains("cooling down")),
        "{second:?}"
    );
    assert_eq!(down.requests(), 1);
}

#[tokio::test]
async fn a_zero_cooldown_keeps_trying_the_provider() {
    let down = FakeOpenAi::start(vec![unavailable()]).await;
    let llm = llm(
        &[("deepseek", &down)],
        &[
            ("TRELLIS_LLM_MAX_RETRIES", "0"),
            ("TRELLIS_LLM_COOLDOWN_SECONDS", "0"),
        ],
    );
    let cancel = CancellationToken::new();
    assert!(llm.chat(&req("hi"), &cancel).await.is_err());
    assert!(llm.chat(&req("hi"), &cancel).await.is_err());
    assert_eq!(down.requests(), 2);
}
