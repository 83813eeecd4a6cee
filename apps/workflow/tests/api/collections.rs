//! Qidian collectors and collections through HTTP on SQLite and PostgreSQL (issue 11
//! "Collectors", "Results"), against a local Qidian-like fixture server — never a live site.

use std::io::Read;
use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_workflow::collectors::fixtures::qidian::{
    self as fixture, Mode, QidianFixture, QidianFixtureConfig,
};
use trellis_workflow::collectors::qidian::pages::data::{BIG_BOOK_ID, book};

use crate::harness::{TestApp, Tokens};

backend_tests!(
    book_and_catalog_are_collected_deduplicated_and_exported,
    robots_txt_refusals_and_blocks_end_the_run,
    a_stopped_ranking_resumes_without_duplicates_or_gaps,
    xhs_needs_the_setting_the_terms_and_an_account,
);

async fn app_for(b: Backend, site: &QidianFixture) -> TestApp {
    let base = site.base_url();
    let mobile = site.mobile_base_url();
    let env: Vec<(&str, &str)> = vec![
        ("TRELLIS_ALLOW_PRIVATE_TARGETS", "true"),
        ("TRELLIS_QIDIAN_BASE_URL", &base),
        ("TRELLIS_QIDIAN_BOOK_BASE_URL", &base),
        ("TRELLIS_QIDIAN_MOBILE_BASE_URL", &mobile),
        ("TRELLIS_COLLECTOR_MIN_INTERVAL_MS", "5"),
    ];
    TestApp::with(b, &env).await
}

impl TestApp {
    /// Defines `steps` and runs them once; answers the finished execution.
    pub(crate) async fn collect(&self, t: &Tokens, name: &str, steps: Value) -> Value {
        let def = self
            .0
            .post(
                "/api/v1/workflow/definitions",
                json!({"name": name, "steps": steps}),
                Some(&t.access),
            )
            .await;
        let def = if def.status.as_u16() == 409 {
            let list = self
                .0
                .get("/api/v1/workflow/definitions?search=", Some(&t.access))
                .await
                .ok();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == name)
                .unwrap()
                .clone()
        } else {
            def.ok()
        };
        let run = self
            .0
            .post(
                "/api/v1/workflow/executions",
                json!({"definition_id": def["id"], "input": {}}),
                Some(&t.access),
            )
            .await
            .ok();
        let id = run["id"].as_str().unwrap().to_string();
        for _ in 0..600 {
            let e = self
                .0
                .get(
                    &format!("/api/v1/workflow/executions/{id}"),
                    Some(&t.access),
                )
                .await
                .ok();
            if !matches!(e["status"].as_str(), Some("queued" | "running")) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} did not finish");
    }

    /// Raises the user's plan limits (admin override): 100,000 items a day, 5 pools.
    pub(crate) async fn raise_limits(&self, t: &Tokens) {
        let admin = self.admin().await;
        let me = self.0.get("/api/v1/users/me", Some(&t.access)).await.ok();
        let r = self
            .0
            .put(
                &format!(
                    "/api/v1/subscription/admin/users/{}",
                    me["id"].as_str().unwrap()
                ),
                json!({"limits": {"collected_items_per_day": 100000, "proxy_pools": 5}}),
                Some(&admin.access),
            )
            .await;
        assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    }

    pub(crate) async fn collections_of(&self, t: &Tokens, execution: &Value) -> Vec<Value> {
        let r = self
            .0
            .get(
                &format!(
                    "/api/v1/collections?execution_id={}",
                    execution["id"].as_str().unwrap()
                ),
                Some(&t.access),
            )
            .await
            .ok();
        r["items"].as_array().unwrap().clone()
    }

    async fn export(&self, t: &Tokens, collection: &Value, format: &str) -> (u16, String, Vec<u8>) {
        let url = self.0.server.url(&format!(
            "/api/v1/collections/{}/export?format={format}",
            collection["id"].as_str().unwrap()
        ));
        let r = self
            .0
            .server
            .client
            .get(url)
            .bearer_auth(&t.access)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, r.bytes().await.unwrap().to_vec())
    }
}

fn by_step<'a>(cols: &'a [Value], step: &str) -> &'a Value {
    cols.iter().find(|c| c["step_id"] == step).unwrap()
}

async fn book_and_catalog_are_collected_deduplicated_and_exported(b: Backend) {
    let site = fixture::start(QidianFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let (_, t) = app.user("quinn").await;
    let steps = json!([
        {"id": "book", "type": "qidian.book", "params": {"book_id": BIG_BOOK_ID}},
        // After the book: run side by side, the catalog could take the whole daily quota
        // first and leave the book's one item over it (a flaky `quota_exceeded`).
        {"id": "catalog", "type": "qidian.catalog", "depends_on": ["book"],
         "params": {"book_id": BIG_BOOK_ID}}
    ]);
    let run = app.collect(&t, "qidian", steps.clone()).await;
    assert_eq!(run["status"], "completed", "{run}");
    let expected = book(BIG_BOOK_ID).unwrap();
    let cols = app.collections_of(&t, &run).await;
    assert_eq!(cols.len(), 2);
    let book_col = by_step(&cols, "book");
    assert_eq!(
        (book_col["status"].clone(), book_col["source"].clone()),
        (json!("completed"), json!("qidian"))
    );
    let items = app
        .0
        .get(
            &format!(
                "/api/v1/collections/{}/items",
                book_col["id"].as_str().unwrap()
            ),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(items["total"], 1);
    let item = &items["items"][0];
    assert_eq!(item["natural_key"], BIG_BOOK_ID);
    assert_eq!(item["data"]["book_id"], BIG_BOOK_ID, "ids stay strings");
    assert_eq!(item["data"]["title"], json!(expected.title));
    let catalog = by_step(&cols, "catalog");
    let chapters = expected.chapter_count() as i64;
    // The Free plan collects 1,000 items a day: the book took one, so the catalog keeps its
    // first slice of 500 and stops at the second (1 + 500 + 500 > 1,000).
    assert_eq!(catalog["status"], "quota_exceeded", "{catalog}");
    assert_eq!(catalog["items_new"], 500, "{catalog}");
    app.raise_limits(&t).await;
    let run = app.collect(&t, "qidian", steps.clone()).await;
    assert_eq!(run["status"], "completed", "{run}");
    let cols = app.collections_of(&t, &run).await;
    let catalog = by_step(&cols, "catalog");
    assert_eq!(
        (
            catalog["items_new"].clone(),
            catalog["items_updated"].clone()
        ),
        (json!(chapters - 500), json!(500)),
        "{catalog}"
    );
    let book_col = by_step(&cols, "book");
    let page = app
        .0
        .get(
            &format!(
                "/api/v1/collections/{}/items?kind=chapter&page=2&page_size=100",
                catalog["id"].as_str().unwrap()
            ),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(page["total"], chapters);
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    let vip = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["data"]["vip"] == true)
        .count();
    assert!(vip > 0, "VIP flags are collected");
    assert!(
        page["items"][0]["data"].get("content").is_none(),
        "never a chapter body"
    );
    assert_eq!(
        app.0
            .get(
                &format!(
                    "/api/v1/collections/{}/items?kind=bogus",
                    catalog["id"].as_str().unwrap()
                ),
                Some(&t.access)
            )
            .await
            .status
            .as_u16(),
        422
    );

    // Exports: CSV with a BOM and quoted ids, JSON and JSONL, XLSX with text id cells.
    let (status, ct, csv) = app.export(&t, catalog, "csv").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(&csv[..3], b"\xEF\xBB\xBF", "UTF-8 BOM");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    assert!(lines.next().unwrap().starts_with("natural_key,"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with(&format!("\"{BIG_BOOK_ID}/")),
        "ids are quoted"
    );
    assert_eq!(
        text.split("\r\n").filter(|l| !l.is_empty()).count() as i64,
        chapters + 1
    );
    let (_, _, json_bytes) = app.export(&t, catalog, "json").await;
    let parsed: Vec<Value> = serde_json::from_slice(&json_bytes).unwrap();
    assert_eq!(parsed.len() as i64, chapters);
    assert!(parsed[0]["natural_key"].is_string());
    let (_, _, jsonl) = app.export(&t, catalog, "jsonl").await;
    assert_eq!(
        String::from_utf8(jsonl).unwrap().lines().count() as i64,
        chapters
    );
    let (status, _, xlsx) = app.export(&t, book_col, "xlsx").await;
    assert_eq!(status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(sheet.contains(BIG_BOOK_ID));
    assert!(
        !sheet.contains(&format!("<v>{BIG_BOOK_ID}</v>")),
        "the id is a text cell, not a number"
    );
    assert_eq!(app.export(&t, catalog, "pdf").await.0, 422);

    // Another run of the same job: nothing is duplicated, everything is updated.
    let again = app.collect(&t, "qidian", steps).await;
    assert_eq!(again["status"], "completed");
    let cols = app.collections_of(&t, &again).await;
    let catalog = by_step(&cols, "catalog");
    assert_eq!(
        (
            catalog["items_new"].clone(),
            catalog["items_updated"].clone()
        ),
        (json!(0), json!(chapters))
    );
    // Another user sees none of it.
    let (_, other) = app.user("olga").await;
    assert_eq!(
        app.0
            .get(
                &format!("/api/v1/collections/{}", catalog["id"].as_str().unwrap()),
                Some(&other.access)
            )
            .await
            .status
            .as_u16(),
        404
    );
    assert_eq!(app.export(&other, catalog, "csv").await.0, 404);
    let listed = app
        .0
        .get("/api/v1/collections", Some(&other.access))
        .await
        .ok();
    assert_eq!(listed["total"], 0);
}

async fn robots_txt_refusals_and_blocks_end_the_run(b: Backend) {
    let site = fixture::start(QidianFixtureConfig {
        robots_txt: "User-agent: *\nDisallow: /so/\n".into(),
        ..QidianFixtureConfig::default()
    })
    .await;
    let app = app_for(b, &site).await;
    let (_, t) = app.user("rob").await;
    let run = app
        .collect(
            &t,
            "search",
            json!([{"id": "s", "type": "qidian.search", "params": {"keyword": "诡秘"}}]),
        )
        .await;
    assert_eq!(run["status"], "failed");
    let col = &app.collections_of(&t, &run).await[0];
    assert_eq!(col["status"], "refused");
    assert!(
        col["error"].as_str().unwrap().contains("robots.txt"),
        "{col}"
    );
    assert_eq!(site.hits("/so/"), 0, "a refused path is never fetched");
    // A WAF challenge ends the run `blocked`, without retrying in place.
    site.set_mode(Mode::Waf);
    let before = site.total_hits();
    let run = app
        .collect(&t, "rank", json!([{"id": "r", "type": "qidian.rankings", "params": {"rank_type": "yuepiao", "max_pages": 3},
            "retry": {"max_attempts": 3, "backoff": "constant", "delay_ms": 0}}]))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    let col = &app.collections_of(&t, &run).await[0];
    assert_eq!(col["status"], "blocked");
    assert_eq!(site.total_hits() - before, 1, "one request, then stop");
}

async fn a_stopped_ranking_resumes_without_duplicates_or_gaps(b: Backend) {
    let site = fixture::start(QidianFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let (_, t) = app.user("rita").await;
    // The first run may send 2 requests: it stores pages 1 and 2 and stops.
    let first = app
        .collect(
            &t,
            "rank-1",
            json!([{"id": "r", "type": "qidian.rankings",
            "params": {"rank_type": "yuepiao", "max_pages": 5, "max_requests": 2}}]),
        )
        .await;
    assert_eq!(first["status"], "completed");
    let col1 = app.collections_of(&t, &first).await[0].clone();
    assert_eq!(col1["status"], "budget_exhausted");
    assert_eq!(col1["items_new"], 40);
    // The next run of the same job and query continues at page 3.
    let second = app
        .collect(
            &t,
            "rank-2",
            json!([{"id": "r", "type": "qidian.rankings",
            "params": {"rank_type": "yuepiao", "max_pages": 5, "max_requests": 50}}]),
        )
        .await;
    assert_eq!(second["status"], "completed", "{second}");
    let col2 = app.collections_of(&t, &second).await[0].clone();
    assert_eq!(col2["status"], "completed");
    assert_eq!(
        col2["items_new"], 60,
        "pages 3 to 5, none seen before: {col2}"
    );
    assert_eq!(col2["items_updated"], 0);
    assert_eq!(site.hits("/rank/yuepiao/page3/"), 1);
    assert_eq!(
        site.hits("/rank/yuepiao/page2/"),
        1,
        "no page fetched twice"
    );
    // Ranks 1..=100 each collected once across both runs.
    let mut ranks = Vec::new();
    for col in [&col1, &col2] {
        for page in 1..=2 {
            let items = app
                .0
                .get(
                    &format!(
                        "/api/v1/collections/{}/items?page={page}&page_size=100",
                        col["id"].as_str().unwrap()
                    ),
                    Some(&t.access),
                )
                .await
                .ok();
            ranks.extend(
                items["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["data"]["rank"].as_i64().unwrap()),
            );
        }
    }
    ranks.sort();
    assert_eq!(ranks, (1..=100).collect::<Vec<i64>>());
}

async fn xhs_needs_the_setting_the_terms_and_an_account(b: Backend) {
    let site = fixture::start(QidianFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let (_, t) = app.user("xena").await;
    let refused = app
        .0
        .post(
            "/api/v1/collections/xhs/acknowledge",
            json!({"accept_terms": false}),
            Some(&t.access),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 422);
    let ok = app
        .0
        .post(
            "/api/v1/collections/xhs/acknowledge",
            json!({"accept_terms": true}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(
        (ok["enabled"].clone(), ok["keep_authors"].clone()),
        (json!(false), json!(false))
    );
    let bad = app
        .0
        .post(
            "/api/v1/collections/xhs/accounts",
            json!({"name": "me", "cookies": "foo=bar"}),
            Some(&t.access),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422);
    let cookies = "a1=19ab0c; web_session=040069secret-session; webId=1";
    let acc = app
        .0
        .post(
            "/api/v1/collections/xhs/accounts",
            json!({"name": "me", "cookies": cookies}),
            Some(&t.access),
        )
        .await;
    assert_eq!(acc.status.as_u16(), 201);
    assert!(!acc.body.to_string().contains("secret-session"));
    let dup = app
        .0
        .post(
            "/api/v1/collections/xhs/accounts",
            json!({"name": "me", "cookies": cookies}),
            Some(&t.access),
        )
        .await;
    assert_eq!(dup.status.as_u16(), 409);
    let list = app
        .0
        .get("/api/v1/collections/xhs/accounts", Some(&t.access))
        .await
        .ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("web_session"));
    let id = list[0]["id"].as_str().unwrap();
    let (_, other) = app.user("otto").await;
    assert_eq!(
        app.0
            .delete(
                &format!("/api/v1/collections/xhs/accounts/{id}"),
                Some(&other.access)
            )
            .await
            .status
            .as_u16(),
        404
    );
    assert_eq!(
        app.0
            .delete(
                &format!("/api/v1/collections/xhs/accounts/{id}"),
                Some(&t.access)
            )
            .await
            .status
            .as_u16(),
        200
    );
}
