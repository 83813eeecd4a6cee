//! Non-streamed calls: the answer, usage and cost, the request body, and the retries of a
//! single provider (error in a 200, 500, 429 with `Retry-After`).

use serde_json::json;
use tokio_util::sync::CancellationToken;
use trellis_llm::fixtures::{FAKE_USAGE, FakeOpenAi, Scripted};
use trellis_llm::{ChatRequest, LlmError, Message};

use crate::{llm, req};

fn json(content: &str) -> Scripted {
    Scripted::Json {
        content: content.to_string(),
    }
}

#[tokio::test]
async fn a_non_streamed_answer_has_usage_and_cost() {
    let fake = FakeOpenAi::start(vec![json("Feed twice a day.")]).await;
    let llm = llm(
        &[("deepseek", &fake)],
        &[
            ("DEEPSEEK_PRICE_INPUT_PER_MTOK", "1"),
            ("DEEPSEEK_PRICE_OUTPUT_PER_MTOK", "2"),
            ("DEEPSEEK_MODEL", "deepseek-test"),
        ],
    );
    let request = ChatRequest {
        messages: vec![
            Message::system("You are a vet."),
            Message::user("How often?"),
        ],
        temperature: Some(0.25),
        max_tokens: Some(300),
        json_mode: true,
    };
    let answer = llm.chat(&request, &CancellationToken::new()).await.unwrap();
    assert_eq!(answer.content, "Feed twice a day.");
    assert_eq!(answer.reasoning, "");
    assert_eq!(answer.provider, "deepseek");
    assert_eq!(answer.model, "deepseek-test");
    assert_eq!(answer.usage, FAKE_USAGE);
    let expected_cost = (12.0 * 1.0 + 34.0 * 2.0) / 1_000_000.0;
    assert!(
        (answer.cost_usd - expected_cost).abs() < 1e-12,
        "{}",
        answer.cost_usd
    );

    assert_eq!(
        fake.bodies(),
        [json!({
            "model": "deepseek-test",
            "messages": [
                {"role": "system", "content": "You are a vet."},
                {"role": "user", "content": "How often?"}
            ],
            "stream": false,
            "temperature": 0.25,
            "max_tokens": 300,
            "response_format": {"type": "json_object"}
        })]
    );
}

#[tokio::test]
async fn a_missing_usage_is_estimated() {
    let fake = FakeOpenAi::start(vec![Scripted::Stream {
        content: vec!["abcd".into(), "efgh".into()],
        reasoning: Vec::new(),
        keepalive: false,
        delay_ms: 0,
        usage: false,
    }])
    .await;
    let llm = llm(&[("zai", &fake)], &[]);
    let answer = llm
        .chat(&req("12345678"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.content, "abcdefgh");
    assert_eq!(answer.usage.prompt_tokens, 2);
    assert_eq!(answer.usage.completion_tokens, 2);
    assert_eq!(answer.usage.total_tokens, 4);
    assert_eq!(answer.cost_usd, 0.0);
}

#[tokio::test]
async fn an_error_inside_a_200_is_a_provider_failure() {
    let error =
        json!({"error": {"message": "upstream overloaded", "code": "overloaded"}}).to_string();
    let fake = FakeOpenAi::start(vec![
        Scripted::ErrorIn200 {
            body: error.clone(),
        },
        json("ok"),
    ])
    .await;
    let llm = llm(&[("dashscope", &fake)], &[]);
    let answer = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.content, "ok");
    assert_eq!(fake.requests(), 2);

    let always = FakeOpenAi::start(vec![Scripted::ErrorIn200 { body: error }]).await;
    let llm = crate::llm(
        &[("dashscope", &always)],
        &[("TRELLIS_LLM_MAX_RETRIES", "0")],
    );
    let err = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap_err();
    let LlmError::Exhausted(why) = err else {
        panic!("{err:?}")
    };
    assert!(
        why.contains("dashscope: error in the response: upstream overloaded"),
        "{why}"
    );
    assert_eq!(always.requests(), 1);
}

#[tokio::test]
async fn a_500_is_retried() {
    let fake = FakeOpenAi::start(vec![
        Scripted::Status {
            status: 500,
            retry_after: None,
            body: json!({"error": {"message": "internal"}}).to_string(),
        },
        json("second time lucky"),
    ])
    .await;
    let llm = llm(&[("moonshot", &fake)], &[]);
    let answer = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.content, "second time lucky");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let fake = FakeOpenAi::start(vec![
        Scripted::Status {
            status: 429,
            retry_after: Some(1),
            body: json!({"error": {"message": "rate limited"}}).to_string(),
        },
        json("after the wait"),
    ])
    .await;
    let llm = llm(&[("siliconflow", &fake)], &[]);
    let answer = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.content, "after the wait");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_400_is_not_retried_but_the_next_provider_is_tried() {
    let bad = FakeOpenAi::start(vec![Scripted::Status {
        status: 400,
        retry_after: None,
        body: json!({"error": {"message": "context too long"}}).to_string(),
    }])
    .await;
    let good = FakeOpenAi::start(vec![json("from the fallback")]).await;
    let llm = llm(&[("deepseek", &bad), ("moonshot", &good)], &[]);
    let answer = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.content, "from the fallback");
    assert_eq!(answer.provider, "moonshot");
    assert_eq!((bad.requests(), good.requests()), (1, 1));

    // A 400 is about the request, not the provider: no cooldown.
    llm.chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(bad.requests(), 2);
}

#[tokio::test]
async fn exhausted_names_every_provider_and_never_the_key() {
    let key = "sk-very-secret-key-123";
    let echoing = FakeOpenAi::start(vec![Scripted::Status {
        status: 401,
        retry_after: None,
        body: json!({"error": {"message": format!("Incorrect API key provided: {key}")}})
            .to_string(),
    }])
    .await;
    let down = FakeOpenAi::start(vec![Scripted::Status {
        status: 503,
        retry_after: None,
        body: String::new(),
    }])
    .await;
    let llm = llm(
        &[("deepseek", &echoing), ("moonshot", &down)],
        &[("DEEPSEEK_API_KEY", key), ("TRELLIS_LLM_MAX_RETRIES", "0")],
    );
    let err = llm
        .chat(&req("hi"), &CancellationToken::new())
        .await
        .unwrap_err();
    let LlmError::Exhausted(why) = &err else {
        panic!("{err:?}")
    };
    assert!(
        why.contains("deepseek: HTTP 401: Incorrect API key provided: [redacted]"),
        "{why}"
    );
    assert!(why.contains("moonshot: HTTP 503"), "{why}");
    assert!(!err.to_string().contains(key));
    assert!(!format!("{err:?}").contains(key));
}
