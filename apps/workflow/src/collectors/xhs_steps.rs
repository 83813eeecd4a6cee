//! The Xiaohongshu step types (issue 11): `xhs.search_notes {keyword, page?, max_pages?}`,
//! `xhs.note_detail {note_id, xsec_token}`, `xhs.comments {note_id, xsec_token, cursor?,
//! max_pages?}`, `xhs.creator_notes {user_id, xsec_token?, max_pages?}`; each also takes
//! `account_id` (default: the owner's first active account), `max_requests`, `max_seconds`
//! and `proxy_pool_id`.
//!
//! A step runs only when the server allows it (`TRELLIS_XHS_ENABLED`), a signer is
//! configured (`TRELLIS_XHS_SIGNER`) and the owner accepted the terms — the site's
//! robots.txt disallows crawling, so without the acknowledgement the run is refused citing
//! robots.txt (collectors.md §3). One request at a time per account (a lock in the
//! key-value store, so across instances too), paced per host like every collector. A block
//! (300011/300012/300013, 461/471, a captcha redirect) pauses the account (rate limit and
//! captcha: 24 h; account restriction: until the owner replaces it), reports the proxy
//! `blocked`, and ends the run `blocked` — never solved, never retried in place. Notes
//! that are gone (-510000/-510001) are skipped.
//!
//! Items: `note` (`note_id`), `comment` (comment id), `creator_note` (`note_id`). Authors
//! are pseudonymised (salted hash, masked nickname) unless the owner chose `keep_authors`;
//! the salt is derived from the secrets key, so pseudonyms are stable per deployment.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_engine::{StepCtx, StepError, StepHandler, StepOutput};
use uuid::Uuid;

use super::polite::FetchError;
use super::run::{Collectors, Run, RunStop};
use super::xhs::{self, ApiRequest, Author, BlockKind, Signer, XhsApi, XhsError};
use crate::proxy::health::Outcome;
use crate::store::collections::NewItem;

/// What every `xhs.*` step needs besides the collectors.
#[derive(Clone)]
pub struct Xhs {
    /// The shared collector parts.
    pub c: Collectors,
    signer: Option<Arc<dyn Signer>>,
    api: Option<XhsApi>,
    client: reqwest::Client,
    salt: Vec<u8>,
}

impl Xhs {
    /// From the collectors' settings. The signer is built now (a bad setting fails start-up).
    pub fn new(c: Collectors) -> Result<Xhs, String> {
        let client = xhs::no_redirect_client(Duration::from_secs(30))?;
        let signer = match &c.sites.xhs_signer {
            Some(s) => Some(
                xhs::signer_from_setting(s, client.clone())
                    .map_err(|e| format!("TRELLIS_XHS_SIGNER: {e}"))?,
            ),
            None => None,
        };
        let api = match (
            url::Url::parse(&c.sites.xhs_api),
            url::Url::parse(&c.sites.xhs_web),
        ) {
            (Ok(a), Ok(w)) => Some(XhsApi::new(a, w)),
            _ => None,
        };
        let salt = c.polite.live().secrets().pseudonym_salt().to_vec();
        Ok(Xhs {
            c,
            signer,
            api,
            client,
            salt,
        })
    }
}

fn stop(e: impl std::fmt::Display) -> RunStop {
    RunStop::Other(FetchError::Permanent(e.to_string()))
}

struct Session {
    account: Uuid,
    cookies: String,
    lock_key: String,
    keep_authors: bool,
}

impl Xhs {
    async fn session(&self, ctx: &StepCtx, p: &Value) -> Result<Session, RunStop> {
        let db = &self.c.platform.db;
        let settings = crate::store::xhs::settings(db, ctx.owner_id)
            .await
            .map_err(stop)?;
        if !self.c.sites.xhs_enabled {
            return Err(stop(
                "Xiaohongshu collection is disabled on this server (TRELLIS_XHS_ENABLED)",
            ));
        }
        if settings.xhs_accepted_at.is_none() {
            return Err(RunStop::Fetch(FetchError::Robots {
                host: "www.xiaohongshu.com".into(),
                path: "/ (User-agent: * Disallow: /; accept the terms at POST /api/v1/collections/xhs/acknowledge to collect with your own account)".into(),
            }));
        }
        if self.signer.is_none() {
            return Err(stop("no request signer is configured (TRELLIS_XHS_SIGNER)"));
        }
        let accounts = crate::store::xhs::list(db, ctx.owner_id)
            .await
            .map_err(stop)?;
        let now_ms = self.c.platform.clock.now().timestamp_millis();
        let wanted = p
            .get("account_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        let usable = |a: &&crate::store::xhs::Account| {
            a.status == "active"
                || (a.status == "paused" && a.paused_until_ms.is_some_and(|u| u <= now_ms))
        };
        let account = match wanted {
            Some(id) => accounts.iter().find(|a| a.id == id).ok_or_else(|| stop("account not found"))?,
            None => accounts.iter().find(usable).ok_or_else(|| stop("no usable Xiaohongshu account: add one at POST /api/v1/collections/xhs/accounts"))?,
        };
        if !usable(&account) {
            return Err(stop(format!(
                "the account is {} ({})",
                account.status,
                account.last_error.as_deref().unwrap_or("blocked")
            )));
        }
        let (_, sealed) = crate::store::xhs::get(db, account.id)
            .await
            .map_err(stop)?
            .ok_or_else(|| stop("account not found"))?;
        let cookies = self
            .c
            .polite
            .live()
            .secrets()
            .open(account.id, &sealed)
            .map_err(stop)
            .and_then(|b| String::from_utf8(b).map_err(stop))?;
        // One run at a time per account: wait for the lock (the other run paces itself).
        let lock_key = format!("wf:xhs:busy:{}", account.id);
        let kv = &self.c.platform.kv;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let got = kv
                .set_nx(&lock_key, &ctx.run_id.to_string(), Duration::from_secs(600))
                .await
                .map_err(|e| RunStop::Fetch(FetchError::Transient(e.to_string())))?;
            if got {
                break;
            }
            if Instant::now() > deadline {
                return Err(RunStop::Fetch(FetchError::Transient(
                    "the account is busy with another run".into(),
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Session {
            account: account.id,
            cookies,
            lock_key,
            keep_authors: settings.keep_authors,
        })
    }

    async fn release(&self, s: &Session) {
        let _ = self.c.platform.kv.del(&s.lock_key).await;
    }

    /// One signed API call within the run's budget and pacing, through a leased proxy when
    /// the step names a pool; blocks pause the account.
    async fn call(&self, run: &mut Run, s: &Session, req: &ApiRequest) -> Result<Value, RunStop> {
        let (Some(api), Some(signer)) = (&self.api, &self.signer) else {
            return Err(stop("Xiaohongshu is not configured"));
        };
        if run.budget.requests >= run.budget.max_requests {
            return Err(RunStop::Fetch(FetchError::Budget(format!(
                "{} requests",
                run.budget.max_requests
            ))));
        }
        if Instant::now() >= run.budget.deadline {
            return Err(RunStop::Fetch(FetchError::Budget("time limit".into())));
        }
        let host = api
            .api_base()
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.c.polite.pace_host(&host).await;
        run.budget.requests += 1;
        let live = self.c.polite.live();
        let (client, lease) = match run.proxy {
            None => (self.client.clone(), None),
            Some((pool, owner)) => {
                let (lease, endpoint, version) = live
                    .lease(pool, owner, &host, Some(&s.account.to_string()))
                    .await
                    .map_err(|e| {
                        RunStop::Fetch(FetchError::Transient(format!("proxy pool: {e}")))
                    })?;
                let client = live
                    .clients()
                    .get(lease.proxy.id, version, &endpoint)
                    .map_err(|e| RunStop::Fetch(FetchError::Transient(e)))?;
                (client, Some(lease.lease_id))
            }
        };
        let started = Instant::now();
        let result = xhs::send(&client, api, req, &s.cookies, signer.as_ref()).await;
        if let Some(lease) = lease {
            let outcome = match &result {
                Err(e) if e.is_block() => Outcome::Blocked,
                Err(e) if e.retryable() => Outcome::Error,
                _ => Outcome::Ok,
            };
            let _ = live
                .report(
                    lease,
                    None,
                    outcome,
                    Some(started.elapsed().as_millis() as u64),
                    None,
                )
                .await;
        }
        let now = self.c.platform.clock.now();
        match result {
            Ok(v) => Ok(v),
            Err(e) if e.is_block() => {
                let (status, until) = match e.block_kind() {
                    Some(BlockKind::AccountRestricted) => ("restricted", None),
                    _ => ("paused", Some(now.timestamp_millis() + 24 * 3600 * 1000)),
                };
                let _ = crate::store::xhs::set_status(
                    &self.c.platform.db,
                    s.account,
                    status,
                    until,
                    Some(&e.to_string()),
                    now,
                )
                .await;
                Err(RunStop::Fetch(FetchError::Blocked {
                    host,
                    reason: e.to_string(),
                    retry_after_seconds: None,
                }))
            }
            Err(e @ XhsError::SessionExpired(_)) => {
                let _ = crate::store::xhs::set_status(
                    &self.c.platform.db,
                    s.account,
                    "expired",
                    None,
                    Some(&e.to_string()),
                    now,
                )
                .await;
                Err(stop(e))
            }
            Err(e) if e.retryable() => Err(RunStop::Fetch(FetchError::Transient(e.to_string()))),
            Err(e) => Err(stop(e)),
        }
    }

    fn author(&self, s: &Session, a: &Author) -> Author {
        if s.keep_authors {
            a.clone()
        } else {
            a.pseudonymised(&self.salt)
        }
    }
}

fn text<'a>(p: &'a Value, name: &str) -> Result<&'a str, RunStop> {
    p.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| {
            stop(format!(
                "parameter {name} is required (at most 200 characters)"
            ))
        })
}

fn with_author<T: serde::Serialize>(item: &T, author: Author) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "author".into(),
            serde_json::to_value(author).unwrap_or(Value::Null),
        );
    }
    v
}

fn max_pages(p: &Value) -> u32 {
    p.get("max_pages")
        .and_then(Value::as_u64)
        .unwrap_or(5)
        .clamp(1, 100) as u32
}

async fn search_notes(x: &Xhs, run: &mut Run, s: &Session, p: &Value) -> Result<Value, RunStop> {
    let keyword = text(p, "keyword")?.to_string();
    let search_id = run.collection.id.simple().to_string();
    let single = p
        .get("page")
        .and_then(Value::as_u64)
        .map(|n| n.clamp(1, 100) as u32);
    let last = single.unwrap_or(max_pages(p));
    let mut page = run
        .checkpoint
        .get("next_page")
        .and_then(Value::as_u64)
        .map_or(single.unwrap_or(1), |n| n as u32);
    let api = x.api.as_ref().ok_or_else(|| stop("not configured"))?;
    let mut stored = 0;
    while page <= last {
        let data = x
            .call(run, s, &api.search_notes(&keyword, page, &search_id))
            .await?;
        let found = xhs::parse_search(&data);
        let items: Vec<NewItem> = found
            .items
            .iter()
            .map(|n| NewItem {
                kind: "note",
                natural_key: n.note_id.clone(),
                data: with_author(n, x.author(s, &n.author)),
            })
            .collect();
        stored += items.len();
        page += 1;
        let done = !found.has_more || page > last;
        x.c.store(run, items, json!({"next_page": page, "done": done}))
            .await?;
        if !found.has_more {
            break;
        }
    }
    Ok(json!({"keyword": keyword, "items": stored}))
}

async fn note_detail(x: &Xhs, run: &mut Run, s: &Session, p: &Value) -> Result<Value, RunStop> {
    let (note, token) = (text(p, "note_id")?, text(p, "xsec_token")?);
    let api = x.api.as_ref().ok_or_else(|| stop("not configured"))?;
    match x
        .call(run, s, &api.note_detail(note, token, "pc_search"))
        .await
    {
        Ok(data) => match xhs::parse_note(&data) {
            Some(n) => {
                let item = NewItem {
                    kind: "note",
                    natural_key: n.note_id.clone(),
                    data: with_author(&n, x.author(s, &n.author)),
                };
                x.c.store(run, vec![item], json!({"done": true})).await?;
                Ok(json!({"note_id": n.note_id, "found": true}))
            }
            None => Ok(json!({"note_id": note, "found": false})),
        },
        Err(RunStop::Other(FetchError::Permanent(m))) if m.starts_with("not found") => {
            Ok(json!({"note_id": note, "found": false, "reason": m}))
        }
        Err(e) => Err(e),
    }
}

async fn cursor_pages<F>(
    x: &Xhs,
    run: &mut Run,
    s: &Session,
    p: &Value,
    mut page_of: F,
) -> Result<Value, RunStop>
where
    F: FnMut(
        Option<&str>,
        Option<Value>,
    ) -> Result<(ApiRequest, Vec<NewItem>, Option<String>, bool), RunStop>,
{
    let mut cursor: Option<String> = run
        .checkpoint
        .get("cursor")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| p.get("cursor").and_then(Value::as_str).map(str::to_string));
    let mut stored = 0;
    for n in 0..max_pages(p) {
        let (req, _, _, _) = page_of(cursor.as_deref(), None)?;
        let data = x.call(run, s, &req).await?;
        let (_, items, next, more) = page_of(cursor.as_deref(), Some(data))?;
        stored += items.len();
        let done = !more || next.is_none() || n + 1 == max_pages(p);
        cursor = next;
        x.c.store(run, items, json!({"cursor": cursor, "done": !more}))
            .await?;
        if done {
            break;
        }
    }
    Ok(json!({"items": stored, "next_cursor": cursor}))
}

async fn comments(x: &Xhs, run: &mut Run, s: &Session, p: &Value) -> Result<Value, RunStop> {
    let (note, token) = (
        text(p, "note_id")?.to_string(),
        text(p, "xsec_token")?.to_string(),
    );
    let api = x.api.clone().ok_or_else(|| stop("not configured"))?;
    cursor_pages(x, run, s, p, |cursor, data| {
        let req = api.comments(&note, &token, cursor);
        let Some(data) = data else {
            return Ok((req, Vec::new(), None, false));
        };
        let page = xhs::parse_comments(&data);
        let items = page
            .items
            .iter()
            .map(|c| NewItem {
                kind: "comment",
                natural_key: c.id.clone(),
                data: with_author(c, x.author(s, &c.author)),
            })
            .collect();
        Ok((req, items, page.cursor, page.has_more))
    })
    .await
}

async fn creator_notes(x: &Xhs, run: &mut Run, s: &Session, p: &Value) -> Result<Value, RunStop> {
    let user = text(p, "user_id")?.to_string();
    let token = p
        .get("xsec_token")
        .and_then(Value::as_str)
        .map(str::to_string);
    let api = x.api.clone().ok_or_else(|| stop("not configured"))?;
    cursor_pages(x, run, s, p, |cursor, data| {
        let req = api.creator_notes(&user, cursor, token.as_deref());
        let Some(data) = data else {
            return Ok((req, Vec::new(), None, false));
        };
        let page = xhs::parse_user_notes(&data);
        let items = page
            .items
            .iter()
            .map(|n| NewItem {
                kind: "creator_note",
                natural_key: n.note_id.clone(),
                data: serde_json::to_value(n).unwrap_or(Value::Null),
            })
            .collect();
        Ok((req, items, page.cursor, page.has_more))
    })
    .await
}

/// `xhs.search_notes`.
pub struct SearchNotes(pub Xhs);
/// `xhs.note_detail`.
pub struct NoteDetail(pub Xhs);
/// `xhs.comments`.
pub struct Comments(pub Xhs);
/// `xhs.creator_notes`.
pub struct CreatorNotes(pub Xhs);

macro_rules! xhs_step {
    ($ty:ident, $f:ident) => {
        #[async_trait::async_trait]
        impl StepHandler for $ty {
            async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
                let x = &self.0;
                let p = crate::steps::schema::render_params(
                    &ctx.step.kind,
                    &ctx.step.params,
                    &ctx.template_context(),
                )
                .map_err(|e| StepError::Fatal(e))?;
                let mut run = x.c.open(&ctx, "xhs", &p).await?;
                let result = match x.session(&ctx, &p).await {
                    Err(e) => Err(e),
                    Ok(s) => {
                        let r = tokio::select! {
                            r = $f(x, &mut run, &s, &p) => r,
                            _ = ctx.cancel.cancelled() => Err(stop("cancelled")),
                        };
                        x.release(&s).await;
                        r
                    }
                };
                x.c.finish(run, result).await
            }
        }
    };
}

xhs_step!(SearchNotes, search_notes);
xhs_step!(NoteDetail, note_detail);
xhs_step!(Comments, comments);
xhs_step!(CreatorNotes, creator_notes);
