//! Xiaohongshu collectors end to end on SQLite and PostgreSQL (issue 11), against a local
//! Xiaohongshu-like fixture that checks a fixture-only signature, the account cookies and
//! each listing's `xsec_token`. The signer is the fixture's own `/__sign` endpoint
//! (`TRELLIS_XHS_SIGNER` as a URL).

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_workflow::collectors::fixtures::xhs::{
    self as fixture, BlockMode, XhsFixture, XhsFixtureConfig,
};

use crate::harness::{TestApp, Tokens};

backend_tests!(
    notes_comments_and_creator_notes_are_collected_with_pseudonyms,
    without_the_terms_the_run_is_refused_citing_robots_txt,
    a_block_pauses_the_account_and_ends_the_run,
);

async fn app_for(b: Backend, site: &XhsFixture) -> TestApp {
    let base = site.base_url().to_string();
    let signer = site.signer_url().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("TRELLIS_ALLOW_PRIVATE_TARGETS", "true"),
        ("TRELLIS_XHS_ENABLED", "true"),
        ("TRELLIS_XHS_API_BASE_URL", &base),
        ("TRELLIS_XHS_WEB_BASE_URL", &base),
        ("TRELLIS_XHS_SIGNER", &signer),
        ("TRELLIS_COLLECTOR_MIN_INTERVAL_MS", "5"),
    ];
    TestApp::with(b, &env).await
}

impl TestApp {
    async fn xhs_user(&self, name: &str, accept: bool) -> Tokens {
        let (_, t) = self.user(name).await;
        self.raise_limits(&t).await;
        if accept {
            self.0
                .post(
                    "/api/v1/collections/xhs/acknowledge",
                    json!({"accept_terms": true}),
                    Some(&t.access),
                )
                .await
                .ok();
        }
        let cookies = XhsFixture::session_cookies(&format!("a1-{name}"));
        self.0
            .post(
                "/api/v1/collections/xhs/accounts",
                json!({"name": "main", "cookies": cookies}),
                Some(&t.access),
            )
            .await
            .ok();
        t
    }

    async fn items(&self, t: &Tokens, collection: &Value, kind: &str) -> Vec<Value> {
        let r = self
            .0
            .get(
                &format!(
                    "/api/v1/collections/{}/items?kind={kind}&page_size=100",
                    collection["id"].as_str().unwrap()
                ),
                Some(&t.access),
            )
            .await
            .ok();
        r["items"].as_array().unwrap().clone()
    }
}

async fn notes_comments_and_creator_notes_are_collected_with_pseudonyms(b: Backend) {
    let site = fixture::start(XhsFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let t = app.xhs_user("xia", true).await;
    let run = app
        .collect(&t, "xhs-search", json!([{"id": "s", "type": "xhs.search_notes", "params": {"keyword": "咖啡", "max_pages": 5}}]))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let col = app.collections_of(&t, &run).await[0].clone();
    assert_eq!(
        (col["status"].clone(), col["items_new"].clone()),
        (json!("completed"), json!(45)),
        "{col}"
    );
    let notes = app.items(&t, &col, "note").await;
    assert_eq!(notes.len(), 45);
    let first = &notes[0]["data"];
    assert!(
        first["author"]["user_id"]
            .as_str()
            .unwrap()
            .starts_with("u_"),
        "authors are pseudonymised: {first}"
    );
    assert!(first["note_id"].is_string() && first["xsec_token"].is_string());
    // Detail and comments of a listed note, with the listing's xsec_token.
    let (note, token) = (
        first["note_id"].as_str().unwrap(),
        first["xsec_token"].as_str().unwrap(),
    );
    let run = app
        .collect(
            &t,
            "xhs-note",
            json!([
                {"id": "d", "type": "xhs.note_detail", "params": {"note_id": note, "xsec_token": token}},
                {"id": "c", "type": "xhs.comments", "depends_on": ["d"], "params": {"note_id": note, "xsec_token": token, "max_pages": 10}}
            ]),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let cols = app.collections_of(&t, &run).await;
    let detail = cols.iter().find(|c| c["step_id"] == "d").unwrap();
    assert_eq!(
        detail["items_updated"], 1,
        "the listed note is updated, not duplicated: {detail}"
    );
    let comments = cols.iter().find(|c| c["step_id"] == "c").unwrap();
    assert_eq!(comments["status"], "completed");
    let got = app.items(&t, comments, "comment").await;
    assert!(got.len() >= 25, "{} comments", got.len());
    assert!(
        got.iter()
            .any(|c| c["data"]["parent_comment_id"].is_string()),
        "inline replies kept"
    );
    // A wrong xsec_token is the site's refusal, not a block: the step fails.
    let bad = app
        .collect(&t, "xhs-bad", json!([{"id": "d", "type": "xhs.note_detail", "params": {"note_id": note, "xsec_token": "forged"}}]))
        .await;
    assert_eq!(bad["status"], "failed");
    // A creator's notes by cursor (30 a page), with the creator's token.
    let user = fixture::user_id(0);
    let run = app
        .collect(&t, "xhs-creator", json!([{"id": "u", "type": "xhs.creator_notes",
            "params": {"user_id": user, "xsec_token": fixture::xsec_token(&user), "max_pages": 5}}]))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let col = app.collections_of(&t, &run).await[0].clone();
    assert_eq!(col["items_new"], 35, "{col}");
    assert_eq!(col["requests"], 2, "two pages by cursor");
    assert_eq!(
        site.max_concurrency(),
        1,
        "one request at a time per account"
    );
}

async fn without_the_terms_the_run_is_refused_citing_robots_txt(b: Backend) {
    let site = fixture::start(XhsFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let t = app.xhs_user("nora", false).await;
    let run = app
        .collect(
            &t,
            "xhs-search",
            json!([{"id": "s", "type": "xhs.search_notes", "params": {"keyword": "猫"}}]),
        )
        .await;
    assert_eq!(run["status"], "failed");
    let col = app.collections_of(&t, &run).await[0].clone();
    assert_eq!(col["status"], "refused");
    assert!(
        col["error"].as_str().unwrap().contains("robots.txt"),
        "{col}"
    );
    assert_eq!(site.requests_for("/api/"), 0, "nothing was sent");
}

async fn a_block_pauses_the_account_and_ends_the_run(b: Backend) {
    let site = fixture::start(XhsFixtureConfig::default()).await;
    let app = app_for(b, &site).await;
    let t = app.xhs_user("bodhi", true).await;
    site.set_block(Some(BlockMode::RateLimit300013));
    let run = app
        .collect(&t, "xhs-search", json!([{"id": "s", "type": "xhs.search_notes", "params": {"keyword": "茶", "max_pages": 3},
            "retry": {"max_attempts": 3, "backoff": "constant", "delay_ms": 0}}]))
        .await;
    assert_eq!(run["status"], "failed");
    let col = app.collections_of(&t, &run).await[0].clone();
    assert_eq!(col["status"], "blocked", "{col}");
    assert_eq!(site.requests_for("/api/"), 1, "never retried in place");
    let accounts = app
        .0
        .get("/api/v1/collections/xhs/accounts", Some(&t.access))
        .await
        .ok();
    assert_eq!(accounts[0]["status"], "paused");
    assert!(accounts[0]["paused_until_ms"].is_i64());
    // While paused, runs refuse to use it.
    site.set_block(None);
    let again = app
        .collect(
            &t,
            "xhs-search",
            json!([{"id": "s", "type": "xhs.search_notes", "params": {"keyword": "茶"}}]),
        )
        .await;
    assert_eq!(again["status"], "failed");
    assert_eq!(site.requests_for("/api/"), 1);
}
