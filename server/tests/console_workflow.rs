//! The Workflow Platform's console pages (issue 13) over plain HTTP, on both backends: every
//! page renders for its owner, another user's objects are the 404 page, the JSON editor's
//! validation errors are shown in place (422, text kept), POSTs need the CSRF token, a run
//! reaches its final status on the detail page (and its live stream ends), cancel and retry
//! work, collections show items and export them, the subscription page changes plans. The
//! same flows in a real browser are in `console_browser_workflow.rs`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod console_kit;

use std::time::Duration;

use console_kit::{Browserless, between};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestApp};

backend_tests!(
    pages_render_for_their_owner_and_are_404_for_others,
    the_editor_shows_the_apis_problems_in_place,
    posts_without_the_csrf_token_are_refused,
    a_run_reaches_its_final_status_and_collections_export,
    cancel_and_retry_a_running_execution,
    proxy_pools_schedules_and_the_subscription
);

/// A second ordinary account.
const OTHER: &str = "otheruser";
const OTHER_PASSWORD: &str = "Other-User-Pass-1";

/// The server with [`console_kit::USER`] and [`OTHER`].
async fn spawn(b: Backend) -> TestApp {
    TestApp::new(b)
        .with_vars(&[("RATE_LIMIT_ENABLED", "false")])
        .with_user(console_kit::USER, console_kit::USER_PASSWORD, "user")
        .with_user(OTHER, OTHER_PASSWORD, "user")
        .start(trellis::testing::launch)
        .await
}

async fn signed_in(app: &TestApp, user: &str, password: &str) -> Browserless {
    let mut c = Browserless::new(app);
    c.sign_in(user, password).await;
    c
}

/// A definition JSON with `steps` (a JSON array text).
fn definition(name: &str, steps: &str) -> String {
    format!(r#"{{"name": "{name}", "description": "console test", "steps": {steps}}}"#)
}

const QUICK: &str = r#"[{"id": "first", "type": "transform", "params": {"program": "."}},
    {"id": "second", "type": "transform", "depends_on": ["first"], "params": {"program": "{done: true}"}}]"#;

const SLOW: &str = r#"[{"id": "wait", "type": "delay", "params": {"seconds": 3600}}]"#;

/// Creates a definition through the editor; its id.
async fn create_definition(c: &mut Browserless, json: &str) -> String {
    c.get("/console/workflows/definitions/new").await;
    let r = c
        .post_form("/console/workflows/definitions", &[("definition", json)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let loc = r.location().to_string();
    let id = between(&loc, "/console/workflows/definitions/", "?saved=1").to_string();
    let page = c.get(&loc).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("已保存为新版本"), "{}", page.body);
    id
}

/// Runs a definition with the run button; the execution id.
async fn run(c: &mut Browserless, def: &str) -> String {
    c.get(&format!("/console/workflows/definitions/{def}"))
        .await;
    let r = c
        .post_form(
            &format!("/console/workflows/definitions/{def}/run"),
            &[("input", r#"{"n": 1}"#)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location()
        .strip_prefix("/console/workflows/executions/")
        .unwrap()
        .to_string()
}

/// Waits until the execution's detail page shows `status` in its status badge.
async fn wait_status(c: &mut Browserless, exec: &str, status: &str) -> String {
    let want = format!(r#"id="wf-status"><span class="badge {status}""#);
    let mut last = String::new();
    for _ in 0..200 {
        let page = c
            .get(&format!("/console/workflows/executions/{exec}"))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.body.contains(&want) {
            return page.body;
        }
        last = page.body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {exec} never showed {status}: {last}");
}

async fn pages_render_for_their_owner_and_are_404_for_others(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    let def = create_definition(&mut c, &definition("owned-flow", QUICK)).await;
    // The list: name, version, a run button; the tabs of the section.
    let list = c.get("/console/workflows").await;
    assert_eq!(list.status, 200);
    for text in [
        "owned-flow",
        "v1",
        "运行",
        "执行记录",
        "代理池",
        "采集结果",
        "订阅",
    ] {
        assert!(list.body.contains(text), "{text}: {}", list.body);
    }
    let en = c.get("/console/workflows?lang=en").await;
    assert!(en.body.contains("Definitions") && en.body.contains("Proxy pools"));
    c.get("/console/workflows?lang=zh").await;
    // Saving a new version; the versions page lists both.
    let edit = c
        .get(&format!("/console/workflows/definitions/{def}"))
        .await;
    assert!(
        edit.body
            .contains(r#"<textarea id="definition" name="definition""#)
    );
    assert!(edit.body.contains(r#"<label for="definition">"#));
    let r = c
        .post_form(
            &format!("/console/workflows/definitions/{def}"),
            &[("definition", &definition("owned-flow", SLOW))],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let versions = c
        .get(&format!("/console/workflows/definitions/{def}/versions"))
        .await;
    assert_eq!(versions.status, 200);
    assert!(versions.body.contains("v2") && versions.body.contains("v1"));
    let exec = run(&mut c, &def).await;
    for path in [
        "/console/workflows/executions".to_string(),
        format!("/console/workflows/executions/{exec}"),
        "/console/workflows/schedules".to_string(),
        "/console/workflows/pools".to_string(),
        "/console/workflows/collections".to_string(),
        "/console/workflows/subscription".to_string(),
    ] {
        let page = c.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.raw_len < 50_000, "{path}: {} bytes", page.raw_len);
    }
    // Another user: the 404 page for the definition, its versions, run, the execution, its
    // stream, cancel and retry.
    let mut o = signed_in(&app, OTHER, OTHER_PASSWORD).await;
    for path in [
        format!("/console/workflows/definitions/{def}"),
        format!("/console/workflows/definitions/{def}/versions"),
        format!("/console/workflows/executions/{exec}"),
        format!("/console/workflows/executions/{exec}/events"),
    ] {
        let page = o.get(&path).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        assert!(page.body.contains("未找到"), "{}", page.body);
    }
    for path in [
        format!("/console/workflows/definitions/{def}/run"),
        format!("/console/workflows/definitions/{def}/delete"),
        format!("/console/workflows/executions/{exec}/cancel"),
        format!("/console/workflows/executions/{exec}/retry"),
    ] {
        let page = o.post_form(&path, &[]).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    let theirs = o.get("/console/workflows").await;
    assert!(!theirs.body.contains("owned-flow"));
    let theirs = o.get("/console/workflows/executions").await;
    assert!(!theirs.body.contains(&exec));
    // An administrator sees every user's objects, as in the API.
    let mut admin = signed_in(&app, "admin", console_kit::ADMIN_PASSWORD).await;
    let all = admin.get("/console/workflows").await;
    assert!(all.body.contains("owned-flow"), "{}", all.body);
    let page = admin
        .get(&format!("/console/workflows/executions/{exec}"))
        .await;
    assert_eq!(page.status, 200);
    // Still running and still the owner's: cancel it so the server stops quickly.
    c.get(&format!("/console/workflows/executions/{exec}"))
        .await;
    let r = c
        .post_form(&format!("/console/workflows/executions/{exec}/cancel"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn the_editor_shows_the_apis_problems_in_place(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    c.get("/console/workflows/definitions/new").await;
    // Rules the API checks: an unknown step type and a cycle, each named by its path.
    let bad = r#"{"name": "keep-this-text", "steps": [
        {"id": "a", "type": "no_such_type", "depends_on": ["b"]},
        {"id": "b", "type": "transform", "depends_on": ["a"], "params": {"program": "."}}]}"#;
    let r = c
        .post_form("/console/workflows/definitions", &[("definition", bad)])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = between(&r.body, r#"<div id="definition-errors">"#, "</div>");
    assert!(errors.contains(r#"role="alert""#), "{errors}");
    assert!(
        errors.contains("unknown step type") && errors.contains("steps[0].type"),
        "{errors}"
    );
    assert!(errors.contains("cycle"), "{errors}");
    // The text is kept in the editor, and the editor says it is invalid.
    let area = between(&r.body, r#"<textarea id="definition""#, "</textarea>");
    assert!(area.contains("keep-this-text") && area.contains("no_such_type"));
    assert!(area.contains(r#"aria-invalid="true""#));
    // Not JSON: the API's message.
    let r = c
        .post_form(
            "/console/workflows/definitions",
            &[("definition", "{\"name\": \"broken\", ")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("request body is not valid JSON"),
        "{}",
        r.body
    );
    assert!(r.body.contains("broken"));
    // A missing field: serde's message as the API gives it.
    let r = c
        .post_form(
            "/console/workflows/definitions",
            &[("definition", r#"{"name": "no-steps"}"#)],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("missing field `steps`"), "{}", r.body);
    // A name already used: 409 with the API's message, in place.
    let json = definition("twice", QUICK);
    create_definition(&mut c, &json).await;
    let r = c
        .post_form("/console/workflows/definitions", &[("definition", &json)])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body
            .contains("you already have a definition with this name"),
        "{}",
        r.body
    );
    // Bad run input: the message next to the run form.
    let def = create_definition(&mut c, &definition("input-check", QUICK)).await;
    let r = c
        .post_form(
            &format!("/console/workflows/definitions/{def}/run"),
            &[("input", "{not json")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let note = between(&r.body, r#"<div id="input-error">"#, "</div>");
    assert!(note.contains("not valid JSON"), "{note}");
}

async fn posts_without_the_csrf_token_are_refused(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    let json = definition("no-token", QUICK);
    let body = format!(
        "definition={}",
        json.bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let r = c
        .post_raw(
            "/console/workflows/definitions",
            &body,
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let list = c.get("/console/workflows").await;
    assert!(!list.body.contains("no-token"), "nothing was created");
    for path in [
        "/console/workflows/pools",
        "/console/workflows/schedules",
        "/console/workflows/subscription/cancel",
    ] {
        let r = c
            .post_raw(path, "name=x", "application/x-www-form-urlencoded", None)
            .await;
        assert_eq!(r.status, 403, "{path}");
    }
}

async fn a_run_reaches_its_final_status_and_collections_export(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    let def = create_definition(&mut c, &definition("quick-flow", QUICK)).await;
    let exec = run(&mut c, &def).await;
    let page = wait_status(&mut c, &exec, "completed").await;
    // The timeline shows both steps completed, their outputs, and no cancel button.
    let steps = between(&page, r#"<tbody id="wf-steps">"#, "</tbody>");
    assert!(
        steps.contains("first") && steps.contains("second"),
        "{steps}"
    );
    assert_eq!(steps.matches(r#"class="badge completed""#).count(), 2);
    assert!(steps.contains("done"), "{steps}");
    assert!(!page.contains("取消执行"));
    assert!(
        !page.contains("data-sse="),
        "an ended execution is not followed"
    );
    // The live stream of an ended execution: the current state, then end.
    let sse = c
        .get(&format!(
            "/console/workflows/executions/{exec}/events?after=0"
        ))
        .await;
    assert_eq!(sse.status, 200);
    assert!(sse.header("content-type").starts_with("text/event-stream"));
    assert!(sse.body.contains("event: patch"), "{}", sse.body);
    assert!(sse.body.contains("wf-steps") && sse.body.contains("event: end"));
    // Filters: the API's names as query parameters.
    let list = c
        .get(&format!(
            "/console/workflows/executions?status=completed&definition_id={def}"
        ))
        .await;
    assert!(list.body.contains(&exec), "{}", list.body);
    let list = c.get("/console/workflows/executions?status=failed").await;
    assert!(!list.body.contains(&exec));
    let bad = c.get("/console/workflows/executions?status=bogus").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("unknown status"), "{}", bad.body);
    // A collection of the run, seeded in the store (the collectors' own tests cover them).
    let coll = seed_collection(&app, &exec).await;
    let page = c.get("/console/workflows/collections").await;
    assert!(page.body.contains("qidian.catalog"), "{}", page.body);
    let page = c
        .get(&format!("/console/workflows/collections/{coll}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("第一本书") && page.body.contains("1000001"));
    for f in ["csv", "xlsx", "json", "jsonl"] {
        assert!(page.body.contains(&format!("export?format={f}")), "{f}");
    }
    let page2 = c
        .get(&format!("/console/workflows/collections/{coll}?page=2"))
        .await;
    assert!(page2.body.contains("第二十一本书"), "{}", page2.body);
    let csv = c
        .get(&format!(
            "/console/workflows/collections/{coll}/export?format=csv"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv.body.contains("1000001") && csv.body.contains("第一本书"));
    let bad = c
        .get(&format!(
            "/console/workflows/collections/{coll}/export?format=pdf"
        ))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let mut o = signed_in(&app, OTHER, OTHER_PASSWORD).await;
    for path in [
        format!("/console/workflows/collections/{coll}"),
        format!("/console/workflows/collections/{coll}/export?format=csv"),
    ] {
        assert_eq!(o.get(&path).await.status, 404, "{path}");
    }
}

/// A collection of 25 books owned by [`console_kit::USER`]; its id.
async fn seed_collection(app: &TestApp, exec: &str) -> String {
    use trellis_workflow::store::collections as store;
    let db = &app.platform().db;
    let user = trellis_identity::store::users::by_username_key(db, console_kit::USER)
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now();
    let mut tx = db.begin().await.unwrap();
    let c = store::open(
        &mut tx,
        user.user.id,
        exec.parse().unwrap(),
        "collect",
        "qidian",
        "qidian.catalog",
        "{}",
        "console-test",
        now,
    )
    .await
    .unwrap();
    let names = ["第一本书", "第二本书"];
    let items: Vec<store::NewItem> = (1..=25)
        .map(|i| store::NewItem {
            kind: "book",
            natural_key: format!("{}", 1_000_000 + i),
            data: serde_json::json!({"book_id": format!("{}", 1_000_000 + i),
                "title": match i { 1 | 2 => names[i - 1].to_string(), 21 => "第二十一本书".into(), n => format!("书 {n}") }}),
        })
        .collect();
    store::upsert_items(&mut tx, user.user.id, "qidian", c.id, &items, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store::finish(db, c.id, "completed", None, 3, now)
        .await
        .unwrap();
    c.id.to_string()
}

async fn cancel_and_retry_a_running_execution(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    let def = create_definition(&mut c, &definition("slow-flow", SLOW)).await;
    let exec = run(&mut c, &def).await;
    let page = wait_status(&mut c, &exec, "running").await;
    assert!(page.contains("取消执行") && page.contains("data-confirm"));
    assert!(page.contains(&format!(
        r#"data-sse="/console/workflows/executions/{exec}/events?after="#
    )));
    let r = c
        .post_form(&format!("/console/workflows/executions/{exec}/cancel"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = wait_status(&mut c, &exec, "cancelled").await;
    // Retry from the cancelled step: the execution runs again as attempt 2.
    let steps = between(&page, r#"<tbody id="wf-steps">"#, "</tbody>");
    assert!(
        steps.contains(r#"name="from_step" value="wait""#),
        "{steps}"
    );
    let r = c
        .post_form(
            &format!("/console/workflows/executions/{exec}/retry"),
            &[("from_step", "wait")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = wait_status(&mut c, &exec, "running").await;
    assert!(page.contains("第 2 次尝试"), "{page}");
    // Cancelling twice: the second is the API's 409 message, in place.
    c.post_form(&format!("/console/workflows/executions/{exec}/cancel"), &[])
        .await;
    wait_status(&mut c, &exec, "cancelled").await;
    let r = c
        .post_form(&format!("/console/workflows/executions/{exec}/cancel"), &[])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains(r#"role="alert""#));
    // Retry on the newest version of a deleted definition: the API's 409, in place.
    c.get(&format!("/console/workflows/definitions/{def}"))
        .await;
    let r = c
        .post_form(&format!("/console/workflows/definitions/{def}/delete"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c
        .get(&format!("/console/workflows/executions/{exec}"))
        .await;
    assert!(
        page.body
            .contains(r#"name="use_latest_definition" value="true""#)
    );
    let r = c
        .post_form(
            &format!("/console/workflows/executions/{exec}/retry"),
            &[("use_latest_definition", "true")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("the definition was deleted"), "{}", r.body);
}

async fn proxy_pools_schedules_and_the_subscription(b: Backend) {
    let app = spawn(b).await;
    let mut c = signed_in(&app, console_kit::USER, console_kit::USER_PASSWORD).await;
    // Pools: create, see its status, test it (an empty pool tests nothing), another user 404.
    c.get("/console/workflows/pools").await;
    let r = c
        .post_form("/console/workflows/pools", &[("name", "main-pool")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let pool = r.location().to_string();
    let page = c.get(&pool).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("main-pool") && page.body.contains("各目标站点健康度"));
    let r = c.post_form(&format!("{pool}/test"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#"id="pool-test-report""#) && r.body.contains("测试完成"));
    let r = c
        .post_form(&format!("{pool}/proxies"), &[("proxies", "not a proxy")])
        .await;
    assert!(
        (400..500).contains(&r.status) && r.body.contains(r#"role="alert""#),
        "{}: {}",
        r.status,
        r.body
    );
    let list = c.get("/console/workflows/pools").await;
    assert!(list.body.contains("main-pool") && list.body.contains("0 / 0 / 0"));
    // Free has one pool: the API's 402, in place, the form kept.
    let r = c
        .post_form("/console/workflows/pools", &[("name", "second-pool")])
        .await;
    assert_eq!(r.status, 402, "{}", r.body);
    assert!(
        r.body.contains("quota exceeded for proxy_pools")
            && r.body.contains(r#"value="second-pool""#)
    );
    let mut o = signed_in(&app, OTHER, OTHER_PASSWORD).await;
    assert_eq!(o.get(&pool).await.status, 404);
    assert_eq!(o.post_form(&format!("{pool}/test"), &[]).await.status, 404);
    // Schedules: create (the API's checks), pause, resume, delete.
    let def = create_definition(&mut c, &definition("scheduled", QUICK)).await;
    c.get("/console/workflows/schedules").await;
    let r = c
        .post_form(
            "/console/workflows/schedules",
            &[("definition_id", &def), ("cron", "not cron")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("cron") && r.body.contains(r#"role="alert""#));
    assert!(r.body.contains(r#"value="not cron""#), "the form is kept");
    let r = c
        .post_form(
            "/console/workflows/schedules",
            &[
                ("definition_id", &def),
                ("cron", "0 3 * * *"),
                ("timezone", "Asia/Shanghai"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get("/console/workflows/schedules").await;
    assert!(page.body.contains("0 3 * * *") && page.body.contains("Asia/Shanghai"));
    assert!(page.body.contains("badge enabled"), "{}", page.body);
    let id = between(&page.body, "/console/workflows/schedules/", "/pause").to_string();
    assert_eq!(
        o.post_form(&format!("/console/workflows/schedules/{id}/pause"), &[])
            .await
            .status,
        404
    );
    let r = c
        .post_form(&format!("/console/workflows/schedules/{id}/pause"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert!(
        c.get("/console/workflows/schedules")
            .await
            .body
            .contains("已暂停")
    );
    c.post_form(&format!("/console/workflows/schedules/{id}/resume"), &[])
        .await;
    let r = c
        .post_form(&format!("/console/workflows/schedules/{id}/delete"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert!(
        !c.get("/console/workflows/schedules")
            .await
            .body
            .contains("0 3 * * *")
    );
    // Subscription: usage meters, subscribe, an upgrade refused in place, cancel.
    let page = c.get("/console/workflows/subscription").await;
    assert!(
        page.body
            .contains(r#"<meter id="meter-executions_per_month""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<label for="meter-workflow_definitions">"#)
    );
    assert!(
        page.body
            .contains("/console/workflows/subscription/subscribe")
    );
    let r = c
        .post_form(
            "/console/workflows/subscription/subscribe",
            &[("plan_id", "pro"), ("billing_cycle", "monthly")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("订阅成功") && r.body.contains("取消订阅"),
        "{}",
        r.body
    );
    let r = c
        .post_form(
            "/console/workflows/subscription/upgrade",
            &[("plan_id", "free")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains(r#"role="alert""#));
    let r = c
        .post_form("/console/workflows/subscription/cancel", &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("订阅已取消") && r.body.contains("将在本期结束时取消"));
}
