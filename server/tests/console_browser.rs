//! The console in a real browser (issue 13 "Tests"): headless Debian Chromium driven over
//! WebDriver (`chromedriver`, `fantoccini`) against the real server on an ephemeral port,
//! SQLite. Screenshots of each page visited go to `target/console-screenshots/` for review.
//!
//! Under `CI=true` a missing `chromium`/`chromedriver` fails the run; otherwise the test says
//! why it skipped and passes. `.ci/run` installs both.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod console_kit;

use std::time::Duration;

use console_kit::browser::*;
use fantoccini::Locator;
use serde_json::json;
use trellis_kernel::testing::{Backend, TestApp};

#[tokio::test]
async fn console_in_a_real_browser() {
    let Some(d) = driver().await else { return };
    let app: TestApp = console_kit::spawn(Backend::Embedded).await;
    let base = app.server.base_url.clone();
    let admin = browser(&d, "zh-CN").await;

    // Log in (Chinese by default), see every section.
    admin.goto(&format!("{base}/console/login")).await.unwrap();
    shot(&admin, "01-login").await;
    sign_in(&admin, &base, "admin", console_kit::ADMIN_PASSWORD).await;
    let home = wait_text(&admin, "账户").await;
    for label in ["插件", "工作流", "项目", "饮食计划", "账户"] {
        assert!(home.contains(label), "{label} in {home}");
    }
    shot(&admin, "02-home").await;

    // Upload a plugin through the form (script path: progress bar, JSON answer), land on its page.
    let dir = tempfile_dir();
    let zip = dir.join("demo-plugin.zip");
    std::fs::write(
        &zip,
        console_kit::plugin_zip("com.example.browser", "1.2.3"),
    )
    .unwrap();
    admin
        .goto(&format!("{base}/console/plugins/upload"))
        .await
        .unwrap();
    admin
        .find(Locator::Css("input[type=file][name=file]"))
        .await
        .unwrap()
        .send_keys(zip.to_str().unwrap())
        .await
        .unwrap();
    admin
        .find(Locator::Css("input[name=plugin_key]"))
        .await
        .unwrap()
        .send_keys("browser-key-1")
        .await
        .unwrap();
    shot(&admin, "03-upload").await;
    admin
        .find(Locator::Css("form[data-upload] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(&admin, "/console/plugins/p/com.example.browser").await;
    let detail = wait_text(&admin, "上传成功").await;
    assert!(detail.contains("1.2.3"), "{detail}");
    shot(&admin, "04-plugin-detail").await;
    // The same file again: the server's message in place, no navigation.
    admin
        .goto(&format!("{base}/console/plugins/upload"))
        .await
        .unwrap();
    admin
        .find(Locator::Css("input[type=file][name=file]"))
        .await
        .unwrap()
        .send_keys(zip.to_str().unwrap())
        .await
        .unwrap();
    admin
        .find(Locator::Css("input[name=plugin_key]"))
        .await
        .unwrap()
        .send_keys("browser-key-1")
        .await
        .unwrap();
    admin
        .find(Locator::Css("form[data-upload] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let note = admin
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-upload-note]:not([hidden])"))
        .await
        .unwrap();
    assert!(
        note.text().await.unwrap().contains("已存在"),
        "duplicate version message"
    );
    shot(&admin, "05-upload-error").await;

    // Listed with its badge.
    admin
        .goto(&format!("{base}/console/plugins"))
        .await
        .unwrap();
    let list = wait_text(&admin, "com.example.browser").await;
    assert!(list.contains("已启用"), "{list}");
    shot(&admin, "06-plugins").await;
    admin
        .goto(&format!("{base}/console/plugins/backups"))
        .await
        .unwrap();
    wait_text(&admin, "备份管理").await;
    shot(&admin, "06b-backups").await;

    // CSRF: a form whose token was tampered with is refused with 403.
    admin
        .goto(&format!("{base}/console/account"))
        .await
        .unwrap();
    shot(&admin, "07-account").await;
    admin
        .execute(
            "document.querySelectorAll('input[name=csrf_token]').forEach(function (i) { i.value = 'forged'; });",
            vec![],
        )
        .await
        .unwrap();
    admin
        .find(Locator::Css(
            "form[action='/console/account/profile'] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let refused = wait_text(&admin, "CSRF").await;
    assert!(refused.contains("403"), "{refused}");

    // A second browser, an ordinary user in English: admin pages answer 403 Forbidden.
    let user = browser(&d, "en-US").await;
    sign_in(&user, &base, console_kit::USER, console_kit::USER_PASSWORD).await;
    // English by Accept-Language.
    wait_text(&user, "Plugins").await;
    user.goto(&format!("{base}/console/plugins/backups"))
        .await
        .unwrap();
    wait_text(&user, "Forbidden").await;
    shot(&user, "08-forbidden").await;

    // Log out revokes the session: the console sends the browser back to the login page.
    admin.goto(&format!("{base}/console/")).await.unwrap();
    admin
        .find(Locator::Css("form[action='/console/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(&admin, "/console/login").await;
    admin
        .goto(&format!("{base}/console/plugins"))
        .await
        .unwrap();
    wait_path(&admin, "/console/login").await;

    admin.close().await.unwrap();
    user.close().await.unwrap();
}

/// A narrative the planner's schema accepts, streamed slowly by the fake LLM so the plan is
/// still running when the page reloads.
fn narrative() -> String {
    let week = |n: u8| {
        json!({"diet_adjustment_principle": format!("第{n}周：循序渐进"),
               "weekly_special_adjustment_note": "注意饮水",
               "suggestions": ["每天称重", "保持运动"]})
    };
    json!({"ai_suggestions": "整体均衡，请按时喂食。", "weeks": [week(1), week(2), week(3), week(4)]})
        .to_string()
}

#[tokio::test]
async fn diet_plan_live_progress_survives_a_reload() {
    use trellis_llm::fixtures::{FakeOpenAi, Scripted};
    let Some(d) = driver().await else { return };
    let chars: Vec<char> = narrative().chars().collect();
    let fake = FakeOpenAi::start(vec![Scripted::Stream {
        content: chars.chunks(3).map(|c| c.iter().collect()).collect(),
        reasoning: vec![],
        keepalive: true,
        delay_ms: 40,
        usage: true,
    }])
    .await;
    let base_url = fake.base_url();
    let app = TestApp::new(Backend::Embedded)
        .with_vars(&[
            ("RATE_LIMIT_ENABLED", "false"),
            ("DEEPSEEK_API_KEY", "test-key"),
            ("DEEPSEEK_API_BASE", base_url.as_str()),
            ("TRELLIS_LLM_PROVIDERS", "deepseek"),
        ])
        .with_user(console_kit::USER, console_kit::USER_PASSWORD, "user")
        .start(trellis::testing::launch)
        .await;
    let base = app.server.base_url.clone();
    let c = browser(&d, "zh-CN").await;
    sign_in(&c, &base, console_kit::USER, console_kit::USER_PASSWORD).await;
    c.goto(&format!("{base}/console/diet")).await.unwrap();
    for (name, value) in [("name", "豆豆"), ("age_months", "36"), ("weight_kg", "10")] {
        c.find(Locator::Css(&format!("input[name={name}]")))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    c.find(Locator::Css(
        "form[action='/console/diet'] button[type=submit]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let create = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form[action$='/plan'] button"))
        .await
        .unwrap();
    shot(&c, "10-diet-pets").await;
    create.click().await.unwrap();
    wait_path(&c, "/console/diet/tasks/").await;
    // Live: the AI's tokens arrive over the console's stream before the plan is done.
    let mut streamed = false;
    for _ in 0..100 {
        let n = js(
            &c,
            "return document.getElementById('diet-tokens').textContent.length;",
        )
        .await;
        if n.as_u64().unwrap_or(0) > 10 {
            streamed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(streamed, "no live tokens: {}", text(&c).await);
    shot(&c, "11-diet-live").await;
    // Reload mid-plan: the page renders the task as it is and resumes the stream.
    c.refresh().await.unwrap();
    let link = c
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#diet-result a"))
        .await
        .unwrap();
    let progress = js(&c, "return document.getElementById('diet-progress').value;").await;
    assert_eq!(progress.as_f64(), Some(100.0), "progress after the end");
    shot(&c, "12-diet-done").await;
    link.click().await.unwrap();
    wait_path(&c, "/console/diet/plans/").await;
    let plan = wait_text(&c, "每日营养目标").await;
    assert!(plan.contains("第 1 周"), "{plan}");
    shot(&c, "13-diet-plan").await;
    // Apply it, then today's meals: mark the first one fed.
    c.find(Locator::Css("form[action$='/apply'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "已应用").await;
    c.find(Locator::Css("a[href$='/meals']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "已喂 0 / ").await;
    c.find(Locator::Css("form[action^='/console/diet/meals/'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "已喂 1 / ").await;
    shot(&c, "14-diet-meals").await;
    c.close().await.unwrap();
}
