//! The browser console (issue 13): one server-rendered UI for the four apps at `/console/`,
//! served by the same binary with nothing to install.
//!
//! This crate is the console's shell and kit: the [`layer`] every `/console` request passes
//! (language cookie, CSRF check, request context), the session extractors
//! ([`session::Member`], [`session::Admin`]), the page frame ([`page::frame`]), the embedded
//! assets, and the signed-out and account pages ([`shell`]). Each app renders its own pages
//! under `/console/<section>` in its own router with this kit, calling its service
//! functions directly (never its HTTP API), as `docs/ARCHITECTURE`'s "Console" asks.

pub mod assets;
pub mod cookies;
pub mod csrf;
pub mod i18n;
pub mod page;
pub mod session;
pub mod shell;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore as _;
use trellis_identity::Identity;

pub use crate::i18n::Lang;
pub use crate::page::{Nav, frame};
pub use crate::session::{Admin, Ctx, Guest, Member};

/// The console's shared state: identity and the mounted apps.
#[derive(Clone)]
pub struct Console {
    /// Accounts and sessions.
    pub identity: Identity,
    /// The mounted apps' names (`TRELLIS_APPS`), for the navigation.
    pub apps: Arc<Vec<&'static str>>,
}

impl FromRef<Console> for Identity {
    fn from_ref(c: &Console) -> Identity {
        c.identity.clone()
    }
}

/// Whether `path` is the console's.
pub fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// The shell's routes (`/console/`, sign-in, registration, reset, account, assets).
pub fn router(console: Console) -> Router {
    shell::router().with_state(console)
}

/// Middleware for every request (it passes non-console paths through untouched). For
/// `/console…`: works out the CSRF binding and token, refuses an unsafe request whose token
/// is missing or wrong (403 page, before any handler runs), gives the handlers a [`Ctx`],
/// sets the signed-out CSRF cookie when the browser has none, and remembers a `?lang=`
/// choice in a cookie.
pub async fn layer(State(c): State<Console>, req: Request, next: Next) -> Response {
    if !is_console(req.uri().path()) {
        return next.run(req).await;
    }
    let secure = cookies::over_tls(req.headers(), req.uri());
    let lang_choice = i18n::query_lang(req.uri().query());
    let existing = cookies::get(req.headers(), csrf::CSRF_COOKIE)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let fresh = existing.is_none();
    let anon = existing.unwrap_or_else(|| {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    });
    let bind = csrf::binding(&c.identity, req.headers(), &anon);
    let lang = Lang::from_request(req.uri(), req.headers());
    let mut req = req;
    if csrf::unsafe_method(req.method()) {
        req = match csrf::check(req, &c.identity, &bind).await {
            Ok(r) => r,
            Err(csrf::Refusal::Unreadable) => {
                return page::status_page(
                    lang,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "表单过大或不完整",
                    "The form is too large or was cut off",
                );
            }
            Err(_) => {
                return page::status_page(
                    lang,
                    StatusCode::FORBIDDEN,
                    "表单已过期或来源不明 (CSRF 校验失败)，请返回重试",
                    "The form expired or came from elsewhere (CSRF check failed); go back and try again",
                );
            }
        };
    }
    req.extensions_mut().insert(Ctx {
        apps: c.apps.clone(),
        csrf: c.identity.csrf_token(&bind),
        secure,
    });
    let mut res = next.run(req).await;
    if is_rejection(&res) {
        res = rejection_page(lang, res).await;
    }
    if fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(csrf::CSRF_COOKIE, &anon, None, secure),
        );
    }
    if let Some(l) = lang_choice {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(i18n::LANG_COOKIE, l.code(), Some(365 * 86_400), secure),
        );
    }
    res
}

/// An extractor's refusal (a malformed id in the path, a form or query that does not parse):
/// a 4xx with a plain-text or empty body, which is what axum's rejections are. Pages answer
/// HTML and `board.js` JSON, so neither is touched.
fn is_rejection(res: &Response) -> bool {
    res.status().is_client_error()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("text/plain"))
}

/// The console's status page for a rejection, with its message, instead of the API's JSON
/// envelope (which the server's error layer would make of it).
async fn rejection_page(lang: Lang, res: Response) -> Response {
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 4096)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    let why = if text.is_empty() {
        status.canonical_reason().unwrap_or("")
    } else {
        text
    };
    page::status_page(
        lang,
        status,
        &format!("请求无法处理：{why}"),
        &format!("The request could not be handled: {why}"),
    )
}
