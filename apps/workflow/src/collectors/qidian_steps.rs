//! The Qidian step types (issue 11): `qidian.book {book_id}`, `qidian.catalog {book_id}`,
//! `qidian.rankings {rank_type, period?, page?, max_pages?}`, `qidian.search {keyword,
//! page?, max_pages?}`; each also takes `max_requests`, `max_seconds` and
//! `proxy_pool_id`. Public metadata only (collectors.md §3): never a chapter body.
//!
//! Items and their natural keys: `book` (`book_id`), `chapter` (`book_id/chapter_id`),
//! `rank_entry` (`rank_type/period/book_id`, period `current` when none), `search_result`
//! (`keyword/book_id`). Paged steps checkpoint `{next_page}` after each stored page.

use serde_json::{Value, json};
use trellis_engine::{StepCtx, StepError, StepHandler, StepOutput};

use super::polite::FetchError;
use super::qidian;
use super::run::{Collectors, Run, RunStop};
use crate::store::collections::NewItem;

fn fatal(e: impl std::fmt::Display) -> StepError {
    StepError::Fatal(e.to_string())
}

fn text<'a>(p: &'a Value, name: &str) -> Result<&'a str, StepError> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| fatal(format!("parameter {name} is required")))
}

fn bad(e: impl std::fmt::Display) -> RunStop {
    RunStop::Other(FetchError::Permanent(e.to_string()))
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The `_csrfToken` cookie a Qidian HTML page set, if any (collectors.md §1.2).
fn csrf_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("_csrfToken="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// Items stored per transaction for one-page steps with many items (a catalog).
const CHUNK: usize = 500;

/// `qidian.book`.
pub struct Book(pub Collectors);
/// `qidian.catalog`.
pub struct Catalog(pub Collectors);
/// `qidian.rankings`.
pub struct Rankings(pub Collectors);
/// `qidian.search`.
pub struct Search(pub Collectors);

async fn book(c: &Collectors, run: &mut Run, p: &Value) -> Result<Value, RunStop> {
    let id = text(p, "book_id").map_err(|e| bad(format!("{e:?}")))?;
    let url = qidian::book_url(&c.sites.qidian, id).map_err(bad)?;
    let page = match c.polite.get(&url, &mut run.budget, run.proxy, None).await {
        Ok(page) => page,
        // The new layout is missing: try the legacy book host (both are served, §1.1).
        Err(FetchError::Permanent(_)) => {
            let legacy = qidian::legacy_book_url(&c.sites.qidian_book, id).map_err(bad)?;
            c.polite
                .get(&legacy, &mut run.budget, run.proxy, None)
                .await?
        }
        Err(e) => return Err(e.into()),
    };
    let book = qidian::parse_book(&page.body).map_err(bad)?;
    let item = NewItem {
        kind: "book",
        natural_key: book.book_id.clone(),
        data: value(&book),
    };
    c.store(run, vec![item], json!({"done": true})).await?;
    Ok(value(&book))
}

async fn catalog(c: &Collectors, run: &mut Run, p: &Value) -> Result<Value, RunStop> {
    let id = text(p, "book_id").map_err(|e| bad(format!("{e:?}")))?;
    let url = qidian::catalog_url(&c.sites.qidian, id).map_err(bad)?;
    let page = c.polite.get(&url, &mut run.budget, run.proxy, None).await?;
    let parsed = qidian::parse_catalog_html(&page.body);
    let cat = match parsed {
        Ok(cat) if cat.chapter_count() > 0 => cat,
        // No inline catalog: the catalog XHR with the page's `_csrfToken` (double submit).
        _ => {
            let token = csrf_cookie(&page.headers)
                .ok_or_else(|| bad("no catalog in the page and no _csrfToken cookie"))?;
            let json_url =
                qidian::catalog_json_url(&c.sites.qidian_book, id, &token).map_err(bad)?;
            let cookie = format!("_csrfToken={token}");
            let page = c
                .polite
                .get(&json_url, &mut run.budget, run.proxy, Some(&cookie))
                .await?;
            qidian::parse_catalog_json(&page.body).map_err(bad)?
        }
    };
    let mut items = Vec::with_capacity(cat.chapter_count());
    for v in &cat.volumes {
        for ch in &v.chapters {
            let mut data = value(ch);
            if let Some(o) = data.as_object_mut() {
                o.insert("book_id".into(), json!(id));
                o.insert("volume_index".into(), json!(v.index));
                o.insert("volume_name".into(), json!(v.name));
                o.insert("volume_vip".into(), json!(v.vip));
            }
            items.push(NewItem {
                kind: "chapter",
                natural_key: format!("{id}/{}", ch.chapter_id),
                data,
            });
        }
    }
    let chapters = items.len();
    // In slices, so a quota or a crash keeps what was stored (upserts make a re-run safe).
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(CHUNK));
        let done = tail.is_empty();
        c.store(run, rest, json!({"done": done})).await?;
        rest = tail;
    }
    Ok(json!({"book_id": id, "volumes": cat.volumes.len(), "chapters": chapters}))
}

/// Pages `first..=last` of a listing, resuming after the checkpoint's `next_page`.
async fn paged<F>(
    c: &Collectors,
    run: &mut Run,
    p: &Value,
    mut page_of: F,
) -> Result<Value, RunStop>
where
    F: FnMut(u32, &str) -> Result<(String, Vec<NewItem>), RunStop>,
{
    let single = p
        .get("page")
        .and_then(Value::as_u64)
        .map(|n| n.clamp(1, 500) as u32);
    let first = single.unwrap_or(1);
    let last = match single {
        Some(n) => n,
        None => {
            first
                + p.get("max_pages")
                    .and_then(Value::as_u64)
                    .unwrap_or(5)
                    .clamp(1, 100) as u32
                - 1
        }
    };
    let mut next = run
        .checkpoint
        .get("next_page")
        .and_then(Value::as_u64)
        .map_or(first, |n| n as u32)
        .max(first);
    let mut stored = 0usize;
    while next <= last {
        let (url, _) = page_of(next, "")?;
        let page = c.polite.get(&url, &mut run.budget, run.proxy, None).await?;
        let (_, items) = page_of(next, &page.body)?;
        let empty = items.is_empty();
        stored += items.len();
        next += 1;
        let done = empty || next > last;
        c.store(run, items, json!({"next_page": next, "done": done}))
            .await?;
        if empty {
            break;
        }
    }
    Ok(json!({"pages_through": next - 1, "items": stored}))
}

async fn rankings(c: &Collectors, run: &mut Run, p: &Value) -> Result<Value, RunStop> {
    let rank_type = text(p, "rank_type")
        .map_err(|e| bad(format!("{e:?}")))?
        .to_string();
    let period = p.get("period").and_then(Value::as_str).map(str::to_string);
    let base = c.sites.qidian.clone();
    paged(c, run, p, |n, body| {
        let url = qidian::rank_url(&base, &rank_type, period.as_deref(), n).map_err(bad)?;
        if body.is_empty() {
            return Ok((url, Vec::new()));
        }
        let items = qidian::parse_rankings(body).map_err(bad)?;
        let key_period = period.as_deref().unwrap_or("current");
        let items = items
            .into_iter()
            .map(|it| {
                let mut data = value(&it);
                if let Some(o) = data.as_object_mut() {
                    o.insert("rank_type".into(), json!(rank_type));
                    o.insert("period".into(), json!(key_period));
                    o.insert("page".into(), json!(n));
                }
                NewItem {
                    kind: "rank_entry",
                    natural_key: format!("{rank_type}/{key_period}/{}", it.book_id),
                    data,
                }
            })
            .collect();
        Ok((url, items))
    })
    .await
}

async fn search(c: &Collectors, run: &mut Run, p: &Value) -> Result<Value, RunStop> {
    let keyword = text(p, "keyword")
        .map_err(|e| bad(format!("{e:?}")))?
        .trim()
        .to_string();
    if keyword.chars().count() > 100 {
        return Err(bad("keyword is at most 100 characters"));
    }
    let base = c.sites.qidian.clone();
    paged(c, run, p, |n, body| {
        let url = qidian::search_url(&base, &keyword, n).map_err(bad)?;
        if body.is_empty() {
            return Ok((url, Vec::new()));
        }
        let items = qidian::parse_search(body)
            .map_err(bad)?
            .into_iter()
            .map(|it| {
                let mut data = value(&it);
                if let Some(o) = data.as_object_mut() {
                    o.insert("keyword".into(), json!(keyword));
                }
                NewItem {
                    kind: "search_result",
                    natural_key: format!("{keyword}/{}", it.book_id),
                    data,
                }
            })
            .collect();
        Ok((url, items))
    })
    .await
}

macro_rules! qidian_step {
    ($ty:ident, $f:ident) => {
        #[async_trait::async_trait]
        impl StepHandler for $ty {
            async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
                let p = crate::steps::schema::render_params(&ctx.step.kind, &ctx.step.params, &ctx.template_context())
                    .map_err(fatal)?;
                let mut run = self.0.open(&ctx, "qidian", &p).await?;
                let result = tokio::select! {
                    r = $f(&self.0, &mut run, &p) => r,
                    _ = ctx.cancel.cancelled() => Err(RunStop::Other(FetchError::Permanent("cancelled".into()))),
                };
                self.0.finish(run, result).await
            }
        }
    };
}

qidian_step!(Book, book);
qidian_step!(Catalog, catalog);
qidian_step!(Rankings, rankings);
qidian_step!(Search, search);
