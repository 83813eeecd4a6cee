//! `/api/v1/collections/xhs/…`: the terms acknowledgement and the user's own Xiaohongshu
//! accounts (cookies stored sealed and never shown again).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use trellis_identity::Principal;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::routes::workflow::Deleted;
use crate::state::WorkflowState;
use crate::store::xhs::{self as store, Account};

/// The routes of this module with their OpenAPI entries.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(acknowledge))
        .routes(routes!(accounts, add_account))
        .routes(routes!(delete_account))
}

/// `POST /collections/xhs/acknowledge`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// Must be true: Xiaohongshu's robots.txt disallows crawling and its terms forbid
    /// scraping; you collect with your own logged-in account, at low rate, read-only, and
    /// you answer for the use.
    pub accept_terms: bool,
    /// Keep authors' ids and nicknames as collected (default false: a salted pseudonym and
    /// a masked nickname, as personal information under PIPL).
    #[serde(default)]
    pub keep_authors: bool,
}

/// The acknowledgement's state.
#[derive(Serialize, utoipa::ToSchema)]
pub struct XhsState {
    /// When the terms were accepted.
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether authors are kept.
    pub keep_authors: bool,
    /// Whether this server allows Xiaohongshu collection at all (`TRELLIS_XHS_ENABLED`).
    pub enabled: bool,
    /// Whether a request signer is configured (`TRELLIS_XHS_SIGNER`).
    pub signer_configured: bool,
}

/// Accept the Xiaohongshu terms for your account (needed, with the server setting
/// `TRELLIS_XHS_ENABLED=true` and a signer, before any `xhs.*` step runs).
#[utoipa::path(post, path = "/api/v1/collections/xhs/acknowledge", tag = "workflow", request_body = Acknowledge,
    responses((status = 200, body = XhsState), (status = 422, description = "accept_terms is not true")),
    security(("bearer" = [])))]
async fn acknowledge(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<Acknowledge>,
) -> Reply<XhsState> {
    if !b.accept_terms {
        return Err(WorkflowError::field(
            "accept_terms",
            "required",
            "must be true to enable Xiaohongshu collection",
        )
        .into());
    }
    let now = s.platform.clock.now();
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    store::acknowledge(&mut tx, p.user_id, b.keep_authors, now)
        .await
        .map_err(WorkflowError::from)?;
    tx.commit().await.map_err(WorkflowError::from)?;
    Ok(Done::ok(
        XhsState {
            accepted_at: Some(now),
            keep_authors: b.keep_authors,
            enabled: s.collectors.sites.xhs_enabled,
            signer_configured: s.collectors.sites.xhs_signer.is_some(),
        },
        "已确认",
    ))
}

/// Your Xiaohongshu accounts (never their cookies).
#[utoipa::path(get, path = "/api/v1/collections/xhs/accounts", tag = "workflow",
    responses((status = 200, body = Vec<Account>)), security(("bearer" = [])))]
async fn accounts(State(s): State<WorkflowState>, p: Principal) -> Reply<Vec<Account>> {
    Ok(Done::ok(
        store::list(&s.platform.db, p.user_id)
            .await
            .map_err(WorkflowError::from)?,
        "获取成功",
    ))
}

/// `POST /collections/xhs/accounts`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 1 to 100 characters, unique among yours.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Your logged-in browser's cookie string for xiaohongshu.com (`a1=…; web_session=…`),
    /// at most 16 KiB. Stored encrypted, never shown again.
    #[schema(min_length = 1, max_length = 16384)]
    pub cookies: String,
}

/// Add one of your own logged-in accounts.
#[utoipa::path(post, path = "/api/v1/collections/xhs/accounts", tag = "workflow", request_body = NewAccount,
    responses((status = 201, body = Account), (status = 409, description = "Name in use"),
              (status = 422, description = "Bad name or cookies")), security(("bearer" = [])))]
async fn add_account(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<NewAccount>,
) -> Reply<Account> {
    let name = b.name.trim();
    let mut problems = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        problems.push(trellis_kernel::error::FieldError::new(
            "name",
            "invalid",
            "1 to 100 characters",
        ));
    }
    let cookies = b.cookies.trim();
    let has = |k: &str| {
        cookies
            .split(';')
            .any(|c| c.trim().starts_with(&format!("{k}=")))
    };
    if cookies.len() > 16_384
        || cookies.chars().any(char::is_control)
        || !has("a1")
        || !has("web_session")
    {
        problems.push(trellis_kernel::error::FieldError::new(
            "cookies",
            "invalid",
            "a cookie string of at most 16 KiB with the a1 and web_session cookies of a logged-in session",
        ));
    }
    if !problems.is_empty() {
        return Err(WorkflowError::Fields(problems).into());
    }
    let id = Uuid::now_v7();
    let sealed = s.proxies.live.secrets().seal(id, cookies.as_bytes());
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    store::insert(
        &mut tx,
        id,
        p.user_id,
        name,
        &sealed,
        s.platform.clock.now(),
    )
    .await
    .map_err(|e| {
        if e.violates("wf_xhs_accounts_owner_id_name_key") {
            WorkflowError::conflict(
                "ACCOUNT_EXISTS",
                "you already have an account with this name",
            )
        } else {
            e.into()
        }
    })?;
    tx.commit().await.map_err(WorkflowError::from)?;
    let (account, _) = store::get(&s.platform.db, id)
        .await
        .map_err(WorkflowError::from)?
        .ok_or(WorkflowError::NotFound("account"))?;
    Ok(Done::created(account, "账号已添加"))
}

/// Remove an account (its cookies are deleted).
#[utoipa::path(delete, path = "/api/v1/collections/xhs/accounts/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Account id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn delete_account(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Deleted> {
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    let found = store::delete(&mut tx, p.user_id, id)
        .await
        .map_err(WorkflowError::from)?;
    tx.commit().await.map_err(WorkflowError::from)?;
    if !found {
        return Err(WorkflowError::NotFound("account").into());
    }
    Ok(Done::ok(Deleted { id }, "账号已删除"))
}
