//! Streaming and resume (issue 12 "the part to be best at"): frame format and headers,
//! resume after every frame id, random disconnects whose concatenation equals the log
//! exactly, cancellation reaching the upstream LLM request, fallback across providers on a
//! mid-stream failure, the repair loop, the active-task cap and several followers.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_llm::fixtures::{FakeOpenAi, Scripted};

use crate::harness::TestApp;
use crate::pets::dog;
use crate::sse::Frame;

backend_tests!(
    frames_headers_and_every_resume_point,
    random_disconnects_lose_and_duplicate_nothing,
    cancel_stops_the_upstream_request,
    mid_stream_failure_falls_back_to_the_next_provider,
    a_reply_that_does_not_fit_is_repaired_or_omitted,
    active_task_cap,
    followers_share_one_task,
    the_daily_token_budget_leaves_the_engine_plan
);

/// A narrative that fits the schema.
pub fn narrative() -> String {
    let week = |n: u8| {
        json!({"diet_adjustment_principle": format!("第{n}周：循序渐进"),
               "weekly_special_adjustment_note": "注意饮水",
               "suggestions": ["每天称重", "保持运动"]})
    };
    json!({"ai_suggestions": "整体均衡，请按时喂食。", "weeks": [week(1), week(2), week(3), week(4)]})
        .to_string()
}

fn chunks(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

fn streamed(content: &str, delay_ms: u64) -> Scripted {
    Scripted::Stream {
        content: chunks(content, 3),
        reasoning: vec!["思考中…".into(), "完成".into()],
        keepalive: true,
        delay_ms,
        usage: true,
    }
}

/// A server whose only LLM provider is `fake` (as DeepSeek).
async fn with_llm(b: Backend, fake: &FakeOpenAi, extra: &[(&str, &str)]) -> TestApp {
    let base = fake.base_url();
    let mut vars = vec![
        ("DEEPSEEK_API_KEY", "test-key"),
        ("DEEPSEEK_API_BASE", base.as_str()),
        ("TRELLIS_LLM_PROVIDERS", "deepseek"),
    ];
    vars.extend_from_slice(extra);
    TestApp::with(b, &vars).await
}

fn ids_increase(frames: &[Frame]) {
    for w in frames.windows(2) {
        assert!(w[0].seq() < w[1].seq(), "{:?} then {:?}", w[0], w[1]);
    }
}

async fn frames_headers_and_every_resume_point(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("alice").await;
    let pet = app.pet(&t, dog()).await;
    let mut s = app.stream_plan(&t, json!({"pet_id": pet})).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.headers["content-type"], "text/event-stream");
    assert_eq!(s.headers["cache-control"], "no-cache");
    assert_eq!(s.headers["x-accel-buffering"], "no");
    assert!(
        s.headers.get("content-encoding").is_none(),
        "SSE must not be compressed"
    );
    let all = s.all().await;
    assert_eq!(
        s.retry.get(),
        Some(&std::time::Duration::from_millis(3000)),
        "the first frame carries the retry hint"
    );
    ids_increase(&all);
    assert_eq!(all[0].event, "task_created");
    assert_eq!(all[0].id, "1");
    let task = all[0].data["task_id"].as_str().unwrap().to_string();
    let kinds: Vec<&str> = all.iter().map(|f| f.event.as_str()).collect();
    for k in ["progress", "node_started", "node_completed"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let n = all.len();
    assert_eq!(all[n - 2].event, "task_completed");
    assert!(all[n - 2].data["plan_id"].is_string());
    assert_eq!(all[n - 1].event, "done");
    assert_eq!(all[n - 1].seq(), all[n - 2].seq() + 1);
    for f in &all[..n - 1] {
        assert_eq!(f.data["type"], json!(f.event));
        let ts = f.data["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }
    let started: Vec<&str> = all
        .iter()
        .filter(|f| f.event == "node_started")
        .map(|f| f.data["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        started,
        ["assess", "week_1", "week_2", "week_3", "week_4", "finalize"]
    );
    // No Last-Event-ID: `resumed` (id 0), then the whole log again.
    let again = app.resume(&t, &task, None).await.all().await;
    assert_eq!(again[0].event, "resumed");
    assert_eq!(again[0].id, "0");
    assert_eq!(again[0].data["status"], "completed");
    assert_eq!(&again[1..], &all[..]);
    // After every id: exactly the frames after it.
    for (i, f) in all.iter().enumerate() {
        let got = app.resume(&t, &task, Some(&f.id)).await;
        if i == n - 1 {
            assert_eq!(got.status, 204, "after done");
            continue;
        }
        let mut got = got;
        assert_eq!(got.all().await, all[i + 1..].to_vec(), "after {}", f.id);
    }
    // An id the log never had: a reset snapshot, then done.
    let reset = app.resume(&t, &task, Some("99999")).await.all().await;
    assert_eq!(reset[0].event, "reset");
    assert_eq!(reset[0].data["status"], "completed");
    assert_eq!(reset.last().unwrap().event, "done");
    let r = app
        .get(
            &format!("/api/v1/plans/stream?task_id={task}&last_event_id=-1"),
            Some(&t),
        )
        .await;
    r.err(422, "validation_error");
    // `Last-Event-ID` that is not a whole number is refused; an empty one is no id.
    for bad in ["null", "-1", "1.5", "abc"] {
        let got = app.resume(&t, &task, Some(bad)).await;
        assert_eq!(got.status, 422, "Last-Event-ID: {bad}");
    }
    let empty = app.resume(&t, &task, Some("")).await.all().await;
    assert_eq!(empty[0].event, "resumed");
    assert_eq!(&empty[1..], &all[..]);
}

/// A tiny deterministic generator (no randomness in test outcomes, many cut points).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn random_disconnects_lose_and_duplicate_nothing(b: Backend) {
    let content = narrative();
    let fake = FakeOpenAi::start(vec![streamed(&content, 3)]).await;
    let app = with_llm(b, &fake, &[]).await;
    let t = app.user("bob").await;
    let pet = app.pet(&t, dog()).await;
    let mut rng = Lcg(42);
    let mut seen: Vec<Frame> = Vec::new();
    let mut s = app.stream_plan(&t, json!({"pet_id": pet})).await;
    let mut task = String::new();
    let mut reconnects = 0;
    loop {
        let got = s.take(1 + rng.next(6) as usize).await;
        let ended = got.is_empty() || got.last().is_some_and(|f| f.event == "done");
        if task.is_empty() {
            task = got[0].data["task_id"].as_str().unwrap().to_string();
        }
        seen.extend(got);
        if ended {
            break;
        }
        drop(s);
        reconnects += 1;
        let last = seen.last().unwrap().id.clone();
        s = app.resume(&t, &task, Some(&last)).await;
    }
    assert!(reconnects > 5, "{reconnects}");
    let full = app.resume(&t, &task, None).await.all().await;
    assert_eq!(
        &full[1..],
        &seen[..],
        "what the client saw across reconnects"
    );
    // The tokens were coalesced and add up to the reply.
    let tokens: Vec<&Frame> = seen.iter().filter(|f| f.event == "llm_token").collect();
    let text: String = tokens
        .iter()
        .map(|f| f.data["token"].as_str().unwrap())
        .collect();
    assert_eq!(text, content);
    assert!(
        tokens.len() < chunks(&content, 3).len(),
        "{} frames",
        tokens.len()
    );
    let plan = &app.wait_task(&t, &task).await;
    assert_eq!(plan["status"], "completed");
    assert_eq!(plan["llm_usage"][0]["provider"], "deepseek");
    assert!(plan["llm_usage"][0]["completion_tokens"].as_i64().unwrap() > 0);
    let plan_id = plan["plan_id"].as_str().unwrap();
    let doc = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    assert!(
        doc["plan_data"]["ai_suggestions"]
            .as_str()
            .unwrap()
            .starts_with("整体均衡，请按时喂食。")
    );
}

async fn cancel_stops_the_upstream_request(b: Backend) {
    let fake = FakeOpenAi::start(vec![Scripted::Hang {
        content: vec!["{\"ai_".into(), "suggestions\"".into()],
    }])
    .await;
    let app = with_llm(b, &fake, &[]).await;
    let t = app.user("carol").await;
    let pet = app.pet(&t, dog()).await;
    let mut s = app.stream_plan(&t, json!({"pet_id": pet})).await;
    let mut seen = Vec::new();
    while !seen.iter().any(|f: &Frame| f.event == "llm_token") {
        let f = s.take(1).await;
        assert!(!f.is_empty(), "stream ended early: {seen:?}");
        seen.extend(f);
    }
    let task = seen[0].data["task_id"].as_str().unwrap().to_string();
    let c = app
        .post_auth(&format!("/api/v1/tasks/{task}/cancel"), &t, json!({}))
        .await
        .ok();
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(c["error_message"].as_str().unwrap().contains("取消"));
    for n in ["assess", "week_1", "week_4"] {
        assert!(c["output_data"]["partial"][n].is_object(), "{n}: {c}");
    }
    let rest = s.all().await;
    let n = rest.len();
    assert_eq!(rest[n - 2].event, "error", "{rest:?}");
    assert_eq!(rest[n - 2].data["status"], "cancelled");
    assert_eq!(rest[n - 1].event, "done");
    for _ in 0..100 {
        if fake.aborted() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.aborted(), 1, "the upstream connection was closed");
    app.post_auth(&format!("/api/v1/tasks/{task}/cancel"), &t, json!({}))
        .await
        .err(409, "task_finished");
    app.get(&format!("/api/v1/tasks/{task}/result"), Some(&t))
        .await
        .err(409, "task_not_completed");
}

async fn mid_stream_failure_falls_back_to_the_next_provider(b: Backend) {
    let first = FakeOpenAi::start(vec![Scripted::FailMidStream {
        content: vec!["{\"ai_sugg".into()],
    }])
    .await;
    let second = FakeOpenAi::start(vec![streamed(&narrative(), 0)]).await;
    let (a, s2) = (first.base_url(), second.base_url());
    let app = TestApp::with(
        b,
        &[
            ("DEEPSEEK_API_KEY", "k1"),
            ("DEEPSEEK_API_BASE", a.as_str()),
            ("MOONSHOT_API_KEY", "k2"),
            ("MOONSHOT_API_BASE", s2.as_str()),
            ("TRELLIS_LLM_PROVIDERS", "deepseek,moonshot"),
            ("TRELLIS_LLM_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let t = app.user("dave").await;
    let pet = app.pet(&t, dog()).await;
    let all = app
        .stream_plan(&t, json!({"pet_id": pet}))
        .await
        .all()
        .await;
    let restart = all
        .iter()
        .find(|f| f.event == "progress" && f.data["restart"] == true);
    assert!(restart.is_some(), "{all:?}");
    let n = all.len();
    assert_eq!(all[n - 2].event, "task_completed", "{all:?}");
    let task = all[0].data["task_id"].as_str().unwrap();
    let view = app
        .get(&format!("/api/v1/tasks/{task}"), Some(&t))
        .await
        .ok();
    let providers: Vec<&str> = view["llm_usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers.last(), Some(&"moonshot"), "{view}");
    let plan = app
        .get(
            &format!(
                "/api/v1/plans/{}",
                all[n - 2].data["plan_id"].as_str().unwrap()
            ),
            Some(&t),
        )
        .await
        .ok();
    assert!(
        plan["plan_data"]["ai_suggestions"]
            .as_str()
            .unwrap()
            .starts_with("整体均衡，请按时喂食。")
    );
    assert!(first.requests() >= 1 && second.requests() >= 1);
}

async fn a_reply_that_does_not_fit_is_repaired_or_omitted(b: Backend) {
    // Not JSON first, then a fitting repair.
    let fake = FakeOpenAi::start(vec![
        streamed("这不是 JSON", 0),
        Scripted::Json {
            content: narrative(),
        },
    ])
    .await;
    let app = with_llm(b, &fake, &[]).await;
    let t = app.user("erin").await;
    let pet = app.pet(&t, dog()).await;
    let task = app.plan_task(&t, json!({"pet_id": pet})).await;
    let done = app.wait_task(&t, &task).await;
    let plan_id = done["plan_id"].as_str().unwrap();
    let plan = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    assert!(
        plan["plan_data"]["ai_suggestions"]
            .as_str()
            .unwrap()
            .starts_with("整体均衡，请按时喂食。"),
        "{}",
        plan["plan_data"]
    );
    // Numbers the model sends are never used: the energy target is the engine's.
    let kcal = plan["plan_data"]["nutrition_targets"]["daily_kcal"]
        .as_f64()
        .unwrap();
    assert!((kcal - 629.9).abs() < 2.0);
    drop(app);
    // Never fitting: the engine's plan, complete, with the narrative omitted.
    let bad = json!({"ai_suggestions": 5, "daily_kcal": 99999}).to_string();
    let fake = FakeOpenAi::start(vec![Scripted::Json { content: bad }]).await;
    let app = with_llm(b, &fake, &[("TRELLIS_DIET_LLM_REPAIRS", "1")]).await;
    let t = app.user("erin2").await;
    let pet = app.pet(&t, dog()).await;
    let task = app.plan_task(&t, json!({"pet_id": pet})).await;
    let done = app.wait_task(&t, &task).await;
    assert_eq!(done["status"], "completed");
    let plan_id = done["plan_id"].as_str().unwrap();
    let plan = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    assert!(
        plan["plan_data"]["narrative_omitted"].is_string(),
        "{}",
        plan["plan_data"]
    );
    let kcal = plan["plan_data"]["nutrition_targets"]["daily_kcal"]
        .as_f64()
        .unwrap();
    assert!((kcal - 629.9).abs() < 2.0);
    assert_eq!(fake.requests(), 2, "one call and one repair");
}

async fn active_task_cap(b: Backend) {
    let fake = FakeOpenAi::start(vec![Scripted::Hang { content: vec![] }]).await;
    let app = with_llm(b, &fake, &[("TRELLIS_DIET_MAX_ACTIVE_TASKS", "2")]).await;
    let t = app.user("frank").await;
    let pet = app.pet(&t, dog()).await;
    // A burst of 6 concurrent creations admits exactly the cap.
    let tries = (0..6).map(|_| app.post_auth("/api/v1/plans", &t, json!({"pet_id": pet})));
    let answers = futures::future::join_all(tries).await;
    let admitted: Vec<&Value> = answers
        .iter()
        .filter(|r| r.status == 202)
        .map(|r| &r.body)
        .collect();
    assert_eq!(admitted.len(), 2, "{answers:?}");
    for r in answers.iter().filter(|r| r.status != 202) {
        r.err(429, "too_many_active_tasks");
    }
    let first = admitted[0]["data"]["task_id"].as_str().unwrap().to_string();
    app.post_auth(&format!("/api/v1/tasks/{first}/cancel"), &t, json!({}))
        .await
        .ok();
    let r = app
        .post_auth("/api/v1/plans", &t, json!({"pet_id": pet}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
}

async fn followers_share_one_task(b: Backend) {
    let fake = FakeOpenAi::start(vec![streamed(&narrative(), 2)]).await;
    let app = with_llm(b, &fake, &[]).await;
    let t = app.user("gina").await;
    let pet = app.pet(&t, dog()).await;
    let task = app.plan_task(&t, json!({"pet_id": pet})).await;
    // A burst of followers arriving together (they share one feed, created once) from the
    // start; then a second burst, from every id, after the task ended.
    let burst = |starts: Vec<i64>| {
        let app = &app;
        let t = &t;
        let task = &task;
        futures::future::join_all(starts.into_iter().map(move |from| async move {
            let got = app
                .resume(t, task, Some(&from.to_string()))
                .await
                .all()
                .await;
            (from, got)
        }))
    };
    // Live followers resume only from ids that exist already (1 is `task_created`, written
    // with the task): an id the log does not have yet is answered with `reset`, by design.
    let live = burst((0..40).map(|i| i % 2).collect()).await;
    let full = live[0].1.clone();
    assert_eq!(full[0].event, "task_created");
    assert_eq!(full.last().unwrap().event, "done");
    let n = full.len();
    assert_eq!(full[n - 2].event, "task_completed");
    assert!(full[n - 2].data["plan_id"].is_string(), "{:?}", full[n - 2]);
    let after =
        |from: i64| -> Vec<Frame> { full.iter().filter(|f| f.seq() > from).cloned().collect() };
    for (from, got) in &live {
        assert_eq!(got, &after(*from), "from {from}");
    }
    let ids: Vec<i64> = full.iter().map(Frame::seq).collect();
    let ended = burst(ids[..n - 1].iter().copied().cycle().take(60).collect()).await;
    for (from, got) in &ended {
        assert_eq!(got, &after(*from), "from {from} after the end");
    }
}

async fn the_daily_token_budget_leaves_the_engine_plan(b: Backend) {
    let fake = FakeOpenAi::start(vec![streamed(&narrative(), 0)]).await;
    let app = with_llm(b, &fake, &[("TRELLIS_DIET_DAILY_TOKEN_BUDGET", "10")]).await;
    let t = app.user("hank").await;
    let pet = app.pet(&t, dog()).await;
    // The first plan spends more than the budget (the fake reports 46 tokens)...
    let first = app.plan_task(&t, json!({"pet_id": pet})).await;
    let done = app.wait_task(&t, &first).await;
    let spent: i64 = done["llm_usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["prompt_tokens"].as_i64().unwrap() + u["completion_tokens"].as_i64().unwrap())
        .sum();
    assert!(spent > 10, "{done}");
    // ...so the next one is the engine's alone, and says why; the LLM is not called again.
    let second = app.plan_task(&t, json!({"pet_id": pet})).await;
    let done = app.wait_task(&t, &second).await;
    assert_eq!(done["status"], "completed");
    assert!(done["llm_usage"].as_array().unwrap().is_empty());
    let plan_id = done["plan_id"].as_str().unwrap();
    let plan = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    let why = plan["plan_data"]["narrative_omitted"].as_str().unwrap();
    assert!(why.contains("budget"), "{why}");
    assert_eq!(fake.requests(), 1);
}
