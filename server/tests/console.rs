//! The browser console (issue 13) over plain HTTP, on both backends: sign-in with the session
//! cookie, the CSRF refusals, sign-out revoking the session, admin-only pages, languages,
//! embedded assets with cache validators, MicroDock's pages (upload by form, manage), and
//! page sizes. The same flows in a real browser are in `console_browser.rs`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod console_kit;

use console_kit::{Browserless, plugin_zip};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

backend_tests!(
    sign_in_session_cookie_and_sign_out,
    csrf_is_required_and_bound_to_the_session,
    admin_pages_refuse_other_users,
    languages_and_assets,
    plugins_upload_and_manage_by_form,
    diet_pets_plans_and_the_live_task_page
);

async fn sign_in_session_cookie_and_sign_out(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut c = Browserless::new(&app);
    // Signed out: the console sends the browser to the login page, keeping where it was going.
    let r = c.get("/console/plugins?search=a").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        "/console/login?next=%2Fconsole%2Fplugins%3Fsearch%3Da"
    );
    let page = c.get("/console/login").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"name="csrf_token""#), "{}", page.body);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    // A wrong password shows the API's message in place.
    let bad = c
        .post_form(
            "/console/login",
            &[("username", "admin"), ("password", "wrong-password-1")],
        )
        .await;
    assert_eq!(bad.status, 401);
    assert!(
        bad.body.contains("invalid username/email or password"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains(r#"role="alert""#));
    // Signing in sets an HttpOnly, SameSite=Lax cookie scoped to the console, and goes to next.
    let ok = c
        .post_form(
            "/console/login",
            &[
                ("username", "admin"),
                ("password", console_kit::ADMIN_PASSWORD),
                ("next", "/console/plugins"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location(), "/console/plugins");
    let cookie = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("trellis_session="))
        .unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // The cookie's token is the console's only: the APIs refuse it.
    let token = c.cookie("trellis_session").unwrap();
    let api = app
        .server
        .client
        .get(app.server.url("/api/v1/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    // `next` never leaves the console.
    let mut other = Browserless::new(&app);
    other.get("/console/login").await;
    let r = other
        .post_form(
            "/console/login",
            &[
                ("username", "admin"),
                ("password", console_kit::ADMIN_PASSWORD),
                ("next", "//evil.example/console/"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/console/");
    // Signed in: the home page names every section.
    let home = c.get("/console/").await;
    assert_eq!(home.status, 200);
    for label in ["插件", "工作流", "项目", "饮食计划", "账户", "退出登录"] {
        assert!(home.body.contains(label), "{label}");
    }
    // The account page lists this session (and the other browser's).
    let account = c.get("/console/account").await;
    assert!(account.body.contains("当前会话"));
    assert!(
        account.body.contains("/revoke"),
        "the other session can be revoked"
    );
    // Signing out revokes the session: the old cookie no longer works anywhere.
    let stale = c.cookie("trellis_session").unwrap();
    let out = c.post_form("/console/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), "/console/login?done=logout");
    let mut replay = Browserless::new(&app);
    replay.set_cookie("trellis_session", &stale);
    assert_eq!(replay.get("/console/").await.status, 303);
}

async fn csrf_is_required_and_bound_to_the_session(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut alice = Browserless::new(&app);
    alice.get("/console/login").await;
    let signed_out = alice.csrf.clone().unwrap();
    alice.sign_in("admin", console_kit::ADMIN_PASSWORD).await;
    let mut bob = Browserless::new(&app);
    bob.sign_in(console_kit::USER, console_kit::USER_PASSWORD)
        .await;
    // No token: 403, and nothing changed.
    let r = alice
        .post_raw(
            "/console/account/profile",
            "display_name=Mallory",
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    // Another session's token: 403.
    let bobs = bob.csrf.clone().unwrap();
    let r = alice
        .post_raw(
            "/console/account/profile",
            &format!("display_name=Mallory&csrf_token={bobs}"),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    // The signed-out token does not work once signed in either (the binding changed).
    let r = alice
        .post_raw(
            "/console/account/profile",
            &format!("display_name=Mallory&csrf_token={signed_out}"),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    let account = alice.get("/console/account").await;
    assert!(!account.body.contains("Mallory"));
    // The right token works; in a header too (scripts).
    let r = alice
        .post_form("/console/account/profile", &[("display_name", "Alice A.")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let token = alice.csrf.clone().unwrap();
    let r = alice
        .post_raw(
            "/console/account/profile",
            "display_name=Alice+B.",
            "application/x-www-form-urlencoded",
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        alice
            .get("/console/account")
            .await
            .body
            .contains("Alice B.")
    );
    // A multipart form without its query token: 403 before the body is read.
    let r = alice
        .post_raw(
            "/console/plugins/upload",
            "--x--\r\n",
            "multipart/form-data; boundary=x",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    // Signed out, the login form itself needs the token of this browser's cookie.
    let mut eve = Browserless::new(&app);
    eve.get("/console/login").await;
    let r = eve
        .post_raw(
            "/console/login",
            &format!(
                "username=admin&password={}&csrf_token={bobs}",
                console_kit::ADMIN_PASSWORD
            ),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
}

async fn admin_pages_refuse_other_users(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut user = Browserless::new(&app);
    user.sign_in(console_kit::USER, console_kit::USER_PASSWORD)
        .await;
    let r = user.get("/console/plugins/backups").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("无权限"), "{}", r.body);
    let r = user
        .post_form("/console/plugins/p/com.example.none/disable", &[])
        .await;
    assert_eq!(r.status, 403);
    let mut en = Browserless::new(&app);
    en.sign_in(console_kit::USER, console_kit::USER_PASSWORD)
        .await;
    let r = en.get("/console/plugins/backups?lang=en").await;
    assert!(r.body.contains("Forbidden"), "{}", r.body);
    // An unknown console page: the console's 404 page, not the API's JSON.
    let r = user.get("/console/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(r.body.contains("未找到"), "{}", r.body);
    // The list is open to every signed-in user.
    assert_eq!(user.get("/console/plugins").await.status, 200);
}

async fn languages_and_assets(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut c = Browserless::new(&app);
    c.sign_in("admin", console_kit::ADMIN_PASSWORD).await;
    // Chinese by default; English by `?lang=en` (remembered) or by Accept-Language.
    assert!(
        c.get("/console/")
            .await
            .body
            .contains(r#"<html lang="zh-CN">"#)
    );
    let en = c.get("/console/?lang=en").await;
    assert!(en.body.contains(r#"<html lang="en">"#));
    for label in [
        "Plugins",
        "Workflows",
        "Issues",
        "Diet plans",
        "Account",
        "Log out",
    ] {
        assert!(en.body.contains(label), "{label}");
    }
    assert!(
        c.get("/console/account")
            .await
            .body
            .contains("Change password"),
        "remembered"
    );
    let mut fresh = Browserless::new(&app);
    fresh.accept_language = Some("en-GB,en;q=0.9,zh;q=0.5".into());
    assert!(fresh.get("/console/login").await.body.contains("Log in"));
    // Assets: versioned URLs, immutable caching, strong validators.
    let home = c.get("/console/").await;
    let href = console_kit::between(&home.body, "/console/assets/htmx.min.js?v=", "\"");
    let r = c
        .get(&format!("/console/assets/htmx.min.js?v={href}"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").contains("immutable"));
    assert!(r.header("content-type").starts_with("text/javascript"));
    let etag = r.header("etag").to_string();
    assert_eq!(etag, format!("\"{href}\""));
    let again = c
        .get_with("/console/assets/htmx.min.js", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(c.get("/console/assets/../Cargo.toml").await.status, 404);
    assert_eq!(c.get("/console/assets/nothing.js").await.status, 404);
    assert!(
        c.get("/console/assets/htmx.LICENSE")
            .await
            .body
            .contains("Zero-Clause BSD")
    );
    // Total static assets, gzip-compressed: at most 100 KB (issue 13 "Performance").
    let mut total = 0;
    for a in trellis_console::assets::FILES {
        let r = c
            .get_with(
                &format!("/console/assets/{}", a.name),
                &[("accept-encoding", "gzip")],
            )
            .await;
        total += r.raw_len;
    }
    assert!(total <= 100 * 1024, "assets are {total} bytes compressed");
}

async fn plugins_upload_and_manage_by_form(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut admin = Browserless::new(&app);
    admin.sign_in("admin", console_kit::ADMIN_PASSWORD).await;
    let mut user = Browserless::new(&app);
    user.sign_in(console_kit::USER, console_kit::USER_PASSWORD)
        .await;
    // A user uploads with the plain form (no script): 303 to the plugin's page.
    user.get("/console/plugins/upload").await;
    let zip = plugin_zip("com.example.console", "1.0.0");
    let r = user
        .upload(
            "/console/plugins/upload",
            "demo.zip",
            &zip,
            &[("plugin_key", "key-one-1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        "/console/plugins/p/com.example.console?done=uploaded"
    );
    // The same version again: the server's message, in place, nothing added.
    let r = user
        .upload(
            "/console/plugins/upload",
            "demo.zip",
            &zip,
            &[("plugin_key", "key-one-1")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains(r#"role="alert""#));
    // With the script's header the answer is JSON for the progress view.
    let zip2 = plugin_zip("com.example.console", "1.1.0");
    let r = user
        .upload_scripted(
            "/console/plugins/upload",
            "demo.zip",
            &zip2,
            &[("plugin_key", "wrong-key")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("密钥"), "{v}");
    let r = user
        .upload_scripted(
            "/console/plugins/upload",
            "demo.zip",
            &zip2,
            &[("plugin_key", "key-one-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Listed, with its versions and chart on the detail page.
    let list = user.get("/console/plugins?search=console").await;
    assert!(list.body.contains("com.example.console"));
    assert!(list.body.contains("已启用"));
    let detail = user.get("/console/plugins/p/com.example.console").await;
    assert!(detail.body.contains("1.1.0") && detail.body.contains("1.0.0"));
    assert!(detail.body.contains("<svg"));
    assert!(
        !detail.body.contains("/disable"),
        "no admin actions for users"
    );
    // The admin disables it: users no longer see it.
    let r = admin
        .post_form("/console/plugins/p/com.example.console/disable", &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(admin.get("/console/plugins").await.body.contains("已禁用"));
    assert!(
        !user
            .get("/console/plugins")
            .await
            .body
            .contains("com.example.console")
    );
    assert_eq!(
        user.get("/console/plugins/p/com.example.console")
            .await
            .status,
        403
    );
    // Deprecate with a note, then delete.
    let r = admin
        .post_form(
            "/console/plugins/p/com.example.console/deprecate",
            &[("message", "用新版"), ("replacement", "com.example.next")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        admin
            .get("/console/plugins/p/com.example.console")
            .await
            .body
            .contains("用新版")
    );
    let r = admin
        .post_form("/console/plugins/p/com.example.console/delete", &[])
        .await;
    assert_eq!(r.location(), "/console/plugins?done=deleted");
    assert_eq!(
        admin
            .get("/console/plugins/p/com.example.console")
            .await
            .status,
        404
    );
    // Page sizes stay small (issue 13: ≤ 50 KB of HTML).
    for path in [
        "/console/",
        "/console/plugins",
        "/console/plugins/upload",
        "/console/account",
    ] {
        let r = admin.get(path).await;
        assert!(r.body.len() <= 50 * 1024, "{path}: {} bytes", r.body.len());
    }
}

async fn diet_pets_plans_and_the_live_task_page(b: Backend) {
    let app = console_kit::spawn(b).await;
    let mut c = Browserless::new(&app);
    c.sign_in(console_kit::USER, console_kit::USER_PASSWORD)
        .await;
    assert_eq!(c.get("/console/diet").await.status, 200);
    // A bad pet: the API's validation message, in place, the form kept.
    let r = c
        .post_form(
            "/console/diet",
            &[
                ("name", "Tofu"),
                ("type", "dog"),
                ("age_months", "36"),
                ("weight_kg", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains(r#"role="alert""#) && r.body.contains("weight_kg"),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"value="Tofu""#));
    let r = c
        .post_form(
            "/console/diet",
            &[
                ("name", "Tofu"),
                ("type", "dog"),
                ("age_months", "36"),
                ("weight_kg", "10"),
                ("neutered", "true"),
                ("activity_level", "moderate"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = c.get("/console/diet").await;
    assert!(page.body.contains("Tofu"));
    let action = console_kit::between(&page.body, r#"action="/console/diet/pets/"#, r#"""#);
    let r = c
        .post_form(&format!("/console/diet/pets/{action}"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let task_url = r.location().to_string();
    assert!(task_url.starts_with("/console/diet/tasks/"), "{task_url}");
    // The console's own stream of the task: patches with ids, then `end`.
    let events = c.get(&format!("{task_url}/events?after=0")).await;
    assert_eq!(events.status, 200);
    assert!(
        events
            .header("content-type")
            .starts_with("text/event-stream")
    );
    assert!(events.body.contains("event: patch"), "{}", events.body);
    assert!(events.body.contains("diet-progress"));
    assert!(events.body.contains("event: end"), "{}", events.body);
    // Resuming after the last patch: only the end.
    let last = events
        .body
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_string();
    let resumed = c
        .get_with(&format!("{task_url}/events"), &[("last-event-id", &last)])
        .await;
    assert_eq!(resumed.status, 204, "after end: {}", resumed.body);
    // After the final frame (the id before `end`): only `end`.
    let before_end = (last.parse::<i64>().unwrap() - 1).to_string();
    let tail = c
        .get_with(
            &format!("{task_url}/events"),
            &[("last-event-id", &before_end)],
        )
        .await;
    assert!(!tail.body.contains("event: patch"), "{}", tail.body);
    assert!(tail.body.contains("event: end"), "{}", tail.body);
    // The task page of a finished task links its plan; the plan page has weeks and targets.
    let task = c.get(&task_url).await;
    assert_eq!(task.status, 200);
    assert!(task.body.contains("已完成"), "{}", task.body);
    let plan_url = format!(
        "/console/diet/plans/{}",
        console_kit::between(&task.body, r#"href="/console/diet/plans/"#, r#"""#)
    );
    let plan = c.get(&plan_url).await;
    assert_eq!(plan.status, 200);
    for text in ["第 1 周", "第 4 周", "每日营养目标", "kcal", "兽医"] {
        assert!(plan.body.contains(text), "{text}");
    }
    let week3 = c.get(&format!("{plan_url}?week=3")).await;
    assert!(
        week3.body.contains(r#"aria-current="page">第 3 周"#),
        "{}",
        week3.body
    );
    assert!(
        plan.body.len() <= 50 * 1024,
        "plan page {} bytes",
        plan.body.len()
    );
    // A malformed id or form is the console's page with the reason, not the API's JSON.
    let bad = c.get("/console/diet/plans/not-a-uuid").await;
    assert_eq!(bad.status, 400);
    assert!(bad.header("content-type").starts_with("text/html"));
    assert!(bad.body.contains("请求无法处理"), "{}", bad.body);
    let bad = c
        .post_form("/console/diet/meals/not-a-uuid", &[("done", "true")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("请求无法处理"), "{}", bad.body);
    // Each day: its meals and its nutrients against the targets.
    for text in ["营养与目标", "早餐", "钙磷比", "应用此计划"] {
        assert!(plan.body.contains(text), "{text}");
    }
    // Apply: a bad start date is explained in place; the default (today) makes the meals.
    let apply = format!("{plan_url}/apply");
    let r = c.post_form(&apply, &[("start_date", "2026-13-45")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains(r#"role="alert""#), "{}", r.body);
    let r = c.post_form(&apply, &[("start_date", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location().starts_with(&format!("{plan_url}?applied=")),
        "{}",
        r.location()
    );
    let applied = c.get(r.location()).await;
    assert!(applied.body.contains("已应用") && applied.body.contains("执行中"));
    // Today's meals: each can be marked fed, and undone.
    let pet = action.trim_end_matches("/plan");
    let meals_url = format!("/console/diet/pets/{pet}/meals");
    let today = c.get(&meals_url).await;
    assert_eq!(today.status, 200, "{}", today.body);
    assert!(
        today.body.contains("标记已喂") && today.body.contains("已喂 0 / "),
        "{}",
        today.body
    );
    let meal = format!(
        "/console/diet/meals/{}",
        console_kit::between(&today.body, r#"action="/console/diet/meals/"#, r#"""#)
    );
    let r = c.post_form(&meal, &[("done", "true")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().starts_with(&format!("{meals_url}?date=")));
    let fed = c.get(r.location()).await;
    assert!(
        fed.body.contains("已喂 1 / ") && fed.body.contains("撤销"),
        "{}",
        fed.body
    );
    let r = c.post_form(&meal, &[("done", "false")]).await;
    assert_eq!(r.status, 303);
    assert!(c.get(&meals_url).await.body.contains("已喂 0 / "));
    let r = c.post_form(&meal, &[("done", "maybe")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let bad_day = c.get(&format!("{meals_url}?date=yesterday")).await;
    assert_eq!(bad_day.status, 200);
    assert!(bad_day.body.contains(r#"role="alert""#));
    let empty_day = c.get(&format!("{meals_url}?date=2001-01-01")).await;
    assert!(empty_day.body.contains("这一天没有餐食记录"));
    // Another user sees none of it.
    let mut other = Browserless::new(&app);
    other.sign_in("admin", console_kit::ADMIN_PASSWORD).await;
    assert_eq!(other.get(&task_url).await.status, 404);
    assert_eq!(other.get(&format!("{task_url}/events")).await.status, 404);
    assert_eq!(other.get(&plan_url).await.status, 404);
    assert_eq!(other.get(&meals_url).await.status, 404);
    assert_eq!(
        other.post_form(&meal, &[("done", "true")]).await.status,
        404
    );
    assert_eq!(other.post_form(&apply, &[]).await.status, 404);
}
