//! The Workflow Platform's console pages in a real browser (issue 13 "Tests": "create a
//! workflow and watch its execution finish live"): headless Debian Chromium over WebDriver
//! against the real server, SQLite. The editor's inline error, a definition saved from the
//! editor, run, and its step timeline reaching `completed` on the detail page with no reload
//! (the page's own stream patches it); screenshots of the definitions, editor, execution,
//! pools, collections and subscription pages go to `target/console-screenshots/`.
//!
//! Under `CI=true` a missing `chromium`/`chromedriver` fails the run; otherwise the test says
//! why it skipped and passes.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod console_kit;

use std::time::Duration;

use console_kit::browser::*;
use fantoccini::{Client, Locator};
use trellis_kernel::testing::{Backend, TestApp};

/// Three steps; the middle one waits 3 s, so the page is open while the execution runs.
const DEFINITION: &str = r#"{"name": "浏览器测试工作流", "description": "console browser test", "steps": [{"id": "prepare", "type": "transform", "params": {"program": "{n: 1}"}}, {"id": "wait", "type": "delay", "depends_on": ["prepare"], "params": {"seconds": 3}}, {"id": "finish", "type": "transform", "depends_on": ["wait"], "params": {"program": "{done: true}"}}]}"#;

async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The execution page's status badge class (`badge running`, `badge completed`, …).
async fn status(c: &Client) -> String {
    js(
        c,
        "var b = document.querySelector('#wf-status .badge'); return b ? b.className : '';",
    )
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

#[tokio::test]
async fn workflow_pages_in_a_real_browser() {
    let Some(d) = driver().await else { return };
    let app: TestApp = console_kit::spawn(Backend::Embedded).await;
    let base = app.server.base_url.clone();
    let c = browser(&d, "zh-CN").await;
    sign_in(&c, &base, console_kit::USER, console_kit::USER_PASSWORD).await;

    // The editor: broken JSON first; the API's message appears next to it, the text kept.
    c.goto(&format!("{base}/console/workflows/definitions/new"))
        .await
        .unwrap();
    wait_text(&c, "工作流定义 JSON").await;
    fill(&c, "#definition", r#"{"name": "half"#).await;
    click(
        &c,
        "form[action='/console/workflows/definitions'] button[type=submit]",
    )
    .await;
    let page = wait_text(&c, "request body is not valid JSON").await;
    assert!(page.contains("保存"), "{page}");
    let kept = js(&c, "return document.getElementById('definition').value;").await;
    assert_eq!(kept.as_str(), Some(r#"{"name": "half"#));
    shot(&c, "wf-01-editor-error").await;

    // A good definition, saved from the editor.
    fill(&c, "#definition", DEFINITION).await;
    shot(&c, "wf-02-editor").await;
    click(
        &c,
        "form[action='/console/workflows/definitions'] button[type=submit]",
    )
    .await;
    let def_path = wait_path(&c, "/console/workflows/definitions/").await;
    let def_path = def_path.split('?').next().unwrap().to_string();
    wait_text(&c, "已保存为新版本").await;

    // The definitions list.
    c.goto(&format!("{base}/console/workflows")).await.unwrap();
    let list = wait_text(&c, "浏览器测试工作流").await;
    assert!(list.contains("v1"), "{list}");
    shot(&c, "wf-03-definitions").await;

    // Run it from the list; the execution page follows it live to the end, without reload.
    click(&c, "form[action$='/run'] button[type=submit]").await;
    let exec_path = wait_path(&c, "/console/workflows/executions/").await;
    let exec: uuid::Uuid = exec_path["/console/workflows/executions/".len()..]
        .parse()
        .unwrap();
    wait_text(&c, "步骤时间线").await;
    js(&c, "window.__wfNoReload = 42; return 0;").await;
    let first = status(&c).await;
    assert!(
        !first.contains("completed"),
        "the page opened while the execution ran: {first}"
    );
    let mut seen_running = false;
    let mut done = false;
    for _ in 0..300 {
        let s = status(&c).await;
        if s.contains("running") {
            if !seen_running {
                shot(&c, "wf-04-execution-live").await;
            }
            seen_running = true;
        }
        if s.contains("completed") {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "never completed: {}", text(&c).await);
    let marker = js(&c, "return window.__wfNoReload || 0;").await;
    assert_eq!(marker.as_i64(), Some(42), "the page was not reloaded");
    assert!(seen_running || first.contains("running") || first.contains("queued"));
    // Every step of the timeline completed, in the page's own rows.
    let rows = js(
        &c,
        "return Array.from(document.querySelectorAll('#wf-steps tr')).map(function (r) { return r.className; });",
    )
    .await;
    assert_eq!(
        rows,
        serde_json::json!(["completed", "completed", "completed"]),
        "{}",
        text(&c).await
    );
    for _ in 0..50 {
        let state = js(
            &c,
            "return document.getElementById('wf-execution').getAttribute('data-sse-state');",
        )
        .await;
        if state.as_str() == Some("ended") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = text(&c).await;
    assert!(
        page.contains("已完成") && !page.contains("取消执行"),
        "{page}"
    );
    shot(&c, "wf-05-execution-done").await;

    // Proxy pools: create one, test it (the report shows in place).
    c.goto(&format!("{base}/console/workflows/pools"))
        .await
        .unwrap();
    wait_text(&c, "新建代理池").await;
    fill(&c, "#pool-name", "浏览器代理池").await;
    click(
        &c,
        "form[action='/console/workflows/pools'] button[type=submit]",
    )
    .await;
    wait_path(&c, "/console/workflows/pools/").await;
    wait_text(&c, "各目标站点健康度").await;
    click(&c, "form[action$='/test'] button[type=submit]").await;
    wait_text(&c, "测试完成").await;
    shot(&c, "wf-06-pool").await;
    c.goto(&format!("{base}/console/workflows/pools"))
        .await
        .unwrap();
    wait_text(&c, "浏览器代理池").await;
    shot(&c, "wf-07-pools").await;

    // Collections (one seeded in the store for the run; the collectors have their own
    // tests): the list, the items table with its export links.
    let coll = seed_collection(&app, exec).await;
    c.goto(&format!("{base}/console/workflows/collections"))
        .await
        .unwrap();
    wait_text(&c, "qidian.catalog").await;
    shot(&c, "wf-08-collections").await;
    c.goto(&format!("{base}/console/workflows/collections/{coll}"))
        .await
        .unwrap();
    let items = wait_text(&c, "斗破苍穹").await;
    assert!(items.contains("CSV") && items.contains("XLSX"), "{items}");
    shot(&c, "wf-09-collection-items").await;
    c.goto(&format!("{base}/console/workflows/subscription"))
        .await
        .unwrap();
    let sub = wait_text(&c, "用量").await;
    assert!(sub.contains("本月执行次数"), "{sub}");
    let meters = js(&c, "return document.querySelectorAll('meter').length;").await;
    assert_eq!(meters.as_u64(), Some(6));
    shot(&c, "wf-10-subscription").await;
    c.goto(&format!("{base}/console/workflows/executions"))
        .await
        .unwrap();
    wait_text(&c, "执行记录（最新在前）").await;
    shot(&c, "wf-11-executions").await;
    // The definition's versions, and a schedule made with the form.
    c.goto(&format!("{base}{def_path}/versions")).await.unwrap();
    let versions = wait_text(&c, "历史版本").await;
    assert!(versions.contains("v1"), "{versions}");
    shot(&c, "wf-13-versions").await;
    c.goto(&format!("{base}/console/workflows/schedules"))
        .await
        .unwrap();
    wait_text(&c, "创建调度").await;
    c.find(Locator::Css("input[name=cron]"))
        .await
        .unwrap()
        .send_keys("*/5 * * * *")
        .await
        .unwrap();
    click(
        &c,
        "form[action='/console/workflows/schedules'] button[type=submit]",
    )
    .await;
    let schedules = wait_text(&c, "*/5 * * * *").await;
    assert!(schedules.contains("浏览器测试工作流"), "{schedules}");
    shot(&c, "wf-14-schedules").await;
    c.close().await.unwrap();

    // An administrator's browser lists every user's workflows, as the API does.
    let admin = browser(&d, "en").await;
    sign_in(&admin, &base, "admin", console_kit::ADMIN_PASSWORD).await;
    admin
        .goto(&format!("{base}/console/workflows?lang=en"))
        .await
        .unwrap();
    let all = wait_text(&admin, "Definitions").await;
    assert!(all.contains("浏览器测试工作流"), "{all}");
    shot(&admin, "wf-12-definitions-admin-en").await;
    admin.close().await.unwrap();
}

/// A finished Qidian catalogue collection of [`console_kit::USER`] with three books; its id.
async fn seed_collection(app: &TestApp, exec: uuid::Uuid) -> uuid::Uuid {
    use trellis_workflow::store::collections as store;
    let db = &app.platform().db;
    let user = trellis_identity::store::users::by_username_key(db, console_kit::USER)
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let now = chrono::Utc::now();
    let mut tx = db.begin().await.unwrap();
    let c = store::open(
        &mut tx,
        user,
        exec,
        "collect",
        "qidian",
        "qidian.catalog",
        "{}",
        "browser",
        now,
    )
    .await
    .unwrap();
    let items: Vec<store::NewItem> = [
        ("1209977", "斗破苍穹"),
        ("1010868264", "诡秘之主"),
        ("1735921", "凡人修仙传"),
    ]
    .into_iter()
    .map(|(id, title)| store::NewItem {
        kind: "book",
        natural_key: id.to_string(),
        data: serde_json::json!({"book_id": id, "title": title}),
    })
    .collect();
    store::upsert_items(&mut tx, user, "qidian", c.id, &items, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store::finish(db, c.id, "completed", None, 2, now)
        .await
        .unwrap();
    c.id
}
