//! The diet planner across a crash (issue 12 "Node checkpointing"): a `trellis` process is
//! killed (SIGKILL) while a plan task waits on the LLM in its `narrative` node; a new
//! process of the same deployment takes the task over, resumes it from the last completed
//! node (the four week nodes are not run again), and a client that reconnects with
//! `Last-Event-ID` sees the rest of the stream: what it saw before and after the crash is
//! exactly the task's event log.

#![expect(clippy::unwrap_used, reason = "tests")]

#[expect(
    dead_code,
    reason = "the process kit is shared with the workflow tests; this one uses part of it"
)]
mod procs;

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_llm::fixtures::{FakeOpenAi, Scripted};

use procs::{ADMIN_PASSWORD, Deployment, call};

backend_tests!(a_killed_process_resumes_the_task_from_the_last_completed_node);

type Frame = (String, String, Value);

async fn open(
    base: &str,
    token: &str,
    req: reqwest::RequestBuilder,
) -> impl futures::Stream<Item = Frame> {
    let _ = base;
    req.bearer_auth(token)
        .send()
        .await
        .unwrap()
        .bytes_stream()
        .eventsource()
        .filter_map(|e| async move {
            let e = e.ok()?;
            Some((
                e.id,
                e.event,
                serde_json::from_str(&e.data).unwrap_or(Value::Null),
            ))
        })
}

async fn next(s: &mut (impl futures::Stream<Item = Frame> + Unpin)) -> Option<Frame> {
    tokio::time::timeout(Duration::from_secs(60), s.next())
        .await
        .unwrap()
}

async fn a_killed_process_resumes_the_task_from_the_last_completed_node(b: Backend) {
    let week = json!({"diet_adjustment_principle": "稳定", "weekly_special_adjustment_note": "无",
                      "suggestions": ["称重"]});
    let narrative =
        json!({"ai_suggestions": "重启后生成", "weeks": [week, week, week, week]}).to_string();
    let fake = FakeOpenAi::start(vec![
        Scripted::Hang {
            content: vec!["{\"ai".into()],
        },
        Scripted::Stream {
            content: vec![narrative],
            reasoning: vec![],
            keepalive: false,
            delay_ms: 0,
            usage: true,
        },
    ])
    .await;
    let base_url = fake.base_url();
    let env = [
        ("TRELLIS_APPS", "dietplan"),
        ("DEEPSEEK_API_KEY", "test"),
        ("DEEPSEEK_API_BASE", base_url.as_str()),
        ("TRELLIS_LLM_PROVIDERS", "deepseek"),
    ];
    let d = Deployment::new(b).await;
    let mut first = d.start_with(&env);
    let login = call(
        &first.base,
        None,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
    )
    .await;
    let token = login["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let pet = call(
        &first.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/pets",
        Some(json!({"name": "阿黄", "type": "dog", "age_months": 40, "weight_kg": 10, "neutered": true})),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let req = client
        .post(format!("{}/api/v1/plans/stream", first.base))
        .json(&json!({"pet_id": pet["id"]}));
    let mut s = Box::pin(open(&first.base, &token, req).await);
    let mut seen: Vec<Frame> = Vec::new();
    // Read until the narrative node waits on the (hanging) LLM.
    while !seen.iter().any(|f| f.1 == "llm_token") {
        seen.push(next(&mut s).await.unwrap());
    }
    let task = seen[0].2["task_id"].as_str().unwrap().to_string();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(s);
    let second = d.start_with(&env);
    let last = seen.last().unwrap().0.clone();
    let req = client
        .get(format!(
            "{}/api/v1/plans/stream?task_id={task}",
            second.base
        ))
        .header("last-event-id", &last);
    let mut s = Box::pin(open(&second.base, &token, req).await);
    let t0 = Instant::now();
    loop {
        let f = next(&mut s).await.unwrap();
        let done = f.1 == "done";
        seen.push(f);
        if done {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60));
    }
    let kinds: Vec<&str> = seen.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(kinds[kinds.len() - 2], "task_completed", "{kinds:?}");
    // Nothing lost, nothing twice: the log read afresh equals what the client saw.
    let req = client.get(format!(
        "{}/api/v1/plans/stream?task_id={task}",
        second.base
    ));
    let full: Vec<Frame> = Box::pin(open(&second.base, &token, req).await)
        .collect()
        .await;
    assert_eq!(full[0].1, "resumed");
    assert_eq!(&full[1..], &seen[..]);
    // Resumed from the last completed node: the weeks ran once, the narrative twice.
    let view = call(
        &second.base,
        Some(&token),
        reqwest::Method::GET,
        &format!("/api/v1/tasks/{task}"),
        None,
    )
    .await;
    assert_eq!(view["status"], "completed", "{view}");
    for n in view["nodes"].as_array().unwrap() {
        let expected = if n["node"] == "narrative" { 2 } else { 1 };
        assert_eq!(n["tries"], expected, "{n}");
    }
    let plan = call(
        &second.base,
        Some(&token),
        reqwest::Method::GET,
        &format!("/api/v1/plans/{}", view["plan_id"].as_str().unwrap()),
        None,
    )
    .await;
    assert!(
        plan["plan_data"]["ai_suggestions"]
            .as_str()
            .unwrap()
            .starts_with("重启后生成")
    );
    assert!(seen.iter().any(|f| f.1 == "progress" && f.2["message"].as_str().unwrap_or("").contains("restart")));
}
