//! End-to-end: the library against the XHS fixture server, signed by the fixture's
//! `/__sign` through an [`HttpSigner`]. Search, detail, comments, creator notes, the note
//! page state, and every block mode classified.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::collectors::fixtures::xhs::{self as fx, BlockMode, XhsFixture, XhsFixtureConfig};

struct Env {
    fixture: XhsFixture,
    api: XhsApi,
    client: reqwest::Client,
    signer: HttpSigner,
    cookies: String,
}

async fn env(cfg: XhsFixtureConfig) -> Env {
    let fixture = fx::start(cfg).await;
    let api = XhsApi::new(fixture.base_url(), fixture.base_url());
    let client = no_redirect_client(Duration::from_secs(10)).unwrap();
    let signer = HttpSigner::new(fixture.signer_url(), client.clone());
    Env {
        api,
        client,
        signer,
        cookies: XhsFixture::session_cookies("device-a"),
        fixture,
    }
}

impl Env {
    async fn call(&self, req: &ApiRequest) -> Result<serde_json::Value, XhsError> {
        send(&self.client, &self.api, req, &self.cookies, &self.signer).await
    }
}

/// A signer that signs wrongly.
struct BadSigner;

#[async_trait]
impl Signer for BadSigner {
    async fn sign(&self, _req: &SignRequest) -> Result<BTreeMap<String, String>, SignError> {
        Ok(BTreeMap::from([
            ("x-s".to_owned(), "0000".to_owned()),
            ("x-t".to_owned(), "1".to_owned()),
            ("x-s-common".to_owned(), "c".to_owned()),
        ]))
    }
}

#[tokio::test]
async fn search_detail_comments_creator_and_page_state() {
    let env = env(XhsFixtureConfig::default()).await;
    let me = env.call(&env.api.selfinfo()).await.unwrap();
    assert_eq!(me["result"]["success"], true);

    // Search: pages of 20 until has_more is false; rec/hot queries skipped.
    let mut notes = Vec::new();
    for page in 1.. {
        let data = env
            .call(&env.api.search_notes("露营", page, "sid-1"))
            .await
            .unwrap();
        let parsed = parse_search(&data);
        notes.extend(parsed.items);
        if !parsed.has_more {
            break;
        }
    }
    assert_eq!(notes.len(), 45);
    let ids: HashSet<_> = notes.iter().map(|n| n.note_id.clone()).collect();
    assert_eq!(ids.len(), 45);
    assert!(notes.iter().all(|n| n.note_id.len() == 24));
    let raws: HashSet<_> = notes
        .iter()
        .filter_map(|n| n.liked_count_raw.clone())
        .collect();
    assert!(raws.contains("1w+") && raws.contains("9.7万"));
    let wan = notes
        .iter()
        .find(|n| n.liked_count_raw.as_deref() == Some("9.7万"))
        .unwrap();
    assert_eq!(wan.liked_count, Some(97_000));
    assert!(notes.iter().any(|n| n.title.is_none()));

    // Detail with the listing's token.
    let first = &notes[0];
    let data = env
        .call(
            &env.api
                .note_detail(&first.note_id, &first.xsec_token, "pc_search"),
        )
        .await
        .unwrap();
    let detail = parse_note(&data).unwrap();
    assert_eq!(detail.note_id, first.note_id);
    assert_eq!(detail.author, first.author);
    assert_eq!(detail.comment_count, Some(25));
    assert_eq!(detail.tags, vec!["露营".to_owned(), "户外".to_owned()]);
    let video = &notes[2];
    let data = env
        .call(
            &env.api
                .note_detail(&video.note_id, &video.xsec_token, "pc_search"),
        )
        .await
        .unwrap();
    assert!(parse_note(&data).unwrap().video_url.is_some());

    // Comments by cursor, inline replies flattened.
    let mut comments = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let req = env
            .api
            .comments(&first.note_id, &first.xsec_token, cursor.as_deref());
        let page = parse_comments(&env.call(&req).await.unwrap());
        comments.extend(page.items);
        if !page.has_more {
            break;
        }
        cursor = page.cursor;
    }
    let top = comments
        .iter()
        .filter(|c| c.parent_comment_id.is_none())
        .count();
    assert_eq!(top, 25);
    assert_eq!(comments.len(), 25 + 9 * 2);
    let unique: HashSet<_> = comments.iter().map(|c| &c.id).collect();
    assert_eq!(unique.len(), comments.len());
    assert!(comments.iter().any(|c| c.ip_location.is_none()));
    assert!(comments.iter().all(|c| c.note_id == first.note_id));

    // The creator's notes with the user's token, 30 + 5.
    let user = &first.author.user_id;
    let token = fx::xsec_token(user);
    let mut posted = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let req = env.api.creator_notes(user, cursor.as_deref(), Some(&token));
        let page = parse_user_notes(&env.call(&req).await.unwrap());
        posted.extend(page.items);
        if !page.has_more {
            break;
        }
        cursor = page.cursor;
    }
    assert_eq!(posted.len(), 35);
    assert_eq!(posted[0].note_id, first.note_id);

    // The note page's __INITIAL_STATE__ agrees with the API.
    let url = env
        .api
        .note_page_url(&first.note_id, &first.xsec_token, "pc_search")
        .unwrap();
    let html = env
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("undefined"));
    let state = parse_initial_state(&html).unwrap();
    let from_page = note_from_initial_state(&state, &first.note_id).unwrap();
    assert_eq!(from_page, detail);

    let robots = env
        .client
        .get(env.api.robots_url().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(robots.text().await.unwrap(), "User-agent: *\nDisallow: /\n");

    assert_eq!(env.fixture.requests_for("/api/sns/web/v2/comment/page"), 3);
    assert_eq!(env.fixture.requests_for("/api/sns/web/v1/search/notes"), 3);
    assert_eq!(env.fixture.max_concurrency(), 1);
}

#[tokio::test]
async fn errors_are_classified() {
    let deleted = fx::note_id(4);
    let env = env(XhsFixtureConfig {
        deleted_notes: vec![deleted.clone()],
        ..XhsFixtureConfig::default()
    })
    .await;
    let token = fx::xsec_token(&deleted);
    let err = env
        .call(&env.api.note_detail(&deleted, &token, "pc_search"))
        .await
        .unwrap_err();
    assert!(matches!(err, XhsError::NotFound { code: -510_001, .. }) && err.is_skip());
    let err = env
        .call(&env.api.comments(&deleted, &token, None))
        .await
        .unwrap_err();
    assert!(err.is_skip());
    let unknown = env
        .api
        .note_detail("ffffffffffffffffffffffff", "x", "pc_search");
    let err = env.call(&unknown).await.unwrap_err();
    assert!(matches!(err, XhsError::NotFound { code: -510_000, .. }));

    let live = fx::note_id(0);
    let err = env
        .call(&env.api.note_detail(&live, "ABwrong=", "pc_search"))
        .await
        .unwrap_err();
    assert!(matches!(err, XhsError::BadXsecToken(_)));
    let err = env
        .call(&env.api.comments(&live, "", None))
        .await
        .unwrap_err();
    assert!(matches!(err, XhsError::BadXsecToken(_)));
    let user = fx::user_id(0);
    let err = env
        .call(&env.api.creator_notes(&user, None, None))
        .await
        .unwrap_err();
    assert!(matches!(err, XhsError::BadXsecToken(_)));

    let err = send(
        &env.client,
        &env.api,
        &env.api.selfinfo(),
        &env.cookies,
        &BadSigner,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, XhsError::BadSignature(_)));
    for cookies in ["a1=only-device", "web_session=only-session", ""] {
        let err = send(
            &env.client,
            &env.api,
            &env.api.selfinfo(),
            cookies,
            &env.signer,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, XhsError::SessionExpired(_)),
            "{cookies}: {err:?}"
        );
        assert!(!err.is_block() && !err.retryable());
    }
}

#[tokio::test]
async fn every_block_mode_is_classified() {
    let env = env(XhsFixtureConfig::default()).await;
    let following = reqwest::Client::builder().no_proxy().build().unwrap();
    let cases = [
        (
            BlockMode::RateLimit300013,
            BlockKind::RateLimited,
            Some(300_013),
        ),
        (
            BlockMode::IpBlock300012,
            BlockKind::IpBlocked,
            Some(300_012),
        ),
        (
            BlockMode::Account300011,
            BlockKind::AccountRestricted,
            Some(300_011),
        ),
        (BlockMode::Captcha461, BlockKind::Captcha, None),
        (BlockMode::CaptchaRedirect302, BlockKind::Captcha, None),
    ];
    for (mode, kind, want_code) in cases {
        env.fixture.set_block(Some(mode));
        let err = env.call(&env.api.selfinfo()).await.unwrap_err();
        let XhsError::Blocked {
            kind: got, code, ..
        } = &err
        else {
            panic!("{mode:?} gave {err:?}");
        };
        assert_eq!((*got, *code), (kind, want_code), "{mode:?}");
        assert!(err.is_block() && !err.retryable() && !err.is_skip());
        // A client that follows redirects still sees the captcha.
        let err = send(
            &following,
            &env.api,
            &env.api.selfinfo(),
            &env.cookies,
            &env.signer,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.block_kind(),
            Some(kind),
            "{mode:?} with redirects followed"
        );
    }
    env.fixture.set_block(None);
    env.call(&env.api.selfinfo()).await.unwrap();
}

#[tokio::test]
async fn the_block_script_counts_per_account() {
    let env = env(XhsFixtureConfig {
        block_after: Some(3),
        block_mode: BlockMode::IpBlock300012,
        ..XhsFixtureConfig::default()
    })
    .await;
    for _ in 0..3 {
        env.call(&env.api.selfinfo()).await.unwrap();
    }
    let err = env.call(&env.api.selfinfo()).await.unwrap_err();
    assert_eq!(err.block_kind(), Some(BlockKind::IpBlocked));
    let other = XhsFixture::session_cookies("device-b");
    send(
        &env.client,
        &env.api,
        &env.api.selfinfo(),
        &other,
        &env.signer,
    )
    .await
    .unwrap();
    assert_eq!(env.fixture.api_requests_by("device-a"), 4);
    assert_eq!(env.fixture.api_requests_by("device-b"), 1);
    // Signing calls are not counted.
    assert_eq!(env.fixture.requests(), 5);
}

#[tokio::test]
async fn concurrency_per_account_is_observed() {
    let env = env(XhsFixtureConfig {
        latency: Duration::from_millis(150),
        ..XhsFixtureConfig::default()
    })
    .await;
    let req = env.api.selfinfo();
    let (a, b, c) = tokio::join!(env.call(&req), env.call(&req), env.call(&req));
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(env.fixture.max_concurrency(), 3);
}

#[tokio::test]
async fn http_signer_against_the_fixture() {
    let env = env(XhsFixtureConfig::default()).await;
    let req = SignRequest {
        method: "GET".into(),
        path: "/api/sns/web/v1/user/selfinfo".into(),
        body: None,
        cookies: XhsFixture::session_cookies("a"),
    };
    let headers = env.signer.sign(&req).await.unwrap();
    let names: Vec<_> = headers.keys().map(String::as_str).collect();
    assert_eq!(names, ["x-s", "x-s-common", "x-t"]);
    assert_eq!(
        headers["x-s"],
        fx::fixture_signature("GET", &req.path, "", &headers["x-t"])
    );

    let from_setting =
        signer_from_setting(env.fixture.signer_url().as_str(), env.client.clone()).unwrap();
    assert_eq!(from_setting.sign(&req).await.unwrap().len(), 3);
    assert!(signer_from_setting("http://", env.client.clone()).is_err());
    assert!(signer_from_setting("", env.client.clone()).is_err());

    let mut missing = env.fixture.base_url();
    missing.set_path("/no-such-signer");
    let wrong = HttpSigner::new(missing, env.client.clone());
    assert_eq!(wrong.sign(&req).await, Err(SignError::Status(404)));
}
